"""Shape ops: reshape, permute, expand, indexing, cat/stack, and the helpers built on them."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ttrain.autograd.function import Function, unbroadcast
from ttrain.autograd.ops.errors import ShapeError


def shape_arg(args: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept both `f(2, 3)` and `f((2, 3))` / `f([2, 3])`."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def index_key(key: Any) -> Any:
    """Replace tensors inside an indexing key by their arrays."""
    from ttrain.autograd.tensor import Tensor

    if isinstance(key, Tensor):
        return key.data
    if isinstance(key, tuple):
        return tuple(k.data if isinstance(k, Tensor) else k for k in key)
    return key


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ShapeError(f"reshape: cannot reshape {x.shape} ({x.size} elements) to {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape)


class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims):
        if sorted(d % max(x.ndim, 1) for d in dims) != list(range(x.ndim)):
            raise ShapeError(f"permute: {tuple(dims)} is not a permutation of the {x.ndim} dimensions of {x.shape}")
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        return grad.transpose(np.argsort([d % grad.ndim for d in ctx.dims]))


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ShapeError(f"expand: cannot expand {x.shape} to {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, grad):
        return unbroadcast(grad, ctx.shape)


class Index(Function):
    @staticmethod
    def forward(ctx, x, key):
        ctx.shape = x.shape
        ctx.key = key
        ctx.dtype = x.dtype
        try:
            return np.asarray(x[key])
        except IndexError as e:
            raise IndexError(f"index: {e} (tensor of shape {x.shape})") from None

    @staticmethod
    def backward(ctx, grad):
        out = np.zeros(ctx.shape, dtype=grad.dtype)
        # add.at sums repeated integer indices; plain assignment suffices for basic slicing
        if _is_basic(ctx.key):
            out[ctx.key] = grad
        else:
            np.add.at(out, ctx.key, grad)
        return out


def _is_basic(key: Any) -> bool:
    parts = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, (int, slice, np.integer)) for k in parts)


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, dim=0):
        try:
            out = np.concatenate(arrays, axis=dim)
        except (ValueError, np.exceptions.AxisError):
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ShapeError(f"cat: cannot concatenate shapes {shapes} along dim {dim}") from None
        ctx.splits = np.cumsum([a.shape[dim] for a in arrays])[:-1]
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.split(grad, ctx.splits, axis=ctx.dim))


class Clone(Function):
    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


class Cast(Function):
    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.dtype) if ctx.dtype.kind in "fc" else None


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    """Merge dimensions start_dim..end_dim into one."""
    if x.ndim == 0:
        return x.reshape(1)
    start, end = start_dim % x.ndim, end_dim % x.ndim
    shape = x.shape[:start] + (-1,) + x.shape[end + 1 :]
    if 0 in x.shape:
        shape = x.shape[:start] + (int(np.prod(x.shape[start : end + 1])),) + x.shape[end + 1 :]
    return x.reshape(shape)


def squeeze(x: Any, dim: int | None = None) -> Any:
    """Drop size-1 dimensions, or only `dim` when it has size 1."""
    if dim is None:
        return x.reshape(tuple(n for n in x.shape if n != 1))
    d = dim % max(x.ndim, 1)
    if x.ndim == 0 or x.shape[d] != 1:
        return x
    return x.reshape(x.shape[:d] + x.shape[d + 1 :])


def unsqueeze(x: Any, dim: int) -> Any:
    """Insert a size-1 dimension at `dim` (negative counts from the end of the new shape)."""
    d = dim % (x.ndim + 1)
    return x.reshape(x.shape[:d] + (1,) + x.shape[d:])


def transpose(x: Any, dim0: int, dim1: int) -> Any:
    """Swap two dimensions."""
    dims = list(range(x.ndim))
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return x.permute(*dims)


def expand(x: Any, shape: Sequence[int]) -> Any:
    """Broadcast `x` to `shape`; -1 keeps the existing size."""
    lead = len(shape) - x.ndim
    resolved = tuple(x.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
    return Expand.apply(x, shape=resolved)


def cat(tensors: Sequence[Any], dim: int = 0) -> Any:
    """Concatenate tensors along an existing dimension."""
    if not tensors:
        raise ValueError("cat: expects a non-empty sequence of tensors")
    return Cat.apply(*tensors, dim=dim)


def stack(tensors: Sequence[Any], dim: int = 0) -> Any:
    """Join same-shape tensors along a new dimension."""
    if not tensors:
        raise ValueError("stack: expects a non-empty sequence of tensors")
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    return cat([unsqueeze(t, dim) for t in tensors], dim=dim)
