"""Layer normalisation over the last axis of a (rows, D) array: forward and backward, each one pass
per row, float32 or float64.

NumPy needs about ten passes over the array for either direction (mean, centre, square, mean,
scale, shift; and their backwards) and allocates an array for each; a Transformer normalises
(batch x tokens, d_model) activations several times per step. Statistics accumulate in float64.
Rows are independent, so chunks of rows run in parallel on the kernel threads
(`conv_threads.for_each_chunk`); the weight and bias gradients are summed per chunk, then over
the chunks in order: the same bits for a given thread count.
The NumPy reference is the composite `Normalize` op (ops/normalization.py); tests hold these to it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ttrain.autograd import compilation
from ttrain.autograd.kernels.conv_threads import for_each_chunk

compilation.watch()

_MIN_CHUNK_ROWS = 256  # below ~16k elements a chunk costs more to hand out than it saves


@njit(cache=True, nogil=True, error_model="numpy")
def _forward_rows(x, weight, bias, eps, out, xhat, invstd):
    d = x.shape[1]
    for r in range(x.shape[0]):
        total = 0.0
        for j in range(d):
            total += x[r, j]
        mean = total / d
        sq = 0.0
        for j in range(d):
            c = x[r, j] - mean
            sq += c * c
        inv = 1.0 / np.sqrt(sq / d + eps)
        invstd[r] = inv
        for j in range(d):
            h = (x[r, j] - mean) * inv
            xhat[r, j] = h
            out[r, j] = h * weight[j] + bias[j]


@njit(cache=True, nogil=True, error_model="numpy")
def _backward_rows(grad, xhat, invstd, weight, gx, gw, gb):
    # gw, gb: float64 (d,) sums of this chunk's rows
    d = grad.shape[1]
    for r in range(grad.shape[0]):
        sum_g = 0.0
        sum_gh = 0.0
        for j in range(d):
            g = grad[r, j] * weight[j]
            sum_g += g
            sum_gh += g * xhat[r, j]
            gw[j] += grad[r, j] * xhat[r, j]
            gb[j] += grad[r, j]
        mean_g = sum_g / d
        mean_gh = sum_gh / d
        inv = invstd[r]
        for j in range(d):
            gx[r, j] = inv * (grad[r, j] * weight[j] - mean_g - xhat[r, j] * mean_gh)


def _chunk(rows: int) -> int:
    return max(_MIN_CHUNK_ROWS, -(-rows // 8))


def layer_norm_forward(x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, eps: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(out, xhat, invstd) for C-contiguous float x (rows, D): xhat = (x - mean) * invstd per row,
    out = xhat * weight + bias (each optional, shape (D,))."""
    rows, d = x.shape
    one = np.ones(d, dtype=x.dtype) if weight is None else weight
    zero = np.zeros(d, dtype=x.dtype) if bias is None else bias
    out, xhat = np.empty_like(x), np.empty_like(x)
    invstd = np.empty(rows, dtype=x.dtype)

    def task(i: int, j: int) -> None:
        _forward_rows(x[i:j], one, zero, eps, out[i:j], xhat[i:j], invstd[i:j])

    for_each_chunk(rows, _chunk(rows), task)
    return out, xhat, invstd


def layer_norm_backward(grad: np.ndarray, xhat: np.ndarray, invstd: np.ndarray, weight: np.ndarray | None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grad_x, grad_weight, grad_bias) of `layer_norm_forward` for C-contiguous grad (rows, D)."""
    rows, d = grad.shape
    one = np.ones(d, dtype=grad.dtype) if weight is None else weight
    gx = np.empty_like(grad)
    chunk = _chunk(rows)
    partial = np.zeros((2, -(-rows // chunk), d))  # float64 weight and bias sums, one row per chunk

    def task(i: int, j: int) -> None:
        k = i // chunk
        _backward_rows(grad[i:j], xhat[i:j], invstd[i:j], one, gx[i:j], partial[0, k], partial[1, k])

    for_each_chunk(rows, chunk, task)
    sums = partial.sum(axis=1).astype(grad.dtype)
    return gx, sums[0], sums[1]
