"""Reader and writer for the IDX format that MNIST ships in.

An IDX file is a big-endian header -- two zero bytes, a dtype code, the number of dimensions, then
each dimension as uint32 -- followed by the array's bytes in C order. Files may be gzip'd; the
reader looks at the gzip magic bytes rather than trusting the file name.
"""

from __future__ import annotations

import gzip
import math
import zlib
from os import PathLike
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ttrain.data.errors import DataError, file_problem
from ttrain.input_files import DATA, check_size, open_input

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 24
MAX_DIMS = 32  # NumPy 1.x's limit on dimensions; MNIST's files have 1 and 3

# IDX dtype code -> big-endian numpy dtype.
_CODE_TO_DTYPE: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_KIND_TO_CODE = {(dt.kind, dt.itemsize): code for code, dt in _CODE_TO_DTYPE.items()}


def _read_up_to(stream: BinaryIO, limit: int) -> bytearray:
    """At most ``limit`` bytes, in chunks: a header's claim is not allocated before the data is there."""
    data = bytearray()
    while len(data) < limit:
        chunk = stream.read(min(_CHUNK, limit - len(data)))
        if not chunk:
            break
        data += chunk
    return data


def _read_header(path: Path, stream: BinaryIO) -> tuple[np.dtype, tuple[int, ...], int]:
    """The dtype, the shape and the header's size in bytes, checked."""
    magic = stream.read(4)
    if len(magic) < 4:
        raise DataError(f"{path}: truncated: {len(magic)} bytes, too short for an IDX header")
    zero0, zero1, code, ndim = magic
    if zero0 != 0 or zero1 != 0 or ndim == 0:
        raise DataError(
            f"{path}: wrong magic number 0x{magic.hex()}: not an IDX file "
            "(expected 0x0000 then a dtype code and the number of dimensions, e.g. 0x00000803)"
        )
    if code not in _CODE_TO_DTYPE:
        known = ", ".join(f"0x{c:02X}" for c in _CODE_TO_DTYPE)
        raise DataError(f"{path}: unsupported IDX dtype code 0x{code:02X} (known: {known})")
    if ndim > MAX_DIMS:
        raise DataError(f"{path}: {ndim} dimensions: an IDX file ttrain reads has at most {MAX_DIMS}")
    header_size = 4 + 4 * ndim
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DataError(
            f"{path}: truncated: a header of {ndim} dimensions needs {header_size} bytes, the file has {4 + len(dims)}"
        )
    shape = tuple(int.from_bytes(dims[i : i + 4], "big") for i in range(0, len(dims), 4))
    return _CODE_TO_DTYPE[code], shape, header_size


def read_idx(path: str | PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or gzip'd) into a native-endian numpy array.

    Memory and time are bounded by what the header declares, which must be within the data size
    limit (``ttrain.input_files``): a gzip'd file is decompressed to at most one byte past that.

    Raises:
        DataError: the file is missing or not a regular file, its magic number or dtype code is
            wrong, it declares too much data, or its data is shorter or longer than the header promises.
    """
    path = Path(path)
    fail = file_problem(path)
    with open_input(path, DATA, fail) as (file, size):
        compressed = file.read(2) == _GZIP_MAGIC
        file.seek(0)
        stream: BinaryIO = gzip.GzipFile(fileobj=file, mode="rb") if compressed else file
        try:
            dtype, shape, header_size = _read_header(path, stream)
            expected = math.prod(shape) * dtype.itemsize
            check_size(expected, DATA, fail, f"its header (shape {shape}) declares")
            if not compressed and size > header_size + expected:
                raise DataError(f"{path}: {size - header_size - expected} bytes of trailing garbage "
                                f"after the data of shape {shape}")
            content = _read_up_to(stream, expected + 1)  # one byte more shows a longer stream
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise DataError(f"{path}: damaged gzip data ({exc})") from None
        except OSError as exc:
            if compressed:  # the gzip module reports some damage as a plain OSError
                raise DataError(f"{path}: damaged gzip data ({exc})") from None
            raise
    if len(content) < expected:
        raise DataError(
            f"{path}: truncated: header promises shape {shape} ({header_size + expected} bytes), "
            f"the data has {header_size + len(content)} bytes"
        )
    if len(content) > expected:
        raise DataError(f"{path}: trailing garbage after the data of shape {shape}")
    array = np.frombuffer(content, dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # native order, and a writable copy


def write_idx(path: str | PathLike[str], array: np.ndarray, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file; gzip'd when ``compress`` is True or, by default, when the name ends in ``.gz``.

    Supported dtypes: uint8, int8, int16, int32, float32, float64.
    """
    path = Path(path)
    array = np.asarray(array)
    code = _KIND_TO_CODE.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise ValueError(
            f"write_idx: dtype {array.dtype} has no IDX code (use uint8, int8, int16, int32, float32 or float64)"
        )
    if array.ndim == 0 or array.ndim > MAX_DIMS:
        raise ValueError(f"write_idx: IDX needs 1 to {MAX_DIMS} dimensions, got {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    content = header + np.ascontiguousarray(array, dtype=_CODE_TO_DTYPE[code]).tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        content = gzip.compress(content, mtime=0)  # mtime=0: the same array gives the same bytes
    path.write_bytes(content)


def read_idx_pair(
    images_path: str | PathLike[str], labels_path: str | PathLike[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Read matching image and label IDX files, checking that they hold the same number of samples.

    Returns ``(images, labels)`` with labels as a 1-D int64 array.
    """
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if len(images) == 0:
        raise DataError(f"{images_path}: no samples (its shape is {images.shape})")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: labels must be 1-D, got shape {labels.shape}")
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{images_path} has {images.shape[0]} images but {labels_path} has {labels.shape[0]} labels"
        )
    return images, labels.astype(np.int64)
