"""Conv2d and Conv1d layers: shapes, PyTorch's default init, argument checks, torch parity both ways."""

import math
import subprocess
import sys

import numpy as np
import pytest

import ttrain
from ttrain.nn.conv import Conv1d, Conv2d


def test_weight_and_bias_have_pytorch_layouts():
    conv = Conv2d(4, 6, (3, 2), groups=2)
    assert conv.weight.shape == (6, 2, 3, 2)
    assert conv.bias.shape == (6,)
    assert [name for name, _ in conv.named_parameters()] == ["weight", "bias"]
    assert Conv1d(3, 5, 4).weight.shape == (5, 3, 4)
    assert Conv2d(2, 3, 3, bias=False).bias is None


def test_default_init_is_uniform_within_one_over_sqrt_fan_in():
    conv = Conv2d(8, 64, 3)
    bound = 1 / math.sqrt(8 * 9)
    for p in (conv.weight.data, conv.bias.data):
        assert np.abs(p).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.95 * bound
    assert abs(conv.weight.data.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert conv.weight.dtype == np.float32


def test_init_is_reproduced_by_the_seed():
    ttrain.manual_seed(7)
    first = Conv2d(3, 4, 3).weight.data.copy()
    ttrain.manual_seed(7)
    np.testing.assert_array_equal(Conv2d(3, 4, 3).weight.data, first)


@pytest.mark.parametrize("kwargs, out_hw", [
    (dict(kernel_size=3), (6, 8)),
    (dict(kernel_size=3, padding="same"), (8, 10)),
    (dict(kernel_size=(2, 4), padding="same", dilation=2), (8, 10)),
    (dict(kernel_size=3, stride=2, padding=1), (4, 5)),
    (dict(kernel_size=3, padding="valid", dilation=(1, 2)), (6, 6)),
])
def test_output_size_follows_the_formula(kwargs, out_hw):
    y = Conv2d(2, 3, **kwargs)(ttrain.randn(1, 2, 8, 10))
    assert y.shape == (1, 3, *out_hw)


@pytest.mark.parametrize("kwargs, message", [
    (dict(in_channels=3, out_channels=4, kernel_size=3, groups=2), "in_channels=3 must be divisible by groups=2"),
    (dict(in_channels=2, out_channels=3, kernel_size=3, groups=2), "out_channels=3 must be divisible by groups=2"),
    (dict(in_channels=2, out_channels=4, kernel_size=3, stride=2, padding="same"), "'same' is not supported for strided"),
    (dict(in_channels=2, out_channels=4, kernel_size=3, padding="full"), "'same' or 'valid'"),
    (dict(in_channels=2, out_channels=4, kernel_size=0), "kernel_size must be positive"),
    (dict(in_channels=0, out_channels=4, kernel_size=3), "in_channels must be a positive integer"),
])
def test_bad_arguments_are_rejected_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Conv2d(**kwargs)


def test_bad_kernel_size_type_is_a_type_error():
    with pytest.raises(TypeError, match=r"Conv2d: kernel_size must be an int or a tuple of 2 ints"):
        Conv2d(1, 2, (3, 3, 3))


def test_constructing_and_importing_conv_layers_does_not_import_numba():
    code = (
        "import sys; from ttrain.nn.conv import Conv2d; from ttrain.nn.pooling import MaxPool2d; "
        "Conv2d(1, 2, 3); MaxPool2d(2); assert 'numba' not in sys.modules, 'numba was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_repr_matches_pytorch():
    assert repr(Conv2d(2, 4, 3, padding="same", groups=2, bias=False)) == (
        "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding=same, groups=2, bias=False)"
    )
    assert repr(Conv1d(2, 4, 3, padding=1, dilation=2)) == (
        "Conv1d(2, 4, kernel_size=(3,), stride=(1,), padding=(1,), dilation=(2,))"
    )


# ---- torch parity ----------------------------------------------------------------------------
@pytest.mark.parametrize("cls, kwargs, x_shape", [
    ("Conv2d", dict(in_channels=4, out_channels=6, kernel_size=3, padding=1, groups=2), (2, 4, 7, 6)),
    ("Conv2d", dict(in_channels=3, out_channels=5, kernel_size=(2, 3), stride=2, dilation=(1, 2)), (2, 3, 8, 9)),
    ("Conv2d", dict(in_channels=1, out_channels=4, kernel_size=4, padding="same", bias=False), (2, 1, 6, 6)),
    ("Conv1d", dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1), (2, 3, 9)),
])
def test_state_dict_round_trips_with_torch_and_both_compute_the_same(cls, kwargs, x_shape):
    torch = pytest.importorskip("torch")
    ours = {"Conv2d": Conv2d, "Conv1d": Conv1d}[cls](**kwargs)
    theirs = getattr(torch.nn, cls)(**kwargs)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})

    x = np.random.default_rng(0).standard_normal(x_shape).astype(np.float32)
    y, ty = ours(ttrain.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    y.sum().backward()
    ty.sum().backward()
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, getattr(theirs, name).grad.numpy(), rtol=1e-5, atol=1e-4)

    # and back: torch's own initial weights load into ttrain's layer
    fresh = getattr(torch.nn, cls)(**kwargs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in fresh.state_dict().items()})
    np.testing.assert_allclose(ours(ttrain.tensor(x)).data, fresh(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)
