"""The kernel thread pool never runs beside BLAS's threads."""

from __future__ import annotations

import os
import threading
import time
import subprocess
import sys
from pathlib import Path

import pytest

from ttrain.autograd.kernels.conv_threads import for_each_chunk

ROOT = Path(__file__).resolve().parents[3]

_SCRIPT = """
import numpy as np
from threadpoolctl import threadpool_info
from ttrain.autograd.kernels.conv_threads import for_each_chunk

def blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

a = np.ones((64, 64))
a @ a  # BLAS loaded and threaded as the environment says
print(blas_threads())
for_each_chunk(8, 2, lambda i, j: None)  # a parallel run on 2 threads
print(blas_threads())
from ttrain.autograd import parallel
print(parallel._split is not None)  # the ops' large products now split over the pool
"""


def test_after_the_first_parallel_kernel_blas_runs_on_one_thread() -> None:
    pytest.importorskip("threadpoolctl")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2",
           "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    env.pop("NUMBA_DISABLE_JIT", None)
    result = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    before, after, split = result.stdout.splitlines()
    assert before != "[]" and set(eval(before)) == {2}
    assert set(eval(after)) == {1}
    assert split == "True"



def test_every_chunk_runs_once_and_a_failure_surfaces_after_all_finished() -> None:
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def record(start: int, stop: int) -> None:
        with lock:
            seen.append((start, stop))

    for_each_chunk(23, 4, record)
    assert sorted(seen) == [(s, min(s + 4, 23)) for s in range(0, 23, 4)]

    finished: list[int] = []

    def fail_on_first(start: int, stop: int) -> None:
        if start == 0:
            raise ValueError("chunk 0 failed")
        with lock:
            finished.append(start)

    with pytest.raises(ValueError, match="chunk 0 failed"):
        for_each_chunk(12, 2, fail_on_first)
    done = sorted(finished)
    time.sleep(0.05)
    assert sorted(finished) == done  # nothing still runs once the error is raised
    assert len(set(done)) == len(done) <= 5
