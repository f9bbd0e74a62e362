"""Metrics over all ranks: the sums and counts are added up, never the ranks' means averaged.

A mean of per-rank means is wrong as soon as the ranks saw different numbers of samples (the
last batch of an uneven epoch, an evaluation split that does not divide); the sums are not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ttrain.training.metrics import RunningMean

if TYPE_CHECKING:
    from ttrain.distributed.launch import World


class MetricReducer:
    """What the Trainer calls (its `reducer`) before it reports an epoch's or an evaluation's metrics.

    Called by every rank at the same points (the end of an epoch's steps, of an evaluation), as
    every collective must be."""

    def __init__(self, world: "World") -> None:
        self.world = world

    def reduce_running(self, running: RunningMean) -> RunningMean:
        """A RunningMean holding the sums and counts of every rank's `running` (the same names,
        in the same order, on every rank: every rank runs the same metrics)."""
        state = running.state_dict()
        # A rank whose share of every batch was empty has no names yet: take them from one that has.
        names = max(self.world.comm.allgather(state["names"]), key=len)
        mine = dict(zip(state["names"], zip(state["sums"], state["counts"])))
        both = np.zeros(2 * len(names))  # float64: sums, then counts (exact up to 2**53)
        for i, name in enumerate(names):
            both[i], both[len(names) + i] = mine.get(name, (0.0, 0))
        self.world.comm.Allreduce(_in_place(), both)
        reduced = RunningMean()
        reduced.load_state_dict({"names": names, "sums": both[: len(names)].tolist(),
                                 "counts": [int(c) for c in both[len(names):]]})
        return reduced

    def reduce_count(self, count: int) -> int:
        """The sum over the ranks of an integer count (samples trained on, ...)."""
        return int(self.world.comm.allreduce(int(count)))


def _in_place():
    from mpi4py import MPI

    return MPI.IN_PLACE
