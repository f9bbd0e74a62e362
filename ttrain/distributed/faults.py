"""A failing rank takes the whole job down, at once, saying which rank and why.

Without this, one rank that raises (bad data, a NaN, Ctrl-C, a bug) exits while the others wait
forever in their next allreduce. `abort_on_failure` sits outside the command's error reporting,
which has already printed `rank r of N: <reason>`; it then calls MPI_Abort with the exit code the
error maps to, and the launcher ends every rank. Checkpoints stay whole: they are written to a
temporary file and renamed into place, so a job killed mid-save leaves the previous file.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from ttrain.distributed.launch import World

EXIT_BUG = 1


def rank_label(world: "World | None") -> str:
    """`rank 1 of 4: ` (nothing for a single process): what starts a rank's messages."""
    return f"rank {world.rank} of {world.size}: " if world is not None else ""


@contextlib.contextmanager
def abort_on_failure(world: "World | None") -> Iterator[None]:
    """Around a command that has reported its own errors (by exiting with their code): any exit
    other than success (0) or a missed expectation (3, reached by every rank alike) aborts the job."""
    if world is None:
        yield
        return
    import typer

    try:
        yield
    except typer.Exit as done:
        if done.exit_code in (0, 3):
            raise
        _abort(world, done.exit_code)
    except typer.BadParameter as error:  # a bad option value, reported as Click would
        print(f"{rank_label(world)}error: {error.format_message()}", file=sys.stderr)
        _abort(world, error.exit_code)
    except BaseException:  # a bug: its traceback, marked with the rank, then the job ends
        print(f"{rank_label(world)}unexpected error, ending the job:", file=sys.stderr)
        traceback.print_exc()
        _abort(world, EXIT_BUG)


def _abort(world: "World", code: int) -> None:
    sys.stderr.flush()
    sys.stdout.flush()
    world.abort(code)
