"""Stop signals to a real `ttrain fit` process, as a person (Ctrl-C) or a cluster scheduler
(SIGTERM from SLURM or Kubernetes, SIGHUP from a closed terminal) sends them: each saves `last`,
says where it is, exits 128 + n, and the run continues from there exactly."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ttrain.training.checkpoint import load_checkpoint

from .helpers import subprocess_env, without_timings
from .test_resume_anywhere import MATRIX

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# Small steps without end, `last` after each one: the test signals once training is under way.
ENDLESS = ("--set", "trainer.epochs=100000", "--set", "checkpoint.every_n_steps=1")


def start_fit(config: Path, out: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ttrain", "fit", str(config), "--set", f"trainer.output_dir={out}", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(),
    )


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def signal_running_fit(config: Path, out: Path, *signals: int, gap: float = 0.1) -> tuple[subprocess.CompletedProcess, Path]:
    """Start an endless fit, send `signals` `gap` seconds apart once `last` exists; (its result, the `last` path)."""
    process = start_fit(config, out, *ENDLESS)
    last = out / config.stem / "1" / "checkpoints" / "last.safetensors"
    try:
        wait_for(last, process)
        time.sleep(0.3)  # well inside training, not at its first step
        for index, signum in enumerate(signals):
            if index:
                # Signals pending together are delivered lowest number first: which came first is
                # only known once the first has reached the process.
                time.sleep(gap)
            process.send_signal(signum)
        sent = time.monotonic()
        stdout, stderr = process.communicate(timeout=60)
        assert time.monotonic() - sent < 10, "took more than seconds to stop"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), last


def continue_from(fit_json, config: Path, checkpoint: Path, steps_more: int) -> None:
    """Resuming from `checkpoint` for a few more steps gives what a run never stopped gives."""
    _, metadata = load_checkpoint(checkpoint)
    total = ("--set", "trainer.epochs=100000", "--set", f"trainer.max_steps={metadata['global_step'] + steps_more}")
    straight = fit_json(config, *total)
    resumed = fit_json(config, *total, "--resume", str(checkpoint))
    a, _ = load_checkpoint(resumed["checkpoints"]["last"])
    b, _ = load_checkpoint(straight["checkpoints"]["last"])
    for name in b:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    logged = [(Path(r["run_dir"]) / "metrics.jsonl").read_text().splitlines() for r in (resumed, straight)]
    assert [without_timings(json.loads(x)) for x in logged[0]] == [without_timings(json.loads(x)) for x in logged[1]]


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_each_stop_signal_saves_last_and_exits_128_plus_n(write_config, fit_json, tmp_path: Path,
                                                          signum: int, code: int) -> None:
    config = write_config(MATRIX, "endless.yaml")
    result, last = signal_running_fit(config, tmp_path / "runs", signum)
    assert result.returncode == code, result.stderr
    assert f"interrupted by {signal.Signals(signum).name} " in result.stderr
    assert str(last) in result.stderr and "Traceback" not in result.stderr
    continue_from(fit_json, config, last, steps_more=7)


def test_more_signals_soon_after_the_first_keep_the_first_ones_exit_code(write_config, tmp_path: Path) -> None:
    config = write_config(MATRIX, "endless.yaml")
    result, last = signal_running_fit(config, tmp_path / "runs", signal.SIGTERM, signal.SIGINT, signal.SIGINT)
    assert result.returncode == 143, result.stderr
    assert "Traceback" not in result.stderr
    load_checkpoint(last)  # whole and verified
    assert not [p for p in last.parent.iterdir() if p.name.endswith(".tmp")]


def test_signals_back_to_back_never_kill_the_process(write_config, tmp_path: Path) -> None:
    config = write_config(MATRIX, "endless.yaml")
    result, last = signal_running_fit(config, tmp_path / "runs", signal.SIGTERM, signal.SIGINT, signal.SIGHUP, gap=0)
    assert result.returncode in (130, 143, 129), result.stderr  # the order of simultaneous signals is lost
    assert "Traceback" not in result.stderr and str(last) in result.stderr
    load_checkpoint(last)


def test_a_signal_during_evaluation_is_honoured(write_config, tmp_path: Path) -> None:
    # One step an epoch and an evaluation of 5,000 test images one by one: seconds of evaluating.
    config = write_config(MATRIX, "evals.yaml")
    args = ("--set", "data.test_size=5000", "--set", "trainer.eval_batch_size=1", "--set", "trainer.batch_size=64",
            "--set", "checkpoint.every_n_epochs=100")  # no save between the line and the evaluation
    process = start_fit(config, tmp_path / "runs", *args, "--set", "trainer.epochs=5")
    try:
        first = process.stdout.readline()  # epoch 1's line: epoch 2's evaluation starts right after its one step
        assert first.startswith("epoch 1/5"), process.communicate()
        time.sleep(0.3)
        process.send_signal(signal.SIGHUP)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 129, stderr
    assert re.search(r"interrupted by SIGHUP during the evaluation of epoch [2-5] ", stderr), stderr
    last = tmp_path / "runs" / "evals" / "1" / "checkpoints" / "last.safetensors"
    _, metadata = load_checkpoint(last)
    assert metadata["trainer"]["epoch_progress"]["train_done"] is True
    # (tests/training/test_stop_signals.py shows that resuming from such a checkpoint is exact)


SLOW_COMMAND = """
import time, typer
from ttrain.cli.errors import user_errors
from ttrain.signals import exit_on_stop_signals
app = typer.Typer()
@app.command()
def work() -> None:
    with user_errors():
        print("ready", flush=True)
        time.sleep(60)  # as a long data download or load before training would
with exit_on_stop_signals():
    app()
"""


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_a_signal_before_training_exits_128_plus_n_with_a_message(signum: int, code: int) -> None:
    process = subprocess.Popen([sys.executable, "-c", SLOW_COMMAND], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=subprocess_env())
    try:
        assert process.stdout.readline() == "ready\n", process.communicate()
        process.send_signal(signum)
        time.sleep(0.1)
        process.send_signal(signal.SIGINT)  # a second one while it exits changes nothing
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == code, stderr
    assert f"stopped: interrupted by {signal.Signals(signum).name}" in stderr and "Traceback" not in stderr


SLOW_IMPORT = """
import sys, time
from ttrain.signals import exit_on_stop_signals
sys.path.insert(0, {folder!r})
with exit_on_stop_signals():
    import slow_module  # noqa: F401 - prints "ready", then sleeps inside the import
"""


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_outside_a_command_or_inside_an_import_exits_at_once(tmp_path: Path, signum: int,
                                                                       code: int) -> None:
    """Raising inside an import would leave a half-made module (and Typer turns a KeyboardInterrupt
    outside a command into a silent 130): the process says why and exits 128 + n right there."""
    (tmp_path / "slow_module.py").write_text("import time\nprint('ready', flush=True)\ntime.sleep(60)\n")
    process = subprocess.Popen([sys.executable, "-c", SLOW_IMPORT.format(folder=str(tmp_path))],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        assert process.stdout.readline() == "ready\n", process.communicate()
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == code, stderr
    assert stderr == f"stopped: interrupted by {signal.Signals(signum).name}\n"
