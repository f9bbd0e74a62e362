"""The one error type for bad data: a missing, damaged or malformed file, or an inconsistent dataset."""

from __future__ import annotations

from os import PathLike
from typing import Callable


class DataError(ValueError):
    """A user's data cannot be read or used; the message names the file (or dataset) and the problem."""


def file_problem(path: str | PathLike[str]) -> Callable[[str], DataError]:
    """Problems with the file ``path`` as DataErrors (``"path: problem"``), e.g. for ``ttrain.input_files``."""
    return lambda problem: DataError(f"{path}: {problem}")
