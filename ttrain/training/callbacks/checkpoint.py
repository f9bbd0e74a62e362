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
        self, directory: Path, save_fn: SaveFn, monitor: str, mode: str = "min", save_last: bool = True, save_best: bool = True
    ) -> None:
        self.directory = Path(directory)
        self.save_fn = save_fn
        self.monitor = monitor
        self.mode = mode
        self.save_last = save_last
        self.save_best = save_best
        self.best: float | None = None
        self.best_epoch: int | None = None

    @property
    def last_path(self) -> Path:
        """Where `last` is written."""
        return self.directory / "last.safetensors"

    @property
    def best_path(self) -> Path:
        """Where `best` is written."""
        return self.directory / "best.safetensors"

    def on_train_epoch_end(self, trainer: "Trainer", metrics: dict[str, float]) -> None:
        value = metrics.get(self.monitor)
        is_best = improved(value, self.best, self.mode)
        if is_best:
            self.best, self.best_epoch = value, trainer.epoch
        # `last` is written after `best` is decided, so the state it carries knows the best so far.
        if self.save_best and is_best:
            self.save_fn(self.best_path, trainer)
        if self.save_last:
            self.save_fn(self.last_path, trainer)

    def on_interrupt(self, trainer: "Trainer") -> None:
        self.save_fn(self.last_path, trainer)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state.get("best")
        self.best_epoch = state.get("best_epoch")
