"""`ConvTranspose2d`: the transposed ("fractionally strided") convolution of decoders and upsamplers."""

from __future__ import annotations

from typing import Any

from ttrain.autograd.tensor import Tensor
from ttrain.nn import functional as F
from ttrain.nn.conv import _ConvNd, _tuple


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution over (N, C, H, W) input, with PyTorch's arguments and init.

    `weight` has PyTorch's layout (in_channels, out_channels / groups, kh, kw), so state dicts move
    both ways. Output size per axis: (size - 1) * stride - 2 * padding + dilation * (kernel - 1)
    + output_padding + 1; `output_padding` (smaller than the stride or the dilation) picks among
    the input sizes a strided `Conv2d` maps to the same output size.
    """

    _dims = 2
    _transposed = True
    output_padding: tuple[int, ...]

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, int] = 1,
        dtype: Any = None,
    ) -> None:
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair of ints, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, dtype)
        self.output_padding = _tuple(output_padding, 2, "output_padding", "ConvTranspose2d")
        if any(extra < 0 or extra >= max(s, d) for extra, s, d in zip(self.output_padding, self.stride, self.dilation)):
            raise ValueError(f"ConvTranspose2d: output_padding {self.output_padding} must be non-negative and smaller "
                             f"than the stride {self.stride} or the dilation {self.dilation}")

    def forward(self, input: Tensor) -> Tensor:
        """The transposed convolution of `input` (N, C, H, W) or (C, H, W)."""
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)
