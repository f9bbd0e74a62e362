"""The checks every dataset passes before training: samples present, features finite, labels in range."""

from __future__ import annotations

import numpy as np
import pytest

from ttrain.data import ArrayDataset, DataError, Dataset, Subset
from ttrain.data.dataset import check_class_labels, check_dataset, check_samples


def _data(n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(n * 3, dtype=np.float32).reshape(n, 3), np.arange(n) % 3


def test_clean_data_passes() -> None:
    check_samples(*_data(), "data.npz", num_classes=3)
    check_dataset(ArrayDataset(*_data(), num_classes=3), "train")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_non_finite_feature_names_the_first_row_and_feature(value: float) -> None:
    features, targets = _data()
    features[4, 1] = value
    features[5, 0] = np.nan  # later rows do not hide the first
    with pytest.raises(DataError, match=rf"^data.npz: row 4 has a non-finite feature \({value} at feature 1\)"):
        check_samples(features, targets, "data.npz")


def test_integer_features_are_not_scanned() -> None:
    check_samples(np.full((2, 784), 255, np.uint8), np.array([0, 1]), "mnist")


def test_a_non_finite_regression_target_is_refused() -> None:
    features, _ = _data(3)
    with pytest.raises(DataError, match=r"row 1 has a non-finite target \(nan\)"):
        check_samples(features, np.array([0.5, np.nan, 1.0]), "t.csv")


def test_negative_integer_labels_are_refused_with_their_row() -> None:
    features, targets = _data()
    targets[2] = -1
    with pytest.raises(DataError, match=r"^t.csv: row 2 has label -1; class labels must run from 0$"):
        check_samples(features, targets, "t.csv")


def test_labels_past_num_classes_are_refused() -> None:
    with pytest.raises(DataError, match=r"row 2 has label 2; class labels must run from 0 to 1 \(num_classes=2\)"):
        check_samples(*_data(), "t.csv", num_classes=2)


def test_fractional_labels_are_not_class_indices() -> None:
    with pytest.raises(DataError, match=r"row 1 has label 0.5, which is not a class index"):
        check_class_labels(np.array([1.0, 0.5]), 3, "split")


def test_ignore_index_labels_are_allowed() -> None:
    check_class_labels(np.array([0, -100, 2]), 3, "split", ignore_index=-100)
    with pytest.raises(DataError, match="row 1 has label -7"):
        check_class_labels(np.array([0, -7, 2]), 3, "split", ignore_index=-100)


def test_empty_datasets_are_refused() -> None:
    with pytest.raises(DataError, match="^train: no samples$"):
        check_dataset(ArrayDataset(np.zeros((0, 3)), np.zeros(0, np.int64)), "train")

    class Empty(Dataset):
        def __len__(self) -> int:
            return 0

    with pytest.raises(DataError, match="^test: no samples$"):
        check_dataset(Empty(), "test")


def test_a_subset_is_checked_in_its_own_row_order() -> None:
    features, targets = _data()
    features[4, 0] = np.nan
    subset = Subset(ArrayDataset(features, targets, num_classes=3), [0, 4, 5])
    with pytest.raises(DataError, match="row 1 has a non-finite feature"):
        check_dataset(subset, "val")


def test_an_id_like_label_is_refused_unless_the_classes_are_declared() -> None:
    labels = np.array([0, 1, 2, 1_000_000_000, 1])
    with pytest.raises(DataError, match=r"data.csv: row 3 has label 1e\+09, which would make 1e\+09 classes"):
        check_class_labels(labels, None, "data.csv")
    check_class_labels(np.array([0, 999_999]), None, "data.csv")  # the largest inferred class count
    with pytest.raises(DataError, match=r"row 1 has label 1e\+06; class labels must run from 0 to 9"):
        check_class_labels(np.array([0, 1_000_000]), 10, "data.csv")
