"""A failing rank takes the whole job down, at once, saying which rank and why.

Setup (the config, the data, the model, the checkpoint to resume) usually fails the same way on
every rank: `agree_on_setup` has the ranks compare notes first, so such an error is reported once,
by rank 0, and every rank exits with its code, with no abort. A failure on some ranks only, or
later, in training, is the case for MPI_Abort below.

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


class FailedOnEveryRank(Exception):
    """Every rank failed the same setup step; rank 0 reports it, the others exit quietly with `exit_code`."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(f"setup failed on every rank (exit code {exit_code})")
        self.exit_code = exit_code


@contextlib.contextmanager
def setup_stage(world: "World | None") -> Iterator[None]:
    """Around a setup step every rank runs: its outcome goes through `agree_on_setup` (nothing
    for a single process: `world` None)."""
    if world is None:
        yield
        return
    try:
        yield
    except Exception as error:
        agree_on_setup(world, error)
        raise
    agree_on_setup(world, None)


def agree_on_setup(world: "World | None", error: BaseException | None) -> None:
    """Called by every rank at the same point, with the error its setup raised (None: it succeeded).

    Returns when no rank failed. When every rank failed: rank 0 raises its error (reported once,
    then the job exits with its code, without an abort), the others raise
    `FailedOnEveryRank`. When only some failed, they raise their errors (reported with the rank,
    then MPI_Abort); the others wait to be ended by that abort.
    """
    if world is None:
        if error is not None:
            raise error
        return
    failed = world.comm.allgather(error is not None)
    if not any(failed):
        return
    if all(failed):
        world.failed_everywhere = True
        if world.is_main:
            raise error  # type: ignore[misc]
        from ttrain.cli.errors import exit_code_for

        raise FailedOnEveryRank(exit_code_for(error) or EXIT_BUG)  # type: ignore[arg-type]
    if error is not None:
        raise error
    import time

    time.sleep(60)  # the failing rank's MPI_Abort ends this process long before
    raise FailedOnEveryRank(EXIT_BUG)


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
    except FailedOnEveryRank as failure:  # rank 0 reports it
        raise typer.Exit(failure.exit_code) from None
    except typer.Exit as done:
        if done.exit_code in (0, 3) or world.failed_everywhere:
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
