"""`DataLoader`: batches of a dataset as ``(inputs, targets)`` tensors, PyTorch style."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from ttrain.autograd.creation import from_numpy
from ttrain.autograd.tensor import Tensor
from ttrain.data._rng import keep_stream, numpy_rng
from ttrain.data.dataset import Dataset


class DataLoader:
    """Iterate over ``dataset`` in batches of ``(inputs, targets)`` `Tensor`s.

    Each batch is one `Dataset.get_batch` call (a single fancy-indexing step for array datasets).
    With ``shuffle=True`` every epoch (every ``iter(loader)``) draws a fresh permutation from
    ``generator`` -- a `ttrain.Generator`, a NumPy Generator, an int seed, or None for the global
    generator looked up at the start of each epoch -- so the same seed gives the same order, epoch
    after epoch, with no ``set_epoch`` call.

    For data-parallel training, ``num_shards`` processes drawing the same permutation (the same
    seed) each take ``shard_index``'s share: every ``num_shards``-th sample of the epoch's order,
    after dropping the remainder so that all shards get the same number of samples and batches.
    Rank ``r``'s k-th batch is then a slice of the k-th batch a single process would see with
    ``batch_size * num_shards``.

    Resumable, as PyTorch's ``StatefulDataLoader`` is: `state_dict` is the position of the epoch
    being iterated (its sample order and the batches handed out so far), and after
    `load_state_dict` the next ``iter(loader)`` continues that epoch from that batch, with that
    order, drawing nothing from ``generator``.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: Any = None,
        num_shards: int = 1,
        shard_index: int = 0,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if num_shards < 1 or not 0 <= shard_index < num_shards:
            raise ValueError(
                "DataLoader: need num_shards >= 1 and 0 <= shard_index < num_shards, "
                f"got num_shards={num_shards}, shard_index={shard_index}"
            )
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = keep_stream(generator)  # an int seed: one stream, a new permutation per epoch
        self.num_shards = num_shards
        self.shard_index = shard_index
        self._order: np.ndarray | None = None  # the order of the epoch being iterated
        self._batches_done = 0
        self._resume_from: tuple[np.ndarray, int] | None = None

    def _num_samples(self) -> int:
        """Samples this shard sees per epoch."""
        return len(self.dataset) // self.num_shards

    def __len__(self) -> int:
        """The number of batches per epoch."""
        n = self._num_samples()
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _epoch_indices(self) -> np.ndarray:
        """This epoch's sample order for this shard."""
        n = len(self.dataset)
        order = numpy_rng(self.generator).permutation(n) if self.shuffle else np.arange(n)
        if self.num_shards > 1:
            order = order[: self._num_samples() * self.num_shards][self.shard_index :: self.num_shards]
        return order

    def _batch_indices(self, order: np.ndarray, b: int) -> np.ndarray:
        """The samples of batch `b` of an epoch in `order` (a subclass may take a share of it)."""
        return order[b * self.batch_size : (b + 1) * self.batch_size]

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        if self._resume_from is not None:
            (order, start), self._resume_from = self._resume_from, None
        else:
            order, start = self._epoch_indices(), 0
        self._order, self._batches_done = order, start
        for b in range(start, len(self)):
            x, y = self.dataset.get_batch(self._batch_indices(order, b))
            self._batches_done = b + 1  # counted before the yield: the caller holds this batch
            yield from_numpy(np.asarray(x)), from_numpy(np.asarray(y))
        self._order, self._batches_done = None, 0

    def state_dict(self) -> dict[str, Any]:
        """The position in the epoch being iterated: ``{"order": ..., "batches_done": k}``.

        ``order`` is the epoch's sample order (None when it is not shuffled, so it can be computed
        again); between epochs ``batches_done`` is 0. The array is shared, not copied: the loader
        never changes it in place, it draws a new one each epoch.
        """
        order = self._order if self.shuffle else None
        return {"order": order, "batches_done": self._batches_done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Make the next ``iter(self)`` continue the epoch `state` describes, from its next batch."""
        done = state["batches_done"]
        if isinstance(done, bool) or not isinstance(done, (int, np.integer)) or not 0 <= done <= len(self):
            raise ValueError(f"DataLoader: batches_done must be between 0 and {len(self)}, got {done!r}")
        if done == 0:
            self._resume_from = None  # a fresh epoch, with a fresh order
            return
        order = state["order"]
        if order is None:
            if self.shuffle:
                raise ValueError("DataLoader: a shuffled epoch cannot be continued without its sample order")
            order = self._epoch_indices()
        order = np.asarray(order)
        n = len(self.dataset)
        if order.shape != (self._num_samples(),) or order.dtype.kind not in "iu" or (
            len(order) and (order.min() < 0 or order.max() >= n)
        ):
            raise ValueError(f"DataLoader: the saved sample order does not fit a dataset of {n} samples")
        self._resume_from = (order.astype(np.int64, copy=False), int(done))

    def __repr__(self) -> str:
        return (
            f"DataLoader(dataset={self.dataset!r}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last}, num_shards={self.num_shards}, shard_index={self.shard_index})"
        )
