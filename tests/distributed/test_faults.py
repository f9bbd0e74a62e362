"""A rank that fails mid-epoch takes the whole job down within seconds, saying which rank and why;
the checkpoint it leaves is whole."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.distributed.launcher import mpi_env, mpiexec_command, require_mpi, ttrain
from tests.distributed.workloads import write_config
from ttrain.training.checkpoint import load_checkpoint

LIMIT_S = 10.0
LONG_RUN = 50  # epochs: far longer than a test waits


def _start(folder: Path, config: Path) -> subprocess.Popen:
    return subprocess.Popen(mpiexec_command(2, *ttrain("fit", config.name)), cwd=folder, env=mpi_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen) -> tuple[str, float]:
    try:
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    return stderr, time.time()


def test_a_nan_on_one_rank_ends_the_job_with_the_rank_and_the_reason(tmp_path) -> None:
    require_mpi()
    layers = "[probes:NaNOnRank1, {linear: {out_features: 16}}, tanh, {linear: {out_features: 2}}]"
    config = write_config(tmp_path, 400, 16, layers=layers, epochs=LONG_RUN)
    stderr, ended = _finish(_start(tmp_path, config))
    failed_at = float((tmp_path / "nan_at.txt").read_text())
    assert ended - failed_at < LIMIT_S, f"the job took {ended - failed_at:.1f} s to end after rank 1 failed"
    assert "rank 1 of 2: training failed: the loss became nan at epoch 1, step 3" in stderr


def test_ctrl_c_on_one_rank_ends_the_job_and_leaves_whole_checkpoints(tmp_path) -> None:
    require_mpi()
    layers = "[probes:PidFiles, {linear: {out_features: 16}}, tanh, {linear: {out_features: 2}}]"
    config = write_config(tmp_path, 400, 16, layers=layers, epochs=LONG_RUN,
                          extra="checkpoint: {every_n_steps: 1}\n")  # saving all the time: a kill may land in one
    process = _start(tmp_path, config)
    pid_file = tmp_path / "pid_rank1.txt"
    deadline = time.time() + 90
    while not pid_file.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # a few steps (and saves) in
    os.kill(int(pid_file.read_text()), signal.SIGINT)
    interrupted_at = time.time()
    stderr, ended = _finish(process)
    assert process.returncode == 130, stderr
    assert ended - interrupted_at < LIMIT_S
    assert "rank 1 of 2: stopped: interrupted by SIGINT" in stderr
    last = tmp_path / "runs" / "dp" / "1" / "checkpoints" / "last.safetensors"
    _, metadata = load_checkpoint(last)  # verified against its hashes: never half-written
    assert metadata["global_step"] >= 1
