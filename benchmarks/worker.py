"""A benchmark worker: one long-lived process that times one framework's steps on request.

    python -m benchmarks.worker --framework ttrain|torch|numpy --threads N --data DIR

The runner starts it with the thread-count environment variables (OPENBLAS_NUM_THREADS,
OMP_NUM_THREADS, MKL_NUM_THREADS, NUMBA_NUM_THREADS) already set, so every thread pool is sized
before its library loads; PyTorch also gets `torch.set_num_threads`. Requests and answers are
JSON lines on stdin/stdout (anything a library prints goes to stderr instead):

    {"op": "setup", "task": {...}}       build the task, run its warm-up steps -> {"ok", "check", "seconds"}
    {"op": "run", "key": K, "steps": n}  time n steps -> {"ok", "seconds", "cpu_seconds"}
    {"op": "quit"}
A failure answers {"ok": false, "error": "..."}. The first line the worker writes says hello:
{"ok": true, "info": {...}} with versions and thread pools, or {"ok": false, "error": ...} when
the framework cannot be imported (PyTorch not installed).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from benchmarks.workloads import Inputs, Task

FRAMEWORK_MODULES = {
    "ttrain": "benchmarks.workloads_ttrain",
    "torch": "benchmarks.workloads_torch",
    "numpy": "benchmarks.workloads_numpy",
}


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def blas_info() -> list[dict[str, Any]]:
    """NumPy's BLAS as threadpoolctl sees it (library, kernel architecture, threads); [] without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = ("internal_api", "version", "architecture", "num_threads", "threading_layer", "prefix")
    return [{k: pool.get(k) for k in keep} for pool in threadpool_info() if pool.get("user_api") == "blas"]


def hello(framework: str, threads: int) -> dict[str, Any]:
    """Import the framework, size its thread pool, and describe it (raises ImportError when absent)."""
    info: dict[str, Any] = {"framework": framework, "threads": threads, "numpy": np.__version__}
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads())
    elif framework == "ttrain":
        import ttrain

        info.update(ttrain=ttrain.__version__, numba=_version("numba"))
    info["blas"] = blas_info()
    prefixes = ("OPENBLAS", "OMP_", "MKL_", "NUMBA_NUM")
    info["env"] = {k: os.environ[k] for k in sorted(os.environ) if k.startswith(prefixes)}
    return info


class Session:
    """The tasks this worker has built: a step function and a cursor over the batches, per task."""

    def __init__(self, framework: str, data: Path) -> None:
        self.module = importlib.import_module(FRAMEWORK_MODULES[framework])
        self.inputs = Inputs.load(data)
        self.steps: dict[str, Callable[[np.ndarray, np.ndarray], None]] = {}
        self.batches: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        self.cursor: dict[str, int] = {}

    def setup(self, task: Task) -> dict[str, Any]:
        """Build `task` and run its warm-up steps (untimed but reported)."""
        started = time.perf_counter()
        step, check = self.module.build(task, self.inputs)
        self.steps[task.key], self.batches[task.key], self.cursor[task.key] = step, self.inputs.batches(task), 0
        self.run(task.key, task.warmup)
        return {"ok": True, "check": check, "seconds": time.perf_counter() - started}

    def run(self, key: str, steps: int) -> tuple[float, float]:
        """Wall and CPU seconds (all of this process's threads) for `steps` steps, continuing through
        the epoch's batches where the last run stopped. CPU time leaves out the time other processes
        held the cores, so on a loaded machine it is the steadier of the two."""
        step, batches, i = self.steps[key], self.batches[key], self.cursor[key]
        n = len(batches)
        cpu, started = time.process_time(), time.perf_counter()
        for k in range(i, i + steps):
            x, y = batches[k % n]
            step(x, y)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        self.cursor[key] = (i + steps) % n
        return seconds, cpu


def serve(framework: str, threads: int, data: Path, requests: TextIO, answers: TextIO) -> None:
    """Answer requests until "quit" or end of input."""

    def answer(message: dict[str, Any]) -> None:
        answers.write(json.dumps(message) + "\n")
        answers.flush()

    try:
        info = hello(framework, threads)
        session = Session(framework, data)
    except ImportError as error:
        answer({"ok": False, "error": f"{type(error).__name__}: {error}"})
        return
    answer({"ok": True, "info": info})
    for line in requests:
        request = json.loads(line)
        try:
            if request["op"] == "quit":
                return
            if request["op"] == "setup":
                task = Task(**{**request["task"], "frameworks": tuple(request["task"]["frameworks"])})
                answer(session.setup(task))
            elif request["op"] == "run":
                seconds, cpu = session.run(request["key"], int(request["steps"]))
                answer({"ok": True, "seconds": seconds, "cpu_seconds": cpu})
            else:
                answer({"ok": False, "error": f"unknown op {request['op']!r}"})
        except Exception as error:  # reported to the runner, which skips this framework for the task
            traceback.print_exc(file=sys.stderr)
            answer({"ok": False, "error": f"{type(error).__name__}: {error}"})


def main() -> None:
    """Entry point: keep the real stdout for answers and send everything else to stderr."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=sorted(FRAMEWORK_MODULES), required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints (Python or C) cannot break the protocol
    serve(args.framework, args.threads, args.data, sys.stdin, answers)


if __name__ == "__main__":
    main()
