"""Dropout as one op on the fused kernel: the mask is never stored, the backward hashes it again.

The composite form (draw a float mask, compare, scale, multiply; keep the mask for the backward)
made five passes and two arrays per call; a Transformer layer drops out four times per step.
"""

from __future__ import annotations

from ttrain.autograd.function import Function


class Dropout(Function):
    """x * keep / (1 - p), keep drawn per element from `seed` (see kernels/elementwise.py)."""

    @staticmethod
    def forward(ctx, x, p, seed):
        from ttrain.autograd.kernels.elementwise import dropout

        ctx.p, ctx.seed = p, seed
        return dropout(x, p, seed)

    @staticmethod
    def backward(ctx, grad):
        from ttrain.autograd.kernels.elementwise import dropout

        return dropout(grad, ctx.p, ctx.seed)  # the same mask and scale: the same call
