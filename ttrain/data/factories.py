"""Dataset factories by name: what a config's ``data`` section builds.

Each factory is a plain function whose signature is the schema of its config keys, and returns
``{"train": Dataset, "test": Dataset}``; callers carve a validation set from ``train`` with
`train_val_split`. Datasets carry ``num_classes`` and ``input_shape`` so models can be sized from
them. Paths are `Path`-typed so the config layer knows to resolve them against the config's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Callable

import numpy as np
from annotated_types import Ge

from ttrain.data.dataset import ArrayDataset, Dataset, check_samples
from ttrain.data.errors import DataError
from ttrain.data.mnist import load_mnist, load_mnist_full
from ttrain.data.sources import load_csv, load_npz, make_blobs, make_spirals
from ttrain.data.transforms import Compose, Flatten, Normalize, OneHot, RandomShift, ToFloat

Splits = dict[str, Dataset]
# Bounds in the factories' signatures, so a config's `n_train: 0` is reported at its own key.
Count = Annotated[int, Ge(1)]
Classes = Annotated[int, Ge(2)]
Arrays = tuple[np.ndarray, np.ndarray]

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


def _num_classes(given: int | None, *targets: np.ndarray) -> int | None:
    """``given``, else one more than the largest label; None when the targets are not class labels
    (floats: regression). Integer labels were checked to be non-negative (`check_samples`)."""
    if any(t.dtype.kind == "f" for t in targets):
        return None
    if given is not None:
        return given  # the labels were checked to lie below it
    return int(max(t.max() for t in targets)) + 1


def _one_hot(enabled: bool, num_classes: int | None, source: str) -> OneHot | None:
    if not enabled:
        return None
    if num_classes is None:
        raise DataError(f"{source}: one_hot needs class labels (whole numbers from 0), but the targets are not")
    return OneHot(num_classes)


def _mnist_splits(
    load: Callable[[str], Arrays],
    flatten: bool,
    normalize: bool,
    one_hot: bool,
    augment_shift: int,
    train_size: int | None,
    test_size: int | None,
) -> Splits:
    """Both MNIST splits, stored as uint8 and converted per batch (a quarter of float32's memory)."""
    steps = [ToFloat()]  # uint8 -> float32 in [0, 1]
    if normalize:
        steps.append(Normalize(MNIST_MEAN, MNIST_STD))
    if flatten:
        steps.append(Flatten())
    transform = Compose(steps)
    target_transform = _one_hot(one_hot, 10, "mnist")
    splits = {}
    for split, size in (("train", train_size), ("test", test_size)):
        if size is not None and size < 1:
            raise DataError(f"mnist: {split}_size must be at least 1, got {size}")
        images, labels = load(split)
        images, labels = images[:size, None], labels[:size]  # (N, 1, 28, 28): channel axis for convs
        augment = RandomShift(augment_shift) if split == "train" and augment_shift != 0 else None
        splits[split] = ArrayDataset(images, labels, transform, target_transform, augment, num_classes=10)
    return splits


def mnist(
    flatten: bool = True,
    normalize: bool = True,
    one_hot: bool = False,
    augment_shift: int = 0,
    train_size: Count | None = None,
    test_size: Count | None = None,
) -> Splits:
    """The bundled MNIST: a 10,000-image subset of the training set and the official 10,000-image test set.

    Args:
        flatten: images as ``(784,)`` vectors; else ``(1, 28, 28)``.
        normalize: subtract 0.1307 and divide by 0.3081 after scaling pixels to [0, 1].
        one_hot: targets as one-hot float rows (for MSE) instead of int64 labels.
        augment_shift: shift training images randomly by up to this many pixels (0: off).
        train_size: use only the first ``train_size`` training images (every prefix is class-balanced).
        test_size: use only the first ``test_size`` test images.
    """
    return _mnist_splits(load_mnist, flatten, normalize, one_hot, augment_shift, train_size, test_size)


def mnist_full(
    flatten: bool = True,
    normalize: bool = True,
    one_hot: bool = False,
    augment_shift: int = 0,
    train_size: Count | None = None,
    test_size: Count | None = None,
    root: Path | None = None,
    mirrors: list[str] | None = None,
) -> Splits:
    """The full MNIST (60,000 train / 10,000 test), downloaded and MD5-checked on first use.

    Args as for `mnist`, plus:
        root: cache folder (default ``$TTRAIN_DATA/mnist`` or ``~/.cache/ttrain/mnist``).
        mirrors: base URLs to download from, in order (default ``$TTRAIN_MNIST_MIRRORS`` or the canonical ones).
    """

    def load(split: str) -> Arrays:
        return load_mnist_full(split, root, mirrors)

    return _mnist_splits(load, flatten, normalize, one_hot, augment_shift, train_size, test_size)


def _file_splits(
    source: str,
    train: Arrays,
    test_source: str | None,
    test: Arrays | None,
    test_split: float,
    seed: int,
    standardize: bool,
    one_hot: bool,
    num_classes: int | None,
) -> Splits:
    """Datasets from a user's arrays: check them (rows named as in the files), carve the test set
    when there is no test file, then standardise with the training statistics and size the classes."""
    check_samples(*train, source, num_classes)
    if test is not None:
        check_samples(*test, str(test_source), num_classes)
    if test is None:
        n = len(train[0])
        n_test = int(round(n * test_split))
        if not 0 < n_test < n:
            raise DataError(f"{source}: test_split={test_split} of {n} samples leaves an empty train or test set")
        order = np.random.default_rng(seed).permutation(n)
        test = (train[0][order[:n_test]], train[1][order[:n_test]])
        train = (train[0][order[n_test:]], train[1][order[n_test:]])
    elif train[0].shape[1:] != test[0].shape[1:]:
        raise DataError(f"{source}: train samples have shape {train[0].shape[1:]}, test samples {test[0].shape[1:]}")
    classes = _num_classes(num_classes, train[1], test[1])
    transform = None
    if standardize:
        std = train[0].std(axis=0)
        transform = Normalize(train[0].mean(axis=0), np.where(std > 0, std, 1.0))  # a constant feature stays put
    target_transform = _one_hot(one_hot, classes, source)
    return {
        name: ArrayDataset(x, y, transform, target_transform, num_classes=classes)
        for name, (x, y) in (("train", train), ("test", test))
    }


def npz(
    path: Path,
    test_path: Path | None = None,
    features_key: str = "x",
    targets_key: str = "y",
    test_split: float = 0.2,
    seed: int = 0,
    standardize: bool = False,
    one_hot: bool = False,
    num_classes: int | None = None,
) -> Splits:
    """A user's data from ``.npz`` files (arrays ``features_key`` and ``targets_key``).

    Args:
        path: the training data.
        test_path: the test data; without it a seeded ``test_split`` fraction of ``path`` is held out.
        features_key, targets_key: the array names in the files.
        test_split: fraction held out for testing when there is no ``test_path``.
        seed: seed of that hold-out (fixed, so the test set does not change with the run's seed).
        standardize: scale each feature to zero mean and unit variance with the training statistics.
        one_hot: targets as one-hot float rows (for MSE).
        num_classes: number of classes (default: the largest label + 1; none for float targets).
    """
    train = load_npz(path, features_key, targets_key)
    test = load_npz(test_path, features_key, targets_key) if test_path is not None else None
    return _file_splits(str(path), train, str(test_path), test, test_split, seed, standardize, one_hot, num_classes)


def csv(
    path: Path,
    test_path: Path | None = None,
    target_column: int | str = -1,
    header: bool | None = None,
    delimiter: str = ",",
    test_split: float = 0.2,
    seed: int = 0,
    standardize: bool = False,
    one_hot: bool = False,
    num_classes: int | None = None,
) -> Splits:
    """A user's data from CSV files of numbers, one sample per row.

    Args:
        path, test_path, test_split, seed, standardize, one_hot, num_classes: as for `npz`.
        target_column: the targets' column, by index or (with a header row) by name.
        header: whether the first row names the columns (default: detected).
        delimiter: the field separator.
    """
    train = load_csv(path, target_column, header, delimiter)
    test = load_csv(test_path, target_column, header, delimiter) if test_path is not None else None
    return _file_splits(str(path), train, str(test_path), test, test_split, seed, standardize, one_hot, num_classes)


def _synthetic(points: np.ndarray, labels: np.ndarray, n_train: int, classes: int, one_hot: bool) -> Splits:
    """Split one draw into train and test, so both share the same distribution (e.g. blob centres)."""
    if min(n_train, len(points) - n_train) < 1 or classes < 2:
        raise DataError(f"need at least one training and one test point and two classes, got n_train={n_train}, "
                        f"n_test={len(points) - n_train}, classes={classes}")
    target_transform = OneHot(classes) if one_hot else None
    return {
        "train": ArrayDataset(points[:n_train], labels[:n_train], None, target_transform, num_classes=classes),
        "test": ArrayDataset(points[n_train:], labels[n_train:], None, target_transform, num_classes=classes),
    }


def spirals(
    n_train: Count = 1000, n_test: Count = 1000, classes: Classes = 2, noise: float = 0.1, seed: int = 0,
    one_hot: bool = False,
) -> Splits:
    """2-D points on ``classes`` interleaved spiral arms (`make_spirals`), for quick runs.

    Args:
        n_train, n_test: number of points in each split.
        classes: number of arms.
        noise: standard deviation of the Gaussian noise added to each point.
        seed: the data's seed (fixed, independent of the run's seed).
        one_hot: targets as one-hot float rows (for MSE).
    """
    points, labels = make_spirals(n_train + n_test, classes, noise, seed)
    return _synthetic(points, labels, n_train, classes, one_hot)


def blobs(
    n_train: Count = 1000,
    n_test: Count = 1000,
    classes: Classes = 3,
    dim: Count = 2,
    std: float = 1.0,
    seed: int = 0,
    one_hot: bool = False,
) -> Splits:
    """Gaussian blobs around ``classes`` random centres in ``dim`` dimensions (`make_blobs`).

    Args:
        n_train, n_test: number of points in each split.
        classes: number of blobs.
        dim: number of features.
        std: the blobs' standard deviation.
        seed: the data's seed (fixed, independent of the run's seed).
        one_hot: targets as one-hot float rows (for MSE).
    """
    points, labels = make_blobs(n_train + n_test, classes, dim, std, seed)
    return _synthetic(points, labels, n_train, classes, one_hot)


def text(
    path: Path,
    seq_len: Count = 64,
    stride: Count | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.0,
) -> Splits:
    """Character-level language modelling on a UTF-8 text file (see `ttrain.data.text`).

    The vocabulary is the file's characters; it is saved into every checkpoint, so `ttrain sample`
    needs nothing but the checkpoint. Features are (seq_len,) character indices, targets the next
    character at each position.

    Args:
        path: the text file (UTF-8).
        seq_len: characters per training window.
        stride: characters between the starts of consecutive windows (default: seq_len, no overlap).
        val_fraction: the fraction at the end of the text (before any test part) held out for validation.
        test_fraction: the fraction at the very end held out for testing (0: the test split is the validation one).
    """
    from ttrain.data.text import text_splits

    return text_splits(path, seq_len, stride, val_fraction, test_fraction)


# It returns a `val` split of its own (the text's end, not random windows): the config layer then
# expects val.* metrics without trainer.val_split, and refuses a trainer.val_split beside it.
text.holds_out_validation = True  # type: ignore[attr-defined]
