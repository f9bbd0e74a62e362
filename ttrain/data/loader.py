"""`DataLoader`: batches of a dataset as tensors, PyTorch style: the trainer's loader and
`ttrain.utils.data.DataLoader` are this one class."""

from __future__ import annotations

import itertools
from typing import Any, Callable, Iterator

import numpy as np

from ttrain.autograd.creation import from_numpy
from ttrain.data._rng import keep_stream, numpy_rng
from ttrain.data.collate import default_collate, default_convert
from ttrain.data.dataset import Dataset, IterableDataset


def _is_iterable_dataset(dataset: Any) -> bool:
    """A stream of samples: an `IterableDataset`, or any iterable that cannot be indexed."""
    if isinstance(dataset, IterableDataset):
        return True
    return hasattr(dataset, "__iter__") and not hasattr(dataset, "__getitem__")


def _fetches_batches(dataset: Any) -> bool:
    """Whether the dataset fetches a whole batch in one `get_batch` call (array-backed datasets)."""
    return isinstance(dataset, Dataset) and type(dataset).get_batch is not Dataset.get_batch


class DataLoader:
    """Iterate over ``dataset`` in batches of tensors, as `torch.utils.data.DataLoader` does.

    Array-backed datasets (`ArrayDataset`, `TensorDataset`, a `Subset` of one) yield a tuple of
    tensors per batch, fetched in one fancy-indexing step; other map-style datasets (anything with
    ``__getitem__`` and ``__len__``) are read a sample at a time and batched by ``collate_fn``
    (`default_collate` unless given). Iterable datasets (`IterableDataset`, or any iterable without
    ``__getitem__``) are batched in the order they yield samples. ``batch_size=None`` yields single
    samples.

    The order: ``sampler`` (any iterable of indices), ``batch_sampler`` (an iterable of index
    lists, in place of ``batch_size``/``shuffle``/``sampler``/``drop_last``), or with ``shuffle=True``
    a fresh permutation every epoch (every ``iter(loader)``) from ``generator`` -- a
    `ttrain.Generator`, a NumPy Generator, an int seed, or None for the global generator looked up at
    the start of each epoch -- so the same seed gives the same order, epoch after epoch.

    ``num_workers``, ``pin_memory``, ``timeout``, ``worker_init_fn``, ``prefetch_factor`` and
    ``persistent_workers`` are accepted for PyTorch scripts; batches are loaded in the calling
    process (ttrain's batches are array slices, for which worker processes would cost more than
    they save).

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
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Any = None,
        batch_sampler: Any = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Any = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        num_shards: int = 1,
        shard_index: int = 0,
    ) -> None:
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1
        ):
            raise ValueError(f"DataLoader: batch_size must be a positive integer or None, got {batch_size!r}")
        if num_shards < 1 or not 0 <= shard_index < num_shards:
            raise ValueError(
                "DataLoader: need num_shards >= 1 and 0 <= shard_index < num_shards, "
                f"got num_shards={num_shards}, shard_index={shard_index}"
            )
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative integer, got {num_workers!r}")
        self._iterable = _is_iterable_dataset(dataset)
        if self._iterable and (shuffle or sampler is not None or batch_sampler is not None):
            raise ValueError("DataLoader: an iterable dataset yields samples in its own order; "
                             "shuffle, sampler and batch_sampler do not apply to it")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                             "sampler, and drop_last")
        if batch_sampler is not None and num_shards > 1:
            raise ValueError("DataLoader: batch_sampler cannot be sharded; shard the sampler instead")
        self.dataset = dataset
        self.batch_size = None if batch_sampler is not None or batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        # decided once: as in PyTorch, dataset and collate_fn are not to be changed after construction
        self._batched = collate_fn is None and _fetches_batches(dataset)
        self.num_workers = num_workers  # accepted; batches load in this process (see the class docstring)
        self.pin_memory = pin_memory
        self.generator = keep_stream(generator)  # an int seed: one stream, a new permutation per epoch
        self.num_shards = num_shards
        self.shard_index = shard_index
        self._order: np.ndarray | None = None  # the order of the epoch being iterated
        self._batches_done = 0
        self._resume_from: tuple[np.ndarray, int] | None = None

    def _num_samples(self) -> int:
        """Samples this shard sees per epoch."""
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        return n // self.num_shards

    def __len__(self) -> int:
        """The number of batches per epoch."""
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        try:
            n = self._num_samples()
        except (TypeError, NotImplementedError):
            raise TypeError("DataLoader: this loader's dataset has no length") from None
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _epoch_indices(self) -> np.ndarray:
        """This epoch's sample order for this shard."""
        if self.sampler is not None:
            order = np.fromiter((int(i) for i in self.sampler), dtype=np.int64)
        else:
            n = len(self.dataset)
            order = numpy_rng(self.generator).permutation(n) if self.shuffle else np.arange(n)
        if self.num_shards > 1:
            order = order[: self._num_samples() * self.num_shards][self.shard_index :: self.num_shards]
        return order

    def _batch_indices(self, order: np.ndarray, b: int) -> np.ndarray:
        """The samples of batch `b` of an epoch in `order` (a subclass may take a share of it)."""
        size = self.batch_size or 1
        return order[b * size : (b + 1) * size]

    def _fetch(self, indices: Any) -> Any:
        """One batch: one `get_batch` call for array datasets, else samples through `collate_fn`."""
        if self._batched:
            parts = self.dataset.get_batch(np.asarray(indices))
            if len(parts) == 2:  # (inputs, targets): the trainer's every batch, spelt out for speed
                return from_numpy(np.asarray(parts[0])), from_numpy(np.asarray(parts[1]))
            return tuple(from_numpy(np.asarray(part)) for part in parts)
        samples = [self.dataset[int(i)] for i in indices]
        return (self.collate_fn or default_collate)(samples)

    def __iter__(self) -> Iterator[Any]:
        if self._iterable:
            yield from self._iterate_stream()
            return
        if self.batch_sampler is not None:
            for indices in self.batch_sampler:
                yield self._fetch(indices)
            return
        if self._resume_from is not None:
            (order, start), self._resume_from = self._resume_from, None
        else:
            order, start = self._epoch_indices(), 0
        self._order, self._batches_done = order, start
        for b in range(start, len(self)):
            indices = self._batch_indices(order, b)
            batch = self._single(indices[0]) if self.batch_size is None else self._fetch(indices)
            self._batches_done = b + 1  # counted before the yield: the caller holds this batch
            yield batch
        self._order, self._batches_done = None, 0

    def _single(self, index: Any) -> Any:
        sample = self.dataset[int(index)]
        return self.collate_fn([sample]) if self.collate_fn is not None else default_convert(sample)

    def _iterate_stream(self) -> Iterator[Any]:
        """Batches of an iterable dataset, in the order it yields its samples."""
        samples = iter(self.dataset)
        if self.batch_size is None:
            for sample in samples:
                yield self.collate_fn([sample]) if self.collate_fn is not None else default_convert(sample)
            return
        collate = self.collate_fn or default_collate
        while batch := list(itertools.islice(samples, self.batch_size)):
            if len(batch) < self.batch_size and self.drop_last:
                return
            yield collate(batch)

    def state_dict(self) -> dict[str, Any]:
        """The position in the epoch being iterated: ``{"order": ..., "batches_done": k}``.

        ``order`` is the epoch's sample order (None when it is not shuffled, so it can be computed
        again); between epochs ``batches_done`` is 0. The array is shared, not copied: the loader
        never changes it in place, it draws a new one each epoch.
        """
        order = self._order if self.shuffle or self.sampler is not None else None
        return {"order": order, "batches_done": self._batches_done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Make the next ``iter(self)`` continue the epoch `state` describes, from its next batch."""
        if self._iterable or self.batch_sampler is not None:
            raise ValueError("DataLoader: only a map-style loader without a batch_sampler can resume an epoch")
        done = state["batches_done"]
        if isinstance(done, bool) or not isinstance(done, (int, np.integer)) or not 0 <= done <= len(self):
            raise ValueError(f"DataLoader: batches_done must be between 0 and {len(self)}, got {done!r}")
        if done == 0:
            self._resume_from = None  # a fresh epoch, with a fresh order
            return
        order = state["order"]
        if order is None:
            if self.shuffle or self.sampler is not None:
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
