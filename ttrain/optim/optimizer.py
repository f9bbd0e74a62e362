"""`Optimizer`: parameter groups, per-parameter state and state dicts, with PyTorch's contract."""

from __future__ import annotations

import copy
import numbers
import warnings
from collections import defaultdict
from itertools import chain
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from ttrain.autograd.grad_mode import STATE, enable_grad
from ttrain.autograd.tensor import Tensor, unwrap


class _RequiredParameter:
    """Marks a default that every parameter group must give (`SGD(params)` with no lr, in old torch)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

_SET_MESSAGE = (
    "optimizer parameters need to be organized in ordered collections, but the ordering of tensors in sets "
    "will change between runs. Please use a list instead."
)
# torch's wording for the common options; others read "Invalid <name> value".
_LABELS = {"lr": "learning rate", "eps": "epsilon value"}


def check_number(name: str, value: Any) -> None:
    """Raise TypeError unless `value` is a real number (a YAML `1e-3` read as a string, say)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, not {type(value).__name__} {value!r}")


def check_nonnegative(options: Mapping[str, Any], *names: str) -> None:
    """Raise ValueError for any option in `names` that is below zero (or NaN), in torch's words."""
    for name in names:
        value = options[name]
        check_number(name, value)
        if not value >= 0:
            label = _LABELS.get(name, f"{name} value")
            raise ValueError(f"Invalid {label}: {value} ({name} must be >= 0)")


def check_betas(betas: Any) -> None:
    """Raise unless `betas` is a pair of numbers in [0, 1) (Adam's family), in torch's words."""
    if len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        check_number(f"betas[{i}]", beta)
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta} (betas must lie in [0, 1))")


def zeros_like_param(param: Tensor) -> np.ndarray:
    """A C-contiguous zero array shaped and typed like the parameter (state the kernels can use)."""
    return np.zeros(param.data.shape, dtype=param.data.dtype)


class Optimizer:
    """Base class of optimizers: holds `param_groups` and per-parameter `state`.

    `params` is an iterable of tensors, of `(name, tensor)` pairs, or of dicts that each define a
    parameter group with its own options (any option not given takes the value in `defaults`).
    Subclasses implement `_update_group(group)`, which applies one step to the group's parameters;
    `step()` runs it under `no_grad()` for every group, changing `param.data` in place.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                f"but got {type(params).__name__}"
            )
        if isinstance(params, set):
            raise TypeError(_SET_MESSAGE)
        self.defaults = dict(defaults)
        self._check_options(self.defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ---- what subclasses define -----------------------------------------------------------------
    def _check_options(self, options: Mapping[str, Any]) -> None:
        """Raise ValueError for invalid option values (called on the defaults and on every group)."""

    def _update_group(self, group: dict[str, Any]) -> None:
        """Apply one update to every parameter of `group` that has a gradient."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _update_group")

    # ---- the public API ---------------------------------------------------------------------------
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; `closure` re-evaluates the loss first and its
        value is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        # no_grad() without building its object each step (the seed net's step takes ~10 us in all)
        was_enabled, STATE.enabled = STATE.enabled, False
        try:
            for group in self.param_groups:
                self._update_group(group)
        finally:
            STATE.enabled = was_enabled
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: drop them (`set_to_none=True`, the default) or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.requires_grad = False
                    p.grad.data.fill(0)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (e.g. layers unfrozen during fine-tuning)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError("param_group has no 'params' entry")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(_SET_MESSAGE)
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            group["param_names"] = names
            params = [p[1] for p in params]
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            group.setdefault(name, default)
        try:
            self._check_options(group)
        except (TypeError, ValueError) as err:
            raise type(err)(f"param group {len(self.param_groups)}: {err}") from None
        if len({id(p) for p in params}) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters", stacklevel=3)
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        if any(("param_names" in g) != ("param_names" in group) for g in self.param_groups):
            raise ValueError("all optimizer param groups should be with/without names")
        self.param_groups.append(group)

    def state_dict(self) -> dict[str, Any]:
        """A snapshot of the optimizer in PyTorch's layout.

        `{'state': {index: {name: value}}, 'param_groups': [{option: value, ..., 'params': [index]}]}`,
        where parameters are numbered in group order; arrays are copies, step counts ints.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {
            index[id(p)]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
            for p, s in self.state.items()
            if id(p) in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a `state_dict()`: options per group and state per parameter, matched by position.

        Groups and parameter counts must match this optimizer's, and every state array must have
        its parameter's shape; arrays are copied and cast to the parameter's dtype. Nothing changes
        unless all of it loads.
        """
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise ValueError(f"optimizer state dict has no {key!r} entry")
        saved_groups = copy.deepcopy(list(state_dict["param_groups"]))
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, this optimizer has "
                f"{len(self.param_groups)}"
            )
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"loaded state dict's parameter group {i} has {len(saved['params'])} parameters, "
                    f"this optimizer's has {len(group['params'])}"
                )
        saved_ids = chain.from_iterable(g["params"] for g in saved_groups)
        id_map = dict(zip(saved_ids, chain.from_iterable(g["params"] for g in self.param_groups)))
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, values in state_dict["state"].items():
            index = int(key)  # a state dict that went through JSON has string keys
            if index not in id_map:
                raise ValueError(f"loaded state dict has state for parameter {index}, which is in none of its groups")
            param = id_map[index]
            state[param] = {name: _load_state_value(param, index, name, v) for name, v in values.items()}
        groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            for name, value in saved.items():
                if isinstance(group.get(name), tuple) and isinstance(value, list):
                    saved[name] = tuple(value)  # e.g. betas, after a JSON round trip
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            groups.append(saved)
        self.state, self.param_groups = state, groups

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k not in ("params", "param_names")]
        return "\n".join(lines + [")"])


def _load_state_value(param: Tensor, index: int, name: str, value: Any) -> Any:
    """One loaded state entry: step counts become ints, arrays checked copies in the parameter's dtype."""
    value = unwrap(value)
    if name == "step":
        return int(np.asarray(value).item())
    if not isinstance(value, np.ndarray):
        return copy.deepcopy(value)
    if value.shape != param.data.shape:
        raise ValueError(
            f"loaded state {name!r} of parameter {index} has shape {value.shape}, the parameter has shape "
            f"{param.data.shape}"
        )
    dtype = param.data.dtype if value.dtype.kind == "f" else value.dtype
    return np.array(value, dtype=dtype, order="C", copy=True)
