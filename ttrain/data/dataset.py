"""Datasets: indexable collections of ``(features, target)`` samples, fetched a whole batch at a time."""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from ttrain.data._rng import numpy_rng
from ttrain.data.transforms import output_shape

Batch = tuple[np.ndarray, np.ndarray]


class Dataset:
    """Base class of datasets, as in PyTorch: ``__getitem__(i) -> (features, target)`` and ``__len__``.

    `get_batch` fetches many samples at once; the default stacks ``self[i]`` for each index, and
    array-backed datasets override it with one fancy-indexing step. ``num_classes`` (None for
    regression targets) and ``input_shape`` (one sample's feature shape) let the config layer size
    a model's layers from the data.
    """

    num_classes: int | None = None

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def get_batch(self, indices: np.ndarray) -> Batch:
        """The samples at ``indices`` stacked along a new leading axis: ``(features, targets)``."""
        samples = [self[int(i)] for i in indices]
        return (
            np.stack([np.asarray(x) for x, _ in samples]),
            np.stack([np.asarray(y) for _, y in samples]),
        )

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one sample's features (after transforms)."""
        return tuple(np.shape(self[0][0]))

    def without_augmentation(self) -> "Dataset":
        """This dataset without random augmentation, for evaluation (the dataset itself by default)."""
        return self


def _check_transform(name: str, value: Any) -> None:
    if value is not None and not callable(value):
        raise TypeError(f"ArrayDataset: {name} must be callable, got {type(value).__name__}")


class ArrayDataset(Dataset):
    """A dataset over two arrays whose first axes index the samples.

    Transforms take and return whole batches (a leading batch axis), so a batch costs one
    fancy-indexing step plus one call per transform. Per batch, ``augment`` (random, training only:
    `without_augmentation` drops it) runs first, then ``transform`` on the features and
    ``target_transform`` on the targets. Keeping the stored arrays raw (e.g. uint8 images) and
    converting per batch saves memory.

    Args:
        features: array of shape ``(N, ...)``.
        targets: array of shape ``(N, ...)``, e.g. int64 class labels.
        transform: batch transform of the features.
        target_transform: batch transform of the targets.
        augment: random batch transform of the features, applied before ``transform``.
        num_classes: number of classes of a classification dataset (None for regression).
    """

    def __init__(
        self,
        features: np.ndarray,
        targets: np.ndarray,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
        target_transform: Callable[[np.ndarray], np.ndarray] | None = None,
        augment: Callable[[np.ndarray], np.ndarray] | None = None,
        num_classes: int | None = None,
    ) -> None:
        features, targets = np.asarray(features), np.asarray(targets)
        if features.ndim == 0 or targets.ndim == 0:
            raise ValueError("ArrayDataset: features and targets need a leading sample axis")
        if len(features) != len(targets):
            raise ValueError(
                f"ArrayDataset: {len(features)} feature rows but {len(targets)} targets; they must match"
            )
        for name, value in (("transform", transform), ("target_transform", target_transform), ("augment", augment)):
            _check_transform(name, value)
        self.features = features
        self.targets = targets
        self.transform = transform
        self.target_transform = target_transform
        self.augment = augment
        self.num_classes = num_classes

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a dataset of {n} samples")
        x, y = self.get_batch(np.array([index % n]))
        return x[0], y[0]

    def get_batch(self, indices: np.ndarray) -> Batch:
        """Fancy-index both arrays, then apply augment, transform and target_transform to the batch."""
        x, y = self.features[indices], self.targets[indices]
        for fn in (self.augment, self.transform):
            if fn is not None:
                x = fn(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One sample's feature shape after the transforms (computed without touching the data)."""
        return output_shape(self.transform, self.features.shape, self.features.dtype)[1:]

    def without_augmentation(self) -> "ArrayDataset":
        """The same arrays and transforms without ``augment`` (no copy of the data)."""
        if self.augment is None:
            return self
        return ArrayDataset(
            self.features, self.targets, self.transform, self.target_transform, num_classes=self.num_classes
        )

    def __repr__(self) -> str:
        return (
            f"ArrayDataset(features={self.features.shape} {self.features.dtype}, "
            f"targets={self.targets.shape} {self.targets.dtype}, num_classes={self.num_classes})"
        )


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order (PyTorch's ``Subset``)."""

    def __init__(self, dataset: Dataset, indices: Sequence[int] | np.ndarray) -> None:
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if indices.size and (indices.min() < 0 or indices.max() >= n):
            raise IndexError(f"Subset: indices must lie in [0, {n}) for a dataset of {n} samples")
        self.dataset = dataset
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices: np.ndarray) -> Batch:
        """The parent's batch at the mapped indices (one fancy-indexing step for array datasets)."""
        return self.dataset.get_batch(self.indices[np.asarray(indices)])

    @property
    def num_classes(self) -> int | None:  # type: ignore[override]
        """The parent dataset's number of classes."""
        return self.dataset.num_classes

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The parent dataset's sample shape."""
        return self.dataset.input_shape

    def without_augmentation(self) -> "Subset":
        """The same indices over the parent without augmentation."""
        base = self.dataset.without_augmentation()
        return self if base is self.dataset else Subset(base, self.indices)


def _split_lengths(n: int, lengths: Sequence[float]) -> list[int]:
    """Resolve PyTorch-style lengths: ints summing to ``n``, or fractions summing to 1."""
    if all(isinstance(x, (int, np.integer)) for x in lengths):
        sizes = [int(x) for x in lengths]
        if sum(sizes) != n or min(sizes, default=0) < 0:
            raise ValueError(f"random_split: lengths {sizes} must be non-negative and sum to the dataset size {n}")
        return sizes
    if not math.isclose(sum(lengths), 1.0, abs_tol=1e-6) or min(lengths) < 0:
        raise ValueError(f"random_split: fractions {list(lengths)} must be non-negative and sum to 1")
    sizes = [int(math.floor(n * f)) for f in lengths]
    for i in range(n - sum(sizes)):  # hand out the remainder round-robin, as PyTorch does
        sizes[i % len(sizes)] += 1
    return sizes


def random_split(dataset: Dataset, lengths: Sequence[float], generator: Any = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random `Subset`s of the given lengths or fractions.

    ``generator``: a `ttrain.Generator`, NumPy Generator, int seed, or None (the global generator);
    the same seed gives the same split.
    """
    sizes = _split_lengths(len(dataset), lengths)
    order = numpy_rng(generator).permutation(len(dataset))
    bounds = np.cumsum([0, *sizes])
    return [Subset(dataset, order[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def train_val_split(dataset: Dataset, val_split: float, generator: Any = None) -> tuple[Subset, Subset]:
    """Carve a random validation set of fraction ``val_split`` out of a training set.

    Returns ``(train, val)``; ``val`` reads the dataset without augmentation. Seeded like
    `random_split`: the same ``generator`` seed gives the same split.
    """
    if not 0.0 < val_split < 1.0:
        raise ValueError(f"val_split must lie strictly between 0 and 1, got {val_split}")
    n = len(dataset)
    n_val = int(round(n * val_split))
    if not 0 < n_val < n:
        raise ValueError(f"val_split={val_split} of {n} samples leaves an empty training or validation set")
    train, val = random_split(dataset, [n - n_val, n_val], generator)
    return train, Subset(dataset.without_augmentation(), val.indices)
