"""`ttrain.save` / `ttrain.load` for tensors and state: `torch.save`'s everyday use, on safetensors.

What can be saved: a tensor, or dicts, lists and tuples nesting tensors, NumPy arrays, numbers,
strings, booleans and None -- a model's `state_dict()`, an optimizer's, a dict holding both and the
epoch. The file is one safetensors file: the tensors under dotted names, and in its header a JSON
skeleton of the object that refers to them (`ttrain.training.checkpoint.split_state`). Nothing is
ever pickled, so loading a file runs no code; anything else (a whole `nn.Module`, an optimizer
object, a function) is a TypeError that says what is supported and where in the object it met
the value.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, BinaryIO, Mapping, Union

import numpy as np

from ttrain.autograd.creation import from_numpy
from ttrain.autograd.tensor import Tensor
from ttrain.training.checkpoint import (
    CheckpointError, atomic_write_bytes, merge_state, read_safetensors, split_state,
)

FORMAT_NAME = "ttrain.saved"
FORMAT_VERSION = 1
SUPPORTED = ("tensors, NumPy arrays, and dicts, lists and tuples of them and of numbers, strings, "
             "booleans and None (a state_dict(), an optimizer's state_dict())")

FileLike = Union[str, "os.PathLike[str]", BinaryIO]


def _plain(value: Any, where: str) -> Any:
    """`value` with tensors replaced by their (detached) arrays; TypeError for what cannot be stored."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, (np.ndarray, np.generic)) or value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise TypeError(f"ttrain.save: {where} has a key of type {type(key).__name__} ({key!r}); "
                                "dict keys must be strings or integers")
        return {k: _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    hint = ""
    if hasattr(value, "state_dict"):
        hint = f"; save its state_dict() instead and load it into a new {type(value).__name__}"
    raise TypeError(f"ttrain.save: cannot save {where}, a {type(value).__name__}: ttrain saves only {SUPPORTED}, "
                    f"and never pickles objects{hint}")


def save(obj: Any, f: FileLike) -> None:
    """Write `obj` (a tensor, or nested dicts/lists/tuples of tensors and plain values) to `f`, a path
    or a binary file object, as safetensors. A path is written atomically (a temporary file renamed
    into place)."""
    from safetensors.numpy import save as save_arrays

    tensors, skeleton = split_state(_plain(obj, "the object"), "")
    if "" in tensors:  # a bare tensor: store it under a name of its own
        tensors = {"tensor": tensors.pop("")}
        skeleton = {"__tensor__": "tensor"}
    for name, array in tensors.items():
        if array.dtype.kind not in "biuf" or array.dtype.itemsize > 8:
            raise TypeError(f"ttrain.save: tensor {name!r} has dtype {array.dtype}, which safetensors cannot store")
    header = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION), "object": json.dumps(skeleton)}
    data = save_arrays({k: np.asarray(v, order="C") for k, v in tensors.items()}, metadata=header)  # 0-d stays 0-d
    if hasattr(f, "write"):
        f.write(data)
    else:
        atomic_write_bytes(Path(f), data)


def load(f: FileLike, *, map_location: Any = None) -> Any:
    """Read what `save` wrote: tensors come back as `ttrain.Tensor`s, in the same nesting.

    `map_location` may name the CPU (or be a function, which is ignored); a file that is not a
    `ttrain.save` file is a `CheckpointError` naming it (a pickle is named as such, never opened).
    """
    from ttrain.devices import device, require_cpu
    from ttrain.input_files import CHECKPOINT, read_input

    if isinstance(map_location, (str, device)):
        require_cpu(map_location)
    if hasattr(f, "read"):
        path, raw = Path(getattr(f, "name", "<file object>")), f.read()
    else:
        path = Path(f)
        raw = read_input(path, CHECKPOINT, lambda problem: CheckpointError(f"file {path}: {problem}"))
    header, arrays = read_safetensors(path, raw)
    fields = header.get("__metadata__") or {}
    if fields.get("format") != FORMAT_NAME or not isinstance(fields.get("object"), str):
        # a plain safetensors file (from safetensors.torch.save_file, say): its tensors by name
        return {name: from_numpy(array) for name, array in arrays.items()}
    version = fields.get("format_version", "")
    if not version.isdigit() or int(version) > FORMAT_VERSION:
        raise CheckpointError(f"file {path}: written by a newer ttrain (format {version!r}); upgrade ttrain")
    try:
        skeleton = json.loads(fields["object"])
    except (json.JSONDecodeError, RecursionError):
        raise CheckpointError(f"file {path}: is damaged: its object description is not valid JSON") from None
    return merge_state(skeleton, {name: from_numpy(array) for name, array in arrays.items()})

