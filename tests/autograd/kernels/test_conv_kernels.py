"""conv2d kernels: held to the NumPy reference, finite differences and torch, on every code path."""

from __future__ import annotations

import numpy as np
import pytest

from ttrain.autograd.kernels import conv, conv_reference
from ttrain.autograd.kernels.conv_geometry import conv2d_shape
from ttrain.autograd.ops.errors import ShapeError

# (x shape, weight shape, stride, padding, dilation, groups)
CASES = [
    pytest.param((2, 3, 9, 8), (4, 3, 3, 3), 1, 0, 1, 1, id="3x3"),
    pytest.param((3, 3, 9, 8), (4, 3, 3, 3), 2, 1, 1, 1, id="stride2-pad1"),
    pytest.param((1, 3, 10, 10), (5, 3, 3, 3), 1, 2, 2, 1, id="dilation2-batch1"),
    pytest.param((2, 4, 11, 9), (6, 2, 3, 2), (2, 1), (1, 2), (2, 1), 2, id="groups2-odd-mixed"),
    pytest.param((3, 6, 7, 6), (6, 1, 3, 3), 1, 1, 1, 6, id="depthwise"),
    pytest.param((2, 1, 9, 9), (4, 1, 3, 3), 1, 0, 1, 1, id="one-channel"),
    pytest.param((3, 20, 5, 5), (8, 20, 1, 1), 1, 0, 1, 1, id="1x1"),
    pytest.param((2, 20, 5, 6), (8, 10, 1, 1), 2, 0, 1, 2, id="1x1-stride2-groups2"),
    pytest.param((2, 4, 5, 5), (3, 4, 5, 5), 1, 2, 1, 1, id="5x5-same"),
    pytest.param((2, 5, 3, 4), (2, 5, 3, 3), 3, (2, 0), 1, 1, id="stride-over-kernel"),
]
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


@pytest.fixture(params=["direct", "gemm", "gemm-chunked"])
def path(request, monkeypatch) -> str:
    """Run each test through each strategy: direct loops, im2col + GEMM in one chunk, and GEMM in
    chunks of 2 samples (so a last, partial chunk is exercised)."""
    if request.param == "direct":
        monkeypatch.setattr(conv, "_DIRECT_MAX_K", 10**9)
    else:
        monkeypatch.setattr(conv, "_DIRECT_MAX_K", 0)
    if request.param == "gemm-chunked":
        monkeypatch.setattr(conv, "_chunk_samples", lambda s, itemsize: 2)
    return request.param


def make(x_shape, w_shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    return x, w, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CASES)
def test_forward_matches_reference(path, dtype, x_shape, w_shape, stride, padding, dilation, groups):
    x, w, b = make(x_shape, w_shape, dtype)
    for bias in (b, None):
        y = conv.conv2d_forward(x, w, bias, stride, padding, dilation, groups)
        expected = conv_reference.conv2d_forward(x, w, bias, stride, padding, dilation, groups)
        assert y.dtype == dtype and y.shape == expected.shape
        np.testing.assert_allclose(y, expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CASES)
def test_backward_matches_reference(path, dtype, x_shape, w_shape, stride, padding, dilation, groups):
    x, w, b = make(x_shape, w_shape, dtype)
    y = conv_reference.conv2d_forward(x, w, b, stride, padding, dilation, groups)
    gy = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    grads = conv.conv2d_backward(gy, x, w, stride, padding, dilation, groups)
    expected = conv_reference.conv2d_backward(gy, x, w, stride, padding, dilation, groups)
    for name, got, want in zip(("dx", "dw", "db"), grads, expected):
        assert got.dtype == dtype and got.shape == want.shape, name
        np.testing.assert_allclose(got, want, **TOL[dtype], err_msg=name)


@pytest.mark.parametrize("needs", [(True, False, False), (False, True, False), (False, False, True), (False, True, True)])
def test_backward_computes_only_what_is_needed(path, needs):
    x, w, _ = make((3, 4, 6, 6), (5, 4, 3, 3), np.float64)
    gy = np.random.default_rng(1).standard_normal((3, 5, 4, 4))
    full = conv.conv2d_backward(gy, x, w)
    partial = conv.conv2d_backward(gy, x, w, needs=needs)
    for need, got, want in zip(needs, partial, full):
        if need:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        else:
            assert got is None


@pytest.mark.parametrize(
    "x_shape, w_shape, stride, padding, dilation, groups",
    [
        pytest.param((2, 2, 5, 4), (4, 2, 3, 2), (2, 1), 1, (1, 2), 1, id="mixed"),
        pytest.param((1, 4, 5, 5), (4, 2, 2, 2), 1, (0, 1), 2, 2, id="groups-dilation"),
    ],
)
def test_gradients_match_finite_differences(
    path, numerical_gradient, x_shape, w_shape, stride, padding, dilation, groups
):
    x, w, b = make(x_shape, w_shape, np.float64)
    y = conv.conv2d_forward(x, w, b, stride, padding, dilation, groups)
    gy = np.random.default_rng(1).standard_normal(y.shape)

    def loss() -> float:
        return float(np.sum(conv.conv2d_forward(x, w, b, stride, padding, dilation, groups) * gy))

    dx, dw, db = conv.conv2d_backward(gy, x, w, stride, padding, dilation, groups)
    for name, got, array in (("dx", dx, x), ("dw", dw, w), ("db", db, b)):
        np.testing.assert_allclose(got, numerical_gradient(loss, array), rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CASES)
def test_matches_torch(torch, path, dtype, x_shape, w_shape, stride, padding, dilation, groups):
    x, w, b = make(x_shape, w_shape, dtype)
    tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride, padding, dilation, groups)
    gy = np.random.default_rng(1).standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.from_numpy(gy))

    y = conv.conv2d_forward(x, w, b, stride, padding, dilation, groups)
    grads = conv.conv2d_backward(gy, x, w, stride, padding, dilation, groups)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y, ty.detach().numpy(), **tol)
    for name, got, t in zip(("dx", "dw", "db"), grads, (tx, tw, tb)):
        np.testing.assert_allclose(got, t.grad.numpy(), **tol, err_msg=name)


@pytest.mark.parametrize(
    "x_shape, w_shape",
    [pytest.param((9, 6, 12, 12), (8, 6, 3, 3), id="gemm"), pytest.param((9, 1, 12, 12), (8, 1, 3, 3), id="direct")],
)
def test_same_inputs_give_the_same_bits(same_bits, x_shape, w_shape):
    # Default strategy choice and chunking, batch larger than a chunk and than the thread count.
    x, w, b = make(x_shape, w_shape, np.float32)
    y1 = conv.conv2d_forward(x, w, b, 1, 1)
    y2 = conv.conv2d_forward(x, w, b, 1, 1)
    same_bits(y1, y2)
    gy = np.random.default_rng(1).standard_normal(y1.shape).astype(np.float32)
    for g1, g2 in zip(conv.conv2d_backward(gy, x, w, 1, 1), conv.conv2d_backward(gy, x, w, 1, 1)):
        same_bits(g1, g2)


def test_strategy_choice_follows_the_group_reduction_length():
    s = conv2d_shape
    assert conv._uses_direct(s(np.empty((1, 1, 5, 5)), np.empty((4, 1, 3, 3)), None, 1, 0, 1, 1))
    assert conv._uses_direct(s(np.empty((1, 8, 5, 5)), np.empty((8, 1, 3, 3)), None, 1, 0, 1, 8))
    assert not conv._uses_direct(s(np.empty((1, 32, 5, 5)), np.empty((8, 32, 3, 3)), None, 1, 0, 1, 1))


def test_non_contiguous_inputs(path):
    x, w, b = make((2, 3, 7, 6), (4, 3, 3, 3), np.float64)
    xt = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)  # same values, F-order planes
    assert not xt.flags.c_contiguous
    np.testing.assert_allclose(conv.conv2d_forward(xt, w, b, 1, 1), conv.conv2d_forward(x, w, b, 1, 1), rtol=1e-12)
    gy = np.ones((2, 4, 7, 6))[:, :, :, ::-1]
    expected = conv.conv2d_backward(np.ascontiguousarray(gy), x, w, 1, 1)
    for got, want in zip(conv.conv2d_backward(gy, xt, w, 1, 1), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize(
    "x, w, b, kwargs, error, match",
    [
        (np.zeros((1, 3, 5, 5)), np.zeros((4, 2, 3, 3)), None, {}, ShapeError, r"input \(1, 3, 5, 5\) has 3 channels but weight \(4, 2, 3, 3\)"),
        (np.zeros((1, 4, 5, 5)), np.zeros((3, 2, 3, 3)), None, {"groups": 2}, ShapeError, "not divisible by groups=2"),
        (np.zeros((1, 3, 2, 2)), np.zeros((4, 3, 3, 3)), None, {}, ShapeError, "output would be empty"),
        (np.zeros((1, 3, 5, 5), np.float32), np.zeros((4, 3, 3, 3)), None, {}, TypeError, "input is float32 but weight is float64"),
        (np.zeros((1, 3, 5, 5)), np.zeros((4, 3, 3, 3)), np.zeros(5), {}, ShapeError, r"bias \(5,\)"),
        (np.zeros((3, 5, 5)), np.zeros((4, 3, 3, 3)), None, {}, ShapeError, "input must have 4 dimensions"),
        (np.zeros((1, 3, 5, 5), np.int64), np.zeros((4, 3, 3, 3)), None, {}, TypeError, "float32 or float64"),
        (np.zeros((1, 3, 5, 5)), np.zeros((4, 3, 3, 3)), None, {"stride": 0}, ValueError, "stride must be >= 1"),
        (np.zeros((1, 3, 5, 5)), np.zeros((4, 3, 3, 3)), None, {"padding": (1, 2, 3)}, TypeError, "padding must be an int or a pair"),
        (np.zeros((1, 3, 5, 5)), np.zeros((4, 3, 3, 3)), None, {"groups": 0}, ValueError, "groups must be a positive int"),
    ],
)
def test_bad_arguments_are_named(x, w, b, kwargs, error, match):
    with pytest.raises(error, match=match):
        conv.conv2d_forward(x, w, b, **kwargs)


def test_bad_grad_output_shape_is_named():
    x, w = np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3))
    with pytest.raises(ShapeError, match=r"grad_output \(2, 4, 5, 5\) does not match the output shape \(2, 4, 3, 3\)"):
        conv.conv2d_backward(np.zeros((2, 4, 5, 5)), x, w)
