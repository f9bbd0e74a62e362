"""conv2d kernels: held to the NumPy reference, finite differences and torch, on every code path."""

from __future__ import annotations

import numpy as np
import pytest

from ttrain.autograd.kernels import blas, conv, conv_reference, conv_winograd
from ttrain.autograd.window_geometry import conv2d_shape
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
    pytest.param((3, 4, 7, 10), (5, 4, 3, 3), 1, 1, 1, 1, id="3x3-pad1-odd"),
    pytest.param((2, 3, 6, 5), (4, 3, 3, 3), 1, (2, 0), 1, 1, id="3x3-pad2-0"),
]
DTYPES = [np.float32, np.float64]
TOL = {np.float32: {"rtol": 2e-5, "atol": 2e-5}, np.float64: {"rtol": 1e-12, "atol": 1e-12}}


@pytest.fixture(params=["direct", "gemm", "gemm-chunked", "blas", "blas-chunked", "winograd"])
def path(request, monkeypatch) -> str:
    """Run each test through each strategy: direct loops, im2col + Numba's GEMM and im2col +
    BLAS's GEMM, each in one chunk and in chunks of 2 samples (so a last, partial chunk is
    exercised), and Winograd in chunks of 2 (tests skip it for shapes it does not take)."""
    if request.param.startswith("blas") and not blas.gemm_address(np.dtype(np.float32)):
        pytest.skip("NumPy's BLAS is not an OpenBLAS with 64-bit integer CBLAS")
    monkeypatch.setattr(conv, "_DIRECT_MAX_K", 10**9 if request.param == "direct" else 0)
    monkeypatch.setattr(conv, "_DIRECT_MIN_GROUPS", 1)
    monkeypatch.setattr(conv, "_WINOGRAD_MIN_C", 1 if request.param == "winograd" else None)
    monkeypatch.setattr(conv, "_BLAS", request.param.startswith("blas"))
    if request.param in ("gemm-chunked", "blas-chunked", "winograd"):
        monkeypatch.setattr(conv, "_chunk_samples", lambda s: 2)
        monkeypatch.setattr(conv_winograd, "_chunk", lambda n, channels, tiles, itemsize: 2)
    return request.param


def skip_unless_taken(path, x_shape, w_shape, stride, padding, dilation, groups):
    """Skip a Winograd run for a shape that would not go through Winograd."""
    if path == "winograd":
        s = conv2d_shape(np.empty(x_shape), np.empty(w_shape), None, stride, padding, dilation, groups)
        if not conv._uses_winograd(s, np.dtype(np.float32)):
            pytest.skip("not a Winograd shape")


def make(x_shape, w_shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    return x, w, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CASES)
def test_forward_matches_reference(path, dtype, x_shape, w_shape, stride, padding, dilation, groups):
    skip_unless_taken(path, x_shape, w_shape, stride, padding, dilation, groups)
    x, w, b = make(x_shape, w_shape, dtype)
    for bias in (b, None):
        y = conv.conv2d_forward(x, w, bias, stride, padding, dilation, groups)
        expected = conv_reference.conv2d_forward(x, w, bias, stride, padding, dilation, groups)
        assert y.dtype == dtype and y.shape == expected.shape
        np.testing.assert_allclose(y, expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CASES)
def test_backward_matches_reference(path, dtype, x_shape, w_shape, stride, padding, dilation, groups):
    skip_unless_taken(path, x_shape, w_shape, stride, padding, dilation, groups)
    x, w, b = make(x_shape, w_shape, dtype)
    y = conv_reference.conv2d_forward(x, w, b, stride, padding, dilation, groups)
    gy = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    grads = conv.conv2d_backward(gy, x, w, stride, padding, dilation, groups)
    expected = conv_reference.conv2d_backward(gy, x, w, stride, padding, dilation, groups)
    for name, got, want in zip(("dx", "dw", "db"), grads, expected):
        assert got.dtype == dtype and got.shape == want.shape, name
        np.testing.assert_allclose(got, want, **TOL[dtype], err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CASES)
def test_what_the_forward_keeps_gives_the_same_gradients(path, same_bits, dtype, x_shape, w_shape, stride, padding,
                                                         dilation, groups):
    # Training keeps Winograd's transformed input for the weight gradient: same output, same bits.
    skip_unless_taken(path, x_shape, w_shape, stride, padding, dilation, groups)
    x, w, b = make(x_shape, w_shape, dtype)
    args = (stride, padding, dilation, groups)
    y, kept = conv.conv2d_forward_keeping(x, w, b, *args)
    same_bits(y, conv.conv2d_forward(x, w, b, *args))
    assert (kept is not None) == (path == "winograd")
    gy = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    for got, want in zip(conv.conv2d_backward(gy, x, w, *args, kept=kept), conv.conv2d_backward(gy, x, w, *args)):
        same_bits(got, want)


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
        pytest.param((2, 3, 5, 6), (2, 3, 3, 3), 1, (1, 2), 1, 1, id="3x3"),
    ],
)
def test_gradients_match_finite_differences(
    path, numerical_gradient, x_shape, w_shape, stride, padding, dilation, groups
):
    skip_unless_taken(path, x_shape, w_shape, stride, padding, dilation, groups)
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
    skip_unless_taken(path, x_shape, w_shape, stride, padding, dilation, groups)
    x, w, b = make(x_shape, w_shape, dtype)
    tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride, padding, dilation, groups)
    gy = np.random.default_rng(1).standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.from_numpy(gy))

    y = conv.conv2d_forward(x, w, b, stride, padding, dilation, groups)
    grads = conv.conv2d_backward(gy, x, w, stride, padding, dilation, groups)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-10}
    np.testing.assert_allclose(y, ty.detach().numpy(), **tol)
    for name, got, t in zip(("dx", "dw", "db"), grads, (tx, tw, tb)):
        np.testing.assert_allclose(got, t.grad.numpy(), **tol, err_msg=name)


@pytest.mark.parametrize(
    "x_shape, w_shape, stride, groups",
    [
        pytest.param((9, 16, 12, 12), (8, 16, 3, 3), 1, 1, id="3x3-16-channels"),
        pytest.param((9, 6, 12, 12), (8, 6, 3, 3), 2, 1, id="gemm"),
        pytest.param((9, 8, 12, 12), (8, 1, 3, 3), 1, 8, id="direct"),
    ],
)
def test_same_inputs_give_the_same_bits(same_bits, x_shape, w_shape, stride, groups):
    # Default strategy choice and chunking, batch larger than a chunk and than the thread count.
    x, w, b = make(x_shape, w_shape, np.float32)
    args = (stride, 1, 1, groups)
    y1 = conv.conv2d_forward(x, w, b, *args)
    same_bits(y1, conv.conv2d_forward(x, w, b, *args))
    gy = np.random.default_rng(1).standard_normal(y1.shape).astype(np.float32)
    for g1, g2 in zip(conv.conv2d_backward(gy, x, w, *args), conv.conv2d_backward(gy, x, w, *args)):
        same_bits(g1, g2)


def test_strategy_choice_follows_the_shape(monkeypatch):
    def shape(c, o, k, groups=1, stride=1, padding=0):
        return conv2d_shape(np.empty((1, c, 9, 9)), np.empty((o, c // groups, k, k)), None, stride, padding, 1, groups)

    f32 = np.dtype(np.float32)
    assert conv._uses_direct(shape(8, 8, 3, groups=8))  # depthwise
    assert not conv._uses_direct(shape(1, 4, 3))  # one group: GEMM, even for a reduction of 9
    if blas.gemm_address(f32):  # im2col + BLAS's GEMM beat Winograd where it can run
        assert not conv._uses_winograd(shape(32, 8, 3, padding=1), f32)
    monkeypatch.setattr(conv, "_BLAS", False)
    assert not conv._uses_winograd(shape(1, 4, 3), f32)  # too few channels for Winograd's GEMMs
    assert conv._uses_winograd(shape(32, 8, 3, padding=1), f32)
    assert not conv._uses_winograd(shape(32, 8, 3, stride=2), f32)
    assert not conv._uses_winograd(shape(32, 8, 3, padding=3), f32)
    assert not conv._uses_winograd(shape(32, 8, 5), f32)


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
