"""Was this process started by an MPI launcher, and as which rank? Then the MPI world, via mpi4py."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

# The world size each launcher puts in every rank's environment, in the order they are trusted:
# Open MPI's mpiexec, MPICH/Intel MPI (PMI), and srun (SLURM_STEP_NUM_TASKS exists only inside a
# job step that srun started: a batch script's own shell has SLURM_NTASKS, not this).
_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_STEP_NUM_TASKS")
# PMIx (Open MPI 5, srun --mpi=pmix) always sets a rank; its size may come from the variables above.
_RANK_VARIABLES = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID")


class MPIUnavailable(RuntimeError):
    """Started by an MPI launcher, but mpi4py (or the MPI library under it) cannot be loaded."""


def launched_world_size(environ: Mapping[str, str] | None = None) -> int:
    """The number of ranks a launcher started this process among (1: not launched, or alone).

    Reads environment variables only: it imports nothing and costs nothing without MPI.
    """
    environ = os.environ if environ is None else environ
    for name in _SIZE_VARIABLES:
        value = environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def launcher_name(environ: Mapping[str, str] | None = None) -> str | None:
    """The variable that says this process was launched by MPI (for messages), or None."""
    environ = os.environ if environ is None else environ
    return next((name for name in _SIZE_VARIABLES + _RANK_VARIABLES if name in environ), None)


@dataclass
class World:
    """The ranks of one data-parallel job: `comm` is mpi4py's COMM_WORLD. `failed_everywhere`:
    every rank failed the same setup step (`faults.agree_on_setup`): exit, no abort needed."""

    comm: Any
    rank: int
    size: int
    failed_everywhere: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that prints and writes."""
        return self.rank == 0

    def abort(self, code: int) -> None:
        """End every rank of the job now with exit status `code` (MPI_Abort never returns)."""
        self.comm.Abort(code)


def init_world(environ: Mapping[str, str] | None = None) -> World | None:
    """The MPI world when a launcher started more than one rank, None for a single process.

    Raises `MPIUnavailable` when launched with several ranks but mpi4py cannot be imported:
    going on would train N independent copies of one run into N run directories.
    """
    size = launched_world_size(environ)
    if size <= 1:
        return None
    try:
        from mpi4py import MPI
    except ImportError as error:  # also a broken MPI library under mpi4py
        raise MPIUnavailable(
            f"started by an MPI launcher with {size} ranks ({launcher_name(environ)} is set), but mpi4py cannot be "
            f"imported ({error}); install the mpi extra (pip install 'ttrain[mpi]') or start a single process"
        ) from None
    comm = MPI.COMM_WORLD
    return World(comm, comm.Get_rank(), comm.Get_size())


def drop_terminal_reset() -> None:
    """Keep colorama (imported by numba) from writing a terminal reset code at exit.

    Open MPI runs every rank on a pseudo-terminal, even when mpiexec's own output is a pipe, so
    colorama's exit hook would append `ESC[0m` to output meant for a program (`--json | jq`).
    """
    import atexit
    import sys

    initialise = sys.modules.get("colorama.initialise")
    if initialise is not None and hasattr(initialise, "reset_all"):
        atexit.unregister(initialise.reset_all)
