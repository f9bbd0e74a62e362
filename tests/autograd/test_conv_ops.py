"""Sliding-window ops: conv2d/conv1d (padding incl. "same"), max/avg pooling, adaptive average pooling.

Forward against the plain NumPy references, gradients against finite differences (float64),
results against torch.nn.functional where torch is installed, and the same bits on every call.
"""

import numpy as np
import pytest

import ttrain
from ttrain.autograd import gradcheck
from ttrain.autograd.kernels import conv_reference, pool_reference
from ttrain.autograd.ops.errors import ShapeError
from ttrain.nn import functional as F

from .op_helper import check_op

CONV_CASES = [
    # x shape, weight shape, kwargs
    ((1, 3, 5, 4), (2, 3, 3, 3), {}),
    ((1, 2, 6, 5), (2, 2, 2, 3), dict(stride=2, padding=1)),
    ((1, 4, 5, 4), (4, 2, 3, 1), dict(padding=(1, 0), dilation=(2, 1), groups=2)),
    ((1, 1, 4, 4), (3, 1, 2, 2), dict(stride=(1, 2))),  # one input channel: the direct kernels
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_CASES)
def test_conv2d_matches_reference_and_finite_differences(x_shape, w_shape, kwargs):
    check_op(
        [x_shape, w_shape, (w_shape[0],)],
        lambda x, w, b: F.conv2d(x, w, b, **kwargs),
        lambda x, w, b: conv_reference.conv2d_forward(x, w, b, **kwargs),
    )


def test_conv2d_without_bias():
    check_op([(1, 2, 4, 4), (3, 2, 3, 3)], F.conv2d, conv_reference.conv2d_forward)


@pytest.mark.parametrize("kernel, dilation", [((3, 3), 1), ((2, 4), 1), ((2, 3), 2), ((4, 1), (1, 3))])
def test_same_padding_keeps_the_size_also_for_even_kernels(kernel, dilation):
    def reference(x, w):
        # PyTorch's rule: total padding dilation*(k-1) per axis, the odd one out after
        d = (dilation, dilation) if isinstance(dilation, int) else dilation
        pads = [(dd * (k - 1) // 2, dd * (k - 1) - dd * (k - 1) // 2) for k, dd in zip(kernel, d)]
        xp = np.pad(x, ((0, 0), (0, 0), *pads))
        return conv_reference.conv2d_forward(xp, w, dilation=dilation)

    check_op([(1, 2, 5, 6), (2, 2, *kernel)], lambda x, w: F.conv2d(x, w, padding="same", dilation=dilation), reference)
    assert F.conv2d(ttrain.randn(1, 2, 5, 6), ttrain.randn(3, 2, *kernel), padding="same", dilation=dilation).shape == (1, 3, 5, 6)


def test_valid_padding_is_no_padding():
    x, w = ttrain.randn(1, 2, 5, 5), ttrain.randn(3, 2, 3, 3)
    np.testing.assert_array_equal(F.conv2d(x, w, padding="valid").data, F.conv2d(x, w).data)


def test_conv1d_is_conv2d_on_a_height_one_view():
    def reference(x, w, b):
        return conv_reference.conv2d_forward(x[:, :, None], w[:, :, None], b, stride=(1, 2), padding=(0, 1), groups=2)[:, :, 0]

    check_op([(2, 4, 7), (2, 2, 3), (2,)], lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, groups=2), reference)


def test_conv1d_same_padding():
    x, w = ttrain.randn(2, 3, 9), ttrain.randn(4, 3, 4)
    assert F.conv1d(x, w, padding="same").shape == (2, 4, 9)
    assert gradcheck(lambda x, w: F.conv1d(x, w, padding="same", dilation=2),
                     [ttrain.randn(1, 2, 6).double().requires_grad_(), ttrain.randn(2, 2, 2).double().requires_grad_()])


def test_unbatched_input_comes_back_unbatched():
    x, w = ttrain.randn(2, 5, 5), ttrain.randn(3, 2, 3, 3)
    y = F.conv2d(x, w, padding=1)
    assert y.shape == (3, 5, 5)
    np.testing.assert_array_equal(y.data, F.conv2d(x.unsqueeze(0), w, padding=1).data[0])
    assert F.max_pool2d(x, 2).shape == (2, 2, 2)
    assert F.conv1d(ttrain.randn(2, 6), ttrain.randn(3, 2, 3)).shape == (3, 4)


def test_conv_errors_name_the_problem():
    x, w = ttrain.randn(1, 2, 5, 5), ttrain.randn(3, 2, 3, 3)
    with pytest.raises(ValueError, match="'same' is not supported for strided"):
        F.conv2d(x, w, stride=2, padding="same")
    with pytest.raises(ValueError, match="'same' or 'valid'"):
        F.conv2d(x, w, padding="full")
    with pytest.raises(ShapeError, match=r"conv2d: input \(1, 3, 5, 5\) has 3 channels"):
        F.conv2d(ttrain.randn(1, 3, 5, 5), w)
    with pytest.raises(ShapeError, match="conv2d: expected an input of shape"):
        F.conv2d(ttrain.randn(5, 5), w)
    with pytest.raises(ShapeError, match="weight must have 4 dimensions"):
        F.conv2d(x, ttrain.randn(3, 2, 3))


POOL_CASES = [((2, 3, 6, 6), dict(kernel_size=2)), ((1, 2, 7, 5), dict(kernel_size=3, stride=2, padding=1)),
              ((1, 1, 5, 6), dict(kernel_size=(2, 3), stride=(1, 2)))]


@pytest.mark.parametrize("shape, kwargs", POOL_CASES)
def test_max_pool2d_matches_reference_and_finite_differences(shape, kwargs):
    # Distinct values keep every window's maximum away from ties, where the derivative jumps.
    values = np.random.default_rng(1).permutation(np.prod(shape)).reshape(shape) / np.prod(shape)
    check_op([shape], lambda x: F.max_pool2d(x + ttrain.tensor(values.astype(x.dtype)), **kwargs),
             lambda x: pool_reference.max_pool2d_forward(x + values, **kwargs)[0], low=0.0, high=1e-3)


@pytest.mark.parametrize("shape, kwargs", POOL_CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_matches_reference_and_finite_differences(shape, kwargs, count_include_pad):
    check_op([shape], lambda x: F.avg_pool2d(x, count_include_pad=count_include_pad, **kwargs),
             lambda x: pool_reference.avg_pool2d_forward(x, count_include_pad=count_include_pad, **kwargs))


def _adaptive_reference(x, ho, wo):
    h, w = x.shape[2:]
    out = np.empty(x.shape[:2] + (ho, wo))
    for i in range(ho):
        for j in range(wo):
            rows = slice(i * h // ho, -(-(i + 1) * h // ho))
            cols = slice(j * w // wo, -(-(j + 1) * w // wo))
            out[:, :, i, j] = x[:, :, rows, cols].mean(axis=(2, 3))
    return out


@pytest.mark.parametrize("shape, size", [((2, 3, 4, 6), (2, 3)), ((1, 2, 5, 7), (3, 4)), ((2, 2, 3, 3), 1),
                                         ((1, 1, 4, 5), (4, 5))])
def test_adaptive_avg_pool2d_matches_reference_and_finite_differences(shape, size):
    ho, wo = (size, size) if isinstance(size, int) else size
    check_op([shape], lambda x: F.adaptive_avg_pool2d(x, size), lambda x: _adaptive_reference(x, ho, wo))


def test_adaptive_avg_pool2d_none_keeps_an_input_size():
    assert F.adaptive_avg_pool2d(ttrain.randn(1, 2, 5, 7), (1, None)).shape == (1, 2, 1, 7)


def test_same_inputs_give_the_same_bits():
    x = ttrain.randn(4, 3, 9, 9, requires_grad=True)
    w = ttrain.randn(8, 3, 3, 3, requires_grad=True)
    results = []
    for _ in range(2):
        x.grad = w.grad = None
        y = F.max_pool2d(F.conv2d(x, w, padding=1).relu(), 2)
        (y * y).sum().backward()
        results.append((y.data.copy(), x.grad.data.copy(), w.grad.data.copy()))
    for first, second in zip(*results):
        assert first.tobytes() == second.tobytes()


# ---- torch parity ----------------------------------------------------------------------------
def _torch_pair(torch, *arrays):
    return [ttrain.tensor(a, requires_grad=True) for a in arrays], [torch.tensor(a, requires_grad=True) for a in arrays]


def _assert_same_outputs_and_grads(torch, ours, theirs, y, ty, atol=1e-5):
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-5, atol=atol)
    g = np.random.default_rng(2).standard_normal(y.shape).astype(y.dtype)
    y.backward(g)
    ty.backward(torch.tensor(g))
    for t, tt in zip(ours, theirs):
        np.testing.assert_allclose(t.grad.data, tt.grad.numpy(), rtol=1e-5, atol=atol)


@pytest.mark.parametrize("padding", [0, 2, "same", (1, 0)])
def test_conv2d_matches_torch(padding):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((2, 4, 8, 7), (6, 2, 3, 2), (6,))]
    ours, theirs = _torch_pair(torch, *arrays)
    kwargs = dict(padding=padding, dilation=(2, 1), groups=2)
    _assert_same_outputs_and_grads(torch, ours, theirs, F.conv2d(*ours, **kwargs),
                                   torch.nn.functional.conv2d(*theirs, **kwargs))


def test_conv1d_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((3, 4, 11), (5, 4, 3), (5,))]
    ours, theirs = _torch_pair(torch, *arrays)
    _assert_same_outputs_and_grads(torch, ours, theirs, F.conv1d(*ours, stride=2, padding=2, dilation=2),
                                   torch.nn.functional.conv1d(*theirs, stride=2, padding=2, dilation=2))


@pytest.mark.parametrize("name, kwargs", [("max_pool2d", dict(kernel_size=3, stride=2, padding=1)),
                                          ("avg_pool2d", dict(kernel_size=(3, 2), padding=1)),
                                          ("avg_pool2d", dict(kernel_size=3, padding=1, count_include_pad=False)),
                                          ("adaptive_avg_pool2d", dict(output_size=(3, 5)))])
def test_pooling_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 8)).astype(np.float32)
    ours, theirs = _torch_pair(torch, x)
    _assert_same_outputs_and_grads(torch, ours, theirs, getattr(F, name)(ours[0], **kwargs),
                                   getattr(torch.nn.functional, name)(theirs[0], **kwargs))
