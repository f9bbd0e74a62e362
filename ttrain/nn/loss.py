"""Loss modules: each stores its settings and calls the matching function in `nn.functional`.

Class weights and `pos_weight` are registered as buffers, as in PyTorch (so they travel in the
state dict). `Loss` documents the traits the config layer and `ttrain predict` read.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from ttrain.autograd.creation import from_numpy
from ttrain.autograd.ops.loss import check_reduction
from ttrain.autograd.tensor import Tensor, ensure_tensor
from ttrain.nn import functional as F
from ttrain.nn.functional import Reduction
from ttrain.nn.module import Module


# Weights may be given as plain lists (from a config file) as well as tensors.
WeightLike = Tensor | list[float] | None


def _as_tensor(value: WeightLike) -> Tensor | None:
    return None if value is None else ensure_tensor(value)


class Loss(Module):
    """Base of every loss: validates and stores `reduction` ('mean', 'sum' or 'none').

    Traits (a user's loss declares its own the same way, on any `nn.Module` subclass; nothing is
    decided by a loss's registry name):

    - `takes_class_indices`: targets are class indices, so integer labels need no one-hot encoding
      and every label must be below the model's output width (checked before training);
    - `probabilities(outputs)`: how the model's outputs (N, C) become class probabilities, for
      ``ttrain predict``.
    """

    takes_class_indices: ClassVar[bool] = False

    def __init__(self, reduction: Reduction = "mean") -> None:
        super().__init__()
        self._check_reduction(reduction)
        self.reduction = reduction

    @classmethod
    def _check_reduction(cls, reduction: str) -> None:
        """Raise a ValueError for a reduction this loss does not know (KLDivLoss adds 'batchmean')."""
        check_reduction(reduction, cls.__name__)

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        """Class probabilities of outputs (N, C) whose meaning the loss does not fix (MSE, or BCE, on
        one-hot targets): see `scores_to_probabilities`. Losses whose outputs are logits or
        log-probabilities say so by overriding this."""
        return scores_to_probabilities(outputs)


def scores_to_probabilities(outputs: np.ndarray) -> np.ndarray:
    """Non-negative rows (a sigmoid output) scaled to sum to 1, an all-zero row to the uniform
    distribution; if any score is negative, the outputs are taken as logits (softmax)."""
    if (outputs >= 0).all():
        total = outputs.sum(axis=1, keepdims=True)
        return np.divide(outputs, total, out=np.full_like(outputs, 1.0 / outputs.shape[1]), where=total > 0)
    return _softmax(outputs)


def class_probabilities(loss: Module, outputs: np.ndarray) -> np.ndarray:
    """``loss.probabilities(outputs)``; for a loss that declares none (any `Module` may be one),
    `scores_to_probabilities`, the base `Loss`'s default."""
    probabilities = getattr(loss, "probabilities", None)
    return probabilities(outputs) if callable(probabilities) else scores_to_probabilities(outputs)


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the class axis, through log-softmax (finite for huge logits)."""
    return np.exp(F.log_softmax(from_numpy(logits), dim=1).numpy())


class _WeightedLoss(Loss):
    """A loss with an optional `weight` (per class, or broadcast over elements) kept as a buffer."""

    weight: Tensor | None

    def __init__(self, weight: WeightLike = None, reduction: Reduction = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _as_tensor(weight))


class MSELoss(Loss):
    """Mean squared error: (input - target) ** 2, reduced."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The loss of input against a same-shape target."""
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(Loss):
    """Mean absolute error: |input - target|, reduced."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The loss of input against a same-shape target."""
        return F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(Loss):
    """Quadratic below `delta`, linear above: 0.5 d**2 or delta (|d| - 0.5 delta)."""

    def __init__(self, reduction: Reduction = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        if delta <= 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The loss of input against a same-shape target."""
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(Loss):
    """0.5 d**2 / beta below `beta`, |d| - 0.5 beta above (L1 for beta = 0)."""

    def __init__(self, reduction: Reduction = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be non-negative, got {beta}")
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The loss of input against a same-shape target."""
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class CrossEntropyLoss(_WeightedLoss):
    """Log-softmax plus negative log-likelihood on logits (N, C, d1, ...).

    Targets are class indices (N, d1, ...) or class probabilities of the input's shape; `weight`
    is per class, `ignore_index` drops samples, `label_smoothing` mixes in the uniform distribution.
    """

    takes_class_indices = True

    def __init__(
        self, weight: WeightLike = None, ignore_index: int = -100, reduction: Reduction = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The loss of logits against class indices or probabilities."""
        return F.cross_entropy(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        """Softmax of the logits."""
        return _softmax(outputs)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (N, C, d1, ...) at class indices (N, d1, ...)."""

    takes_class_indices = True

    def __init__(self, weight: WeightLike = None, ignore_index: int = -100, reduction: Reduction = "mean") -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The loss of log-probabilities against class indices."""
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        """The exponential of the log-probabilities."""
        return np.exp(outputs)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities in [0, 1]; each log is clamped at -100."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The loss of probabilities against same-shape targets."""
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid plus binary cross-entropy in one numerically stable op; `pos_weight` weighs positives."""

    pos_weight: Tensor | None

    def __init__(
        self, weight: WeightLike = None, reduction: Reduction = "mean", pos_weight: WeightLike = None
    ) -> None:
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", _as_tensor(pos_weight))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The loss of logits against same-shape targets."""
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        """The sigmoid of the logits."""
        return F.sigmoid(from_numpy(outputs)).numpy()


class KLDivLoss(Loss):
    """KL divergence of targets (probabilities, or log-probabilities with `log_target`) from
    log-probability inputs, as torch.nn.KLDivLoss; use reduction='batchmean' for the true KL value."""

    def __init__(self, reduction: Literal["mean", "batchmean", "sum", "none"] = "mean", log_target: bool = False) -> None:
        super().__init__(reduction)  # type: ignore[arg-type]  ('batchmean' is this loss's own)
        self.log_target = log_target

    @classmethod
    def _check_reduction(cls, reduction: str) -> None:
        if reduction not in F.KL_REDUCTIONS:
            known = ", ".join(map(repr, F.KL_REDUCTIONS))
            raise ValueError(f"KLDivLoss: reduction must be one of {known}, not {reduction!r}")

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The divergence of target from the log-probabilities input."""
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        """Outputs are log-probabilities."""
        return np.exp(outputs)
