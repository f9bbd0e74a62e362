"""The lr schedule and gradient clipping as callbacks of a Trainer built in Python: per step, per
epoch and on a metric as the scheduler's traits say, clipping by norm and by value with the numbers
`clip_grad_norm_` / `clip_grad_value_` give, and the `scheduler=` / `grad_clip=` shorthands."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ttrain.data import ArrayDataset, DataLoader, make_spirals
from ttrain.nn import CrossEntropyLoss, Linear, ReLU, Sequential
from ttrain.optim import SGD, clip_grad_norm_, clip_grad_value_
from ttrain.optim.lr_scheduler import ExponentialLR, LRScheduler, ReduceLROnPlateau, StepLR
from ttrain.random import manual_seed
from ttrain.training import Callback, GradientClipping, SchedulerStepper, Trainer

STEPS = 4  # 64 samples in batches of 16


def parts() -> tuple[Any, Any, Any]:
    """A small seeded model, its SGD optimizer (lr 0.5) and a loader of 4 batches."""
    manual_seed(0)
    features, labels = make_spirals(64, seed=1)
    model = Sequential(Linear(2, 16), ReLU(), Linear(16, 2))
    return model, SGD(model.parameters(), lr=0.5), DataLoader(ArrayDataset(features, labels, num_classes=2), 16)


def run(epochs: int = 2, callbacks: Any = (), **kwargs: Any) -> tuple[Trainer, "LrProbe"]:
    """Train `parts()` with `callbacks(optimizer)` and `kwargs(optimizer)` (both functions of the optimizer)."""
    model, optimizer, loader = parts()
    probe = LrProbe()
    extra = {name: make(optimizer) for name, make in kwargs.items()}
    trainer = Trainer(model, CrossEntropyLoss(), optimizer, epochs=epochs, callbacks=[*callbacks(optimizer), probe]
                      if callable(callbacks) else [probe], **extra)
    trainer.fit(loader, {"val": loader})
    return trainer, probe


class LrProbe(Callback):
    """The lr after each step, and the gradients each step was taken with."""

    def __init__(self) -> None:
        self.lrs: list[float] = []
        self.grads: list[list[np.ndarray]] = []

    def on_before_optimizer_step(self, trainer: Any) -> None:
        self.grads.append([p.grad.data.copy() for p in trainer.model.parameters()])

    def on_train_batch_end(self, trainer: Any, loss: float, batch_size: int) -> None:
        self.lrs.append(trainer.optimizer.param_groups[0]["lr"])


def weights(trainer: Trainer) -> list[np.ndarray]:
    return [p.data.copy() for p in trainer.model.parameters()]


# ---- the scheduler ---------------------------------------------------------------------------


def test_a_per_epoch_scheduler_steps_after_each_epoch() -> None:
    trainer, probe = run(3, lambda opt: [SchedulerStepper(StepLR(opt, step_size=1, gamma=0.5))])
    assert probe.lrs == pytest.approx([0.5] * STEPS + [0.25] * STEPS + [0.125] * STEPS)
    assert [r["lr"] for r in trainer.history] == pytest.approx([0.5, 0.25, 0.125])


def test_a_per_step_scheduler_steps_before_other_callbacks_see_the_step() -> None:
    _, probe = run(2, lambda opt: [SchedulerStepper(ExponentialLR(opt, gamma=0.9), interval="step")])
    assert probe.lrs == pytest.approx([0.5 * 0.9 ** k for k in range(1, 2 * STEPS + 1)])


class EveryBatchHalving(LRScheduler):
    """A user's scheduler that declares it steps per batch, as OneCycleLR does."""

    default_interval = "step"

    def get_lr(self) -> list[float]:
        return [group["lr"] * 0.5 for group in self.optimizer.param_groups] if self.last_epoch else self.base_lrs


def test_the_interval_defaults_to_what_the_scheduler_declares() -> None:
    _, probe = run(1, lambda opt: [SchedulerStepper(EveryBatchHalving(opt))])
    assert probe.lrs == pytest.approx([0.5 * 0.5 ** k for k in range(1, STEPS + 1)])
    _, probe = run(1, lambda opt: [SchedulerStepper(ExponentialLR(opt, gamma=0.5))])  # declares nothing: per epoch
    assert probe.lrs == pytest.approx([0.5] * STEPS)


class MetricRecorder(LRScheduler):
    """A user's scheduler that declares it needs the monitored metric, and records what it gets."""

    needs_metric = True

    def __init__(self, optimizer: Any) -> None:
        self.seen: list[float] = []
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self, metric: float | None = None) -> None:  # type: ignore[override]
        if not self._is_initial:  # construction's step has no metric
            self.seen.append(metric)


@pytest.mark.parametrize(("monitor", "logged"), [("val.accuracy", "val.accuracy"), (None, "train.loss")])
def test_a_scheduler_that_needs_a_metric_gets_the_monitored_one_each_epoch(monitor: str | None, logged: str) -> None:
    made: list[MetricRecorder] = []

    def callbacks(optimizer: Any) -> list[Callback]:
        made.append(MetricRecorder(optimizer))
        return [SchedulerStepper(made[0], monitor=monitor)]

    trainer, _ = run(3, callbacks)
    assert made[0].seen == [r[logged] for r in trainer.history]


def test_plateau_reduces_the_lr_through_the_shorthand() -> None:
    trainer, _ = run(4, scheduler=lambda opt: ReduceLROnPlateau(opt, patience=0, factor=0.5, threshold=10.0,
                                                                 threshold_mode="abs"),
                     scheduler_monitor=lambda opt: "val.loss")
    assert [r["lr"] for r in trainer.history] == pytest.approx([0.5, 0.5, 0.25, 0.125])


def test_the_scheduler_shorthand_is_the_callback() -> None:
    shorthand, short_probe = run(2, scheduler=lambda opt: StepLR(opt, 3, 0.5), scheduler_interval=lambda opt: "step")
    explicit, probe = run(2, lambda opt: [SchedulerStepper(StepLR(opt, 3, 0.5), "step")])
    assert short_probe.lrs == probe.lrs
    assert all(np.array_equal(a, b) for a, b in zip(weights(shorthand), weights(explicit)))
    assert [type(c) for c in shorthand.callbacks] == [SchedulerStepper, LrProbe]


def test_scheduler_arguments_that_cannot_work_are_refused() -> None:
    _, optimizer, _ = parts()
    with pytest.raises(ValueError, match="'epoch' or 'step'"):
        SchedulerStepper(StepLR(optimizer, 1), interval="batch")
    with pytest.raises(ValueError, match="ReduceLROnPlateau steps on a monitored metric"):
        SchedulerStepper(ReduceLROnPlateau(optimizer), interval="step")


# ---- gradient clipping -----------------------------------------------------------------------


class ClipByHand(Callback):
    """What the Trainer did before clipping was a callback: `clip(model.parameters(), threshold)` after backward."""

    def __init__(self, clip: Any, threshold: float) -> None:
        self.clip, self.threshold = clip, threshold

    def on_before_optimizer_step(self, trainer: Any) -> None:
        self.clip(trainer.model.parameters(), self.threshold)


def _total_norm(grads: list[np.ndarray]) -> float:
    return float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads)))


@pytest.mark.parametrize(("algorithm", "clip", "threshold"), [("norm", clip_grad_norm_, 0.05),
                                                              ("value", clip_grad_value_, 0.01)])
def test_clipping_gives_the_numbers_of_the_clip_functions(algorithm: str, clip: Any, threshold: float) -> None:
    unclipped, raw = run(2)
    callback, seen = run(2, lambda opt: [GradientClipping(threshold, algorithm)])
    shorthand, _ = run(2, grad_clip=lambda opt: threshold, grad_clip_algorithm=lambda opt: algorithm)
    by_hand, _ = run(2, lambda opt: [ClipByHand(clip, threshold)])
    assert all(np.array_equal(a, b) for a, b in zip(weights(callback), weights(by_hand)))
    assert all(np.array_equal(a, b) for a, b in zip(weights(shorthand), weights(by_hand)))
    assert not all(np.array_equal(a, b) for a, b in zip(weights(callback), weights(unclipped)))
    # A user's callback at the default priority sees the clipped gradients.
    if algorithm == "norm":
        assert max(_total_norm(step) for step in raw.grads) > 2 * threshold
        assert [_total_norm(step) for step in seen.grads] == pytest.approx([threshold] * 2 * STEPS, rel=1e-4)
    else:
        assert max(float(np.abs(g).max()) for step in raw.grads for g in step) > 2 * threshold
        assert max(float(np.abs(g).max()) for step in seen.grads for g in step) == pytest.approx(threshold)


@pytest.mark.parametrize(("threshold", "algorithm", "message"), [
    (0.0, "norm", "positive number"), (float("nan"), "norm", "positive number"), (True, "norm", "positive number"),
    (1.0, "l1", "'norm' or 'value'"),
])
def test_clipping_arguments_that_cannot_work_are_refused(threshold: Any, algorithm: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GradientClipping(threshold, algorithm)
