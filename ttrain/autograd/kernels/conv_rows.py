"""Loops shared by the convolution and pooling kernels: row copies and sums (inlined) and a GEMM.

The kernels work on padded planes seen as flat 1-D rows, so no inner loop tests bounds. Two
things make these loops vectorize (measured ~5x on im2col here): offsets are unsigned
(np.uint64), so Numba emits no negative-index wraparound check, and the helpers are inlined at
Numba IR level (inline="always": LLVM does not inline across separately compiled Numba functions).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ttrain.autograd import compilation

compilation.watch()  # before any kernel of this module compiles


@njit(cache=True, inline="always")
def _gather(dst, d0, src, s0, step, count):
    """dst[d0 + t] = src[s0 + t * step] for t < count."""
    d0, s0 = np.uint64(d0), np.uint64(s0)
    if step == 1:
        for t in range(np.uint64(count)):
            dst[d0 + t] = src[s0 + t]
    else:
        stride = np.uint64(step)
        for t in range(np.uint64(count)):
            dst[d0 + t] = src[s0 + t * stride]


@njit(cache=True, inline="always")
def _gather_add(dst, d0, scale, src, s0, step, count):
    """dst[d0 + t] += scale * src[s0 + t * step] for t < count."""
    d0, s0 = np.uint64(d0), np.uint64(s0)
    if step == 1:
        for t in range(np.uint64(count)):
            dst[d0 + t] += scale * src[s0 + t]
    else:
        stride = np.uint64(step)
        for t in range(np.uint64(count)):
            dst[d0 + t] += scale * src[s0 + t * stride]


@njit(cache=True, inline="always")
def _scatter_add(dst, d0, step, scale, src, s0, count):
    """dst[d0 + t * step] += scale * src[s0 + t] for t < count."""
    d0, s0 = np.uint64(d0), np.uint64(s0)
    if step == 1:
        for t in range(np.uint64(count)):
            dst[d0 + t] += scale * src[s0 + t]
    else:
        stride = np.uint64(step)
        for t in range(np.uint64(count)):
            dst[d0 + t * stride] += scale * src[s0 + t]


@njit(cache=True, inline="always")
def _mul_add_gather(acc, a, src, s0, step):
    """acc[t] += a[t] * src[s0 + t * step] for every t of acc."""
    s0 = np.uint64(s0)
    if step == 1:
        for t in range(np.uint64(acc.size)):
            acc[t] += a[t] * src[s0 + t]
    else:
        stride = np.uint64(step)
        for t in range(np.uint64(acc.size)):
            acc[t] += a[t] * src[s0 + t * stride]


@njit(cache=True, inline="always")
def _pad_plane(src, h, w, ph, pw, wp, fill, dst):
    """dst (a flat plane wp wide) = the flat h x w plane `src` placed at (ph, pw), `fill` elsewhere."""
    dst[:] = fill
    for i in range(h):
        _gather(dst, (ph + i) * wp + pw, src, i * w, 1, w)


@njit(cache=True, inline="always")
def _crop_plane(src, ph, pw, wp, h, w, dst):
    """dst (a flat h x w plane) = the h x w window at (ph, pw) of `src`, a flat plane wp wide."""
    for i in range(h):
        _gather(dst, i * w, src, (ph + i) * wp + pw, 1, w)


@njit(cache=True)
def _matmul(u, v, out):
    # out = u @ v, (O, K) @ (K, T), all C-contiguous, in blocks of 4 rows x 4 reduction steps so
    # that each pass over a row of out does 16 multiply-adds per element loaded (~70 GFLOP/s on
    # one core here, 80% of OpenBLAS on the conv shapes). The remainders of O and K run one at a
    # time. Kernels call this on their own thread; BLAS's threads would spin beside them.
    o_, k_ = u.shape
    t_ = v.shape[1]
    kb = k_ - k_ % 4
    for o in range(0, o_ - o_ % 4, 4):
        r0, r1, r2, r3 = out[o], out[o + 1], out[o + 2], out[o + 3]
        r0[:] = 0
        r1[:] = 0
        r2[:] = 0
        r3[:] = 0
        for k in range(0, kb, 4):
            v0, v1, v2, v3 = v[k], v[k + 1], v[k + 2], v[k + 3]
            a0, a1, a2, a3 = u[o, k], u[o, k + 1], u[o, k + 2], u[o, k + 3]
            b0, b1, b2, b3 = u[o + 1, k], u[o + 1, k + 1], u[o + 1, k + 2], u[o + 1, k + 3]
            c0, c1, c2, c3 = u[o + 2, k], u[o + 2, k + 1], u[o + 2, k + 2], u[o + 2, k + 3]
            d0, d1, d2, d3 = u[o + 3, k], u[o + 3, k + 1], u[o + 3, k + 2], u[o + 3, k + 3]
            for t in range(t_):
                x0, x1, x2, x3 = v0[t], v1[t], v2[t], v3[t]
                r0[t] += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3
                r1[t] += b0 * x0 + b1 * x1 + b2 * x2 + b3 * x3
                r2[t] += c0 * x0 + c1 * x1 + c2 * x2 + c3 * x3
                r3[t] += d0 * x0 + d1 * x1 + d2 * x2 + d3 * x3
        for k in range(kb, k_):
            vk = v[k]
            a0, a1, a2, a3 = u[o, k], u[o + 1, k], u[o + 2, k], u[o + 3, k]
            for t in range(t_):
                r0[t] += a0 * vk[t]
                r1[t] += a1 * vk[t]
                r2[t] += a2 * vk[t]
                r3[t] += a3 * vk[t]
    for o in range(o_ - o_ % 4, o_):
        r = out[o]
        r[:] = 0
        for k in range(k_):
            a, vk = u[o, k], v[k]
            for t in range(t_):
                r[t] += a * vk[t]
