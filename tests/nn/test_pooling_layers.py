"""MaxPool2d, AvgPool2d, AdaptiveAvgPool2d: defaults, argument checks, torch parity."""

import numpy as np
import pytest

import ttrain
from ttrain.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d


def test_stride_defaults_to_the_kernel_size():
    assert MaxPool2d(3).stride == 3
    assert AvgPool2d((2, 3)).stride == (2, 3)
    assert MaxPool2d(2)(ttrain.randn(1, 1, 7, 8)).shape == (1, 1, 3, 4)


def test_pooling_layers_have_no_state():
    assert not MaxPool2d(2).state_dict() and not AdaptiveAvgPool2d(1).state_dict()


def test_max_pool_takes_each_window_maximum():
    x = ttrain.tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
    np.testing.assert_array_equal(MaxPool2d(2)(x).data[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(AvgPool2d(2)(x).data[0, 0], [[2.5, 4.5], [10.5, 12.5]])


def test_global_average_pool():
    x = ttrain.randn(2, 3, 5, 4)
    np.testing.assert_allclose(AdaptiveAvgPool2d(1)(x).data[..., 0, 0], x.data.mean(axis=(2, 3)), rtol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda: MaxPool2d(0), "kernel_size must be >= 1"),
    (lambda: AvgPool2d(2, stride=0), "stride must be >= 1"),
    (lambda: MaxPool2d(2, padding=-1), "padding must be >= 0"),
    (lambda: AdaptiveAvgPool2d(0), "output_size must be a positive int"),
])
def test_bad_window_settings_are_rejected_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_padding_over_half_the_kernel_is_rejected():
    with pytest.raises(ValueError, match="at most half the kernel"):
        MaxPool2d(2, padding=2)(ttrain.randn(1, 1, 6, 6))


@pytest.mark.parametrize("name, args, kwargs", [
    ("MaxPool2d", (3,), dict(stride=2, padding=1, dilation=1)),
    ("MaxPool2d", ((2, 3),), dict(dilation=(2, 1))),
    ("AvgPool2d", (3,), dict(stride=1, padding=1)),
    ("AvgPool2d", (2,), dict(padding=1, count_include_pad=False)),
    ("AdaptiveAvgPool2d", ((3, 2),), {}),
    ("AdaptiveAvgPool2d", ((None, 4),), {}),
])
def test_matches_torch(name, args, kwargs):
    torch = pytest.importorskip("torch")
    from ttrain.nn import pooling

    ours, theirs = getattr(pooling, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 7)).astype(np.float32)
    tx, ttx = ttrain.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(tx), theirs(ttx)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-6, atol=1e-6)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(tx.grad.data, ttx.grad.numpy(), rtol=1e-6, atol=1e-6)
    assert repr(ours) == repr(theirs).replace(", ceil_mode=False", "")
