"""`GradientClipping`: clips the model's gradients between the backward pass and the optimizer step."""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING

from ttrain.training.callbacks.base import Callback, Priority

if TYPE_CHECKING:
    from ttrain.training.trainer import Trainer

ALGORITHMS = ("norm", "value")


class GradientClipping(Callback):
    """Before every optimizer step, scales the model's gradients so their total 2-norm is at most
    `threshold` (`algorithm="norm"`, `clip_grad_norm_`), or clamps each gradient value into
    [-threshold, threshold] (`"value"`, `clip_grad_value_`). Runs at `Priority.TRAINING`, so a
    user's `on_before_optimizer_step` sees clipped gradients."""

    priority = Priority.TRAINING

    def __init__(self, threshold: float, algorithm: str = "norm") -> None:
        # Imported here: the optimizers are not needed to import the callbacks.
        from ttrain.optim.clip import clip_grad_norm_, clip_grad_value_

        if algorithm not in ALGORITHMS:
            raise ValueError(f"gradient clipping is by 'norm' or 'value', not {algorithm!r}")
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not threshold > 0 \
                or not math.isfinite(threshold):
            raise ValueError(f"the gradient clipping threshold must be a positive number, not {threshold!r}")
        self.threshold = float(threshold)
        self.algorithm = algorithm
        self._clip = clip_grad_norm_ if algorithm == "norm" else clip_grad_value_

    def on_before_optimizer_step(self, trainer: "Trainer") -> None:
        self._clip(trainer.model.parameters(), self.threshold)
