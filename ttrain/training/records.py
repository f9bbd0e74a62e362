"""Run records: `summary.json` in every run directory, for completed, failed and interrupted runs.

A script reads one file to learn what a run was and how it ended:

    status          completed | failed | interrupted
    error           null, or {kind, message, file, line, key, ...} (see ttrain.error_report)
    name, run_dir   the config's name and the run's directory
    epochs, global_step, epoch_step, stopped_early
    final           the last finished epoch's metrics
    best            {monitor, mode, epoch, value, metrics}: the epoch `best` was saved from
    checkpoints     {last, best}: the files that exist
    seconds, train_seconds, started_at, finished_at   (wall time; ISO-8601 UTC)
    config, overrides, resumed_from                   the resolved config and the `--set` list
    versions        {ttrain, numpy, numba, python}
    git             {commit, dirty} of the config's repository; absent when it is in none

It is rewritten atomically (temporary file, fsync, rename) when the run ends, so a reader sees
the old record or the new one, never half of one. `read_run` reads a run directory back,
including runs older than `summary.json` (status `unknown`) and damaged records (`damaged`).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ttrain.strict_json import SCHEMA_VERSION, strict_json

if TYPE_CHECKING:
    from ttrain.config import Config
    from ttrain.training.callbacks import ModelCheckpoint
    from ttrain.training.trainer import Trainer

SUMMARY_FILE = "summary.json"
RUN_STATUSES = ("completed", "failed", "interrupted")
GIT_TIMEOUT_SECONDS = 5.0


@dataclass
class RunRecorder:
    """What a run's record knows from its start; `record` adds how it went, `write` saves it."""

    run_dir: Path
    config: Config
    overrides: Sequence[str] = ()
    resumed_from: Path | None = None
    started: float = field(default_factory=time.perf_counter)
    started_at: str = field(default_factory=lambda: utc_timestamp())

    def record(self, status: str, trainer: Trainer, checkpoint: ModelCheckpoint,
               error: dict[str, Any] | None = None) -> dict[str, Any]:
        """The run record: `status` (one of RUN_STATUSES), the structured `error`, metrics, timings, provenance."""
        from ttrain.config import config_to_dict

        history = trainer.history
        best_record = next((r for r in history if r["epoch"] == checkpoint.best_epoch), None)
        paths = {"last": checkpoint.last_path, "best": checkpoint.best_path}
        record = {
            "schema_version": SCHEMA_VERSION,
            "status": status,
            "error": error,
            "name": self.config.name,
            "run_dir": str(self.run_dir),
            "epochs": trainer.epoch,
            "global_step": trainer.global_step,
            "epoch_step": trainer.epoch_step,  # steps into an unfinished epoch (trainer.max_steps)
            "stopped_early": trainer.should_stop,
            "final": history[-1] if history else {},
            "best": {
                "monitor": checkpoint.monitor,
                "mode": checkpoint.mode,
                "epoch": checkpoint.best_epoch,
                "value": checkpoint.best,
                "metrics": best_record,
            },
            "checkpoints": {k: str(p) for k, p in paths.items() if p.exists()},
            "seconds": time.perf_counter() - self.started,
            "train_seconds": sum(r.get("train.seconds", 0.0) for r in history),
            "started_at": self.started_at,
            "finished_at": utc_timestamp(),
            "config": config_to_dict(self.config),
            "overrides": list(self.overrides),
            "resumed_from": None if self.resumed_from is None else str(self.resumed_from),
            "versions": versions(),
        }
        git = git_state(self.config.base_dir)
        if git is not None:
            record["git"] = git
        return record

    def write(self, record: dict[str, Any]) -> None:
        """Save `record` as `<run_dir>/summary.json`, atomically; an OutputWriteError if it cannot be."""
        from ttrain.training.checkpoint import atomic_write_bytes
        from ttrain.training.write_errors import writing

        path = self.run_dir / SUMMARY_FILE
        with writing("the run summary", path):
            atomic_write_bytes(path, (strict_json(record, indent=2) + "\n").encode("utf-8"))

    def write_quietly(self, record: dict[str, Any]) -> None:
        """`write`, for a run that is failing already: a full disk must not hide the first error."""
        from ttrain.training.write_errors import OutputWriteError

        with contextlib.suppress(OutputWriteError, OSError):
            self.write(record)


def utc_timestamp() -> str:
    """Now, as ISO-8601 UTC to the millisecond: `2026-12-02T05:54:52.123Z`."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def versions() -> dict[str, str | None]:
    """The versions a run's numbers depend on; numba's read from its metadata, without importing it."""
    from importlib import metadata

    import numpy

    from ttrain import __version__

    try:
        numba = metadata.version("numba")
    except metadata.PackageNotFoundError:
        numba = None
    return {"ttrain": __version__, "numpy": numpy.__version__, "numba": numba, "python": platform.python_version()}


def git_state(folder: Path) -> dict[str, Any] | None:
    """`{commit, dirty}` of the git repository `folder` is in (dirty: a tracked file differs from
    the commit), or None: not a repository, no git, or git too slow. Never an error."""
    commit = _git(folder, "rev-parse", "HEAD")
    if commit is None:
        return None
    changes = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if changes is None else bool(changes)}


def _git(folder: Path, *args: str) -> str | None:
    try:
        # GIT_OPTIONAL_LOCKS=0: `status` must not take the index lock a user's own git command needs.
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_SECONDS, stdin=subprocess.DEVNULL,
                              env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


# ---- reading runs back ---------------------------------------------------------------------------
def is_run_dir(path: Path) -> bool:
    """A folder `ttrain fit` made: it has a summary, or a config beside metrics or checkpoints."""
    if (path / SUMMARY_FILE).is_file():
        return True
    return (path / "config.yaml").is_file() and ((path / "metrics.jsonl").is_file() or (path / "checkpoints").is_dir())


def find_run_dirs(root: Path) -> list[Path]:
    """The run directories in `root` (itself one, or `<name>/<n>` folders, or a sweep's trials), at
    any depth, in natural order (`run/2` before `run/10`); nothing below a run directory is searched."""
    if is_run_dir(root):
        return [root]
    try:
        # Links are not followed: one to a folder above would never end.
        children = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")]
    except OSError:
        return []  # a folder we may not read holds no runs we could show
    return [run for child in sorted(children, key=_natural) for run in find_run_dirs(child)]


def _natural(path: Path) -> tuple[int, int | str]:
    return (0, int(path.name)) if path.name.isdigit() else (1, path.name)


def read_run(run_dir: Path) -> dict[str, Any]:
    """The record of `run_dir`: its `summary.json`; for a run without one, what `config.yaml` and
    `metrics.jsonl` tell (status `unknown`); for an unreadable one, status `damaged` and the error."""
    path = run_dir / SUMMARY_FILE
    if not path.is_file():
        return _record_without_summary(run_dir)
    try:
        record = json.loads(_read_text(path))
    except ValueError as error:  # unreadable, not UTF-8, or not JSON
        return _damaged(run_dir, path, f"{path}: not a readable JSON file ({error})")
    if not isinstance(record, dict) or record.get("status") not in RUN_STATUSES:
        return _damaged(run_dir, path, f"{path}: not a run record (no status {' / '.join(RUN_STATUSES)})")
    problem = _shape_problem(record)
    if problem is not None:
        return _damaged(run_dir, path, f"{path}: not a run record ({problem})")
    return {**record, "run_dir": str(run_dir)}  # where it is now, wherever it was written


# The fields a run table reads, and the types they may have: a record that breaks one is damaged.
_NUMBER, _TEXT = (int, float, type(None)), (str, type(None))
_SHAPE: dict[str, tuple[type, ...]] = {"name": _TEXT, "final": (dict,), "best": (dict,), "seconds": _NUMBER,
                                       "overrides": (list,), "config": (dict, type(None)), "error": (dict, type(None))}
_BEST_SHAPE: dict[str, tuple[type, ...]] = {"monitor": _TEXT, "value": _NUMBER, "epoch": _NUMBER,
                                            "metrics": (dict, type(None))}


def _shape_problem(record: dict[str, Any]) -> str | None:
    """What in `record` is not as `RunRecorder.record` writes it, or None."""
    for fields, where in ((_SHAPE, record), (_BEST_SHAPE, record.get("best", {}))):
        for key, types in fields.items():
            if key in where and not isinstance(where[key], types):
                return f"{key} is {type(where[key]).__name__}"
    if not all(isinstance(o, str) for o in record.get("overrides", [])):
        return "overrides are not all text"
    if isinstance(record.get("error"), dict) and not isinstance(record["error"].get("message"), str):
        return "error has no message"
    return None


def _read_text(path: Path) -> str:
    """A run's text file, read as any input is (a regular file, bounded: never a FIFO to wait on);
    a ValueError if it cannot be."""
    from ttrain.input_files import DATA, read_input

    return read_input(path, DATA, lambda problem: ValueError(f"{path}: {problem}")).decode("utf-8")


def _damaged(run_dir: Path, path: Path, message: str) -> dict[str, Any]:
    error = {"kind": "data", "message": message, "file": str(path), "line": None, "key": None}
    return {"status": "damaged", "error": error, "name": run_dir.parent.name, "run_dir": str(run_dir)}


def read_history(run_dir: Path) -> list[dict[str, Any]]:
    """The epochs `run_dir/metrics.jsonl` logged, one dict each, as far as it reads (a torn or
    unreadable line is left out; no file, no epochs)."""
    history: list[dict[str, Any]] = []
    with contextlib.suppress(ValueError):
        for line in _read_text(run_dir / "metrics.jsonl").splitlines():
            with contextlib.suppress(ValueError):
                row = json.loads(line)
                if isinstance(row, dict):
                    history.append(row)
    return history


def _record_without_summary(run_dir: Path) -> dict[str, Any]:
    """What a run older than summary.json shows: its config and logged metrics, as far as they read."""
    import yaml

    config: dict[str, Any] | None = None
    with contextlib.suppress(ValueError, yaml.YAMLError):
        loaded = yaml.safe_load(_read_text(run_dir / "config.yaml"))
        config = loaded if isinstance(loaded, dict) else None
    history = read_history(run_dir)
    section = (config or {}).get("checkpoint")
    monitor, mode = (section.get("monitor"), section.get("mode")) if isinstance(section, dict) else (None, None)
    scored = [r for r in history if isinstance(r.get(monitor), (int, float))]
    best = (min if mode == "min" else max)(scored, key=lambda r: r[monitor]) if scored and mode else None
    checkpoints = {k: str(p) for k in ("last", "best") if (p := run_dir / "checkpoints" / f"{k}.safetensors").exists()}
    return {
        "status": "unknown",
        "error": None,
        "name": (config or {}).get("name") or run_dir.parent.name,
        "run_dir": str(run_dir),
        "epochs": history[-1].get("epoch") if history else None,
        "final": history[-1] if history else {},
        "best": {"monitor": monitor, "mode": mode, "epoch": best.get("epoch") if best else None,
                 "value": best[monitor] if best else None, "metrics": best},
        "checkpoints": checkpoints,
        "seconds": None,
        "config": config,
        "overrides": [],
    }
