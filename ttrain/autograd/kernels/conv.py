"""2-D convolution kernels (forward and backward), float32 and float64, PyTorch layouts.

Three strategies, picked by shape (measured in benchmarks/conv_kernels.py):

* GEMM: per sample, im2col columns (C*kh*kw, Ho*Wo) and one GEMM per group writing NCHW output
  with no transpose; chunks of samples run in parallel (`conv_threads.for_each_chunk`). The
  GEMM is NumPy's OpenBLAS sgemm/dgemm called from the Numba kernel (`blas.gemm_into`): each
  kernel thread calls it on its own samples, BLAS held to one thread once the kernel pool runs
  (`conv_threads`: BLAS's idle threads spun beside the kernels); the weight gradient has BLAS
  transpose the columns. Where NumPy's BLAS cannot be called so, Numba's `conv_rows._matmul`
  (~60% of OpenBLAS on AVX2, ~80% on AVX-512), with the output gradient transposed so that one
  GEMM kernel serves every pass.
* Winograd F(2x2, 3x3) for 3x3 stride-1 convs (`conv_winograd.py`): the same chunked GEMM
  scheme on transformed tiles, with 2.25x less arithmetic; only without BLAS (see
  `_uses_winograd`).
* Direct: grouped convs whose group reduction (C/groups * kh * kw) is short (depthwise): plain
  loops, parallel (`conv_threads.for_each_chunk`) over the batch for the output and the input
  gradient, and over output channels for the weight gradient.

Every output element is owned by one loop iteration and reductions run in a fixed order, so the
same inputs give the same bits. References: `conv_reference.py`.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import njit, types
from numba.extending import overload

from ttrain.autograd.window_geometry import (
    Conv2dShape,
    IntPair,
    check_float_array,
    conv2d_shape,
)
from ttrain.autograd.kernels.conv_rows import (
    _crop_plane,
    _gather,
    _gather_add,
    _matmul,
    _mul_add_gather,
    _pad_plane,
    _scatter_add,
)
from ttrain.autograd.kernels import twins
from ttrain.autograd.kernels.blas import gemm_address, gemm_into
from ttrain.autograd.kernels.cold_start import with_twin
from ttrain.autograd.kernels.conv_threads import even_chunk, for_each_chunk
from ttrain.autograd.kernels.conv_winograd import (
    winograd_forward,
    winograd_grad_input,
    winograd_grad_weight,
)
from ttrain.autograd.ops.errors import ShapeError

# Grouped convs (at least this many groups) with group reductions up to this length use the
# direct loops.
_DIRECT_MAX_K = 16
_DIRECT_MIN_GROUPS = 2
# 3x3 stride-1 convs with at least this many input channels go through Winograd F(2x2, 3x3)
# (conv_winograd.py): its GEMMs reduce over channels only. None turns it off.
_WINOGRAD_MIN_C: int | None = 16
# The GEMM strategy calls NumPy's BLAS GEMM where it can (blas.py); False: Numba's `_matmul` always.
_BLAS = True


@njit(cache=True)
def _im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, plane, cols):
    # cols[n, (c*kh + i)*kw + j, oh*wo + ow] = padded x[n, c, oh*sh + i*dh, ow*sw + j*dw]; `plane`
    # is a flat scratch buffer for one padded plane, unused without padding (read from x directly:
    # ~1.7x faster on the MNIST convs' columns).
    h, w = x.shape[2], x.shape[3]
    wp = plane.size // (h + 2 * ph)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            src = x[n, c].reshape(h * w)
            if ph or pw:
                _pad_plane(src, h, w, ph, pw, wp, 0.0, plane)
                src = plane
            for i in range(kh):
                for j in range(kw):
                    row = cols[n, (c * kh + i) * kw + j]
                    for oh in range(ho):
                        _gather(row, oh * wo, src, (oh * sh + i * dh) * wp + j * dw, sw, wo)


@njit(cache=True)
def _col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, plane, dx):
    # The adjoint of _im2col: dx[n, c] = the sum of the column entries each element was copied to.
    h, w = dx.shape[2], dx.shape[3]
    wp = plane.size // (h + 2 * ph)
    for n in range(dx.shape[0]):
        for c in range(dx.shape[1]):
            plane[:] = 0
            for i in range(kh):
                for j in range(kw):
                    row = cols[n, (c * kh + i) * kw + j]
                    for oh in range(ho):
                        _scatter_add(plane, (oh * sh + i * dh) * wp + j * dw, sw, 1.0, row, oh * wo, wo)
            _crop_plane(plane, ph, pw, wp, h, w, dx[n, c].reshape(h * w))


def _product(gemm, a, b, c):
    """c = a @ b inside a kernel: BLAS's GEMM at address `gemm`, or Numba's `_matmul` where `gemm` is
    None. Chosen when the caller is typed, so a BLAS kernel never compiles `_matmul` (~3 s of a
    first run); a branch on the address would compile both."""
    _product_typed(numba.typeof(gemm), a, b, c)(gemm, a, b, c)  # from Python: the implementation kernels get


@overload(_product, inline="always")
def _product_typed(gemm, a, b, c):
    if isinstance(gemm, types.NoneType):
        return lambda gemm, a, b, c: _matmul(a, b, c)
    return lambda gemm, a, b, c: gemm_into(gemm, a, False, b, False, 0.0, c)


def _weight_product(gemm, g_rows, cols, first, gyt, product, total):
    """total += g_rows @ cols^T inside a kernel (total = it, where `first`): BLAS transposes cols itself
    (beta 0, then 1). Numba's `_matmul` computes cols @ g_rows^T with g_rows transposed into `gyt` first
    (the GEMM then reduces over the output positions in its vectorized form, and no second GEMM
    kernel is compiled), into `product`, then adds its transpose."""
    _weight_product_typed(numba.typeof(gemm), g_rows, cols, first, gyt, product, total)(
        gemm, g_rows, cols, first, gyt, product, total)  # from Python: the implementation kernels get


@overload(_weight_product, inline="always")
def _weight_product_typed(gemm, g_rows, cols, first, gyt, product, total):
    if not isinstance(gemm, types.NoneType):
        return lambda gemm, g_rows, cols, first, gyt, product, total: gemm_into(
            gemm, g_rows, False, cols, True, 0.0 if first else 1.0, total)

    def rows(gemm, g_rows, cols, first, gyt, product, total):
        og, p = g_rows.shape
        for t in range(p):  # contiguous writes: measured 2x the other order (conv_winograd)
            for o in range(og):
                gyt[t, o] = g_rows[o, t]
        _matmul(cols, gyt, product)
        if first:
            total[:] = 0
        for o in range(og):
            for k in range(cols.shape[0]):
                total[o, k] += product[k, o]

    return rows


@with_twin(twins.gemm_forward_chunk)
@njit(cache=True, nogil=True)
def _gemm_forward_chunk(gemm, x, w3, bias, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, y):
    # y[n] (O, ho*wo) for each sample of x: its columns, then one GEMM per group (`_product`), plus the bias.
    groups, og, kg = w3.shape
    h, w = x.shape[2], x.shape[3]
    plane = np.empty((h + 2 * ph) * (w + 2 * pw), dtype=x.dtype)
    cols = np.empty((1, groups * kg, ho * wo), dtype=x.dtype)
    for n in range(x.shape[0]):
        _im2col(x[n : n + 1], kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, plane, cols)
        for g in range(groups):
            _product(gemm, w3[g], cols[0, g * kg : (g + 1) * kg], y[n, g * og : (g + 1) * og])
        for o in range(groups * og):
            row = y[n, o]
            for t in range(ho * wo):
                row[t] += bias[o]


@with_twin(twins.gemm_grad_weight_chunk)
@njit(cache=True, nogil=True)
def _gemm_grad_weight_chunk(gemm, gy, x, og, kh, kw, sh, sw, ph, pw, dh, dw, dw3):
    # dw3 (groups, Og, Kg) = the sum over the samples of gy (m, O, ho*wo) of gy @ cols^T per group.
    groups, kg = dw3.shape[0], dw3.shape[2]
    h, w = x.shape[2], x.shape[3]
    p = gy.shape[2]
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    plane = np.empty((h + 2 * ph) * (w + 2 * pw), dtype=x.dtype)
    cols = np.empty((1, groups * kg, p), dtype=x.dtype)
    gyt = np.empty((p, og), dtype=x.dtype)
    product = np.empty((kg, og), dtype=x.dtype)
    for n in range(gy.shape[0]):
        _im2col(x[n : n + 1], kh, kw, sh, sw, ph, pw, dh, dw, ho, p // ho, plane, cols)
        for g in range(groups):
            _weight_product(gemm, gy[n, g * og : (g + 1) * og], cols[0, g * kg : (g + 1) * kg], n == 0, gyt, product,
                            dw3[g])


@with_twin(twins.gemm_grad_input_chunk)
@njit(cache=True, nogil=True)
def _gemm_grad_input_chunk(gemm, gy, w3t, kh, kw, sh, sw, ph, pw, dh, dw, dx):
    # dx (m, C, H, W) for the samples of gy (m, O, ho*wo): the columns' gradient per group, summed
    # back into dx.
    groups, kg, og = w3t.shape
    h, w = dx.shape[2], dx.shape[3]
    p = gy.shape[2]
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    plane = np.empty((h + 2 * ph) * (w + 2 * pw), dtype=dx.dtype)
    cols = np.empty((1, groups * kg, p), dtype=dx.dtype)
    for n in range(gy.shape[0]):
        for g in range(groups):
            _product(gemm, w3t[g], gy[n, g * og : (g + 1) * og], cols[0, g * kg : (g + 1) * kg])
        _col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, ho, p // ho, plane, dx[n : n + 1])


# The direct kernels see each padded plane as one flat row of length hp*wp (wp a multiple of sw):
# output (oh, ow) of tap (i, j) reads flat index i*dh*wp + j*dw + sw*(oh*wg + ow) with
# wg = sh*wp/sw, so one tap of one channel is a single long strided axpy over t = oh*wg + ow
# (columns ow >= wo are computed and dropped) instead of ho short ones.


@njit(cache=True, nogil=True)
def _pad_batch(x, ph, pw, xp):
    h, w = x.shape[2], x.shape[3]
    wp = xp.shape[2] // (h + 2 * ph)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            _pad_plane(x[n, c].reshape(h * w), h, w, ph, pw, wp, 0.0, xp[n, c])


@njit(cache=True, nogil=True)
def _direct_forward(xp, w, bias, groups, sh, sw, dh, dw, wg, wp, y):
    o_, cg, kh, kw = w.shape
    og = o_ // groups
    ho, wo = y.shape[2], y.shape[3]
    acc = np.empty((ho - 1) * wg + wo, dtype=y.dtype)
    for n in range(xp.shape[0]):
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


@njit(cache=True, nogil=True)
def _direct_grad_input(gy, w, groups, sh, sw, ph, pw, dh, dw, wg, wp, dx):
    n_, c_, h, w_ = dx.shape
    o_, cg, kh, kw = w.shape
    og = o_ // groups
    ho, wo = gy.shape[2], gy.shape[3]
    dxp = np.empty((c_, (h + 2 * ph) * wp), dtype=dx.dtype)
    grid = np.zeros((ho - 1) * wg + wo, dtype=dx.dtype)  # gy[n, o] on the (ho, wg) grid, 0 elsewhere
    for n in range(n_):
        dxp[:] = 0
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


@njit(cache=True, nogil=True)
def _direct_grad_weight(xp, gy, groups, o_first, sh, sw, dh, dw, wg, wp, dwt):
    # dwt: the gradient of output channels o_first.. (callers split over output channels, each
    # chunk owning its rows). Sums are kept per grid position (acc[r, t]) so the inner loop
    # vectorizes without reassociating a float reduction, then reduced in a fixed order.
    cg, kh, kw = dwt.shape[1], dwt.shape[2], dwt.shape[3]
    og = gy.shape[1] // groups
    ho, wo = gy.shape[2], gy.shape[3]
    length = (ho - 1) * wg + wo
    out = dwt.reshape(dwt.shape[0], cg * kh * kw)
    acc = np.empty((cg * kh * kw, length), dtype=dwt.dtype)
    grid = np.zeros(length, dtype=dwt.dtype)
    for local in range(dwt.shape[0]):
        o = o_first + local
        c0 = (o // og) * cg
        acc[:] = 0
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
            out[local, r] = total


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
    for_each_chunk(s.n, even_chunk(s.n), lambda i, j: _pad_batch(x[i:j], s.win.ph, s.win.pw, xp[i:j]))
    return xp


def _uses_direct(s: Conv2dShape) -> bool:
    """Grouped convs with short group reductions (depthwise): one tiny GEMM per group and sample
    would cost more in calls than in arithmetic. With one group, per-sample GEMMs win even for a
    reduction of 9 (measured ~4x on the 1-channel MNIST layer)."""
    return s.groups >= _DIRECT_MIN_GROUPS and s.k_group <= _DIRECT_MAX_K


def _uses_winograd(s: Conv2dShape, dtype: np.dtype) -> bool:
    """3x3, stride 1, dilation 1, one group, padding <= 2 (the input gradient is a forward pass
    padded by 2 - padding), and enough channels for its GEMMs; only where the GEMM strategy has no
    BLAS: im2col + OpenBLAS's GEMM ran 1.3-2x faster than Winograd on the MNIST CNNs' 32->64 convs
    (26x26 and 13x13 inputs), every pass, at 1 and 2 threads (AVX2), with Numba's or BLAS's GEMMs."""
    win = s.win
    return (
        _WINOGRAD_MIN_C is not None
        and _blas_gemm(dtype) is None
        and s.c >= _WINOGRAD_MIN_C
        and s.groups == 1
        and (win.kh, win.kw, win.sh, win.sw, win.dh, win.dw) == (3, 3, 1, 1, 1, 1)
        and max(win.ph, win.pw) <= 2
    )


def _blas_gemm(dtype: np.dtype) -> int | None:
    """The address of NumPy's BLAS GEMM for the GEMM strategy's kernels, None for Numba's `_matmul`."""
    return (gemm_address(np.dtype(dtype)) if _BLAS else 0) or None


def _chunk_samples(s: Conv2dShape) -> int:
    return even_chunk(s.n)


def _gemm_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, s: Conv2dShape) -> np.ndarray:
    win = s.win
    w3 = np.ascontiguousarray(w.reshape(s.groups, s.o_group, s.k_group))
    bias = np.zeros(s.o, dtype=x.dtype) if b is None else np.ascontiguousarray(b)
    y = np.empty((s.n, s.o, s.ho * s.wo), dtype=x.dtype)
    args = (win.kh, win.kw, win.sh, win.sw, win.ph, win.pw, win.dh, win.dw, s.ho, s.wo)
    gemm = _blas_gemm(x.dtype)
    for_each_chunk(s.n, _chunk_samples(s), lambda i, j: _gemm_forward_chunk(gemm, x[i:j], w3, bias, *args, y[i:j]))
    return y.reshape(s.n, s.o, s.ho, s.wo)


def _gemm_backward(
    gy: np.ndarray, x: np.ndarray, w: np.ndarray, s: Conv2dShape, need_dx: bool, need_dw: bool
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Input and weight gradients, each in its own kernel: a run compiles only those it needs
    (the first layer of a network needs no input gradient)."""
    win = s.win
    gy3 = gy.reshape(s.n, s.o, s.ho * s.wo)
    chunk = _chunk_samples(s)
    args = (win.kh, win.kw, win.sh, win.sw, win.ph, win.pw, win.dh, win.dw)
    dx = dw = None
    gemm = _blas_gemm(x.dtype)
    if need_dx:
        w3t = np.ascontiguousarray(w.reshape(s.groups, s.o_group, s.k_group).transpose(0, 2, 1))
        dx = np.empty_like(x)
        for_each_chunk(s.n, chunk, lambda i, j: _gemm_grad_input_chunk(gemm, gy3[i:j], w3t, *args, dx[i:j]))
    if need_dw:
        partials = np.empty((-(-s.n // chunk), s.groups, s.o_group, s.k_group), dtype=x.dtype)
        for_each_chunk(
            s.n, chunk, lambda i, j: _gemm_grad_weight_chunk(gemm, gy3[i:j], x[i:j], s.o_group, *args, partials[i // chunk])
        )
        dw = partials.sum(axis=0).reshape(w.shape)  # chunks in order: deterministic
    return dx, dw


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
    return _forward(x, weight, bias, stride, padding, dilation, groups, False)[0]


def conv2d_forward_keeping(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> tuple[np.ndarray, object]:
    """`conv2d_forward`, plus what the weight gradient can reuse (`conv2d_backward`'s `kept`):
    Winograd's transformed input, or None. For a training step that will need the weight gradient."""
    return _forward(x, weight, bias, stride, padding, dilation, groups, True)


def _forward(x, weight, bias, stride, padding, dilation, groups, keep):  # noqa: ANN001, ANN202
    s = conv2d_shape(x, weight, bias, stride, padding, dilation, groups)
    x = np.ascontiguousarray(x)
    weight = np.ascontiguousarray(weight)
    if _uses_direct(s):
        win, pad = s.win, _padding(s)
        y = np.empty((s.n, s.o, s.ho, s.wo), dtype=x.dtype)
        b = np.zeros(s.o, dtype=x.dtype) if bias is None else np.ascontiguousarray(bias)
        xp = _padded_input(x, s)
        args = (s.groups, win.sh, win.sw, win.dh, win.dw, pad.wg, pad.wp)
        for_each_chunk(s.n, even_chunk(s.n), lambda i, j: _direct_forward(xp[i:j], weight, b, *args, y[i:j]))
        return y, None
    if _uses_winograd(s, x.dtype):
        return winograd_forward(x, weight, bias, s.win.ph, s.win.pw, keep_tiles=keep)
    return _gemm_forward(x, weight, bias, s), None


def conv2d_backward(
    grad_output: np.ndarray,
    x: np.ndarray,
    weight: np.ndarray,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
    needs: tuple[bool, bool, bool] = (True, True, True),
    kept: object = None,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Gradients of `conv2d_forward` for the given output gradient.

    Returns (grad_input, grad_weight, grad_bias); an entry is None where `needs` (same order)
    says it is not wanted. `kept`: what `conv2d_forward_keeping` returned for this x and weight.
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
            args = (s.groups, win.sh, win.sw, win.ph, win.pw, win.dh, win.dw, pad.wg, pad.wp)
            for_each_chunk(s.n, even_chunk(s.n), lambda i, j: _direct_grad_input(gy[i:j], weight, *args, dx[i:j]))
        if need_dw:
            dw = np.empty_like(weight)
            xp = _padded_input(x, s)
            args = (win.sh, win.sw, win.dh, win.dw, pad.wg, pad.wp)
            for_each_chunk(s.o, even_chunk(s.o), lambda i, j: _direct_grad_weight(xp, gy, s.groups, i, *args, dw[i:j]))
    elif _uses_winograd(s, x.dtype):
        dx = winograd_grad_input(gy, weight, s.win.ph, s.win.pw) if need_dx else None
        dw = winograd_grad_weight(gy, x, s.win.ph, s.win.pw, kept) if need_dw else None
    elif need_dx or need_dw:
        dx, dw = _gemm_backward(gy, x, weight, s, need_dx, need_dw)
    db = gy.reshape(s.n, s.o, -1).sum(axis=0).sum(axis=1) if need_db else None  # 2x faster than one sum
    return dx, dw, db
