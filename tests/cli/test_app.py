"""The command line's global options, run as a real subprocess like a user would."""

from __future__ import annotations

import subprocess
import sys

import ttrain


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ttrain", *args], capture_output=True, text=True, timeout=120)


def test_version_prints_package_version() -> None:
    result = _run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"ttrain {ttrain.__version__}"


def test_help_does_not_import_numba() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from ttrain.cli.app import app\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'numba' not in sys.modules, 'ttrain --help imported numba'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_import_ttrain_does_not_import_numba() -> None:
    code = "import sys, ttrain, ttrain.nn, ttrain.optim\nassert 'numba' not in sys.modules\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
