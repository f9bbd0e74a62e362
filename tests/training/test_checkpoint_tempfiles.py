"""Temporary files of saves killed half-way: removed by the next save into the same folder
(unless their writer is still alive), and never taken for checkpoints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ttrain.training.checkpoint import is_temporary_file, load_checkpoint, save_checkpoint
from ttrain.training.resume import newest_checkpoint

META = {"config": {"name": "demo"}, "epoch": 1, "global_step": 5}


def dead_pid() -> int:
    """The id of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_next_save_removes_what_killed_saves_left(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "best.safetensors", {"w": np.ones(3)}, META)
    stale = [
        tmp_path / f".last.safetensors.{dead_pid()}.0123456789ab.tmp",  # a kill -9 during `last`
        tmp_path / f".best.safetensors.{dead_pid()}.abcdef012345.tmp",  # another target, same folder
        tmp_path / ".last.safetensors.00112233aabb.tmp",  # written by an older ttrain (no pid)
    ]
    in_flight = tmp_path / f".best.safetensors.{os.getppid()}.fedcba987654.tmp"  # its writer is alive
    for path in [*stale, in_flight]:
        path.write_bytes((tmp_path / "best.safetensors").read_bytes()[:100])
    assert all(is_temporary_file(p) for p in [*stale, in_flight])

    save_checkpoint(tmp_path / "last.safetensors", {"w": np.zeros(3)}, META)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["best.safetensors", "last.safetensors", in_flight.name])


def test_a_temporary_file_is_never_taken_for_a_checkpoint(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "last.safetensors", {"w": np.ones(3)}, META)
    # A whole, valid checkpoint under a temporary name, one step further: still not a candidate.
    newer = {**META, "global_step": 9}
    save_checkpoint(tmp_path / "x.safetensors", {"w": np.ones(3)}, newer)
    os.replace(tmp_path / "x.safetensors", tmp_path / f".last.safetensors.{os.getpid()}.0123456789ab.tmp")
    choice = newest_checkpoint([tmp_path])
    assert choice.path == tmp_path / "last.safetensors" and choice.skipped == []
    assert load_checkpoint(choice.path)[1]["global_step"] == 5


@pytest.mark.parametrize("name", ["last.safetensors", "best.safetensors", "run.yaml", ".last.safetensors.tmp"])
def test_only_names_of_the_temporary_pattern_count_as_temporary(name: str) -> None:
    assert not is_temporary_file(Path(name))
