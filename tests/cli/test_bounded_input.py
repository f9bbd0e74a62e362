"""Hostile input files through the command line: each is refused with exit 2 and a message naming the
file, without a traceback, in bounded time and memory.

Inputs that used to hang or eat memory (alias bombs, FIFOs, devices, a gzip bomb) run in a real
subprocess with a time limit and a 2 GiB address-space limit, so a regression fails the test
instead of hanging the suite or the machine. The rest run in-process.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from typer.testing import CliRunner

from ttrain.cli.app import app

from .helpers import SPIRALS, assert_fails, subprocess_env

SECONDS = 60
MEMORY = 2 << 30
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")


def _limit_memory() -> None:
    import resource  # POSIX only, as are FIFOs and /dev/zero

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run_bounded(*args: Any) -> subprocess.CompletedProcess:
    """`python -m ttrain ARGS...` under the time and memory limits (TimeoutExpired fails the test)."""
    return subprocess.run(
        [sys.executable, "-m", "ttrain", *map(str, args)], capture_output=True, text=True, timeout=SECONDS,
        env=subprocess_env(), stdin=subprocess.DEVNULL, preexec_fn=_limit_memory if os.name == "posix" else None,
    )


def assert_refused(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("trained")
    config = folder / "spirals.yaml"
    config.write_text(SPIRALS)
    result = CliRunner().invoke(app, ["fit", str(config), "-q", "--set", "trainer.epochs=1",
                                      "--set", f"trainer.output_dir={folder / 'runs'}"])
    assert result.exit_code == 0, result.stderr
    return folder / "runs" / "spirals" / "1" / "checkpoints" / "last.safetensors"


@pytest.fixture
def fifo(tmp_path: Path) -> Callable[[str], Path]:
    def make(name: str) -> Path:
        path = tmp_path / name
        os.mkfifo(path)
        return path

    return make


def csv_config(tmp_path: Path, data_path: Path) -> Path:
    config = tmp_path / "csv.yaml"
    config.write_text(f"model: {{name: mlp, hidden: [4]}}\ndata: {{name: csv, path: {data_path}}}\n"
                      f"trainer: {{epochs: 1, output_dir: {tmp_path / 'runs'}}}\n")
    return config


# ---------------------------------------------------------------- in a subprocess, under limits


def test_a_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]  # 9**9 values
    config = tmp_path / "bomb.yaml"
    config.write_text("\n".join([*lines, SPIRALS]))
    assert_refused(run_bounded("fit", config), "bomb.yaml:1: a", "more than 100,000 values once aliases are expanded")


@needs_fifo
def test_a_fifo_as_the_config_is_refused(fifo) -> None:
    path = fifo("pipe.yaml")
    assert_refused(run_bounded("fit", path), f"{path}: is a named pipe (FIFO), not a config file")


@needs_fifo
def test_a_fifo_as_the_checkpoint_is_refused(fifo) -> None:
    path = fifo("pipe.safetensors")
    assert_refused(run_bounded("eval", path), f"checkpoint {path}: is a named pipe (FIFO), not a checkpoint file")


@needs_fifo
def test_a_fifo_to_resume_from_is_refused(fifo, tmp_path: Path) -> None:
    path = fifo("pipe.safetensors")
    config = tmp_path / "spirals.yaml"
    config.write_text(SPIRALS)
    result = run_bounded("fit", config, "--resume", path, "--set", f"trainer.output_dir={tmp_path / 'runs'}")
    assert_refused(result, f"checkpoint {path}: is a named pipe (FIFO), not a checkpoint file")
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(not Path("/dev/urandom").exists(), reason="no /dev/urandom")
def test_a_device_as_the_checkpoint_is_refused() -> None:
    assert_refused(run_bounded("eval", "/dev/urandom"), "checkpoint /dev/urandom: is a character device, not a checkpoint file")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_as_a_csv_file_is_refused(tmp_path: Path) -> None:
    assert_refused(run_bounded("fit", csv_config(tmp_path, Path("/dev/zero"))),
                   "/dev/zero: is a character device, not a data file")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_as_predict_inputs_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    result = run_bounded("predict", checkpoint, "/dev/zero", "-o", tmp_path / "out.npz")
    assert_refused(result, "/dev/zero: is a character device, not a data file")


def test_a_gzip_bomb_as_predict_inputs_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    # The header declares 4 samples of 2 floats; 2 GiB of zeros follow, in 2,048 gzip members of
    # 1 MiB each (a gzip file may hold several; readers decompress them as one stream).
    header = bytes([0, 0, 0x0D, 2]) + np.array([4, 2], ">u4").tobytes() + bytes(32)
    path = tmp_path / "bomb.idx.gz"
    path.write_bytes(gzip.compress(header) + gzip.compress(bytes(1 << 20)) * 2048)
    assert path.stat().st_size < 5 << 20
    result = run_bounded("predict", checkpoint, path, "-o", tmp_path / "out.npz")
    assert_refused(result, f"{path}: trailing garbage after the data of shape (4, 2)")


# ---------------------------------------------------------------- in-process


def test_deep_nesting_in_a_config(cli, tmp_path: Path) -> None:
    config = tmp_path / "deep.yaml"
    config.write_text("model: " + "[" * 10_000 + "]" * 10_000 + "\n")
    assert_fails(cli("fit", config), 2, f"{config}:1:", "mappings and lists nested deeper than 64 levels")


def test_a_10000_digit_integer_in_a_config(cli, tmp_path: Path) -> None:
    config = tmp_path / "big.yaml"
    config.write_text(SPIRALS.replace("seed: 3", "seed: " + "9" * 10_000))
    assert_fails(cli("fit", config), 2, f"{config}:1: seed: an integer of 10,000 characters is too long")


def test_a_set_key_of_5000_parts(cli, tmp_path: Path) -> None:
    config = tmp_path / "spirals.yaml"
    config.write_text(SPIRALS)
    assert_fails(cli("fit", config, "--set", ".".join(["a"] * 5000) + "=1"), 2,
                 "--set a.a.a", "...: a key path of 5,000 parts is too long")


def test_a_directory_as_the_config(cli, tmp_path: Path) -> None:
    assert_fails(cli("fit", tmp_path), 2, f"{tmp_path}: is a directory, not a config file")


def test_an_oversized_config(cli, tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "spirals.yaml"
    config.write_text(SPIRALS + "#" * 2000 + "\n")
    monkeypatch.setenv("TTRAIN_MAX_CONFIG_BYTES", "2K")
    assert_fails(cli("fit", config), 2, f"{config}: is 2.", "KiB, over the 2 KiB limit for a config file",
                 "TTRAIN_MAX_CONFIG_BYTES")


def test_an_oversized_csv_file(cli, tmp_path: Path, monkeypatch) -> None:
    data = tmp_path / "d.csv"
    data.write_text("1,0\n" * 1000)
    monkeypatch.setenv("TTRAIN_MAX_DATA_BYTES", "1K")
    assert_fails(cli("fit", csv_config(tmp_path, data)), 2,
                 f"{data}: is 3.91 KiB, over the 1 KiB limit for a data file (set TTRAIN_MAX_DATA_BYTES to raise it)")


def test_a_deeply_nested_checkpoint_header(cli, tmp_path: Path) -> None:
    path = tmp_path / "deep.safetensors"
    header = b'{"a": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    assert_fails(cli("eval", path), 2, f"checkpoint {path}: is damaged or not a safetensors file: its header nests too deeply")


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((0, 2), "no samples to predict (its shape is (0, 2))"),
        ((1,) * 255, "255 dimensions: an IDX file ttrain reads has at most 32"),
        ((60_000, 60_000, 60_000), "its header (shape (60000, 60000, 60000)) declares 786 TiB, over the 4 GiB limit"),
    ],
    ids=["no samples", "255 dimensions", "declares 786 TiB"],
)
def test_predict_inputs_with_a_hostile_idx_header(checkpoint: Path, cli, tmp_path: Path, shape, message: str) -> None:
    path = tmp_path / "inputs.idx"
    path.write_bytes(bytes([0, 0, 0x0D, len(shape)]) + np.array(shape, ">u4").tobytes())
    assert_fails(cli("predict", checkpoint, path, "-o", tmp_path / "out.npz"), 2, f"{path}: {message}")
