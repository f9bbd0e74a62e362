"""Launch detection, the missing-mpi4py error, and the sharded sampler: no MPI needed."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.cli.helpers import subprocess_env
from tests.distributed.workloads import write_config
from ttrain.data import ArrayDataset, DataLoader
from ttrain.distributed.launch import init_world, launched_world_size
from ttrain.distributed.sharding import ShardedLoader, share_bounds
from ttrain.random import Generator


@pytest.mark.parametrize("environ, size", [
    ({}, 1),
    ({"OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "2"}, 4),
    ({"PMI_SIZE": "3", "PMI_RANK": "0"}, 3),
    ({"SLURM_STEP_NUM_TASKS": "8", "SLURM_PROCID": "7"}, 8),
    ({"SLURM_NTASKS": "8"}, 1),  # a batch script's own shell: not a rank that srun started
    ({"OMPI_COMM_WORLD_SIZE": "1"}, 1),
])
def test_world_size_comes_from_the_launcher_environment(environ, size) -> None:
    assert launched_world_size(environ) == size


def test_a_single_process_has_no_world_and_imports_no_mpi() -> None:
    assert init_world({}) is None
    code = "import sys, ttrain, ttrain.cli.fit, ttrain.training.run; print('mpi4py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=subprocess_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_launched_without_mpi4py_is_a_clear_error_not_n_runs(tmp_path) -> None:
    config = write_config(tmp_path, 40, 8)
    broken = tmp_path / "no_mpi"
    (broken / "mpi4py").mkdir(parents=True)
    (broken / "mpi4py" / "__init__.py").write_text("raise ImportError('No module named mpi4py')\n")
    env = subprocess_env()
    env.update(OMPI_COMM_WORLD_SIZE="2", OMPI_COMM_WORLD_RANK="0",
               PYTHONPATH=f"{broken}:{env['PYTHONPATH']}")
    done = subprocess.run([sys.executable, "-m", "ttrain", "fit", str(config)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "mpi4py cannot be imported" in done.stderr and "2 ranks" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()  # no run started


@pytest.mark.parametrize("batch, ranks", [(12, 3), (10, 3), (1, 3), (7, 2), (64, 4)])
def test_shares_cover_a_batch_once_and_differ_by_at_most_one(batch, ranks) -> None:
    bounds = [share_bounds(batch, r, ranks) for r in range(ranks)]
    assert bounds[0][0] == 0 and bounds[-1][1] == batch
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("n, batch, ranks, drop_last", [(100, 12, 3, False), (31, 6, 3, False), (100, 12, 3, True)])
def test_every_sample_once_per_epoch_and_the_single_process_batches(n, batch, ranks, drop_last) -> None:
    dataset = ArrayDataset(np.arange(n, dtype=np.float32)[:, None], np.zeros(n, dtype=np.int64))
    single = DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=drop_last, generator=Generator(9))
    shards = [ShardedLoader(dataset, batch, r, ranks, shuffle=True, drop_last=drop_last, generator=Generator(9))
              for r in range(ranks)]
    assert {len(s) for s in shards} == {len(single)}
    for _epoch in range(2):
        whole = [x.numpy()[:, 0] for x, _ in single]
        parts = [[x.numpy()[:, 0] for x, _ in shard] for shard in shards]
        for step, batch_ids in enumerate(whole):  # rank shares, in rank order, are the single process's batch
            np.testing.assert_array_equal(np.concatenate([p[step] for p in parts]), batch_ids)
        seen = np.concatenate([np.concatenate(p) for p in parts])
        expected = len(single) * batch if drop_last else n
        assert len(seen) == len(np.unique(seen)) == expected


def test_a_sharded_position_is_the_single_process_position() -> None:
    dataset = ArrayDataset(np.arange(50, dtype=np.float32)[:, None], np.zeros(50, dtype=np.int64))
    shard = ShardedLoader(dataset, 10, 1, 2, shuffle=True, generator=Generator(1))
    single = DataLoader(dataset, batch_size=10, shuffle=True, generator=Generator(1))
    shard_batches, single_batches = iter(shard), iter(single)
    for _ in range(2):
        next(shard_batches), next(single_batches)
    a, b = shard.state_dict(), single.state_dict()
    assert a["batches_done"] == b["batches_done"] == 2
    np.testing.assert_array_equal(a["order"], b["order"])
    resumed = DataLoader(dataset, batch_size=10, shuffle=True)  # a checkpoint from 2 ranks, continued by one
    resumed.load_state_dict(a)
    np.testing.assert_array_equal(next(iter(resumed))[0].numpy(), next(single_batches)[0].numpy())
