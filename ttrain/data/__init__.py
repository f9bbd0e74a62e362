"""Data: datasets, the batching `DataLoader`, batch transforms, and the data sources (bundled and
downloadable MNIST, IDX, ``.npz`` and CSV files, synthetic sets); the config registry names their factories,
and `dataset_factory` declares a user's own factory that a config may name."""

from ttrain.data.dataset import (
    ArrayDataset, ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split, train_val_split,
)
from ttrain.data.errors import DataError
from ttrain.data.idx import read_idx, read_idx_pair, write_idx
from ttrain.data.loader import DataLoader
from ttrain.data.mnist import download_file, load_mnist, load_mnist_full
from ttrain.data.sources import load_csv, load_npz, make_blobs, make_spirals
from ttrain.data.transforms import Compose, Flatten, Normalize, OneHot, RandomShift, ToFloat, Transform
from ttrain.declare import dataset_factory

__all__ = [
    "ArrayDataset", "Compose", "ConcatDataset", "DataError", "DataLoader", "Dataset", "Flatten", "IterableDataset",
    "Normalize", "TensorDataset",
    "OneHot", "RandomShift", "Subset", "ToFloat", "Transform", "dataset_factory", "download_file",
    "load_csv", "load_mnist", "load_mnist_full", "load_npz", "make_blobs", "make_spirals",
    "random_split", "read_idx", "read_idx_pair", "train_val_split", "write_idx",
]
