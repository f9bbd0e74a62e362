"""`ttrain fit` in-process: the run directory, its files, the output modes and early stopping."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ttrain.config import config_to_dict, load_config
from ttrain.training.checkpoint import load_checkpoint

from .helpers import without_timings


def test_each_fit_gets_a_new_numbered_run_directory_with_every_file(write_config, fit_json, out_dir: Path) -> None:
    config = write_config()
    first, second = fit_json(config), fit_json(config)
    assert Path(first["run_dir"]) == out_dir / "spirals" / "1"
    assert Path(second["run_dir"]) == out_dir / "spirals" / "2"
    run = Path(first["run_dir"])
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "config.yaml", "metrics.csv", "metrics.jsonl",
                                                    "summary.json"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.safetensors", "last.safetensors"]
    assert first["checkpoints"] == {"last": str(run / "checkpoints" / "last.safetensors"),
                                    "best": str(run / "checkpoints" / "best.safetensors")}
    # The second run reproduced the first (same seed) without touching its files.
    assert without_timings(second["final"]) == without_timings(first["final"])
    assert (run / "metrics.jsonl").read_text().count("\n") == 2


def test_the_run_config_is_the_resolved_config_and_validates_again(write_config, fit_json, out_dir: Path) -> None:
    summary = fit_json(write_config(), "--set", "optimizer.lr=0.05")
    saved, _ = load_config(Path(summary["run_dir"]) / "config.yaml")
    original, _ = load_config(write_config(), ["optimizer.lr=0.05", f"trainer.output_dir={out_dir}"])
    assert config_to_dict(saved) == config_to_dict(original)
    assert saved.optimizer.kwargs["lr"] == 0.05


def test_metrics_files_have_one_row_per_epoch_matching_the_summary(write_config, fit_json) -> None:
    summary = fit_json(write_config(), "--set", "trainer.epochs=3")
    run = Path(summary["run_dir"])
    jsonl = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in jsonl] == [1, 2, 3]
    assert len(rows) == 3
    for from_json, from_csv in zip(jsonl, rows):
        assert set(from_csv) == set(from_json)
        assert {k: float(v) for k, v in from_csv.items()} == pytest.approx(from_json, rel=1e-12)
    assert jsonl[-1] == summary["final"]
    best = summary["best"]
    assert best["monitor"] == "val.loss" and best["mode"] == "min"
    assert best["value"] == min(r["val.loss"] for r in jsonl)
    assert best["metrics"] == jsonl[best["epoch"] - 1]


def test_checkpoints_hold_the_epoch_they_were_written_at(write_config, fit_json) -> None:
    summary = fit_json(write_config(), "--set", "trainer.epochs=3")
    _, last = load_checkpoint(summary["checkpoints"]["last"])
    _, best = load_checkpoint(summary["checkpoints"]["best"])
    assert (last["epoch"], last["global_step"]) == (3, 18)
    assert best["epoch"] == summary["best"]["epoch"]
    assert best["metrics"] == summary["best"]["metrics"]


def test_json_prints_one_object_on_stdout_and_progress_on_stderr(write_config, cli, out_dir: Path) -> None:
    result = cli("fit", write_config(), "--json", "--set", f"trainer.output_dir={out_dir}")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("\n") == 1
    summary = json.loads(result.stdout)
    assert summary["status"] == "ok" and summary["epochs"] == 2 and summary["global_step"] == 12
    assert summary["stopped_early"] is False
    assert set(summary) >= {"run_dir", "final", "best", "checkpoints", "seconds", "train_seconds"}
    assert [line.split()[1] for line in result.stderr.splitlines()] == ["1/2", "2/2"]


def test_plain_output_is_one_line_per_epoch_without_control_codes(write_config, cli, out_dir: Path) -> None:
    result = cli("fit", write_config(), "--set", "trainer.epochs=3", "--set", f"trainer.output_dir={out_dir}")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:3]] == [["epoch", "1/3"], ["epoch", "2/3"], ["epoch", "3/3"]]
    assert all("train.loss=" in line and "test.accuracy=" in line and "samples/s" in line for line in lines[:3])
    assert not any(line.startswith("epoch") for line in lines[3:])
    assert f"run directory: {out_dir / 'spirals' / '1'}" in result.stdout
    assert "\x1b" not in result.stdout + result.stderr


def test_quiet_prints_only_the_run_directory_on_stderr(write_config, cli, out_dir: Path) -> None:
    result = cli("fit", write_config(), "--quiet", "--set", f"trainer.output_dir={out_dir}")
    assert result.exit_code == 0
    assert (result.stdout, result.stderr) == ("", f"run directory: {out_dir / 'spirals' / '1'}\n")
    assert (out_dir / "spirals" / "1" / "checkpoints" / "last.safetensors").exists()


def test_quiet_json_prints_only_the_summary(write_config, cli, out_dir: Path) -> None:
    result = cli("fit", write_config(), "-q", "--json", "--set", f"trainer.output_dir={out_dir}")
    assert result.exit_code == 0 and result.stderr == ""
    assert json.loads(result.stdout)["status"] == "ok"


def test_early_stopping_ends_the_run(write_config, fit_json) -> None:
    # With a min_delta nobody can beat, the second epoch is already a miss: patience 1 stops there.
    summary = fit_json(write_config(), "--set", "trainer.epochs=6",
                       "--set", "trainer.early_stopping={patience: 1, min_delta: 1000}")
    assert summary["epochs"] == 2 and summary["stopped_early"]
    assert (Path(summary["run_dir"]) / "metrics.jsonl").read_text().count("\n") == 2
    _, last = load_checkpoint(summary["checkpoints"]["last"])
    assert last["epoch"] == 2


def test_a_config_without_validation_monitors_the_training_loss(write_config, fit_json) -> None:
    summary = fit_json(write_config(), "--set", "trainer.val_split=0")
    assert summary["best"]["monitor"] == "train.loss"
    assert not any(k.startswith("val.") for k in summary["final"])


def test_every_n_epochs_still_saves_the_final_epoch(write_config, fit_json) -> None:
    summary = fit_json(write_config(), "--set", "trainer.epochs=3", "--set", "checkpoint.every_n_epochs=2")
    _, last = load_checkpoint(summary["checkpoints"]["last"])
    _, best = load_checkpoint(summary["checkpoints"]["best"])
    assert last["epoch"] == 3 and best["epoch"] == 2 == summary["best"]["epoch"]


def test_checkpoint_monitor_in_max_mode(write_config, fit_json) -> None:
    summary = fit_json(write_config(), "--set", "trainer.epochs=3", "--set", "checkpoint.monitor=val.accuracy")
    jsonl = [json.loads(line) for line in (Path(summary["run_dir"]) / "metrics.jsonl").read_text().splitlines()]
    assert summary["best"]["mode"] == "max"
    assert summary["best"]["value"] == max(r["val.accuracy"] for r in jsonl)
    # Ties go to the earliest epoch: later epochs must beat it.
    assert summary["best"]["epoch"] == next(r["epoch"] for r in jsonl if r["val.accuracy"] == summary["best"]["value"])
