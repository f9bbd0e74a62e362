"""A process says once that ttrain's kernels compile, only when they do, and only to its notifier."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ttrain.autograd.compilation import MESSAGE

ROOT = Path(__file__).resolve().parents[2]

# A user's own Numba function (compiled every time: no cache), then two ttrain kernels of two
# modules, compiled on first use: one notice in all, and none for the user's function.
_SCRIPT = """
import numba
import numpy as np
from ttrain.autograd import compilation
compilation.set_notifier(lambda message: print(message))
numba.njit(lambda v: v + 1)(1)
from ttrain.autograd.kernels.elementwise import erf
from ttrain.optim.fused import fused_adagrad
erf(np.zeros(3, dtype=np.float32))
x = np.zeros(3, dtype=np.float32)
fused_adagrad(x, x.copy(), x.copy(), np.ones(3, dtype=np.float32), False)
print("done")
"""


def _run(cache: Path) -> list[str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    env.pop("NUMBA_DISABLE_JIT", None)
    result = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_the_notice_comes_once_while_kernels_compile_and_never_from_a_warm_cache(tmp_path: Path) -> None:
    assert _run(tmp_path) == [MESSAGE, "done"]
    assert _run(tmp_path) == ["done"]  # loaded from the cache the first run filled

