"""Everything a run needs to continue exactly, to and from one checkpoint file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ttrain.autograd.tensor import unwrap
from ttrain.config import config_to_dict
from ttrain.random import default_generator
from ttrain.training.checkpoint import CheckpointError, load_checkpoint, merge_state, save_checkpoint, split_state
from ttrain.training.experiment import Experiment


def _array(value: Any) -> np.ndarray:
    return np.asarray(unwrap(value))


def model_tensors(model: Any) -> dict[str, np.ndarray]:
    """The model's state dict as arrays under `model.<name>`."""
    return {f"model.{name}": _array(value) for name, value in model.state_dict().items()}


def save_snapshot(path: Path, experiment: Experiment, rank_streams: list[dict[str, Any]] | None = None) -> None:
    """Write model, optimizer, scheduler, loop, callback and RNG state to `path` (atomically).

    `rank_streams`: in a data-parallel run, every rank's own random stream (dropout, augmentation),
    rank by rank, which a resume under as many ranks restores (`ttrain.distributed`)."""
    trainer = experiment.trainer
    tensors = model_tensors(experiment.model)
    optimizer_tensors, optimizer_state = split_state(experiment.optimizer.state_dict(), "optimizer")
    tensors.update(optimizer_tensors)
    scheduler_state = None
    if experiment.scheduler is not None:
        scheduler_tensors, scheduler_state = split_state(experiment.scheduler.state_dict(), "scheduler")
        tensors.update(scheduler_tensors)
    # The trainer's state holds the epoch's sample order (an array) when it stops inside an epoch.
    trainer_tensors, trainer_state = split_state(trainer.state_dict(), "trainer")
    tensors.update(trainer_tensors)
    metadata = {
        "config": config_to_dict(experiment.config),
        "epoch": trainer.epoch,
        "global_step": trainer.global_step,
        "epoch_step": trainer.epoch_step,
        "metrics": trainer.history[-1] if trainer.history else {},
        "trainer": trainer_state,
        "optimizer": optimizer_state,
        "scheduler": scheduler_state,
        "rng": {"global": default_generator().get_state(), "shuffle": experiment.shuffle_generator.get_state(),
                **({"ranks": rank_streams} if rank_streams is not None else {})},
        "callbacks": trainer.callbacks.state_dict(),  # each under its own key (CallbackList.keyed)
    }
    train = experiment.datasets["train"]
    if getattr(train, "vocabulary", None) is not None:  # a text model: `ttrain sample` needs no data file
        metadata["text"] = {"vocabulary": train.vocabulary, "seq_len": int(train.input_shape[0])}
    save_checkpoint(path, tensors, metadata)


def load_model_state(path: Path, model: Any, tensors: dict[str, np.ndarray]) -> None:
    """Load the `model.*` tensors into `model`; a mismatch is a CheckpointError naming the file."""
    state = {name[len("model."):]: array for name, array in tensors.items() if name.startswith("model.")}
    try:
        model.load_state_dict(state, strict=True)
    except (KeyError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path}: the checkpoint does not fit the model: {error}") from None


def _schedule_lengths(scheduler: Any) -> list[int | None]:
    """The fixed lengths (`total_steps`, as OneCycleLR has) of a scheduler and those it wraps."""
    return [getattr(s, "total_steps", None) for s in [scheduler, *getattr(scheduler, "_schedulers", [])]]


def _check_schedule_lengths(path: Path, planned: list[int | None], saved: list[int | None]) -> None:
    # A fixed-length schedule cannot be stretched: its lr curve was laid out for the saved run's
    # length, and stepping past its end fails half-way through training.
    for want, have in zip(planned, saved):
        if want != have:
            raise CheckpointError(
                f"{path}: its learning-rate schedule was laid out for {have} steps, this run needs {want}; "
                "resume with the trainer.epochs the checkpoint was trained with, or set scheduler.total_steps"
            )


def restore_snapshot(path: Path, experiment: Experiment,
                     loaded: tuple[dict[str, np.ndarray], dict[str, Any]] | None = None) -> dict[str, Any]:
    """Continue `experiment` from the checkpoint at `path`; returns its metadata. `loaded`: what
    `load_checkpoint(path)` already returned, so a checkpoint checked up front is not read twice."""
    tensors, metadata = loaded if loaded is not None else load_checkpoint(path)
    load_model_state(path, experiment.model, tensors)
    trainer = experiment.trainer
    try:
        experiment.optimizer.load_state_dict(merge_state(metadata["optimizer"], tensors))
        if experiment.scheduler is not None and metadata.get("scheduler") is not None:
            planned = _schedule_lengths(experiment.scheduler)
            experiment.scheduler.load_state_dict(merge_state(metadata["scheduler"], tensors))
            _check_schedule_lengths(path, planned, _schedule_lengths(experiment.scheduler))
        trainer.load_state_dict(merge_state(metadata["trainer"], tensors))
        if trainer.progress is not None and trainer.progress.data is not None:
            # Checked here, so that a position that does not fit the data is a CheckpointError.
            experiment.train_loader.load_state_dict(trainer.progress.data)
        default_generator().set_state(metadata["rng"]["global"])
        experiment.shuffle_generator.set_state(metadata["rng"]["shuffle"])
        trainer.callbacks.load_state_dict(metadata.get("callbacks", {}))
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: cannot resume from this checkpoint: {error}") from None
    return metadata
