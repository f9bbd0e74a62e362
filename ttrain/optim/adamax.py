"""`Adamax`: Adam with the infinity norm of past gradients in place of their root mean square."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ttrain.optim.functional import adamax_update
from ttrain.optim.optimizer import Optimizer, check_betas, check_nonnegative, zeros_like_param


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, section 7), with PyTorch's defaults and update rule.

    `exp_inf = max(beta2 * exp_inf, |g| + eps)`; the step is `lr / (1 - beta1^t) * exp_avg / exp_inf`.
    State per parameter: `step`, `exp_avg`, `exp_inf`.
    """

    def __init__(self, params: Iterable[Any], lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _check_options(self, options: Mapping[str, Any]) -> None:
        check_nonnegative(options, "lr", "eps", "weight_decay")
        check_betas(options["betas"])

    def _update_group(self, group: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if not state:
                state.update(step=0, exp_avg=zeros_like_param(p), exp_inf=zeros_like_param(p))
            state["step"] += 1
            adamax_update(p.data, p.grad.data, state["exp_avg"], state["exp_inf"], step=state["step"],
                          lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                          weight_decay=group["weight_decay"], maximize=group["maximize"])
