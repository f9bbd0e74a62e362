"""How the trainer's callbacks are ordered, dispatched and checkpointed: priorities (built-in and a
user's, around each other), a dispatcher that calls only the hooks a callback overrides, and state
saved under a key per instance that a resumed run finds again."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from ttrain.training import (
    Callback, EarlyStopping, GradientClipping, MetricsLogger, ModelCheckpoint, Priority, ProgressReporter,
    SchedulerStepper,
)
from ttrain.training.callbacks import CallbackList
from ttrain.training.run import add_run_callbacks


class Log(Callback):
    """Appends `(name, hook)` to a shared list at every hook it is given."""

    def __init__(self, name: str, log: list[tuple[str, str]], priority: int | None = None) -> None:
        self.name, self.log = name, log
        if priority is not None:
            self.priority = priority

    def on_fit_start(self, trainer: Any) -> None:
        self.log.append((self.name, "on_fit_start"))

    def on_train_epoch_end(self, trainer: Any, metrics: dict[str, float]) -> None:
        self.log.append((self.name, "on_train_epoch_end"))


class Counter(Callback):
    """Holds a count: a user's callback with state."""

    def __init__(self, count: int = 0) -> None:
        self.count = count

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count = state["count"]


def test_higher_priority_runs_first_and_equal_priorities_in_the_order_added() -> None:
    log: list[tuple[str, str]] = []
    callbacks = CallbackList([Log("b", log), Log("last", log, Priority.CHECKPOINT), Log("c", log)])
    callbacks.add(Log("first", log), priority=Priority.TRAINING)
    callbacks.add(Log("d", log))
    callbacks.call("on_fit_start", None)
    assert [name for name, _ in log] == ["first", "b", "c", "d", "last"]
    assert [c.name for c in callbacks] == ["first", "b", "c", "d", "last"]


def test_user_callbacks_run_around_the_built_in_ones_after_the_run_wiring(experiment, tmp_path: Path) -> None:
    log: list[tuple[str, str]] = []
    before_all = Log("before_all", log, Priority.TRAINING + 1)
    plain = Log("plain", log)
    before_checkpoint = Log("before_checkpoint", log, Priority.CHECKPOINT + 1)
    after_checkpoint = Log("after_checkpoint", log, Priority.CHECKPOINT - 1)
    exp = experiment([after_checkpoint, before_checkpoint, plain, before_all],
                     scheduler={"name": "step", "step_size": 1}, trainer={"grad_clip": 1.0, "epochs": 1,
                                                                         "early_stopping": {"patience": 2}})
    checkpoint = add_run_callbacks(exp, tmp_path, Console(file=io.StringIO()))
    order = list(exp.trainer.callbacks)
    assert [type(c) for c in order] == [
        Log, SchedulerStepper, GradientClipping, MetricsLogger, Log, EarlyStopping, ProgressReporter, Log,
        ModelCheckpoint, Log,
    ]
    assert [order[0], order[4], order[7], order[9]] == [before_all, plain, before_checkpoint, after_checkpoint]
    assert order[8] is checkpoint
    exp.trainer.fit(exp.train_loader, exp.eval_loaders)
    epoch_end = [name for name, hook in log if hook == "on_train_epoch_end"]
    assert epoch_end == ["before_all", "plain", "before_checkpoint", "after_checkpoint"]


def test_the_callback_order_is_read_only_and_a_callback_is_added_once() -> None:
    callback = Counter()
    callbacks = CallbackList([callback])
    assert isinstance(callbacks.callbacks, tuple)  # no list to insert into behind the priorities' back
    with pytest.raises(ValueError, match="already"):
        callbacks.add(callback)
    with pytest.raises(TypeError, match="priority"):
        callbacks.add(Counter(), priority="high")


def test_only_callbacks_that_override_a_hook_are_called(monkeypatch) -> None:
    base_calls: list[str] = []
    # Were the dispatcher to call every callback, the base class's no-op would be called too.
    monkeypatch.setattr(Callback, "on_train_batch_end", lambda self, *args: base_calls.append(type(self).__name__))
    log: list[tuple[str, str]] = []

    class BatchEnd(Callback):
        def on_train_batch_end(self, trainer: Any, loss: float, batch_size: int) -> None:
            log.append(("batch_end", f"{loss} {batch_size}"))

    own = Counter()
    own.on_train_batch_end = lambda trainer, loss, batch_size: log.append(("instance", str(batch_size)))
    callbacks = CallbackList([Counter(), BatchEnd(), Log("epoch", log), own])
    callbacks.call("on_train_batch_end", None, 0.5, 32)
    assert log == [("batch_end", "0.5 32"), ("instance", "32")]
    assert base_calls == []
    with pytest.raises(KeyError):
        callbacks.call("on_no_such_hook", None)


def test_every_hook_of_the_base_class_is_dispatched(experiment) -> None:
    calls: list[str] = []

    class Every(Callback):
        pass

    hooks = [name for name in vars(Callback) if name.startswith("on_")]
    for hook in hooks:
        setattr(Every, hook, lambda self, *args, hook=hook: calls.append(hook))
    assert {"on_before_optimizer_step", "on_interrupt", "on_exception"} <= set(hooks)
    exp = experiment([Every()], trainer={"epochs": 1})
    exp.trainer.fit(exp.train_loader, exp.eval_loaders)
    assert calls.count("on_before_optimizer_step") == calls.count("on_train_batch_end") == 6
    assert [c for c in calls if c not in ("on_before_optimizer_step", "on_train_batch_end")] == [
        "on_fit_start", "on_train_epoch_start", "on_train_epoch_end", "on_fit_end"]


def _round_trip(state: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(state))  # as a checkpoint's metadata holds it


def test_two_instances_of_a_users_class_keep_their_own_state() -> None:
    saved = CallbackList([Counter(3), EarlyStopping("val.loss"), Counter(7)]).state_dict()
    assert set(saved) == {"Counter", "Counter#2", "EarlyStopping[val.loss,min]"}
    first, second = Counter(), Counter()
    CallbackList([first, EarlyStopping("val.loss"), second]).load_state_dict(_round_trip(saved))
    assert (first.count, second.count) == (3, 7)


def test_two_checkpoint_writers_with_different_monitors_keep_their_own_best(tmp_path: Path) -> None:
    def writers() -> list[ModelCheckpoint]:
        return [ModelCheckpoint(tmp_path / "loss", lambda *_: None, "val.loss"),
                ModelCheckpoint(tmp_path / "acc", lambda *_: None, "val.accuracy", "max")]

    loss, accuracy = writers()
    loss.on_train_epoch_end(_FakeTrainer(), {"val.loss": 0.3, "val.accuracy": 0.6})
    accuracy.on_train_epoch_end(_FakeTrainer(), {"val.loss": 0.3, "val.accuracy": 0.6})
    saved = _round_trip(CallbackList([loss, accuracy]).state_dict())
    assert set(saved) == {"ModelCheckpoint[val.loss,min]", "ModelCheckpoint[val.accuracy,max]"}
    # Added in the other order: the keys, not the order, decide whose state is whose.
    restored_loss, restored_accuracy = writers()
    CallbackList([restored_accuracy, restored_loss]).load_state_dict(saved)
    assert (restored_loss.best, restored_accuracy.best) == (0.3, 0.6)


def test_state_saved_under_the_class_name_by_older_checkpoints_is_restored() -> None:
    stopping = EarlyStopping("val.loss", patience=5)
    CallbackList([stopping]).load_state_dict({"EarlyStopping": {"best": 0.25, "wait": 2}})
    assert (stopping.best, stopping.wait) == (0.25, 2)


class _FakeTrainer:
    epoch = 1
    global_step = 3
    progress = None
