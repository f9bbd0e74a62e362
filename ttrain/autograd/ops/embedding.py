"""Embedding lookup: gather rows of a weight matrix by integer index."""

from __future__ import annotations

import numpy as np

from ttrain.autograd.function import Function
from ttrain.autograd.ops.errors import ShapeError


def check_indices(indices: np.ndarray, num_embeddings: int) -> np.ndarray:
    """Integer indices within [0, num_embeddings) as int64; a clear error otherwise."""
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {indices.dtype}")
    if indices.size:
        low, high = int(indices.min()), int(indices.max())
        if low < 0 or high >= num_embeddings:
            bad = low if low < 0 else high
            raise IndexError(f"embedding: index {bad} is out of range for {num_embeddings} embeddings")
    return indices.astype(np.int64, copy=False)


class Embedding(Function):
    """`weight[indices]`: output shape `indices.shape + (embedding_dim,)`.

    Positional inputs: indices (not differentiable), weight (V, D). The gradient of a row is the
    sum of the output gradients of every position that looked it up, summed in index order by
    `np.add.at` (unbuffered and sequential, so the same inputs give the same bits); the row of
    `padding_idx` gets none.
    """

    @staticmethod
    def forward(ctx, indices, weight, padding_idx=None):
        if weight.ndim != 2:
            raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
        indices = check_indices(indices, weight.shape[0])
        ctx.save_for_backward(indices)
        ctx.weight_shape = weight.shape
        ctx.padding_idx = padding_idx
        return np.take(weight, indices, axis=0)

    @staticmethod
    def backward(ctx, grad):
        (indices,) = ctx.saved_tensors
        gw = np.zeros(ctx.weight_shape, dtype=grad.dtype)
        np.add.at(gw, indices.reshape(-1), grad.reshape(-1, ctx.weight_shape[1]))
        if ctx.padding_idx is not None:
            gw[ctx.padding_idx] = 0
        return None, gw
