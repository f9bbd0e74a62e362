"""A checkpoint written under N ranks continues under M ranks: 2 -> 1 and 1 -> 2, from inside an epoch.

The loader's position is the single process's (the epoch's global order and the global batches
done), and the epoch's metric sums in the checkpoint are those of all ranks, so the resumed run
ends where an uninterrupted one does (within the summation-order tolerance of test_data_parallel).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.distributed.launcher import fit_json, require_mpi
from tests.distributed.test_data_parallel import TOLERANCE
from tests.distributed.workloads import max_difference, model_state, write_config


def _fit(folder: Path, ranks: int, *args: str) -> dict:
    return fit_json(folder, "dp.yaml", ranks, *args)


@pytest.mark.parametrize("first, then, stop_at", [(2, 1, 13), (1, 2, 7)])
def test_a_checkpoint_continues_under_another_number_of_ranks(tmp_path, first, then, stop_at) -> None:
    require_mpi()
    reference_folder, folder = tmp_path / "reference", tmp_path / "resumed"
    for f in (reference_folder, folder):
        f.mkdir()
        write_config(f, 200, 16)  # 10 steps per epoch, 2 epochs
    reference = _fit(reference_folder, 1)
    stopped = _fit(folder, first, "--set", f"trainer.max_steps={stop_at}")
    assert stopped["global_step"] == stop_at and stopped["epoch_step"] == stop_at % 10  # inside an epoch
    resumed = _fit(folder, then, "--resume", stopped["checkpoints"]["last"])
    assert resumed["global_step"] == reference["global_step"] == 20
    assert max_difference(model_state(Path(reference["checkpoints"]["last"])),
                          model_state(Path(resumed["checkpoints"]["last"]))) < TOLERANCE
    for key in ("train.loss", "train.accuracy", "test.loss"):  # the interrupted epoch's sums carried over
        assert abs(resumed["final"][key] - reference["final"][key]) < 1e-5, key
