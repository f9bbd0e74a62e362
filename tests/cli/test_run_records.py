"""`summary.json` in every run directory: what a script reads to learn how a run went, whether it
completed, failed or was interrupted, with what config, overrides, versions and git commit."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import ttrain

from .helpers import SPIRALS
from .test_signals import ENDLESS, start_fit, wait_for

HUGE_LR = ("--set", "optimizer.lr=1e30")  # the loss overflows within the first steps


def summary_of(run_dir: Path | str) -> dict:
    return json.loads((Path(run_dir) / "summary.json").read_text(encoding="utf-8"))


def test_a_completed_run_records_what_fit_json_prints(write_config, cli, out_dir: Path) -> None:
    result = cli("fit", write_config(), "--json", "--set", f"trainer.output_dir={out_dir}", "--set", "optimizer.lr=0.05")
    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout)
    record = summary_of(printed["run_dir"])
    assert record["status"] == "completed" and record["error"] is None
    assert {**printed, "status": "completed"} == {**record, "command": "fit"}  # the same object
    assert record["overrides"] == [f"trainer.output_dir={out_dir}", "optimizer.lr=0.05"]
    assert record["config"]["optimizer"]["lr"] == 0.05 and record["config"]["trainer"]["epochs"] == 2
    assert record["epochs"] == 2 and record["final"]["epoch"] == 2
    assert record["best"]["monitor"] == "val.loss" and record["best"]["value"] == min(
        row["val.loss"] for row in map(json.loads, (out_dir / "spirals" / "1" / "metrics.jsonl").read_text().splitlines()))
    assert Path(record["checkpoints"]["best"]).is_file() and Path(record["checkpoints"]["last"]).is_file()
    assert record["seconds"] >= record["train_seconds"] > 0
    assert record["started_at"] < record["finished_at"] and record["finished_at"].endswith("Z")
    assert record["versions"]["ttrain"] == ttrain.__version__
    assert record["versions"]["numpy"] and record["versions"]["numba"] and record["versions"]["python"]
    assert "git" not in record  # the config sits in a temporary folder, in no repository
    assert not [p for p in Path(record["run_dir"]).iterdir() if p.name.endswith(".tmp")]


def test_a_failed_run_records_the_error_and_how_far_it_got(write_config, cli, out_dir: Path) -> None:
    result = cli("fit", write_config(), "--json", "--set", f"trainer.output_dir={out_dir}", *HUGE_LR)
    assert result.exit_code == 1
    printed = json.loads(result.stdout)
    run_dir = out_dir / "spirals" / "1"
    assert printed["run_dir"] == str(run_dir) and printed["error"]["kind"] == "training_failed"
    record = summary_of(run_dir)
    assert record["status"] == "failed"
    assert record["error"]["kind"] == "training_failed" and "nan" in record["error"]["message"]
    assert record["error"]["message"] in result.stderr
    assert record["overrides"][-1] == "optimizer.lr=1e30" and record["epochs"] == 0 and record["final"] == {}


def test_an_interrupted_run_records_the_signal_and_the_checkpoint(write_config, tmp_path: Path) -> None:
    config, out = write_config(), tmp_path / "runs"
    process = start_fit(config, out, *ENDLESS, "--json", "--quiet")
    run_dir = out / "spirals" / "1"
    try:
        wait_for(run_dir / "checkpoints" / "last.safetensors", process)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    record = summary_of(run_dir)
    assert record["status"] == "interrupted"
    assert record["error"]["kind"] == "interrupted" and record["error"]["signal"] == "SIGINT"
    assert record["checkpoints"]["last"] in record["error"]["message"] and record["global_step"] > 0
    printed = json.loads(stdout)
    assert (printed["exit_code"], printed["run_dir"], printed["error"]["signal"]) == (130, str(run_dir), "SIGINT")


class StopAfterFirstStep(ttrain.Callback):
    def on_train_batch_end(self, trainer, loss: float, batch_size: int) -> None:
        trainer.request_stop(signal.SIGTERM)  # as the handler of a SIGTERM does


def test_an_interruption_from_python_is_recorded(write_config, out_dir: Path, monkeypatch) -> None:
    from ttrain.config import load_config
    from ttrain.training import TrainingInterrupted, run

    add_run_callbacks = run.add_run_callbacks

    def with_stop(experiment, run_dir, console=None, **options):
        experiment.trainer.add_callback(StopAfterFirstStep())
        return add_run_callbacks(experiment, run_dir, console, **options)

    monkeypatch.setattr(run, "add_run_callbacks", with_stop)
    config, source = load_config(write_config(), [f"trainer.output_dir={out_dir}"])
    with pytest.raises(TrainingInterrupted) as raised:
        run.fit(config, source)
    assert raised.value.run_dir == out_dir / "spirals" / "1"
    record = summary_of(raised.value.run_dir)
    assert (record["status"], record["error"]["signal"], record["global_step"]) == ("interrupted", "SIGTERM", 1)
    assert record["checkpoints"]["last"] in record["error"]["message"]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_config_repositorys_commit_is_recorded(write_config, cli, tmp_path: Path) -> None:
    repo = tmp_path / "experiments"
    config = write_config(SPIRALS, "experiments/spirals.yaml")

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                              check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    git("add", "spirals.yaml")
    git("commit", "-q", "-m", "spirals")
    head = git("rev-parse", "HEAD")

    def fit() -> dict:
        result = cli("fit", config, "--quiet", "--set", "trainer.epochs=1", "--set", f"trainer.output_dir={repo / 'runs'}")
        assert result.exit_code == 0, result.stderr
        return summary_of(max((repo / "runs" / "spirals").iterdir(), key=lambda p: int(p.name)))

    assert fit()["git"] == {"commit": head, "dirty": False}
    assert fit()["git"] == {"commit": head, "dirty": False}  # the untracked runs/ folder leaves it clean
    config.write_text(SPIRALS.replace("seed: 3", "seed: 4"), encoding="utf-8")
    assert fit()["git"] == {"commit": head, "dirty": True}


def test_a_missing_git_is_no_error(write_config, fit_json, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "")  # no git to find
    summary = fit_json(write_config(), "--set", "trainer.epochs=1")
    assert "git" not in summary and "git" not in summary_of(summary["run_dir"])


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_a_summary_that_cannot_be_written_fails_the_run(write_config, cli, out_dir: Path, monkeypatch) -> None:
    from ttrain.training import records

    def no_room(path, data):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr("ttrain.training.checkpoint.atomic_write_bytes", no_room)
    result = cli("fit", write_config(), "--json", "--quiet", "--set", f"trainer.output_dir={out_dir}",
                 "--set", "checkpoint.save_last=false", "--set", "checkpoint.save_best=false")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "output_write" and error["file"] == str(out_dir / "spirals" / "1" / records.SUMMARY_FILE)


def test_the_python_api_records_its_overrides(write_config, out_dir: Path) -> None:
    summary = ttrain.fit(write_config(), {"trainer.epochs": 1, "optimizer.lr": 0.05}, output_dir=out_dir)
    # as `--set` strings, each value written as JSON (which YAML reads back)
    assert summary["overrides"] == ["trainer.epochs=1", "optimizer.lr=0.05", f"trainer.output_dir={json.dumps(str(out_dir))}"]
    assert summary_of(summary["run_dir"]) == {**summary, "status": "completed"}
