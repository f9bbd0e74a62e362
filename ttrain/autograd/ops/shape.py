"""Shape ops: reshape, permute, expand, indexing, gather, cat/stack, and the helpers built on them."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ttrain.autograd.function import Function, unbroadcast
from ttrain.autograd.ops.dims import canonical_dim, canonical_dims
from ttrain.autograd.ops.errors import ShapeError


def shape_arg(args: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept both `f(2, 3)` and `f((2, 3))` / `f([2, 3])`."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def index_key(key: Any) -> Any:
    """Replace tensors inside an indexing key by their arrays."""
    from ttrain.autograd.tensor import unwrap

    if isinstance(key, tuple):
        return tuple(unwrap(k) for k in key)
    return unwrap(key)


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
        axes = [canonical_dim(d, x.ndim, "permute") for d in dims] if x.ndim else list(dims)
        if sorted(axes) != list(range(x.ndim)):
            raise ShapeError(f"permute: {tuple(dims)} is not a permutation of the {x.ndim} dimensions of {x.shape}")
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, grad):
        return grad.transpose(np.argsort(ctx.axes))


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ShapeError(f"expand: cannot expand {x.shape} to {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, grad):
        return unbroadcast(grad, ctx.parents[0].shape)


class Index(Function):
    """x[key] for ints, slices, None, Ellipsis, integer arrays and boolean masks (NumPy's rules)."""

    @staticmethod
    def forward(ctx, x, key):
        ctx.key = key
        try:
            return np.asarray(x[key])
        except IndexError as e:
            raise IndexError(f"index: {e} (tensor of shape {x.shape})") from None

    @staticmethod
    def backward(ctx, grad):
        out = np.zeros(ctx.parents[0].shape, dtype=grad.dtype)
        if _selects_each_once(ctx.key):
            out[ctx.key] = grad
        else:  # an integer array may repeat an index: add.at sums the repeats
            np.add.at(out, ctx.key, grad)
        return out


def _selects_each_once(key: Any) -> bool:
    """True when no element can be selected twice: no integer arrays in the key."""
    parts = key if isinstance(key, tuple) else (key,)
    for k in parts:
        if isinstance(k, (list, np.ndarray)) and np.asarray(k).dtype != bool:
            return False
    return True


class Gather(Function):
    """out[i][j] = x[i][index[i][j]] along `dim` (torch.gather); repeated indices add up in backward."""

    @staticmethod
    def forward(ctx, x, index, dim):
        index = np.asarray(index)
        if index.dtype.kind not in "iu":
            raise TypeError(f"gather: index must be an integer tensor, not {index.dtype}")
        if index.ndim != x.ndim or any(i > n for d, (i, n) in enumerate(zip(index.shape, x.shape)) if d != dim):
            raise ShapeError(f"gather: index {index.shape} does not fit input {x.shape} along dim {dim}")
        ctx.save_for_backward(index)
        ctx.dim = dim
        # PyTorch lets the index be smaller than the input outside `dim`: take the leading part
        window = tuple(slice(None) if d == dim else slice(0, i) for d, i in enumerate(index.shape))
        try:
            return np.take_along_axis(x[window], index, axis=dim)
        except IndexError as e:
            raise IndexError(f"gather: {e} (input of shape {x.shape})") from None

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        key = tuple(
            index if d == ctx.dim else np.arange(n).reshape([-1 if k == d else 1 for k in range(index.ndim)])
            for d, n in enumerate(index.shape)
        )
        out = np.zeros(ctx.parents[0].shape, dtype=grad.dtype)
        np.add.at(out, key, grad)
        return out, None


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, dim=0):
        try:
            out = np.concatenate(arrays, axis=dim)
        except ValueError:  # also numpy's AxisError
            shapes = ", ".join(str(np.shape(a)) for a in arrays)
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
    """Convert between float dtypes; the gradient is converted back."""

    @staticmethod
    def forward(ctx, x, dtype):
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.parents[0].dtype)


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    """Merge dimensions start_dim..end_dim into one."""
    if x.ndim == 0:
        return x.reshape(1)
    start = canonical_dim(start_dim, x.ndim, "flatten")
    end = canonical_dim(end_dim, x.ndim, "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    merged = int(np.prod(x.shape[start : end + 1]))  # explicit, since -1 is ambiguous for zero-size
    return x.reshape(x.shape[:start] + (merged,) + x.shape[end + 1 :])


def squeeze(x: Any, dim: Any = None) -> Any:
    """Drop size-1 dimensions: all, or those of `dim` (an int or a tuple) that have size 1."""
    axes = canonical_dims(dim, x.ndim, "squeeze") if dim is not None else range(x.ndim)
    axes = () if axes is None else axes
    return x.reshape(tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1)))


def unsqueeze(x: Any, dim: int) -> Any:
    """Insert a size-1 dimension at `dim` (negative counts from the end of the new shape)."""
    d = canonical_dim(dim, x.ndim + 1, "unsqueeze")
    return x.reshape(x.shape[:d] + (1,) + x.shape[d:])


def transpose(x: Any, dim0: int, dim1: int) -> Any:
    """Swap two dimensions."""
    a, b = canonical_dim(dim0, x.ndim, "transpose"), canonical_dim(dim1, x.ndim, "transpose")
    dims = list(range(x.ndim))
    if dims:
        dims[a], dims[b] = dims[b], dims[a]
    return x.permute(*dims)


def expand(x: Any, shape: Sequence[int]) -> Any:
    """Broadcast `x` to `shape` without copying; -1 keeps the size of an existing dimension."""
    lead = len(shape) - x.ndim
    if lead < 0 or any(n == -1 for n in shape[:lead]):
        raise ShapeError(f"expand: cannot expand {x.shape} to {tuple(shape)}")
    resolved = tuple(x.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
    return Expand.apply(x, shape=resolved)


def gather(x: Any, dim: int, index: Any) -> Any:
    """Values of `x` at `index` along `dim` (torch.gather)."""
    from ttrain.autograd.tensor import unwrap

    return Gather.apply(x, unwrap(index), dim=canonical_dim(dim, x.ndim, "gather"))


def cat(tensors: Sequence[Any], dim: int = 0) -> Any:
    """Concatenate tensors along an existing dimension."""
    if not len(tensors):
        raise ValueError("cat: expects a non-empty sequence of tensors")
    return Cat.apply(*tensors, dim=dim)


def stack(tensors: Sequence[Any], dim: int = 0) -> Any:
    """Join same-shape tensors along a new dimension."""
    if not len(tensors):
        raise ValueError("stack: expects a non-empty sequence of tensors")
    shapes = [tuple(t.shape) for t in tensors]
    if len(set(shapes)) > 1:
        raise ShapeError(f"stack: all tensors must have the same shape, got {', '.join(map(str, shapes))}")
    return cat([unsqueeze(t, dim) for t in tensors], dim=dim)
