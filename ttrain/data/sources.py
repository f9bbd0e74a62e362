"""A user's own data from ``.npz`` and CSV files, and small synthetic datasets for quick runs.

Each loader returns ``(features, targets)`` arrays: float32 features; targets as int64 class
labels when every value is a whole number, float32 otherwise (regression).
"""

from __future__ import annotations

import csv
import zipfile
from os import PathLike
from pathlib import Path
from typing import Sequence

import numpy as np

from ttrain.data.errors import DataError


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


def read_npz_arrays(path: str | PathLike[str], keys: Sequence[str]) -> list[np.ndarray]:
    """The numeric arrays ``keys`` of an ``.npz`` file, each with a leading sample axis.

    Never unpickles: object arrays are refused.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as archive:
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


def _raise_first_non_number(path: Path, body: list[tuple[int, list[str]]], names: list[str] | None) -> None:
    """Raise a DataError naming the line and column of the first field that is not a number."""
    for line, row in body:
        for col, value in enumerate(row):
            if not _is_number(value):
                label = f"column {col}" + (f" ({names[col]!r})" if names else "")
                raise DataError(f"{path}:{line}: {label}: {value!r} is not a number")


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
    try:
        with path.open(newline="") as f:
            rows = [(n, row) for n, row in enumerate(csv.reader(f, delimiter=delimiter), start=1) if row]
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None
    if not rows:
        raise DataError(f"{path}: empty file")
    if header is None:
        header = not all(_is_number(v) for v in rows[0][1])
    names = [v.strip() for v in rows[0][1]] if header else None
    body = rows[1:] if header else rows
    if not body:
        raise DataError(f"{path}: no data rows")
    width = len(names) if names is not None else len(body[0][1])
    for line, row in body:
        if len(row) != width:
            raise DataError(f"{path}:{line}: {len(row)} columns, expected {width} like the first row")
    if width < 2:
        raise DataError(f"{path}: needs at least two columns (features and a target), found {width}")
    try:
        table = np.array([row for _, row in body], dtype=np.float64)
    except ValueError:
        _raise_first_non_number(path, body, names)
        raise DataError(f"{path}: cannot read the fields as numbers") from None
    target = _target_index(path, target_column, names, width)
    features = np.delete(table, target, axis=1).astype(np.float32)
    return features, as_targets(table[:, target])


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
