"""`RMSprop`: gradients scaled by a running root mean square, optionally centred and with momentum."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ttrain.optim.functional import rmsprop_update
from ttrain.optim.optimizer import Optimizer, check_nonnegative, zeros_like_param


class RMSprop(Optimizer):
    """RMSprop (Hinton), with PyTorch's defaults and update rule.

    `square_avg = alpha * square_avg + (1 - alpha) * g^2`; `centered` subtracts the square of a running
    mean of `g` before the square root; `momentum > 0` keeps a buffer of the scaled steps. State per
    parameter: `step`, `square_avg`, and `momentum_buffer` / `grad_avg` where used.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *, maximize: bool = False,
                 fused: bool | None = None) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize, fused=fused)
        super().__init__(params, defaults)

    def _check_options(self, options: Mapping[str, Any]) -> None:
        check_nonnegative(options, "lr", "eps", "momentum", "weight_decay", "alpha")

    def _update_group(self, group: dict[str, Any]) -> None:
        momentum, centered = group["momentum"], group["centered"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["square_avg"] = zeros_like_param(p)
            if momentum > 0 and "momentum_buffer" not in state:
                state["momentum_buffer"] = zeros_like_param(p)
            if centered and "grad_avg" not in state:
                state["grad_avg"] = zeros_like_param(p)
            state["step"] += 1
            rmsprop_update(p.data, p.grad.data, state["square_avg"], state.get("grad_avg"),
                           state.get("momentum_buffer"), lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                           weight_decay=group["weight_decay"], momentum=momentum, centered=centered,
                           maximize=group["maximize"], fused=group["fused"])
