"""A user's own data from ``.npz`` and CSV files, and small synthetic datasets for quick runs.

Each loader returns ``(features, targets)`` arrays: float32 features; targets as int64 class
labels when every value is a whole number, float32 otherwise (regression).

Files are opened through ``ttrain.input_files`` (regular files within the data size limit). An
``.npz`` member is checked before it is decompressed: its declared size must be within the limit
and hold the array its header declares (NumPy allocates the declared shape before reading). A
CSV is converted row by row, and a line may not exceed MAX_CSV_LINE_CHARS, so memory stays a
small multiple of the file's size.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import zipfile
from os import PathLike
from pathlib import Path
from typing import IO, BinaryIO, Iterator, Sequence

import numpy as np

from ttrain.data.errors import DataError, file_problem
from ttrain.input_files import DATA, check_size, format_size, open_input

MAX_CSV_LINE_CHARS = 1 << 23  # a row of 500,000 15-digit numbers; wider rows belong in .npz


def as_targets(values: np.ndarray) -> np.ndarray:
    """int64 labels if every value is a whole number, float32 otherwise."""
    values = np.asarray(values)
    if values.dtype.kind in "iub":
        return values.astype(np.int64)
    if values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values == np.round(values)):
        return values.astype(np.int64)
    return values.astype(np.float32)


def _check_lengths(path: Path, features: np.ndarray, targets: np.ndarray) -> None:
    if len(features) != len(targets):
        raise DataError(f"{path}: {len(features)} feature rows but {len(targets)} targets; they must match")
    if len(features) == 0:
        raise DataError(f"{path}: no samples")


def _npz_member(names: set[str], key: str) -> str:
    """The archive member ``np.load`` reads for ``key`` (``x`` or ``x.npy``)."""
    return key if key in names else key + ".npy"


def _check_npz_members(path: Path, file: BinaryIO, keys: Sequence[str]) -> None:
    """Refuse, before decompressing, members that declare too much or less than their arrays need."""
    with zipfile.ZipFile(file) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        members = [(key, infos.get(_npz_member(set(infos), key))) for key in keys]
        check_size(sum(info.file_size for _, info in members if info is not None), DATA, file_problem(path),
                   "its arrays declare, uncompressed,")
        for key, info in members:
            if info is None:
                continue  # reported by np.load's own listing below
            with archive.open(info) as member:
                try:
                    version = np.lib.format.read_magic(member)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read_header(member)
                except ValueError as exc:
                    raise DataError(f"{path}: array {key!r} is not a readable .npy array ({exc})") from None
            if dtype.hasobject:
                raise DataError(f"{path}: array {key!r} holds Python objects, which cannot load without unpickling")
            needed = math.prod(shape) * dtype.itemsize
            if needed > info.file_size:
                raise DataError(f"{path}: array {key!r} is damaged: its shape {shape} of {dtype} needs "
                                f"{format_size(needed)}, its archive member holds {format_size(info.file_size)}")


def read_npz_arrays(path: str | PathLike[str], keys: Sequence[str]) -> list[np.ndarray]:
    """The numeric arrays ``keys`` of an ``.npz`` file, each with a leading sample axis.

    Never unpickles: object arrays are refused. Members are checked before they are decompressed
    (see the module's docstring).
    """
    path = Path(path)
    with open_input(path, DATA, file_problem(path)) as (file, _):
        try:
            _check_npz_members(path, file, keys)
            file.seek(0)
            with np.load(file, allow_pickle=False) as archive:
                found = sorted(archive.files)
                missing = [k for k in keys if k not in found]
                if missing:
                    raise DataError(
                        f"{path}: no array named {', '.join(map(repr, missing))}; the file holds {found or 'no arrays'}"
                    )
                arrays = [archive[k] for k in keys]
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise DataError(f"{path}: not a readable .npz file ({exc})") from None
        except ValueError as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(f"{path}: cannot load without unpickling ({exc})") from None
    for key, array in zip(keys, arrays):
        if array.dtype.kind not in "biuf":
            raise DataError(f"{path}: array {key!r} has dtype {array.dtype}; expected numbers")
        if array.ndim == 0:
            raise DataError(f"{path}: array {key!r} is a scalar; expected one row per sample")
    return arrays


def load_npz(
    path: str | PathLike[str], features_key: str = "x", targets_key: str = "y"
) -> tuple[np.ndarray, np.ndarray]:
    """Features and targets from the arrays ``features_key`` and ``targets_key`` of an ``.npz`` file."""
    features, targets = read_npz_arrays(path, (features_key, targets_key))
    _check_lengths(Path(path), features, targets)
    return features.astype(np.float32), as_targets(targets)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _raise_first_non_number(path: Path, line: int, row: list[str], names: list[str] | None) -> None:
    """Raise a DataError naming the line and column of the first field of ``row`` that is not a number."""
    for col, value in enumerate(row):
        if not _is_number(value):
            label = f"column {col}" + (f" ({names[col]!r})" if names else "")
            raise DataError(f"{path}:{line}: {label}: {value!r} is not a number")


def _bounded_lines(path: Path, text: IO[str]) -> Iterator[str]:
    """The file's lines, refusing one longer than MAX_CSV_LINE_CHARS before it is all in memory."""
    for number, line in enumerate(iter(lambda: text.readline(MAX_CSV_LINE_CHARS + 1), ""), start=1):
        if len(line) > MAX_CSV_LINE_CHARS:
            raise DataError(f"{path}:{number}: a line longer than {MAX_CSV_LINE_CHARS:,} characters; "
                            "store rows this wide in an .npz file")
        yield line


def _target_index(path: Path, target_column: int | str, names: list[str] | None, width: int) -> int:
    if isinstance(target_column, str):
        if names is None:
            raise DataError(f"{path}: target_column {target_column!r} is a name but the file has no header row")
        if target_column not in names:
            raise DataError(f"{path}: no column named {target_column!r}; the header has {names}")
        return names.index(target_column)
    if not -width <= target_column < width:
        raise DataError(f"{path}: target_column {target_column} is out of range for {width} columns")
    return target_column % width


def _read_table(
    path: Path, rows: Iterator[tuple[int, list[str]]], header: bool | None, min_width: int = 2
) -> tuple[list[str] | None, np.ndarray]:
    """The header's names (or None) and the float64 table, converting row by row as they are read.
    ``min_width``: 2 for training data (features and a target), 1 for inputs to predict."""
    first = next(rows, None)
    if first is None:
        raise DataError(f"{path}: empty file")
    if header is None:
        header = not all(_is_number(v) for v in first[1])
    names = [v.strip() for v in first[1]] if header else None
    width = len(names) if names is not None else len(first[1])
    values = []
    for line, row in rows if header else itertools.chain([first], rows):
        if len(row) != width:
            raise DataError(f"{path}:{line}: {len(row)} columns, expected {width} like the first row")
        if width < min_width:
            raise DataError(f"{path}: needs at least two columns (features and a target), found {width}")
        try:
            values.append(np.array(row, dtype=np.float64))
        except ValueError:
            _raise_first_non_number(path, line, row, names)
            raise DataError(f"{path}:{line}: cannot read the fields as numbers") from None
    if not values:
        raise DataError(f"{path}: no data rows")
    return names, np.stack(values)


def load_csv(
    path: str | PathLike[str],
    target_column: int | str = -1,
    header: bool | None = None,
    delimiter: str = ",",
) -> tuple[np.ndarray, np.ndarray]:
    """Features and targets from a CSV file of numbers, one sample per row.

    ``target_column`` is the targets' column index or (with a header) name; the other columns are
    the features. ``header=None`` detects a header row: the first row counts as one when any of its
    fields is not a number.
    """
    path = Path(path)
    names, table = read_csv_table(path, header, delimiter)
    width = table.shape[1]
    target = _target_index(path, target_column, names, width)
    features = np.delete(table, target, axis=1).astype(np.float32)
    return features, as_targets(table[:, target])


def read_csv_table(path: str | PathLike[str], header: bool | None = None, delimiter: str = ",",
                   min_width: int = 2) -> tuple[list[str] | None, np.ndarray]:
    """A CSV file of numbers as a float64 table, and its header's names (None without one; see
    ``load_csv`` for ``header``). Every row must be as wide as the first, and at least ``min_width``."""
    path = Path(path)
    with open_input(path, DATA, file_problem(path)) as (file, _):
        text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")  # -sig: drop a spreadsheet's BOM
        reader = csv.reader(_bounded_lines(path, text), delimiter=delimiter)
        try:
            return _read_table(path, ((reader.line_num, row) for row in reader if row), header, min_width)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise DataError(f"{path}: not a readable CSV file ({exc})") from None


def drop_target_column(path: str | PathLike[str], table: np.ndarray, names: list[str] | None,
                       target_column: int | str = -1) -> np.ndarray:
    """``table`` without its targets' column (by index, or by name with a header), as ``load_csv`` splits it."""
    target = _target_index(Path(path), target_column, names, table.shape[1])
    return np.delete(table, target, axis=1)


def read_npy(path: str | PathLike[str]) -> np.ndarray:
    """The numeric array of an ``.npy`` file, never unpickled; its header is checked against the
    file's size before anything is allocated (a header may declare any shape)."""
    path = Path(path)
    with open_input(path, DATA, file_problem(path)) as (file, size):
        try:
            version = np.lib.format.read_magic(file)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(file)
            if dtype.hasobject:
                raise DataError(f"{path}: holds Python objects ({dtype}); expected numbers (never unpickled)")
            needed = math.prod(shape) * dtype.itemsize
            if needed > size - file.tell():
                raise DataError(f"{path}: damaged: its header declares {shape} of {dtype} ({format_size(needed)}), "
                                f"more than the file holds")
            file.seek(0)
            array = np.load(file, allow_pickle=False)
        except DataError:
            raise
        except Exception as exc:  # NumPy's header parser raises many kinds (ValueError, SyntaxError, ...)
            raise DataError(f"{path}: not a readable .npy file ({type(exc).__name__}: {exc})") from None
    if array.dtype.kind not in "biuf" or array.ndim == 0:
        raise DataError(f"{path}: an array of {array.dtype} with shape {array.shape}; expected numbers, one row per sample")
    return array


def make_spirals(
    n: int, classes: int = 2, noise: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 2-D points on ``classes`` interleaved spiral arms (balanced), with Gaussian ``noise``.

    Returns float32 points ``(n, 2)`` and int64 labels ``(n,)``; the same seed gives the same points.
    """
    if n < 1 or classes < 1:
        raise ValueError(f"make_spirals: n and classes must be positive, got n={n}, classes={classes}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % classes)
    radius = np.sqrt(rng.uniform(0.0, 1.0, n))  # sqrt: even density along the arm
    angle = 3.0 * np.pi * radius + 2.0 * np.pi * labels / classes
    points = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    points += noise * rng.standard_normal((n, 2))
    return points.astype(np.float32), labels.astype(np.int64)


def make_blobs(
    n: int, classes: int = 3, dim: int = 2, std: float = 1.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points in ``dim`` dimensions around ``classes`` random centres in [-10, 10]^dim (balanced).

    Returns float32 points ``(n, dim)`` and int64 labels ``(n,)``; the same seed gives the same points.
    """
    if n < 1 or classes < 1 or dim < 1:
        raise ValueError(f"make_blobs: n, classes and dim must be positive, got {n}, {classes}, {dim}")
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10.0, 10.0, (classes, dim))
    labels = rng.permutation(np.arange(n) % classes)
    points = centres[labels] + std * rng.standard_normal((n, dim))
    return points.astype(np.float32), labels.astype(np.int64)
