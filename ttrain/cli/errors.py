"""Map failures to exit codes and short messages: 2 bad input, 1 training failed, 128 + n for a
stop signal n (130 SIGINT / Ctrl-C, 143 SIGTERM, 129 SIGHUP). 3 is not a failure of the command:
it ran, and its result missed what was asked of it (an `--expect`, a `compare` regression)."""

from __future__ import annotations

import contextlib
import errno
import signal
import sys
from typing import Iterator

import typer

from ttrain.cli.output import print_json

EXIT_OK = 0
EXIT_TRAINING_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_EXPECTATION_FAILED = 3  # the run succeeded, but the model is worse than expected: CI tells it from a broken run
EXIT_INTERRUPTED = 130  # SIGINT; every stop signal n exits 128 + n, as a shell reports a process it killed
EXIT_SIGNAL_BASE = 128


# A write the machine had no room for (disk or quota full, file too large, read-only filesystem),
# from a write path that does not wrap its errors in OutputWriteError: the run failed (exit 1).
_OUT_OF_ROOM = {getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EFBIG", "EROFS") if hasattr(errno, name)}


def _is_out_of_room(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in _OUT_OF_ROOM


def _message(error: BaseException) -> str:
    if _is_out_of_room(error) and error.filename is not None:  # type: ignore[attr-defined]
        return f"cannot write {error.filename}: {error.strerror}"  # type: ignore[attr-defined]
    return str(error) or type(error).__name__


def _classify(error: BaseException) -> int | None:
    """The exit code for an expected failure, or None for a bug (which keeps its traceback)."""
    from ttrain.config.errors import ConfigError
    from ttrain.config.registry import RegistryError
    from ttrain.data.errors import DataError
    from ttrain.training.checkpoint import CheckpointError
    from ttrain.training.trainer import TrainingFailed, TrainingInterrupted
    from ttrain.training.write_errors import OutputWriteError

    if isinstance(error, (ConfigError, RegistryError, DataError, CheckpointError)):
        return EXIT_BAD_INPUT
    if isinstance(error, (TrainingFailed, OutputWriteError)) or _is_out_of_room(error):
        return EXIT_TRAINING_FAILED
    if isinstance(error, (TrainingInterrupted, KeyboardInterrupt)):
        # StopSignalReceived (a KeyboardInterrupt) and TrainingInterrupted say which signal it was.
        return EXIT_SIGNAL_BASE + int(getattr(error, "signal_number", signal.SIGINT))
    return None


@contextlib.contextmanager
def user_errors(json_output: bool = False) -> Iterator[None]:
    """Turn a user's mistake into a message on stderr (and a JSON object with --json) and an exit code."""
    try:
        yield
    except (Exception, KeyboardInterrupt) as error:
        code = _classify(error)
        if code is None:
            raise
        message = _message(error)
        if code > EXIT_SIGNAL_BASE and not message.startswith("interrupted"):
            message = f"interrupted: {message}" if str(error) else "interrupted"
        label = {EXIT_BAD_INPUT: "error", EXIT_TRAINING_FAILED: "training failed"}.get(code, "stopped")
        print(f"{label}: {message}", file=sys.stderr)
        if json_output:
            print_json({"status": "error", "exit_code": code, "error": message})
        raise typer.Exit(code) from None
