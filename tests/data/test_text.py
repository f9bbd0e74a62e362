"""The `text` dataset: vocabulary, windows of next-character targets, split by position, and the
problems a user's file can have."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ttrain.config import resolve
from ttrain.data import DataError
from ttrain.data.text import build_vocabulary, decode, encode, split_by_position, unknown_characters


def text_data(tmp_path: Path, content: str | bytes, **kwargs):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return resolve("datasets", "text")(path=path, **kwargs)


def test_vocabulary_is_every_character_sorted_and_encoding_round_trips() -> None:
    text = "héllo, wörld\n"
    vocabulary = build_vocabulary(text)
    assert vocabulary == "".join(sorted(set(text))) and len(vocabulary) == 11
    encoded = encode(text, vocabulary)
    assert encoded.dtype == np.int64 and decode(encoded, vocabulary) == text
    assert unknown_characters("hållo Z!", vocabulary) == ["å", "Z", "!"]
    with pytest.raises(ValueError, match="'x', 'Z', '!'"):
        encode("hxllo Z!", vocabulary)


def test_windows_predict_the_next_character_and_split_by_position(tmp_path: Path) -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    splits = text_data(tmp_path, text, seq_len=10)
    train, val, test = splits["train"], splits["val"], splits["test"]
    assert test is val  # no test_fraction: `ttrain eval` reads the validation text
    assert train.num_classes == 26 and train.input_shape == (10,) and train.vocabulary == build_vocabulary(text)
    x, y = train.get_batch(np.arange(len(train)))
    assert x.dtype == np.int64 and x.shape == (len(train), 10)
    np.testing.assert_array_equal(y[:, :-1], x[:, 1:])  # targets: the inputs shifted by one
    # Train: the first 900 characters in windows of 10 (+1 for the last target), no overlap.
    assert len(train) == (900 - 1) // 10
    assert decode(x[0], train.vocabulary) == text[:10] and decode(x[1], train.vocabulary) == text[10:20]
    vx, _ = val.get_batch(np.arange(len(val)))
    assert decode(vx[0], val.vocabulary) == text[900:910] and len(val) == (100 - 1) // 10


def test_fractions_stride_and_a_test_part_are_configurable(tmp_path: Path) -> None:
    text = "ab" * 500
    splits = text_data(tmp_path, text, seq_len=4, stride=1, val_fraction=0.2, test_fraction=0.1)
    assert split_by_position(1000, [0.2, 0.1]) == [0, 700, 900, 1000]
    assert [len(splits[s]) for s in ("train", "val", "test")] == [700 - 4, 200 - 4, 100 - 4]
    assert splits["test"] is not splits["val"]


def test_the_split_is_the_same_every_time(tmp_path: Path) -> None:
    first = text_data(tmp_path, "the quick brown fox jumps over the lazy dog\n" * 40, seq_len=16)
    again = text_data(tmp_path, "the quick brown fox jumps over the lazy dog\n" * 40, seq_len=16)
    for split in ("train", "val"):
        np.testing.assert_array_equal(first[split].features, again[split].features)


def test_a_byte_order_mark_is_not_a_character(tmp_path: Path) -> None:
    splits = text_data(tmp_path, "\ufeff" + "abc" * 100, seq_len=5)
    assert splits["train"].vocabulary == "abc"


@pytest.mark.parametrize("content, kwargs, problem", [
    (b"ok \xff\xfe then\n" * 50, {}, "not UTF-8 text: byte 3 (line 1)"),
    ("x" * 500, {}, "at least two distinct characters"),
    ("ab" * 50, {"seq_len": 95}, "too short: its train part"),
    ("ab" * 50, {"seq_len": 8, "val_fraction": 0.05}, "too short: its val part"),
    ("ab" * 50, {"val_fraction": 0.6, "test_fraction": 0.5}, "leaving some text to train on"),
])
def test_a_file_that_cannot_be_modelled_names_itself_and_the_problem(tmp_path: Path, content, kwargs, problem) -> None:
    with pytest.raises(DataError, match="corpus.txt") as error:
        text_data(tmp_path, content, **kwargs)
    assert problem in str(error.value)


def test_a_missing_file_or_a_directory_is_a_data_error(tmp_path: Path) -> None:
    factory = resolve("datasets", "text")
    with pytest.raises(DataError, match="no such data file"):
        factory(path=tmp_path / "absent.txt")
    with pytest.raises(DataError, match="is a directory"):
        factory(path=tmp_path)
