"""`Adam` and `AdamW`: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ttrain.optim.functional import adam_update
from ttrain.optim.optimizer import Optimizer, check_betas, check_nonnegative, zeros_like_param


class Adam(Optimizer):
    """Adam (Kingma & Ba), with PyTorch's defaults, bias correction and `amsgrad` variant.

    `weight_decay` adds `wd * param` to the gradient, or, with `decoupled_weight_decay`, scales the
    parameter by `1 - lr * wd` first (that is AdamW). State per parameter: `step`, `exp_avg`,
    `exp_avg_sq` and, with amsgrad, `max_exp_avg_sq`. `fused` picks the Numba kernel (None: wherever
    it applies).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_options(self, options: Mapping[str, Any]) -> None:
        check_nonnegative(options, "lr", "eps")
        check_betas(options["betas"])
        check_nonnegative(options, "weight_decay")

    def _update_group(self, group: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        amsgrad = group["amsgrad"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = zeros_like_param(p)
                state["exp_avg_sq"] = zeros_like_param(p)
                if amsgrad:
                    state["max_exp_avg_sq"] = zeros_like_param(p)
            elif amsgrad and "max_exp_avg_sq" not in state:  # amsgrad switched on after some steps
                state["max_exp_avg_sq"] = zeros_like_param(p)
            state["step"] += 1
            adam_update(p.data, p.grad.data, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"),
                        step=state["step"], lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                        weight_decay=group["weight_decay"], amsgrad=amsgrad, maximize=group["maximize"],
                        decoupled_weight_decay=group["decoupled_weight_decay"], fused=group["fused"])


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): `param *= 1 - lr * weight_decay` before
    the Adam step. Defaults as in PyTorch, `weight_decay=1e-2`."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, fused=fused,
                         decoupled_weight_decay=True)
