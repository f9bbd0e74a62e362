"""Synchronised batch norm (`trainer.sync_batchnorm: true`): training-mode batch statistics over
the whole global batch, reduced over the ranks, so N ranks normalise as one process would.

Composed from the engine's primitives plus one op, `AllreduceSum` (forward: the sum over the ranks;
backward: the sum of the ranks' incoming gradients, since every rank's output depends on every
rank's input). The gradient through the global mean and variance is then the chain rule's, with no
hand-written batch-norm backward. Evaluation mode is the layer's own (running statistics).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ttrain.autograd.function import Function
from ttrain.autograd.grad_mode import no_grad
from ttrain.autograd.tensor import Tensor
from ttrain.nn.normalization import BatchNorm1d, BatchNorm2d, _BatchNorm

if TYPE_CHECKING:
    from ttrain.distributed.launch import World


class AllreduceSum(Function):
    """The elementwise sum of `x` over every rank of `comm`."""

    @staticmethod
    def forward(ctx: Function, x: np.ndarray, comm: Any = None) -> np.ndarray:
        from mpi4py import MPI

        ctx.comm = comm
        total = np.array(x, copy=True)
        comm.Allreduce(MPI.IN_PLACE, total, op=MPI.SUM)
        return total

    @staticmethod
    def backward(ctx: Function, grad: np.ndarray) -> tuple[np.ndarray]:
        from mpi4py import MPI

        total = np.array(grad, copy=True)
        ctx.comm.Allreduce(MPI.IN_PLACE, total, op=MPI.SUM)
        return (total,)


class _SyncBatchNorm:
    """Mixed in before a batch-norm class: training mode normalises with global-batch statistics."""

    world: "World"

    def forward(self, input: Tensor) -> Tensor:
        if not self.training:
            return super().forward(input)  # type: ignore[misc]
        axes = (0, *range(2, input.ndim))
        shape = (1, input.shape[1], *([1] * (input.ndim - 2)))
        count = int(self.world.comm.allreduce(input.data.size // input.shape[1]))
        if count < 2:
            raise ValueError(
                f"{type(self).__name__}: expected more than 1 value per channel over all ranks, got {count}")
        comm = self.world.comm
        mean = AllreduceSum.apply(input.sum(dim=axes, keepdim=True), comm=comm) / count
        centred = input - mean
        var = AllreduceSum.apply((centred * centred).sum(dim=axes, keepdim=True), comm=comm) / count
        output = centred / (var + self.eps) ** 0.5
        if self.weight is not None:
            output = output * self.weight.reshape(shape)
        if self.bias is not None:
            output = output + self.bias.reshape(shape)
        if self.track_running_stats:
            self._update_running(mean.data.reshape(-1), var.data.reshape(-1) * count / (count - 1))
        return output

    def _update_running(self, mean: np.ndarray, unbiased_var: np.ndarray) -> None:
        with no_grad():
            self.num_batches_tracked.data[...] += 1
            momentum = 1.0 / float(self.num_batches_tracked.data) if self.momentum is None else self.momentum
            for running, batch in ((self.running_mean, mean), (self.running_var, unbiased_var)):
                running.data[...] = (1 - momentum) * running.data + momentum * batch.astype(running.data.dtype)


class SyncBatchNorm1d(_SyncBatchNorm, BatchNorm1d):
    """`BatchNorm1d` with statistics over every rank's share of the batch."""


class SyncBatchNorm2d(_SyncBatchNorm, BatchNorm2d):
    """`BatchNorm2d` with statistics over every rank's share of the batch."""


_SYNCED = {BatchNorm1d: SyncBatchNorm1d, BatchNorm2d: SyncBatchNorm2d}


def convert_sync_batchnorm(model: Any, world: "World") -> int:
    """Make every BatchNorm1d/2d in `model` synchronised over `world`, in place (parameters,
    buffers and state-dict names unchanged, so checkpoints stay interchangeable); returns how many."""
    converted = 0
    for module in model.modules():
        synced = _SYNCED.get(type(module))
        if synced is not None and isinstance(module, _BatchNorm):
            module.__class__ = synced
            object.__setattr__(module, "world", world)
            converted += 1
    return converted
