"""Selection and rearrangement ops of PyTorch's everyday API: sort, topk, index_select, chunk, split,
flip, repeat, scatter, cumsum, norm, unique.

Most are composed from the primitives (values picked by `Gather` or `Index`, repeats by `expand`), so
their gradients need no code of their own; `Flip`, `Scatter`, `ScatterAdd`, `CumSum` and `Norm2`
have a backward beside their forward.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from ttrain.autograd.function import Function
from ttrain.autograd.ops.dims import canonical_dim, canonical_dims
from ttrain.autograd.ops.errors import ShapeError
from ttrain.autograd.ops.shape import Gather, Index, Reshape, expand, shape_arg


def _tensor(array: np.ndarray) -> Any:
    from ttrain.autograd.tensor import Tensor

    return Tensor._wrap(array, False)


def _index_array(index: Any, op: str) -> np.ndarray:
    from ttrain.autograd.tensor import unwrap

    array = np.asarray(unwrap(index))
    if array.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor, not {array.dtype}")
    return array.astype(np.int64, copy=False)


class SortResult(NamedTuple):
    """`(values, indices)` returned by `sort` and `topk`, as in PyTorch."""

    values: Any
    indices: Any


def _argsort(data: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable order along `axis`; descending keeps equal values in their original order too."""
    if descending:
        keys = -data.astype(np.int64) if data.dtype.kind in "bu" else -data
        return np.argsort(keys, axis=axis, kind="stable")
    return np.argsort(data, axis=axis, kind="stable")


def sort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> SortResult:
    """Values sorted along `dim` and the indices they came from; gradients flow to the values' sources."""
    if input.ndim == 0:
        return SortResult(input.clone(), _tensor(np.zeros((), dtype=np.int64)))
    axis = canonical_dim(dim, input.ndim, "sort")
    indices = _argsort(input.data, axis, descending)
    return SortResult(Gather.apply(input, indices, dim=axis), _tensor(indices))


def topk(input: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> SortResult:  # noqa: A002
    """The `k` largest (or smallest) values along `dim`, in order, and their indices."""
    axis = canonical_dim(dim, input.ndim, "topk")
    size = input.shape[axis] if input.ndim else 1
    if not 0 <= k <= size:
        raise IndexError(f"topk: k ({k}) is out of range for dimension {dim} of size {size}")
    if input.ndim == 0:
        return sort(input)
    order = _argsort(input.data, axis, descending=largest)
    indices = np.take(order, np.arange(k), axis=axis)
    return SortResult(Gather.apply(input, indices, dim=axis), _tensor(indices))


def index_select(input: Any, dim: int, index: Any) -> Any:
    """The slices of `input` at the positions `index` (a 1-D integer tensor) along `dim`."""
    indices = _index_array(index, "index_select")
    if indices.ndim > 1:
        raise ShapeError(f"index_select: index must be 1-D, got shape {indices.shape}")
    axis = canonical_dim(dim, input.ndim, "index_select")
    return Index.apply(input, key=(slice(None),) * axis + (indices.reshape(-1),))


def _pieces(input: Any, sizes: Sequence[int], axis: int) -> tuple[Any, ...]:
    bounds = np.cumsum([0, *sizes])
    lead = (slice(None),) * axis
    return tuple(Index.apply(input, key=lead + (slice(int(a), int(b)),)) for a, b in zip(bounds[:-1], bounds[1:]))


def split(tensor: Any, split_size_or_sections: Any, dim: int = 0) -> tuple[Any, ...]:
    """Pieces along `dim`: each `split_size_or_sections` long (the last may be shorter), or of the listed sizes."""
    axis = canonical_dim(dim, tensor.ndim, "split")
    n = tensor.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0 and n:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - start) for start in range(0, n, size)] if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or min(sizes, default=0) < 0:
            raise ValueError(f"split: sizes {sizes} must be non-negative and sum to {n}, the size of dim {dim}")
    return _pieces(tensor, sizes, axis)


def chunk(input: Any, chunks: int, dim: int = 0) -> tuple[Any, ...]:
    """At most `chunks` pieces of equal size along `dim` (the last may be smaller), as in PyTorch."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    axis = canonical_dim(dim, input.ndim, "chunk")
    n = input.shape[axis]
    return split(input, max(-(-n // chunks), 1), axis) if n else split(input, [0] * chunks, axis)


class Flip(Function):
    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return np.flip(x, axes).copy()  # a copy, as torch.flip: later in-place writes stay apart

    @staticmethod
    def backward(ctx, grad):
        return np.flip(grad, ctx.axes)


def flip(input: Any, *dims: Any) -> Any:
    """The tensor with the order of its elements reversed along `dims`."""
    axes = canonical_dims(shape_arg(dims), input.ndim, "flip")
    return Flip.apply(input, axes=() if axes is None else axes)


def repeat(input: Any, *sizes: Any) -> Any:
    """The tensor tiled `sizes[i]` times along each dimension (leading sizes add dimensions)."""
    sizes = shape_arg(sizes)
    if len(sizes) < input.ndim:
        raise ShapeError(f"repeat: {len(sizes)} repeat counts for a tensor of {input.ndim} dimensions {input.shape}")
    shape = (1,) * (len(sizes) - input.ndim) + tuple(input.shape)
    # (n0, n1) -> (1, n0, 1, n1) -> broadcast to (r0, n0, r1, n1) -> (r0*n0, r1*n1)
    spread = Reshape.apply(input, shape=tuple(v for n in shape for v in (1, n)))
    tiled = expand(spread, tuple(v for r, n in zip(sizes, shape) for v in (r, n)))
    return Reshape.apply(tiled, shape=tuple(r * n for r, n in zip(sizes, shape)))


def _scatter_window(x_shape: tuple[int, ...], index: np.ndarray, axis: int, op: str) -> tuple[slice, ...]:
    """The leading part of `x` that `index` covers outside `axis` (PyTorch lets the index be smaller)."""
    if index.ndim != len(x_shape) or any(i > n for d, (i, n) in enumerate(zip(index.shape, x_shape)) if d != axis):
        raise ShapeError(f"{op}: index {index.shape} does not fit input {x_shape} along dim {axis}")
    return tuple(slice(None) if d == axis else slice(0, i) for d, i in enumerate(index.shape))


def _source_window(src: np.ndarray, index: np.ndarray, op: str) -> tuple[slice, ...]:
    if src.ndim != index.ndim or any(i > n for i, n in zip(index.shape, src.shape)):
        raise ShapeError(f"{op}: src {src.shape} is smaller than index {index.shape}")
    return tuple(slice(0, i) for i in index.shape)


class Scatter(Function):
    """out = x with out[..., index[i], ...] = src[i] along `axis` (torch.scatter); `src` may be a number."""

    @staticmethod
    def forward(ctx, x, src, index, axis):
        window = _scatter_window(x.shape, index, axis, "scatter")
        out = x.copy()
        values = src[_source_window(src, index, "scatter")] if isinstance(src, np.ndarray) else src
        try:
            np.put_along_axis(out[window], index, values, axis=axis)
        except IndexError as e:
            raise IndexError(f"scatter: {e} (input of shape {x.shape})") from None
        ctx.info = (index, axis, window)
        return out

    @staticmethod
    def backward(ctx, grad):
        index, axis, window = ctx.info
        x, src = ctx.parents
        grad_x = grad_src = None
        if ctx.needs_input_grad[0]:
            grad_x = grad.copy()
            np.put_along_axis(grad_x[window], index, 0, axis=axis)
        if ctx.needs_input_grad[1]:
            grad_src = np.zeros(src.shape, dtype=grad.dtype)
            grad_src[_source_window(grad_src, index, "scatter")] = np.take_along_axis(grad[window], index, axis=axis)
        return grad_x, grad_src


class ScatterAdd(Function):
    """out = x with src[i] added at index[i] along `axis` (repeated indices add up)."""

    @staticmethod
    def forward(ctx, x, src, index, axis):
        window = _scatter_window(x.shape, index, axis, "scatter_add")
        out = x.copy()
        values = src[_source_window(src, index, "scatter_add")]
        key = tuple(index if d == axis else np.arange(n).reshape([-1 if k == d else 1 for k in range(index.ndim)])
                    for d, n in enumerate(index.shape))
        np.add.at(out[window], key, values)
        ctx.info = (index, axis, window)
        return out

    @staticmethod
    def backward(ctx, grad):
        index, axis, window = ctx.info
        src = ctx.parents[1]
        grad_src = None
        if ctx.needs_input_grad[1]:
            grad_src = np.zeros(src.shape, dtype=grad.dtype)
            grad_src[_source_window(grad_src, index, "scatter_add")] = np.take_along_axis(grad[window], index, axis)
        return grad, grad_src


def scatter(input: Any, dim: int, index: Any, src: Any = None, *, value: Any = None) -> Any:
    """A copy of `input` with `src` (a tensor, or the number `value`) written at `index` along `dim`."""
    if (src is None) == (value is None):
        raise TypeError("scatter: give exactly one of src (a tensor or number) and value")
    indices = _index_array(index, "scatter")
    return Scatter.apply(input, value if src is None else src, index=indices,
                         axis=canonical_dim(dim, input.ndim, "scatter"))


def scatter_add(input: Any, dim: int, index: Any, src: Any) -> Any:
    """A copy of `input` with `src` added at `index` along `dim` (repeats add up)."""
    return ScatterAdd.apply(input, src, index=_index_array(index, "scatter_add"),
                            axis=canonical_dim(dim, input.ndim, "scatter_add"))


class CumSum(Function):
    @staticmethod
    def forward(ctx, x, axis, dtype):
        ctx.axis = axis
        if dtype is None and x.dtype.kind in "biu":
            dtype = np.int64  # PyTorch sums integers and booleans in int64
        return np.cumsum(x, axis=axis, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        # each input element feeds every later output: the reversed cumulative sum of the gradient
        return np.flip(np.cumsum(np.flip(grad, ctx.axis), axis=ctx.axis), ctx.axis)


def cumsum(input: Any, dim: int, dtype: Any = None) -> Any:
    """Running sums along `dim`."""
    axis = canonical_dim(dim, input.ndim, "cumsum")
    return CumSum.apply(input, axis=axis if input.ndim else None, dtype=dtype)


class Norm2(Function):
    """sqrt(sum(x^2)) over axes; the gradient at a zero vector is zero (a subgradient), as in PyTorch."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        norm = np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
        ctx.save_for_backward(x, norm)
        ctx.info = (axes, keepdim)
        return norm if keepdim else np.squeeze(norm, axis=axes if axes is not None else tuple(range(x.ndim)))

    @staticmethod
    def backward(ctx, grad):
        x, norm = ctx.saved_tensors
        axes, keepdim = ctx.info
        if not keepdim:
            grad = np.expand_dims(grad, axes if axes is not None else tuple(range(x.ndim)))
        safe = np.where(norm == 0, 1, norm)
        return np.where(norm == 0, 0, grad * x / safe).astype(grad.dtype, copy=False)


def norm(input: Any, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Any:
    """The p-norm over `dim` (all elements by default): p = 2 or "fro", 1, inf, -inf, 0, or any number."""
    axes = canonical_dims(dim, input.ndim, "norm")
    if p in (2, "fro"):
        return Norm2.apply(input, axes=axes, keepdim=keepdim)
    absolute = input.abs()
    if p == float("inf"):
        return absolute.amax(dim=axes, keepdim=keepdim)
    if p == float("-inf"):
        return absolute.amin(dim=axes, keepdim=keepdim)
    if p == 0:
        return (input != 0).to(input.dtype).sum(dim=axes, keepdim=keepdim)
    if p == 1:
        return absolute.sum(dim=axes, keepdim=keepdim)
    if isinstance(p, str):
        raise ValueError(f"norm: p must be a number or 'fro', got {p!r}")
    return (absolute**p).sum(dim=axes, keepdim=keepdim) ** (1.0 / p)


def unique(
    input: Any, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
    dim: int | None = None,
) -> Any:
    """The distinct values (sorted), with the inverse indices and counts when asked; not differentiable."""
    axis = None if dim is None else canonical_dim(dim, input.ndim, "unique")
    values, inverse, counts = np.unique(input.data, return_inverse=True, return_counts=True, axis=axis)
    if axis is None:
        inverse = inverse.reshape(input.shape)
    out = [_tensor(values)]
    if return_inverse:
        out.append(_tensor(inverse.astype(np.int64).reshape(-1) if axis is not None else inverse.astype(np.int64)))
    if return_counts:
        out.append(_tensor(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def argsort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """The indices that sort `input` along `dim` (`sort(...).indices`)."""
    return sort(input, dim, descending, stable).indices


def unbind(input: Any, dim: int = 0) -> tuple[Any, ...]:
    """The slices along `dim`, each without that dimension."""
    axis = canonical_dim(dim, input.ndim, "unbind")
    lead = (slice(None),) * axis
    return tuple(Index.apply(input, key=lead + (i,)) for i in range(input.shape[axis]))


def narrow(input: Any, dim: int, start: int, length: int) -> Any:
    """`length` elements of `input` along `dim` from `start` (a view in PyTorch, a copy's gradient here)."""
    axis = canonical_dim(dim, input.ndim, "narrow")
    n = input.shape[axis]
    start = start + n if start < 0 else start
    if not (0 <= start <= n and 0 <= length and start + length <= n):
        raise IndexError(f"narrow: start {start} and length {length} exceed dimension {dim} of size {n}")
    return Index.apply(input, key=(slice(None),) * axis + (slice(start, start + length),))


def masked_select(input: Any, mask: Any) -> Any:
    """The elements where `mask` holds, as a 1-D tensor (`mask` broadcasts against `input`)."""
    from ttrain.autograd.tensor import unwrap

    keep = np.asarray(unwrap(mask), dtype=bool)
    shape = np.broadcast_shapes(keep.shape, input.shape)
    source = input if tuple(input.shape) == shape else expand(input, shape)
    return Index.apply(source, key=np.broadcast_to(keep, shape))


def roll(input: Any, shifts: Any, dims: Any = None) -> Any:
    """Elements shifted cyclically by `shifts` along `dims` (of the flattened tensor without `dims`)."""
    if dims is None:
        return roll(input.reshape(-1), shifts, 0).reshape(input.shape)
    shifts = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(shifts) != len(dims):
        raise ValueError(f"roll: {len(shifts)} shifts for {len(dims)} dims")
    out = input
    for shift, dim in zip(shifts, dims):
        axis = canonical_dim(dim, input.ndim, "roll")
        order = np.roll(np.arange(input.shape[axis]), shift)
        out = Index.apply(out, key=(slice(None),) * axis + (order,))
    return out


def tile(input: Any, *dims: Any) -> Any:
    """The tensor repeated along each dimension; fewer `dims` than dimensions repeat the last ones."""
    dims = shape_arg(dims)
    return repeat(input, *((1,) * (input.ndim - len(dims)) + tuple(dims)))


def _triangle(input: Any, diagonal: int, lower: bool, op: str) -> Any:
    from ttrain.autograd.ops.arith import Where

    if input.ndim < 2:
        raise ShapeError(f"{op}: expects a tensor of at least 2 dimensions, got shape {input.shape}")
    rows, cols = input.shape[-2:]
    keep = np.tri(rows, cols, diagonal, dtype=bool) if lower else ~np.tri(rows, cols, diagonal - 1, dtype=bool)
    return Where.apply(keep, input, 0)


def tril(input: Any, diagonal: int = 0) -> Any:
    """The lower triangle of the last two dimensions (on and below `diagonal`); the rest zero."""
    return _triangle(input, diagonal, True, "tril")


def triu(input: Any, diagonal: int = 0) -> Any:
    """The upper triangle of the last two dimensions (on and above `diagonal`); the rest zero."""
    return _triangle(input, diagonal, False, "triu")


def nonzero(input: Any, *, as_tuple: bool = False) -> Any:
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or one 1-D tensor per dimension."""
    found = np.nonzero(input.data)
    if as_tuple:
        return tuple(_tensor(i.astype(np.int64)) for i in found)
    return _tensor(np.stack(found, axis=1).astype(np.int64) if found else np.zeros((0, 0), np.int64))
