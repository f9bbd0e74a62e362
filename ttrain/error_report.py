"""Failures as data: the `error` object of a `--json` error and of a failed run's `summary.json`.

    {"kind": "config", "message": "...", "file": "exp.yaml", "line": 12, "key": "optimizer.lr",
     "issues": [{"key": ..., "message": ..., "file": ..., "line": ..., "location": ..., "suggestion": ...}]}

`kind` says what went wrong, so a script can branch on it without parsing the message:
`config`, `registry`, `data`, `checkpoint` (bad input), `training_failed`, `output_write` (the run
failed), `interrupted` (a stop signal; `signal` names it), `usage` (a bad command-line option,
reported by the CLI), and `internal` (a bug, in `summary.json` only). `file`, `line` and `key` are
always present, null when the failure has no such place. Free of NumPy, so the CLI can import it
cheaply.
"""

from __future__ import annotations

import errno
import re
import signal
from typing import Any

BAD_INPUT_KINDS = ("config", "registry", "data", "checkpoint")
ERROR_KINDS = (*BAD_INPUT_KINDS, "training_failed", "output_write", "interrupted", "usage", "internal")

# A write the machine had no room for (disk or quota full, file too large, read-only filesystem):
# the run failed, it was not given bad input.
OUT_OF_ROOM = frozenset(getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EFBIG", "EROFS") if hasattr(errno, name))

_FILE_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+)(?::\d+)?$")


def error_report(error: BaseException, message: str | None = None) -> dict[str, Any] | None:
    """The structured form of an expected failure (`message` replaces its text), or None for a bug."""
    from ttrain.config.errors import ConfigError
    from ttrain.config.registry import RegistryError
    from ttrain.data.errors import DataError
    from ttrain.training.checkpoint import CheckpointError
    from ttrain.training.trainer import TrainingFailed, TrainingInterrupted
    from ttrain.training.write_errors import OutputWriteError

    text = message if message is not None else (str(error) or type(error).__name__)
    if isinstance(error, ConfigError):
        issues = [_issue(issue) for issue in error.issues]
        first = issues[0]
        return make_report("config", text, first["file"], first["line"], first["key"] or None, issues=issues)
    if isinstance(error, RegistryError):
        return make_report("registry", text, suggestion=error.suggestion)
    if isinstance(error, DataError):
        return make_report("data", text)
    if isinstance(error, CheckpointError):
        return make_report("checkpoint", text)
    if isinstance(error, TrainingFailed):
        return make_report("training_failed", text)
    if isinstance(error, OutputWriteError):
        return make_report("output_write", text, str(error.path))
    if is_out_of_room(error):
        filename = getattr(error, "filename", None)
        return make_report("output_write", text, None if filename is None else str(filename))
    if isinstance(error, (TrainingInterrupted, KeyboardInterrupt)):
        from ttrain.signals import signal_name

        number = int(getattr(error, "signal_number", signal.SIGINT))
        return make_report("interrupted", text, signal=signal_name(number))
    return None


def is_out_of_room(error: BaseException) -> bool:
    """True for an OSError that says the machine had no room to write."""
    return isinstance(error, OSError) and error.errno in OUT_OF_ROOM


def internal_report(error: BaseException) -> dict[str, Any]:
    """A bug's report, for a run record: its type and message."""
    return make_report("internal", f"{type(error).__name__}: {error}")


def make_report(kind: str, message: str, file: str | None = None, line: int | None = None, key: str | None = None,
                **extra: Any) -> dict[str, Any]:
    """An error object of `kind` (one of ERROR_KINDS)."""
    return {"kind": kind, "message": message, "file": file, "line": line, "key": key, **extra}


def _issue(issue: Any) -> dict[str, Any]:
    """A ConfigIssue as data: its location (`file:line`, or `--set key=value`) split into file and line."""
    from ttrain.config.loader import OVERRIDE_PREFIX

    location = issue.location
    file, line = location, None
    if location is None or location.startswith(OVERRIDE_PREFIX):
        file = None
    elif (match := _FILE_LINE.match(location)) is not None:
        file, line = match["file"], int(match["line"])
    return {"key": issue.path, "message": issue.message, "file": file, "line": line, "location": location,
            "suggestion": issue.suggestion}
