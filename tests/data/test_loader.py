"""DataLoader: batching, shuffling from the seeded stream, drop_last, len and sharding."""

import numpy as np
import pytest

import ttrain
from ttrain.data import ArrayDataset, DataLoader, Dataset


def _dataset(n=10):
    return ArrayDataset(np.arange(n, dtype=np.float32)[:, None] * np.ones(3, np.float32), np.arange(n))


def _order(loader):
    return np.concatenate([y.numpy() for _, y in loader]).tolist()


def test_batches_are_tensors_in_order_without_shuffle():
    batches = list(DataLoader(_dataset(10), batch_size=4))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    x, y = batches[0]
    assert isinstance(x, ttrain.Tensor) and isinstance(y, ttrain.Tensor)
    assert x.shape == (4, 3) and x.dtype == np.float32 and y.dtype == np.int64
    assert not x.requires_grad
    assert _order(DataLoader(_dataset(10), batch_size=4)) == list(range(10))


@pytest.mark.parametrize("n, batch_size, drop_last, expected", [
    (10, 4, False, 3), (10, 4, True, 2), (8, 4, True, 2), (8, 4, False, 2), (3, 4, True, 0), (3, 4, False, 1),
])
def test_len_is_the_number_of_batches(n, batch_size, drop_last, expected):
    loader = DataLoader(_dataset(n), batch_size=batch_size, drop_last=drop_last)
    assert len(loader) == expected == len(list(loader))
    if drop_last:
        assert all(len(y) == batch_size for _, y in loader)


def test_shuffle_is_a_permutation_reproduced_by_the_seed():
    ds = _dataset(50)
    a = DataLoader(ds, batch_size=8, shuffle=True, generator=ttrain.Generator(1))
    b = DataLoader(ds, batch_size=8, shuffle=True, generator=ttrain.Generator(1))
    first, second = _order(a), _order(a)
    assert sorted(first) == list(range(50))
    assert first != list(range(50))
    assert first != second  # each epoch draws a new permutation...
    assert [_order(b), _order(b)] == [first, second]  # ...and the same seed replays the epochs


def test_shuffle_uses_the_global_generator_by_default():
    ds = _dataset(50)
    ttrain.manual_seed(11)
    loader = DataLoader(ds, batch_size=8, shuffle=True)
    first = _order(loader)
    ttrain.manual_seed(11)  # re-seeding after the loader was made still takes effect
    assert _order(loader) == first


def test_int_seed_gives_a_new_permutation_each_epoch():
    loader = DataLoader(_dataset(30), batch_size=30, shuffle=True, generator=4)
    again = DataLoader(_dataset(30), batch_size=30, shuffle=True, generator=4)
    epochs = [_order(loader), _order(loader)]
    assert epochs[0] != epochs[1]
    assert [_order(again), _order(again)] == epochs


def test_features_follow_their_targets():
    for x, y in DataLoader(_dataset(20), batch_size=6, shuffle=True, generator=0):
        np.testing.assert_array_equal(x.numpy()[:, 0], y.numpy().astype(np.float32))


class Squares(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return np.array([i, i * i], np.float32), i


def test_generic_dataset_falls_back_to_stacking():
    (x, y), (x2, _) = DataLoader(Squares(), batch_size=3)
    assert x.numpy().tolist() == [[0, 0], [1, 1], [2, 4]] and y.numpy().tolist() == [0, 1, 2]
    assert x2.shape == (2, 2)


def test_shards_split_each_epoch_evenly_and_match_one_big_batch():
    ds = _dataset(23)
    single = DataLoader(ds, batch_size=8, shuffle=True, generator=ttrain.Generator(9))
    shards = [
        DataLoader(ds, batch_size=4, shuffle=True, generator=ttrain.Generator(9), num_shards=2, shard_index=r)
        for r in range(2)
    ]
    assert len(shards[0]) == len(shards[1]) == 3  # 11 samples each: the 23rd is dropped this epoch
    big_batches = [set(y.numpy().tolist()) for _, y in single]
    rank_batches = [[y.numpy().tolist() for _, y in shard] for shard in shards]
    seen = set()
    for k in range(2):  # the full batches: ranks' k-th batches together are the single run's k-th
        assert set(rank_batches[0][k]) | set(rank_batches[1][k]) == big_batches[k]
    for batches in rank_batches:
        for batch in batches:
            assert seen.isdisjoint(batch)
            seen.update(batch)
    assert len(seen) == 22


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"num_shards": 2, "shard_index": 2}, "shard_index"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(_dataset(), **kwargs)


def test_array_datasets_batch_without_a_per_sample_loop(monkeypatch):
    def refuse(self, index):
        raise AssertionError("the loader fetched a sample at a time")

    ds = _dataset(10)
    monkeypatch.setattr(type(ds), "__getitem__", refuse)
    assert sorted(_order(DataLoader(ds, batch_size=3, shuffle=True, generator=0))) == list(range(10))


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_a_loader_resumes_an_epoch_at_any_batch_with_its_order(shuffle, k):
    loader = DataLoader(_dataset(10), batch_size=3, shuffle=shuffle, generator=ttrain.Generator(4))
    straight = [_order(loader) for _ in range(2)]
    loader = DataLoader(_dataset(10), batch_size=3, shuffle=shuffle, generator=ttrain.Generator(4))
    taken = []
    for i, (_, y) in enumerate(loader):
        if i == k:
            break
        taken += y.numpy().tolist()
    state = loader.state_dict()
    assert state["batches_done"] == k + 1
    stream = loader.generator.get_state()

    resumed = DataLoader(_dataset(10), batch_size=3, shuffle=shuffle, generator=ttrain.Generator(99))
    resumed.generator.set_state(stream)
    resumed.load_state_dict(state)
    # The interrupted epoch ends as it would have (the batch in hand when it stopped was taken),
    # and the next epoch draws the same order as an uninterrupted loader's second epoch.
    rest = [label for _, y_ in resumed for label in y_.numpy().tolist()]
    assert taken + y.numpy().tolist() + rest == straight[0]
    assert _order(resumed) == straight[1]
    assert resumed.state_dict() == {"order": None, "batches_done": 0}


def test_a_saved_position_that_does_not_fit_the_data_is_refused():
    loader = DataLoader(_dataset(10), batch_size=3, shuffle=True)
    with pytest.raises(ValueError, match="does not fit a dataset of 10"):
        loader.load_state_dict({"order": np.arange(9), "batches_done": 1})
    with pytest.raises(ValueError, match="batches_done must be between 0 and 4"):
        loader.load_state_dict({"order": np.arange(10), "batches_done": 5})
    with pytest.raises(ValueError, match="without its sample order"):
        loader.load_state_dict({"order": None, "batches_done": 1})
