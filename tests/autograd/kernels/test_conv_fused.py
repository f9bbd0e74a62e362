"""Fused conv + ReLU + 2x2 max-pool kernels: held to the NumPy reference (the three ops' references
in a row), to the three unfused kernels bit for bit, to finite differences and to torch."""

from __future__ import annotations

import numpy as np
import pytest

from ttrain.autograd.kernels import blas, conv, conv_fused, conv_fused_reference, pool
from ttrain.autograd.ops.errors import ShapeError

if not blas.gemm_address(np.dtype(np.float32)):
    pytest.skip("NumPy's BLAS is not an OpenBLAS with 64-bit integer CBLAS", allow_module_level=True)

# (x shape, weight shape, stride, padding, dilation): odd conv outputs (a row and column the pool
# drops), padding, stride, dilation, one input channel.
CASES = [
    pytest.param((3, 4, 9, 8), (5, 4, 3, 3), 1, 0, 1, id="3x3-odd-out"),
    pytest.param((2, 3, 8, 8), (4, 3, 3, 3), 1, 1, 1, id="3x3-pad1"),
    pytest.param((2, 2, 11, 10), (3, 2, 3, 2), (2, 1), (1, 0), (1, 2), id="stride-dilation"),
    pytest.param((5, 1, 12, 12), (6, 1, 3, 3), 1, 0, 1, id="one-channel"),
]
DTYPES = [np.float32, np.float64]


@pytest.fixture(params=["one-chunk", "chunks-of-2"])
def chunking(request, monkeypatch) -> str:
    """The whole batch on one chunk, and chunks of 2 samples (a last, partial chunk included)."""
    if request.param == "chunks-of-2":
        monkeypatch.setattr(conv_fused, "even_chunk", lambda n: 2)
    return request.param


def make(x_shape, w_shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype),
            rng.standard_normal(w_shape[0]).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", CASES)
def test_matches_reference(chunking, dtype, x_shape, w_shape, stride, padding, dilation):
    x, w, b = make(x_shape, w_shape, dtype)
    args = (stride, padding, dilation)
    tol = {"rtol": 2e-5, "atol": 2e-5} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    for bias in (b, None):
        y, at = conv_fused.conv2d_relu_pool_forward(x, w, bias, *args)
        want_y, want_at = conv_fused_reference.conv2d_relu_pool_forward(x, w, bias, *args)
        assert y.dtype == dtype and at.dtype == np.int64
        np.testing.assert_allclose(y, want_y, **tol)
        np.testing.assert_array_equal(at, want_at)
        gy = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
        got = conv_fused.conv2d_relu_pool_backward(gy, x, w, at, *args)
        want = conv_fused_reference.conv2d_relu_pool_backward(gy, x, w, at, *args)
        for name, g, e in zip(("dx", "dw", "db"), got, want):
            assert g.dtype == dtype and g.shape == e.shape, name
            np.testing.assert_allclose(g, e, **tol, err_msg=name)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", CASES)
def test_forward_is_the_unfused_ops_bit_for_bit(same_bits, x_shape, w_shape, stride, padding, dilation):
    x, w, b = make(x_shape, w_shape, np.float32)
    y, _ = conv_fused.conv2d_relu_pool_forward(x, w, b, stride, padding, dilation)
    relu = np.maximum(conv.conv2d_forward(x, w, b, stride, padding, dilation), 0)
    same_bits(y, pool.max_pool2d_forward(relu, 2)[0])


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", CASES[:3])
def test_gradients_match_finite_differences(numerical_gradient, x_shape, w_shape, stride, padding, dilation):
    x, w, b = make(x_shape, w_shape, np.float64)
    args = (stride, padding, dilation)
    y, at = conv_fused.conv2d_relu_pool_forward(x, w, b, *args)
    gy = np.random.default_rng(1).standard_normal(y.shape)

    def loss() -> float:
        return float(np.sum(conv_fused.conv2d_relu_pool_forward(x, w, b, *args)[0] * gy))

    grads = conv_fused.conv2d_relu_pool_backward(gy, x, w, at, *args)
    for name, got, array in zip(("dx", "dw", "db"), grads, (x, w, b)):
        np.testing.assert_allclose(got, numerical_gradient(loss, array), rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", CASES)
def test_matches_torch(torch, dtype, x_shape, w_shape, stride, padding, dilation):
    x, w, b = make(x_shape, w_shape, dtype)
    tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    tconv = torch.nn.functional.conv2d(tx, tw, tb, stride, padding, dilation)
    ty = torch.nn.functional.max_pool2d(torch.relu(tconv), 2)
    gy = np.random.default_rng(1).standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.from_numpy(gy))
    y, at = conv_fused.conv2d_relu_pool_forward(x, w, b, stride, padding, dilation)
    grads = conv_fused.conv2d_relu_pool_backward(gy, x, w, at, stride, padding, dilation)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-10}
    np.testing.assert_allclose(y, ty.detach().numpy(), **tol)
    for name, got, t in zip(("dx", "dw", "db"), grads, (tx, tw, tb)):
        np.testing.assert_allclose(got, t.grad.numpy(), **tol, err_msg=name)


def test_backward_computes_only_what_is_needed():
    x, w, b = make((3, 2, 8, 8), (4, 2, 3, 3), np.float64)
    y, at = conv_fused.conv2d_relu_pool_forward(x, w, b)
    gy = np.random.default_rng(1).standard_normal(y.shape)
    full = conv_fused.conv2d_relu_pool_backward(gy, x, w, at)
    for needs in [(True, False, False), (False, True, False), (False, False, True), (False, False, False)]:
        for need, got, want in zip(needs, conv_fused.conv2d_relu_pool_backward(gy, x, w, at, needs=needs), full):
            if need:
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
            else:
                assert got is None


def test_nan_and_non_positive_windows_pass_no_gradient():
    # A window whose maximum is 0 (all ReLU'd) or NaN passes no gradient, as ReLU's backward after the pool.
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 1, 1] = np.nan  # reaches the first window through the 3x3 tap (all ones, bias -1)
    x[0, 0, 4, 4] = 5.0
    w, b = np.ones((1, 1, 3, 3)), np.array([-1.0])
    y, at = conv_fused.conv2d_relu_pool_forward(x, w, b)
    assert np.isnan(y[0, 0, 0, 0]) and at[0, 0, 0, 0] == -1
    want_y, want_at = conv_fused_reference.conv2d_relu_pool_forward(x, w, b)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(at, want_at)


def test_same_inputs_give_the_same_bits(same_bits):
    x, w, b = make((9, 6, 12, 12), (8, 6, 3, 3), np.float32)
    (y1, at1), (y2, at2) = conv_fused.conv2d_relu_pool_forward(x, w, b), conv_fused.conv2d_relu_pool_forward(x, w, b)
    same_bits(y1, y2)
    same_bits(at1, at2)
    gy = np.random.default_rng(1).standard_normal(y1.shape).astype(np.float32)
    for g1, g2 in zip(conv_fused.conv2d_relu_pool_backward(gy, x, w, at1), conv_fused.conv2d_relu_pool_backward(gy, x, w, at1)):
        same_bits(g1, g2)


def test_fusable_and_errors():
    x, w, _ = make((1, 2, 4, 4), (3, 2, 3, 3), np.float32)
    assert conv_fused.fusable(x, w, 1)
    assert not conv_fused.fusable(x, w, 2)
    assert not conv_fused.fusable(x, w.astype(np.float64), 1)
    with pytest.raises(ShapeError, match="smaller than the 2x2 pool window"):
        conv_fused.conv2d_relu_pool_forward(x[:, :, :, :3], w, None)  # a (2, 1) conv output
