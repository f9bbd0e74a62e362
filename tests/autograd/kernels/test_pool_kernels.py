"""Pooling kernels: held to the NumPy reference, finite differences and torch."""

from __future__ import annotations

import numpy as np
import pytest

from ttrain.autograd.kernels import pool, pool_reference
from ttrain.autograd.ops.errors import ShapeError

# (x shape, kernel_size, stride, padding); max pooling also takes the dilation in MAX_CASES.
CASES = [
    pytest.param((2, 3, 8, 9), 2, None, 0, id="2x2"),
    pytest.param((2, 3, 9, 7), 3, 2, 1, id="3x3-stride2-pad1-overlap"),
    pytest.param((1, 2, 7, 9), (3, 2), (2, 1), (1, 1), id="rect-batch1-odd"),
    pytest.param((2, 2, 5, 5), 1, 1, 0, id="1x1"),
    pytest.param((2, 2, 6, 5), (4, 2), (1, 3), (2, 1), id="stride-over-kernel"),
]
MAX_CASES = [pytest.param(*p.values, 1, id=p.id) for p in CASES] + [
    pytest.param((2, 3, 10, 11), (3, 2), (2, 1), (1, 1), (2, 3), id="dilation"),
]
DTYPES = [np.float32, np.float64]


def make(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", MAX_CASES)
def test_max_pool_matches_reference(dtype, shape, kernel, stride, padding, dilation):
    x = make(shape, dtype)
    y, idx = pool.max_pool2d_forward(x, kernel, stride, padding, dilation)
    y_ref, idx_ref = pool_reference.max_pool2d_forward(x, kernel, stride, padding, dilation)
    assert y.dtype == dtype and idx.dtype == np.int64
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, idx_ref)
    gy = make(y.shape, dtype, seed=1)
    dx = pool.max_pool2d_backward(gy, idx, x.shape)
    assert dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_allclose(dx, pool_reference.max_pool2d_backward(gy, idx_ref, x.shape), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kernel, stride, padding", CASES)
def test_avg_pool_matches_reference(dtype, count_include_pad, shape, kernel, stride, padding):
    x = make(shape, dtype)
    y = pool.avg_pool2d_forward(x, kernel, stride, padding, count_include_pad)
    y_ref = pool_reference.avg_pool2d_forward(x, kernel, stride, padding, count_include_pad)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, y_ref, rtol=1e-6, atol=1e-6)
    gy = make(y.shape, dtype, seed=1)
    dx = pool.avg_pool2d_backward(gy, x.shape, kernel, stride, padding, count_include_pad)
    dx_ref = pool_reference.avg_pool2d_backward(gy, x.shape, kernel, stride, padding, count_include_pad)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_gradients_match_finite_differences(numerical_gradient, kind):
    x = make((2, 2, 5, 6), np.float64)  # distinct values: no ties for the max to break
    gy = make((2, 2, 3, 3), np.float64, seed=1)
    if kind == "max":
        def loss() -> float:
            return float(np.sum(pool.max_pool2d_forward(x, 3, 2, 1)[0] * gy))

        dx = pool.max_pool2d_backward(gy, pool.max_pool2d_forward(x, 3, 2, 1)[1], x.shape)
    else:
        def loss() -> float:
            return float(np.sum(pool.avg_pool2d_forward(x, 3, 2, 1, False) * gy))

        dx = pool.avg_pool2d_backward(gy, x.shape, 3, 2, 1, False)
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", MAX_CASES)
def test_max_pool_matches_torch(torch, dtype, shape, kernel, stride, padding, dilation):
    x = make(shape, dtype)
    tx = torch.from_numpy(x).requires_grad_()
    ty, tidx = torch.nn.functional.max_pool2d(tx, kernel, stride, padding, dilation, return_indices=True)
    gy = make(tuple(ty.shape), dtype, seed=1)
    ty.backward(torch.from_numpy(gy))
    y, idx = pool.max_pool2d_forward(x, kernel, stride, padding, dilation)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(idx, tidx.numpy())
    np.testing.assert_allclose(pool.max_pool2d_backward(gy, idx, x.shape), tx.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kernel, stride, padding", CASES)
def test_avg_pool_matches_torch(torch, dtype, count_include_pad, shape, kernel, stride, padding):
    x = make(shape, dtype)
    tx = torch.from_numpy(x).requires_grad_()
    ty = torch.nn.functional.avg_pool2d(tx, kernel, stride, padding, count_include_pad=count_include_pad)
    gy = make(tuple(ty.shape), dtype, seed=1)
    ty.backward(torch.from_numpy(gy))
    np.testing.assert_allclose(
        pool.avg_pool2d_forward(x, kernel, stride, padding, count_include_pad), ty.detach().numpy(), rtol=1e-6, atol=1e-6
    )
    dx = pool.avg_pool2d_backward(gy, x.shape, kernel, stride, padding, count_include_pad)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_max_pool_nan_and_ties_follow_torch(torch):
    x = np.array([[[[1.0, 1.0, 2.0, 2.0], [0.0, 1.0, np.nan, 2.0], [-np.inf, -np.inf, 5.0, np.nan]]]])
    y, idx = pool.max_pool2d_forward(x, (2, 2), 1)
    ty, tidx = torch.nn.functional.max_pool2d(torch.from_numpy(x), (2, 2), 1, return_indices=True)
    np.testing.assert_array_equal(y, ty.numpy())  # NaN propagates; equal NaN positions
    np.testing.assert_array_equal(idx, tidx.numpy())  # first maximum wins a tie


@pytest.mark.parametrize("dtype", DTYPES)
def test_unrolled_2x2_pool_keeps_nan_ties_and_minus_inf_as_torch(torch, dtype):
    # 2x2 stride 2 has its own kernel: ties, NaN after a maximum, an all -inf window, an odd edge.
    x = np.array([[[[1.0, 1.0, 2.0, np.nan, 7.0], [1.0, 0.0, np.nan, 9.0, 7.0],
                    [-np.inf, -np.inf, 3.0, 3.0, 0.0], [-np.inf, -np.inf, 3.0, 4.0, 0.0]]]], dtype=dtype)
    y, idx = pool.max_pool2d_forward(x, 2)
    ty, tidx = torch.nn.functional.max_pool2d(torch.from_numpy(x), 2, return_indices=True)
    np.testing.assert_array_equal(y, ty.numpy())
    np.testing.assert_array_equal(idx, tidx.numpy())


def test_same_inputs_give_the_same_bits(same_bits):
    x = make((5, 7, 12, 12), np.float32)
    gy = make((5, 7, 6, 6), np.float32, seed=1)
    (y1, i1), (y2, i2) = pool.max_pool2d_forward(x, 3, 2, 1), pool.max_pool2d_forward(x, 3, 2, 1)
    same_bits(y1, y2)
    same_bits(i1, i2)
    same_bits(pool.max_pool2d_backward(gy, i1, x.shape), pool.max_pool2d_backward(gy, i2, x.shape))
    same_bits(pool.avg_pool2d_forward(x, 3, 2, 1), pool.avg_pool2d_forward(x, 3, 2, 1))
    same_bits(pool.avg_pool2d_backward(gy, x.shape, 3, 2, 1), pool.avg_pool2d_backward(gy, x.shape, 3, 2, 1))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: pool.max_pool2d_forward(np.zeros((1, 1, 5, 5)), 2, 2, 2), ValueError, "at most half the kernel size"),
        (lambda: pool.avg_pool2d_forward(np.zeros((1, 1, 2, 2)), 3), ShapeError, "output would be empty"),
        (lambda: pool.max_pool2d_forward(np.zeros((1, 5, 5)), 2), ShapeError, "must have 4 dimensions"),
        (lambda: pool.max_pool2d_forward(np.zeros((1, 1, 5, 5), np.int64), 2), TypeError, "float32 or float64"),
        (lambda: pool.avg_pool2d_forward(np.zeros((1, 1, 5, 5)), 0), ValueError, "kernel_size must be >= 1"),
        (
            lambda: pool.avg_pool2d_backward(np.zeros((1, 1, 3, 3)), (1, 1, 5, 5), 2),
            ShapeError,
            r"grad_output \(1, 1, 3, 3\) does not match the output shape \(1, 1, 2, 2\)",
        ),
        (
            lambda: pool.max_pool2d_backward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 3), np.int64), (1, 1, 4, 4)),
            ShapeError,
            "indices",
        ),
    ],
)
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("dtype", DTYPES)
def test_unrolled_2x2_pool_on_ties_nans_and_infinities_matches_the_reference_and_torch(torch, dtype):
    # Windows with several NaNs (the last one wins), tied maxima, signed zeros and infinities, odd edges.
    values = np.array([0.0, -0.0, 1.0, 1.0, np.nan, np.inf, -np.inf, 2.0], dtype=dtype)
    x = np.random.default_rng(3).choice(values, size=(3, 4, 9, 7))
    y, idx = pool.max_pool2d_forward(x, 2)
    want_y, want_idx = pool_reference.max_pool2d_forward(x, 2)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(idx, want_idx)
    ty, tidx = torch.nn.functional.max_pool2d(torch.from_numpy(x), 2, return_indices=True)
    np.testing.assert_array_equal(y, ty.numpy())
    np.testing.assert_array_equal(idx, tidx.numpy())
