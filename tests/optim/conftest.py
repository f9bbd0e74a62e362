"""Shared helpers for the optimizer tests: parameters with gradients, and a loop that steps them."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import ttrain
from ttrain.nn.parameter import Parameter

SHAPES = [(3, 4), (4,), ()]


def make_problem(dtype: Any = np.float64, steps: int = 4, seed: int = 0, shapes=SHAPES):
    """Initial parameter values and `steps` rounds of gradients, one per shape."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(steps)]
    return init, grads


def set_grads(params: list[Parameter], grads: list[np.ndarray]) -> None:
    for p, g in zip(params, grads):
        p.grad = ttrain.tensor(g)


def run_optimizer(cls: type, kwargs: dict[str, Any], init: list[np.ndarray], grads: list[list[np.ndarray]]):
    """Step a fresh optimizer through `grads`; returns (params, optimizer)."""
    params = [Parameter(a.copy()) for a in init]
    opt = cls(params, **kwargs)
    for step_grads in grads:
        set_grads(params, step_grads)
        opt.step()
    return params, opt


@pytest.fixture
def run() -> Callable[..., Any]:
    return run_optimizer


@pytest.fixture(name="make_problem")
def _make_problem_fixture() -> Callable[..., Any]:
    return make_problem


@pytest.fixture(name="set_grads")
def _set_grads_fixture() -> Callable[..., Any]:
    return set_grads
