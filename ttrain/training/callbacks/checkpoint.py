"""`ModelCheckpoint`: writes `last` after every epoch and `best` when the monitored metric improves."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ttrain.training.callbacks.base import Callback

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


class ModelCheckpoint(Callback):
    """Save checkpoints through `save_fn(path, trainer)` into `directory`."""

    def __init__(
        self,
        directory: Path,
        save_fn: SaveFn,
        monitor: str,
        mode: str = "min",
        save_last: bool = True,
        save_best: bool = True,
        every_n_epochs: int = 1,
    ) -> None:
        self.directory = Path(directory)
        self.save_fn = save_fn
        self.monitor = monitor
        self.mode = mode
        self.save_last = save_last
        self.save_best = save_best
        self.every_n_epochs = every_n_epochs
        self.best: float | None = None
        self.best_epoch: int | None = None
        self._saved_epoch: int | None = None

    @property
    def last_path(self) -> Path:
        """Where `last` is written."""
        return self.directory / "last.safetensors"

    @property
    def best_path(self) -> Path:
        """Where `best` is written."""
        return self.directory / "best.safetensors"

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
            self.save_fn(self.last_path, trainer)
        self._saved_epoch = trainer.epoch

    def on_fit_end(self, trainer: "Trainer") -> None:
        # With every_n_epochs > 1 the final epoch may fall between saves; `last` still holds it.
        if self.save_last and trainer.epoch and self._saved_epoch != trainer.epoch:
            self.save_fn(self.last_path, trainer)
            self._saved_epoch = trainer.epoch

    def on_interrupt(self, trainer: "Trainer") -> None:
        self.save_fn(self.last_path, trainer)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state.get("best")
        self.best_epoch = state.get("best_epoch")
