"""Stateless forms of the convolution, pooling, normalisation, channel-dropout and embedding layers.

Re-exported by `ttrain.nn.functional`, with PyTorch's names and argument orders. Images are
(N, C, H, W) and sequences (N, C, L); an unbatched (C, H, W) or (C, L) input is accepted where
PyTorch accepts one and comes back unbatched. 1-D convolution runs the 2-D op on a height-1 view.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ttrain.autograd.window_geometry import pair
from ttrain.autograd.ops import conv as _conv
from ttrain.autograd.ops import normalization as _norm
from ttrain.autograd.ops.arith import Mul
from ttrain.autograd.ops.embedding import Embedding as _Embedding
from ttrain.autograd.ops.errors import ShapeError
from ttrain.autograd.tensor import Tensor
from ttrain.random import Generator, resolve

IntPair = int | tuple[int, int]
Padding2d = int | tuple[int, int] | str
Padding1d = int | tuple[int] | str

__all__ = [
    "adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "conv1d", "conv2d", "dropout2d", "embedding", "group_norm",
    "layer_norm", "max_pool2d",
]


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _array(x: Any) -> np.ndarray | None:
    return x.data if isinstance(x, Tensor) else x


def _batched(x: Tensor, ndim: int, op: str, shape_text: str) -> tuple[Tensor, bool]:
    """`x` with a batch axis (added to an unbatched input) and whether one was added."""
    if x.ndim == ndim:
        return x, False
    if x.ndim == ndim - 1:
        return x.unsqueeze(0), True
    raise ShapeError(f"{op}: expected an input of shape {shape_text}, got {tuple(x.shape)}")


def _unbatched(y: Tensor, added: bool) -> Tensor:
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
    x, added = _batched(_tensor(input), 4, "conv2d", "(N, C, H, W) or (C, H, W)")
    if weight.ndim != 4:
        raise ShapeError(f"conv2d: weight must have 4 dimensions (out, in/groups, kh, kw), got shape {tuple(weight.shape)}")
    y = _conv_nd(x, weight, bias, pair(stride, "stride", "conv2d", 1), padding, pair(dilation, "dilation", "conv2d", 1),
                 groups, "conv2d")
    return _unbatched(y, added)


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
    x, added = _batched(_tensor(input), 3, "conv1d", "(N, C, L) or (C, L)")
    if weight.ndim != 3:
        raise ShapeError(f"conv1d: weight must have 3 dimensions (out, in/groups, k), got shape {tuple(weight.shape)}")
    if not isinstance(padding, str):
        padding = (0, _single(padding, "padding", "conv1d"))
    stride2 = (1, _single(stride, "stride", "conv1d"))
    dilation2 = (1, _single(dilation, "dilation", "conv1d"))
    y = _conv_nd(x.unsqueeze(2), weight.unsqueeze(2), bias, stride2, padding, dilation2, groups, "conv1d")
    return _unbatched(y.squeeze(2), added)


# ---- pooling --------------------------------------------------------------------------------
def max_pool2d(
    input: Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0, dilation: IntPair = 1
) -> Tensor:
    """Maximum over kh x kw windows of (N, C, H, W) input; stride defaults to the kernel size.

    Padding (at most half the kernel) never wins a window. Output size per axis:
    floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1.
    """
    x, added = _batched(_tensor(input), 4, "max_pool2d", "(N, C, H, W) or (C, H, W)")
    y = _conv.MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)
    return _unbatched(y, added)


def avg_pool2d(
    input: Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0, *,
    count_include_pad: bool = True,
) -> Tensor:
    """Mean over kh x kw windows of (N, C, H, W) input; stride defaults to the kernel size.

    With `count_include_pad` (the default, as in torch) padding zeros count towards each mean.
    """
    x, added = _batched(_tensor(input), 4, "avg_pool2d", "(N, C, H, W) or (C, H, W)")
    y = _conv.AvgPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding,
                              count_include_pad=count_include_pad)
    return _unbatched(y, added)


def adaptive_avg_pool2d(input: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Average pooling to a fixed output size (H_out, W_out); None keeps that input size, as in torch."""
    x, added = _batched(_tensor(input), 4, "adaptive_avg_pool2d", "(N, C, H, W) or (C, H, W)")
    ho, wo = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    size = (x.shape[2] if ho is None else int(ho), x.shape[3] if wo is None else int(wo))
    return _unbatched(_conv.AdaptiveAvgPool2d.apply(x, output_size=size), added)


# ---- normalisation --------------------------------------------------------------------------
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
    x = _tensor(input)
    shape = tuple(x.shape)
    layout = _norm.batch_norm_layout(shape)
    channels = (shape[1],)
    for name, value in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        _check_param("batch_norm", name, value, channels, shape)
    mean, var = _array(running_mean), _array(running_var)
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
    x = _tensor(input)
    normalized = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    shape = tuple(x.shape)
    layout = _norm.layer_norm_layout(shape, normalized)
    _check_param("layer_norm", "weight", weight, normalized, shape)
    _check_param("layer_norm", "bias", bias, normalized, shape)
    return _norm.Normalize.apply(x, weight, bias, layout=layout, eps=eps)


def group_norm(
    input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Normalise (N, C, ...) input over groups of C / num_groups channels per sample, then scale and shift per channel."""
    x = _tensor(input)
    shape = tuple(x.shape)
    layout = _norm.group_norm_layout(shape, num_groups)
    _check_param("group_norm", "weight", weight, shape[1:2], shape)
    _check_param("group_norm", "bias", bias, shape[1:2], shape)
    return _norm.Normalize.apply(x, weight, bias, layout=layout, eps=eps)


def _check_param(op: str, name: str, value: Any, expected: tuple[int, ...], x_shape: tuple[int, ...]) -> None:
    if value is not None and tuple(value.shape) != tuple(expected):
        raise ShapeError(f"{op}: {name} has shape {tuple(value.shape)}, expected {tuple(expected)} for input {x_shape}")


# ---- dropout2d, embedding -------------------------------------------------------------------
def dropout2d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, generator: Generator | None = None
) -> Tensor:
    """Zero whole channels with probability `p` and scale the rest by 1 / (1 - p).

    One draw per (sample, channel) of (N, C, H, W) input; a 3-D input is taken as (N, C, L), as
    PyTorch 2 does. Masks come from `generator` (the global seeded stream by default). `inplace`
    is accepted for compatibility; the result is computed out of place.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: probability has to be between 0 and 1, but got {p}")
    x = _tensor(input)
    if x.ndim not in (3, 4):
        raise ShapeError(f"dropout2d: expected an input of shape (N, C, H, W) or (N, C, L), got {tuple(x.shape)}")
    if not training or p == 0.0:
        return x
    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    keep = resolve(generator).random(x.shape[:2], dtype=dtype) >= p
    scale = np.asarray(1.0 / (1.0 - p) if p < 1.0 else 0.0, dtype=x.dtype)
    mask = (keep * scale).reshape(x.shape[:2] + (1,) * (x.ndim - 2))
    return Mul.apply(x, mask)


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of `weight` (num_embeddings, dim) looked up by integer `input`: shape input.shape + (dim,).

    The row at `padding_idx` receives no gradient.
    """
    if padding_idx is not None:
        padding_idx = normalize_padding_idx(padding_idx, weight.shape[0])
    return _Embedding.apply(_array(input), weight, padding_idx=padding_idx)


def normalize_padding_idx(padding_idx: int, num_embeddings: int) -> int:
    """(Shared with `nn.Embedding`.) A padding index in [-num_embeddings, num_embeddings) as a non-negative row number."""
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"embedding: padding_idx {padding_idx} must be within num_embeddings ({num_embeddings})")
    return padding_idx % num_embeddings
