"""Gradient-recording switches: `no_grad`, `enable_grad`, `set_grad_enabled` and `inference_mode`.

Each works as a context manager and as a decorator (`@no_grad()`, and `@no_grad` bare as in
PyTorch 2). The flag is per thread, like PyTorch's.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from typing import Any, Callable


class _GradState(threading.local):
    """Per-thread flag read on every op call, so it is kept as a plain attribute."""

    enabled: bool = True


STATE = _GradState()


def is_grad_enabled() -> bool:
    """Return True when ops record the graph for backward."""
    return STATE.enabled


class _GradMode(contextlib.ContextDecorator):
    """Set the mode on entry and restore the previous one on exit."""

    mode: bool

    def __init__(self) -> None:
        self._previous: list[bool] = []  # a stack, so nested use of one object restores correctly

    def __enter__(self) -> None:
        self._previous.append(STATE.enabled)
        STATE.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        STATE.enabled = self._previous.pop()

    def _recreate_cm(self) -> "_GradMode":
        # Each call of a decorated function gets its own saved state (threads, recursion).
        clone = copy.copy(self)
        clone._previous = []
        return clone


class _BareDecoratable(_GradMode):
    """A mode without arguments, so `@no_grad` works without the parentheses too."""

    def __new__(cls, func: Callable[..., Any] | None = None) -> Any:
        if func is None:
            return super().__new__(cls)
        return cls()(func)

    def __init__(self, func: Callable[..., Any] | None = None) -> None:
        self._previous = []


class no_grad(_BareDecoratable):
    """Record no graph inside the block (evaluation, optimizer steps)."""

    mode = False


class enable_grad(_BareDecoratable):
    """Record the graph inside the block, even within `no_grad`."""

    mode = True


class set_grad_enabled(_GradMode):
    """Turn graph recording on or off: as a context manager, a decorator, or a plain call.

    As in PyTorch, `set_grad_enabled(False)` on its own line switches the mode at once.
    """

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self.mode = bool(mode)
        self._previous.append(STATE.enabled)
        STATE.enabled = self.mode
        self._applied = True  # the switch above stands in for the first __enter__

    def __enter__(self) -> None:
        if self._applied:
            self._applied = False
            return
        super().__enter__()

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if self._applied:  # used as a decorator: undo the immediate switch
            self._applied = False
            STATE.enabled = self._previous.pop()
        return super().__call__(func)

    def _recreate_cm(self) -> "_GradMode":
        clone = super()._recreate_cm()
        clone._applied = False
        return clone


class inference_mode(_GradMode):  # noqa: N801  (PyTorch's name)
    """`no_grad` for inference, as PyTorch's `inference_mode`: no graph inside the block.

    `inference_mode(False)` records the graph instead. Works as a context manager and as a decorator,
    bare or called. (PyTorch also marks the tensors made inside as inference tensors; ttrain's
    tensors made under `no_grad` are already as cheap, so there is no such mark.)
    """

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode):  # used bare: @inference_mode
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: Any = True) -> None:
        super().__init__()
        self.mode = not bool(mode)


def is_inference_mode_enabled() -> bool:
    """True inside `inference_mode()` (and `no_grad()`: ttrain has one switch for both)."""
    return not STATE.enabled
