"""2-D convolution kernels (forward and backward), float32 and float64, PyTorch layouts.

Two strategies, picked by shape (both measured in benchmarks/conv_kernels.py):

* GEMM: the batch is cut into chunks whose im2col matrix (C*kh*kw, chunk*Ho*Wo) stays in
  cache; a serial Numba loop fills it and one BLAS GEMM per group and chunk (np.matmul,
  threaded by OpenBLAS) does the arithmetic. Few, large GEMM calls matter: every call is a
  synchronisation of OpenBLAS's threads. The Numba parts stay serial on purpose: parallel Numba
  workers spinning beside OpenBLAS's threads on a 2-core machine cost more than they save.
* Direct: when a group's reduction (C/groups * kh * kw) is too short for a GEMM to pay (the
  first layer on 1-channel images, depthwise convs), plain loops, parallel over the batch for
  the output and the input gradient, and over output channels for the weight gradient.

Every output element is owned by one loop iteration and reductions run in a fixed order, so the
same inputs give the same bits. References: `conv_reference.py`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from ttrain.autograd.kernels.conv_geometry import Conv2dShape, IntPair, check_float_array, conv2d_shape
from ttrain.autograd.kernels.conv_rows import _crop_plane, _gather, _gather_add, _mul_add_gather, _pad_plane, _scatter_add
from ttrain.autograd.ops.errors import ShapeError

# Bytes of im2col buffer per chunk of samples: small enough to stay in the 2-core machine's
# L2/L3 between the Numba fill and the GEMM that reads it (measured; see the benchmark).
_CHUNK_BYTES = 2 << 20
# Group reductions up to this length use the direct loops instead of im2col + GEMM.
_DIRECT_MAX_K = 16


@njit(cache=True)
def _im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, plane, cols):
    # cols[(c*kh + i)*kw + j, n*ho*wo + oh*wo + ow] = padded x[n, c, oh*sh + i*dh, ow*sw + j*dw]:
    # one column block per sample, so a chunk of samples is one GEMM operand. `plane` is a flat
    # scratch buffer for one padded plane.
    p = ho * wo
    h, w = x.shape[2], x.shape[3]
    wp = plane.size // (h + 2 * ph)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            _pad_plane(x[n, c].reshape(h * w), h, w, ph, pw, wp, 0.0, plane)
            for i in range(kh):
                for j in range(kw):
                    row = cols[(c * kh + i) * kw + j]
                    for oh in range(ho):
                        _gather(row, n * p + oh * wo, plane, (oh * sh + i * dh) * wp + j * dw, sw, wo)


@njit(cache=True)
def _col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, plane, dx):
    # The adjoint of _im2col: dx[n, c] = the sum of the column entries each element was copied to.
    p = ho * wo
    h, w = dx.shape[2], dx.shape[3]
    wp = plane.size // (h + 2 * ph)
    for n in range(dx.shape[0]):
        for c in range(dx.shape[1]):
            plane[:] = 0
            for i in range(kh):
                for j in range(kw):
                    row = cols[(c * kh + i) * kw + j]
                    for oh in range(ho):
                        _scatter_add(plane, (oh * sh + i * dh) * wp + j * dw, sw, 1.0, row, n * p + oh * wo, wo)
            _crop_plane(plane, ph, pw, wp, h, w, dx[n, c].reshape(h * w))


# The direct kernels see each padded plane as one flat row of length hp*wp (wp a multiple of sw):
# output (oh, ow) of tap (i, j) reads flat index i*dh*wp + j*dw + sw*(oh*wg + ow) with
# wg = sh*wp/sw, so one tap of one channel is a single long strided axpy over t = oh*wg + ow
# (columns ow >= wo are computed and dropped) instead of ho short ones.


@njit(parallel=True, cache=True)
def _pad_batch(x, ph, pw, xp):
    h, w = x.shape[2], x.shape[3]
    wp = xp.shape[2] // (h + 2 * ph)
    for n in prange(x.shape[0]):
        for c in range(x.shape[1]):
            _pad_plane(x[n, c].reshape(h * w), h, w, ph, pw, wp, 0.0, xp[n, c])


@njit(parallel=True, cache=True)
def _direct_forward(xp, w, bias, groups, sh, sw, dh, dw, wg, wp, y):
    o_, cg, kh, kw = w.shape
    og = o_ // groups
    ho, wo = y.shape[2], y.shape[3]
    for n in prange(xp.shape[0]):
        acc = np.empty((ho - 1) * wg + wo, dtype=y.dtype)
        for o in range(o_):
            c0 = (o // og) * cg
            acc[:] = 0
            for c in range(cg):
                for i in range(kh):
                    for j in range(kw):
                        _gather_add(acc, 0, w[o, c, i, j], xp[n, c0 + c], i * dh * wp + j * dw, sw, acc.size)
            out = y[n, o].reshape(ho * wo)
            for oh in range(ho):
                _gather(out, oh * wo, acc, oh * wg, 1, wo)
            for t in range(ho * wo):
                out[t] += bias[o]


@njit(parallel=True, cache=True)
def _direct_grad_input(gy, w, groups, sh, sw, ph, pw, dh, dw, wg, wp, dx):
    n_, c_, h, w_ = dx.shape
    o_, cg, kh, kw = w.shape
    og = o_ // groups
    ho, wo = gy.shape[2], gy.shape[3]
    for n in prange(n_):
        dxp = np.zeros((c_, (h + 2 * ph) * wp), dtype=dx.dtype)
        grid = np.zeros((ho - 1) * wg + wo, dtype=dx.dtype)  # gy[n, o] on the (ho, wg) grid, 0 elsewhere
        for o in range(o_):
            c0 = (o // og) * cg
            g = gy[n, o].reshape(ho * wo)
            for oh in range(ho):
                _gather(grid, oh * wg, g, oh * wo, 1, wo)
            for c in range(cg):
                for i in range(kh):
                    for j in range(kw):
                        _scatter_add(dxp[c0 + c], i * dh * wp + j * dw, sw, w[o, c, i, j], grid, 0, grid.size)
        for c in range(c_):
            _crop_plane(dxp[c], ph, pw, wp, h, w_, dx[n, c].reshape(h * w_))


@njit(parallel=True, cache=True)
def _direct_grad_weight(xp, gy, groups, sh, sw, dh, dw, wg, wp, dwt):
    # Parallel over output channels: each iteration owns dwt[o]. Sums are kept per grid position
    # (acc[r, t]) so the inner loop vectorizes without reassociating a float reduction, then
    # reduced in a fixed order.
    o_, cg, kh, kw = dwt.shape
    og = o_ // groups
    ho, wo = gy.shape[2], gy.shape[3]
    length = (ho - 1) * wg + wo
    out = dwt.reshape(o_, cg * kh * kw)
    for o in prange(o_):
        c0 = (o // og) * cg
        acc = np.zeros((cg * kh * kw, length), dtype=dwt.dtype)
        grid = np.zeros(length, dtype=dwt.dtype)
        for n in range(xp.shape[0]):
            g = gy[n, o].reshape(ho * wo)
            for oh in range(ho):
                _gather(grid, oh * wg, g, oh * wo, 1, wo)
            for c in range(cg):
                for i in range(kh):
                    for j in range(kw):
                        _mul_add_gather(acc[(c * kh + i) * kw + j], grid, xp[n, c0 + c], i * dh * wp + j * dw, sw)
        for r in range(cg * kh * kw):
            total = 0.0
            for t in range(length):
                total += acc[r, t]
            out[o, r] = total


class _Padding(NamedTuple):
    """Padded plane size (wp rounded up to a multiple of the stride) and the direct kernels' grid width."""

    hp: int
    wp: int
    wg: int


def _padding(s: Conv2dShape) -> _Padding:
    win = s.win
    wp = -(-(s.w + 2 * win.pw) // win.sw) * win.sw
    return _Padding(s.h + 2 * win.ph, wp, win.sh * wp // win.sw)


def _padded_input(x: np.ndarray, s: Conv2dShape) -> np.ndarray:
    """x zero-padded to (N, C, hp*wp) flat planes for the direct kernels."""
    pad = _padding(s)
    xp = np.empty((s.n, s.c, pad.hp * pad.wp), dtype=x.dtype)
    _pad_batch(x, s.win.ph, s.win.pw, xp)
    return xp


def _uses_direct(s: Conv2dShape) -> bool:
    return s.k_group <= _DIRECT_MAX_K


def _chunk_samples(s: Conv2dShape, itemsize: int) -> int:
    per_sample = s.c * s.win.kh * s.win.kw * s.ho * s.wo * itemsize
    return max(1, min(s.n, _CHUNK_BYTES // per_sample))


class _Chunks:
    """Cuts the batch into chunks and hands out contiguous (rows, chunk*Ho*Wo) scratch matrices."""

    def __init__(self, s: Conv2dShape, dtype: np.dtype) -> None:
        self.s = s
        self.dtype = dtype
        self.size = _chunk_samples(s, np.dtype(dtype).itemsize)
        self.pixels = s.ho * s.wo
        pad = _padding(s)
        self.plane = np.empty(pad.hp * pad.wp, dtype=dtype)

    def ranges(self):
        """(start, stop) of each chunk."""
        for start in range(0, self.s.n, self.size):
            yield start, min(start + self.size, self.s.n)

    def matrix(self, rows: int) -> np.ndarray:
        """A scratch buffer for (rows, m*Ho*Wo) matrices of any chunk length m."""
        return np.empty(rows * self.size * self.pixels, dtype=self.dtype)

    def view(self, buffer: np.ndarray, rows: int, m: int) -> np.ndarray:
        """The contiguous (rows, m*Ho*Wo) matrix at the start of `buffer`."""
        return buffer[: rows * m * self.pixels].reshape(rows, m * self.pixels)

    def im2col(self, x: np.ndarray, buffer: np.ndarray) -> np.ndarray:
        """The column matrix (C*kh*kw, m*Ho*Wo) of the m samples in `x`."""
        s, win = self.s, self.s.win
        cols = self.view(buffer, s.c * win.kh * win.kw, x.shape[0])
        _im2col(x, win.kh, win.kw, win.sh, win.sw, win.ph, win.pw, win.dh, win.dw, s.ho, s.wo, self.plane, cols)
        return cols

    def col2im(self, cols: np.ndarray, dx: np.ndarray) -> None:
        """Sum the column matrix `cols` back into the input gradient `dx` of its samples."""
        s, win = self.s, self.s.win
        _col2im(cols, win.kh, win.kw, win.sh, win.sw, win.ph, win.pw, win.dh, win.dw, s.ho, s.wo, self.plane, dx)


def _gemm_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, s: Conv2dShape) -> np.ndarray:
    og, kg = s.o_group, s.k_group
    w3 = w.reshape(s.groups, og, kg)
    y = np.empty((s.n, s.o, s.ho * s.wo), dtype=x.dtype)
    chunks = _Chunks(s, x.dtype)
    cols_buffer, out_buffer = chunks.matrix(s.groups * kg), chunks.matrix(s.o)
    for start, stop in chunks.ranges():
        m = stop - start
        cols = chunks.im2col(x[start:stop], cols_buffer)
        out = chunks.view(out_buffer, s.o, m)
        for g in range(s.groups):
            np.matmul(w3[g], cols[g * kg : (g + 1) * kg], out=out[g * og : (g + 1) * og])
        # (O, m, Ho*Wo) -> (m, O, Ho*Wo), adding the bias while the chunk is in cache.
        out = out.reshape(s.o, m, -1).transpose(1, 0, 2)
        if b is None:
            y[start:stop] = out
        else:
            np.add(out, b[:, None], out=y[start:stop])
    return y.reshape(s.n, s.o, s.ho, s.wo)


def _gemm_backward(
    gy: np.ndarray, x: np.ndarray, w: np.ndarray, s: Conv2dShape, need_dx: bool, need_dw: bool
) -> tuple[np.ndarray | None, np.ndarray | None]:
    og, kg = s.o_group, s.k_group
    w3 = w.reshape(s.groups, og, kg)
    gy3 = gy.reshape(s.n, s.o, s.ho * s.wo)
    chunks = _Chunks(s, x.dtype)
    gy_buffer = chunks.matrix(s.o)
    cols_buffer = chunks.matrix(s.groups * kg)  # the columns (for dw), then their gradient (for dx)
    dx = np.empty_like(x) if need_dx else None
    dw3 = np.zeros((s.groups, og, kg), dtype=x.dtype) if need_dw else None
    partial = np.empty((kg, og), dtype=x.dtype)
    for start, stop in chunks.ranges():
        m = stop - start
        gyt = chunks.view(gy_buffer, s.o, m)
        gyt.reshape(s.o, m, -1)[:] = gy3[start:stop].transpose(1, 0, 2)
        if need_dw:
            cols = chunks.im2col(x[start:stop], cols_buffer)
            for g in range(s.groups):
                # One GEMM per chunk and group, summed over chunks in order: deterministic. It
                # computes dw^T: this operand order measured ~20% faster in OpenBLAS.
                np.matmul(cols[g * kg : (g + 1) * kg], gyt[g * og : (g + 1) * og].T, out=partial)
                dw3[g] += partial.T
        if need_dx:
            dcols = chunks.view(cols_buffer, s.groups * kg, m)
            for g in range(s.groups):
                np.matmul(w3[g].T, gyt[g * og : (g + 1) * og], out=dcols[g * kg : (g + 1) * kg])
            chunks.col2im(dcols, dx[start:stop])
    return dx, None if dw3 is None else dw3.reshape(w.shape)


def conv2d_forward(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> np.ndarray:
    """2-D cross-correlation as `torch.nn.functional.conv2d`, on arrays.

    x (N, C, H, W), weight (O, C/groups, kh, kw), bias (O,) or None, all float32 or all
    float64; padding is explicit (ints; the caller resolves "same"). Returns (N, O, Ho, Wo).
    """
    s = conv2d_shape(x, weight, bias, stride, padding, dilation, groups)
    x = np.ascontiguousarray(x)
    weight = np.ascontiguousarray(weight)
    if _uses_direct(s):
        win, pad = s.win, _padding(s)
        y = np.empty((s.n, s.o, s.ho, s.wo), dtype=x.dtype)
        b = np.zeros(s.o, dtype=x.dtype) if bias is None else np.ascontiguousarray(bias)
        _direct_forward(_padded_input(x, s), weight, b, s.groups, win.sh, win.sw, win.dh, win.dw, pad.wg, pad.wp, y)
        return y
    return _gemm_forward(x, weight, bias, s)


def conv2d_backward(
    grad_output: np.ndarray,
    x: np.ndarray,
    weight: np.ndarray,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
    needs: tuple[bool, bool, bool] = (True, True, True),
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Gradients of `conv2d_forward` for the given output gradient.

    Returns (grad_input, grad_weight, grad_bias); an entry is None where `needs` (same order)
    says it is not wanted.
    """
    s = conv2d_shape(x, weight, None, stride, padding, dilation, groups, op="conv2d backward")
    check_float_array("conv2d backward", "grad_output", grad_output, 4)
    if grad_output.shape != (s.n, s.o, s.ho, s.wo):
        raise ShapeError(
            f"conv2d backward: grad_output {grad_output.shape} does not match the output shape "
            f"{(s.n, s.o, s.ho, s.wo)} of input {x.shape} and weight {weight.shape}"
        )
    if grad_output.dtype != x.dtype:
        raise TypeError(f"conv2d backward: input is {x.dtype} but grad_output is {grad_output.dtype}")
    need_dx, need_dw, need_db = (bool(v) for v in needs)
    gy = np.ascontiguousarray(grad_output)
    x = np.ascontiguousarray(x)
    weight = np.ascontiguousarray(weight)
    dx = dw = None
    if _uses_direct(s):
        win, pad = s.win, _padding(s)
        if need_dx:
            dx = np.empty_like(x)
            _direct_grad_input(gy, weight, s.groups, win.sh, win.sw, win.ph, win.pw, win.dh, win.dw,
                               pad.wg, pad.wp, dx)
        if need_dw:
            dw = np.empty_like(weight)
            _direct_grad_weight(_padded_input(x, s), gy, s.groups, win.sh, win.sw, win.dh, win.dw,
                                pad.wg, pad.wp, dw)
    elif need_dx or need_dw:
        dx, dw = _gemm_backward(gy, x, weight, s, need_dx, need_dw)
    db = gy.reshape(s.n, s.o, -1).sum(axis=0).sum(axis=1) if need_db else None  # 2x faster than one sum
    return dx, dw, db
