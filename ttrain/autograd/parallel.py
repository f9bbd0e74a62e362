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
    """a @ b, into `out` if given, split when large and a splitter is installed: over the rows of a
    when b is a matrix (a of any rank), over the batch when both are stacks of matrices of the same
    batch shape (attention's per-head products). Other shapes run as one `np.matmul`."""
    split = _split
    if split is None or a.ndim < 2 or b.ndim < 2 or a.shape[:-2] != b.shape[:-2] and b.ndim != 2:
        return np.matmul(a, b, out=out)
    rows = int(np.prod(a.shape[:-1])) if b.ndim == 2 else int(np.prod(a.shape[:-2]))
    if a.size * b.shape[-1] < _MIN_PRODUCT or rows < 2:  # multiply-adds
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty(a.shape[:-1] + b.shape[-1:], dtype=np.result_type(a, b))
    if b.ndim == 2:  # (..., M, K) @ (K, N): the rows of every matrix of a, as one (rows, K) matrix
        a2, o2 = a.reshape(rows, a.shape[-1]), out.reshape(rows, b.shape[-1])  # views when contiguous
        if not np.shares_memory(o2, out):
            return np.matmul(a, b, out=out)
        split(rows, lambda i, j: np.matmul(a2[i:j], b, out=o2[i:j]))
    else:
        a3, b3 = a.reshape(rows, *a.shape[-2:]), b.reshape(rows, *b.shape[-2:])
        o3 = out.reshape(rows, *out.shape[-2:])
        if not np.shares_memory(o3, out):
            return np.matmul(a, b, out=out)
        split(rows, lambda i, j: np.matmul(a3[i:j], b3[i:j], out=o3[i:j]))
    return out


def splits(rows: int, elements: int) -> bool:
    """Whether `over_rows(rows, elements, task)` cuts the work (else it is one call, task(0, rows)):
    callers with work that small call their kernel directly, without building `task`."""
    return _split is not None and elements >= _MIN_ELEMENTS and rows >= 2


def over_rows(rows: int, elements: int, task: Callable[[int, int], None]) -> None:
    """task(start, stop) over shares of range(rows) when `elements` (the work) is large and a
    splitter is installed, else task(0, rows): for row-wise NumPy passes (softmax rows) whose
    ufuncs release the GIL. Each row is computed by one call whatever the split."""
    split = _split
    if split is None or elements < _MIN_ELEMENTS or rows < 2:
        task(0, rows)
    else:
        split(rows, task)


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
