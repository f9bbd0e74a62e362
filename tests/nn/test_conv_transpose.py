"""ConvTranspose2d and F.conv_transpose2d: the adjoint of conv2d, gradchecked, with PyTorch's weight
layout, output sizes, init bounds and argument checks; torch parity where torch is installed."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ttrain
from ttrain import nn
from ttrain.autograd import gradcheck
from ttrain.autograd.ops.errors import ShapeError
from ttrain.config import config_from_dict
from ttrain.nn import functional as F
from ttrain.training.experiment import build_model

# (in, out, groups, kernel, stride, padding, output_padding, dilation, input (H, W))
CASES = [
    (2, 3, 1, 3, 1, 0, 0, 1, (4, 5)),
    (4, 6, 2, 3, 2, 1, 1, 1, (3, 4)),
    (2, 3, 1, (2, 3), (3, 1), (0, 2), (2, 0), 1, (3, 3)),
    (3, 2, 1, 3, 1, 0, 0, 2, (3, 3)),
    (2, 2, 1, 3, 2, 3, 0, 1, (4, 4)),  # padding beyond the kernel: the output is cropped
]


def _arrays(case, seed=0):
    c_in, c_out, groups, k, *_, size = case
    kernel = (k, k) if isinstance(k, int) else k
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, c_in, *size))
    return x, rng.standard_normal((c_in, c_out // groups, *kernel)), rng.standard_normal(c_out)


def _call(case, x, w, b):
    _, _, groups, _, stride, padding, extra, dilation, _ = case
    return F.conv_transpose2d(x, w, b, stride, padding, extra, groups, dilation)


@pytest.mark.parametrize("case", CASES)
def test_conv_transpose2d_is_the_adjoint_of_conv2d(case):
    # <conv_transpose(y, w), x> == <y, conv2d(x, w)> for the conv2d with the same settings.
    _, _, groups, _, stride, padding, extra, dilation, _ = case
    y, w, _ = _arrays(case)
    out = _call(case, ttrain.tensor(y), ttrain.tensor(w), None)
    x = np.random.default_rng(1).standard_normal(out.shape)
    forward = F.conv2d(ttrain.tensor(x), ttrain.tensor(w), None, stride, padding, dilation, groups)
    assert forward.shape == y.shape
    np.testing.assert_allclose((out.data * x).sum(), (forward.data * y).sum(), rtol=1e-10)


@pytest.mark.parametrize("case", CASES[:3])
def test_conv_transpose2d_gradients(case):
    tensors = [ttrain.tensor(a * 0.5, requires_grad=True) for a in _arrays(case)]
    assert gradcheck(lambda x, w, b: _call(case, x, w, b), tensors)


def test_layer_has_pytorch_layout_output_size_and_init_bounds():
    layer = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert layer.weight.shape == (4, 3, 3, 3) and layer.bias.shape == (6,)
    bound = 1 / math.sqrt(3 * 9)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    assert layer(ttrain.tensor(np.zeros((1, 4, 5, 7), dtype=np.float32))).shape == (1, 6, 10, 14)
    assert layer(ttrain.tensor(np.zeros((4, 5, 7), dtype=np.float32))).shape == (6, 10, 14)  # unbatched
    assert repr(layer) == ("ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), "
                           "output_padding=(1, 1), groups=2)")
    assert repr(nn.Conv2d(2, 3, 3)) == "Conv2d(2, 3, kernel_size=(3, 3), stride=(1, 1))"  # unchanged


@pytest.mark.parametrize("kwargs, message", [
    (dict(stride=2, output_padding=2), "output_padding"), (dict(padding="same"), "padding"),
    (dict(groups=3), "divisible"),
])
def test_layer_checks_its_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.ConvTranspose2d(4, 6, 3, **kwargs)


def test_functional_checks_channels():
    with pytest.raises(ShapeError, match="channels"):
        F.conv_transpose2d(ttrain.tensor(np.zeros((1, 3, 4, 4))), ttrain.tensor(np.zeros((2, 2, 3, 3))))


def test_builds_from_a_config_layers_list_with_in_channels_inferred():
    config = config_from_dict({
        "seed": 0, "data": {"name": "spirals", "n_train": 32, "n_test": 8}, "optimizer": {"name": "sgd", "lr": 0.1},
        "model": {"layers": [
            {"linear": {"out_features": 8}}, {"unflatten": {"dim": 1, "unflattened_size": [2, 2, 2]}},
            {"conv_transpose2d": {"out_channels": 3, "kernel_size": 2, "stride": 2}}, "flatten",
            {"linear": {"out_features": 2}},
        ]},
    })
    model = build_model(config, (2,), 2)
    assert model[2].in_channels == 2 and model[-1].in_features == 3 * 4 * 4


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch_with_the_same_weights(case, dtype):
    torch = pytest.importorskip("torch")
    c_in, c_out, groups, k, stride, padding, extra, dilation, _ = case
    ours = nn.ConvTranspose2d(c_in, c_out, k, stride, padding, extra, groups, dilation=dilation, dtype=dtype)
    torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
    theirs = torch.nn.ConvTranspose2d(c_in, c_out, k, stride, padding, extra, groups, dilation=dilation, dtype=torch_dtype)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    array = _arrays(case)[0].astype(dtype)
    x, tx = ttrain.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)
    out, tout = ours(x), theirs(tx)
    tolerance = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), **tolerance)
    weights = np.random.default_rng(2).standard_normal(tout.shape).astype(dtype)
    (out * ttrain.tensor(weights)).sum().backward()
    (tout * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), **tolerance)
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), **tolerance)
    np.testing.assert_allclose(ours.bias.grad.data, theirs.bias.grad.numpy(), **tolerance)
    assert repr(ours) == repr(theirs)
