"""`default_collate`: a list of samples into one batch, by the rules of `torch.utils.data`.

Arrays and tensors are stacked into a tensor; Python ints become an int64 tensor, floats a float64
one and bools a bool one (as in PyTorch); strings stay a list; dicts, tuples and lists are collated
field by field (a tuple of fields becomes a list of batches, as in PyTorch). The `DataLoader` uses
it for datasets that fetch one sample at a time; array datasets are batched in one indexing step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ttrain.autograd.creation import from_numpy
from ttrain.autograd.tensor import Tensor


def _tensor(array: np.ndarray) -> Tensor:
    return from_numpy(np.asarray(array))


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack the samples of `batch` field by field (see the module docstring)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _tensor(np.stack([t.data for t in batch]))
    if isinstance(elem, (np.ndarray, np.generic)):
        return _tensor(np.stack([np.asarray(a) for a in batch]))
    if isinstance(elem, bool):
        return _tensor(np.array(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return _tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return _tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple keeps its type
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError("default_collate: each element in a batch of sequences must have the same length")
        fields = [default_collate(list(field)) for field in zip(*batch)]
        return fields if isinstance(elem, tuple) else type(elem)(fields)
    raise TypeError(f"default_collate: a batch must hold tensors, NumPy arrays, numbers, strings, dicts or "
                    f"sequences of them; found {type(elem).__name__} (pass collate_fn= to batch it yourself)")


def default_convert(sample: Any) -> Any:
    """One sample with its NumPy arrays made tensors (what `batch_size=None` yields)."""
    if isinstance(sample, np.ndarray):
        return _tensor(sample)
    if isinstance(sample, Mapping):
        return {key: default_convert(value) for key, value in sample.items()}
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):
        return type(sample)(*(default_convert(v) for v in sample))
    if isinstance(sample, (list, tuple)):
        return type(sample)(default_convert(v) for v in sample)
    return sample
