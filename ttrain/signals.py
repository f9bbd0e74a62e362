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
import os
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


# How many scopes may take a stop signal as an exception (`raising_stop_signals`: a CLI command's
# error handling, which turns it into a message, JSON and 128 + n).
_raise_depth = 0


@contextlib.contextmanager
def raising_stop_signals() -> Iterator[None]:
    """Within this scope a first stop signal raises `StopSignalReceived` where the program is (see
    `exit_on_stop_signals`); the scope must turn it into the process's exit."""
    global _raise_depth
    _raise_depth += 1
    try:
        yield
    finally:
        _raise_depth -= 1


def _importing(frame: Any) -> bool:
    """Whether `frame` is inside an import: an exception there would leave a half-initialised
    module behind, and the error path's own imports would then fail on it."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _exit_now(signum: int) -> None:
    """Say so and end the process at once with 128 + `signum`: nothing has been trained that a
    checkpoint could keep (training runs inside `StopSignals`, which saves first)."""
    with contextlib.suppress(OSError):
        os.write(2, f"stopped: interrupted by {signal_name(signum)}\n".encode())
    os._exit(128 + signum)


@contextlib.contextmanager
def exit_on_stop_signals() -> Iterator[None]:
    """Handle the stop signals for a whole command-line process (main thread only).

    The first one exits with 128 + n and a message on stderr: inside a command's error handling
    (`raising_stop_signals`) by raising `StopSignalReceived` where the program is, so that the
    command reports it as it reports any error (also as JSON); anywhere else (parsing the command
    line, importing a module) at once. Any signal after a first one, here or inside a
    `StopSignals` scope, is ignored, so a process already stopping (saving, printing where the
    checkpoint is, shutting down) is never killed by a second signal. On leaving, the signals are
    left ignored: the interpreter's shutdown resets Python-level handlers to the default, which a
    late signal would die of.
    """

    def handle(signum: int, frame: Any) -> None:
        global _first_received
        if _first_received is not None:
            return
        _first_received = signum
        if _raise_depth and not _importing(frame):
            raise StopSignalReceived(signum)
        _exit_now(signum)

    main = threading.current_thread() is threading.main_thread()
    if main:
        for signum in STOP_SIGNALS:
            signal.signal(signum, handle)
    try:
        yield
    finally:
        if main:
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
