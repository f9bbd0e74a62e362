"""`ttrain compile` fills the kernel cache runs load from; on a terminal, a first run says it compiles."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from ttrain.autograd.kernels.warmup import KERNEL_GROUPS
from ttrain.autograd.compilation import MESSAGE

from .helpers import SPIRALS, subprocess_env

_CNN = """\
model: {name: cnn, channels: [4, 16], kernel_sizes: 3, hidden: 8}
data: {name: mnist, flatten: false, train_size: 64, test_size: 64}
optimizer: {name: adam}
trainer: {epochs: 1, batch_size: 32, val_split: 0}
"""


def _fit_on_a_terminal(config: Path, cache: Path, out: Path, *extra: str) -> str:
    """Run `ttrain fit` with stderr on a pseudo-terminal (stdout a pipe); returns what stderr showed."""
    env = {**subprocess_env(), "NUMBA_CACHE_DIR": str(cache)}
    env.pop("NUMBA_DISABLE_JIT", None)
    leader, follower = pty.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "ttrain", "fit", str(config), "--quiet", "--set", f"trainer.output_dir={out}", *extra],
            stdout=subprocess.PIPE, stderr=follower, env=env, timeout=600,
        )
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: everything was read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    stderr = b"".join(chunks).decode()
    assert process.returncode == 0, stderr
    return stderr


def test_a_first_fit_says_it_compiles_and_a_second_says_nothing(write_config, tmp_path: Path) -> None:
    config, cache = write_config(SPIRALS), tmp_path / "kernels"
    # -q leaves only the run directory on stderr (a terminal's line ends are \r\n)
    first = _fit_on_a_terminal(config, cache, tmp_path / "runs").splitlines()
    assert first == [MESSAGE, f"run directory: {tmp_path / 'runs' / 'spirals' / '1'}"]
    second = _fit_on_a_terminal(config, cache, tmp_path / "runs").splitlines()
    assert second == [f"run directory: {tmp_path / 'runs' / 'spirals' / '2'}"]


def test_compile_reports_each_kernel_group_for_both_float_dtypes(cli) -> None:
    result = cli("compile")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("kernels ready in")
    expected = {f"compiled {group} kernels ({dtype})" for dtype in ("float32", "float64") for group in KERNEL_GROUPS}
    assert {line.split(" at ")[0] for line in result.stderr.splitlines()} == expected  # in the order they finish
    assert len(result.stderr.splitlines()) == len(expected)


@pytest.mark.slow
def test_after_compile_a_cnn_fit_compiles_nothing(write_config, tmp_path: Path) -> None:
    cache = tmp_path / "kernels"
    env = {**subprocess_env(), "NUMBA_CACHE_DIR": str(cache)}
    env.pop("NUMBA_DISABLE_JIT", None)
    result = subprocess.run([sys.executable, "-m", "ttrain", "compile"], capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("kernels ready in")
    config = write_config(_CNN, "cnn.yaml")
    shown = _fit_on_a_terminal(config, cache, tmp_path / "runs").splitlines()
    assert [line for line in shown if not line.startswith("run directory: ")] == []  # no compiling message
