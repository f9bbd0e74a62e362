"""Matrix products: batched `matmul` and the fused `linear` (x @ W.T + b in one op)."""

from __future__ import annotations

import numpy as np

from ttrain.autograd.function import Function, unbroadcast
from ttrain.autograd.ops.errors import ShapeError


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
            return np.matmul(a, b)
        except ValueError:
            raise ShapeError(f"matmul: {a.shape} @ {b.shape}: batch dimensions cannot be broadcast") from None

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        # Promote vectors to matrices so one formula covers every case, then undo it.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = grad
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        if b.ndim == 1:
            g = np.expand_dims(g, -1)
        ga = gb = None
        if need_a:
            ga = unbroadcast(g @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if need_b:
            gb = unbroadcast(np.swapaxes(a2, -1, -2) @ g, b2.shape).reshape(b.shape)
        return ga, gb


class Linear(Function):
    """y = x @ weight.T + bias for x of shape (..., in), weight (out, in), bias (out,) or None."""

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
            raise ShapeError(
                f"linear: input {x.shape} has {x.shape[-1] if x.ndim else 0} features, "
                f"weight {weight.shape} expects {weight.shape[1]}"
            )
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        need_x, need_w = ctx.needs_input_grad[:2]
        need_b = ctx.has_bias and ctx.needs_input_grad[2]
        g2 = grad.reshape(-1, grad.shape[-1])
        gx = (grad @ weight) if need_x else None
        gw = (g2.T @ x.reshape(-1, x.shape[-1])) if need_w else None
        gb = g2.sum(axis=0) if need_b else None
        return gx, gw, gb
