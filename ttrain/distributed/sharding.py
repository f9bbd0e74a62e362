"""`ShardedLoader`: this rank's share of every global batch of a seeded epoch order.

Every rank draws the same permutation from the same shuffle stream and cuts it into the same
global batches a single process would (`trainer.batch_size` is the global batch). Rank r takes
the r-th of N near-equal contiguous parts of each global batch (`np.array_split` sizes), so:
- every sample of the epoch is seen exactly once, by exactly one rank, whatever N and the dataset
  size; a last global batch smaller than N leaves some ranks an empty share for that step, and
  they still join the step (their gradient is zero, see `gradients`);
- every rank takes the same number of steps per epoch: the single process's;
- the loader's `state_dict` is the single process's (the global order and the batches done), so
  a checkpoint written under N ranks continues under M ranks or under one process.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ttrain.data.dataset import Dataset
from ttrain.data.loader import DataLoader


def share_bounds(batch_size: int, rank: int, world_size: int) -> tuple[int, int]:
    """[start, stop) of rank's part of a batch of `batch_size` split N ways (the first parts get the remainder)."""
    base, extra = divmod(batch_size, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


class ShardedLoader(DataLoader):
    """A `DataLoader` over the global batches that yields only `rank`'s share of each.

    `share` is (this rank's samples, the global batch's samples) of the batch last yielded: what
    the gradient average weighs this rank's mean gradient by.
    """

    def __init__(self, dataset: Dataset, batch_size: int, rank: int, world_size: int, shuffle: bool = False,
                 drop_last: bool = False, generator: Any = None) -> None:
        super().__init__(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, generator=generator)
        if not 0 <= rank < world_size:
            raise ValueError(f"ShardedLoader: need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
        self.rank = rank
        self.world_size = world_size
        self.share: tuple[int, int] = (0, 0)

    def _batch_indices(self, order: np.ndarray, b: int) -> np.ndarray:
        batch = super()._batch_indices(order, b)
        start, stop = share_bounds(len(batch), self.rank, self.world_size)
        self.share = (stop - start, len(batch))
        return batch[start:stop]

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, rank={self.rank}, world_size={self.world_size})"
