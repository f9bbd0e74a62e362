"""Plain NumPy reference for the conv2d kernels: one strided slice per kernel tap, summed.

Written for obviousness, not speed; the tests hold `conv.py` to it. Computes in float64 and
returns the input's dtype.
"""

from __future__ import annotations

import numpy as np

from ttrain.autograd.window_geometry import Conv2dShape, IntPair, conv2d_shape


def _tap(s: Conv2dShape, i: int, j: int) -> tuple[slice, slice]:
    """Rows and columns of the padded input that kernel tap (i, j) reads, one per output position."""
    win = s.win
    rows = slice(i * win.dh, i * win.dh + win.sh * (s.ho - 1) + 1, win.sh)
    cols = slice(j * win.dw, j * win.dw + win.sw * (s.wo - 1) + 1, win.sw)
    return rows, cols


def _pad(x: np.ndarray, s: Conv2dShape) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (s.win.ph, s.win.ph), (s.win.pw, s.win.pw)))


def conv2d_forward(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> np.ndarray:
    """Reference for `conv.conv2d_forward`."""
    s = conv2d_shape(x, weight, bias, stride, padding, dilation, groups)
    xp = _pad(x.astype(np.float64), s)
    w = weight.astype(np.float64)
    y = np.zeros((s.n, s.o, s.ho, s.wo))
    for g in range(s.groups):
        ci = slice(g * s.c_group, (g + 1) * s.c_group)
        oi = slice(g * s.o_group, (g + 1) * s.o_group)
        for i in range(s.win.kh):
            for j in range(s.win.kw):
                rows, cols = _tap(s, i, j)
                y[:, oi] += np.einsum("nchw,oc->nohw", xp[:, ci, rows, cols], w[oi, :, i, j])
    if bias is not None:
        y += bias.astype(np.float64)[:, None, None]
    return y.astype(x.dtype)


def conv2d_backward(
    grad_output: np.ndarray,
    x: np.ndarray,
    weight: np.ndarray,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference for `conv.conv2d_backward`: (grad_input, grad_weight, grad_bias)."""
    s = conv2d_shape(x, weight, None, stride, padding, dilation, groups)
    xp = _pad(x.astype(np.float64), s)
    w = weight.astype(np.float64)
    gy = grad_output.astype(np.float64)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for g in range(s.groups):
        ci = slice(g * s.c_group, (g + 1) * s.c_group)
        oi = slice(g * s.o_group, (g + 1) * s.o_group)
        for i in range(s.win.kh):
            for j in range(s.win.kw):
                rows, cols = _tap(s, i, j)
                dw[oi, :, i, j] = np.einsum("nohw,nchw->oc", gy[:, oi], xp[:, ci, rows, cols])
                dxp[:, ci, rows, cols] += np.einsum("nohw,oc->nchw", gy[:, oi], w[oi, :, i, j])
    dx = dxp[:, :, s.win.ph : s.win.ph + s.h, s.win.pw : s.win.pw + s.w]
    return dx.astype(x.dtype), dw.astype(x.dtype), gy.sum(axis=(0, 2, 3)).astype(x.dtype)
