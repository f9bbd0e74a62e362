"""`Callback`: no-op hooks the Trainer calls; `CallbackList` dispatches to many in order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ttrain.training.trainer import Trainer


class Callback:
    """Base class: override the hooks you need; each receives the trainer."""

    def on_fit_start(self, trainer: "Trainer") -> None:
        """Before the first epoch."""

    def on_train_epoch_start(self, trainer: "Trainer") -> None:
        """Before an epoch's first step (`trainer.epoch` + 1 is the epoch about to run); for an
        epoch continued from a checkpoint, before its next step (`trainer.epoch_step` are done)."""

    def on_train_batch_end(self, trainer: "Trainer", loss: float, batch_size: int) -> None:
        """After each optimizer step."""

    def on_train_epoch_end(self, trainer: "Trainer", metrics: dict[str, float]) -> None:
        """After the epoch's training and evaluation, with all of its metrics."""

    def on_fit_end(self, trainer: "Trainer") -> None:
        """After the last epoch (or an early stop)."""

    def on_interrupt(self, trainer: "Trainer") -> None:
        """When a stop signal (SIGINT, SIGTERM, SIGHUP) or `request_stop` ended training at a safe
        point: after a step, inside an evaluation, or after the last epoch."""

    def on_exception(self, trainer: "Trainer", error: BaseException) -> None:
        """When training stops with an error (the error is re-raised after the hooks)."""

    @property
    def state_key(self) -> str:
        """The name this callback's state is saved under: its class name, plus (in subclasses
        that can appear twice, e.g. watching two metrics) what tells instances apart."""
        return type(self).__qualname__

    def state_dict(self) -> dict[str, Any]:
        """What to keep in a checkpoint so a resumed run continues exactly."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""


class CallbackList(Callback):
    """Calls each callback's hook in order."""

    def __init__(self, callbacks: list[Callback]) -> None:
        self.callbacks = list(callbacks)

    def on_fit_start(self, trainer: "Trainer") -> None:
        for c in self.callbacks:
            c.on_fit_start(trainer)

    def on_train_epoch_start(self, trainer: "Trainer") -> None:
        for c in self.callbacks:
            c.on_train_epoch_start(trainer)

    def on_train_batch_end(self, trainer: "Trainer", loss: float, batch_size: int) -> None:
        for c in self.callbacks:
            c.on_train_batch_end(trainer, loss, batch_size)

    def on_train_epoch_end(self, trainer: "Trainer", metrics: dict[str, float]) -> None:
        for c in self.callbacks:
            c.on_train_epoch_end(trainer, metrics)

    def on_fit_end(self, trainer: "Trainer") -> None:
        for c in self.callbacks:
            c.on_fit_end(trainer)

    def on_interrupt(self, trainer: "Trainer") -> None:
        for c in self.callbacks:
            c.on_interrupt(trainer)

    def on_exception(self, trainer: "Trainer", error: BaseException) -> None:
        for c in self.callbacks:
            c.on_exception(trainer, error)
