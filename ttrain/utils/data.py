"""`ttrain.utils.data`: `torch.utils.data`'s names, for `from ttrain.utils.data import DataLoader, ...`.

`DataLoader` is the very class the trainer uses (`ttrain.data.DataLoader`); datasets, samplers and
`default_collate` live in `ttrain.data` too.
"""

from ttrain.data.collate import default_collate, default_convert
from ttrain.data.dataset import (
    ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split,
)
from ttrain.data.loader import DataLoader
from ttrain.data.sampler import (
    BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler, WeightedRandomSampler,
)

__all__ = [
    "BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset", "RandomSampler", "Sampler",
    "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler",
    "default_collate", "default_convert", "random_split",
]
