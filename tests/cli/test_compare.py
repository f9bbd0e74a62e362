"""`ttrain compare A B`: metrics side by side, the config keys that differ, and exit 3 when B is
worse than A on A's monitored metric by more than the tolerance: a regression gate for CI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ttrain.cli.errors import EXIT_BAD_INPUT, EXIT_EXPECTATION_FAILED

from .helpers import assert_fails


@pytest.fixture
def runs(write_config, fit_json) -> dict[str, dict[str, Any]]:
    """Three SPIRALS runs: a baseline of 3 epochs, the same again, and a worse one of 1 epoch."""
    config = write_config()
    return {
        "a": fit_json(config, "--set", "trainer.epochs=3"),
        "same": fit_json(config, "--set", "trainer.epochs=3"),
        "worse": fit_json(config, "--set", "trainer.epochs=1"),
    }


def compare_json(cli, *args: Any) -> tuple[int, dict[str, Any]]:
    result = cli("compare", *args, "--json")
    assert "Traceback" not in result.stderr
    return result.exit_code, json.loads(result.stdout)


def without_run_record(run: dict[str, Any]) -> Path:
    """The run's directory with only what a run of today has for sure: no summary.json."""
    folder = Path(run["run_dir"])
    (folder / "summary.json").unlink(missing_ok=True)
    return folder


def test_the_same_run_twice_is_no_regression(cli, runs) -> None:
    a, b = without_run_record(runs["a"]), without_run_record(runs["same"])
    result = cli("compare", a, b)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == [f"A: {a} (run)", f"B: {b} (run)", lines[2]] and lines[2].split() == ["metric", "A", "B", "B-A"]
    monitored = next(line for line in lines if line.startswith("val.loss *")).split()
    assert monitored[2] == monitored[3] and monitored[4] == "+0"
    assert "config: no keys differ" in lines
    assert lines[-1] == "val.loss (min): B is the same as A: ok"


def test_a_worse_run_beyond_the_tolerance_exits_3_and_within_it_0(cli, runs) -> None:
    a, worse = runs["a"]["run_dir"], runs["worse"]["run_dir"]
    code, report = compare_json(cli, a, worse)
    monitor = report["monitor"]
    gap = runs["worse"]["final"]["val.loss"] - runs["a"]["final"]["val.loss"]
    assert gap > 0.005  # one epoch instead of three: a higher validation loss
    assert code == EXIT_EXPECTATION_FAILED
    assert monitor == {"name": "val.loss", "mode": "min", "a": runs["a"]["final"]["val.loss"],
                       "b": runs["worse"]["final"]["val.loss"], "worse_by": pytest.approx(gap),
                       "tolerance": 0.005, "regressed": True}
    assert report["config_changes"] == [{"key": "trainer.epochs", "a": 3, "b": 1}]

    code, report = compare_json(cli, a, worse, "--tolerance", gap + 0.001)
    assert code == 0 and report["monitor"]["regressed"] is False
    # B better than A is never a regression, whatever the tolerance.
    code, report = compare_json(cli, worse, a, "--tolerance", 0)
    assert code == 0 and report["monitor"]["worse_by"] == pytest.approx(-gap)


def test_plain_output_shows_the_regression_and_the_config_change(cli, runs) -> None:
    result = cli("compare", runs["a"]["run_dir"], runs["worse"]["run_dir"])
    assert result.exit_code == EXIT_EXPECTATION_FAILED
    assert "\x1b[" not in result.stdout  # off a terminal: no control codes
    lines = result.stdout.splitlines()
    assert lines[-3:-1] == ["config: 1 key differs:", "  trainer.epochs: 3 -> 1"]
    assert lines[-1].startswith("val.loss (min): B is worse than A by ") and lines[-1].endswith(
        ", over the tolerance 0.005: regression")


def test_two_checkpoints_compare_on_the_epochs_they_hold(cli, runs) -> None:
    best, last = runs["a"]["checkpoints"]["best"], runs["worse"]["checkpoints"]["last"]
    code, report = compare_json(cli, best, last)
    assert (report["a"], report["b"]) == ({"path": best, "kind": "checkpoint"}, {"path": last, "kind": "checkpoint"})
    metrics = {row["name"]: row for row in report["metrics"]}
    assert metrics["epoch"]["a"] == runs["a"]["best"]["epoch"] and metrics["epoch"]["b"] == 1
    assert metrics["test.accuracy"]["a"] == runs["a"]["best"]["metrics"]["test.accuracy"]
    assert metrics["test.accuracy"]["difference"] == pytest.approx(
        runs["worse"]["final"]["test.accuracy"] - runs["a"]["best"]["metrics"]["test.accuracy"])
    assert {"key": "trainer.epochs", "a": 3, "b": 1} in report["config_changes"]
    assert code == (EXIT_EXPECTATION_FAILED if report["monitor"]["worse_by"] > 0.005 else 0)


def test_a_run_and_a_checkpoint_compare(cli, runs) -> None:
    code, report = compare_json(cli, runs["a"]["run_dir"], runs["a"]["checkpoints"]["last"])
    assert code == 0
    assert report["monitor"]["worse_by"] == 0 and report["config_changes"] == []


def test_keys_only_one_side_has_are_shown_as_absent(cli, write_config, fit_json) -> None:
    config = write_config()
    a = fit_json(config, "--set", "trainer.epochs=1")
    b = fit_json(config, "--set", "trainer.epochs=1", "--set", "scheduler=null")
    code, report = compare_json(cli, a["run_dir"], b["run_dir"], "--tolerance", 1e9)
    assert code == 0
    changes = {change["key"]: change for change in report["config_changes"]}
    assert changes["scheduler.name"] == {"key": "scheduler.name", "a": "step"}  # B has no such key
    assert changes["scheduler"] == {"key": "scheduler", "b": None}
    plain = cli("compare", a["run_dir"], b["run_dir"], "--tolerance", 1e9).stdout
    assert "  scheduler.name: step -> (absent)" in plain.splitlines()


def test_the_run_record_is_read_when_there_is_one(cli, runs) -> None:
    folder = Path(runs["worse"]["run_dir"])
    record = {"final": {**runs["a"]["final"], "val.loss": runs["a"]["final"]["val.loss"] - 0.1},
              "config": {"checkpoint": {"monitor": "val.loss", "mode": "min"}}}
    (folder / "summary.json").write_text(json.dumps(record), encoding="utf-8")
    code, report = compare_json(cli, without_run_record(runs["a"]), folder)
    assert code == 0 and report["monitor"]["worse_by"] == pytest.approx(-0.1)


def test_b_without_a_value_for_the_monitor_is_a_regression(cli, runs, tmp_path: Path) -> None:
    failed = tmp_path / "failed"
    shutil.copytree(without_run_record(runs["same"]), failed)
    record = json.loads((failed / "metrics.jsonl").read_text().splitlines()[-1])
    (failed / "metrics.jsonl").write_text(json.dumps({**record, "val.loss": None}) + "\n")  # strict JSON's NaN
    code, report = compare_json(cli, runs["a"]["run_dir"], failed, "--tolerance", 1e9)
    assert code == EXIT_EXPECTATION_FAILED
    assert report["monitor"]["b"] is None and report["monitor"]["regressed"] is True
    # As the baseline, it holds B to nothing: bad input.
    assert_fails(cli("compare", failed, runs["a"]["run_dir"]), EXIT_BAD_INPUT,
                 f"{failed}: has no value for its monitored metric 'val.loss'")


def test_rich_tables_on_a_terminal(cli, runs, monkeypatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "160")
    result = cli("compare", runs["a"]["run_dir"], runs["worse"]["run_dir"])
    assert result.exit_code == EXIT_EXPECTATION_FAILED
    assert "metric (* monitored)" in result.stdout and "config keys that differ" in result.stdout
    assert "\x1b[" in result.stdout and "┃" in result.stdout


def test_unreadable_inputs_are_bad_input_naming_the_path(cli, runs, tmp_path: Path) -> None:
    a = runs["a"]["run_dir"]
    assert_fails(cli("compare", a, tmp_path / "nothing"), EXIT_BAD_INPUT,
                 f"{tmp_path / 'nothing'}: no such run directory or checkpoint")
    assert_fails(cli("compare", tmp_path, a), EXIT_BAD_INPUT, f"{tmp_path}: is a directory but not a run directory")
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(Path(runs["a"]["checkpoints"]["best"]).read_bytes()[:100])
    assert_fails(cli("compare", a, damaged), EXIT_BAD_INPUT, str(damaged))
    garbled = tmp_path / "garbled"
    shutil.copytree(without_run_record(runs["same"]), garbled)
    with (garbled / "metrics.jsonl").open("a") as file:
        file.write('{"epoch": 4, "val.lo')
    assert_fails(cli("compare", a, garbled), EXIT_BAD_INPUT, f"{garbled / 'metrics.jsonl'}: is damaged")
    (garbled / "summary.json").write_text('{"final": ')
    assert_fails(cli("compare", a, garbled), EXIT_BAD_INPUT, f"{garbled / 'summary.json'}: is damaged")
    (garbled / "summary.json").unlink()
    (garbled / "metrics.jsonl").write_text("")
    (garbled / "config.yaml").unlink()
    assert_fails(cli("compare", garbled, a), EXIT_BAD_INPUT, str(garbled / "config.yaml"))


def test_a_bad_input_with_json_is_a_json_error(cli, runs, tmp_path: Path) -> None:
    result = cli("compare", runs["a"]["run_dir"], tmp_path / "nothing", "--json")
    assert result.exit_code == EXIT_BAD_INPUT
    assert json.loads(result.stdout)["exit_code"] == EXIT_BAD_INPUT
