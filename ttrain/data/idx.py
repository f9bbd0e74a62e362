"""Reader and writer for the IDX format that MNIST ships in.

An IDX file is a big-endian header -- two zero bytes, a dtype code, the number of dimensions, then
each dimension as uint32 -- followed by the array's bytes in C order. Files may be gzip'd; the
reader looks at the gzip magic bytes rather than trusting the file name.
"""

from __future__ import annotations

import gzip
import zlib
from os import PathLike
from pathlib import Path

import numpy as np

from ttrain.data.errors import DataError

_GZIP_MAGIC = b"\x1f\x8b"

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


def _read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it starts with the gzip magic bytes."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected an IDX file") from None
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{path}: damaged gzip data ({exc})") from None


def read_idx(path: str | PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or gzip'd) into a native-endian numpy array.

    Raises:
        DataError: the file is missing, its magic number or dtype code is wrong, or its data is
            shorter or longer than the header promises.
    """
    path = Path(path)
    content = _read_bytes(path)
    if len(content) < 4:
        raise DataError(f"{path}: truncated: {len(content)} bytes, too short for an IDX header")
    zero0, zero1, code, ndim = content[:4]
    if zero0 != 0 or zero1 != 0 or ndim == 0:
        raise DataError(
            f"{path}: wrong magic number 0x{content[:4].hex()}: not an IDX file "
            "(expected 0x0000 then a dtype code and the number of dimensions, e.g. 0x00000803)"
        )
    if code not in _CODE_TO_DTYPE:
        known = ", ".join(f"0x{c:02X}" for c in _CODE_TO_DTYPE)
        raise DataError(f"{path}: unsupported IDX dtype code 0x{code:02X} (known: {known})")
    dtype = _CODE_TO_DTYPE[code]
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise DataError(
            f"{path}: truncated: a header of {ndim} dimensions needs {header_size} bytes, the file has {len(content)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(content, dtype=">u4", count=ndim, offset=4))
    expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(content) < expected:
        raise DataError(
            f"{path}: truncated: header promises shape {shape} ({expected} bytes), "
            f"the data has {len(content)} bytes"
        )
    if len(content) > expected:
        raise DataError(
            f"{path}: {len(content) - expected} bytes of trailing garbage after the data of shape {shape}"
        )
    array = np.frombuffer(content, dtype=dtype, offset=header_size).reshape(shape)
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
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"write_idx: IDX needs 1 to 255 dimensions, got {array.ndim}")
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
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: labels must be 1-D, got shape {labels.shape}")
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{images_path} has {images.shape[0]} images but {labels_path} has {labels.shape[0]} labels"
        )
    return images, labels.astype(np.int64)
