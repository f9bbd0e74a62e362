"""Run under `mpiexec -n 2`: gradcheck of synchronised batch norm in float64 across ranks.

Each rank r holds its own input x_r and loss L_r = sum(bn(x_r) * W_r); the job's loss is
T = sum_r L_r. Backward (through `AllreduceSum`, whose backward sums the ranks' gradients) must
give every rank dT/dx_r, which the central finite differences check: for each rank q and each
element i, every rank evaluates T with only rank q's x[i] moved (so the collectives stay in step).
Rank 0 prints `ok <largest error>`, or raises.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

import ttrain
from ttrain.distributed.batchnorm import convert_sync_batchnorm
from ttrain.distributed.launch import World
from ttrain.nn import BatchNorm1d, BatchNorm2d


def _total(bn, x: np.ndarray, weight: np.ndarray, comm) -> float:  # noqa: ANN001
    with ttrain.no_grad():
        y = bn(ttrain.from_numpy(x))
    return comm.allreduce(float((y.numpy() * weight).sum()))


def check(layer, shape: tuple[int, ...], world: World, eps: float = 1e-6) -> float:  # noqa: ANN001
    rng = np.random.default_rng(10 + world.rank)
    x = rng.normal(size=shape) * (1 + world.rank)  # the ranks' shares differ in mean and spread
    weight = rng.normal(size=shape)
    bn = layer(shape[1], dtype=np.float64)
    bn.weight.data[...] = rng.normal(size=shape[1])
    convert_sync_batchnorm(bn, world)
    bn.train()
    inputs = ttrain.from_numpy(x.copy())
    inputs.requires_grad_(True)
    (bn(inputs) * ttrain.from_numpy(weight)).sum().backward()
    analytic = inputs.grad.numpy()
    numeric = np.zeros_like(x)
    for q in range(world.size):
        for i in range(x.size):
            moved = x.copy()
            if world.rank == q:
                moved.flat[i] += eps
            plus = _total(bn, moved, weight, world.comm)
            if world.rank == q:
                moved.flat[i] -= 2 * eps
            minus = _total(bn, moved, weight, world.comm)
            if world.rank == q:
                numeric.flat[i] = (plus - minus) / (2 * eps)
    error = float(np.abs(analytic - numeric).max())
    assert np.allclose(analytic, numeric, rtol=1e-5, atol=1e-6), (world.rank, error)
    return error


def main() -> None:
    comm = MPI.COMM_WORLD
    world = World(comm, comm.Get_rank(), comm.Get_size())
    errors = [check(BatchNorm1d, (3, 2), world), check(BatchNorm2d, (2, 2, 2, 2), world)]
    worst = comm.allreduce(max(errors), op=MPI.MAX)
    if world.is_main:
        print(f"ok {worst:.3g}", flush=True)


if __name__ == "__main__":
    main()
