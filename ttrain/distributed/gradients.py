"""`GradientAllreduce`: average the ranks' gradients before every optimizer step, in a few large
flat buffers (one MPI_Allreduce per bucket, in place), so every rank applies the same update.

Why buckets: an allreduce costs a latency per call plus a bandwidth term per byte; one call per
parameter (the MLP has 6, a ResNet hundreds) pays the latency many times over. The buffers are
allocated once and reused every step.

Why each rank weighs its gradient: the loss is a mean over the rank's share of the global batch,
and the shares may differ (a last global batch that does not split evenly). Scaling rank r's
mean gradient by n_r / n and summing gives the mean over the global batch: exactly what one
process computes with the whole batch, up to the order of the floating-point additions.

Why blocking: overlapping the allreduce with backward was measured first, and gave nothing here.
The hook point would be the engine's leaf accumulation in `run_backward` (the walk is topological,
so a parameter's gradient is final when its leaf is reached; a bucket is full when its last
parameter is). The probe in benchmarks/distributed.py starts non-blocking allreduces of
gradient-sized buckets before a forward+backward and waits after it: MLP 64 ms against 72 ms
blocking, CNN 365 against 383 ms, within the runs' 20-40% spread (results.md). Open MPI's TCP
transport makes progress only inside MPI calls, and backward keeps every core busy, so the
transfer still happens at the wait; a hook on the hot path would cost every step for no gain.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ttrain.autograd.creation import from_numpy
from ttrain.training.callbacks.base import Callback, Priority

if TYPE_CHECKING:
    from ttrain.distributed.launch import World
    from ttrain.distributed.sharding import ShardedLoader
    from ttrain.training.trainer import Trainer

DEFAULT_BUCKET_BYTES = 4 * 2**20  # a few buckets for a mid-size CNN, one for the MNIST models


def plan_buckets(parameters: Sequence[Any], bucket_bytes: int = DEFAULT_BUCKET_BYTES) -> list[list[Any]]:
    """Consecutive parameters of one dtype grouped into buckets of about `bucket_bytes` each,
    last parameter first: the order backward produces their gradients in."""
    buckets: list[list[Any]] = []
    size = 0
    for p in reversed(list(parameters)):
        if not buckets or size >= bucket_bytes or buckets[-1][0].data.dtype != p.data.dtype:
            buckets.append([])
            size = 0
        buckets[-1].append(p)
        size += p.data.nbytes
    return buckets


class GradientAllreduce(Callback):
    """Before each optimizer step (and before gradient clipping), replace every trainable
    parameter's gradient by the global-batch average over the ranks.

    `loader` tells this rank's share of the step's global batch; a rank whose share is empty
    contributes zeros. A loss with `reduction="sum"` is summed, not averaged. `seconds` and
    `steps` add up the time spent in the allreduce (for the benchmark's compute/communication split).
    """

    priority = Priority.TRAINING + 50

    def __init__(self, world: "World", parameters: Sequence[Any], loader: "ShardedLoader", loss_fn: Any,
                 bucket_bytes: int = DEFAULT_BUCKET_BYTES) -> None:
        from mpi4py import MPI

        self._in_place, self._sum = MPI.IN_PLACE, MPI.SUM
        self.world = world
        self.loader = loader
        self.averaged = getattr(loss_fn, "reduction", "mean") != "sum"
        self.buckets = plan_buckets([p for p in parameters if p.requires_grad], bucket_bytes)
        self.buffers = [np.empty(sum(p.data.size for p in bucket), dtype=bucket[0].data.dtype)
                        for bucket in self.buckets]
        self.seconds = 0.0
        self.steps = 0

    @property
    def bytes_per_step(self) -> int:
        """The bytes each rank hands to allreduce per step (the gradients' size)."""
        return sum(buffer.nbytes for buffer in self.buffers)

    def on_before_optimizer_step(self, trainer: "Trainer") -> None:
        local, total = self.loader.share
        weight = (local / total if total else 0.0) if self.averaged else 1.0
        started = time.perf_counter()
        for bucket, buffer in zip(self.buckets, self.buffers):
            _pack(bucket, buffer, weight)
            self.world.comm.Allreduce(self._in_place, buffer, op=self._sum)
            _unpack(buffer, bucket)
        self.seconds += time.perf_counter() - started
        self.steps += 1


def _pack(bucket: list[Any], buffer: np.ndarray, weight: float) -> None:
    offset = 0
    for p in bucket:
        size = p.data.size
        view = buffer[offset : offset + size]
        if p.grad is None:
            view.fill(0)
        else:
            np.multiply(p.grad.data.reshape(-1), weight, out=view, casting="same_kind")
        offset += size


def _unpack(buffer: np.ndarray, bucket: list[Any]) -> None:
    offset = 0
    for p in bucket:
        size = p.data.size
        averaged = buffer[offset : offset + size].reshape(p.data.shape)
        if p.grad is None:
            p.grad = from_numpy(averaged.copy())
        else:
            p.grad.data[...] = averaged
        offset += size
