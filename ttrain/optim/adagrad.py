"""`Adagrad`: per-coordinate learning rates from the running sum of squared gradients."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

from ttrain.optim.functional import adagrad_update
from ttrain.optim.optimizer import Optimizer, check_nonnegative


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), with PyTorch's defaults and update rule.

    `sum += g^2`; the step is `clr * g / (sqrt(sum) + eps)` with `clr = lr / (1 + (step - 1) * lr_decay)`.
    State per parameter: `step` and `sum` (starting at `initial_accumulator_value`).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *, maximize: bool = False,
                 fused: bool | None = None) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize, fused=fused)
        super().__init__(params, defaults)

    def _check_options(self, options: Mapping[str, Any]) -> None:
        check_nonnegative(options, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def _update_group(self, group: dict[str, Any]) -> None:
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["sum"] = np.full(p.data.shape, group["initial_accumulator_value"], dtype=p.data.dtype)
            state["step"] += 1
            adagrad_update(p.data, p.grad.data, state["sum"], step=state["step"], lr=group["lr"],
                           lr_decay=group["lr_decay"], weight_decay=group["weight_decay"], eps=group["eps"],
                           maximize=group["maximize"], fused=group["fused"])
