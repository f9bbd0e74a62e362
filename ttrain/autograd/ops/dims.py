"""Dimension arguments in PyTorch's convention: negative counts from the end, checked at the op."""

from __future__ import annotations

from typing import Any

import numpy as np


def canonical_dim(dim: Any, ndim: int, op: str) -> int:
    """`dim` as an axis in 0..ndim-1; a 0-d tensor accepts 0 and -1, as in PyTorch."""
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions "
                         f"(expected {-size} to {size - 1})")
    return dim % size


def canonical_dims(dim: Any, ndim: int, op: str) -> tuple[int, ...] | None:
    """`dim` (None, an int or a sequence) as sorted distinct axes; None means every axis.

    An empty sequence also means every axis, as in PyTorch; a 0-d tensor has no axes to reduce.
    """
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if not dims:
        return None
    axes = tuple(sorted({canonical_dim(d, ndim, op) for d in dims}))
    return axes if ndim else ()
