"""ArrayDataset, Subset and the seeded splits."""

import numpy as np
import pytest

import ttrain
from ttrain.data import ArrayDataset, Dataset, Flatten, RandomShift, Subset, random_split, train_val_split


def _arange_dataset(n=10, **kwargs):
    return ArrayDataset(np.arange(n * 2, dtype=np.float32).reshape(n, 2), np.arange(n), **kwargs)


def test_array_dataset_indexing_and_batches():
    ds = _arange_dataset(5)
    assert len(ds) == 5
    x, y = ds[-1]
    assert x.tolist() == [8.0, 9.0] and y == 4
    xb, yb = ds.get_batch(np.array([3, 0, 3]))
    assert xb.tolist() == [[6, 7], [0, 1], [6, 7]] and yb.tolist() == [3, 0, 3]
    with pytest.raises(IndexError, match="index 5 is out of range for a dataset of 5"):
        ds[5]


def test_array_dataset_transforms_apply_per_batch_and_per_sample():
    ds = ArrayDataset(
        np.ones((4, 2, 3), np.float32), np.arange(4),
        transform=Flatten(), target_transform=lambda y: y * 10,
    )
    assert ds.get_batch(np.arange(4))[0].shape == (4, 6)
    x, y = ds[2]
    assert x.shape == (6,) and y == 20
    assert ds.input_shape == (6,)


def test_input_shape_of_a_plain_callable_transform():
    ds = ArrayDataset(np.ones((4, 3), np.float32), np.arange(4), transform=lambda x: x[:, :2])
    assert ds.input_shape == (2,)


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="5 feature rows but 4 targets"):
        ArrayDataset(np.zeros((5, 2)), np.zeros(4))


def test_without_augmentation_drops_only_the_augment():
    ds = ArrayDataset(np.ones((3, 4, 4), np.uint8), np.arange(3), transform=Flatten(), augment=RandomShift(1))
    plain = ds.without_augmentation()
    assert plain.augment is None and plain.transform is ds.transform and plain.features is ds.features
    assert ds.augment is not None
    unaugmented = _arange_dataset()
    assert unaugmented.without_augmentation() is unaugmented


class ListDataset(Dataset):
    """A generic dataset: samples from a Python list."""

    def __init__(self, n):
        self.items = [(np.full(3, i, np.float32), i) for i in range(n)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


def test_generic_dataset_batches_by_stacking_samples():
    xb, yb = ListDataset(5).get_batch(np.array([4, 1]))
    assert xb.shape == (2, 3) and xb[:, 0].tolist() == [4, 1]
    assert yb.tolist() == [4, 1]
    assert ListDataset(5).input_shape == (3,)


def test_subset_maps_indices_and_forwards_metadata():
    ds = ArrayDataset(np.arange(10.0)[:, None], np.arange(10), num_classes=10)
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3
    assert sub[0][1] == 7
    assert sub.get_batch(np.array([2, 1]))[1].tolist() == [5, 2]
    assert sub.num_classes == 10 and sub.input_shape == (1,)
    with pytest.raises(IndexError):
        Subset(ds, [10])


@pytest.mark.parametrize("lengths, sizes", [([3, 7], [3, 7]), ([0.5, 0.5], [5, 5]), ([0.25, 0.25, 0.5], [3, 2, 5])])
def test_random_split_sizes_cover_everything_once(lengths, sizes):
    parts = random_split(_arange_dataset(10), lengths, generator=0)
    assert [len(p) for p in parts] == sizes
    assert sorted(np.concatenate([p.indices for p in parts]).tolist()) == list(range(10))


def test_random_split_is_seeded():
    ds = _arange_dataset(50)
    a = random_split(ds, [0.8, 0.2], generator=ttrain.Generator(3))
    b = random_split(ds, [0.8, 0.2], generator=ttrain.Generator(3))
    c = random_split(ds, [0.8, 0.2], generator=ttrain.Generator(4))
    assert a[1].indices.tolist() == b[1].indices.tolist()
    assert a[1].indices.tolist() != c[1].indices.tolist()
    ttrain.manual_seed(5)
    d = random_split(ds, [0.8, 0.2])
    ttrain.manual_seed(5)
    e = random_split(ds, [0.8, 0.2])
    assert d[1].indices.tolist() == e[1].indices.tolist()


@pytest.mark.parametrize("lengths", [[3, 3], [0.5, 0.6], [-1, 11]])
def test_random_split_refuses_bad_lengths(lengths):
    with pytest.raises(ValueError, match="sum to"):
        random_split(_arange_dataset(10), lengths)


def test_train_val_split_is_seeded_disjoint_and_unaugmented():
    ds = ArrayDataset(np.zeros((100, 4, 4), np.uint8), np.arange(100), augment=RandomShift(1))
    train, val = train_val_split(ds, 0.1, generator=7)
    train2, val2 = train_val_split(ds, 0.1, generator=7)
    assert len(train) == 90 and len(val) == 10
    assert val.indices.tolist() == val2.indices.tolist()
    assert set(train.indices.tolist()).isdisjoint(val.indices.tolist())
    assert train.dataset is ds
    assert val.dataset.augment is None


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 0.001])
def test_train_val_split_refuses_fractions_that_leave_nothing(fraction):
    with pytest.raises(ValueError, match="val_split"):
        train_val_split(_arange_dataset(10), fraction, generator=0)
