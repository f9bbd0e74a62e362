"""Large matrix products and elementwise passes of the ops, split over the kernel threads when BLAS
has been held to one thread.

BLAS normally parallelises a product itself. Once the convolution kernels' thread pool has run,
BLAS is limited to one thread (its idle threads spin beside the pool:
`ttrain.autograd.kernels.conv_threads`), and a CNN's fully connected layers and activations would
run on one core. The pool then installs its splitter here, and these helpers cut the work into
one contiguous share per thread: NumPy releases the GIL in BLAS calls and ufunc loops, so the
shares run in parallel. Each output element is computed by one call in the same way whatever the
split, and the split depends only on the thread count: results stay deterministic.
This module imports no numba: ops call it on every step.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# Below this many multiply-adds (products) or elements (elementwise), one call on this thread is
# quicker than handing out pieces (~10 us a task).
_MIN_PRODUCT = 1 << 21
_MIN_ELEMENTS = 1 << 18

_split: Callable[[int, Callable[[int, int], None]], None] | None = None


def install(split: Callable[[int, Callable[[int, int], None]], None] | None) -> None:
    """Use `split(n, task)` (calls task(start, stop) over shares of range(n)) for large work; None: never split."""
    global _split
    _split = split


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """a @ b for 2-D a (M, K) and b (K, N), into `out` (M, N) if given; split over the rows of a when
    large and a splitter is installed."""
    split = _split
    if split is None or a.ndim != 2 or b.ndim != 2 or a.shape[0] * a.shape[1] * b.shape[1] < _MIN_PRODUCT:
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
    split(a.shape[0], lambda i, j: np.matmul(a[i:j], b, out=out[i:j]))
    return out


def relu(x: np.ndarray) -> np.ndarray:
    """max(x, 0) elementwise (NaN stays NaN)."""
    split = _split
    if split is None or x.size < _MIN_ELEMENTS or not x.flags.c_contiguous:
        return np.maximum(x, 0)
    out = np.empty_like(x)
    flat_x, flat_out = x.reshape(-1), out.reshape(-1)
    split(x.size, lambda i, j: np.maximum(flat_x[i:j], 0, out=flat_out[i:j]))
    return out


def relu_grad(grad: np.ndarray, out: np.ndarray) -> np.ndarray:
    """grad * (out > 0): ReLU's backward from its output."""
    split = _split
    if (split is None or grad.size < _MIN_ELEMENTS or grad.shape != out.shape
            or not (grad.flags.c_contiguous and out.flags.c_contiguous)):
        return grad * (out > 0)
    result = np.empty(grad.shape, dtype=grad.dtype)
    g, o, r = grad.reshape(-1), out.reshape(-1), result.reshape(-1)
    split(grad.size, lambda i, j: np.multiply(g[i:j], o[i:j] > 0, out=r[i:j]))
    return result
