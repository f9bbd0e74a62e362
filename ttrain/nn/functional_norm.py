"""Stateless normalisation: `batch_norm`, `layer_norm`, `group_norm`, as in PyTorch.

Re-exported by `ttrain.nn.functional`; all three run the one `Normalize` op over different layouts.
"""

from __future__ import annotations

from typing import Any, Sequence

from ttrain.autograd.ops import normalization as _norm
from ttrain.autograd.ops.errors import ShapeError
from ttrain.autograd.tensor import Tensor, ensure_tensor, unwrap

__all__ = ["batch_norm", "group_norm", "layer_norm"]


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation over axis 1 of (N, C) or (N, C, ...) input.

    Training: normalise with the batch's statistics and, when running_mean/running_var are given,
    update them in place (running = (1 - momentum) * running + momentum * batch, the variance
    unbiased). Eval: normalise with the running statistics.
    """
    x = ensure_tensor(input)
    shape = tuple(x.shape)
    layout = _norm.batch_norm_layout(shape)
    channels = (shape[1],)
    for name, value in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        _check_param("batch_norm", name, value, channels, shape)
    mean, var = unwrap(running_mean), unwrap(running_var)
    if training:
        if x.data.size // shape[1] < 2:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input {shape}")
        running = None if mean is None or var is None else (mean, var, momentum)
        return _norm.Normalize.apply(x, weight, bias, layout=layout, eps=eps, running=running)
    if mean is None or var is None:
        raise ValueError("batch_norm: running_mean and running_var are required when training=False")
    return _norm.Normalize.apply(x, weight, bias, layout=layout, eps=eps, stats=(mean, var))


def layer_norm(
    input: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None, bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the trailing `normalized_shape` dimensions, then scale and shift elementwise."""
    x = ensure_tensor(input)
    normalized = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    shape = tuple(x.shape)
    layout = _norm.layer_norm_layout(shape, normalized)
    _check_param("layer_norm", "weight", weight, normalized, shape)
    _check_param("layer_norm", "bias", bias, normalized, shape)
    if x.dtype.char in "fd" and x.size and all(p is None or p.dtype == x.dtype for p in (weight, bias)):
        return _norm.LayerNorm.apply(x, weight, bias, layout=layout, eps=eps)
    return _norm.Normalize.apply(x, weight, bias, layout=layout, eps=eps)


def group_norm(
    input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Normalise (N, C, ...) input over groups of C / num_groups channels per sample, then scale and shift per channel."""
    x = ensure_tensor(input)
    shape = tuple(x.shape)
    layout = _norm.group_norm_layout(shape, num_groups)
    _check_param("group_norm", "weight", weight, shape[1:2], shape)
    _check_param("group_norm", "bias", bias, shape[1:2], shape)
    return _norm.Normalize.apply(x, weight, bias, layout=layout, eps=eps)


def _check_param(op: str, name: str, value: Any, expected: tuple[int, ...], x_shape: tuple[int, ...]) -> None:
    if value is not None and tuple(value.shape) != tuple(expected):
        raise ShapeError(f"{op}: {name} has shape {tuple(value.shape)}, expected {tuple(expected)} for input {x_shape}")
