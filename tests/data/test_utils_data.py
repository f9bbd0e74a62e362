"""ttrain.utils.data: torch.utils.data's names over the trainer's own DataLoader."""

import numpy as np
import pytest

import ttrain
from ttrain.utils.data import (
    BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset, RandomSampler, SequentialSampler, Subset,
    SubsetRandomSampler, TensorDataset, WeightedRandomSampler, default_collate, random_split,
)


def test_the_same_classes_as_the_trainer_uses():
    import ttrain.data

    assert DataLoader is ttrain.data.DataLoader is ttrain.DataLoader
    assert Dataset is ttrain.data.Dataset and Subset is ttrain.data.Subset
    assert ttrain.utils.data.random_split is ttrain.data.random_split


def _tensors(n=10):
    return ttrain.arange(n * 2, dtype=ttrain.float32).reshape(n, 2), ttrain.arange(n)


def test_tensor_dataset_batches_in_one_step_and_shuffles_reproducibly():
    x, y = _tensors()
    ds = TensorDataset(x, y)
    assert len(ds) == 10 and [t.tolist() for t in ds[3]] == [[6.0, 7.0], 3]
    batches = list(DataLoader(ds, batch_size=4, shuffle=True, generator=ttrain.Generator(0)))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    for xb, yb in batches:
        np.testing.assert_array_equal(xb.numpy()[:, 0], yb.numpy() * 2)
    again = [b[1].tolist() for b in DataLoader(ds, batch_size=4, shuffle=True, generator=ttrain.Generator(0))]
    assert again == [b[1].tolist() for b in batches] and sorted(sum(again, [])) == list(range(10))
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2
    three = list(DataLoader(TensorDataset(x, y, y * 10), batch_size=5))[1]
    assert len(three) == 3 and three[2].tolist() == [50, 60, 70, 80, 90]
    with pytest.raises(ValueError, match="different lengths"):
        TensorDataset(x, ttrain.arange(3))


def test_random_split_and_subset():
    ds = TensorDataset(*_tensors(10))
    train, val = random_split(ds, [0.8, 0.2], generator=ttrain.Generator(1))
    assert (len(train), len(val)) == (8, 2) and isinstance(train, Subset)
    ids = sorted(int(train[i][1]) for i in range(8)) + sorted(int(val[i][1]) for i in range(2))
    assert sorted(ids) == list(range(10))
    picked = Subset(ds, [9, 0])
    assert [b[1].tolist() for b in DataLoader(picked, batch_size=2)] == [[9, 0]]


class Squares(Dataset):
    """A map-style dataset that returns a dict per sample, as many PyTorch datasets do."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return {"x": np.full(2, i, np.float32), "label": i % 3, "weight": 0.5, "name": f"s{i}"}


def test_samples_are_collated_field_by_field_as_in_torch():
    batch = next(iter(DataLoader(Squares(), batch_size=3)))
    assert batch["x"].shape == (3, 2) and batch["x"].dtype == np.float32
    assert batch["label"].dtype == np.int64 and batch["weight"].dtype == np.float64  # torch's dtypes
    assert batch["name"] == ["s0", "s1", "s2"]
    collated = default_collate([(ttrain.ones(2), 1), (ttrain.zeros(2), 2)])
    assert isinstance(collated, list) and collated[0].shape == (2, 2) and collated[1].tolist() == [1, 2]


def test_collate_fn_sampler_and_batch_sampler():
    ds = Squares()
    names = [b for b in DataLoader(ds, batch_size=3, collate_fn=lambda samples: [s["name"] for s in samples])]
    assert names == [["s0", "s1", "s2"], ["s3", "s4", "s5"], ["s6"]]
    order = [int(b["x"][0, 0].item()) for b in DataLoader(ds, batch_size=1, sampler=[6, 2, 4])]
    assert order == [6, 2, 4]
    batches = DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 3, drop_last=True))
    assert len(batches) == 2 and [b["label"].tolist() for b in batches] == [[0, 1, 2], [0, 1, 2]]
    single = list(DataLoader(ds, batch_size=None))
    assert len(single) == 7 and single[2]["x"].shape == (2,)


def test_samplers_draw_from_the_given_generator():
    ds = list(range(20))
    seeded = [list(RandomSampler(ds, generator=ttrain.Generator(3))) for _ in range(2)]
    assert seeded[0] == seeded[1] and sorted(seeded[0]) == ds and seeded[0] != ds
    assert len(list(RandomSampler(ds, replacement=True, num_samples=50))) == 50
    assert sorted(SubsetRandomSampler([4, 5, 6], generator=0)) == [4, 5, 6]
    drawn = list(WeightedRandomSampler([0.0, 1.0, 0.0], num_samples=5, generator=1))
    assert drawn == [1] * 5
    loader = DataLoader(TensorDataset(*_tensors(10)), batch_size=5, sampler=SubsetRandomSampler(range(5), generator=2))
    assert sorted(next(iter(loader))[1].tolist()) == [0, 1, 2, 3, 4] and len(loader) == 1


class Countdown(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        for i in range(self.n, 0, -1):
            yield np.array([i], np.float32), i


def test_iterable_datasets_are_batched_in_stream_order():
    batches = list(DataLoader(Countdown(5), batch_size=2))
    assert [b[1].tolist() for b in batches] == [[5, 4], [3, 2], [1]]
    assert [b[1].tolist() for b in DataLoader(Countdown(5), batch_size=2, drop_last=True)] == [[5, 4], [3, 2]]
    generator_like = [b.tolist() for b in DataLoader(iter_range(4), batch_size=3)]
    assert generator_like == [[0, 1, 2], [3]]
    with pytest.raises(TypeError, match="no length"):
        len(DataLoader(Countdown(5), batch_size=2))
    with pytest.raises(ValueError, match="iterable dataset"):
        DataLoader(Countdown(5), shuffle=True)


class iter_range:  # noqa: N801  (an iterable that cannot be indexed, like a generator object)
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


def test_workers_and_pinning_are_accepted_and_concat_datasets_chain():
    ds = ConcatDataset([TensorDataset(*_tensors(3)), TensorDataset(*_tensors(2))])
    loader = DataLoader(ds, batch_size=5, num_workers=4, pin_memory=True, persistent_workers=True, prefetch_factor=2)
    assert [t.tolist() for t in next(iter(loader))][1] == [0, 1, 2, 0, 1]
    assert len(ds) == 5 and ds[-1][1].item() == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"sampler": [0, 1], "shuffle": True}, "mutually exclusive with shuffle"),
    ({"batch_sampler": [[0]], "batch_size": 4}, "batch_sampler option is mutually exclusive"),
    ({"num_workers": -1}, "num_workers"),
    ({"batch_size": 0}, "batch_size"),
])
def test_conflicting_options_are_refused_as_in_torch(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(TensorDataset(*_tensors()), **kwargs)


def test_a_sampled_epoch_resumes_with_its_order():
    ds = TensorDataset(*_tensors(10))
    loader = DataLoader(ds, batch_size=3, sampler=RandomSampler(ds, generator=ttrain.Generator(5)))
    it = iter(loader)
    first = next(it)[1].tolist()
    state = loader.state_dict()
    rest = [b[1].tolist() for b in it]
    resumed = DataLoader(ds, batch_size=3, sampler=RandomSampler(ds, generator=ttrain.Generator(6)))
    resumed.load_state_dict(state)
    assert [b[1].tolist() for b in resumed] == rest and first not in rest
