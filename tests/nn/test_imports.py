"""`import ttrain` and `import ttrain.nn` stay light: no Numba until a kernel is first used."""

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


def _run_python(code: str, *flags: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, *flags, "-c", code], capture_output=True, text=True, env=env, timeout=60)


def test_import_ttrain_loads_nothing_but_the_package_itself_and_is_fast():
    code = "import sys, ttrain; print(sorted(m for m in sys.modules if m.startswith(('ttrain', 'numpy', 'numba'))))"
    result = _run_python(code, "-X", "importtime")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['ttrain']"
    # -X importtime's line for the package: "import time: self | cumulative | ttrain", in microseconds.
    (line,) = [line for line in result.stderr.splitlines() if line.split("|")[-1].strip() == "ttrain"]
    assert int(line.split("|")[1]) < 300_000


def test_the_training_api_is_at_the_top_level_and_loads_lazily():
    names = ("fit", "evaluate", "load", "Loaded", "Trainer", "Callback", "DataLoader")
    code = (f"import sys, ttrain\nfor name in {names!r}: getattr(ttrain, name)\n"
            "print('numba' in sys.modules, 'ttrain.training.run' in sys.modules)")
    result = _run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]  # the names alone load no kernels, no training job

    import ttrain
    import ttrain.api
    from ttrain.data import DataLoader
    from ttrain.training import Callback, Trainer

    assert (ttrain.Trainer, ttrain.Callback, ttrain.DataLoader) == (Trainer, Callback, DataLoader)
    assert (ttrain.fit, ttrain.evaluate, ttrain.load) == (ttrain.api.fit, ttrain.api.evaluate, ttrain.api.load)
    assert set(names) <= set(ttrain.__all__) and set(names) <= set(dir(ttrain))
