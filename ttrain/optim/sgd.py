"""`SGD`: stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

from ttrain.optim.functional import sgd_scalars, sgd_step
from ttrain.optim.optimizer import Optimizer, check_nonnegative


class SGD(Optimizer):
    """Stochastic gradient descent, with PyTorch's defaults and update rule.

    With momentum `mu` and dampening `d`: `b = g` on the first step, then `b = mu * b + (1 - d) * g`;
    the step is `lr * b` (`lr * (g + mu * b)` with `nesterov`). `weight_decay` adds `wd * param` to `g`;
    `maximize` ascends. `fused` picks the Numba kernel (None: wherever it applies).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 fused: bool | None = None) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, fused=fused)
        super().__init__(params, defaults)

    def _check_options(self, options: Mapping[str, Any]) -> None:
        check_nonnegative(options, "lr", "momentum", "weight_decay")
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update_group(self, group: dict[str, Any]) -> None:
        momentum = group["momentum"]
        nesterov, maximize, fused = group["nesterov"], group["maximize"], group["fused"]
        scalars_by_dtype: dict[np.dtype, np.ndarray] = {}  # cast once per step, not once per parameter
        for p in group["params"]:
            if p.grad is None:
                continue
            data = p.data
            scalars = scalars_by_dtype.get(data.dtype)
            if scalars is None:
                scalars = scalars_by_dtype[data.dtype] = sgd_scalars(
                    data.dtype, lr=group["lr"], momentum=momentum, dampening=group["dampening"],
                    weight_decay=group["weight_decay"])
            buf = self.state[p].get("momentum_buffer") if momentum != 0 else None  # no state without momentum
            buf = sgd_step(data, p.grad.data, buf, scalars, nesterov=nesterov, maximize=maximize, fused=fused)
            if momentum != 0:
                self.state[p]["momentum_buffer"] = buf
