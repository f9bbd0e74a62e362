"""ttrain: a config-driven training toolkit with its own define-by-run autograd engine.

The Python API follows PyTorch's names: `ttrain.tensor`, `ttrain.nn`, `ttrain.optim`, `no_grad`.
Submodules (`nn`, `optim`, `data`, ...) load on first access, so `import ttrain` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from ttrain.autograd import Function, Tensor, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from ttrain.autograd.creation import (
    arange,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from ttrain.autograd.functions import *  # noqa: F401,F403  (exp, log, cat, stack, ... as in torch)
from ttrain.autograd.functions import __all__ as _function_names
from ttrain.random import Generator, default_generator, manual_seed

__version__ = "0.1.0"

float16 = np.float16
float32 = np.float32
float64 = np.float64
int32 = np.int32
int64 = np.int64
uint8 = np.uint8
bool_ = np.bool_
float = np.float32  # noqa: A001  (torch.float is float32)
double = np.float64
long = np.int64

_SUBMODULES = {"nn", "optim", "data", "config", "training", "autograd", "random", "cli"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"ttrain.{name}")
    raise AttributeError(f"module 'ttrain' has no attribute {name!r}")


def is_tensor(obj: Any) -> bool:
    """True for a ttrain Tensor."""
    return isinstance(obj, Tensor)


__all__ = [
    "Function", "Generator", "Tensor", "arange", "default_generator", "enable_grad", "eye", "from_numpy",
    "full", "full_like", "is_grad_enabled", "is_tensor", "linspace", "manual_seed", "no_grad", "ones",
    "ones_like", "rand", "rand_like", "randint", "randn", "randn_like", "randperm", "set_grad_enabled",
    "tensor", "zeros", "zeros_like", *_function_names,
]
