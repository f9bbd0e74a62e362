"""The inputs `ttrain predict` reads, as raw samples shaped like the model's training data.

By suffix: ``.npz`` (its array ``x``), ``.npy``, ``.csv`` / ``.tsv`` (numbers, a header row
detected as training CSVs are; with one column more than the model's features, the data
section's ``target_column`` is dropped, so a training-style file works), ``.png`` / ``.jpg`` /
``.jpeg`` (one image, one sample: grayscale, or RGB for 3-channel models, resized to the model's
height and width when it differs; pixels 0-255 like MNIST's raw ones, so the data's own
normalisation applies after), anything else IDX (raw or gzip'd). Every problem is a DataError
naming the file. Images need Pillow (``pip install 'ttrain[images]'``), imported only for them.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ttrain.data.dataset import check_features
from ttrain.data.errors import DataError, file_problem
from ttrain.input_files import DATA, read_input

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
TABLE_DELIMITERS = {".csv": ",", ".tsv": "\t"}
PILLOW_HINT = "reading images needs Pillow: pip install 'ttrain[images]'"


@dataclass(frozen=True)
class TableFormat:
    """How the training data's CSV was laid out (from the data section): predict reads CSVs so."""

    header: bool | None = None
    target_column: int | str = -1

    @classmethod
    def of(cls, data_kwargs: dict[str, Any]) -> TableFormat:
        """The format a data section's keyword arguments give (defaults where it has none)."""
        return cls(data_kwargs.get("header"), data_kwargs.get("target_column", -1))


@dataclass(frozen=True)
class Inputs:
    """Samples (one leading axis, shaped like the training data's) and which file and row each came from."""

    samples: np.ndarray
    files: list[str]
    rows: list[int]


def read_inputs(paths: Sequence[str | Path], sample_shape: tuple[int, ...], table: TableFormat = TableFormat()) -> Inputs:
    """Read every file in ``paths`` (see the module's docstring) into samples of ``sample_shape``."""
    arrays, files, rows = [], [], []
    for path in map(Path, paths):
        array = _read_file(path, sample_shape, table)
        if len(array) == 0:
            raise DataError(f"{path}: no samples to predict (its shape is {array.shape})")
        per_sample = tuple(array.shape[1:])
        if array.ndim < 1 or math.prod(per_sample) != math.prod(sample_shape):
            raise DataError(f"{path}: inputs of shape {per_sample} per sample do not match the model's data {sample_shape}")
        check_features(array, str(path))  # a NaN or infinity, named with its row in this file
        arrays.append(array.reshape((len(array), *sample_shape)))
        files += [str(path)] * len(array)
        rows += range(len(array))
    return Inputs(np.concatenate(arrays) if len(arrays) > 1 else arrays[0], files, rows)


def _read_file(path: Path, sample_shape: tuple[int, ...], table: TableFormat) -> np.ndarray:
    from ttrain.data.idx import read_idx
    from ttrain.data.sources import drop_target_column, read_csv_table, read_npy, read_npz_arrays

    suffix = path.suffix.lower()
    if suffix == ".npz":
        return read_npz_arrays(path, ["x"])[0]
    if suffix == ".npy":
        return read_npy(path)
    if suffix in TABLE_DELIMITERS:
        names, values = read_csv_table(path, table.header, TABLE_DELIMITERS[suffix], min_width=1)
        if values.shape[1] == math.prod(sample_shape) + 1:  # a training-style file: its targets too
            values = drop_target_column(path, values, names, table.target_column)
        return values
    if suffix in IMAGE_SUFFIXES:
        return read_image(path, sample_shape)[None]
    return read_idx(path)


def image_layout(sample_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(channels, height, width) of a model's samples: (C, H, W), (H, W), or a flat square (784 = 28 x 28)."""
    if len(sample_shape) == 3 and sample_shape[0] in (1, 3):
        return sample_shape[0], sample_shape[1], sample_shape[2]
    if len(sample_shape) == 2:
        return 1, sample_shape[0], sample_shape[1]
    side = math.isqrt(math.prod(sample_shape))
    if len(sample_shape) == 1 and side * side == sample_shape[0]:
        return 1, side, side
    raise ValueError(f"the model's inputs {sample_shape} are not an image (expected (C, H, W), (H, W) or a square)")


def read_image(path: Path, sample_shape: tuple[int, ...]) -> np.ndarray:
    """One PNG or JPEG file as a uint8 array of ``(channels, height, width)`` for the model's inputs."""
    try:
        from PIL import Image
    except ImportError:
        raise DataError(f"{path}: {PILLOW_HINT}") from None
    try:
        channels, height, width = image_layout(sample_shape)
    except ValueError as error:
        raise DataError(f"{path}: {error}") from None
    raw = read_input(path, DATA, file_problem(path))
    try:
        with Image.open(io.BytesIO(raw)) as image:
            image = image.convert("L" if channels == 1 else "RGB")
            if image.size != (width, height):
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise DataError(f"{path}: not a readable image ({error})") from None
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
