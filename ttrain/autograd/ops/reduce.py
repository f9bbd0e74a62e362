"""Reductions: sum, mean, max/min (amax/amin and values+indices along a dim), var, argmax/argmin."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from ttrain.autograd.function import Function
from ttrain.autograd.ops.dims import canonical_dim, canonical_dims
from ttrain.autograd.ops.errors import ShapeError


def _grad_to_input(grad: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...] | None, keepdim: bool) -> np.ndarray:
    """Broadcast a reduction's output gradient back over the reduced axes (a read-only view)."""
    if axes and not keepdim:
        grad = np.expand_dims(grad, axes)
    return np.broadcast_to(grad, shape)


def _count(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> int:
    """How many elements each output element of a reduction over `axes` summarises."""
    return int(np.prod(shape if axes is None else [shape[a] for a in axes]))


class Sum(Function):
    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        axes = canonical_dims(dim, x.ndim, "sum")
        ctx.info = (x.shape, axes, keepdim)
        return np.asarray(x.sum(axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, grad):
        return _grad_to_input(grad, *ctx.info)


class Mean(Function):
    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        axes = canonical_dims(dim, x.ndim, "mean")
        ctx.info = (x.shape, axes, keepdim)
        return np.asarray(x.mean(axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, grad):
        shape, axes, keepdim = ctx.info
        return _grad_to_input(grad / max(_count(shape, axes), 1), shape, axes, keepdim)


def _check_not_empty(x: np.ndarray, axes: tuple[int, ...] | None, op: str) -> None:
    """max/min/argmax of nothing is undefined: refuse a zero-size reduced dimension."""
    if x.size == 0 and (axes is None or any(x.shape[a] == 0 for a in axes)):
        raise ShapeError(f"{op}: cannot reduce over a zero-size dimension of a tensor of shape {x.shape}")


class Extreme(Function):
    """max or min over axes; the gradient is split evenly between tied extremes, as PyTorch's amax."""

    @staticmethod
    def forward(ctx, x, fn=np.max, dim=None, keepdim=False):
        name = "amax" if fn is np.max else "amin"
        axes = canonical_dims(dim, x.ndim, name)
        _check_not_empty(x, axes, name)
        out = fn(x, axis=axes, keepdims=True)
        ctx.save_for_backward(x, out)
        ctx.info = (x.shape, axes, keepdim)
        return out if keepdim else out.reshape([n for i, n in enumerate(x.shape) if axes is not None and i not in axes])

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        shape, axes, keepdim = ctx.info
        mask = (x == out).astype(grad.dtype)
        mask /= mask.sum(axis=axes, keepdims=True)
        return _grad_to_input(grad, shape, axes, keepdim) * mask


class MaxResult(NamedTuple):
    """`(values, indices)` returned by `max(dim)` and `min(dim)`."""

    values: Any
    indices: Any


def extreme(x: Any, fn: Callable, dim: int | None, keepdim: bool) -> Any:
    """`x.max()` / `x.min()`: a 0-d tensor, or `(values, indices)` along `dim`.

    Along a dim the gradient goes to the returned index alone, as in PyTorch.
    """
    if dim is None:
        return Extreme.apply(x, fn=fn)
    from ttrain.autograd.ops.shape import Clone, Gather
    from ttrain.autograd.tensor import Tensor

    indices = arg_extreme(x, np.argmax if fn is np.max else np.argmin, dim, keepdim=True)
    if x.ndim == 0:
        return MaxResult(Clone.apply(x), indices)
    axis = canonical_dim(dim, x.ndim, fn.__name__)
    values = Gather.apply(x, indices.data, dim=axis)
    if keepdim:
        return MaxResult(values, indices)
    return MaxResult(values.squeeze(axis), Tensor._wrap(indices.data.squeeze(axis), False))


def arg_extreme(x: Any, fn: Callable, dim: int | None, keepdim: bool) -> Any:
    """Indices of the extremes (int64, never differentiable); the flat index when `dim` is None."""
    from ttrain.autograd.tensor import Tensor

    data = x.data
    name = fn.__name__
    if dim is None:
        _check_not_empty(data, None, name)
        return Tensor._wrap(np.asarray(fn(data), dtype=np.int64), False)
    axis = canonical_dim(dim, data.ndim, name)
    _check_not_empty(data, (axis,) if data.ndim else None, name)
    if data.ndim == 0:
        return Tensor._wrap(np.zeros((), dtype=np.int64), False)
    return Tensor._wrap(np.asarray(fn(data, axis=axis, keepdims=keepdim), dtype=np.int64), False)


def var(x: Any, dim: Any = None, keepdim: bool = False, correction: int = 1) -> Any:
    """Variance composed from primitives: squared deviations summed, over n - correction (PyTorch's)."""
    axes = canonical_dims(dim, x.ndim, "var")
    deviation = x - x.mean(dim=axes, keepdim=True)
    return (deviation * deviation).sum(dim=axes, keepdim=keepdim) / max(_count(x.shape, axes) - correction, 0)


def logsumexp(x: Any, dim: Any, keepdim: bool = False) -> Any:
    """log(sum(exp(x))) over `dim`, computed stably (the maximum is taken out first, as a constant)."""
    from ttrain.autograd.tensor import Tensor

    axes = canonical_dims(dim, x.ndim, "logsumexp")
    peak = np.max(x.data, axis=axes, keepdims=True) if x.data.size else np.zeros((1,) * x.ndim, x.data.dtype)
    peak = np.where(np.isfinite(peak), peak, 0).astype(x.data.dtype)
    total = (x - Tensor._wrap(peak, False)).exp().sum(dim=axes, keepdim=True).log() + Tensor._wrap(peak, False)
    return total if keepdim else total.squeeze(axes if axes is not None else None)
