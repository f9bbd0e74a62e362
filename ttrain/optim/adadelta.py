"""`Adadelta`: per-coordinate steps from running averages of squared gradients and squared updates."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ttrain.optim.functional import adadelta_update
from ttrain.optim.optimizer import Optimizer, check_nonnegative, zeros_like_param


class Adadelta(Optimizer):
    """Adadelta (Zeiler), with PyTorch's defaults and update rule (`lr=1.0` scales the step).

    `square_avg = rho * square_avg + (1 - rho) * g^2`; the step is
    `sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g`, and `acc_delta` averages its square.
    State per parameter: `step`, `square_avg`, `acc_delta`.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _check_options(self, options: Mapping[str, Any]) -> None:
        check_nonnegative(options, "lr", "eps", "weight_decay")
        if not 0.0 <= options["rho"] <= 1.0:
            raise ValueError(f"Invalid rho value: {options['rho']} (rho must lie in [0, 1])")

    def _update_group(self, group: dict[str, Any]) -> None:
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if not state:
                state.update(step=0, square_avg=zeros_like_param(p), acc_delta=zeros_like_param(p))
            state["step"] += 1
            adadelta_update(p.data, p.grad.data, state["square_avg"], state["acc_delta"], lr=group["lr"],
                            rho=group["rho"], eps=group["eps"], weight_decay=group["weight_decay"],
                            maximize=group["maximize"])
