"""Stateless convolutions, `conv1d` and `conv2d`, with PyTorch's names and argument orders.

Re-exported by `ttrain.nn.functional`. Images are (N, C, H, W) and sequences (N, C, L); an unbatched
(C, H, W) or (C, L) input is accepted where PyTorch accepts one and comes back unbatched (`batched`
and `unbatched`, shared with pooling). 1-D convolution runs the 2-D op on a height-1 view.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ttrain.autograd.ops import conv as _conv
from ttrain.autograd.ops.errors import ShapeError
from ttrain.autograd.tensor import Tensor, ensure_tensor
from ttrain.autograd.window_geometry import IntPair, pair

Padding2d = int | tuple[int, int] | str
Padding1d = int | tuple[int] | str

__all__ = ["conv1d", "conv2d"]


def batched(x: Tensor, ndim: int, op: str, shape_text: str) -> tuple[Tensor, bool]:
    """`x` with a batch axis (added to an unbatched input) and whether one was added."""
    if x.ndim == ndim:
        return x, False
    if x.ndim == ndim - 1:
        return x.unsqueeze(0), True
    raise ShapeError(f"{op}: expected an input of shape {shape_text}, got {tuple(x.shape)}")


def unbatched(y: Tensor, added: bool) -> Tensor:
    return y.squeeze(0) if added else y


def _single(value: Any, name: str, op: str) -> int:
    """An int or a 1-tuple of an int (PyTorch's 1-D layers accept both)."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    raise TypeError(f"{op}: {name} must be an int or a 1-tuple of an int, got {value!r}")


# ---- convolution ----------------------------------------------------------------------------
def _conv_nd(
    x: Tensor, weight: Tensor, bias: Tensor | None, stride: tuple[int, int], padding: Any,
    dilation: tuple[int, int], groups: int, op: str,
) -> Tensor:
    """2-D convolution of batched x with any padding: ints, "valid", or "same" (possibly uneven)."""
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride})")
            kernel = tuple(weight.shape[2:])
            (top, bottom), (left, right) = _conv.same_padding(kernel, dilation)
            if (top, left) != (bottom, right):
                # PyTorch's rule for an even total: the extra zero goes after (bottom / right).
                x = _conv.ZeroPad.apply(x, pads=((0, bottom - top), (0, right - left)))
            padding = (top, left)
        else:
            raise ValueError(f"{op}: padding must be an int, a tuple of ints, 'same' or 'valid', got {padding!r}")
    return _conv.Conv2d.apply(x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: Padding2d = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation of (N, C, H, W) input with weight (out, C/groups, kh, kw), as torch's.

    `padding` is an int, an (h, w) pair, "valid" (none) or "same" (output size = input size;
    stride 1 only).
    """
    x, added = batched(ensure_tensor(input), 4, "conv2d", "(N, C, H, W) or (C, H, W)")
    if weight.ndim != 4:
        raise ShapeError(f"conv2d: weight must have 4 dimensions (out, in/groups, kh, kw), got shape {tuple(weight.shape)}")
    y = _conv_nd(x, weight, bias, pair(stride, "stride", "conv2d", 1), padding, pair(dilation, "dilation", "conv2d", 1),
                 groups, "conv2d")
    return unbatched(y, added)


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int] = 1,
    padding: Padding1d = 0,
    dilation: int | tuple[int] = 1,
    groups: int = 1,
) -> Tensor:
    """1-D cross-correlation of (N, C, L) input with weight (out, C/groups, k), as torch's."""
    x, added = batched(ensure_tensor(input), 3, "conv1d", "(N, C, L) or (C, L)")
    if weight.ndim != 3:
        raise ShapeError(f"conv1d: weight must have 3 dimensions (out, in/groups, k), got shape {tuple(weight.shape)}")
    if not isinstance(padding, str):
        padding = (0, _single(padding, "padding", "conv1d"))
    stride2 = (1, _single(stride, "stride", "conv1d"))
    dilation2 = (1, _single(dilation, "dilation", "conv1d"))
    y = _conv_nd(x.unsqueeze(2), weight.unsqueeze(2), bias, stride2, padding, dilation2, groups, "conv1d")
    return unbatched(y.squeeze(2), added)
