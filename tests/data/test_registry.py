"""The dataset factories: every registered name gives train/test datasets with the metadata models need."""

import inspect

import numpy as np
import pytest

import ttrain
from ttrain.config import RegistryError, get_registry, resolve
from ttrain.data import DataError, DataLoader, train_val_split

DATASETS = get_registry("datasets").names()


def build_datasets(name, **kwargs):
    return resolve("datasets", name)(**kwargs)


def test_registered_names():
    assert set(DATASETS) == {"mnist", "mnist-full", "npz", "csv", "spirals", "blobs", "text"}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_factory_signatures_document_their_kwargs(name):
    factory = resolve("datasets", name)
    assert factory.__doc__
    for param in inspect.signature(factory).parameters.values():
        assert param.kind == param.KEYWORD_ONLY or param.kind == param.POSITIONAL_OR_KEYWORD
        assert param.annotation is not inspect.Parameter.empty, f"{name}.{param.name} has no type"


def test_unknown_name_suggests_the_closest():
    with pytest.raises(RegistryError, match="unknown dataset 'mnits'; did you mean 'mnist'"):
        build_datasets("mnits")


def test_mnist_default_is_flat_normalised_and_labelled():
    splits = build_datasets("mnist")
    train, test = splits["train"], splits["test"]
    assert len(train) == len(test) == 10000
    assert train.num_classes == 10 and train.input_shape == (784,)
    x, y = train.get_batch(np.arange(10000))
    assert x.dtype == np.float32 and x.shape == (10000, 784)
    assert y.dtype == np.int64
    # The MNIST statistics make the normalised training data roughly zero-mean, unit-variance.
    assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1.0) < 0.05


def test_mnist_unflattened_unnormalised_one_hot_subset():
    splits = build_datasets("mnist", flatten=False, normalize=False, one_hot=True, train_size=100, test_size=50)
    train = splits["train"]
    assert len(train) == 100 and len(splits["test"]) == 50
    assert train.input_shape == (1, 28, 28)
    x, y = train.get_batch(np.arange(100))
    assert x.shape == (100, 1, 28, 28) and x.min() >= 0.0 and x.max() <= 1.0
    assert y.shape == (100, 10) and y.dtype == np.float32 and (y.sum(axis=1) == 1).all()


def test_mnist_augmentation_is_training_only_and_seeded():
    splits = build_datasets("mnist", augment_shift=2, train_size=64, test_size=64)
    train, test = splits["train"], splits["test"]
    plain = build_datasets("mnist", train_size=64, test_size=64)["train"]
    ttrain.manual_seed(0)
    shifted = train.get_batch(np.arange(64))[0]
    ttrain.manual_seed(0)
    np.testing.assert_array_equal(train.get_batch(np.arange(64))[0], shifted)
    assert not np.array_equal(shifted, plain.get_batch(np.arange(64))[0])
    assert test.augment is None
    _, val = train_val_split(train, 0.25, generator=0)
    np.testing.assert_array_equal(val.get_batch(np.arange(16))[0], plain.get_batch(val.indices[:16])[0])


def test_npz_with_test_file_and_standardisation(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "train.npz", x=rng.normal(5, 3, (40, 3)), y=np.arange(40) % 4)
    np.savez(tmp_path / "test.npz", x=rng.normal(5, 3, (10, 3)), y=np.arange(10) % 4)
    splits = build_datasets("npz", path=tmp_path / "train.npz", test_path=tmp_path / "test.npz", standardize=True)
    assert len(splits["train"]) == 40 and len(splits["test"]) == 10
    assert splits["train"].num_classes == 4 and splits["train"].input_shape == (3,)
    x, _ = splits["train"].get_batch(np.arange(40))
    np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=0), 1, atol=1e-5)


def test_npz_without_test_file_holds_out_a_fixed_split(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.arange(50.0)[:, None], y=np.arange(50) % 2)
    a = build_datasets("npz", path=tmp_path / "d.npz", test_split=0.2)
    b = build_datasets("npz", path=tmp_path / "d.npz", test_split=0.2)
    assert len(a["train"]) == 40 and len(a["test"]) == 10
    np.testing.assert_array_equal(a["test"].features, b["test"].features)
    held_out = set(a["test"].features[:, 0].tolist())
    assert held_out.isdisjoint(a["train"].features[:, 0].tolist())


def test_csv_regression_has_no_classes_and_refuses_one_hot(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("a,b,t\n" + "".join(f"{i},{i * 2},{i / 3}\n" for i in range(20)))
    splits = build_datasets("csv", path=path)
    assert splits["train"].num_classes is None
    assert splits["train"].targets.dtype == np.float32
    with pytest.raises(DataError, match="one_hot needs class labels"):
        build_datasets("csv", path=path, one_hot=True)


def test_csv_num_classes_smaller_than_labels_is_an_error(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("".join(f"{i},{i % 5}\n" for i in range(20)))
    assert build_datasets("csv", path=path)["train"].num_classes == 5
    with pytest.raises(DataError, match=r"c.csv: row 3 has label 3; class labels must run from 0 to 2 \(num_classes=3\)"):
        build_datasets("csv", path=path, num_classes=3)


def test_npz_train_and_test_shapes_must_agree(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros((4, 3)), y=np.zeros(4))
    np.savez(tmp_path / "b.npz", x=np.zeros((4, 2)), y=np.zeros(4))
    with pytest.raises(DataError, match=r"train samples have shape \(3,\), test samples \(2,\)"):
        build_datasets("npz", path=tmp_path / "a.npz", test_path=tmp_path / "b.npz")


@pytest.mark.parametrize("name, kwargs, dim", [("spirals", {"classes": 3}, 2), ("blobs", {"classes": 4, "dim": 6}, 6)])
def test_synthetic_splits(name, kwargs, dim):
    splits = build_datasets(name, n_train=120, n_test=30, one_hot=True, **kwargs)
    assert len(splits["train"]) == 120 and len(splits["test"]) == 30
    assert splits["train"].input_shape == (dim,) and splits["train"].num_classes == kwargs["classes"]
    x, y = next(iter(DataLoader(splits["test"], batch_size=30)))
    assert x.shape == (30, dim) and y.shape == (30, kwargs["classes"])


@pytest.mark.parametrize("key, value, bound", [("n_train", 0, ">= 1"), ("classes", 1, ">= 2"), ("n_test", -3, ">= 1")])
def test_size_bounds_in_the_signature_are_config_errors_at_their_key(tmp_path, key, value, bound):
    from ttrain.config import ConfigError, load_config

    path = tmp_path / "c.yaml"
    path.write_text(f"model: {{layers: [{{linear: {{out_features: 2}}}}]}}\ndata:\n  name: spirals\n  {key}: {value}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (issue,) = info.value.issues
    assert issue.path == f"data.{key}" and issue.location == f"{path}:4"
    assert f"expected a value {bound}, found {value}" in issue.message


def test_synthetic_sizes_are_checked_for_library_callers_too():
    with pytest.raises(DataError, match="at least one training and one test point"):
        build_datasets("spirals", n_train=5, n_test=0)
