"""Gradient-recording switches: `no_grad`, `enable_grad` and `set_grad_enabled`."""

from __future__ import annotations

import contextlib
import threading


class _GradState(threading.local):
    """Per-thread flag read on every op call, so it is kept as a plain attribute."""

    enabled: bool = True


STATE = _GradState()


def is_grad_enabled() -> bool:
    """Return True when ops record the graph for backward."""
    return STATE.enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager and decorator that turns graph recording on or off."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(STATE.enabled)
        STATE.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        STATE.enabled = self._previous.pop()


class no_grad(set_grad_enabled):
    """Record no graph inside the block (evaluation, optimizer steps)."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Record the graph inside the block, even within `no_grad`."""

    def __init__(self) -> None:
        super().__init__(True)
