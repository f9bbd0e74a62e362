"""Gradient clipping, as `torch.nn.utils`: by total norm (`clip_grad_norm_`) or by value (`clip_grad_value_`)."""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from ttrain.autograd.creation import from_numpy
from ttrain.autograd.tensor import Tensor

TensorOrTensors = Tensor | Iterable[Tensor]


def _as_list(tensors: TensorOrTensors) -> list[Tensor]:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _grads(parameters: TensorOrTensors) -> list[np.ndarray]:
    return [p.grad.data for p in _as_list(parameters) if p.grad is not None]


def _vector_norm(x: np.ndarray, norm_type: float) -> Any:
    """The `norm_type`-norm of all of `x`'s elements, in `x`'s dtype (torch.linalg.vector_norm)."""
    if x.size == 0:
        return x.dtype.type(0)
    flat = x.reshape(-1)
    if norm_type == math.inf:
        return np.max(np.abs(flat))
    if norm_type == -math.inf:
        return np.min(np.abs(flat))
    if norm_type == 0:
        return x.dtype.type(np.count_nonzero(flat))
    if norm_type == 2:
        return np.sqrt(np.dot(flat, flat))
    if norm_type == 1:
        return np.sum(np.abs(flat))
    return np.sum(np.abs(flat) ** norm_type) ** (1.0 / norm_type)


def get_total_norm(tensors: TensorOrTensors, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """The norm of the norms of `tensors`, i.e. the norm of all their elements taken as one vector.

    Raises RuntimeError for a NaN or infinite norm when `error_if_nonfinite`. No tensors: 0.
    """
    arrays = [t.data for t in _as_list(tensors)]
    norm_type = float(norm_type)
    if not arrays:
        return from_numpy(np.array(0.0, dtype=np.float32))
    dtype = np.result_type(*arrays)
    norms = np.array([_vector_norm(a, norm_type) for a in arrays], dtype=dtype)
    total = np.asarray(_vector_norm(norms, norm_type), dtype=dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot be "
            "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`"
        )
    return from_numpy(total)


def clip_grads_with_norm_(parameters: TensorOrTensors, max_norm: float, total_norm: Tensor) -> None:
    """Scale the gradients in place by `max_norm / (total_norm + 1e-6)` where that is below 1."""
    total = total_norm.data
    coef = np.minimum(total.dtype.type(float(max_norm)) / (total + total.dtype.type(1e-6)), 1)
    if coef >= 1:  # scaling by exactly 1 changes nothing; a NaN coefficient still propagates, as in torch
        return
    for g in _grads(parameters):
        g *= coef.astype(g.dtype)


def clip_grad_norm_(parameters: TensorOrTensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Rescale the gradients of `parameters` in place so that their total norm is at most `max_norm`.

    The norm is taken over all gradients together as one vector (`norm_type` may be `inf`); returns that
    total norm, from before clipping, as a 0-d tensor. Raises RuntimeError for a NaN or infinite norm
    when `error_if_nonfinite`.
    """
    params = _as_list(parameters)
    total = get_total_norm([p.grad for p in params if p.grad is not None], norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_value_(parameters: TensorOrTensors, clip_value: float) -> None:
    """Clamp every gradient of `parameters` in place to `[-clip_value, clip_value]`."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)
