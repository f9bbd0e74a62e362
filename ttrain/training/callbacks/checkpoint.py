"""`ModelCheckpoint`: writes `last` after every epoch (and every N steps, and on a stop signal),
and `best` when the monitored metric improves."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ttrain.training.callbacks.base import Callback, Priority

if TYPE_CHECKING:
    from ttrain.training.trainer import Trainer

SaveFn = Callable[[Path, "Trainer"], None]


def improved(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """Whether `value` beats `best` in direction `mode` by more than `min_delta`; NaN never does."""
    if value is None or not math.isfinite(value):
        return False
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _position(trainer: "Trainer") -> tuple[int, int, bool]:
    """Where the trainer stands: epochs done, global step, and whether the epoch under way has
    finished its steps (its evaluation pending). Two saves at one position hold the same state."""
    progress = trainer.progress
    return trainer.epoch, trainer.global_step, bool(progress is not None and progress.train_done)


class ModelCheckpoint(Callback):
    """Save checkpoints through `save_fn(path, trainer)` into `directory`.

    `last` is written after every `every_n_epochs`-th epoch, after every `every_n_steps`-th
    optimizer step (when set), at the end of fit, and when a stop signal interrupts training
    (whatever `save_last` says: that save is what makes the interruption resumable). Each is a
    full snapshot from which a resumed run continues exactly. It runs last (`Priority.CHECKPOINT`),
    so the state it saves holds what every other callback (early stopping) made of the epoch.
    """

    priority = Priority.CHECKPOINT

    def __init__(
        self,
        directory: Path,
        save_fn: SaveFn,
        monitor: str,
        mode: str = "min",
        save_last: bool = True,
        save_best: bool = True,
        every_n_epochs: int = 1,
        every_n_steps: int | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.save_fn = save_fn
        self.monitor = monitor
        self.mode = mode
        self.save_last = save_last
        self.save_best = save_best
        self.every_n_epochs = every_n_epochs
        self.every_n_steps = every_n_steps
        self.best: float | None = None
        self.best_epoch: int | None = None
        self._last_saved_at: tuple[int, int, bool] | None = None

    @property
    def state_key(self) -> str:
        return f"ModelCheckpoint[{self.monitor},{self.mode}]"

    @property
    def last_path(self) -> Path:
        """Where `last` is written."""
        return self.directory / "last.safetensors"

    @property
    def best_path(self) -> Path:
        """Where `best` is written."""
        return self.directory / "best.safetensors"

    def _save_last(self, trainer: "Trainer") -> None:
        position = _position(trainer)
        if position != self._last_saved_at:
            self.save_fn(self.last_path, trainer)
            self._last_saved_at = position

    def on_train_batch_end(self, trainer: "Trainer", loss: float, batch_size: int) -> None:
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0:
            self._save_last(trainer)

    def on_train_epoch_end(self, trainer: "Trainer", metrics: dict[str, float]) -> None:
        if trainer.epoch % self.every_n_epochs:
            return  # as in Lightning, `best` is only chosen among the epochs that are saved
        value = metrics.get(self.monitor)
        is_best = improved(value, self.best, self.mode)
        if is_best:
            self.best, self.best_epoch = value, trainer.epoch
        # `last` is written after `best` is decided, so the state it carries knows the best so far.
        if self.save_best and is_best:
            self.save_fn(self.best_path, trainer)
        if self.save_last:
            self._save_last(trainer)

    def on_fit_end(self, trainer: "Trainer") -> None:
        # With every_n_epochs > 1 the final epoch may fall between saves, and trainer.max_steps may
        # end the run inside an epoch; `last` still holds where the run ended.
        if self.save_last and trainer.global_step:
            self._save_last(trainer)

    def on_interrupt(self, trainer: "Trainer") -> None:
        self._save_last(trainer)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state.get("best")
        self.best_epoch = state.get("best_epoch")
