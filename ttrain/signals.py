"""Stop signals: SIGINT, SIGTERM and SIGHUP ask a run to stop after its current step.

A cluster scheduler preempts a job with SIGTERM (SLURM, Kubernetes) or SIGHUP (a closed
terminal), a person with Ctrl-C. All three mean "save and go": while `StopSignals` is active
their handler only records the signal and calls ``on_signal``; it never raises, so a signal that
arrives in the middle of a checkpoint save (or a second Ctrl-C) cannot tear the save apart. The
run checks for the request at its safe points and exits with ``128 + signal number``.

Which signal came first decides the exit code. CPython runs the Python-level handlers of signals
pending together in signal-number order (a SIGINT before a SIGTERM sent just before it), so the
order is read from the wakeup fd, where the C-level handler writes each signal's number as it
arrives.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from typing import Any, Callable, Iterator

STOP_SIGNALS: tuple[int, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


# The first stop signal this process received in any StopSignals scope; the process-wide handlers
# of `exit_on_stop_signals` ignore every signal after it.
_first_received: int | None = None


class StopSignalReceived(KeyboardInterrupt):
    """A stop signal arrived outside training (while data loads, say): the process should exit
    with 128 + `signal_number`. A KeyboardInterrupt, as Python's own SIGINT handling raises."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(f"interrupted by {signal_name(signal_number)}")
        self.signal_number = signal_number


@contextlib.contextmanager
def exit_on_stop_signals() -> Iterator[None]:
    """Handle the stop signals for a whole command-line process (main thread only): the first
    raises `StopSignalReceived`, wherever the program is; any after a first one, here or inside
    a `StopSignals` scope, is ignored, so a process already stopping (saving, printing where the
    checkpoint is, shutting down) is never killed by a second signal.

    On leaving, once a stop signal has arrived, the signals are left ignored: the interpreter's
    shutdown resets Python-level handlers to the default, which a late signal would die of.
    """

    def handle(signum: int, _frame: Any) -> None:
        global _first_received
        if _first_received is None:
            _first_received = signum
            raise StopSignalReceived(signum)

    main = threading.current_thread() is threading.main_thread()
    if main:
        for signum in STOP_SIGNALS:
            signal.signal(signum, handle)
    try:
        yield
    finally:
        if main and _first_received is not None:
            for signum in STOP_SIGNALS:
                signal.signal(signum, signal.SIG_IGN)


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
        self._wakeup: tuple[socket.socket, socket.socket] | None = None
        self._previous_wakeup_fd = -1

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is not threading.main_thread():
            return self
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        self._wakeup = (reader, writer)
        self._previous_wakeup_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _arrived(self) -> list[int]:
        """The signal numbers the wakeup fd holds, in the order they arrived."""
        if self._wakeup is None:
            return []
        arrived = b""
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while chunk := self._wakeup[0].recv(256):
                arrived += chunk
        return [n for n in arrived if n in STOP_SIGNALS]

    def _handle(self, signum: int, _frame: Any) -> None:
        global _first_received
        for arrived in self._arrived() or [signum]:
            if _first_received is None:
                _first_received = arrived
            self.on_signal(arrived)

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            # None means the handler was not set from Python; the default is the closest to it.
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()
        if self._wakeup is not None:
            signal.set_wakeup_fd(self._previous_wakeup_fd)
            for end in self._wakeup:
                end.close()
            self._wakeup = None
