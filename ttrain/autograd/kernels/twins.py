"""NumPy twins of the CNN kernels: what a first run calls while the kernels compile in the
background (`cold_start`).

A twin takes its kernel's arguments and writes the same bits: the same BLAS GEMM calls on the same
operands (`blas.gemm_call`), copies where the kernel copies (im2col), and float sums in the
kernel's order (col2im adds a plane's taps in the kernel's tap order; the fused backward's bias
gradient accumulates sequentially, as the kernel's loop does). Where a kernel does not call BLAS
(`gemm` None: Numba's own GEMM), its twin raises `NoTwin` and the kernel compiles in the run.
tests/autograd/kernels/test_kernel_twins.py holds each twin to its kernel bit for bit.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ttrain.autograd.kernels.blas import gemm_call
from ttrain.autograd.kernels.cold_start import NoTwin


def _blas(gemm: int | None) -> int:
    if gemm is None:
        raise NoTwin("Numba's own GEMM has no NumPy twin")
    return gemm


def _columns(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int, dh: int, dw: int, ho: int,
             wo: int) -> np.ndarray:
    """`conv._im2col` of one sample x (C, H, W): (C*kh*kw, ho*wo) columns of the zero-padded input."""
    if ph or pw:
        x = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
    c = x.shape[0]
    s0, s1, s2 = x.strides
    taps = as_strided(x, (c, kh, kw, ho, wo), (s0, s1 * dh, s2 * dw, s1 * sh, s2 * sw), writeable=False)
    return taps.reshape(c * kh * kw, ho * wo)


def _add_columns(cols: np.ndarray, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int, dh: int, dw: int, ho: int,
                 wo: int, dx: np.ndarray) -> None:
    """`conv._col2im` of one sample into dx (C, H, W): each tap's columns added to a zeroed padded
    plane, taps in the kernel's order (an element's sum is the same sequence of float adds)."""
    c, h, w = dx.shape
    plane = np.zeros((c, h + 2 * ph, w + 2 * pw), dtype=dx.dtype)
    taps = cols.reshape(c, kh, kw, ho, wo)
    for i in range(kh):
        for j in range(kw):
            plane[:, i * dh : i * dh + (ho - 1) * sh + 1 : sh, j * dw : j * dw + (wo - 1) * sw + 1 : sw] += taps[:, i, j]
    dx[:] = plane[:, ph : ph + h, pw : pw + w]


def gemm_forward_chunk(gemm, x, w3, bias, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, y):  # noqa: ANN001, ANN201
    """Twin of `conv._gemm_forward_chunk`."""
    gemm = _blas(gemm)
    groups, og, kg = w3.shape
    geometry = (kh, kw, sh, sw, ph, pw, dh, dw, ho, wo)
    for n in range(x.shape[0]):
        cols = _columns(x[n], *geometry)
        for g in range(groups):
            gemm_call(gemm, w3[g], False, cols[g * kg : (g + 1) * kg], False, 0.0, y[n, g * og : (g + 1) * og])
        y[n] += bias[:, None]


def gemm_grad_weight_chunk(gemm, gy, x, og, kh, kw, sh, sw, ph, pw, dh, dw, dw3):  # noqa: ANN001, ANN201
    """Twin of `conv._gemm_grad_weight_chunk`."""
    gemm = _blas(gemm)
    groups, kg = dw3.shape[0], dw3.shape[2]
    h, p = x.shape[2], gy.shape[2]
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    for n in range(gy.shape[0]):
        cols = _columns(x[n], kh, kw, sh, sw, ph, pw, dh, dw, ho, p // ho)
        for g in range(groups):
            gemm_call(gemm, gy[n, g * og : (g + 1) * og], False, cols[g * kg : (g + 1) * kg], True, 1.0 if n else 0.0,
                      dw3[g])


def gemm_grad_input_chunk(gemm, gy, w3t, kh, kw, sh, sw, ph, pw, dh, dw, dx):  # noqa: ANN001, ANN201
    """Twin of `conv._gemm_grad_input_chunk`."""
    gemm = _blas(gemm)
    groups, kg, og = w3t.shape
    h, p = dx.shape[2], gy.shape[2]
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    cols = np.empty((groups * kg, p), dtype=dx.dtype)
    for n in range(gy.shape[0]):
        for g in range(groups):
            gemm_call(gemm, w3t[g], False, gy[n, g * og : (g + 1) * og], False, 0.0, cols[g * kg : (g + 1) * kg])
        _add_columns(cols, kh, kw, sh, sw, ph, pw, dh, dw, ho, p // ho, dx[n])


def max_forward_2x2(x, w, ho, wo, y, idx):  # noqa: ANN001, ANN201
    """Twin of `pool._max_forward_2x2`: the same maximum rule, tap order and positions."""
    q = x.shape[0]
    planes = x.reshape(q, -1, w)[:, : 2 * ho, : 2 * wo]
    taps = (planes[:, 0::2, 0::2], planes[:, 0::2, 1::2], planes[:, 1::2, 0::2], planes[:, 1::2, 1::2])
    corner = (2 * w * np.arange(ho))[:, None] + 2 * np.arange(wo)[None, :]
    positions = (corner, corner + 1, corner + w, corner + w + 1)
    best = taps[0]
    for v in taps[1:]:
        best = np.where((v > best) | (v != v), v, best)
    at = np.broadcast_to(positions[3], best.shape)
    for v, k in zip(taps[2::-1], positions[2::-1]):  # the first tap equal to the maximum
        at = np.where(v == best, k, at)
    nan = best != best
    if nan.any():  # a NaN maximum: the window's last NaN
        last = np.broadcast_to(positions[0], best.shape)
        for v, k in zip(taps[1:], positions[1:]):
            last = np.where(v != v, k, last)
        at = np.where(nan, last, at)
    y[:] = best.reshape(q, ho * wo)
    idx[:] = at.reshape(q, ho * wo)


def max_backward(gy, idx, dx):  # noqa: ANN001, ANN201
    """Twin of `pool._max_backward`: each plane's gradients added at their positions, in order."""
    dx[:] = 0
    np.add.at(dx, (np.arange(gy.shape[0])[:, None], idx), gy)


def fused_forward_chunk(gemm, x, w2, bias, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, y, at):  # noqa: ANN001, ANN201
    """Twin of `conv_fused._forward_chunk`."""
    gemm = _blas(gemm)
    o_ = w2.shape[0]
    zero = x.dtype.type(0)
    out = np.empty((o_, ho * wo), dtype=x.dtype)
    for n in range(x.shape[0]):
        gemm_call(gemm, w2, False, _columns(x[n], kh, kw, sh, sw, ph, pw, dh, dw, ho, wo), False, 0.0, out)
        v = out + bias[:, None]
        relu = np.where((v > zero) | (v != v), v, zero)
        max_forward_2x2(relu, wo, ho // 2, wo // 2, y[n], at[n])
        at[n] = np.where(np.take_along_axis(relu, at[n], axis=1) > zero, at[n], -1)


def fused_backward_chunk(gemm, gy, at, x, w2t, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, need_dx, need_dw, dx, dw2,  # noqa: ANN001, ANN201, E501
                         db):
    """Twin of `conv_fused._backward_chunk`."""
    gemm = _blas(gemm)
    m, o_ = at.shape[0], at.shape[1]
    geometry = (kh, kw, sh, sw, ph, pw, dh, dw, ho, wo)
    passed = at >= 0
    # The bias gradient in the kernel's order: one running sum per channel over the samples, then the
    # windows (a dropped window adds 0, which leaves a sum started at +0 unchanged).
    gathered = np.where(passed, gy, 0).transpose(1, 0, 2).reshape(o_, -1)
    db[:] = np.add.accumulate(np.concatenate([np.zeros((o_, 1), dtype=db.dtype), gathered], axis=1), axis=1)[:, -1]
    grid = np.zeros((o_, ho * wo), dtype=x.dtype)
    cols = np.empty((w2t.shape[0], ho * wo), dtype=x.dtype)
    rows = np.broadcast_to(np.arange(o_)[:, None], at.shape[1:])
    for n in range(m):
        keep = passed[n]
        grid[rows[keep], at[n][keep]] = gy[n][keep]
        if need_dw:
            gemm_call(gemm, grid, False, _columns(x[n], *geometry), True, 1.0 if n else 0.0, dw2)
        if need_dx:
            gemm_call(gemm, w2t, False, grid, False, 0.0, cols)
            _add_columns(cols, *geometry, dx[n])
        grid[rows[keep], at[n][keep]] = 0
