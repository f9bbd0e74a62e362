"""Convolution layers: `Conv2d` and `Conv1d`, their state held in one `_ConvNd` base (as PyTorch's)."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from ttrain.autograd.tensor import Tensor
from ttrain.nn import functional as F
from ttrain.nn import init
from ttrain.nn.module import Module
from ttrain.nn.parameter import Parameter

PaddingMode = Literal["same", "valid"]


def _tuple(value: Any, n: int, name: str, layer: str) -> tuple[int, ...]:
    """An int (repeated n times) or a sequence of n ints, as a tuple."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * n
    if isinstance(value, (tuple, list)) and len(value) == n and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
    ):
        return tuple(int(v) for v in value)
    raise TypeError(f"{layer}: {name} must be an int or a tuple of {n} ints, got {value!r}")


def _positive_int(value: Any, name: str, layer: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return int(value)


class _ConvNd(Module):
    """What every convolution layer holds: sizes, window settings, weight (out, in/groups, *kernel), bias.

    Subclasses say how many spatial dimensions they have (`_dims`) and which functional they call.
    """

    inferred_args = {"in_channels": "channels"}

    _dims: int = 0
    _transposed: bool = False  # weight (in, out/groups, *kernel), as PyTorch's transposed convolutions
    in_channels: int
    out_channels: int
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...] | str
    dilation: tuple[int, ...]
    groups: int
    weight: Parameter
    bias: Parameter | None

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        groups: int,
        bias: bool,
        dtype: Any,
    ) -> None:
        super().__init__()
        layer, n = type(self).__name__, self._dims
        self.in_channels = _positive_int(in_channels, "in_channels", layer)
        self.out_channels = _positive_int(out_channels, "out_channels", layer)
        self.groups = _positive_int(groups, "groups", layer)
        if self.in_channels % self.groups:
            raise ValueError(f"{layer}: in_channels={in_channels} must be divisible by groups={groups}")
        if self.out_channels % self.groups:
            raise ValueError(f"{layer}: out_channels={out_channels} must be divisible by groups={groups}")
        self.kernel_size = _tuple(kernel_size, n, "kernel_size", layer)
        self.stride = _tuple(stride, n, "stride", layer)
        self.dilation = _tuple(dilation, n, "dilation", layer)
        for name in ("kernel_size", "stride", "dilation"):
            if min(getattr(self, name)) < 1:
                raise ValueError(f"{layer}: {name} must be positive, got {getattr(self, name)}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{layer}: padding must be an int, a tuple of ints, 'same' or 'valid', got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{layer}: padding='same' is not supported for strided convolutions (stride={self.stride})")
            self.padding = padding
        else:
            self.padding = _tuple(padding, n, "padding", layer)
            if min(self.padding) < 0:
                raise ValueError(f"{layer}: padding must be non-negative, got {self.padding}")
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        channels = (self.in_channels, self.out_channels) if self._transposed else (self.out_channels, self.in_channels)
        shape = (channels[0], channels[1] // self.groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) for the weight, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
        and the same bound for the bias (fan_in = in_channels / groups * kernel elements)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.data[0].size
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._dims:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            text += f", dilation={self.dilation}"
        if self._transposed and self.output_padding != (0,) * self._dims:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) input (cross-correlation, as in PyTorch).

    `weight` has PyTorch's layout (out_channels, in_channels / groups, kh, kw). `padding` is an
    int, an (h, w) pair, 'valid' (none) or 'same' (output keeps the input's size; stride 1 only).
    Output size per axis: floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1.
    """

    _dims = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | PaddingMode = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, dtype)

    def forward(self, input: Tensor) -> Tensor:
        """The convolution of `input` (N, C, H, W) or (C, H, W)."""
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) input; weight (out_channels, in_channels / groups, k)."""

    _dims = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int | PaddingMode = 0,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, dtype)

    def forward(self, input: Tensor) -> Tensor:
        """The convolution of `input` (N, C, L) or (C, L)."""
        return F.conv1d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
