"""`NAdam` and `RAdam`: Adam with Nesterov momentum, and Adam with a rectified adaptive learning rate."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ttrain.optim.functional import nadam_update, radam_update
from ttrain.optim.optimizer import Optimizer, check_betas, check_nonnegative, zeros_like_param


class _AdamFamily(Optimizer):
    """Shared options check and moment state of NAdam and RAdam."""

    def _check_options(self, options: Mapping[str, Any]) -> None:
        check_nonnegative(options, "lr", "eps", "weight_decay")
        check_betas(options["betas"])

    def _moments(self, p: Any) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state.update(step=0, exp_avg=zeros_like_param(p), exp_avg_sq=zeros_like_param(p))
        state["step"] += 1
        return state


class NAdam(_AdamFamily):
    """NAdam (Dozat), with PyTorch's defaults, momentum schedule (`momentum_decay`) and update rule;
    `decoupled_weight_decay` gives NAdamW. State per parameter: `step`, `mu_product`, `exp_avg`,
    `exp_avg_sq`."""

    def __init__(self, params: Iterable[Any], lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _check_options(self, options: Mapping[str, Any]) -> None:
        super()._check_options(options)
        check_nonnegative(options, "momentum_decay")

    def _update_group(self, group: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._moments(p)
            state["mu_product"] = nadam_update(
                p.data, p.grad.data, state["exp_avg"], state["exp_avg_sq"], step=state["step"],
                mu_product=state.get("mu_product", 1.0), lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                weight_decay=group["weight_decay"], momentum_decay=group["momentum_decay"],
                decoupled_weight_decay=group["decoupled_weight_decay"], maximize=group["maximize"])


class RAdam(_AdamFamily):
    """RAdam (Liu et al.), with PyTorch's defaults and update rule: plain momentum SGD for the first
    steps, then Adam with a rectified adaptive learning rate. `decoupled_weight_decay` gives RAdamW.
    State per parameter: `step`, `exp_avg`, `exp_avg_sq`."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def _update_group(self, group: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._moments(p)
            radam_update(p.data, p.grad.data, state["exp_avg"], state["exp_avg_sq"], step=state["step"],
                         lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                         weight_decay=group["weight_decay"], decoupled_weight_decay=group["decoupled_weight_decay"],
                         maximize=group["maximize"])
