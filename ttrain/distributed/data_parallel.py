"""Turn an experiment built from a config into one rank of a data-parallel job, and save and
restore its checkpoints across ranks.

What each rank does (all of them the same, in lockstep):
1. builds the experiment from the config and the one seed, so model and optimizer start equal
   (and rank 0's parameters are broadcast, so they are equal bit for bit whatever the platform);
2. reads its share of each global batch (`ShardedLoader`) and of each evaluation split;
3. computes the gradient of its share, then `GradientAllreduce` averages it over the ranks;
4. takes the same optimizer step, so the models stay equal without ever being sent again;
5. adds up metric sums and counts with the others (`MetricReducer`) before anything is reported;
6. joins every checkpoint save (gathering its random stream); only rank 0 writes the file, prints
   progress and owns the run directory.
Dropout and augmentation draw from a per-rank stream derived from the seed and the rank.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from ttrain.distributed.gradients import GradientAllreduce
from ttrain.distributed.reduction import MetricReducer
from ttrain.distributed.sharding import ShardedLoader
from ttrain.random import default_generator, manual_seed
from ttrain.training.callbacks.base import Callback, Priority
from ttrain.training.metrics import RunningMean
from ttrain.training.trainer import TrainingInterrupted

if TYPE_CHECKING:
    from ttrain.config.loader import SourceMap
    from ttrain.distributed.launch import World
    from ttrain.training.experiment import Experiment
    from ttrain.training.trainer import Trainer


def rank_seed(seed: int, rank: int, step: int = 0) -> int:
    """The seed of `rank`'s own stream (dropout, augmentation), derived from the run's `seed`
    (and, for a stream started fresh on resume, the global step it starts at)."""
    entropy = np.random.SeedSequence(seed, spawn_key=(0x6470, rank, step)).generate_state(2, np.uint32)
    return int(entropy[0]) << 31 | int(entropy[1]) >> 1


class _StopEndsTheJob(Callback):
    """A stop signal (Ctrl-C, SIGTERM) seen by one rank ends the whole job instead of a save:
    the other ranks are inside a collective that this rank would never join, so saving `last`
    would hang. Runs before the checkpoint writer's `on_interrupt`; the error is reported with the
    rank and turned into MPI_Abort (`faults.abort_on_failure`)."""

    priority = Priority.TRAINING + 100

    def __init__(self, world: "World") -> None:
        self.world = world

    def on_interrupt(self, trainer: "Trainer") -> None:
        signum = trainer.stop_signal
        from ttrain.signals import signal_name

        raise TrainingInterrupted(
            f"interrupted by {signal_name(signum)} at step {trainer.global_step}: ending all {self.world.size} ranks "
            "(resume from the last periodic checkpoint: checkpoint.every_n_steps)", signum)


@dataclass
class DataParallel:
    """One rank's side of a data-parallel run: what `run.fit` asks of it."""

    world: "World"
    experiment: "Experiment"
    gradients: GradientAllreduce
    reducer: MetricReducer

    def save(self, path: Path, trainer: "Trainer") -> None:
        """Every rank calls this at the same checkpoint; rank 0 writes one file holding the
        epoch's metric sums over all ranks and every rank's random stream."""
        from ttrain.training.snapshot import save_snapshot

        streams = self.world.comm.gather(default_generator().get_state(), root=0)
        progress = trainer.progress
        if progress is not None:
            running = self.reducer.reduce_running(progress.running)
            samples = self.reducer.reduce_count(progress.samples)
        if not self.world.is_main:
            return
        with contextlib.ExitStack() as stack:
            if progress is not None:
                stack.enter_context(_carrying(progress, running, samples))
            save_snapshot(path, self.experiment, rank_streams=streams)

    def after_restore(self, metadata: dict[str, Any]) -> None:
        """Finish `restore_snapshot` on this rank: rank 0 alone carries the saved metric sums (the
        others start theirs at zero, so the next reduction counts them once), and each rank takes
        back its own stream when the checkpoint was written by as many ranks (else a fresh one)."""
        trainer = self.experiment.trainer
        if trainer.progress is not None and not self.world.is_main:
            trainer.progress.running, trainer.progress.samples = RunningMean(), 0
        streams = metadata.get("rng", {}).get("ranks")
        if isinstance(streams, list) and len(streams) == self.world.size:
            default_generator().set_state(streams[self.world.rank])
        else:
            manual_seed(rank_seed(self.experiment.config.seed, self.world.rank, trainer.global_step))


@contextlib.contextmanager
def _carrying(progress: Any, running: RunningMean, samples: int) -> Iterator[None]:
    """`progress` holding the all-rank sums while rank 0 saves it, its own ones again after."""
    own = progress.running, progress.samples
    progress.running, progress.samples = running, samples
    try:
        yield
    finally:
        progress.running, progress.samples = own


def check_batch_splits(experiment: "Experiment", world: "World", source: "SourceMap | None" = None) -> None:
    """A ConfigError unless `trainer.batch_size` (the global batch) splits evenly over the ranks."""
    from ttrain.config.errors import ConfigError, ConfigIssue

    batch = experiment.config.trainer.batch_size
    if batch % world.size:
        divisors = [m for m in range(1, batch + 1) if batch % m == 0 and m <= 64]
        where = str(source.locate(["trainer", "batch_size"])) if source is not None else None
        raise ConfigError(ConfigIssue(path="trainer.batch_size", location=where, message=(
            f"the global batch of {batch} does not split over {world.size} ranks; run on a number of ranks that "
            f"divides it ({', '.join(map(str, divisors))}) or change trainer.batch_size")))


def check_batch_norm_shares(experiment: "Experiment", world: "World", source: "SourceMap | None" = None) -> None:
    """A ConfigError when the epoch's last global batch leaves a rank fewer than 2 samples and the
    model has batch norm: per-rank statistics of one sample cannot be computed, and a synchronised
    batch norm would wait forever for a rank that has no sample to run forward on."""
    from ttrain.config.errors import ConfigError, ConfigIssue
    from ttrain.distributed.sharding import share_bounds
    from ttrain.nn.normalization import _BatchNorm

    trainer_cfg = experiment.config.trainer
    last = len(experiment.datasets["train"]) % trainer_cfg.batch_size
    if trainer_cfg.drop_last or last == 0 or not any(isinstance(m, _BatchNorm) for m in experiment.model.modules()):
        return
    smallest = min(stop - start for start, stop in (share_bounds(last, r, world.size) for r in range(world.size)))
    if smallest < 2:
        where = str(source.locate(["trainer", "drop_last"])) if source is not None else None
        raise ConfigError(ConfigIssue(path="trainer.drop_last", location=where, message=(
            f"the epoch's last batch of {last} samples leaves some of the {world.size} ranks {smallest} sample(s), "
            "too few for batch norm; set trainer.drop_last: true or a batch size that divides the training set")))


def make_data_parallel(experiment: "Experiment", world: "World", source: "SourceMap | None" = None) -> DataParallel:
    """Make `experiment` this rank's part of the job (see the module docstring); returns its handle."""
    check_batch_splits(experiment, world, source)
    check_batch_norm_shares(experiment, world, source)
    config = experiment.config
    trainer_cfg = config.trainer
    datasets = experiment.datasets
    experiment.train_loader = ShardedLoader(
        datasets["train"], trainer_cfg.batch_size, world.rank, world.size, shuffle=trainer_cfg.shuffle,
        drop_last=trainer_cfg.drop_last, generator=experiment.shuffle_generator)
    experiment.eval_loaders = {split: ShardedLoader(loader.dataset, loader.batch_size, world.rank, world.size)
                               for split, loader in experiment.eval_loaders.items()}
    model = experiment.model
    if trainer_cfg.sync_batchnorm:
        from ttrain.distributed.batchnorm import convert_sync_batchnorm

        convert_sync_batchnorm(model, world)
    _broadcast_state(model, world)
    manual_seed(rank_seed(config.seed, world.rank))  # after initialisation: dropout and augmentation
    trainer = experiment.trainer
    gradients = GradientAllreduce(world, list(model.parameters()), experiment.train_loader, experiment.loss_fn)
    trainer.add_callback(gradients)
    trainer.add_callback(_StopEndsTheJob(world))
    reducer = trainer.reducer = MetricReducer(world)
    return DataParallel(world, experiment, gradients, reducer)


def _broadcast_state(model: Any, world: "World") -> None:
    """Rank 0's parameters and buffers on every rank (they are built equal; this makes sure)."""
    for value in model.state_dict().values():
        array = getattr(value, "data", value)
        if isinstance(array, np.ndarray) and array.size and array.flags.c_contiguous:
            world.comm.Bcast(array, root=0)
