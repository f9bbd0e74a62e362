"""Fused loss ops: each computes a whole loss (and its reduction) in one forward and one backward.

Cross-entropy on class indices is the hot path of every classifier and MSE that of the seed
network: one op instead of four to six composite ones. BCE needs its own op for correctness too
(PyTorch's clamped logs would give a 0/0 gradient if composed), and BCE-with-logits for stability.
Each has a composite reference (`nll_loss(log_softmax(x))`, `((x - y) ** 2).mean()`, ...) that
tests hold it to.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ttrain.autograd.function import Function
from ttrain.autograd.ops.activation import stable_sigmoid
from ttrain.autograd.ops.errors import ShapeError

REDUCTIONS = ("mean", "sum", "none")

# PyTorch's BCE clamps each log term to >= -100 and each gradient denominator to >= 1e-12.
_LOG_FLOOR = -100.0
_BCE_EPS = 1e-12


def check_reduction(reduction: str, op: str) -> None:
    """Raise a clear ValueError for a reduction other than 'mean', 'sum' or 'none'."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


def check_same_shape(input: np.ndarray, target: np.ndarray, op: str) -> None:
    """Elementwise losses compare like with like: a (N, 1) input against an (N,) target is a bug."""
    if type(input) is np.ndarray and type(target) is np.ndarray:  # the hot path, without np.shape calls
        if input.shape == target.shape:
            return
    elif np.shape(input) == np.shape(target):
        return
    raise ShapeError(f"{op}: input shape {np.shape(input)} and target shape {np.shape(target)} differ")


def _reduce(loss: np.ndarray, reduction: str, denominator: Any) -> np.ndarray:
    """Reduce per-element losses; a mean over nothing (every sample ignored) is nan, as in PyTorch."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    return total / denominator if denominator else total * np.nan


def _grad_scale(grad: np.ndarray, reduction: str, denominator: Any) -> Any:
    """d(reduced loss)/d(per-element loss): a scalar for mean/sum, the array itself for 'none'."""
    if reduction == "mean":
        return grad / denominator if denominator else grad * 0
    return grad


def class_targets(
    target: np.ndarray, num_classes: int, weight: np.ndarray | None, ignore_index: int, op: str, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Validate class indices; return (safe targets, per-sample weights, counted mask).

    Ignored samples get target 0, weight 0 and mask False. Weights and mask are None when every
    sample counts once and nothing is ignored, which keeps the common case on the short path.
    """
    target = np.asarray(target)
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: class-index targets must be integers, got {target.dtype}")
    target = target.astype(np.int64, copy=False)
    # Viewed as unsigned, negative targets become huge, so one comparison finds every bad index.
    out_of_range = target.view(np.uint64) >= num_classes
    ignored = target == ignore_index if 0 <= ignore_index < num_classes or out_of_range.any() else None
    if ignored is not None:
        bad = out_of_range & ~ignored
        if bad.any():
            raise IndexError(f"{op}: target {int(target[bad][0])} is out of bounds for {num_classes} classes")
        if ignored.any():
            target = np.where(ignored, 0, target)
        else:
            ignored = None
    if weight is None and ignored is None:
        return target, None, None
    per_sample = weight[target] if weight is not None else np.ones(target.shape, dtype=dtype)
    if ignored is None:
        return target, per_sample, None
    counted = ~ignored
    return target, per_sample * counted, counted


def class_weight(weight: Any, num_classes: int, op: str, dtype: np.dtype) -> np.ndarray | None:
    """The (C,) class-weight array in the input's dtype, or None."""
    if weight is None:
        return None
    weight = np.asarray(weight, dtype=dtype)
    if weight.shape != (num_classes,):
        raise ShapeError(f"{op}: weight of shape {weight.shape} must have one entry per class: ({num_classes},)")
    return weight


class CrossEntropy(Function):
    """Cross-entropy of (N, C) logits against (N,) class indices: log-softmax and NLL in one op.

    Matches torch.nn.functional.cross_entropy with class weights, ignore_index and label smoothing
    (mean divides by the summed weights of the counted samples).
    """

    @staticmethod
    def forward(ctx, logits, target, weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
        n, c = logits.shape
        weight = class_weight(weight, c, "cross_entropy", logits.dtype)
        target, per_sample, counted = class_targets(target, c, weight, ignore_index, "cross_entropy", logits.dtype)
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        sum_exp = exp.sum(axis=1)
        log_sum_exp = np.log(sum_exp)
        rows = np.arange(n)
        loss = log_sum_exp - shifted[rows, target]  # -log p[target], finite for any finite logits
        if per_sample is not None:
            loss *= per_sample
        if label_smoothing:
            # The uniform part: -sum_c w_c log p_c = sum(w) * logsumexp - sum_c w_c * shifted_c
            if weight is None:
                smooth = c * log_sum_exp - shifted.sum(axis=1)
            else:
                smooth = weight.sum() * log_sum_exp - shifted @ weight
            if counted is not None:
                smooth *= counted
            loss = (1 - label_smoothing) * loss + (label_smoothing / c) * smooth
        denominator = n if per_sample is None else per_sample.sum()
        ctx.save_for_backward(exp, sum_exp, target, per_sample, counted, weight)
        ctx.settings = (label_smoothing, reduction, denominator)
        return np.asarray(_reduce(loss, reduction, denominator), dtype=logits.dtype)

    @staticmethod
    def backward(ctx, grad):
        exp, sum_exp, target, per_sample, counted, weight = ctx.saved_tensors
        label_smoothing, reduction, denominator = ctx.settings
        n, c = exp.shape
        scale = _grad_scale(grad, reduction, denominator)  # scalar, or (n,) for 'none'
        nll_coef = scale if per_sample is None else scale * per_sample  # d loss / d(-log p[target])
        rows = np.arange(n)
        if not label_smoothing:
            # d/dx of -w log softmax(x)[t] is w * (softmax(x) - onehot(t)); coef is a scalar or (n,)
            dx = exp * (nll_coef / sum_exp)[:, None]
            dx[rows, target] -= nll_coef
            return dx, None
        eps = label_smoothing
        # The uniform part -(eps / c) sum_c w_c log p_c, which skips ignored samples.
        uniform_coef = np.broadcast_to((eps / c) * (scale if counted is None else scale * counted), (n,))
        weight_sum = c if weight is None else weight.sum()
        row_total = (1 - eps) * nll_coef + uniform_coef * weight_sum  # sum over classes of d/d(log p)
        dx = exp * (row_total / sum_exp)[:, None]
        dx[rows, target] -= np.broadcast_to((1 - eps) * nll_coef, (n,))
        dx -= uniform_coef[:, None] if weight is None else uniform_coef[:, None] * weight
        return dx, None


class NLL(Function):
    """Negative log-likelihood of (N, C) log-probabilities against (N,) class indices."""

    @staticmethod
    def forward(ctx, log_probs, target, weight=None, ignore_index=-100, reduction="mean"):
        n, c = log_probs.shape
        weight = class_weight(weight, c, "nll_loss", log_probs.dtype)
        target, per_sample, _ = class_targets(target, c, weight, ignore_index, "nll_loss", log_probs.dtype)
        loss = -log_probs[np.arange(n), target]
        if per_sample is not None:
            loss *= per_sample
        denominator = n if per_sample is None else per_sample.sum()
        ctx.save_for_backward(target, per_sample)
        ctx.settings = (log_probs.shape, reduction, denominator)
        return np.asarray(_reduce(loss, reduction, denominator), dtype=log_probs.dtype)

    @staticmethod
    def backward(ctx, grad):
        target, per_sample = ctx.saved_tensors
        shape, reduction, denominator = ctx.settings
        scale = _grad_scale(grad, reduction, denominator)
        coef = scale if per_sample is None else scale * per_sample
        dx = np.zeros(shape, dtype=grad.dtype)
        dx[np.arange(shape[0]), target] = -np.broadcast_to(coef, (shape[0],))
        return dx, None


class MSE(Function):
    """Mean (or summed) squared error between two same-shape arrays."""

    @staticmethod
    def forward(ctx, input, target, reduction="mean"):
        diff = input - target
        ctx.save_for_backward(diff)
        ctx.reduction = reduction
        if reduction == "none":
            return diff * diff
        total = np.vdot(diff, diff)  # one BLAS dot over the flattened array, no temporary
        return np.asarray(total if reduction == "sum" else total / max(diff.size, 1), dtype=diff.dtype)

    @staticmethod
    def backward(ctx, grad):
        (diff,) = ctx.saved_tensors
        scale = grad * 2 if ctx.reduction != "mean" else grad * (2 / max(diff.size, 1))
        g = diff * scale
        need_input, need_target = ctx.needs_input_grad
        return (g if need_input else None, -g if need_target else None)


class BinaryCrossEntropy(Function):
    """-w * (t log x + (1 - t) log(1 - x)) for probabilities x, logs clamped at -100 (as PyTorch)."""

    @staticmethod
    def forward(ctx, input, target, weight=None, reduction="mean"):
        if input.size and (input.min() < 0 or input.max() > 1):
            raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1")
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(input), _LOG_FLOOR)
            log_1mx = np.maximum(np.log1p(-input), _LOG_FLOOR)
        loss = -(target * log_x + (1 - target) * log_1mx)
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(input, target, weight, log_x, log_1mx)
        ctx.reduction = reduction
        return np.asarray(_reduce(loss, reduction, max(input.size, 1)), dtype=input.dtype)

    @staticmethod
    def backward(ctx, grad):
        x, t, weight, log_x, log_1mx = ctx.saved_tensors
        scale = _grad_scale(grad, ctx.reduction, max(x.size, 1))
        if weight is not None:
            scale = scale * weight
        need_input, need_target = ctx.needs_input_grad
        gx = scale * (x - t) / np.maximum(x * (1 - x), _BCE_EPS) if need_input else None
        gt = scale * (log_1mx - log_x) if need_target else None
        return gx, gt


class BinaryCrossEntropyWithLogits(Function):
    """BCE on logits: w * [(1 - t) x + (1 + (pw - 1) t) softplus(-x)], stable for any finite x."""

    @staticmethod
    def forward(ctx, input, target, weight=None, pos_weight=None, reduction="mean"):
        softplus_neg = np.log1p(np.exp(-np.abs(input))) + np.maximum(-input, 0)  # log(1 + e^-x)
        log_weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * target
        loss = (1 - target) * input + log_weight * softplus_neg
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(input, target, weight, pos_weight, softplus_neg, log_weight)
        ctx.reduction = reduction
        return np.asarray(_reduce(loss, reduction, max(input.size, 1)), dtype=input.dtype)

    @staticmethod
    def backward(ctx, grad):
        x, t, weight, pos_weight, softplus_neg, log_weight = ctx.saved_tensors
        scale = _grad_scale(grad, ctx.reduction, max(x.size, 1))
        if weight is not None:
            scale = scale * weight
        need_input, need_target = ctx.needs_input_grad
        gx = gt = None
        if need_input:
            gx = scale * ((1 - t) - log_weight * stable_sigmoid(-x))
        if need_target:
            pw = 1 if pos_weight is None else pos_weight
            gt = scale * (pw * softplus_neg - (x + softplus_neg))  # pw * softplus(-x) - softplus(x)
        return gx, gt
