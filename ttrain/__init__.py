"""ttrain: a config-driven training toolkit with its own define-by-run autograd engine.

The Python API follows PyTorch's names: `ttrain.tensor`, `ttrain.nn`, `ttrain.optim`, `no_grad`,
`ttrain.utils.data`, `ttrain.save`/`ttrain.load`, `ttrain.device` (docs/pytorch-compat.md lists what a
PyTorch script can use).
Training from Python: `ttrain.fit(config)`, `ttrain.evaluate(checkpoint)`, `ttrain.load(checkpoint)`
(`ttrain.api`), and `Trainer`, `Callback`, `DataLoader` to write the loop's parts yourself.
Every name loads on first access (PEP 562), so `import ttrain` and `ttrain --help` stay fast:
NumPy and the engine load with the first tensor, Numba with the first kernel.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_SUBMODULES = {
    "nn", "optim", "data", "config", "training", "autograd", "random", "cli",
    # PyTorch's namespaces a script reaches for: torch.utils.data, torch.cuda, torch.backends, ...
    "utils", "cuda", "backends", "accelerator",
}
_HOMES = {
    "ttrain.autograd": ("Function", "Tensor", "enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled"),
    "ttrain.autograd.creation": (
        "arange", "eye", "from_numpy", "full", "full_like", "linspace", "ones", "ones_like", "rand", "rand_like",
        "randint", "randn", "randn_like", "randperm", "tensor", "zeros", "zeros_like", "as_tensor", "empty",
        "empty_like",
    ),
    "ttrain.autograd.grad_mode": ("inference_mode", "is_inference_mode_enabled"),
    "ttrain.devices": ("device",),
    "ttrain.serialization": ("save",),
    "ttrain.threads": ("get_num_threads", "set_num_threads"),
    "ttrain.random": ("Generator", "default_generator", "manual_seed"),
    # The training API (README "Training from Python"): fit/evaluate/load and what a script trains with.
    "ttrain.api": ("Loaded", "evaluate", "fit", "load"),
    "ttrain.data.loader": ("DataLoader",),
    "ttrain.training.callbacks.base": ("Callback",),
    "ttrain.training.trainer": ("Trainer",),
}
_WHERE = {name: module for module, names in _HOMES.items() for name in names}
# Free-function forms of the ops (exp, log, cat, stack, ...) as in torch: whatever functions.__all__ lists.
_FUNCTIONS = "ttrain.autograd.functions"
# PyTorch's dtype names for NumPy's scalar types (torch.float is float32, torch.long int64).
_DTYPES = {
    "float16": "float16", "float32": "float32", "float64": "float64", "int32": "int32", "int64": "int64",
    "uint8": "uint8", "bool_": "bool_", "float": "float32", "double": "float64", "long": "int64",
    "int8": "int8", "int16": "int16", "half": "float16", "short": "int16", "int": "int32", "bool": "bool_",
}

if TYPE_CHECKING:
    from ttrain.autograd import Function, Tensor, enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
    from ttrain.autograd.creation import *  # noqa: F401,F403
    from ttrain.autograd.functions import *  # noqa: F401,F403
    from ttrain.random import Generator, default_generator, manual_seed  # noqa: F401
    from ttrain.autograd.grad_mode import inference_mode, is_inference_mode_enabled  # noqa: F401
    from ttrain.devices import device  # noqa: F401
    from ttrain.serialization import save  # noqa: F401
    from ttrain.threads import get_num_threads, set_num_threads  # noqa: F401
    from ttrain.api import Loaded, evaluate, fit, load  # noqa: F401
    from ttrain.data.loader import DataLoader  # noqa: F401
    from ttrain.training.callbacks.base import Callback  # noqa: F401
    from ttrain.training.trainer import Trainer  # noqa: F401


def _public_names() -> list[str]:
    functions = importlib.import_module(_FUNCTIONS)
    return sorted({*_WHERE, *_DTYPES, *functions.__all__, "is_tensor"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"ttrain.{name}")
    if name == "__all__":
        return _public_names()
    if name in _DTYPES:
        import numpy

        value = getattr(numpy, _DTYPES[name])
    elif name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
    else:
        functions = importlib.import_module(_FUNCTIONS)
        if name not in functions.__all__:
            raise AttributeError(f"module 'ttrain' has no attribute {name!r}")
        value = getattr(functions, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULES, *_public_names()})


def is_tensor(obj: Any) -> bool:
    """True for a ttrain Tensor."""
    from ttrain.autograd.tensor import Tensor

    return isinstance(obj, Tensor)
