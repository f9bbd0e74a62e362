"""Stop signals: SIGINT, SIGTERM and SIGHUP ask a run to stop after its current step.

A cluster scheduler preempts a job with SIGTERM (SLURM, Kubernetes) or SIGHUP (a closed
terminal), a person with Ctrl-C. All three mean "save and go": while `StopSignals` is active
their handler only records the signal and calls ``on_signal``; it never raises, so a signal that
arrives in the middle of a checkpoint save (or a second Ctrl-C) cannot tear the save apart. The
run checks for the request at its safe points and exits with ``128 + signal number``.
"""

from __future__ import annotations

import signal
import threading
from typing import Any, Callable

STOP_SIGNALS: tuple[int, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def signal_name(signum: int) -> str:
    """``SIGTERM`` for 15, ...; the number itself when the platform has no name for it."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


class StopSignals:
    """A context manager that routes the stop signals to ``on_signal(signum)`` and restores the
    previous handlers on exit. Handlers can only be installed in the main thread; elsewhere it
    does nothing (the signals keep whatever handling the main thread gave them)."""

    def __init__(self, on_signal: Callable[[int], None]) -> None:
        self.on_signal = on_signal
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        self.on_signal(signum)

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            # None means the handler was not set from Python; the default is the closest to it.
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()
