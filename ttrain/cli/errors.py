"""Map failures to exit codes and short messages: 2 bad input, 1 training failed, 128 + n for a
stop signal n (130 SIGINT / Ctrl-C, 143 SIGTERM, 129 SIGHUP). 3 is not a failure of the command:
it ran, and its result missed what was asked of it (an `--expect`, a `compare` regression)."""

from __future__ import annotations

import contextlib
import signal
import sys
import warnings
from typing import Any, Iterator

import typer

from ttrain.cli.output import print_json
from ttrain.error_report import error_report, is_out_of_room, make_report
from ttrain.signals import raising_stop_signals

EXIT_OK = 0
EXIT_TRAINING_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_EXPECTATION_FAILED = 3  # the run succeeded, but the model is worse than expected: CI tells it from a broken run
EXIT_INTERRUPTED = 130  # SIGINT; every stop signal n exits 128 + n, as a shell reports a process it killed
EXIT_SIGNAL_BASE = 128


def _message(error: BaseException) -> str:
    if is_out_of_room(error) and error.filename is not None:  # type: ignore[attr-defined]
        return f"cannot write {error.filename}: {error.strerror}"  # type: ignore[attr-defined]
    return str(error) or type(error).__name__


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """A config warning as a plain line on stderr (`warning: file:line: key: ...`); others as Python shows them."""
    from ttrain.config.errors import ConfigWarning

    if issubclass(category, ConfigWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def exit_code_for(error: BaseException) -> int | None:
    """The exit code for an expected failure, or None for a bug (which keeps its traceback)."""
    from ttrain.config.errors import ConfigError
    from ttrain.config.registry import RegistryError
    from ttrain.data.errors import DataError
    from ttrain.training.checkpoint import CheckpointError
    from ttrain.training.trainer import TrainingFailed, TrainingInterrupted
    from ttrain.training.write_errors import OutputWriteError

    if isinstance(error, (ConfigError, RegistryError, DataError, CheckpointError)):
        return EXIT_BAD_INPUT
    if isinstance(error, (TrainingFailed, OutputWriteError)) or is_out_of_room(error):
        return EXIT_TRAINING_FAILED
    if isinstance(error, (TrainingInterrupted, KeyboardInterrupt)):
        # StopSignalReceived (a KeyboardInterrupt) and TrainingInterrupted say which signal it was.
        return EXIT_SIGNAL_BASE + int(getattr(error, "signal_number", signal.SIGINT))
    return None


@contextlib.contextmanager
def user_errors(json_output: bool = False, command: str | None = None, who: str = "") -> Iterator[None]:
    """Turn a user's mistake into a message on stderr and an exit code; with `json_output`, also
    `error_json`'s object on stdout, as the output of `command` (`fit`, `eval`, ...). `who` starts
    the message (a data-parallel rank's `rank 1 of 4: `)."""
    try:
        with raising_stop_signals(), warnings.catch_warnings():  # a stop signal: reported below
            warnings.showwarning = _show_warning
            yield
    except typer.BadParameter as error:  # a bad option value: Click reports it on stderr (exit 2)
        if json_output:
            print_json(command, _error_payload(EXIT_BAD_INPUT, make_report("usage", error.format_message())))
        raise
    except (Exception, KeyboardInterrupt) as error:
        code = exit_code_for(error)
        if code is None:
            raise
        message = _message(error)
        if code > EXIT_SIGNAL_BASE and not message.startswith("interrupted"):
            message = f"interrupted: {message}" if str(error) else "interrupted"
        label = {EXIT_BAD_INPUT: "error", EXIT_TRAINING_FAILED: "training failed"}.get(code, "stopped")
        print(f"{who}{label}: {message}", file=sys.stderr)
        if json_output:
            print_json(command, error_json(error, code, message))
        raise typer.Exit(code) from None


def error_json(error: BaseException, exit_code: int, message: str) -> dict[str, Any]:
    """What `--json` prints for an expected failure: `status: error`, `exit_code`, `run_dir` when
    the failed run had one, and the structured `error` (see `ttrain.error_report`)."""
    report = error_report(error, message)
    if report is None:
        raise ValueError(f"not an expected failure: {type(error).__name__}")
    return _error_payload(exit_code, report, getattr(error, "run_dir", None))


def _error_payload(exit_code: int, report: dict[str, Any], run_dir: Any = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"status": "error", "exit_code": exit_code}
    if run_dir is not None:
        payload["run_dir"] = str(run_dir)
    return {**payload, "error": report}
