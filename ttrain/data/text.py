"""Character-level language-modelling data from a user's UTF-8 text file.

The file is read whole (through ``ttrain.input_files``: a regular file within the data size limit),
its characters become the vocabulary (sorted by code point, so the same text always gives the same
indices), and the encoded text is cut by position into training, validation and test parts: the
validation and test text come after the training text, as a model of text is judged on text it has
not seen rather than on windows interleaved with its training windows. Each part is cut into windows
of ``seq_len`` characters, whose targets are the same windows shifted by one character (the next
character at every position). The windows are views into one encoded array, so memory stays one
int64 per character whatever the stride. Nothing is random: the split and windows depend on the
file and the arguments alone (the trainer's seeded stream shuffles the windows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ttrain.data.dataset import ArrayDataset
from ttrain.data.errors import DataError, file_problem
from ttrain.input_files import DATA, read_input


class TextWindows(ArrayDataset):
    """Windows of encoded text: features (N, seq_len) int64 character indices, targets the next characters.

    ``vocabulary`` holds the characters in index order (index ``i`` is ``vocabulary[i]``);
    ``num_classes`` is its length, so a model's output width is read from the data.
    """

    def __init__(self, encoded: np.ndarray, seq_len: int, stride: int, vocabulary: str) -> None:
        windows = np.lib.stride_tricks.sliding_window_view(encoded, seq_len + 1)[::stride]
        super().__init__(windows[:, :-1], windows[:, 1:], num_classes=len(vocabulary))
        self.vocabulary = vocabulary

    def __repr__(self) -> str:
        return f"TextWindows({len(self)} windows of {self.features.shape[1]} characters, vocabulary of {len(self.vocabulary)})"


def read_text(path: str | Path) -> str:
    """The content of the UTF-8 file ``path`` (a leading byte-order mark dropped); a file that is
    not UTF-8 is a DataError naming the byte offset and what it holds."""
    raw = read_input(path, DATA, file_problem(path))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(f"{path}: not UTF-8 text: byte {error.start} (line {line}) is "
                        f"{raw[error.start:error.start + 1]!r} ({error.reason}); save the file as UTF-8") from None


def build_vocabulary(text: str) -> str:
    """Every distinct character of ``text``, sorted by code point."""
    return "".join(sorted(set(text)))


def unknown_characters(text: str, vocabulary: str) -> list[str]:
    """The distinct characters of ``text`` that ``vocabulary`` lacks, in order of first appearance."""
    known = set(vocabulary)
    return list(dict.fromkeys(c for c in text if c not in known))


def encode(text: str, vocabulary: str) -> np.ndarray:
    """``text`` as int64 indices into ``vocabulary``; a character it lacks is a ValueError naming it."""
    missing = unknown_characters(text, vocabulary)
    if missing:
        raise ValueError(f"characters not in the vocabulary: {', '.join(map(repr, missing))}")
    # Index through a code-point table: one vectorised lookup instead of a dict call per character.
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    table = np.zeros(max(map(ord, vocabulary), default=0) + 1, dtype=np.int64)
    table[[ord(c) for c in vocabulary]] = np.arange(len(vocabulary))
    return table[codes] if len(codes) else np.zeros(0, dtype=np.int64)


def decode(indices: Sequence[int] | np.ndarray, vocabulary: str) -> str:
    """The characters of ``indices`` in ``vocabulary``."""
    return "".join(vocabulary[int(i)] for i in indices)


def split_by_position(length: int, fractions: Sequence[float]) -> list[int]:
    """Boundaries cutting ``length`` characters into consecutive parts of the given fractions (the
    first part takes the rest): ``[0, b1, b2, ..., length]``."""
    tail = [int(round(length * f)) for f in fractions]
    bounds = [length - sum(tail)]
    for size in tail:
        bounds.append(bounds[-1] + size)
    return [0, *bounds]


def text_splits(path: Path, seq_len: int, stride: int | None, val_fraction: float,
                test_fraction: float) -> dict[str, TextWindows]:
    """`train`, `val` and `test` windows of the file ``path`` (see the module docstring); with no
    test fraction the test split is the validation split (what `ttrain eval` reads by default)."""
    if seq_len < 1:
        raise DataError(f"{path}: seq_len must be at least 1, got {seq_len}")
    stride = seq_len if stride is None else stride
    if stride < 1:
        raise DataError(f"{path}: stride must be at least 1, got {stride}")
    if not 0 < val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise DataError(f"{path}: val_fraction ({val_fraction}) must lie in (0, 1) and test_fraction ({test_fraction}) "
                        "in [0, 1), leaving some text to train on")
    text = read_text(path)
    vocabulary = build_vocabulary(text)
    if len(vocabulary) < 2:
        raise DataError(f"{path}: a language model needs at least two distinct characters, the file has "
                        f"{len(vocabulary)}")
    encoded = encode(text, vocabulary)
    fractions = [val_fraction] + ([test_fraction] if test_fraction > 0 else [])
    bounds = split_by_position(len(encoded), fractions)
    names = ["train", "val", "test"][: len(bounds) - 1]
    splits = {}
    for name, start, end in zip(names, bounds, bounds[1:]):
        if end - start < seq_len + 1:
            raise DataError(
                f"{path}: too short: its {name} part (characters {start} to {end} of {len(encoded)}) holds "
                f"{end - start} characters, fewer than the seq_len + 1 = {seq_len + 1} one window needs; "
                "use a longer text or a smaller seq_len"
            )
        splits[name] = TextWindows(encoded[start:end], seq_len, stride, vocabulary)
    splits.setdefault("test", splits["val"])
    return splits
