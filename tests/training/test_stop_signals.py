"""Stop signals inside the Trainer: each of SIGINT, SIGTERM and SIGHUP ends training at a safe
point with a checkpoint from which the run continues exactly, also when it arrives during an
evaluation or in the middle of the save; handlers are the caller's again afterwards."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

import ttrain.training.checkpoint as ckpt
from ttrain.config import config_from_dict
from ttrain.training import ModelCheckpoint, TrainingInterrupted
from ttrain.training.checkpoint import load_checkpoint
from ttrain.training.experiment import build_experiment
from ttrain.training.snapshot import restore_snapshot, save_snapshot

from .conftest import BASE, merged

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")

# Dropout and shuffling, a per-step scheduler, a validation and a test split: 6 steps an epoch.
CHANGES: dict[str, Any] = {
    "model": {"layers": [{"linear": {"out_features": 16}}, "relu", {"dropout": {"p": 0.2}}, {"linear": {"out_features": 2}}]},
    "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
    "scheduler": {"name": "step", "step_size": 4, "gamma": 0.8, "interval": "step"},
    "trainer": {"epochs": 3},
}


def build(tmp_path: Path, name: str) -> tuple[Any, ModelCheckpoint]:
    """The experiment with a ModelCheckpoint writing full snapshots into `<tmp>/<name>`."""
    experiment = build_experiment(config_from_dict(merged(BASE, CHANGES)))
    checkpoint = ModelCheckpoint(tmp_path / name, lambda path, _: save_snapshot(path, experiment), "val.loss")
    experiment.trainer.add_callback(checkpoint)
    return experiment, checkpoint


def fit(experiment: Any) -> list[dict[str, Any]]:
    return experiment.trainer.fit(experiment.train_loader, experiment.eval_loaders)


def without_timings(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("train.seconds", "train.samples_per_sec")} for r in history]


def assert_continues_exactly(tmp_path: Path, interrupted: Path) -> None:
    """Resuming from `interrupted` ends where a run never interrupted ends, bit for bit."""
    straight, straight_ckpt = build(tmp_path, "straight")
    fit(straight)
    resumed, resumed_ckpt = build(tmp_path, "resumed")
    restore_snapshot(interrupted, resumed)
    fit(resumed)
    assert without_timings(resumed.trainer.history) == without_timings(straight.trainer.history)
    a, _ = load_checkpoint(resumed_ckpt.last_path)
    b, _ = load_checkpoint(straight_ckpt.last_path)
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


class SignalAt:
    """Wraps a loader: sends `signum` to this process when batch `batch` of its `nth` pass is taken."""

    def __init__(self, loader: Any, signum: int, nth: int, batch: int) -> None:
        self.loader, self.signum, self.nth, self.batch = loader, signum, nth, batch
        self.passes = 0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        self.passes += 1
        for index, item in enumerate(self.loader):
            if self.passes == self.nth and index == self.batch:
                os.kill(os.getpid(), self.signum)
            yield item


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_mid_epoch_stops_after_the_step_and_saves_an_exact_checkpoint(tmp_path: Path, signum: int) -> None:
    experiment, checkpoint = build(tmp_path, "interrupted")
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    experiment.train_loader = SignalAt(experiment.train_loader, signum, nth=2, batch=2)
    # The wrapper has no state of its own to save; the checkpoint reads the loader inside it.
    experiment.train_loader.state_dict = experiment.train_loader.loader.state_dict
    with pytest.raises(TrainingInterrupted, match=r"by SIG\w+ at epoch 2, step 9") as raised:
        fit(experiment)
    assert raised.value.signal_number == signum
    assert {s: signal.getsignal(s) for s in before} == before  # the caller's handlers are back
    _, metadata = load_checkpoint(checkpoint.last_path)
    assert (metadata["epoch"], metadata["global_step"], metadata["epoch_step"]) == (1, 9, 3)
    assert_continues_exactly(tmp_path, checkpoint.last_path)


def test_a_signal_during_evaluation_stops_it_and_the_resumed_run_redoes_it(tmp_path: Path) -> None:
    experiment, checkpoint = build(tmp_path, "interrupted")
    experiment.eval_loaders["test"] = SignalAt(experiment.eval_loaders["test"], signal.SIGHUP, nth=2, batch=0)
    with pytest.raises(TrainingInterrupted, match=r"by SIGHUP during the evaluation of epoch 2 \(step 12\)"):
        fit(experiment)
    _, metadata = load_checkpoint(checkpoint.last_path)
    assert (metadata["epoch"], metadata["global_step"]) == (1, 12)
    assert metadata["trainer"]["epoch_progress"]["train_done"] is True
    assert_continues_exactly(tmp_path, checkpoint.last_path)


def test_a_signal_in_the_last_evaluation_is_not_lost(tmp_path: Path) -> None:
    experiment, checkpoint = build(tmp_path, "interrupted")
    experiment.eval_loaders["test"] = SignalAt(experiment.eval_loaders["test"], signal.SIGINT, nth=3, batch=0)
    with pytest.raises(TrainingInterrupted, match="evaluation of epoch 3"):
        fit(experiment)
    assert_continues_exactly(tmp_path, checkpoint.last_path)


def test_more_signals_during_the_save_neither_tear_it_nor_change_the_exit_signal(tmp_path: Path, monkeypatch) -> None:
    experiment, checkpoint = build(tmp_path, "interrupted")
    checkpoint.every_n_steps = 4
    real_write = ckpt._write_all
    sent = []

    def write_while_signalled(file: Any, data: bytes) -> None:
        # The first save: SIGTERM before it, then a Ctrl-C and another SIGTERM half-way through.
        if not sent:
            sent.append(signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)
            real_write(file, data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGTERM)
            real_write(file, data[len(data) // 2 :])
        else:
            real_write(file, data)

    monkeypatch.setattr(ckpt, "_write_all", write_while_signalled)
    with pytest.raises(TrainingInterrupted, match="by SIGTERM at epoch 1, step 4") as raised:
        fit(experiment)
    assert raised.value.signal_number == signal.SIGTERM
    _, metadata = load_checkpoint(checkpoint.last_path)  # whole and verified
    assert metadata["global_step"] == 4
    assert [p.name for p in checkpoint.directory.iterdir()] == ["last.safetensors"]  # no temp file left
    monkeypatch.setattr(ckpt, "_write_all", real_write)
    assert_continues_exactly(tmp_path, checkpoint.last_path)


def test_fit_outside_the_main_thread_installs_no_handlers(tmp_path: Path) -> None:
    experiment, _ = build(tmp_path, "thread")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fit(experiment)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert errors == [] and experiment.trainer.epoch == 3


def test_two_callbacks_of_one_class_keep_their_own_state(tmp_path: Path) -> None:
    from ttrain.training import EarlyStopping

    def with_stoppers() -> tuple[Any, list[EarlyStopping]]:
        experiment, _ = build(tmp_path, "stoppers")
        stoppers = [EarlyStopping("val.loss"), EarlyStopping("val.accuracy", "max"), EarlyStopping("val.accuracy", "max")]
        for stopper in stoppers:
            experiment.trainer.add_callback(stopper)
        return experiment, stoppers

    experiment, stoppers = with_stoppers()
    for wait, stopper in enumerate(stoppers):
        stopper.wait, stopper.best = wait, 0.5 + wait
    save_snapshot(tmp_path / "state.safetensors", experiment)
    _, metadata = load_checkpoint(tmp_path / "state.safetensors")
    assert sorted(metadata["callbacks"]) == [
        "EarlyStopping[val.accuracy,max]", "EarlyStopping[val.accuracy,max]#2", "EarlyStopping[val.loss,min]",
        "ModelCheckpoint[val.loss,min]", "SchedulerStepper",
    ]
    restored, fresh = with_stoppers()
    restore_snapshot(tmp_path / "state.safetensors", restored)
    assert [(s.wait, s.best) for s in fresh] == [(0, 0.5), (1, 1.5), (2, 2.5)]


def test_a_signal_after_the_last_epoch_is_honoured(tmp_path: Path) -> None:
    from ttrain.training import Callback

    class SignalAtEnd(Callback):
        def on_fit_end(self, trainer: Any) -> None:
            os.kill(os.getpid(), signal.SIGTERM)

    experiment, checkpoint = build(tmp_path, "end")
    experiment.trainer.add_callback(SignalAtEnd())
    with pytest.raises(TrainingInterrupted, match="by SIGTERM after epoch 3, step 18"):
        fit(experiment)
    assert load_checkpoint(checkpoint.last_path)[1]["epoch"] == 3


def test_a_signal_while_the_summary_is_made_is_honoured(tmp_path: Path, monkeypatch) -> None:
    from ttrain.training import run
    from ttrain.training.records import RunRecorder

    make_record = RunRecorder.record

    def record_interrupted(self: RunRecorder, status: str, *args: Any) -> dict[str, Any]:
        if status == "completed":
            os.kill(os.getpid(), signal.SIGHUP)
        return make_record(self, status, *args)

    monkeypatch.setattr(RunRecorder, "record", record_interrupted)
    config = config_from_dict(merged(BASE, {**CHANGES, "trainer": {"epochs": 1, "output_dir": str(tmp_path)}}))
    with pytest.raises(TrainingInterrupted, match="by SIGHUP after training ended; the model so far is saved in") as raised:
        run.fit(config)
    assert raised.value.signal_number == signal.SIGHUP
    assert load_checkpoint(tmp_path / "run" / "1" / "checkpoints" / "last.safetensors")[1]["epoch"] == 1
    assert json.loads((tmp_path / "run" / "1" / "summary.json").read_text())["status"] == "interrupted"


def test_a_position_that_does_not_fit_the_data_is_a_checkpoint_error(tmp_path: Path) -> None:
    from ttrain.training.checkpoint import CheckpointError, save_checkpoint

    experiment, checkpoint = build(tmp_path, "part")
    experiment.trainer.max_steps = 3
    fit(experiment)
    tensors, metadata = load_checkpoint(checkpoint.last_path)
    progress = metadata["trainer"]["epoch_progress"]
    for broken in ({"steps": 2}, {"data": None}):
        saved = {**metadata, "trainer": {**metadata["trainer"], "epoch_progress": {**progress, **broken}}}
        for key in ("format_version", "ttrain_version", "tensors_sha256"):
            saved.pop(key)
        save_checkpoint(tmp_path / "broken.safetensors", tensors, saved)
        with pytest.raises(CheckpointError, match="saved position does not match"):
            restore_snapshot(tmp_path / "broken.safetensors", build(tmp_path, "again")[0])
    tensors["trainer.epoch_progress.data.order"] = tensors["trainer.epoch_progress.data.order"][:-1]
    save_checkpoint(tmp_path / "short.safetensors", tensors, {k: v for k, v in metadata.items() if k not in (
        "format_version", "ttrain_version", "tensors_sha256")})
    with pytest.raises(CheckpointError, match="does not fit a dataset"):
        restore_snapshot(tmp_path / "short.safetensors", build(tmp_path, "again")[0])
