"""Stateless pooling: `max_pool2d`, `avg_pool2d`, `adaptive_avg_pool2d`, `adaptive_max_pool2d`, and
`max_pool1d` on the 2-D kernel, as in PyTorch.

Re-exported by `ttrain.nn.functional`. Inputs are (N, C, H, W), or unbatched (C, H, W); `max_pool1d`
takes (N, C, L) or (C, L).
"""

from __future__ import annotations

from ttrain.autograd.op_table import amax, stack
from ttrain.autograd.ops import conv as _conv
from ttrain.autograd.tensor import Tensor, ensure_tensor
from ttrain.autograd.window_geometry import IntPair
from ttrain.nn.functional_conv import _single, batched, unbatched

__all__ = ["adaptive_avg_pool2d", "adaptive_max_pool2d", "avg_pool2d", "max_pool1d", "max_pool2d"]


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
    return unbatched(_conv.AdaptiveAvgPool2d.apply(x, output_size=_adaptive_size(x, output_size)), added)


def _adaptive_size(x: Tensor, output_size: int | tuple[int | None, int | None]) -> tuple[int, int]:
    ho, wo = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    return x.shape[2] if ho is None else int(ho), x.shape[3] if wo is None else int(wo)


def max_pool1d(
    input: Tensor, kernel_size: int | tuple[int], stride: int | tuple[int] | None = None,
    padding: int | tuple[int] = 0, dilation: int | tuple[int] = 1, ceil_mode: bool = False,
) -> Tensor:
    """Maximum over windows of `kernel_size` along the last axis of (N, C, L) input, as torch's.

    Runs the 2-D kernel on the (N, C, 1, L) view with a (1, kernel) window, which is exact: a 1-row
    window over a 1-row image with no row padding. `ceil_mode=True` is not supported.
    """
    if ceil_mode:
        raise ValueError("max_pool1d: ceil_mode=True is not supported")
    k = _single(kernel_size, "kernel_size", "max_pool1d")
    s = k if stride is None else _single(stride, "stride", "max_pool1d")
    p, d = _single(padding, "padding", "max_pool1d"), _single(dilation, "dilation", "max_pool1d")
    x, added = batched(ensure_tensor(input), 3, "max_pool1d", "(N, C, L) or (C, L)")
    y = _conv.MaxPool2d.apply(x.unsqueeze(2), kernel_size=(1, k), stride=(1, s), padding=(0, p), dilation=(1, d))
    return unbatched(y.squeeze(2), added)


def _cell(i: int, size: int, out: int) -> slice:
    """Input rows of adaptive output cell i: floor(i * size / out) to ceil((i + 1) * size / out)."""
    return slice(i * size // out, -(-(i + 1) * size // out))


def adaptive_max_pool2d(input: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Max pooling to a fixed output size (H_out, W_out), with PyTorch's cells; None keeps an input size.

    Composed from slicing and `amax`, one reduction per output cell: a global max (output 1) is one
    op, and the output sizes used in practice are small.
    """
    x, added = batched(ensure_tensor(input), 4, "adaptive_max_pool2d", "(N, C, H, W) or (C, H, W)")
    (ho, wo), (h, w) = _adaptive_size(x, output_size), x.shape[2:]
    if ho < 1 or wo < 1:
        raise ValueError(f"adaptive_max_pool2d: output_size must be positive, got {output_size!r}")
    rows = [
        stack([amax(x[:, :, _cell(i, h, ho), _cell(j, w, wo)], dim=(2, 3)) for j in range(wo)], dim=-1)
        for i in range(ho)
    ]
    return unbatched(stack(rows, dim=-2), added)
