"""2-D max and average pooling kernels (forward and backward), float32 and float64, NCHW.

Each kernel runs over chunks of the N*C planes in parallel (`conv_threads.for_each_chunk`); a
plane's output and gradient are written by one chunk only, so results are the same bits on
every call. Semantics follow
`torch.nn.functional.max_pool2d` / `avg_pool2d` (floor mode): max pooling returns PyTorch's
indices (flat positions in the H*W input plane; a NaN wins its window) and avg pooling divides by
the full window size (count_include_pad=True) or by the number of real inputs.
References: `pool_reference.py`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ttrain.autograd.window_geometry import (
    IntPair,
    Window2d,
    check_float_array,
    pool2d_window,
)
from ttrain.autograd.kernels.conv_rows import (
    _crop_plane,
    _gather_add,
    _pad_plane,
    _scatter_add,
)
from ttrain.autograd.kernels import twins
from ttrain.autograd.kernels.cold_start import Kernel, with_twin
from ttrain.autograd.kernels.conv_threads import even_chunk, for_each_chunk
from ttrain.autograd.ops.errors import ShapeError


@njit(cache=True)
def _first_inside(size, stride, padding, dilation, out):
    """Per output position o along one axis: the input index of its first tap inside the input."""
    first = np.empty(out, dtype=np.int64)
    for o in range(out):
        start = o * stride - padding
        first[o] = start if start >= 0 else start + ((-start + dilation - 1) // dilation) * dilation
    return first


@njit(cache=True, nogil=True)
def _max_forward(x, h, w, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, lowest, y, idx):
    # x: (planes, h*w) flat planes; y, idx: (planes, ho*wo); lowest: -inf of x's dtype.
    # One output at a time with branch-free selects: measured 3x faster than branching on
    # random data, and than vectorizing across outputs (window rows are too short).
    wp = w + 2 * pw
    first_h = _first_inside(h, sh, ph, dh, ho)
    first_w = _first_inside(w, sw, pw, dw, wo)
    padded = np.empty((h + 2 * ph) * wp, dtype=x.dtype)
    for q in range(x.shape[0]):
        src = x[q]
        if ph or pw:
            _pad_plane(x[q], h, w, ph, pw, wp, lowest, padded)
            src = padded
        for oh in range(ho):
            for ow in range(wo):
                best = lowest
                at = -1
                for i in range(kh):
                    r = oh * sh + i * dh  # padded row and column
                    for j in range(kw):
                        c = ow * sw + j * dw
                        v = src[np.uint64(r * wp + c)]
                        take = (v > best) | np.isnan(v)  # the first maximum, or a NaN: as PyTorch
                        best = v if take else best
                        at = (r - ph) * w + c - pw if take else at
                if at < 0:  # a window of -inf only: its first input element, as PyTorch
                    at = first_h[oh] * w + first_w[ow]
                y[q, oh * wo + ow] = best
                idx[q, oh * wo + ow] = at


@njit(cache=True, nogil=True)
def _max_forward_2x2(x, w, ho, wo, y, idx):
    # The common 2x2, stride 2, unpadded window, unrolled, in two passes over each output row: the
    # maxima (same order of taps and NaN rule as `_max_forward`), then each one's position, the
    # first tap equal to it. One pass selecting value and position together ran 3x slower (LLVM
    # made branches of the selects, mispredicted on ReLU outputs). A window's running maximum
    # only grows, so its first tap equal to the final maximum is the one `_max_forward` keeps. A
    # NaN maximum equals nothing: a row holding one takes its windows' last NaN in a third pass.
    one = np.uint64(1)
    for q in range(x.shape[0]):
        src, out, at = x[q], y[q], idx[q]
        for oh in range(ho):
            r0 = np.uint64(2 * oh * w)
            r1 = r0 + np.uint64(w)
            o = np.uint64(oh * wo)
            nan = False
            for ow in range(np.uint64(wo)):
                c = ow + ow
                best = src[r0 + c]
                v = src[r0 + c + one]
                best = v if (v > best) | (v != v) else best
                v = src[r1 + c]
                best = v if (v > best) | (v != v) else best
                v = src[r1 + c + one]
                best = v if (v > best) | (v != v) else best
                out[o + ow] = best
                nan |= best != best
            for ow in range(np.uint64(wo)):
                c = ow + ow
                best = out[o + ow]
                k = r1 + c + one
                k = r1 + c if src[r1 + c] == best else k
                k = r0 + c + one if src[r0 + c + one] == best else k
                k = r0 + c if src[r0 + c] == best else k
                at[o + ow] = np.int64(k)
            if nan:
                for ow in range(np.uint64(wo)):
                    c = ow + ow
                    if out[o + ow] != out[o + ow]:
                        k = r0 + c
                        for tap in (r0 + c + one, r1 + c, r1 + c + one):
                            k = tap if src[tap] != src[tap] else k
                        at[o + ow] = np.int64(k)


# Python's calls (conv_fused's kernel calls the dispatcher itself).
_max_forward_2x2_call = Kernel(_max_forward_2x2, twins.max_forward_2x2)


@with_twin(twins.max_backward)
@njit(cache=True, nogil=True)
def _max_backward(gy, idx, dx):
    for q in range(gy.shape[0]):
        dq, gq, iq = dx[q], gy[q], idx[q]
        dq[:] = 0
        for t in range(gq.size):
            dq[iq[t]] += gq[t]


@njit(cache=True, nogil=True)
def _avg_forward(x, h, w, kh, kw, sh, sw, ph, pw, ho, wo, divisor, y):
    # x: (planes, h*w); y: (planes, ho*wo); divisor: (ho*wo,) window sizes.
    wp = w + 2 * pw
    padded = np.empty((h + 2 * ph) * wp, dtype=x.dtype)
    for q in range(x.shape[0]):
        src = x[q]
        if ph or pw:
            _pad_plane(x[q], h, w, ph, pw, wp, 0.0, padded)
            src = padded
        out = y[q]
        out[:] = 0
        for oh in range(ho):
            for i in range(kh):
                for j in range(kw):
                    _gather_add(out, oh * wo, 1.0, src, (oh * sh + i) * wp + j, sw, wo)
        for t in range(ho * wo):
            out[t] /= divisor[t]


@njit(cache=True, nogil=True)
def _avg_backward(gy, h, w, kh, kw, sh, sw, ph, pw, ho, wo, divisor, dx):
    wp = w + 2 * pw
    padded = np.empty((h + 2 * ph) * wp, dtype=dx.dtype)
    share = np.empty(ho * wo, dtype=dx.dtype)
    for q in range(gy.shape[0]):
        for t in range(ho * wo):
            share[t] = gy[q, t] / divisor[t]
        padded[:] = 0
        for oh in range(ho):
            for i in range(kh):
                for j in range(kw):
                    _scatter_add(padded, (oh * sh + i) * wp + j, sw, 1.0, share, oh * wo, wo)
        _crop_plane(padded, ph, pw, wp, h, w, dx[q])


def _avg_divisor(h: int, w: int, win: Window2d, ho: int, wo: int, count_include_pad: bool) -> np.ndarray:
    """Each output's divisor, flat (ho*wo,): the window size, or the number of real inputs in it."""
    if count_include_pad:
        return np.full(ho * wo, win.kh * win.kw, dtype=np.int64)

    def inside(size: int, kernel: int, stride: int, padding: int, out: int) -> np.ndarray:
        start = np.arange(out) * stride - padding
        return np.minimum(start + kernel, size) - np.maximum(start, 0)

    rows = inside(h, win.kh, win.sh, win.ph, ho)
    cols = inside(w, win.kw, win.sw, win.pw, wo)
    return np.outer(rows, cols).reshape(-1)


def _planes(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) as a contiguous stack of N*C flat planes."""
    return np.ascontiguousarray(x).reshape(x.shape[0] * x.shape[1], x.shape[2] * x.shape[3])


def _check_grad(op: str, grad_output: np.ndarray, input_shape: tuple[int, ...], out_hw: tuple[int, int]) -> None:
    check_float_array(op, "grad_output", grad_output, 4)
    expected = (*input_shape[:2], *out_hw)
    if grad_output.shape != expected:
        raise ShapeError(
            f"{op}: grad_output {grad_output.shape} does not match the output shape {expected} "
            f"of input {tuple(input_shape)}"
        )


def max_pool2d_forward(
    x: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling as `torch.nn.functional.max_pool2d(..., return_indices=True)`, on arrays.

    x (N, C, H, W) float32/float64; stride defaults to the kernel size; padding (implicit -inf)
    at most half the kernel. Returns (y, indices): indices (int64, y's shape) are flat positions
    in each H*W input plane, the argument `max_pool2d_backward` needs.
    """
    check_float_array("max_pool2d", "input", x, 4)
    win, ho, wo = pool2d_window("max_pool2d", x.shape, kernel_size, stride, padding, dilation)
    n, c, h, w = x.shape
    y = np.empty((n * c, ho * wo), dtype=x.dtype)
    idx = np.empty((n * c, ho * wo), dtype=np.int64)
    lowest = np.array(-np.inf, dtype=x.dtype)[()]
    planes = _planes(x)
    if tuple(win) == (2, 2, 2, 2, 0, 0, 1, 1):
        task = lambda i, j: _max_forward_2x2_call(planes[i:j], w, ho, wo, y[i:j], idx[i:j])  # noqa: E731
    else:
        task = lambda i, j: _max_forward(planes[i:j], h, w, *win, ho, wo, lowest, y[i:j], idx[i:j])  # noqa: E731
    for_each_chunk(n * c, even_chunk(n * c), task)
    return y.reshape(n, c, ho, wo), idx.reshape(n, c, ho, wo)


def max_pool2d_backward(
    grad_output: np.ndarray, indices: np.ndarray, input_shape: tuple[int, int, int, int]
) -> np.ndarray:
    """Gradient of `max_pool2d_forward` w.r.t. its input: each output's gradient goes to its argmax."""
    _check_grad("max_pool2d backward", grad_output, input_shape, grad_output.shape[2:])
    if not isinstance(indices, np.ndarray) or indices.shape != grad_output.shape:
        raise ShapeError(
            f"max_pool2d backward: indices {getattr(indices, 'shape', None)} do not match "
            f"grad_output {grad_output.shape}"
        )
    n, c, h, w = input_shape
    dx = np.empty((n * c, h * w), dtype=grad_output.dtype)
    gy, at = _planes(grad_output), _planes(indices.astype(np.int64, copy=False))
    for_each_chunk(n * c, even_chunk(n * c), lambda i, j: _max_backward(gy[i:j], at[i:j], dx[i:j]))
    return dx.reshape(input_shape)


def avg_pool2d_forward(
    x: np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    count_include_pad: bool = True,
) -> np.ndarray:
    """Average pooling as `torch.nn.functional.avg_pool2d`, on arrays (floor mode).

    With count_include_pad (PyTorch's default) every window is divided by kh*kw, padding zeros
    included; without it, by the number of real input elements it covers.
    """
    check_float_array("avg_pool2d", "input", x, 4)
    win, ho, wo = pool2d_window("avg_pool2d", x.shape, kernel_size, stride, padding)
    n, c, h, w = x.shape
    y = np.empty((n * c, ho * wo), dtype=x.dtype)
    divisor = _avg_divisor(h, w, win, ho, wo, count_include_pad)
    planes = _planes(x)
    args = (h, w, win.kh, win.kw, win.sh, win.sw, win.ph, win.pw, ho, wo, divisor)
    for_each_chunk(n * c, even_chunk(n * c), lambda i, j: _avg_forward(planes[i:j], *args, y[i:j]))
    return y.reshape(n, c, ho, wo)


def avg_pool2d_backward(
    grad_output: np.ndarray,
    input_shape: tuple[int, int, int, int],
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    count_include_pad: bool = True,
) -> np.ndarray:
    """Gradient of `avg_pool2d_forward` w.r.t. its input (of shape `input_shape`)."""
    win, ho, wo = pool2d_window("avg_pool2d backward", input_shape, kernel_size, stride, padding)
    _check_grad("avg_pool2d backward", grad_output, input_shape, (ho, wo))
    n, c, h, w = input_shape
    dx = np.empty((n * c, h * w), dtype=grad_output.dtype)
    divisor = _avg_divisor(h, w, win, ho, wo, count_include_pad)
    gy = _planes(grad_output)
    args = (h, w, win.kh, win.kw, win.sh, win.sw, win.ph, win.pw, ho, wo, divisor)
    for_each_chunk(n * c, even_chunk(n * c), lambda i, j: _avg_backward(gy[i:j], *args, dx[i:j]))
    return dx.reshape(input_shape)
