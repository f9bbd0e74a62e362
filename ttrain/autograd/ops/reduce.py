"""Reductions: sum, mean, max/min (amax/amin), var, argmax/argmin."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from ttrain.autograd.function import Function


def normalize_dims(dim: Any, ndim: int, op: str) -> tuple[int, ...] | None:
    """Turn `dim` (None, int or sequence, negatives allowed) into sorted non-negative axes."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions")
        out.append(d % max(ndim, 1))
    return tuple(sorted(set(out)))


def _grad_to_input(grad: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...] | None, keepdim: bool) -> np.ndarray:
    """Broadcast a reduction's output gradient back over the reduced axes."""
    if axes is not None and not keepdim and len(shape):
        grad = np.expand_dims(grad, axes)
    return np.broadcast_to(grad, shape)


class Sum(Function):
    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        axes = normalize_dims(dim, x.ndim, "sum")
        ctx.info = (x.shape, axes, keepdim)
        return np.asarray(x.sum(axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, grad):
        return _grad_to_input(grad, *ctx.info)


class Mean(Function):
    @staticmethod
    def forward(ctx, x, dim=None, keepdim=False):
        axes = normalize_dims(dim, x.ndim, "mean")
        ctx.info = (x.shape, axes, keepdim)
        count = x.size if axes is None else int(np.prod([x.shape[a] for a in axes]))
        ctx.count = count
        return np.asarray(x.mean(axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, grad):
        return _grad_to_input(grad / max(ctx.count, 1), *ctx.info)


class Extreme(Function):
    """max or min over axes; the gradient is split evenly between tied extremes, as PyTorch's amax."""

    @staticmethod
    def forward(ctx, x, fn=np.max, dim=None, keepdim=False):
        axes = normalize_dims(dim, x.ndim, fn.__name__)
        if x.size == 0:
            raise ValueError(f"{fn.__name__}: cannot reduce an empty tensor of shape {x.shape}")
        out = fn(x, axis=axes, keepdims=True)
        ctx.save_for_backward(x, out)
        ctx.info = (x.shape, axes, keepdim)
        return np.asarray(out if keepdim or axes is None and x.ndim == 0 else out.reshape(_reduced_shape(x.shape, axes)))

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        shape, axes, keepdim = ctx.info
        mask = x == out
        count = mask.sum(axis=axes, keepdims=True)
        return _grad_to_input(grad, shape, axes, keepdim) * mask / count


def _reduced_shape(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> tuple[int, ...]:
    if axes is None:
        return ()
    return tuple(n for i, n in enumerate(shape) if i not in axes)


class MaxResult(NamedTuple):
    """`(values, indices)` returned by `max(dim)` and `min(dim)`."""

    values: Any
    indices: Any


def extreme(x: Any, fn: Callable, dim: int | None, keepdim: bool) -> Any:
    """`x.max()` / `x.min()`: a scalar tensor, or `(values, indices)` along `dim`."""
    if dim is None:
        return Extreme.apply(x, fn=fn)
    values = Extreme.apply(x, fn=fn, dim=dim, keepdim=keepdim)
    indices = arg_extreme(x, np.argmax if fn is np.max else np.argmin, dim, keepdim)
    return MaxResult(values, indices)


def arg_extreme(x: Any, fn: Callable, dim: int | None, keepdim: bool) -> Any:
    """Indices of the extremes (int64, never differentiable)."""
    from ttrain.autograd.tensor import Tensor

    data = x.data
    if dim is None:
        return Tensor._wrap(np.asarray(fn(data), dtype=np.int64), False)
    (axis,) = normalize_dims(dim, data.ndim, fn.__name__)
    return Tensor._wrap(np.asarray(fn(data, axis=axis, keepdims=keepdim), dtype=np.int64), False)


def var(x: Any, dim: Any = None, keepdim: bool = False, correction: int = 1, unbiased: bool | None = None) -> Any:
    """Variance composed from primitives: mean of squared deviations, scaled by n / (n - correction)."""
    if unbiased is not None:
        correction = 1 if unbiased else 0
    axes = normalize_dims(dim, x.ndim, "var")
    count = x.data.size if axes is None else int(np.prod([x.shape[a] for a in axes]))
    deviation = x - x.mean(dim=axes, keepdim=True)
    return (deviation * deviation).sum(dim=axes, keepdim=keepdim) / max(count - correction, 0)
