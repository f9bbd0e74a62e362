"""`import ttrain.nn` stays light: no Numba until a kernel is first used."""

import os
import subprocess
import sys
from pathlib import Path

import ttrain.nn as nn

ROOT = Path(__file__).resolve().parents[2]


def test_import_nn_does_not_import_numba():
    code = "import sys, ttrain.nn, ttrain.nn.functional, ttrain.nn.init; print('numba' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_everything_in_all_is_exported():
    assert all(hasattr(nn, name) for name in nn.__all__)
    for name in ("Module", "Parameter", "Linear", "Sequential", "CrossEntropyLoss", "functional", "init", "MLP"):
        assert name in nn.__all__
