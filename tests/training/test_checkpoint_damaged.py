"""Damaged and foreign checkpoint files: each is a CheckpointError naming the file and the problem."""

from __future__ import annotations

import gzip
import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save as safetensors_save

from ttrain.training.checkpoint import (
    CheckpointError, load_checkpoint, merge_state, save_checkpoint, split_state, tensors_sha256,
)
from ttrain.training.checkpoint import _text_sha256 as text_sha256

TENSORS = {"model.fc.weight": np.arange(12, dtype=np.float32).reshape(3, 4), "model.fc.bias": np.ones(3, np.float32)}
STATE_TENSORS, STATE = split_state({"state": {0: {"exp_avg": np.full(4, 2.0, np.float32)}}}, "optimizer")
METADATA = {"config": {"name": "demo"}, "epoch": 1, "global_step": 10, "optimizer": STATE}


def good_bytes(tmp: Path) -> bytes:
    return save_checkpoint(tmp / "good.safetensors", {**TENSORS, **STATE_TENSORS}, METADATA).read_bytes()


def header_length(raw: bytes) -> int:
    return int.from_bytes(raw[:8], "little")


def flip(raw: bytes, offset: int, bit: int = 0) -> bytes:
    return raw[:offset] + bytes([raw[offset] ^ (1 << bit)]) + raw[offset + 1:]


def forge(tensors: dict, metadata: dict, version: str = "1", meta_version: int | None = None, extra: str = "") -> bytes:
    """A file whose checksums are all consistent, with whatever content a case needs.

    ``extra`` is JSON text for more metadata fields (``"x": ...``), for values json.dumps cannot write.
    """
    full = {"format_version": meta_version if meta_version is not None else int(version) if version.isdigit() else 1,
            "ttrain_version": "0.0-test", "tensors_sha256": tensors_sha256(tensors), **metadata}
    text = json.dumps(full)
    text = text[:-1] + ", " + extra + "}" if extra else text
    header = {"format": "ttrain.checkpoint", "format_version": version, "metadata": text, "metadata_sha256": text_sha256(text)}
    return safetensors_save(tensors, metadata=header)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def replace_header(raw: bytes, header: bytes) -> bytes:
    return len(header).to_bytes(8, "little") + header + raw[8 + header_length(raw):]


def offset_of(raw: bytes, needle: bytes) -> int:
    index = raw.index(needle, 8)
    assert index < 8 + header_length(raw)
    return index


def pickled(protocol: int) -> Callable[[bytes], bytes]:
    return lambda raw: pickle.dumps({"model": [1.0, 2.0]}, protocol=protocol)


def zipped(raw: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    return buffer.getvalue()


def npy(raw: bytes) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    return buffer.getvalue()


ALL = {**TENSORS, **STATE_TENSORS}
CASES: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "empty file": (lambda raw: b"", r"is empty \(0 bytes\)"),
    "pickle renamed .safetensors": (pickled(4), r"is a Python pickle \(a torch.save or pickle.dump file\?\), not a safetensors checkpoint; ttrain never unpickles"),
    "old pickle protocol 2": (pickled(2), r"is a Python pickle"),
    "zip renamed .safetensors": (zipped, r"is a zip archive \(a PyTorch .pt/.pth file\?\), not a safetensors checkpoint"),
    "npy renamed .safetensors": (npy, r"is a NumPy .npy file, not a safetensors checkpoint"),
    "gzip renamed .safetensors": (lambda raw: gzip.compress(raw), r"is a gzip file"),
    "truncated to 5 bytes": (lambda raw: raw[:5], r"is truncated: 5 bytes is too short for a safetensors header"),
    "truncated inside the header": (lambda raw: raw[:8 + header_length(raw) // 2], r"is truncated or damaged: the header needs \d+ bytes"),
    "truncated at the end of the header": (lambda raw: raw[:8 + header_length(raw)], r"is truncated: the tensors need 76 bytes of data, the file has 0"),
    "truncated inside the data": (lambda raw: raw[:-10], r"is truncated: the tensors need 76 bytes of data, the file has 66"),
    "truncated by one byte": (lambda raw: raw[:-1], r"is truncated: the tensors need 76 bytes of data, the file has 75"),
    "bytes appended": (lambda raw: raw + b"\0" * 4, r"is damaged: 4 unexpected bytes after the tensor data"),
    "header length zero": (lambda raw: (0).to_bytes(8, "little") + raw[8:], r"is not a safetensors file \(impossible header length 0\)"),
    "header length huge": (lambda raw: (2**60).to_bytes(8, "little") + raw[8:], r"impossible header length 1152921504606846976"),
    "header length too short": (lambda raw: (header_length(raw) - 9).to_bytes(8, "little") + raw[8:], r"its header is not valid JSON"),
    "header length too long": (lambda raw: (header_length(raw) + 3).to_bytes(8, "little") + raw[8:], r"its header is not valid JSON"),
    "header not JSON": (lambda raw: replace_header(raw, b"<xml>" + b" " * (header_length(raw) - 5)), r"its header is not valid JSON"),
    "header not UTF-8": (lambda raw: flip(raw, 8, 7), r"its header is not valid JSON"),
    "header a JSON list": (lambda raw: replace_header(raw, b"[1, 2]  "), r"its header is not a JSON object"),
    "bit flip in a dtype": (lambda raw: flip(raw, offset_of(raw, b'"F32"') + 2), r"the header entry of tensor '[\w.]+' is malformed"),
    "bit flip in a shape": (lambda raw: flip(raw, offset_of(raw, b'"shape":[3,4]') + 9), r"tensor 'model.fc.weight' has offsets that do not match its shape and dtype"),
    "bit flip in the offsets": (lambda raw: flip(raw, offset_of(raw, b'"data_offsets":[0,') + 16), r"does not start where the previous one ends|has offsets that do not match"),
    "bit flip in the header padding": (lambda raw: flip(raw, 8 + header_length(raw) - 1), r"its header is not valid JSON"),
    "bit flip in the metadata": (lambda raw: flip(raw, offset_of(raw, b"global_step") + 3), r"is damaged: its metadata does not match its checksum"),
    "bit flip in the tensor data": (lambda raw: flip(raw, len(raw) - 3, 5), r"is damaged: the tensor data does not match its SHA-256"),
    "bit flip in the first data byte": (lambda raw: flip(raw, 8 + header_length(raw)), r"the tensor data does not match its SHA-256"),
    "no metadata (a plain safetensors file)": (lambda raw: safetensors_save(TENSORS), r"is a safetensors file but not a ttrain checkpoint"),
    "another tool's safetensors metadata": (lambda raw: safetensors_save(TENSORS, metadata={"format": "pt"}), r"not a ttrain checkpoint"),
    "a tensor removed": (lambda raw: safetensors_save({k: v for k, v in ALL.items() if k != "model.fc.bias"}, metadata=_header_fields(raw)),
                         r"the tensor data does not match its SHA-256"),
    "a tensor swapped for another": (lambda raw: safetensors_save({**ALL, "model.fc.bias": np.zeros(3, np.float32)}, metadata=_header_fields(raw)),
                                     r"the tensor data does not match its SHA-256"),
    "a referenced tensor missing (hash recomputed)": (lambda raw: forge(TENSORS, METADATA), r"lacks tensors its metadata refers to: optimizer.state.0.exp_avg"),
    "hash in metadata wrong": (lambda raw: forge(ALL, {**METADATA, "tensors_sha256": "0" * 64}), r"the tensor data does not match its SHA-256"),
    "metadata checksum missing": (lambda raw: safetensors_save(ALL, metadata={k: v for k, v in _header_fields(raw).items() if k != "metadata_sha256"}),
                                  r"its metadata does not match its checksum"),
    "newer format version": (lambda raw: forge(ALL, METADATA, version="2"), r"was written by a newer ttrain \(checkpoint format 2; this ttrain .* reads format 1 and older\): upgrade ttrain"),
    "format version not a number": (lambda raw: forge(ALL, METADATA, version="one"), r"format version 'one' is not a number"),
    "format versions disagree": (lambda raw: forge(ALL, METADATA, meta_version=0), r"the format version in the header and in the metadata differ"),
    "required metadata missing": (lambda raw: forge(ALL, {k: v for k, v in METADATA.items() if k not in ("epoch", "config")}),
                                  r"lacks required metadata: config, epoch"),
    # Past the limits: safetensors' own header size, Python's recursion and integer-string limits.
    "header length past safetensors' limit": (lambda raw: (100_000_001).to_bytes(8, "little") + raw[8:],
                                              r"impossible header length 100000001: safetensors allows at most 100,000,000 bytes"),
    "header nested 10,000 deep": (lambda raw: replace_header(raw, b'{"a": ' + nested(10_000).encode() + b"}"),
                                  r"its header nests too deeply"),
    "header with a 10,000-digit number": (lambda raw: replace_header(raw, b'{"a": ' + b"9" * 10_000 + b"}"),
                                          r"its header holds a number too long to read"),
    "header listing 100,001 tensors": (lambda raw: replace_header(raw, ("{" + ",".join(f'"t{i}":0' for i in range(100_001)) + "}").encode()),
                                       r"its header lists 100,001 tensors \(at most 100,000\)"),
    "metadata nested 10,000 deep (hash recomputed)": (lambda raw: forge(ALL, METADATA, extra='"x": ' + nested(10_000)),
                                                      r"its metadata nests deeper than 200 levels"),
    "state skeleton nested 201 deep (hash recomputed)": (lambda raw: forge(ALL, {**METADATA, "optimizer": json.loads(nested(200))}),
                                                         r"its metadata nests deeper than 200 levels"),
    "metadata with a 10,000-digit number (hash recomputed)": (lambda raw: forge(ALL, METADATA, extra='"x": ' + "9" * 10_000),
                                                              r"its metadata holds a number too long to read"),
}


def _header_fields(raw: bytes) -> dict[str, str]:
    return json.loads(raw[8:8 + header_length(raw)])["__metadata__"]


def test_there_are_at_least_twenty_damaged_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_damaged_checkpoint(case: str, tmp_path: Path) -> None:
    damage, message = CASES[case]
    path = tmp_path / "bad.safetensors"
    path.write_bytes(damage(good_bytes(tmp_path)))
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(path)
    assert str(info.value).startswith(f"checkpoint {path}: ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"^checkpoint .*nope.safetensors: no such checkpoint file$"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_a_skeleton_as_deep_as_the_limit_loads_and_merges(tmp_path: Path) -> None:
    deepest = json.loads(nested(198))  # under "optimizer", under the metadata object: 200 levels
    path = tmp_path / "deep.safetensors"
    path.write_bytes(forge(ALL, {**METADATA, "optimizer": deepest}))
    _, metadata = load_checkpoint(path)
    assert merge_state(metadata["optimizer"], {}) == deepest


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "big.safetensors"
    path.write_bytes(good_bytes(tmp_path))
    monkeypatch.setenv("TTRAIN_MAX_CHECKPOINT_BYTES", "100")
    with pytest.raises(CheckpointError, match=rf"^checkpoint {path}: is \d+ bytes, over the 100 bytes limit for a checkpoint "
                                              r"file \(set TTRAIN_MAX_CHECKPOINT_BYTES to raise it\)$"):
        load_checkpoint(path)
    monkeypatch.setenv("TTRAIN_MAX_CHECKPOINT_BYTES", "1G")
    assert load_checkpoint(path)[1]["epoch"] == 1


def test_directory_instead_of_a_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"is a directory, not a checkpoint file"):
        load_checkpoint(tmp_path)


def test_a_real_torch_save_file_is_named_as_such(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.safetensors"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match=r"is a zip archive \(a PyTorch .pt/.pth file\?\)"):
        load_checkpoint(path)


def test_loading_never_unpickles(tmp_path: Path, monkeypatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle was used")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    path = tmp_path / "bad.safetensors"
    path.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    path.write_bytes(good_bytes(tmp_path))
    assert load_checkpoint(path)[1]["epoch"] == 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_single_bit_flip_is_detected(tmp_path: Path, data: st.DataObject) -> None:
    raw = good_bytes(tmp_path)
    offset = data.draw(st.integers(0, len(raw) - 1), label="offset")
    bit = data.draw(st.integers(0, 7), label="bit")
    path = tmp_path / "flipped.safetensors"
    path.write_bytes(flip(raw, offset, bit))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_truncation_is_detected(tmp_path: Path, data: st.DataObject) -> None:
    raw = good_bytes(tmp_path)
    length = data.draw(st.integers(0, len(raw) - 1), label="length")
    path = tmp_path / "short.safetensors"
    path.write_bytes(raw[:length])
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
