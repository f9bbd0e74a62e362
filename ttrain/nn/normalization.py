"""Normalisation layers: `BatchNorm1d`, `BatchNorm2d` (sharing `_BatchNorm`), `LayerNorm`, `GroupNorm`.

State-dict names and layouts are PyTorch's: `weight`, `bias` (C,), and for batch norm the buffers
`running_mean`, `running_var` (C,) and `num_batches_tracked` (a 0-d int64).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ttrain.autograd.tensor import Tensor
from ttrain.nn import functional as F
from ttrain.nn import init
from ttrain.nn.module import Module
from ttrain.nn.parameter import Parameter


def _positive_int(value: Any, name: str, layer: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _affine_parameters(module: Module, shape: tuple[int, ...], enabled: bool, dtype: Any, bias: bool = True) -> None:
    """Register `weight` (ones) and `bias` (zeros) of `shape`, or None placeholders (`bias=False`: no bias)."""
    dtype = np.dtype(np.float32 if dtype is None else dtype)
    if enabled:
        module.weight = Parameter(np.ones(shape, dtype=dtype))
    else:
        module.register_parameter("weight", None)
    if enabled and bias:
        module.bias = Parameter(np.zeros(shape, dtype=dtype))
    else:
        module.register_parameter("bias", None)


def _reset_affine(module: Module) -> None:
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _BatchNorm(Module):
    """Batch normalisation over axis 1, with running statistics for evaluation.

    Training: normalise with the batch's mean and (biased) variance, and update the running
    statistics: running = (1 - momentum) * running + momentum * batch, with the unbiased batch
    variance; `momentum=None` gives the cumulative average instead. Evaluation: normalise with the
    running statistics (or with the batch's when `track_running_stats=False`).
    """

    inferred_args = {"num_features": "channels"}

    _input_dims: tuple[int, ...] = ()
    num_features: int
    eps: float
    momentum: float | None
    affine: bool
    track_running_stats: bool

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        layer = type(self).__name__
        self.num_features = _positive_int(num_features, "num_features", layer)
        if eps <= 0:
            raise ValueError(f"{layer}: eps must be positive, got {eps}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{layer}: momentum must be in [0, 1] or None, got {momentum}")
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _affine_parameters(self, (self.num_features,), affine, dtype, bias)
        if track_running_stats:
            float_dtype = np.dtype(np.float32 if dtype is None else dtype)
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype=float_dtype)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype=float_dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), dtype=np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        """Reset the running statistics, weight to ones and bias to zeros."""
        self.reset_running_stats()
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        """`input` normalised per channel (axis 1)."""
        if input.ndim not in self._input_dims:
            wanted = " or ".join(f"{d}D" for d in self._input_dims)
            raise ValueError(f"{type(self).__name__}: expected {wanted} input, got {input.ndim}D input of shape {tuple(input.shape)}")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data[...] += 1
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked.data)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch_stats,
            momentum,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None or not self.affine}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) or (N, C, L) input, per channel C (see `_BatchNorm`)."""

    _input_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W) input, per channel C (see `_BatchNorm`)."""

    _input_dims = (4,)


class LayerNorm(Module):
    """Normalise each sample over its trailing `normalized_shape` dimensions, then scale and shift elementwise."""

    inferred_args = {"normalized_shape": "last"}

    normalized_shape: tuple[int, ...]
    eps: float
    elementwise_affine: bool

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape = tuple(_positive_int(n, "normalized_shape", "LayerNorm") for n in shape)
        if not self.normalized_shape:
            raise ValueError("LayerNorm: normalized_shape must not be empty")
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, dtype, bias)

    def reset_parameters(self) -> None:
        """Weight to ones, bias to zeros."""
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        """`input` normalised over its last len(normalized_shape) dimensions."""
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None or not self.elementwise_affine}")


class GroupNorm(Module):
    """Normalise each sample over groups of num_channels / num_groups channels, then scale and shift per channel."""

    inferred_args = {"num_channels": "channels"}

    num_groups: int
    num_channels: int
    eps: float
    affine: bool

    def __init__(
        self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, dtype: Any = None, *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_groups = _positive_int(num_groups, "num_groups", "GroupNorm")
        self.num_channels = _positive_int(num_channels, "num_channels", "GroupNorm")
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels={num_channels} must be divisible by num_groups={num_groups}")
        self.eps = eps
        self.affine = affine
        _affine_parameters(self, (self.num_channels,), affine, dtype, bias)

    def reset_parameters(self) -> None:
        """Weight to ones, bias to zeros."""
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        """`input` (N, C, ...) group-normalised."""
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.bias is not None or not self.affine}"
