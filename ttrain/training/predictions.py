"""What `ttrain predict` writes: class probabilities and predicted classes, as `.npz` or CSV.

CSV (``-o preds.csv``, or ``-o -`` for stdout) has one row per input sample: ``file`` and ``row``
(where the sample came from: its row in a table or array file, 0 for an image), ``prediction``
(the most probable class) and ``p_0 ... p_<k-1>`` (each class's probability, as float32 prints).
An ``.npz`` holds ``probabilities`` ``(n, k)``, ``predictions`` ``(n,)`` and ``files``, ``rows``.

Nothing is ever overwritten unless asked: a given output that exists is an error without
``overwrite``, and the default name (``<input>.predictions.npz`` beside the first input) moves
on to ``<input>.predictions-2.npz``, ``-3``, ... claiming the name before writing to it.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ttrain.data.errors import DataError

CSV_SUFFIX = ".csv"
DEFAULT_SUFFIX = ".predictions.npz"


@dataclass(frozen=True)
class Predictions:
    """Class probabilities ``(n, classes)`` of n samples, and the file and row each sample came from."""

    probabilities: np.ndarray
    files: list[str]
    rows: list[int]

    @property
    def classes(self) -> np.ndarray:
        """The most probable class of each sample."""
        return self.probabilities.argmax(axis=1)

    def csv_text(self) -> str:
        """The CSV described in the module's docstring."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["file", "row", "prediction", *(f"p_{k}" for k in range(self.probabilities.shape[1]))])
        for file, row, label, probabilities in zip(self.files, self.rows, self.classes, self.probabilities):
            writer.writerow([file, row, int(label), *(str(p) for p in probabilities)])  # float32's shortest repr
        return buffer.getvalue()

    def npz_bytes(self) -> bytes:
        """The ``.npz`` described in the module's docstring."""
        buffer = io.BytesIO()
        np.savez(buffer, probabilities=self.probabilities, predictions=self.classes,
                 files=np.array(self.files), rows=np.array(self.rows, dtype=np.int64))
        return buffer.getvalue()


def default_output(first_input: Path) -> Path:
    """A fresh ``<input>.predictions[-n].npz`` beside ``first_input``, created empty to claim it."""
    stem = first_input.with_name(first_input.name.split(".")[0] + DEFAULT_SUFFIX.removesuffix(".npz"))
    for number in range(1, 10_000):
        candidate = stem.with_name(stem.name + (f"-{number}" if number > 1 else "") + ".npz")
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        except OSError as error:
            raise DataError(f"{candidate}: cannot write the predictions: {error.strerror or error}") from None
        return candidate
    raise DataError(f"{stem}-*.npz: no free name for the predictions; give one with -o")


def refuse_existing(output: Path, overwrite: bool) -> None:
    """A DataError if ``output`` exists and may not be replaced."""
    if output.exists() and not overwrite:
        raise DataError(f"{output}: already exists; not overwriting it (pass --overwrite to replace it)")


def save_predictions(predictions: Predictions, output: Path, overwrite: bool = False, claimed: bool = False) -> None:
    """Write ``predictions`` to ``output``: CSV for ``.csv``, else ``.npz``; atomically. An existing
    ``output`` is an error unless ``overwrite`` (or ``claimed``: ``default_output`` made it, empty)."""
    from ttrain.training.checkpoint import atomic_write_bytes

    refuse_existing(output, overwrite or claimed)
    data = predictions.csv_text().encode() if output.suffix.lower() == CSV_SUFFIX else predictions.npz_bytes()
    try:
        atomic_write_bytes(output, data)
    except OSError as error:
        if claimed:
            output.unlink(missing_ok=True)
        raise DataError(f"{output}: cannot write the predictions: {error.strerror or error}") from None
