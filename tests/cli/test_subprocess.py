"""`python -m ttrain` as real subprocesses, as a user or a CI job runs it: output off a terminal,
`--json` on stdout, exit codes, Ctrl-C, and the README's main command."""

from __future__ import annotations

import json
import queue
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

from ttrain.config import load_config
from ttrain.training.checkpoint import load_checkpoint

from .helpers import MNIST, subprocess_env

ROOT = Path(__file__).resolve().parents[2]


def test_fit_then_eval_and_predict_from_elsewhere(write_config, ttrain_process, tmp_path: Path) -> None:
    config, out = write_config(), tmp_path / "runs"
    fit = ttrain_process("fit", config.name, "--set", "trainer.epochs=3", "--set", f"trainer.output_dir={out}",
                         cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    # Off a terminal: one plain line per epoch, no control codes, nothing on stderr.
    lines = fit.stdout.splitlines()
    assert [line.split()[:2] for line in lines if line.startswith("epoch")] == [["epoch", f"{n}/3"] for n in (1, 2, 3)]
    assert "\x1b" not in fit.stdout and fit.stderr == ""

    run = out / "spirals" / "1"
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    best = min(history, key=lambda r: r["val.loss"])
    (run / "config.yaml").unlink()  # eval needs nothing but the checkpoint
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    evaluation = ttrain_process("eval", run / "checkpoints" / "best.safetensors", "--json", cwd=elsewhere)
    assert evaluation.returncode == 0, evaluation.stderr
    assert evaluation.stdout.count("\n") == 1
    report = json.loads(evaluation.stdout)
    assert report["epoch"] == best["epoch"]
    assert report["metrics"] == {"test.loss": best["test.loss"], "test.accuracy": best["test.accuracy"]}

    inputs = elsewhere / "points.npz"
    np.savez(inputs, x=np.zeros((3, 2), np.float32))
    for written in ("points.predictions.npz", "points.predictions-2.npz"):  # never over the first one's file
        predict = ttrain_process("predict", run / "checkpoints" / "best.safetensors", inputs.name, cwd=elsewhere)
        assert predict.returncode == 0, predict.stderr
        assert predict.stdout.strip().endswith(f"to {written}")
        assert np.load(elsewhere / written)["probabilities"].shape == (3, 2)


def test_json_puts_exactly_one_object_on_stdout(write_config, ttrain_process, tmp_path: Path) -> None:
    result = ttrain_process("fit", write_config(), "--json", "--set", f"trainer.output_dir={tmp_path / 'runs'}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    summary = json.loads(result.stdout)
    assert summary["status"] == "ok" and summary["epochs"] == 2
    # The progress went to stderr instead, plain.
    assert [line.split()[1] for line in result.stderr.splitlines()] == ["1/2", "2/2"]
    assert "\x1b" not in result.stderr


def test_resume_as_a_subprocess(write_config, ttrain_process, tmp_path: Path) -> None:
    config, out = write_config(), tmp_path / "runs"
    first = ttrain_process("fit", config, "-q", "--set", "trainer.epochs=1", "--set", f"trainer.output_dir={out}")
    assert first.returncode == 0 and first.stdout == "", first.stderr
    assert first.stderr == f"run directory: {out / 'spirals' / '1'}\n"  # all that -q prints
    last = out / "spirals" / "1" / "checkpoints" / "last.safetensors"
    resumed = ttrain_process("fit", config, "--resume", last, "--json", "-q", "--set", f"trainer.output_dir={out}")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert (summary["epochs"], summary["global_step"], summary["run_dir"]) == (2, 12, str(out / "spirals" / "2"))


def test_config_and_list_as_subprocesses(write_config, ttrain_process) -> None:
    config = write_config()
    show = ttrain_process("config", "show", config, "--set", "trainer.epochs=5")
    assert show.returncode == 0 and yaml.safe_load(show.stdout)["trainer"]["epochs"] == 5
    check = ttrain_process("config", "check", config)
    assert check.returncode == 0 and check.stdout.strip() == f"{config}: ok"
    schema = ttrain_process("config", "schema")
    assert schema.returncode == 0 and "trainer" in json.loads(schema.stdout)["properties"]
    listing = ttrain_process("list", "metrics")
    assert listing.returncode == 0 and listing.stdout.splitlines()[0] == "metrics:" and "top_k" in listing.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["fit", "missing.yaml"], 2, "missing.yaml: no such config file"),
        (["fit", "{config}", "--set", "trainer.batch_size=0"], 2, "trainer.batch_size"),
        (["fit", "{config}", "--set", "optimizer.lr=1e10", "--set", "trainer.epochs=20", "--set", "trainer.output_dir=runs"],
         1, "training failed: the loss became"),
        (["eval", "{config}"], 2, "is not a safetensors file"),
    ],
)
def test_failures_exit_with_their_code_and_no_traceback(write_config, ttrain_process, tmp_path: Path, args: list[str],
                                                         code: int, message: str) -> None:
    config = write_config()
    result = ttrain_process(*[a.replace("{config}", str(config)) for a in args], cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr


def _lines(stream) -> queue.Queue:
    """The lines of `stream`, read by a thread so that waiting for one can time out."""
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT, which Windows cannot send to one process")
def test_ctrl_c_saves_last_and_exits_130(write_config, tmp_path: Path) -> None:
    config, out = write_config(MNIST, "mnist.yaml"), tmp_path / "runs"
    process = subprocess.Popen(
        [sys.executable, "-m", "ttrain", "fit", str(config), "--set", "trainer.epochs=1000",
         "--set", f"trainer.output_dir={out}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(),
    )
    try:
        first = _lines(process.stdout).get(timeout=120)
        assert first is not None and first.startswith("epoch 1/1000"), process.stderr.read()
        process.send_signal(signal.SIGINT)
        stderr = process.stderr.read()
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    last = out / "mnist" / "1" / "checkpoints" / "last.safetensors"
    assert "interrupted by SIGINT" in stderr and str(last) in stderr
    assert "Traceback" not in stderr
    tensors, metadata = load_checkpoint(last)
    # Epoch 1's 8 steps are done; the signal may land at the epoch boundary (during its saves).
    assert metadata["epoch"] >= 1 and metadata["global_step"] >= 8
    assert any(name.startswith("model.") for name in tensors)


def readme_main_command() -> list[str]:
    """The `ttrain fit ...` part of the README's first command line that has one."""
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        command = line.split("#", 1)[0]
        for part in command.split("&&"):
            words = shlex.split(part)
            if words[:2] == ["ttrain", "fit"]:
                return words[1:]
    raise AssertionError("README.md has no `ttrain fit` command")


def test_readme_main_command_runs_on_a_small_budget(ttrain_process, tmp_path: Path) -> None:
    args = readme_main_command()
    config, _ = load_config(ROOT / args[1])
    budget = ["--set", "trainer.epochs=1", "--set", f"trainer.output_dir={tmp_path}"]
    if config.data.name.startswith("mnist"):
        budget += ["--set", "data.train_size=512", "--set", "data.test_size=256"]
    result = ttrain_process(*args, *budget, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.glob("*/1/checkpoints/last.safetensors"))
