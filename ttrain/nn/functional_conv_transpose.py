"""`conv_transpose2d` (the gradient of `conv2d` with respect to its input), composed from primitives.

Re-exported by `ttrain.nn.functional`. A transposed convolution with stride s, padding p and
dilation d equals a stride-1 `conv2d` of the input with s - 1 zeros inserted between neighbours,
padded by d * (kh - 1) - p on each side (plus `output_padding` at the bottom and right), with the
kernel flipped and its in/out axes swapped. Zeros, padding and the flip are shape ops, so the
gradients come from `conv2d`'s and theirs; no backward of its own. Not fused: it costs up to s^2
times a plain convolution's work, which is fine for the decoders and upsamplers it is used in.
"""

from __future__ import annotations

import numpy as np

from ttrain.autograd.op_table import cat, stack
from ttrain.autograd.ops.errors import ShapeError
from ttrain.autograd.tensor import Tensor, ensure_tensor
from ttrain.autograd.window_geometry import IntPair, pair
from ttrain.nn.functional_conv import batched, conv2d, unbatched

__all__ = ["conv_transpose2d"]


def _zeros_like_along(x: Tensor, axis: int, size: int) -> Tensor:
    shape = list(x.shape)
    shape[axis] = size
    return Tensor(np.zeros(shape, dtype=x.dtype))


def _spread(x: Tensor, axis: int, stride: int) -> Tensor:
    """x with stride - 1 zeros between neighbours along `axis`: size n becomes (n - 1) * stride + 1."""
    if stride == 1 or x.shape[axis] == 0:
        return x
    zeros = _zeros_like_along(x, axis, x.shape[axis])
    interleaved = stack([x] + [zeros] * (stride - 1), dim=axis + 1)
    merged = interleaved.reshape(x.shape[:axis] + (x.shape[axis] * stride,) + x.shape[axis + 1:])
    keep = [slice(None)] * x.ndim
    keep[axis] = slice(0, (x.shape[axis] - 1) * stride + 1)
    return merged[tuple(keep)]


def _pad_or_crop(x: Tensor, axis: int, before: int, after: int) -> Tensor:
    """Zeros added (positive) or entries removed (negative) at each end of `axis`."""
    keep = [slice(None)] * x.ndim
    keep[axis] = slice(max(-before, 0), x.shape[axis] - max(-after, 0))
    x = x[tuple(keep)] if before < 0 or after < 0 else x
    parts = [_zeros_like_along(x, axis, before)] if before > 0 else []
    parts.append(x)
    if after > 0:
        parts.append(_zeros_like_along(x, axis, after))
    return cat(parts, dim=axis) if len(parts) > 1 else x


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    groups: int = 1,
    dilation: IntPair = 1,
) -> Tensor:
    """Transposed 2-D convolution of (N, C_in, H, W) input with weight (C_in, C_out / groups, kh, kw), as torch's.

    Output size per axis: (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1;
    `output_padding` must be smaller than the stride or the dilation.
    """
    op = "conv_transpose2d"
    x, added = batched(ensure_tensor(input), 4, op, "(N, C, H, W) or (C, H, W)")
    if weight.ndim != 4:
        raise ShapeError(f"{op}: weight must have 4 dimensions (in, out/groups, kh, kw), got shape {tuple(weight.shape)}")
    c_in, c_out_group, kh, kw = weight.shape
    if groups < 1 or c_in % groups or x.shape[1] != c_in:
        raise ShapeError(f"{op}: input with {x.shape[1]} channels does not fit weight {tuple(weight.shape)} "
                         f"with groups={groups}")
    strides, paddings = pair(stride, "stride", op, 1), pair(padding, "padding", op, 0)
    extras, dilations = pair(output_padding, "output_padding", op, 0), pair(dilation, "dilation", op, 1)
    for extra, s, d in zip(extras, strides, dilations):
        if extra >= max(s, d):
            raise ValueError(
                f"{op}: output_padding {extras} must be smaller than the stride {strides} or the dilation {dilations}"
            )
    for axis, (k, s, p, extra, d) in enumerate(zip((kh, kw), strides, paddings, extras, dilations), start=2):
        x = _pad_or_crop(_spread(x, axis, s), axis, d * (k - 1) - p, d * (k - 1) - p + extra)
    # (in, out/g, kh, kw) -> (out, in/g, kh, kw), flipped in space: conv2d's layout for the same map.
    grouped = weight.reshape(groups, c_in // groups, c_out_group, kh, kw).permute(0, 2, 1, 3, 4)
    flipped = grouped.reshape(groups * c_out_group, c_in // groups, kh, kw)[:, :, ::-1, ::-1]
    return unbatched(conv2d(x, flipped, bias, 1, 0, dilations, groups), added)
