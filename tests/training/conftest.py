"""Build small experiments from config dicts, the way `ttrain fit` does, without the CLI."""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from ttrain.config import config_from_dict
from ttrain.training.experiment import Experiment, build_experiment

# Spirals: 192 training samples after the validation split, so 6 steps an epoch of 32.
BASE: dict[str, Any] = {
    "seed": 5,
    "model": {"layers": [{"linear": {"out_features": 16}}, "relu", {"linear": {"out_features": 2}}]},
    "data": {"name": "spirals", "n_train": 240, "n_test": 64},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "trainer": {"epochs": 2, "batch_size": 32, "val_split": 0.2},
}


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` merged in section by section (a None value removes the key)."""
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


@pytest.fixture
def experiment() -> Callable[..., Experiment]:
    """`experiment(trainer={...}, scheduler={...}, ...)`: the BASE experiment with those changes, built."""

    def build(callbacks: list[Any] = (), **changes: Any) -> Experiment:
        return build_experiment(config_from_dict(merged(BASE, changes)), callbacks=list(callbacks))

    return build
