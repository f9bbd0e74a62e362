"""The callbacks on their own: which epochs `best` and `last` are saved at, early stopping, metric files."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ttrain.training import EarlyStopping, MetricsLogger, ModelCheckpoint


class FakeTrainer(SimpleNamespace):
    """Just the attributes callbacks read."""

    def __init__(self, epochs: int = 10) -> None:
        super().__init__(epoch=0, epochs=epochs, history=[], should_stop=False, global_step=0, progress=None)


def run_epochs(callback: Any, values: list[float], key: str = "val.loss", trainer: FakeTrainer | None = None) -> FakeTrainer:
    """Feed `callback` one epoch-end per value, as the Trainer does (epoch counted, history appended)."""
    trainer = trainer or FakeTrainer(len(values))
    callback.on_fit_start(trainer)
    for value in values:
        trainer.epoch += 1
        trainer.global_step += 3
        record = {"epoch": trainer.epoch, key: value}
        trainer.history.append(record)
        callback.on_train_epoch_end(trainer, record)
        if trainer.should_stop:
            break
    callback.on_fit_end(trainer)
    return trainer


def checkpoint_callback(tmp_path: Path, **kwargs: Any) -> tuple[ModelCheckpoint, list[tuple[str, int]]]:
    saved: list[tuple[str, int]] = []
    callback = ModelCheckpoint(tmp_path, lambda path, trainer: saved.append((path.stem, trainer.epoch)), **kwargs)
    return callback, saved


def test_best_follows_the_monitor_and_a_nan_is_never_best(tmp_path: Path) -> None:
    callback, saved = checkpoint_callback(tmp_path, monitor="val.loss", mode="min")
    run_epochs(callback, [float("nan"), 0.5, 0.7, 0.4, float("nan"), 0.45])
    assert [epoch for name, epoch in saved if name == "best"] == [2, 4]
    assert [epoch for name, epoch in saved if name == "last"] == [1, 2, 3, 4, 5, 6]
    assert (callback.best, callback.best_epoch) == (0.4, 4)


def test_best_in_max_mode(tmp_path: Path) -> None:
    callback, saved = checkpoint_callback(tmp_path, monitor="val.accuracy", mode="max", save_last=False)
    run_epochs(callback, [0.5, 0.9, 0.8, 0.95], key="val.accuracy")
    assert saved == [("best", 1), ("best", 2), ("best", 4)]


def test_every_n_epochs_saves_those_epochs_and_always_the_final_one(tmp_path: Path) -> None:
    callback, saved = checkpoint_callback(tmp_path, monitor="val.loss", every_n_epochs=3)
    run_epochs(callback, [0.9, 0.1, 0.8, 0.7, 0.6, 0.5, 0.4])
    assert saved == [("best", 3), ("last", 3), ("best", 6), ("last", 6), ("last", 7)]


def test_checkpoint_state_round_trips(tmp_path: Path) -> None:
    callback, _ = checkpoint_callback(tmp_path, monitor="val.loss")
    run_epochs(callback, [0.5, 0.3, 0.4])
    restored, _ = checkpoint_callback(tmp_path, monitor="val.loss")
    restored.load_state_dict(json.loads(json.dumps(callback.state_dict())))
    assert (restored.best, restored.best_epoch) == (0.3, 2)


def test_early_stopping_waits_patience_epochs_without_improvement() -> None:
    stopping = EarlyStopping("val.loss", "min", patience=2, min_delta=0.05)
    trainer = run_epochs(stopping, [1.0, 0.9, 0.88, 0.87, 0.5])  # 0.88 and 0.87 are within min_delta of 0.9
    assert trainer.should_stop and trainer.epoch == 4 and stopping.stopped_epoch == 4


def test_early_stopping_counts_nan_as_no_improvement_and_resumes_its_count() -> None:
    stopping = EarlyStopping("val.loss", "min", patience=3)
    trainer = run_epochs(stopping, [1.0, float("nan")], trainer=FakeTrainer(epochs=10))
    assert not trainer.should_stop
    resumed = EarlyStopping("val.loss", "min", patience=3)
    resumed.load_state_dict(json.loads(json.dumps(stopping.state_dict())))
    trainer = run_epochs(resumed, [1.1, 1.2, 0.1], trainer=trainer)
    assert trainer.should_stop and trainer.epoch == 4  # waits 2 (nan), 3 (1.1): stop at the third


def _rows(directory: Path) -> tuple[list[dict[str, Any]], list[dict[str, str]], list[str]]:
    jsonl = [json.loads(line) for line in (directory / "metrics.jsonl").read_text().splitlines()]
    with open(directory / "metrics.csv", newline="") as f:
        reader = csv.DictReader(f)
        return jsonl, list(reader), list(reader.fieldnames or [])


def test_metrics_files_hold_one_row_per_epoch_and_agree(tmp_path: Path) -> None:
    logger = MetricsLogger(tmp_path)
    trainer = FakeTrainer()
    logger.on_fit_start(trainer)
    for epoch, loss in enumerate([0.5, float("nan"), 0.25], start=1):
        trainer.epoch = epoch
        record = {"epoch": epoch, "train.loss": loss, "lr": 0.1}
        trainer.history.append(record)
        logger.on_train_epoch_end(trainer, record)
    jsonl, rows, columns = _rows(tmp_path)
    assert columns == ["epoch", "train.loss", "lr"]
    assert len(jsonl) == len(rows) == 3
    for from_json, from_csv in zip(jsonl, rows):
        as_json = {k: float("nan") if v is None else v for k, v in from_json.items()}
        assert {k: float(v) for k, v in from_csv.items()} == pytest.approx(as_json, nan_ok=True)
    # Strict JSON has no NaN: the JSONL says null, the CSV says nan.
    assert jsonl[1]["train.loss"] is None and rows[1]["train.loss"] == "nan"


def test_a_resumed_run_starts_its_metrics_with_the_epochs_it_continues(tmp_path: Path) -> None:
    trainer = FakeTrainer()
    # Rows restored from a checkpoint come back with their keys sorted.
    trainer.history = [{"epoch": 1, "lr": 0.1, "train.loss": 0.5}]
    trainer.epoch = 1
    logger = MetricsLogger(tmp_path)
    logger.on_fit_start(trainer)
    trainer.epoch = 2
    record = {"epoch": 2, "train.loss": 0.4, "lr": 0.1}
    trainer.history.append(record)
    logger.on_train_epoch_end(trainer, record)
    jsonl, rows, columns = _rows(tmp_path)
    assert [r["epoch"] for r in jsonl] == [1, 2]
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert columns == ["epoch", "train.loss", "lr"]  # the order a fresh run writes
