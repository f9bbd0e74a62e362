"""Fixtures for the command-line tests: configs on disk, in-process runs (CliRunner) and real subprocesses.

Every run writes under the test's own `tmp_path` (`trainer.output_dir`), never into the repository.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest
from typer.testing import CliRunner

from ttrain.cli.app import app

from .helpers import SPIRALS, subprocess_env


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write YAML text to `<tmp>/<name>` and return its path."""

    def write(text: str = SPIRALS, name: str = "spirals.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """The `trainer.output_dir` runs of this test write to."""
    return tmp_path / "runs"


@pytest.fixture
def cli() -> Callable[..., Any]:
    """Run `ttrain ARGS...` in this process; returns Click's Result (stdout and stderr apart)."""
    runner = CliRunner()

    def invoke(*args: Any) -> Any:
        return runner.invoke(app, [str(a) for a in args])

    return invoke


@pytest.fixture
def fit_json(cli: Callable[..., Any], out_dir: Path) -> Callable[..., dict[str, Any]]:
    """Run `ttrain fit CONFIG --json --set trainer.output_dir=<tmp> ...`, assert success, return the summary."""

    def fit(config: Path, *args: str) -> dict[str, Any]:
        result = cli("fit", config, "--json", "--set", f"trainer.output_dir={out_dir}", *args)
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    return fit


@pytest.fixture
def ttrain_process() -> Callable[..., subprocess.CompletedProcess]:
    """Run `python -m ttrain ARGS...` as a real subprocess (stdout and stderr captured as text)."""

    def run(*args: Any, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "ttrain", *map(str, args)],
            capture_output=True, text=True, timeout=timeout, cwd=cwd, env=subprocess_env(),
        )

    return run
