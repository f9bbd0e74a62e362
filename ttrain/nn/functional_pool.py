"""Stateless 2-D pooling: `max_pool2d`, `avg_pool2d`, `adaptive_avg_pool2d`, as in PyTorch.

Re-exported by `ttrain.nn.functional`. Inputs are (N, C, H, W), or unbatched (C, H, W).
"""

from __future__ import annotations

from ttrain.autograd.ops import conv as _conv
from ttrain.autograd.tensor import Tensor, ensure_tensor
from ttrain.autograd.window_geometry import IntPair
from ttrain.nn.functional_conv import batched, unbatched

__all__ = ["adaptive_avg_pool2d", "avg_pool2d", "max_pool2d"]


def max_pool2d(
    input: Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0, dilation: IntPair = 1
) -> Tensor:
    """Maximum over kh x kw windows of (N, C, H, W) input; stride defaults to the kernel size.

    Padding (at most half the kernel) never wins a window. Output size per axis:
    floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1.
    """
    x, added = batched(ensure_tensor(input), 4, "max_pool2d", "(N, C, H, W) or (C, H, W)")
    y = _conv.MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)
    return unbatched(y, added)


def avg_pool2d(
    input: Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0, *,
    count_include_pad: bool = True,
) -> Tensor:
    """Mean over kh x kw windows of (N, C, H, W) input; stride defaults to the kernel size.

    With `count_include_pad` (the default, as in torch) padding zeros count towards each mean.
    """
    x, added = batched(ensure_tensor(input), 4, "avg_pool2d", "(N, C, H, W) or (C, H, W)")
    y = _conv.AvgPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding,
                              count_include_pad=count_include_pad)
    return unbatched(y, added)


def adaptive_avg_pool2d(input: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Average pooling to a fixed output size (H_out, W_out); None keeps that input size, as in torch."""
    x, added = batched(ensure_tensor(input), 4, "adaptive_avg_pool2d", "(N, C, H, W) or (C, H, W)")
    ho, wo = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    size = (x.shape[2] if ho is None else int(ho), x.shape[3] if wo is None else int(wo))
    return unbatched(_conv.AdaptiveAvgPool2d.apply(x, output_size=size), added)
