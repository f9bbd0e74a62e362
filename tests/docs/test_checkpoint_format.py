"""docs/checkpoint-format.md describes real checkpoints: its key tables are exactly what `ttrain fit`
writes, and its reading example (safetensors and hashlib, no ttrain) verifies one."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ttrain.cli.app import app

from .helpers import DOCS, FENCED_PYTHON, table_keys

PAGE = (DOCS / "checkpoint-format.md").read_text(encoding="utf-8")
CONFIG = """\
model: {layers: [{linear: {out_features: 8}}, {batch_norm1d: {}}, relu, {linear: {out_features: 2}}]}
data: {name: spirals, n_train: 64, n_test: 32}
optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
scheduler: {name: step, step_size: 1}
trainer: {epochs: 1, batch_size: 16, val_split: 0.25, output_dir: %s}
"""


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("format")
    (folder / "c.yaml").write_text(CONFIG % (folder / "runs"), encoding="utf-8")
    result = CliRunner().invoke(app, ["fit", str(folder / "c.yaml"), "--json", "-q"])
    assert result.exit_code == 0, result.stderr
    return Path(json.loads(result.stdout)["checkpoints"]["last"])


def _header(path: Path) -> dict:
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + length])


def test_documented_header_fields_are_the_files(checkpoint: Path) -> None:
    assert sorted(table_keys(PAGE, "## The header's `__metadata__`")) == sorted(_header(checkpoint)["__metadata__"])


def test_documented_metadata_keys_are_the_checkpoints(checkpoint: Path) -> None:
    metadata = json.loads(_header(checkpoint)["__metadata__"]["metadata"])
    assert sorted(table_keys(PAGE, "## The metadata JSON")) == sorted(metadata)


def test_documented_required_keys_and_prefixes_are_the_readers(checkpoint: Path) -> None:
    from ttrain.training.checkpoint import FORMAT_NAME, FORMAT_VERSION, REQUIRED_METADATA

    assert f"`format` | `\"{FORMAT_NAME}\"`" in PAGE and f"format version **{FORMAT_VERSION}**" in PAGE
    assert ", ".join(f"`{k}`" for k in REQUIRED_METADATA[:-1]) + f" and `{REQUIRED_METADATA[-1]}` are in" in PAGE
    prefixes = {name.split(".", 1)[0] + "." for name in _header(checkpoint) if name != "__metadata__"}
    assert prefixes <= set(table_keys(PAGE, "## Tensor names"))


def test_the_reading_example_verifies_a_real_checkpoint_and_catches_a_change(checkpoint: Path, tmp_path: Path,
                                                                              capsys) -> None:
    (example,) = FENCED_PYTHON.findall(PAGE)
    exec(example, {"path": str(checkpoint)})
    assert "['0.bias', '0.weight', '1.bias'" in capsys.readouterr().out
    damaged = bytearray(checkpoint.read_bytes())
    damaged[-1] ^= 0xFF  # one bit of the last tensor
    (tmp_path / "damaged.safetensors").write_bytes(bytes(damaged))
    with pytest.raises(AssertionError):
        exec(example, {"path": str(tmp_path / "damaged.safetensors")})
