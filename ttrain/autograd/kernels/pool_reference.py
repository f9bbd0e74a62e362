"""Plain NumPy references for the pooling kernels: one strided slice of the padded input per
window tap, combined with np.maximum / np.add. The tests hold `pool.py` to these.
"""

from __future__ import annotations

import numpy as np

from ttrain.autograd.window_geometry import IntPair, Window2d, pool2d_window


def _taps(win: Window2d, ho: int, wo: int):
    """(rows, cols) per kernel tap: the padded-input slices it reads, one position per output."""
    for i in range(win.kh):
        for j in range(win.kw):
            rows = slice(i * win.dh, i * win.dh + win.sh * (ho - 1) + 1, win.sh)
            cols = slice(j * win.dw, j * win.dw + win.sw * (wo - 1) + 1, win.sw)
            yield rows, cols


def _pad(x: np.ndarray, win: Window2d, value: float) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (win.ph, win.ph), (win.pw, win.pw)), constant_values=value)


def max_pool2d_forward(
    x: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Reference for `pool.max_pool2d_forward`: (y, flat argmax indices per input plane)."""
    win, ho, wo = pool2d_window("max_pool2d", x.shape, kernel_size, stride, padding, dilation)
    h, w = x.shape[2:]
    xp = _pad(x, win, -np.inf)
    # Flat input-plane index of every padded position (padding: -1, never chosen over real input).
    where = _pad(np.arange(h * w).reshape(1, 1, h, w), win, -1)
    best = np.full((*x.shape[:2], ho, wo), -np.inf, dtype=x.dtype)
    best_at = np.full(best.shape, -1, dtype=np.int64)
    for rows, cols in _taps(win, ho, wo):
        v = xp[:, :, rows, cols]
        at = np.broadcast_to(where[:, :, rows, cols], v.shape)
        take = (v > best) | np.isnan(v) | ((best_at < 0) & (at >= 0))
        best = np.where(take, v, best)
        best_at = np.where(take, at, best_at)
    return best, best_at


def max_pool2d_backward(
    grad_output: np.ndarray, indices: np.ndarray, input_shape: tuple[int, int, int, int]
) -> np.ndarray:
    """Reference for `pool.max_pool2d_backward`."""
    n, c, h, w = input_shape
    dx = np.zeros((n * c, h * w), dtype=np.float64)
    planes = np.repeat(np.arange(n * c), grad_output.shape[2] * grad_output.shape[3])
    np.add.at(dx, (planes, indices.reshape(-1)), grad_output.reshape(-1))
    return dx.reshape(input_shape).astype(grad_output.dtype)


def _avg_divisor(win: Window2d, h: int, w: int, ho: int, wo: int, count_include_pad: bool) -> np.ndarray:
    if count_include_pad:
        return np.full((ho, wo), float(win.kh * win.kw))
    ones = _pad(np.ones((1, 1, h, w)), win, 0.0)
    return sum(ones[0, 0, rows, cols] for rows, cols in _taps(win, ho, wo))


def avg_pool2d_forward(
    x: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    count_include_pad: bool = True,
) -> np.ndarray:
    """Reference for `pool.avg_pool2d_forward`."""
    win, ho, wo = pool2d_window("avg_pool2d", x.shape, kernel_size, stride, padding)
    xp = _pad(x.astype(np.float64), win, 0.0)
    total = sum(xp[:, :, rows, cols] for rows, cols in _taps(win, ho, wo))
    return (total / _avg_divisor(win, *x.shape[2:], ho, wo, count_include_pad)).astype(x.dtype)


def avg_pool2d_backward(
    grad_output: np.ndarray,
    input_shape: tuple[int, int, int, int],
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    count_include_pad: bool = True,
) -> np.ndarray:
    """Reference for `pool.avg_pool2d_backward`."""
    win, ho, wo = pool2d_window("avg_pool2d", input_shape, kernel_size, stride, padding)
    h, w = input_shape[2:]
    share = grad_output.astype(np.float64) / _avg_divisor(win, h, w, ho, wo, count_include_pad)
    dxp = np.zeros((*input_shape[:2], h + 2 * win.ph, w + 2 * win.pw))
    for rows, cols in _taps(win, ho, wo):
        dxp[:, :, rows, cols] += share
    return dxp[:, :, win.ph : win.ph + h, win.pw : win.pw + w].astype(grad_output.dtype)
