"""Conv2d + ReLU + 2x2 max-pool (stride 2) in one pass per sample, forward and backward.

A CNN's conv, ReLU and pool as three ops write the conv output, its ReLU and the ReLU's gradient
over the whole batch (1.4M floats per array for the LeNet-style net's first layer) and pass over
each of them again: ~20% of its training step on one core. Here each kernel thread takes a chunk
of samples and, per sample, runs im2col and one BLAS GEMM into a scratch (O, Ho*Wo) that stays
in cache, adds the bias, applies the ReLU and pools; only the pooled output and the position of
each window's maximum reach memory. Backward scatters the pooled gradient back to those positions
in the scratch (a window whose maximum is not positive passes none: the ReLU's gradient is 0
there), then runs the conv's weight and input gradient GEMMs on it.

One group only, with NumPy's BLAS GEMM (`blas.py`): `fusable` says when. Values are the bits
of the three ops: the same GEMM on the same columns, then the same bias add, ReLU
(np.maximum: NaN stays NaN) and pooling rule (`pool._max_forward_2x2`). Gradients: the same
GEMMs on the same gradient; the weight and bias gradients sum per chunk of samples, the chunks
in order (the bias gradient over the windows' maxima only, so its rounding differs from the
unfused sum). A gradient reaching a window whose maximum is not positive is dropped, NaN or not
(the unfused ReLU multiplies it by 0). Reference: `conv_fused_reference.py`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ttrain.autograd.kernels import twins
from ttrain.autograd.kernels.blas import _as, gemm_address, gemm_into
from ttrain.autograd.kernels.cold_start import with_twin
from ttrain.autograd.kernels.conv import _blas_gemm, _col2im, _im2col
from ttrain.autograd.kernels.conv_threads import even_chunk, for_each_chunk
from ttrain.autograd.kernels.pool import _max_forward_2x2
from ttrain.autograd.ops.errors import ShapeError
from ttrain.autograd.window_geometry import Conv2dShape, IntPair, check_float_array, conv2d_shape


@with_twin(twins.fused_forward_chunk)
@njit(cache=True, nogil=True)
def _forward_chunk(gemm, x, w2, bias, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, y, at):
    # y (m, O, hp*wp): the pooled ReLU of each sample's conv; at: the flat position in the
    # (ho, wo) plane of each window's maximum, -1 where that is not positive (no gradient).
    o_, k_ = w2.shape
    hp, wp = ho // 2, wo // 2
    h, w = x.shape[2], x.shape[3]
    plane = np.empty((h + 2 * ph) * (w + 2 * pw), dtype=x.dtype)
    cols = np.empty((1, k_, ho * wo), dtype=x.dtype)
    out = np.empty((o_, ho * wo), dtype=x.dtype)
    zero = _as(out[0, 0], 0.0)
    for n in range(x.shape[0]):
        _im2col(x[n : n + 1], kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, plane, cols)
        gemm_into(gemm, w2, False, cols[0], False, 0.0, out)
        for o in range(o_):
            row, b = out[o], bias[o]
            for t in range(ho * wo):
                v = row[t] + b
                row[t] = v if (v > zero) | (v != v) else zero  # ReLU; NaN stays
        _max_forward_2x2(out, wo, hp, wp, y[n], at[n])
        for o in range(o_):
            row, where = out[o], at[n, o]
            for t in range(hp * wp):
                where[t] = where[t] if row[where[t]] > zero else -1


@with_twin(twins.fused_backward_chunk)
@njit(cache=True, nogil=True)
def _backward_chunk(gemm, gy, at, x, w2t, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, need_dx, need_dw, dx, dw2, db):
    # For the samples of gy/at (m, O, hp*wp): dx (m, C, H, W) if need_dx; dw2 (O, K) and db (O,)
    # their sums if need_dw (db always). `grid` holds one sample's conv output gradient: zero
    # but at the windows' maxima, cleared again after use.
    m, o_ = at.shape[0], at.shape[1]
    k_ = w2t.shape[0]
    h, w = x.shape[2], x.shape[3]
    plane = np.empty((h + 2 * ph) * (w + 2 * pw), dtype=x.dtype)
    cols = np.empty((1, k_, ho * wo), dtype=x.dtype)
    grid = np.zeros((o_, ho * wo), dtype=x.dtype)
    db[:] = 0
    for n in range(m):
        for o in range(o_):
            row, where, g = grid[o], at[n, o], gy[n, o]
            total = db[o]
            for t in range(where.size):
                if where[t] >= 0:
                    row[where[t]] = g[t]
                    total += g[t]
            db[o] = total
        if need_dw:
            _im2col(x[n : n + 1], kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, plane, cols)
            gemm_into(gemm, grid, False, cols[0], True, 1.0 if n else 0.0, dw2)
        if need_dx:
            gemm_into(gemm, w2t, False, grid, False, 0.0, cols[0])
            _col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, plane, dx[n : n + 1])
        for o in range(o_):
            row, where = grid[o], at[n, o]
            for t in range(where.size):
                if where[t] >= 0:
                    row[where[t]] = 0


def _shape(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: IntPair, padding: IntPair,
           dilation: IntPair, op: str) -> Conv2dShape:
    s = conv2d_shape(x, weight, bias, stride, padding, dilation, 1, op=op)
    if s.ho < 2 or s.wo < 2:
        raise ShapeError(f"{op}: the conv output {(s.ho, s.wo)} is smaller than the 2x2 pool window")
    return s


def fusable(x: np.ndarray, weight: np.ndarray, groups: int) -> bool:
    """Whether conv2d_relu_pool can run these operands: one group, float32/float64 arrays of one
    dtype, 4-D, and NumPy's BLAS GEMM callable from Numba for that dtype."""
    return (
        groups == 1
        and isinstance(x, np.ndarray) and isinstance(weight, np.ndarray)
        and x.ndim == 4 and weight.ndim == 4
        and x.dtype == weight.dtype and x.dtype in (np.float32, np.float64)
        and _blas_gemm(x.dtype) is not None
    )


def conv2d_relu_pool_forward(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: IntPair = 1, padding: IntPair = 0,
    dilation: IntPair = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """max_pool2d(relu(conv2d(x, weight, bias, stride, padding, dilation)), 2) on arrays, one group.

    Returns (y, at): y (N, O, Ho // 2, Wo // 2); at (int64, y's shape), for the backward pass: the
    flat position in the (Ho, Wo) conv output plane of each window's maximum, -1 where it is not
    positive. Needs `fusable(x, weight, 1)`.
    """
    s = _shape(x, weight, bias, stride, padding, dilation, "conv2d_relu_pool")
    win = s.win
    x = np.ascontiguousarray(x)
    w2 = np.ascontiguousarray(weight).reshape(s.o, s.k_group)
    b = np.zeros(s.o, dtype=x.dtype) if bias is None else np.ascontiguousarray(bias)
    y = np.empty((s.n, s.o, (s.ho // 2) * (s.wo // 2)), dtype=x.dtype)
    at = np.empty(y.shape, dtype=np.int64)
    gemm = gemm_address(x.dtype)
    args = (win.kh, win.kw, win.sh, win.sw, win.ph, win.pw, win.dh, win.dw, s.ho, s.wo)
    for_each_chunk(s.n, even_chunk(s.n), lambda i, j: _forward_chunk(gemm, x[i:j], w2, b, *args, y[i:j], at[i:j]))
    return y.reshape(s.n, s.o, s.ho // 2, s.wo // 2), at.reshape(s.n, s.o, s.ho // 2, s.wo // 2)


def conv2d_relu_pool_backward(
    grad_output: np.ndarray, x: np.ndarray, weight: np.ndarray, at: np.ndarray, stride: IntPair = 1,
    padding: IntPair = 0, dilation: IntPair = 1, needs: tuple[bool, bool, bool] = (True, True, True),
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Gradients (input, weight, bias) of `conv2d_relu_pool_forward` for the pooled output's
    gradient; `at` is what the forward pass returned. None where `needs` (same order) says no."""
    s = _shape(x, weight, None, stride, padding, dilation, "conv2d_relu_pool backward")
    check_float_array("conv2d_relu_pool backward", "grad_output", grad_output, 4)
    pooled = (s.n, s.o, s.ho // 2, s.wo // 2)
    if grad_output.shape != pooled or at.shape != pooled or grad_output.dtype != x.dtype:
        raise ShapeError(f"conv2d_relu_pool backward: grad_output {grad_output.shape} {grad_output.dtype} and "
                         f"positions {at.shape} must be {pooled} {x.dtype}")
    need_dx, need_dw, need_db = (bool(v) for v in needs)
    if not (need_dx or need_dw or need_db):
        return None, None, None
    win = s.win
    x = np.ascontiguousarray(x)
    gy = np.ascontiguousarray(grad_output).reshape(s.n, s.o, -1)
    where = np.ascontiguousarray(at, dtype=np.int64).reshape(s.n, s.o, -1)
    w2t = np.ascontiguousarray(weight.reshape(s.o, s.k_group).T)
    chunk = even_chunk(s.n)
    count = -(-s.n // chunk)
    dx = np.empty_like(x) if need_dx else np.empty((0, 1, 1, 1), dtype=x.dtype)
    dw_parts = np.empty((count, s.o, s.k_group), dtype=x.dtype)
    db_parts = np.empty((count, s.o), dtype=x.dtype)
    gemm = gemm_address(x.dtype)
    args = (win.kh, win.kw, win.sh, win.sw, win.ph, win.pw, win.dh, win.dw, s.ho, s.wo, need_dx, need_dw)
    for_each_chunk(s.n, chunk, lambda i, j: _backward_chunk(
        gemm, gy[i:j], where[i:j], x[i:j], w2t, *args, dx[i:j] if need_dx else dx, dw_parts[i // chunk],
        db_parts[i // chunk]))
    dw = dw_parts.sum(axis=0).reshape(weight.shape) if need_dw else None  # chunks in order: deterministic
    db = db_parts.sum(axis=0) if need_db else None
    return (dx if need_dx else None), dw, db
