"""Built-in models: their config-facing signatures, state-dict names, and an MLP that learns."""

import inspect
import typing

import numpy as np
import pytest

import ttrain
from ttrain import nn, optim
from ttrain.nn import functional as F


@pytest.mark.parametrize("cls", [nn.SeedNet, nn.MLP])
def test_constructor_signatures_are_typed_with_defaults(cls):
    # The config layer reads these signatures as the schema of `model:` kwargs.
    hints = typing.get_type_hints(cls.__init__)
    for name, param in inspect.signature(cls).parameters.items():
        assert name in hints, f"{cls.__name__}.{name} has no type hint"
        assert param.default is not inspect.Parameter.empty, f"{cls.__name__}.{name} has no default"
    assert typing.get_args(hints.get("activation", typing.Literal["x"])) != ()


def test_seed_net_is_linear_plus_sigmoid():
    net = nn.SeedNet()
    assert list(net.state_dict()) == ["linear.weight", "linear.bias"]
    assert net.linear.weight.shape == (10, 784)
    x = ttrain.randn(3, 784)
    expected = 1 / (1 + np.exp(-(x.numpy() @ net.linear.weight.data.T + net.linear.bias.data)))
    np.testing.assert_allclose(net(x).detach().numpy(), expected, rtol=1e-5)
    images = ttrain.randn(2, 1, 28, 28)
    np.testing.assert_array_equal(net(images).detach().numpy(), net(images.reshape(2, 784)).detach().numpy())


def test_mlp_layout_and_names():
    mlp = nn.MLP()
    assert list(mlp.state_dict()) == [
        "net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias", "net.4.weight", "net.4.bias",
    ]
    assert [p.shape for p in mlp.parameters()] == [(512, 784), (512,), (256, 512), (256,), (10, 256), (10,)]
    assert mlp(ttrain.randn(4, 1, 28, 28)).shape == (4, 10)
    with_dropout = nn.MLP(in_features=5, hidden=(4,), num_classes=3, activation="gelu", dropout=0.2)
    assert [type(m).__name__ for m in with_dropout.net] == ["Linear", "GELU", "Dropout", "Linear"]
    assert list(with_dropout.state_dict()) == ["net.0.weight", "net.0.bias", "net.3.weight", "net.3.bias"]
    assert [type(m).__name__ for m in nn.MLP(hidden=()).net] == ["Linear"]


def test_mlp_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown activation 'swish'; choose one of relu, leaky_relu, gelu, tanh"):
        nn.MLP(activation="swish")
    with pytest.raises(ValueError, match="dropout must be in \\[0, 1\\)"):
        nn.MLP(dropout=1.0)


def _two_spirals(n_per_class, seed=0):
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.random(n_per_class)) * 3 * np.pi  # 1.5 turns per arm
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    x = np.concatenate([arm, -arm]) + rng.normal(0, 0.02, (2 * n_per_class, 2))
    y = np.repeat(np.arange(2), n_per_class)
    return x.astype(np.float32), y


def test_mlp_learns_two_spirals():
    """A 2-32-32-2 MLP with Adam reaches >= 95% training accuracy on two interleaved spirals."""
    x, y = _two_spirals(150)
    model = nn.MLP(in_features=2, hidden=(32, 32), num_classes=2, activation="tanh")
    optimizer = optim.Adam(model.parameters(), lr=0.02)
    inputs, targets = ttrain.tensor(x), ttrain.tensor(y)
    for _ in range(300):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(inputs), targets)
        loss.backward()
        optimizer.step()
    with ttrain.no_grad():
        accuracy = (model.eval()(inputs).argmax(dim=1).numpy() == y).mean()
    assert accuracy >= 0.95, f"two-spirals training accuracy {accuracy:.3f} < 0.95 (final loss {loss.item():.4f})"
