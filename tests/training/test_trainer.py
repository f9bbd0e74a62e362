"""The Trainer as `ttrain fit` builds it: hooks, scheduler stepping, gradient clipping, metrics,
inferred layer sizes, a NaN loss and a stop request."""

from __future__ import annotations

import signal

import warnings
from typing import Any

import numpy as np
import pytest

import ttrain.nn.functional as F
from ttrain.nn import Parameter
from ttrain.optim import SGD
from ttrain.optim.lr_scheduler import OneCycleLR
from ttrain.training import Callback, TrainingFailed, TrainingInterrupted

STEPS_PER_EPOCH = 6  # conftest.BASE: 192 training samples in batches of 32


class Recorder(Callback):
    """Records the hooks the trainer calls, the lr after every step and the parameter updates."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.lrs: list[float] = []
        self.updates: list[list[np.ndarray]] = []
        self._before: list[np.ndarray] = []

    def _params(self, trainer: Any) -> list[np.ndarray]:
        return [p.data.copy() for p in trainer.model.parameters()]

    def on_fit_start(self, trainer: Any) -> None:
        self.events.append("fit_start")
        self._before = self._params(trainer)

    def on_train_epoch_start(self, trainer: Any) -> None:
        self.events.append(f"epoch_start {trainer.epoch + 1}")

    def on_train_batch_end(self, trainer: Any, loss: float, batch_size: int) -> None:
        self.lrs.append(trainer.optimizer.param_groups[0]["lr"])
        after = self._params(trainer)
        self.updates.append([b - a for b, a in zip(self._before, after)])
        self._before = after

    def on_train_epoch_end(self, trainer: Any, metrics: dict[str, float]) -> None:
        self.events.append(f"epoch_end {trainer.epoch}")

    def on_fit_end(self, trainer: Any) -> None:
        self.events.append("fit_end")

    def on_interrupt(self, trainer: Any) -> None:
        self.events.append("interrupt")

    def on_exception(self, trainer: Any, error: BaseException) -> None:
        self.events.append(f"exception {type(error).__name__}")


def fit(exp: Any) -> list[dict[str, float]]:
    return exp.trainer.fit(exp.train_loader, exp.eval_loaders)


def test_hooks_run_in_order_and_every_epoch_logs_all_splits(experiment) -> None:
    recorder = Recorder()
    history = fit(experiment([recorder]))
    assert recorder.events == ["fit_start", "epoch_start 1", "epoch_end 1", "epoch_start 2", "epoch_end 2", "fit_end"]
    assert [r["epoch"] for r in history] == [1, 2]
    assert [r["step"] for r in history] == [STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH]
    for split in ("train", "val", "test"):
        assert {f"{split}.loss", f"{split}.accuracy"} <= set(history[-1])
        assert 0.0 <= history[-1][f"{split}.accuracy"] <= 1.0


def test_epoch_scheduler_steps_once_per_epoch(experiment) -> None:
    recorder = Recorder()
    exp = experiment([recorder], scheduler={"name": "step", "step_size": 1, "gamma": 0.5}, trainer={"epochs": 3})
    history = fit(exp)
    assert [r["lr"] for r in history] == pytest.approx([0.1, 0.05, 0.025])
    # Within an epoch the lr does not move.
    assert recorder.lrs == pytest.approx([0.1] * 6 + [0.05] * 6 + [0.025] * 6)


def test_onecycle_steps_once_per_batch_over_the_whole_run(experiment) -> None:
    recorder = Recorder()
    exp = experiment([recorder], scheduler={"name": "onecycle", "max_lr": 0.5})
    fit(exp)
    # The reference: the same schedule laid out over epochs * steps_per_epoch, stepped by hand.
    reference = OneCycleLR(SGD([Parameter(np.zeros(1, np.float32))], lr=0.1, momentum=0.9), max_lr=0.5,
                           total_steps=2 * STEPS_PER_EPOCH)
    expected = []
    for _ in range(2 * STEPS_PER_EPOCH):
        reference.step()
        expected.append(reference.get_last_lr()[0])
    assert recorder.lrs == expected
    # The last batch trained at the schedule's final lr (`lrs[k]` is the lr after step k + 1).
    assert recorder.lrs[-2] == pytest.approx(0.5 / 25 / 1e4)


def test_any_scheduler_can_step_per_batch(experiment) -> None:
    recorder = Recorder()
    fit(experiment([recorder], scheduler={"name": "exponential", "gamma": 0.9, "interval": "step"}))
    assert recorder.lrs == pytest.approx([0.1 * 0.9 ** k for k in range(1, 2 * STEPS_PER_EPOCH + 1)])


def test_plateau_scheduler_steps_per_epoch_on_its_monitor(experiment) -> None:
    # A threshold so large that nothing after the first epoch counts as an improvement.
    exp = experiment(scheduler={"name": "plateau", "monitor": "val.loss", "patience": 0, "factor": 0.5,
                                "threshold": 10.0, "threshold_mode": "abs"}, trainer={"epochs": 4})
    history = fit(exp)
    assert [r["lr"] for r in history] == pytest.approx([0.1, 0.1, 0.05, 0.025])


def _update_norms(recorder: Recorder) -> list[float]:
    return [float(np.sqrt(sum(np.sum(u.astype(np.float64) ** 2) for u in step))) for step in recorder.updates]


def test_gradient_clipping_by_norm(experiment) -> None:
    # Plain SGD with lr=1: each update is exactly the (clipped) gradient.
    unclipped, clipped = Recorder(), Recorder()
    fit(experiment([unclipped], optimizer={"lr": 1.0}))
    fit(experiment([clipped], optimizer={"lr": 1.0}, trainer={"grad_clip": 0.01}))
    assert max(_update_norms(unclipped)) > 0.02  # the clip below has something to do
    assert _update_norms(clipped) == pytest.approx([0.01] * 2 * STEPS_PER_EPOCH, rel=1e-3)


def test_gradient_clipping_by_value(experiment) -> None:
    unclipped, clipped = Recorder(), Recorder()
    fit(experiment([unclipped], optimizer={"lr": 1.0}))
    fit(experiment([clipped], optimizer={"lr": 1.0}, trainer={"grad_clip": 1e-3, "grad_clip_algorithm": "value"}))
    largest = [max(float(np.abs(u).max()) for u in step) for step in unclipped.updates]
    assert max(largest) > 2e-3
    clipped_largest = [max(float(np.abs(u).max()) for u in step) for step in clipped.updates]
    assert clipped_largest == pytest.approx([1e-3] * 2 * STEPS_PER_EPOCH, rel=1e-3)


def test_top_k_metric_is_logged_for_every_split(experiment) -> None:
    exp = experiment(data={"name": "blobs", "n_train": 240, "n_test": 64, "classes": 4, "std": 4.0},
                     model={"layers": [{"linear": {"out_features": 4}}]},
                     trainer={"metrics": ["accuracy", {"top_k": {"k": 2}}, {"top_k": {"k": 4}}]})
    record = fit(exp)[-1]
    for split in ("train", "val", "test"):
        assert record[f"{split}.accuracy"] <= record[f"{split}.top_2"] <= record[f"{split}.top_4"]
        assert record[f"{split}.top_4"] == 1.0  # every class is among the top 4 of 4
    assert record["test.top_2"] > record["test.accuracy"]  # blurred blobs: the runner-up is often right


def test_layers_take_their_input_sizes_from_the_data(experiment) -> None:
    exp = experiment(
        data={"name": "mnist", "flatten": False, "train_size": 64, "test_size": 32, "n_train": None, "n_test": None},
        model={"layers": ["flatten", {"linear": {"out_features": 8}}, "relu", {"linear": {"out_features": 10}}]},
        trainer={"epochs": 1, "val_split": 0.0},
    )
    shapes = [tuple(p.shape) for p in exp.model.parameters()]
    assert shapes == [(8, 784), (8,), (10, 8), (10,)]
    assert np.isfinite(fit(exp)[-1]["test.loss"])


def test_nan_loss_fails_at_the_step_it_appears_without_numpy_warnings(experiment) -> None:
    recorder = Recorder()
    exp = experiment([recorder])
    # Logits scaled past float32's range: NumPy overflows (and would warn) on the way to a NaN loss.
    exp.trainer.loss_fn = lambda output, target: F.cross_entropy(output * 1e38 * 1e38, target)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy RuntimeWarning would surface here as an exception
        with pytest.raises(TrainingFailed, match=r"the loss became (nan|inf) at epoch 1, step 1\b.*learning rate"):
            fit(exp)
    assert recorder.events[-1] == "exception TrainingFailed"


def test_a_stop_request_ends_training_after_the_current_step(experiment) -> None:
    class StopAtStep(Recorder):
        def on_train_batch_end(self, trainer: Any, loss: float, batch_size: int) -> None:
            super().on_train_batch_end(trainer, loss, batch_size)
            if trainer.global_step == STEPS_PER_EPOCH + 2:
                trainer.request_stop()

    recorder = StopAtStep()
    exp = experiment([recorder])
    with pytest.raises(TrainingInterrupted, match="epoch 2, step 8"):
        fit(exp)
    assert exp.trainer.global_step == STEPS_PER_EPOCH + 2
    assert recorder.events[-2:] == ["interrupt", "exception TrainingInterrupted"]
    # The request is honoured; fit() again continues from the step after it.
    assert exp.trainer.stop_signal is None
    fit(exp)
    assert exp.trainer.global_step == 2 * STEPS_PER_EPOCH


def test_only_the_first_stop_request_counts(experiment) -> None:
    # A second request (a second Ctrl-C while `last` is being saved) changes nothing: the first
    # one is honoured, and its signal decides the exit code.
    exp = experiment()
    exp.trainer.request_stop(signal.SIGTERM)
    exp.trainer.request_stop(signal.SIGINT)
    with pytest.raises(TrainingInterrupted, match="by SIGTERM after epoch 0, step 0") as raised:
        fit(exp)
    assert raised.value.signal_number == signal.SIGTERM
