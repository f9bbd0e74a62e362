"""Datasets: indexable collections of ``(features, target)`` samples, fetched a whole batch at a time."""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from ttrain.data._rng import numpy_rng
from ttrain.data.errors import DataError
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


class IterableDataset(Dataset):
    """A stream of samples, as in PyTorch: subclasses define `__iter__` (and need no `__getitem__`).

    A `DataLoader` batches the samples in the order the stream yields them (no shuffling or sampler).
    """

    def __iter__(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __len__(self) -> int:
        raise TypeError(f"{type(self).__name__} is a stream of samples with no length")

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of the first sample's features."""
        return tuple(np.shape(next(iter(self))[0]))


class TensorDataset(Dataset):
    """Samples made of the same row of each of `tensors` (tensors or arrays of equal length), as in
    PyTorch: `TensorDataset(x, y)[i] == (x[i], y[i])`. A batch is one fancy-indexing step per tensor."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        from ttrain.autograd.tensor import Tensor

        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        lengths = {len(t) for t in self.tensors}
        if len(lengths) > 1:
            raise ValueError(f"TensorDataset: the tensors have different lengths {[len(t) for t in self.tensors]}")

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        return tuple(t[index] for t in self.tensors)

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:  # type: ignore[override]
        """The rows at ``indices`` of every tensor."""
        return tuple(t.data[indices] for t in self.tensors)


class ConcatDataset(Dataset):
    """The samples of several datasets one after another."""

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: give at least one dataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a dataset of {n} samples")
        index %= n
        which = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


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


# ---------------------------------------------------------------- checks before training


def _first_non_finite(features: np.ndarray) -> tuple[int, int, float] | None:
    """``(row, feature, value)`` of the first NaN or infinity in ``features`` (row-major), or None."""
    if features.dtype.kind not in "fc" or features.size == 0:
        return None  # integers (e.g. uint8 images) are always finite
    rows = features.reshape(len(features), -1)
    bad = ~np.isfinite(rows)
    if not bad.any():
        return None
    row = int(np.argmax(bad.any(axis=1)))
    column = int(np.argmax(bad[row]))
    return row, column, float(rows[row, column])


# The most classes inferred from labels alone; beyond it the labels are taken for IDs, not classes.
MAX_INFERRED_CLASSES = 1_000_000


def check_class_labels(
    targets: np.ndarray, num_classes: int | None, where: str, why: str = "", ignore_index: int | None = None
) -> None:
    """Refuse class labels that are not whole numbers from 0 (to ``num_classes - 1`` when given).

    The DataError names ``where``, the first offending row (counting from 0) and its label;
    ``why`` says who needs the range (e.g. the model's output width). Labels equal to
    ``ignore_index`` (a loss's "no label here") are allowed.
    """
    labels = np.asarray(targets)
    if labels.size == 0 or labels.ndim != 1:
        return  # one-hot or multi-output targets are not class indices
    if ignore_index is not None:
        labels = np.where(labels == ignore_index, 0, labels)
    if labels.dtype.kind == "f":
        bad = ~np.isfinite(labels) | (labels != np.round(labels))
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(f"{where}: row {row} has label {labels[row]}, which is not a class index (a whole number)")
    if labels.dtype.kind not in "iuf":
        return
    bounds = f"from 0 to {num_classes - 1}" if num_classes is not None else "from 0"
    bad = labels < 0 if num_classes is None else (labels < 0) | (labels >= num_classes)
    if bad.any():
        row = int(np.argmax(bad))
        label = labels[row].item()
        raise DataError(f"{where}: row {row} has label {label:g}; class labels must run {bounds}{why}")
    if num_classes is None and labels.max() >= MAX_INFERRED_CLASSES:
        # Unless told otherwise the classes are 0..largest label: an ID-like label would size the
        # model's output layer in the billions, and fail far from here for want of memory.
        row = int(np.argmax(labels))
        raise DataError(f"{where}: row {row} has label {labels[row].item():g}, which would make "
                        f"{labels[row].item() + 1:g} classes; class labels count classes from 0 "
                        f"(set data.num_classes to declare more than {MAX_INFERRED_CLASSES - 1:,})")


def check_features(features: np.ndarray, where: str) -> None:
    """Refuse inputs a model cannot use, naming ``where`` and the row: no samples, or a NaN or
    infinite feature (the features half of `check_samples`; `ttrain predict` checks its inputs so)."""
    if len(features) == 0:
        raise DataError(f"{where}: no samples")
    found = _first_non_finite(np.asarray(features))
    if found is not None:
        row, column, value = found
        raise DataError(f"{where}: row {row} has a non-finite feature ({value} at feature {column}); "
                        "clean or impute the data first")


def check_samples(features: np.ndarray, targets: np.ndarray, where: str, num_classes: int | None = None) -> None:
    """Refuse data that training cannot use, naming ``where`` (the file or split) and the row:
    no samples, a NaN or infinite feature or target, a negative integer label, or (with
    ``num_classes``) a label outside the classes.

    Rows count from 0 in the order of ``features``. Fully vectorised: one pass over the arrays.
    """
    check_features(features, where)
    found = _first_non_finite(np.asarray(targets))
    if found is not None:
        row, column, value = found
        raise DataError(f"{where}: row {row} has a non-finite target ({value})")
    if num_classes is not None or np.asarray(targets).dtype.kind in "iu":
        # Whole-number targets are class indices (a regression on them fails at the loss anyway).
        check_class_labels(targets, num_classes, where, f" (num_classes={num_classes})" if num_classes else "")


def stored_arrays(dataset: Dataset) -> tuple[np.ndarray, np.ndarray] | None:
    """The raw ``(features, targets)`` behind an `ArrayDataset` (or a `Subset` of one), in the
    dataset's own order; None for other datasets, whose samples exist only when fetched."""
    if isinstance(dataset, ArrayDataset):
        return dataset.features, dataset.targets
    if isinstance(dataset, Subset):
        parent = stored_arrays(dataset.dataset)
        if parent is not None:
            return parent[0][dataset.indices], parent[1][dataset.indices]
    return None


def check_dataset(dataset: Dataset, where: str) -> None:
    """`check_samples` for any dataset: every dataset must have samples; array-backed ones are also
    checked for non-finite features and labels outside ``num_classes``. Other datasets are not read
    in full here (that could mean reading every file they name); the trainer still stops on a
    non-finite batch and says so."""
    if len(dataset) == 0:
        raise DataError(f"{where}: no samples")
    arrays = stored_arrays(dataset)
    if arrays is not None:
        check_samples(*arrays, where, getattr(dataset, "num_classes", None))
