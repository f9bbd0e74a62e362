"""`SchedulerStepper`: steps a learning-rate scheduler after every optimizer step or every epoch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ttrain.training.callbacks.base import Callback, Priority

if TYPE_CHECKING:
    from ttrain.training.trainer import Trainer

INTERVALS = ("epoch", "step")


class SchedulerStepper(Callback):
    """Calls `scheduler.step()` after every optimizer step (`interval="step"`) or after each
    epoch's evaluation (`"epoch"`); a scheduler that declares `needs_metric` (ReduceLROnPlateau)
    gets the epoch's `monitor` metric, `step(metrics[monitor])`.

    `interval` defaults to the scheduler's `default_interval` (OneCycleLR: `"step"`), else
    `"epoch"`; `monitor` to `train.loss`. It runs at `Priority.TRAINING`, before every other
    callback, so they all see the lr the next step will use, and a checkpoint holds the stepped
    scheduler. The scheduler's own state is saved beside the optimizer's (`snapshot.py`), not as
    this callback's state, so that checkpoints keep one layout with or without it.
    """

    priority = Priority.TRAINING

    def __init__(self, scheduler: Any, interval: str | None = None, monitor: str | None = None) -> None:
        interval = interval or getattr(scheduler, "default_interval", "epoch")
        if interval not in INTERVALS:
            raise ValueError(f"a scheduler's interval is 'epoch' or 'step', not {interval!r}")
        if scheduler.needs_metric and interval != "epoch":
            raise ValueError(f"{type(scheduler).__name__} steps on a monitored metric, which exists once an epoch: "
                             "use interval 'epoch'")
        self.scheduler = scheduler
        self.interval = interval
        self.monitor = monitor or "train.loss"

    def on_train_batch_end(self, trainer: "Trainer", loss: float, batch_size: int) -> None:
        if self.interval == "step":
            self.scheduler.step()

    def on_train_epoch_end(self, trainer: "Trainer", metrics: dict[str, float]) -> None:
        if self.interval != "epoch":
            return
        if self.scheduler.needs_metric:
            self.scheduler.step(metrics[self.monitor])
        else:
            self.scheduler.step()
