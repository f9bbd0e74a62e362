"""Matrix products: batched `matmul` and the fused `linear` (x @ W.T + b in one op)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ttrain.autograd import parallel
from ttrain.autograd.function import Function, unbroadcast
from ttrain.autograd.ops.errors import ShapeError


@lru_cache(maxsize=16)
def _ones(n: int, dtype: np.dtype) -> np.ndarray:
    """A read-only vector of n ones, kept between steps (the batch size rarely changes)."""
    ones = np.ones(n, dtype=dtype)
    ones.flags.writeable = False
    return ones


def _sum_rows(a: np.ndarray) -> np.ndarray:
    """a.sum(axis=0) of a 2-D array; for float32/64 as ones @ a, a BLAS call 3x quicker than NumPy's
    reduction over the outer axis on a (128, 10) bias gradient (both add each column in sequence)."""
    if a.dtype.char in "fd":
        return _ones(a.shape[0], a.dtype) @ a
    return a.sum(axis=0)


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        a, b = np.asarray(a), np.asarray(b)
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: both operands need at least 1 dimension, got {a.shape} @ {b.shape}")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ShapeError(f"matmul: {a.shape} @ {b.shape}: inner sizes differ")
        ctx.save_for_backward(a, b)
        try:
            return parallel.matmul(a, b)
        except ValueError:
            raise ShapeError(f"matmul: {a.shape} @ {b.shape}: batch dimensions cannot be broadcast") from None

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        if a.ndim == 1 and b.ndim == 1:  # a dot product: grad is 0-d
            return (grad * b if need_a else None), (grad * a if need_b else None)
        # Promote a vector to a matrix so one formula covers every other case, then undo it.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = np.expand_dims(grad, -2) if a.ndim == 1 else np.expand_dims(grad, -1) if b.ndim == 1 else grad
        ga = gb = None
        if need_a:
            ga = unbroadcast(parallel.matmul(g, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if need_b:
            gb = unbroadcast(parallel.matmul(np.swapaxes(a2, -1, -2), g), b2.shape).reshape(b.shape)
        return ga, gb


class Linear(Function):
    """y = x @ weight.T + bias for x of shape (..., in), weight (out, in), bias (out,) or None."""

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
            raise ShapeError(f"linear: input {x.shape} @ weight.T {weight.shape[::-1]}: "
                             "weight must be (out_features, in_features) with in_features = input's last size")
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ShapeError(f"linear: bias {bias.shape} does not match weight {weight.shape}")
        ctx.save_for_backward(x, weight)
        out = parallel.matmul(x, weight.T)
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        g2 = grad.reshape(-1, grad.shape[-1])
        gx = parallel.matmul(grad, weight) if needs[0] else None
        gw = parallel.matmul(g2.T, x.reshape(-1, x.shape[-1])) if needs[1] else None
        gb = _sum_rows(g2) if len(needs) > 2 and needs[2] else None
        return (gx, gw, gb)[: len(needs)]
