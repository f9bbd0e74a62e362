"""The checkpoint file: one ``.safetensors`` file, written atomically, read without unpickling.

Layout: tensors under flat dotted names (``model.fc.weight``,
``optimizer.state.0.exp_avg``); the safetensors header's ``__metadata__`` holds

    format            "ttrain.checkpoint"
    format_version    "1"
    metadata          JSON: the caller's metadata (resolved config, epoch, global_step, metrics,
                      RNG states, optimizer/scheduler state skeletons, ...) plus format_version,
                      ttrain_version and tensors_sha256 (over every tensor's name, dtype, shape, bytes)
    metadata_sha256   SHA-256 of the metadata JSON text

so any change to the tensors or the metadata is detected. Nested state that mixes arrays and
scalars (an optimizer's state dict) is split by ``split_state`` into flat tensors plus a JSON
skeleton that refers to them, and put back together by ``merge_state``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import uuid
from pathlib import Path
from typing import Any, BinaryIO, Mapping

import numpy as np

from ttrain.input_files import CHECKPOINT, read_input
from ttrain.training.write_errors import writing

FORMAT_NAME = "ttrain.checkpoint"
FORMAT_VERSION = 1
SUFFIX = ".safetensors"  # what tells a checkpoint from a config where a command takes either
# Keys every checkpoint's metadata has: the first three are added by save_checkpoint.
REQUIRED_METADATA = ("format_version", "ttrain_version", "tensors_sha256", "config", "epoch", "global_step")
CALLER_METADATA = REQUIRED_METADATA[3:]

_MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit (MAX_HEADER_SIZE in its tensor.rs)
_MAX_TENSORS = 100_000  # a large model with its optimizer state has a few thousand
# A config nests at most 64 levels (ttrain.config.loader.MAX_DEPTH), a --set value 64 more below
# its key, and the config sits one level down in the metadata; the limit keeps merge_state and
# every other pass over the metadata far from Python's recursion limit.
_MAX_METADATA_DEPTH = 200
_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
             "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}
_FOREIGN_MAGIC = (  # (prefix, what the file is) for files that are clearly not safetensors
    (b"PK\x03\x04", "a zip archive (a PyTorch .pt/.pth file?)"),
    (b"PK\x05\x06", "a zip archive"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"\x1f\x8b", "a gzip file"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (a Keras .h5 file?)"),
)
# Markers in a split_state skeleton: a tensor reference, a tuple, a dict with non-string keys.
_TENSOR, _TUPLE, _ITEMS = "__tensor__", "__tuple__", "__items__"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or used, or state that cannot be stored in one; the message
    names the file. (A save that fails for lack of space is an `OutputWriteError`.)"""


def _error(path: Path, problem: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {path}: {problem}")


def _ttrain_version() -> str:
    try:
        from ttrain import __version__

        return str(__version__)
    except ImportError:
        return "unknown"


# ---------------------------------------------------------------- nested state <-> flat tensors


def split_state(state: Any, prefix: str) -> tuple[dict[str, np.ndarray], Any]:
    """Split nested state into flat tensors named ``prefix.key.subkey`` and a JSON-able skeleton.

    Arrays (and objects with a ``.numpy()`` method, like Tensors) become tensors; the skeleton
    keeps every other value and refers to each tensor by name. Tuples and dicts with non-string
    keys (an optimizer's ``{param_index: state}``) survive the round trip through JSON.
    """
    tensors: dict[str, np.ndarray] = {}

    def walk(value: Any, name: str) -> Any:
        if callable(getattr(value, "numpy", None)) and not isinstance(value, np.ndarray):
            value = value.numpy()
        if isinstance(value, np.ndarray):
            if name in tensors:
                raise ValueError(f"two values would be stored under the tensor name {name!r}")
            tensors[name] = value
            return {_TENSOR: name}
        if isinstance(value, np.generic):
            return value.item()
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        child = (lambda key: f"{name}.{key}" if name else str(key))
        if isinstance(value, Mapping):
            if all(isinstance(k, str) for k in value):
                reserved = {_TENSOR, _TUPLE, _ITEMS} & set(value)
                if reserved:
                    raise ValueError(f"{name or 'state'}: key {reserved.pop()!r} is reserved by the checkpoint format")
                return {k: walk(v, child(k)) for k, v in value.items()}
            for k in value:
                if not isinstance(k, (str, int, float, bool)) and k is not None:
                    raise ValueError(f"{name or 'state'}: cannot store a {type(k).__name__} key {k!r}")
            return {_ITEMS: [[k, walk(v, child(k))] for k, v in value.items()]}
        if isinstance(value, tuple):
            return {_TUPLE: [walk(v, child(i)) for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [walk(v, child(i)) for i, v in enumerate(value)]
        raise TypeError(f"{name or 'state'}: cannot store a {type(value).__name__} in a checkpoint")

    skeleton = walk(state, prefix)
    return tensors, skeleton


def merge_state(skeleton: Any, tensors: Mapping[str, np.ndarray]) -> Any:
    """Rebuild the nested state that ``split_state`` split (the inverse of it)."""
    if isinstance(skeleton, dict):
        if set(skeleton) == {_TENSOR}:
            name = skeleton[_TENSOR]
            if name not in tensors:
                raise CheckpointError(f"the state refers to tensor {name!r}, which is not in the checkpoint")
            return tensors[name]
        if set(skeleton) == {_TUPLE}:
            return tuple(merge_state(v, tensors) for v in skeleton[_TUPLE])
        if set(skeleton) == {_ITEMS}:
            return {k: merge_state(v, tensors) for k, v in skeleton[_ITEMS]}
        return {k: merge_state(v, tensors) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [merge_state(v, tensors) for v in skeleton]
    return skeleton


def _referenced_tensors(skeleton: Any) -> list[str]:
    """Every tensor name a skeleton (or the whole metadata) refers to."""
    if isinstance(skeleton, dict):
        if set(skeleton) == {_TENSOR} and isinstance(skeleton[_TENSOR], str):
            return [skeleton[_TENSOR]]
        return [name for v in skeleton.values() for name in _referenced_tensors(v)]
    if isinstance(skeleton, list):
        return [name for v in skeleton for name in _referenced_tensors(v)]
    return []


# ---------------------------------------------------------------- hashing


def _canonical(array: np.ndarray) -> np.ndarray:
    """C-contiguous and little-endian: the bytes safetensors stores and the hash covers."""
    array = np.asarray(array)
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    # (np.ascontiguousarray would turn a 0-d array into shape (1,))
    return array if array.flags.c_contiguous else array.copy(order="C")


def tensors_sha256(tensors: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        array = _canonical(tensors[name])
        digest.update(json.dumps([name, array.dtype.name, list(array.shape)]).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- saving


def _write_all(file: BinaryIO, data: bytes) -> None:
    """Write every byte (a separate function so tests can interrupt a save half-way)."""
    view = memoryview(data)
    while view:
        view = view[file.write(view):]


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable; not possible (nor needed) on Windows.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# Temporary files are named `.<target>.<pid>.<12 hex>.tmp`: the writer's process id tells a
# save in flight (its process is alive) from one a kill -9 left behind. Names without the pid
# were written by older versions of ttrain.
_TEMPORARY = re.compile(r"^\..+?(?:\.(\d+))?\.[0-9a-f]{12}\.tmp$")


def is_temporary_file(path: Path) -> bool:
    """Whether `path` is named like a temporary file of `atomic_write_bytes` (never a checkpoint)."""
    return _TEMPORARY.match(Path(path).name) is not None


def _writer_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another save of this very process, e.g. in a thread
    if os.name != "posix":
        return True  # no cheap, harmless liveness check: keep the file
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, owned by someone else
    return True


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files that killed saves left in `folder`; returns what was removed.

    A temporary file whose writing process is still alive is a save in flight and is kept.
    """
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _TEMPORARY.match(entry.name)
            if match is None or not entry.is_file(follow_symlinks=False):
                continue
            if match.group(1) is not None and _writer_alive(int(match.group(1))):
                continue
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, rename it into place.

    A crash or an exception at any point leaves either the old file or the new one, never a
    partial file, and no temporary file behind. Temporary files that killed saves left in the
    folder (kill -9, power loss) are removed first.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    temporary = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as file:
            _write_all(file, data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_folder(path.parent)


def _checked_tensors(path: Path, tensors: Mapping[str, Any]) -> dict[str, np.ndarray]:
    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise _error(path, f"invalid tensor name {name!r}")
        array = _canonical(value)
        if array.dtype.kind not in "biuf" or array.dtype.itemsize > 8:
            raise _error(path, f"tensor {name!r} has dtype {array.dtype}, which a checkpoint cannot store")
        arrays[name] = array
    return arrays


def save_checkpoint(path: str | Path, tensors: Mapping[str, np.ndarray], metadata: Mapping[str, Any]) -> Path:
    """Write one ``.safetensors`` checkpoint atomically; returns its path.

    ``metadata`` must be JSON-able and hold at least ``config``, ``epoch`` and ``global_step``;
    ``format_version``, ``ttrain_version`` and ``tensors_sha256`` are added here.
    """
    from safetensors.numpy import save

    path = Path(path)
    missing = [key for key in CALLER_METADATA if key not in metadata]
    if missing:
        raise _error(path, f"metadata lacks {', '.join(missing)}")
    arrays = _checked_tensors(path, tensors)
    dangling = [name for name in _referenced_tensors(dict(metadata)) if name not in arrays]
    if dangling:
        raise _error(path, f"metadata refers to tensors that are not given: {', '.join(dangling[:5])}")
    full = {**metadata, "format_version": FORMAT_VERSION, "ttrain_version": _ttrain_version(),
            "tensors_sha256": tensors_sha256(arrays)}
    try:
        text = json.dumps(full, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise _error(path, f"metadata is not JSON-able: {exc}") from None
    header = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION),
              "metadata": text, "metadata_sha256": _text_sha256(text)}
    data = save(arrays, metadata=header)
    # A full disk is a failed run, not a bad checkpoint: OutputWriteError (exit 1), not CheckpointError.
    with writing("checkpoint", path):
        atomic_write_bytes(path, data)
    return path


# ---------------------------------------------------------------- loading


def _read(path: Path) -> bytes:
    """The file's bytes: a regular file within the checkpoint size limit (ttrain.input_files)."""
    return read_input(path, CHECKPOINT, lambda problem: _error(path, problem))


def _foreign_format(raw: bytes) -> str | None:
    """What ``raw`` is, when its first bytes show a format that is not safetensors."""
    if raw[:1] == b"\x80" and raw[1:2] and 2 <= raw[1] <= 5:
        return "a Python pickle (a torch.save or pickle.dump file?)"
    for magic, what in _FOREIGN_MAGIC:
        if raw.startswith(magic):
            return what
    return None


def _parse_header(path: Path, raw: bytes) -> tuple[dict[str, Any], int]:
    """The safetensors JSON header and where the tensor data starts."""
    if not raw:
        raise _error(path, "is empty (0 bytes)")
    length = int.from_bytes(raw[:8], "little")
    # Sniff other formats only when the start is not a safetensors header: a header length such
    # as 0x0280 begins with the same two bytes as a pickle.
    looks_like_safetensors = len(raw) > 8 and 2 <= length <= _MAX_HEADER_BYTES and raw[8:9] == b"{"
    foreign = None if looks_like_safetensors else _foreign_format(raw)
    if foreign is not None:
        raise _error(path, f"is {foreign}, not a safetensors checkpoint; ttrain never unpickles files")
    if len(raw) < 8:
        raise _error(path, f"is truncated: {len(raw)} bytes is too short for a safetensors header")
    if length < 2:
        raise _error(path, f"is not a safetensors file (impossible header length {length})")
    if length > _MAX_HEADER_BYTES:
        raise _error(path, f"is not a safetensors file (impossible header length {length}: "
                           f"safetensors allows at most {_MAX_HEADER_BYTES:,} bytes)")
    if 8 + length > len(raw):
        raise _error(path, f"is truncated or damaged: the header needs {length} bytes, "
                           f"the file has {len(raw) - 8} after the length")
    try:
        header = json.loads(raw[8:8 + length].decode("utf-8"))
    except RecursionError:
        raise _error(path, "is damaged or not a safetensors file: its header nests too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _error(path, "is damaged or not a safetensors file: its header is not valid JSON") from None
    except ValueError:  # Python reads no integer of over 4,300 digits
        raise _error(path, "is damaged or not a safetensors file: its header holds a number too long to read") from None
    if not isinstance(header, dict):
        raise _error(path, "is damaged or not a safetensors file: its header is not a JSON object")
    count = len(header) - ("__metadata__" in header)
    if count > _MAX_TENSORS:
        raise _error(path, f"is damaged: its header lists {count:,} tensors (at most {_MAX_TENSORS:,})")
    return header, 8 + length


def _check_layout(path: Path, header: dict[str, Any], data_size: int) -> None:
    """Every tensor entry is well-formed and the entries tile the data exactly."""
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        ok = (isinstance(info, dict) and info.get("dtype") in _ITEMSIZE
              and isinstance(info.get("shape"), list) and all(isinstance(d, int) and d >= 0 for d in info["shape"])
              and isinstance(info.get("data_offsets"), list) and len(info["data_offsets"]) == 2
              and all(isinstance(o, int) and o >= 0 for o in info["data_offsets"]))
        if not ok:
            raise _error(path, f"is damaged: the header entry of tensor {name!r} is malformed")
        begin, end = info["data_offsets"]
        if end - begin != math.prod(info["shape"]) * _ITEMSIZE[info["dtype"]]:
            raise _error(path, f"is damaged: tensor {name!r} has offsets that do not match its shape and dtype")
        spans.append((begin, end, name))
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            raise _error(path, f"is damaged: tensor {name!r} does not start where the previous one ends")
        position = end
    if position > data_size:
        raise _error(path, f"is truncated: the tensors need {position} bytes of data, the file has {data_size}")
    if position < data_size:
        raise _error(path, f"is damaged: {data_size - position} unexpected bytes after the tensor data")


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether JSON data nests lists and objects more than ``limit`` levels (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def _parse_metadata(path: Path, header: dict[str, Any]) -> dict[str, Any]:
    """The checked metadata: ttrain format, supported version, intact, all required keys."""
    fields = header.get("__metadata__")
    if not isinstance(fields, dict) or fields.get("format") != FORMAT_NAME:
        raise _error(path, "is a safetensors file but not a ttrain checkpoint (no ttrain metadata in its header)")
    version_text = fields.get("format_version")
    if not (isinstance(version_text, str) and version_text.isdigit()):
        raise _error(path, f"is damaged: format version {version_text!r} is not a number")
    version = int(version_text)
    if version > FORMAT_VERSION:
        raise _error(path, f"was written by a newer ttrain (checkpoint format {version}; this ttrain "
                           f"{_ttrain_version()} reads format {FORMAT_VERSION} and older): upgrade ttrain to load it")
    text = fields.get("metadata")
    if not isinstance(text, str) or _text_sha256(text) != fields.get("metadata_sha256"):
        raise _error(path, "is damaged: its metadata does not match its checksum")
    try:
        metadata = json.loads(text)
        too_deep = _nested_deeper_than(metadata, _MAX_METADATA_DEPTH)
    except RecursionError:  # json's own limit, far past ours
        too_deep = True
    except json.JSONDecodeError:
        raise _error(path, "is damaged: its metadata is not valid JSON") from None
    except ValueError:  # Python reads no integer of over 4,300 digits
        raise _error(path, "is damaged: its metadata holds a number too long to read") from None
    if too_deep:
        raise _error(path, f"is damaged: its metadata nests deeper than {_MAX_METADATA_DEPTH} levels")
    if not isinstance(metadata, dict):
        raise _error(path, "is damaged: its metadata is not a JSON object")
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        raise _error(path, f"lacks required metadata: {', '.join(missing)}")
    if metadata["format_version"] != version:
        raise _error(path, "is damaged: the format version in the header and in the metadata differ")
    return metadata


def read_safetensors(path: Path, raw: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and tensors of any safetensors file's bytes ``raw`` (named ``path`` in errors), with
    the same checks of its layout as a checkpoint's, but none of a checkpoint's metadata."""
    from safetensors.numpy import load

    header, data_start = _parse_header(path, raw)
    _check_layout(path, header, len(raw) - data_start)
    try:
        return header, load(raw)
    except Exception as exc:  # safetensors' own checks; ours above should have caught everything
        raise _error(path, f"is damaged: {exc}") from None


def header_format(path: str | Path) -> str | None:
    """The ``format`` field of a safetensors file's header metadata, reading the header only; None for
    a file that is not safetensors or has no such field (reading the whole file says what is wrong)."""
    try:
        with open(path, "rb") as file:
            length = int.from_bytes(file.read(8), "little")
            if not 2 <= length <= _MAX_HEADER_BYTES:
                return None
            header = json.loads(file.read(length).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    fields = header.get("__metadata__") if isinstance(header, dict) else None
    return fields.get("format") if isinstance(fields, dict) and isinstance(fields.get("format"), str) else None


def load_checkpoint(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read and verify a checkpoint: ``(tensors, metadata)``; any problem is a CheckpointError.

    Verified: the file exists and is a safetensors file (a pickle or zip file is named as such),
    its layout is consistent, it is a ttrain checkpoint of a supported format version, its
    metadata and tensor hashes match, and every tensor the metadata refers to is present.
    """
    from safetensors.numpy import load

    path = Path(path)
    raw = _read(path)
    header, data_start = _parse_header(path, raw)
    _check_layout(path, header, len(raw) - data_start)
    metadata = _parse_metadata(path, header)
    try:
        tensors = load(raw)
    except Exception as exc:  # safetensors' own checks; ours above should have caught everything
        raise _error(path, f"is damaged: {exc}") from None
    if tensors_sha256(tensors) != metadata["tensors_sha256"]:
        raise _error(path, "is damaged: the tensor data does not match its SHA-256")
    missing = [name for name in _referenced_tensors(metadata) if name not in tensors]
    if missing:
        raise _error(path, f"lacks tensors its metadata refers to: {', '.join(missing[:5])}")
    return tensors, metadata
