"""LeNet5 and CNN: output shapes, layouts and names PyTorch can load, config-schema signatures, learning."""

import numpy as np
import pytest

import ttrain
from ttrain.config.signature import signature_of, validate_kwargs
from ttrain.nn import functional as F
from ttrain.nn.vision_models import CNN, LeNet5


def test_lenet5_layout_and_output():
    model = LeNet5()
    assert model(ttrain.randn(3, 1, 28, 28)).shape == (3, 10)
    shapes = {name: p.shape for name, p in model.named_parameters()}
    assert shapes == {
        "features.0.weight": (6, 1, 5, 5), "features.0.bias": (6,),
        "features.3.weight": (16, 6, 5, 5), "features.3.bias": (16,),
        "classifier.1.weight": (120, 400), "classifier.1.bias": (120,),
        "classifier.3.weight": (84, 120), "classifier.3.bias": (84,),
        "classifier.5.weight": (10, 84), "classifier.5.bias": (10,),
    }
    assert LeNet5(num_classes=3, in_channels=3)(ttrain.randn(1, 3, 28, 28)).shape == (1, 3)


def test_cnn_defaults_are_pytorchs_mnist_example():
    model = CNN()
    assert model(ttrain.randn(2, 1, 28, 28)).shape == (2, 10)
    shapes = {name: p.shape for name, p in model.named_parameters()}
    assert shapes["features.0.weight"] == (32, 1, 3, 3)
    assert shapes["features.2.weight"] == (64, 32, 3, 3)
    assert shapes["classifier.1.weight"] == (128, 64 * 12 * 12)
    assert shapes["classifier.4.weight"] == (10, 128)


def test_cnn_options_size_the_classifier():
    model = CNN(in_channels=3, num_classes=5, channels=(8, 16, 16), kernel_sizes=(5, 3, 3), hidden=32,
                batch_norm=True, input_size=32)
    assert model(ttrain.randn(2, 3, 32, 32)).shape == (2, 5)
    # 32 -> 28 -> 26 -> 24, pooled to 12; convs lose their bias to the batch norm after them
    assert model.classifier[1].in_features == 16 * 12 * 12
    assert model.features[0].bias is None
    assert "features.1.running_mean" in model.state_dict()
    assert CNN(input_size=(20, 28))(ttrain.randn(1, 1, 20, 28)).shape == (1, 10)


@pytest.mark.parametrize("kwargs, message", [
    (dict(channels=(8, 16), kernel_sizes=(3,)), "one int or one per conv layer"),
    (dict(input_size=4, channels=(8, 8)), "too small"),
    (dict(dropout=1.0), "dropout must be in"),
    (dict(channels=()), "at least one conv layer"),
])
def test_cnn_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CNN(**kwargs)


def test_constructor_signatures_are_valid_config_schemas():
    values, issues = validate_kwargs(signature_of(CNN), {"channels": [16, 32], "kernel_sizes": [5, 3], "batch_norm": True})
    assert not issues
    assert values["channels"] == (16, 32) and values["kernel_sizes"] == (5, 3)
    _, issues = validate_kwargs(signature_of(CNN), {"chanels": [16]})
    assert issues and issues[0].suggestion == "channels"
    assert not validate_kwargs(signature_of(LeNet5), {"num_classes": 3})[1]


def _torch_cnn(torch):
    nn = torch.nn
    features = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25))
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 6 * 6, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10))
    return nn.ModuleDict({"features": features, "classifier": classifier})


def test_cnn_state_dict_loads_into_the_same_network_in_torch():
    torch = pytest.importorskip("torch")
    ours = CNN(channels=(8, 16), hidden=32, input_size=16).eval()
    theirs = _torch_cnn(torch).eval()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 1, 16, 16)).astype(np.float32)
    expected = theirs["classifier"](theirs["features"](torch.tensor(x))).detach().numpy()
    with ttrain.no_grad():
        np.testing.assert_allclose(ours(ttrain.tensor(x)).data, expected, rtol=1e-4, atol=1e-5)


def test_lenet5_learns_a_small_batch():
    from ttrain.optim import Adam

    # Each class is a bright square at its own place: easy to learn, impossible to fit without the convs' input.
    labels = np.arange(32) % 10
    images = np.random.default_rng(0).uniform(0, 0.2, (32, 1, 28, 28)).astype(np.float32)
    for image, label in zip(images, labels):
        row, col = divmod(int(label), 5)
        image[0, 4 + 10 * row : 10 + 10 * row, 1 + 5 * col : 5 + 5 * col] = 1.0
    x, y = ttrain.tensor(images), ttrain.tensor(labels)
    model = LeNet5()
    optimizer = Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]
