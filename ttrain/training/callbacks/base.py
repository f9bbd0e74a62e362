"""`Callback`: no-op hooks the Trainer calls, and `Priority`: when a callback runs among the others."""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ttrain.training.trainer import Trainer


class Priority(IntEnum):
    """The built-in callback priorities. Higher runs first, at every hook; equal priorities run in
    the order they were added. Any int works (`Priority.CHECKPOINT + 1` runs just before the
    checkpoint writer): the gaps leave room for a user's callbacks between the built-in ones."""

    TRAINING = 400  # changes the step itself (lr schedule, gradient clipping): all others see its effect
    METRICS = 300  # writes the epoch's metrics to the run directory before anything acts on them
    DEFAULT = 200  # early stopping and, unless they say otherwise, a user's callbacks
    PROGRESS = 100  # the progress display
    CHECKPOINT = 0  # last, so the state it saves holds what every other callback made of the step or epoch


class Callback:
    """Base class: override the hooks you need; each receives the trainer.

    `priority` says when this class's hooks run among the trainer's callbacks (higher first; see
    `Priority`); `Trainer.add_callback(callback, priority=...)` can override it per instance.
    """

    priority: int = Priority.DEFAULT

    def on_fit_start(self, trainer: "Trainer") -> None:
        """Before the first epoch."""

    def on_train_epoch_start(self, trainer: "Trainer") -> None:
        """Before an epoch's first step (`trainer.epoch` + 1 is the epoch about to run); for an
        epoch continued from a checkpoint, before its next step (`trainer.epoch_step` are done)."""

    def on_before_optimizer_step(self, trainer: "Trainer") -> None:
        """After the backward pass (the gradients are finite), before the optimizer step: where
        gradients are clipped. Called every step: keep it cheap."""

    def on_train_batch_end(self, trainer: "Trainer", loss: float, batch_size: int) -> None:
        """After each optimizer step. Called every step: keep it cheap."""

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
        """The name this callback's state is saved under in a checkpoint: its class name, plus
        (in subclasses that can appear twice, e.g. watching two metrics) what tells instances
        apart. It must be the same in the run that resumes, so it holds no ids or paths.
        Instances that still share a key are told apart by the order they run in (`#2`, `#3`)."""
        return type(self).__qualname__

    def state_dict(self) -> dict[str, Any]:
        """What to keep in a checkpoint so a resumed run continues exactly (plain JSON data)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""


# The hooks, in the base class's order: what `CallbackList.call` dispatches.
HOOKS: tuple[str, ...] = tuple(name for name in vars(Callback) if name.startswith("on_"))
