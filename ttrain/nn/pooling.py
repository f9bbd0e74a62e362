"""Pooling layers: `MaxPool2d`, `AvgPool2d` (sharing `_Pool2d`), `MaxPool1d`, `AdaptiveAvgPool2d`, `AdaptiveMaxPool2d`.

No parameters.
"""

from __future__ import annotations

from ttrain.autograd.tensor import Tensor
from ttrain.autograd.window_geometry import IntPair, window2d
from ttrain.nn import functional as F
from ttrain.nn.functional_conv import _single
from ttrain.nn.module import Module


class _Pool2d(Module):
    """Window settings shared by the 2-D pooling layers, checked when the layer is built."""

    kernel_size: IntPair
    stride: IntPair
    padding: IntPair

    def __init__(self, kernel_size: IntPair, stride: IntPair | None, padding: IntPair, dilation: IntPair = 1) -> None:
        super().__init__()
        window2d(type(self).__name__, kernel_size, kernel_size if stride is None else stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride  # as in PyTorch
        self.padding = padding

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Maximum over each kernel_size window of (N, C, H, W) input.

    Output size per axis: floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
    padding is at most half the kernel and never wins a window.
    """

    dilation: IntPair

    def __init__(
        self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0, dilation: IntPair = 1
    ) -> None:
        super().__init__(kernel_size, stride, padding, dilation)
        self.dilation = dilation

    def forward(self, input: Tensor) -> Tensor:
        """Max-pooled `input`."""
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", dilation={self.dilation}"


class AvgPool2d(_Pool2d):
    """Mean over each kernel_size window of (N, C, H, W) input (output size as for MaxPool2d, dilation 1).

    With `count_include_pad` (the default) padding zeros count towards each mean. It is keyword-only:
    PyTorch's fourth positional argument is `ceil_mode`, which ttrain does not have.
    """

    count_include_pad: bool

    def __init__(
        self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0, *, count_include_pad: bool = True
    ) -> None:
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        """Average-pooled `input`."""
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, count_include_pad=self.count_include_pad)


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed (H_out, W_out) whatever the input size (None keeps an input size).

    Output cell i covers input rows floor(i * H / H_out) to ceil((i + 1) * H / H_out), as in PyTorch;
    `AdaptiveAvgPool2d(1)` is global average pooling.
    """

    output_size: int | tuple[int | None, int | None]

    def __init__(self, output_size: int | tuple[int | None, int | None]) -> None:
        super().__init__()
        _check_output_size("AdaptiveAvgPool2d", output_size)
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        """`input` pooled to `output_size`."""
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class MaxPool1d(Module):
    """Maximum over each kernel_size window along the last axis of (N, C, L) input.

    Output length: floor((L + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1; padding is
    at most half the kernel and never wins a window. `ceil_mode=True` is not supported.
    """

    def __init__(
        self, kernel_size: int, stride: int | None = None, padding: int = 0, dilation: int = 1, ceil_mode: bool = False
    ) -> None:
        super().__init__()
        if ceil_mode:
            raise ValueError("MaxPool1d: ceil_mode=True is not supported")
        kernel_size, padding, dilation = (_single(v, name, "MaxPool1d") for v, name in (
            (kernel_size, "kernel_size"), (padding, "padding"), (dilation, "dilation")))
        stride = kernel_size if stride is None else _single(stride, "stride", "MaxPool1d")  # as in PyTorch
        window2d("MaxPool1d", (1, kernel_size), (1, stride), (0, padding), (1, dilation))
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Tensor:
        """Max-pooled `input`."""
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed (H_out, W_out) whatever the input size (None keeps an input size).

    Cells as for AdaptiveAvgPool2d; `AdaptiveMaxPool2d(1)` is global max pooling. `return_indices`
    is not supported.
    """

    output_size: int | tuple[int | None, int | None]

    def __init__(self, output_size: int | tuple[int | None, int | None], return_indices: bool = False) -> None:
        super().__init__()
        if return_indices:
            raise ValueError("AdaptiveMaxPool2d: return_indices=True is not supported")
        _check_output_size("AdaptiveMaxPool2d", output_size)
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        """`input` max-pooled to `output_size`."""
        return F.adaptive_max_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


def _check_output_size(layer: str, output_size: int | tuple[int | None, int | None]) -> None:
    sizes = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != 2 or any(s is not None and (not isinstance(s, int) or s < 1) for s in sizes):
        raise ValueError(f"{layer}: output_size must be a positive int or a pair of them (or None), got {output_size!r}")
