"""The checkpoint file: round trip, nested state, hashing, atomic saving."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load as safetensors_load

from ttrain.training import checkpoint as ckpt
from ttrain.training.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    load_checkpoint,
    merge_state,
    save_checkpoint,
    split_state,
    tensors_sha256,
)
from ttrain.training.write_errors import OutputWriteError


def optimizer_state() -> dict:
    """A state dict shaped like an optimizer's: int keys, arrays beside scalars, tuples."""
    return {
        "state": {0: {"step": 3, "exp_avg": np.full((2, 3), 0.5, np.float32)},
                  1: {"step": 3, "exp_avg": np.zeros(3, np.float32)}},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "weight_decay": 0.0, "params": [0, 1], "amsgrad": False}],
    }


def sample() -> tuple[dict[str, np.ndarray], dict]:
    rng = np.random.default_rng(0)
    model = {"fc.weight": rng.standard_normal((2, 3)).astype(np.float32), "fc.bias": np.zeros(2, np.float32),
             "bn.num_batches_tracked": np.array(7, np.int64)}
    model_tensors, model_skeleton = split_state(model, "model")
    optimizer_tensors, optimizer_skeleton = split_state(optimizer_state(), "optimizer")
    metadata = {
        "config": {"name": "demo", "trainer": {"epochs": 3}},
        "epoch": 2,
        "global_step": 40,
        "metrics": {"val.loss": 0.25, "val.accuracy": 0.9, "train.loss": float("nan")},
        "rng": {"bit_generator": "PCG64", "state": {"state": 2**127 + 12345, "inc": 2**64 + 1}},
        "model": model_skeleton,
        "optimizer": optimizer_skeleton,
    }
    return {**model_tensors, **optimizer_tensors}, metadata


def test_round_trip_keeps_every_tensor_and_all_metadata(tmp_path: Path) -> None:
    tensors, metadata = sample()
    path = save_checkpoint(tmp_path / "checkpoints" / "last.safetensors", tensors, metadata)
    loaded, meta = load_checkpoint(path)
    assert sorted(loaded) == sorted(tensors) == [
        "model.bn.num_batches_tracked", "model.fc.bias", "model.fc.weight",
        "optimizer.state.0.exp_avg", "optimizer.state.1.exp_avg"]
    for name, array in tensors.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        np.testing.assert_array_equal(loaded[name], array)
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["tensors_sha256"] == tensors_sha256(tensors)
    assert isinstance(meta["ttrain_version"], str)
    assert meta["rng"]["state"]["state"] == 2**127 + 12345  # big integers survive JSON
    assert np.isnan(meta["metrics"]["train.loss"])
    assert {k: meta[k] for k in ("config", "epoch", "global_step")} == {k: metadata[k] for k in ("config", "epoch", "global_step")}


def test_nested_state_splits_and_merges_back_exactly(tmp_path: Path) -> None:
    tensors, metadata = sample()
    save_checkpoint(tmp_path / "c.safetensors", tensors, metadata)
    loaded, meta = load_checkpoint(tmp_path / "c.safetensors")
    state = merge_state(meta["optimizer"], loaded)
    expected = optimizer_state()
    assert list(state["state"]) == [0, 1]  # int keys, not "0", "1"
    assert state["param_groups"] == expected["param_groups"]  # the betas tuple stays a tuple
    np.testing.assert_array_equal(state["state"][0]["exp_avg"], expected["state"][0]["exp_avg"])
    model = merge_state(meta["model"], loaded)
    assert sorted(model) == ["bn.num_batches_tracked", "fc.bias", "fc.weight"]


def test_it_is_a_plain_safetensors_file_with_json_metadata(tmp_path: Path) -> None:
    tensors, metadata = sample()
    path = save_checkpoint(tmp_path / "c.safetensors", tensors, metadata)
    raw = path.read_bytes()
    assert sorted(safetensors_load(raw)) == sorted(tensors)  # any safetensors reader opens it
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    fields = header["__metadata__"]
    assert fields["format"] == "ttrain.checkpoint" and fields["format_version"] == str(FORMAT_VERSION)
    assert json.loads(fields["metadata"])["epoch"] == 2


def test_split_state_accepts_objects_with_a_numpy_method() -> None:
    class FakeTensor:
        def numpy(self) -> np.ndarray:
            return np.ones(2, np.float32)

    tensors, skeleton = split_state({"w": FakeTensor(), "step": np.int64(4)}, "p")
    assert list(tensors) == ["p.w"] and skeleton == {"w": {"__tensor__": "p.w"}, "step": 4}


@pytest.mark.parametrize(
    ("state", "error"),
    [({"__tensor__": 1}, "reserved"), ({"a": object()}, "cannot store a object"), ({(1, 2): 3}, "cannot store a tuple key"),
     ({"a.b": np.zeros(1), "a": {"b": np.zeros(1)}}, "two values would be stored under the tensor name 'x.a.b'")],
)
def test_split_state_refuses_what_it_cannot_round_trip(state: dict, error: str) -> None:
    with pytest.raises((TypeError, ValueError), match=error):
        split_state(state, "x")


def test_hash_covers_names_dtypes_shapes_and_bytes() -> None:
    base = {"a": np.arange(6, dtype=np.int32)}
    digest = tensors_sha256(base)
    assert tensors_sha256({"a": np.arange(6, dtype=np.int32)}) == digest
    assert tensors_sha256({"b": base["a"]}) != digest
    assert tensors_sha256({"a": base["a"].reshape(2, 3)}) != digest
    assert tensors_sha256({"a": base["a"].view(np.float32)}) != digest
    assert tensors_sha256({"a": base["a"][::-1].copy()}) != digest
    # Layout and byte order do not matter, only values.
    assert tensors_sha256({"a": base["a"].astype(">i4")}) == digest
    assert tensors_sha256({"m": np.asfortranarray(np.ones((2, 2)))}) == tensors_sha256({"m": np.ones((2, 2))})


@pytest.mark.parametrize(
    ("tensors", "metadata", "error"),
    [
        ({}, {"epoch": 1, "global_step": 1}, "metadata lacks config"),
        ({"a": np.array(["x"])}, {"config": {}, "epoch": 0, "global_step": 0}, "tensor 'a' has dtype <U1"),
        ({"a": np.zeros(1, np.complex64)}, {"config": {}, "epoch": 0, "global_step": 0}, "dtype complex64"),
        ({}, {"config": {"x": {1, 2}}, "epoch": 0, "global_step": 0}, "metadata is not JSON-able"),
        ({}, {"config": {}, "epoch": 0, "global_step": 0, "s": {"__tensor__": "gone"}}, "refers to tensors that are not given: gone"),
        ({"__metadata__": np.zeros(1)}, {"config": {}, "epoch": 0, "global_step": 0}, "invalid tensor name"),
    ],
)
def test_save_refuses_bad_input_and_writes_nothing(tmp_path: Path, tensors: dict, metadata: dict, error: str) -> None:
    with pytest.raises(CheckpointError, match=error):
        save_checkpoint(tmp_path / "c.safetensors", tensors, metadata)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_save_leaves_the_previous_file_intact_and_no_temporary_file(tmp_path: Path, monkeypatch) -> None:
    tensors, metadata = sample()
    path = save_checkpoint(tmp_path / "last.safetensors", tensors, metadata)
    before = path.read_bytes()

    def write_half_then_fail(file, data: bytes) -> None:
        file.write(data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt, "_write_all", write_half_then_fail)
    with pytest.raises(OutputWriteError, match=r"^cannot write checkpoint .*last.safetensors: No space left on device$"):
        save_checkpoint(path, tensors, {**metadata, "epoch": 3})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.safetensors"]
    assert load_checkpoint(path)[1]["epoch"] == 2


def test_an_interrupt_during_save_also_cleans_up(tmp_path: Path, monkeypatch) -> None:
    tensors, metadata = sample()
    path = save_checkpoint(tmp_path / "last.safetensors", tensors, metadata)

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, tensors, {**metadata, "epoch": 3})
    assert [p.name for p in tmp_path.iterdir()] == ["last.safetensors"]
    assert load_checkpoint(path)[1]["epoch"] == 2


def test_saving_replaces_the_previous_checkpoint(tmp_path: Path) -> None:
    tensors, metadata = sample()
    path = tmp_path / "last.safetensors"
    save_checkpoint(path, tensors, metadata)
    save_checkpoint(path, tensors, {**metadata, "epoch": 3})
    assert load_checkpoint(path)[1]["epoch"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["last.safetensors"]


def test_a_header_length_that_starts_like_a_pickle_still_loads(tmp_path: Path) -> None:
    # Header lengths 0x0280..0x05ff begin with the bytes 0x80 0x02..0x05, a pickle's signature.
    tensors, metadata = {"w": np.zeros(2, np.float32)}, {"config": {}, "epoch": 0, "global_step": 0}
    path = tmp_path / "c.safetensors"
    for pad in range(0, 2048, 7):
        save_checkpoint(path, tensors, {**metadata, "note": "x" * pad})
        raw = path.read_bytes()
        if raw[0] == 0x80 and 2 <= raw[1] <= 5:
            break
    else:
        pytest.fail("no padding produced a pickle-like header length")
    assert load_checkpoint(path)[1]["note"] == "x" * pad
