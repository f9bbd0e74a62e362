"""`Tensor.register_hook`: functions called with a tensor's gradient during backward.

Hooks live in one table keyed by the tensor's id, not on the tensor: a Tensor stays as small and as
quick to make as it is (ops create one per call), and the engine pays one truth test per node when
no hook is registered anywhere. An entry goes when its tensor is garbage-collected.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from ttrain.utils.hooks import RemovableHandle

# id(tensor) -> hooks by handle id, in registration order
HOOKS: dict[int, "OrderedDict[int, Callable[[Any], Any]]"] = {}
_WATCHERS: dict[int, weakref.ref] = {}


def register_hook(tensor: Any, hook: Callable[[Any], Any]) -> RemovableHandle:
    """Call `hook(grad)` whenever a gradient for `tensor` is computed; a returned tensor replaces it."""
    if not tensor.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    key = id(tensor)
    hooks = HOOKS.get(key)
    if hooks is None:
        hooks = HOOKS[key] = OrderedDict()
        _WATCHERS[key] = weakref.ref(tensor, lambda _ref, key=key: _forget(key))
    handle = RemovableHandle(hooks, on_empty=lambda: _forget(key))
    hooks[handle.id] = hook
    return handle


def _forget(key: int) -> None:
    HOOKS.pop(key, None)
    _WATCHERS.pop(key, None)


def run_hooks(tensor: Any, grad: np.ndarray) -> np.ndarray:
    """`grad` passed through `tensor`'s hooks in order (each sees the previous one's result)."""
    from ttrain.autograd.tensor import Tensor, unwrap

    for hook in list(HOOKS.get(id(tensor), {}).values()):
        result = hook(Tensor._wrap(grad, False))
        if result is not None:
            new = np.asarray(unwrap(result))
            if new.shape != grad.shape:
                raise RuntimeError(f"a tensor hook returned a gradient of shape {new.shape} for a tensor of "
                                   f"shape {grad.shape}")
            grad = new.astype(grad.dtype, copy=False)
    return grad
