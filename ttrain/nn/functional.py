"""Stateless forms of the layers and losses (`import ttrain.nn.functional as F`), as in PyTorch.

Losses on class indices, MSE and the two BCEs run as single fused ops (ttrain/autograd/ops/loss.py);
the rest is composed from primitive ops. Arguments after `target` (or after `weight`) are
keyword-only: PyTorch's legacy positional arguments would otherwise land in the wrong place.
Convolution, pooling and normalisation live in `functional_conv`, `functional_pool` and
`functional_norm` and are re-exported here, as are the activations and `flatten`, which are the
tensor ops' own public forms (one table: `ttrain.autograd.op_table`).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ttrain.autograd.creation import from_numpy
from ttrain.autograd.op_table import functional_forms
from ttrain.autograd.ops import loss as _loss
from ttrain.autograd.ops.arith import Mul, Where
from ttrain.autograd.ops.dropout import Dropout as _Dropout
from ttrain.autograd.ops.embedding import Embedding as _Embedding
from ttrain.autograd.ops.errors import ShapeError
from ttrain.autograd.ops.matmul import Linear as _Linear
from ttrain.autograd.tensor import Tensor, ensure_tensor, unwrap
from ttrain.nn.functional_activation import elu, hardtanh, mish, selu, silu  # noqa: F401  (re-exported)
from ttrain.nn.functional_conv import conv1d, conv2d  # noqa: F401  (re-exported: F.conv2d, ...)
from ttrain.nn.functional_conv_transpose import conv_transpose2d  # noqa: F401
from ttrain.nn.functional_norm import batch_norm, group_norm, layer_norm  # noqa: F401
from ttrain.nn.functional_pool import (  # noqa: F401
    adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool1d, max_pool2d,
)
from ttrain.random import Generator, resolve

Reduction = Literal["mean", "sum", "none"]

# relu, sigmoid, tanh, gelu, leaky_relu, softplus, softmax, log_softmax, flatten: the ops' own forms.
globals().update(functional_forms())


# ---- layers ---------------------------------------------------------------------------------
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias, with weight of shape (out_features, in_features)."""
    return _Linear.apply(input, weight, bias)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, generator: Generator | None = None) -> Tensor:
    """Zero each element with probability `p` and scale the rest by 1 / (1 - p) (inverted dropout).

    The mask is drawn from `generator` (the global seeded stream by default); identity when not
    training or when p == 0.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    x = ensure_tensor(input)
    if x.dtype.char in "fd" and x.ndim:
        seed = int(resolve(generator).integers(0, 1 << 64, dtype=np.uint64))
        return _Dropout.apply(x, p=p, seed=seed)
    return Mul.apply(x, _keep_mask(x, x.shape, p, generator))


def _keep_mask(x: Tensor, shape: tuple[int, ...], p: float, generator: Generator | None) -> np.ndarray:
    """1 / (1 - p) where a draw of `shape` keeps its element (probability 1 - p), else 0, in x's dtype."""
    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    keep = resolve(generator).random(shape, dtype=dtype) >= p
    return keep * np.asarray(1.0 / (1.0 - p) if p < 1.0 else 0.0, dtype=x.dtype)


def unflatten(input: Tensor, dim: int, sizes: tuple[int, ...]) -> Tensor:
    """Split dimension `dim` of input into `sizes` (one of them may be -1), as `torch.unflatten`."""
    x = ensure_tensor(input)
    if not -x.ndim <= dim < x.ndim:
        raise ShapeError(f"unflatten: dim {dim} is out of range for an input of shape {x.shape}")
    dim %= x.ndim
    known = int(np.prod([s for s in sizes if s != -1]))
    if list(sizes).count(-1) > 1 or (-1 not in sizes and known != x.shape[dim]) or (known and x.shape[dim] % known):
        raise ShapeError(f"unflatten: sizes {tuple(sizes)} do not split dimension {dim} of size {x.shape[dim]}")
    return x.reshape(x.shape[:dim] + tuple(sizes) + x.shape[dim + 1:])


# ---- losses ---------------------------------------------------------------------------------
def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _elementwise_pair(input: Any, target: Any, reduction: str, op: str) -> tuple[Tensor, Any]:
    """Check an elementwise loss's arguments; the target is cast to the input's dtype."""
    _loss.check_reduction(reduction, op)
    x = ensure_tensor(input)
    _loss.check_same_shape(x.data, unwrap(target), op)
    if isinstance(target, Tensor):
        if target.data.dtype != x.data.dtype:
            target = target.to(x.data.dtype)
    else:
        target = np.asarray(target, dtype=x.data.dtype)
    return x, target


def mse_loss(input: Tensor, target: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """Squared error (input - target) ** 2, reduced by `reduction`."""
    x, target = _elementwise_pair(input, target, reduction, "mse_loss")
    return _loss.MSE.apply(x, target, reduction=reduction)


def l1_loss(input: Tensor, target: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """Absolute error |input - target|, reduced by `reduction`."""
    x, target = _elementwise_pair(input, target, reduction, "l1_loss")
    return _reduce((x - target).abs(), reduction)


def huber_loss(input: Tensor, target: Tensor, *, reduction: Reduction = "mean", delta: float = 1.0) -> Tensor:
    """0.5 * d**2 where |d| < delta, else delta * (|d| - 0.5 * delta), for d = input - target."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x, target = _elementwise_pair(input, target, reduction, "huber_loss")
    diff = x - target
    size = diff.abs()
    loss = Where.apply(size.data < delta, 0.5 * diff * diff, delta * (size - 0.5 * delta))
    return _reduce(loss, reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, *, reduction: Reduction = "mean", beta: float = 1.0) -> Tensor:
    """0.5 * d**2 / beta where |d| < beta, else |d| - 0.5 * beta; plain L1 for beta == 0."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    x, target = _elementwise_pair(input, target, reduction, "smooth_l1_loss")
    diff = x - target
    size = diff.abs()
    loss = Where.apply(size.data < beta, (0.5 / beta) * diff * diff, size - 0.5 * beta)
    return _reduce(loss, reduction)


def _class_rows(x: Tensor, target: Any, op: str) -> tuple[Tensor, Any, tuple[int, ...]]:
    """Bring (N, C, d1, ...) inputs and (N, d1, ...) targets to (M, C) rows and (M,) targets.

    Returns the rows, the flat targets and the per-sample shape ('none' reshapes to it).
    """
    t = np.asarray(unwrap(target))
    if x.ndim == 0:
        raise ShapeError(f"{op}: input must have a class dimension, got a scalar")
    expected = x.shape[:1] + x.shape[2:] if x.ndim >= 2 else ()
    if t.shape != expected:
        raise ShapeError(
            f"{op}: input of shape {x.shape} needs class-index targets of shape {expected}, got target shape {t.shape}"
        )
    if x.ndim == 1:
        return x.reshape(1, -1), t.reshape(1), ()
    if x.ndim == 2:
        return x, t, expected
    moved = x.permute(0, *range(2, x.ndim), 1)  # classes last
    return moved.reshape(-1, x.shape[1]), t.reshape(-1), expected


def _per_sample(loss: Tensor, reduction: str, shape: tuple[int, ...]) -> Tensor:
    return loss.reshape(shape) if reduction == "none" and loss.shape != shape else loss


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    *,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between logits (N, C, d1, ...) and targets, as torch.nn.functional.cross_entropy.

    Integer targets of shape (N, d1, ...) are class indices (with class `weight`, `ignore_index`
    and `label_smoothing`; 'mean' divides by the summed weight of the counted samples). Float
    targets of the input's shape are class probabilities. Stable for any finite logits.
    """
    _loss.check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    x = ensure_tensor(input)
    if np.asarray(unwrap(target)).dtype.kind == "f":
        return _cross_entropy_probabilities(x, target, weight, reduction, label_smoothing)
    rows, flat_target, shape = _class_rows(x, target, "cross_entropy")
    loss = _loss.CrossEntropy.apply(
        rows, flat_target, weight=unwrap(weight), ignore_index=ignore_index,
        label_smoothing=label_smoothing, reduction=reduction,
    )
    return _per_sample(loss, reduction, shape)


def _cross_entropy_probabilities(x: Tensor, target: Any, weight: Any, reduction: str, label_smoothing: float) -> Tensor:
    """-sum_c w_c * t_c * log_softmax(x)_c over the class dimension, composed from primitives."""
    if np.shape(unwrap(target)) != x.shape:
        raise ShapeError(
            f"cross_entropy: probability targets must have the input's shape {x.shape}, got {np.shape(unwrap(target))}"
        )
    class_dim = 1 if x.ndim >= 2 else 0
    classes = x.shape[class_dim]
    target = ensure_tensor(target)
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    terms = x.log_softmax(class_dim) * target
    if weight is not None:
        w = _loss.class_weight(unwrap(weight), classes, "cross_entropy", x.data.dtype)
        terms = terms * w.reshape((classes,) + (1,) * (x.ndim - class_dim - 1))
    return _reduce(-terms.sum(dim=class_dim), reduction)


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    *,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
) -> Tensor:
    """Negative log-likelihood of log-probabilities (N, C, d1, ...) at class indices (N, d1, ...)."""
    _loss.check_reduction(reduction, "nll_loss")
    rows, flat_target, shape = _class_rows(ensure_tensor(input), target, "nll_loss")
    loss = _loss.NLL.apply(rows, flat_target, weight=unwrap(weight), ignore_index=ignore_index, reduction=reduction)
    return _per_sample(loss, reduction, shape)


def _broadcast_weight(weight: Any, x: Tensor, name: str, op: str) -> np.ndarray | None:
    if weight is None:
        return None
    w = np.asarray(unwrap(weight), dtype=x.data.dtype)
    try:
        fits = np.broadcast_shapes(w.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(f"{op}: {name} of shape {w.shape} does not broadcast to the input shape {x.shape}")
    return w


def binary_cross_entropy(
    input: Tensor, target: Tensor, weight: Tensor | None = None, *, reduction: Reduction = "mean"
) -> Tensor:
    """-w * (t log x + (1 - t) log(1 - x)) for probabilities x in [0, 1]; logs clamped at -100."""
    x, target = _elementwise_pair(input, target, reduction, "binary_cross_entropy")
    w = _broadcast_weight(weight, x, "weight", "binary_cross_entropy")
    return _loss.BinaryCrossEntropy.apply(x, target, weight=w, reduction=reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    *,
    reduction: Reduction = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Sigmoid plus binary cross-entropy in one stable op; `pos_weight` scales the positive term."""
    x, target = _elementwise_pair(input, target, reduction, "binary_cross_entropy_with_logits")
    w = _broadcast_weight(weight, x, "weight", "binary_cross_entropy_with_logits")
    pw = _broadcast_weight(pos_weight, x, "pos_weight", "binary_cross_entropy_with_logits")
    return _loss.BinaryCrossEntropyWithLogits.apply(x, target, weight=w, pos_weight=pw, reduction=reduction)


KL_REDUCTIONS = ("mean", "batchmean", "sum", "none")


def kl_div(
    input: Tensor, target: Tensor, *, reduction: Literal["mean", "batchmean", "sum", "none"] = "mean",
    log_target: bool = False,
) -> Tensor:
    """Kullback-Leibler divergence of `target` from log-probabilities `input`, as torch's kl_div.

    Pointwise target * (log(target) - input), taken as 0 where target is 0; with `log_target` the
    target holds log-probabilities: exp(target) * (target - input). 'batchmean' divides the sum by
    the batch size (the true KL divergence); 'mean', PyTorch's default, divides by the element count.
    """
    if reduction not in KL_REDUCTIONS:
        raise ValueError(f"kl_div: reduction must be one of {', '.join(map(repr, KL_REDUCTIONS))}, not {reduction!r}")
    x, target = _elementwise_pair(input, target, "none", "kl_div")  # reduction checked above
    t = ensure_tensor(target)
    if log_target:
        pointwise = t.exp() * (t - x)
    else:
        positive = t.data > 0
        # log of 1 where the target is 0: the term is 0 there, with no 0 * -inf in forward or backward.
        pointwise = t * (Where.apply(positive, t, np.ones((), dtype=t.data.dtype)).log() - x)
    if reduction == "batchmean":
        return pointwise.sum() / (x.shape[0] if x.ndim else 1)
    return _reduce(pointwise, reduction)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding of class indices: shape (*tensor.shape, num_classes).

    `num_classes=-1` takes the largest index plus one.
    """
    indices = np.asarray(unwrap(tensor))
    if indices.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expects integer class indices, got {indices.dtype}")
    if num_classes == -1:
        num_classes = int(indices.max()) + 1 if indices.size else 0
    if indices.size and (indices.min() < 0 or indices.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got {indices.min()}..{indices.max()}")
    return from_numpy(np.eye(num_classes, dtype=np.int64)[indices])


# ---- channel dropout, embedding -------------------------------------------------------------------
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
    x = ensure_tensor(input)
    if x.ndim not in (3, 4):
        raise ShapeError(f"dropout2d: expected an input of shape (N, C, H, W) or (N, C, L), got {tuple(x.shape)}")
    if not training or p == 0.0:
        return x
    mask = _keep_mask(x, x.shape[:2], p, generator).reshape(x.shape[:2] + (1,) * (x.ndim - 2))
    return Mul.apply(x, mask)


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of `weight` (num_embeddings, dim) looked up by integer `input`: shape input.shape + (dim,).

    The row at `padding_idx` receives no gradient.
    """
    if padding_idx is not None:
        padding_idx = normalize_padding_idx(padding_idx, weight.shape[0])
    return _Embedding.apply(unwrap(input), weight, padding_idx=padding_idx)


def normalize_padding_idx(padding_idx: int, num_embeddings: int) -> int:
    """(Shared with `nn.Embedding`.) A padding index in [-num_embeddings, num_embeddings) as a non-negative row number."""
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"embedding: padding_idx {padding_idx} must be within num_embeddings ({num_embeddings})")
    return padding_idx % num_embeddings
