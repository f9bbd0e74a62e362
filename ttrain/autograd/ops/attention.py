"""The fused softmax of attention: softmax(scale * scores + mask) over the last axis, one op.

Why fused: composed from primitives, attention's normalisation is a multiply, an add of the mask,
then `Softmax`, and each of them keeps a (N, heads, L, S) array alive for backward and makes one
more pass over it. Here the forward makes its passes in place on one buffer, backward needs only
the output (d scores = scale * p * (g - sum(g * p))), and the mask costs nothing in backward.

The mask is additive (0 where a key may be attended, -inf where not; any float also works) and is
not differentiated. A row whose every key is masked gets zero weights, not NaN: a padded query
then attends to nothing instead of poisoning the batch's loss (PyTorch returns NaN there).
"""

from __future__ import annotations

import numpy as np

from ttrain.autograd import parallel
from ttrain.autograd.function import Function
from ttrain.autograd.ops.errors import ShapeError


def attention_softmax_reference(scores: np.ndarray, scale: float, mask: np.ndarray | None) -> np.ndarray:
    """The plain NumPy definition the fused op is held to (tests): the same maths, written directly."""
    logits = scores * scale + (0.0 if mask is None else mask)
    finite_max = np.max(np.where(np.isneginf(logits), -np.inf, logits), axis=-1, keepdims=True)
    finite_max = np.where(np.isfinite(finite_max), finite_max, 0.0)
    e = np.exp(logits - finite_max)
    total = e.sum(axis=-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


class AttentionSoftmax(Function):
    """p = softmax(scale * scores + mask) along the last axis; `mask` is None or an array that
    broadcasts to `scores` (a constant: it gets no gradient)."""

    @staticmethod
    def forward(ctx, scores, scale=1.0, mask=None):
        if scores.ndim < 1:
            raise ShapeError("attention_softmax: scores need at least 1 dimension")
        out = np.multiply(scores, scores.dtype.type(scale))
        if mask is not None:
            try:
                np.add(out, mask.astype(out.dtype, copy=False), out=out)
            except ValueError:
                raise ShapeError(f"attention_softmax: mask {mask.shape} does not broadcast to scores "
                                 f"{scores.shape}") from None
        rows = out.reshape(-1, out.shape[-1])  # a view: out is a new contiguous array
        parallel.over_rows(rows.shape[0], rows.size, lambda i, j: _softmax_rows(rows[i:j], mask is not None))
        ctx.scale = scale
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (p,) = ctx.saved_tensors
        g = np.multiply(grad, p)
        scale = g.dtype.type(ctx.scale)
        gr, pr = g.reshape(-1, g.shape[-1]), p.reshape(-1, p.shape[-1])

        def rows(i: int, j: int) -> None:
            gi, pi = gr[i:j], pr[i:j]
            total = gi.sum(axis=-1, keepdims=True)
            gi -= pi * total  # p * (grad - row sum), without a second full-size temporary
            if scale != 1:
                gi *= scale

        parallel.over_rows(gr.shape[0], gr.size, rows)
        return g


def _softmax_rows(rows: np.ndarray, masked: bool) -> None:
    """Softmax of each row of the 2-D `rows`, in place."""
    row_max = rows.max(axis=-1, keepdims=True)
    if masked:  # a fully masked row has max -inf: shift by 0 so exp gives zeros, not NaN
        row_max[np.isneginf(row_max)] = 0
    rows -= row_max
    np.exp(rows, out=rows)
    total = rows.sum(axis=-1, keepdims=True)
    if masked:
        total[total == 0] = 1
    rows /= total
