"""`EarlyStopping`: stop when the monitored metric has not improved for `patience` epochs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ttrain.training.callbacks.base import Callback
from ttrain.training.callbacks.checkpoint import improved

if TYPE_CHECKING:
    from ttrain.training.trainer import Trainer


class EarlyStopping(Callback):
    """Sets `trainer.should_stop` after `patience` epochs without an improvement of `min_delta`."""

    def __init__(self, monitor: str, mode: str = "min", patience: int = 3, min_delta: float = 0.0) -> None:
        self.monitor = monitor
        self.mode = mode
        self.patience = patience
        self.min_delta = min_delta
        self.best: float | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    @property
    def state_key(self) -> str:
        return f"EarlyStopping[{self.monitor},{self.mode}]"

    def on_train_epoch_end(self, trainer: "Trainer", metrics: dict[str, float]) -> None:
        if improved(metrics.get(self.monitor), self.best, self.mode, self.min_delta):
            self.best, self.wait = metrics[self.monitor], 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.should_stop = True
            self.stopped_epoch = trainer.epoch

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state.get("best")
        self.wait = int(state.get("wait", 0))
