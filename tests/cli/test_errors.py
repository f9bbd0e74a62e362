"""Every way `ttrain fit/eval` can fail on a user's input: exit code, message, no traceback.

Exit codes: 2 bad input (config, data, checkpoint), 1 training failed (NaN loss). The library-level
corpora of bad configs and damaged checkpoints are in tests/config and tests/training; these are
the same errors seen through the command line.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from ttrain.training.checkpoint import load_checkpoint

from .helpers import SPIRALS, assert_fails


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


# ---------------------------------------------------------------- config mistakes


def test_a_missing_config_file(cli, tmp_path: Path) -> None:
    assert_fails(cli("fit", tmp_path / "nope.yaml"), 2, "nope.yaml", "no such config file")


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("trainer.epochs", ["--set trainer.epochs", "no '=' found"]),
        ("trainer.epoch=3", ["trainer.epoch", "unknown key", "did you mean 'epochs'"]),
        ("trainer.epochs=abc", ["trainer.epochs", "expected an integer"]),
        ("optimizer.lr=-1", ["optimizer.lr"]),
        ("optimizer.name=sdg", ["optimizer", "did you mean 'sgd'"]),
    ],
)
def test_a_bad_override(write_config, cli, override: str, fragments: list[str]) -> None:
    assert_fails(cli("fit", write_config(), "--set", override), 2, *fragments)


def test_a_monitor_that_is_never_logged_names_the_key_and_its_line(write_config, cli) -> None:
    config = write_config(SPIRALS + "  early_stopping: {patience: 2, monitor: val.acc}\n")
    line = line_of(config, "monitor: val.acc")
    assert_fails(cli("fit", config), 2, f"{config.name}:{line}", "trainer.early_stopping.monitor", "'val.acc'",
                 "did you mean 'val.accuracy'")


@pytest.mark.parametrize("key", ["checkpoint.monitor", "trainer.early_stopping.monitor"])
def test_a_val_monitor_without_a_validation_split(write_config, cli, out_dir: Path, key: str) -> None:
    result = cli("fit", write_config(), "--set", "trainer.val_split=0", "--set", f"{key}=val.accuracy",
                 "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 2, key, "val.accuracy", "val_split")
    assert not out_dir.exists()  # nothing was created for a run that never started


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("scheduler={name: onecycle, max_lr: 0.1, pct_start: 2.0}", ["scheduler", "pct_start"]),
        ("optimizer={name: adam, betas: [2, 0.9]}", ["optimizer", "beta"]),
        ("loss={name: mse}", ["loss", "mse_loss", "data.one_hot: true"]),
        ("loss={name: cross_entropy, weight: [1, 2, 3]}", ["loss", "weight"]),
        ("model.layers.3.linear.out_features=0", ["model.layers.3"]),
        ("trainer.val_split=0.999", ["trainer.val_split", "empty"]),
    ],
)
def test_arguments_a_component_refuses_are_config_errors(write_config, cli, out_dir: Path, override: str,
                                                       fragments: list[str]) -> None:
    result = cli("fit", write_config(), "--set", override, "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 2, *fragments)


def test_an_output_dir_that_cannot_be_created(write_config, cli) -> None:
    config = write_config()
    result = cli("fit", config, "--set", f"trainer.output_dir={config}")  # a file, not a folder
    assert_fails(result, 2, "trainer.output_dir", f"cannot create a run directory in {config}")


def test_json_errors_are_one_json_object_on_stdout(write_config, cli) -> None:
    result = cli("fit", write_config(), "--json", "--set", "trainer.epoch=3")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["status"] == "error" and report["exit_code"] == 2 and report["command"] == "fit"
    assert (report["error"]["kind"], report["error"]["key"]) == ("config", "trainer.epoch")
    assert "trainer.epoch" in report["error"]["message"]


# ---------------------------------------------------------------- training failures

NAN_LOSS_MODULE = '''
import ttrain.nn as nn


class NanAfterSteps(nn.CrossEntropyLoss):
    """Cross-entropy whose training loss turns NaN after `steps` training steps."""

    def __init__(self, steps: int = 6) -> None:
        super().__init__()
        self.steps = steps
        self.seen = 0

    def forward(self, input, target):
        self.seen += bool(input.requires_grad)  # evaluation runs without a graph
        loss = super().forward(input, target)
        return loss * float("nan") if self.seen > self.steps else loss
'''


def test_a_nan_loss_fails_with_exit_1_and_keeps_what_was_saved(write_config, cli, out_dir: Path) -> None:
    config = write_config(SPIRALS + "loss: {name: 'nan_loss_after_steps:NanAfterSteps', steps: 6}\n")
    (config.parent / "nan_loss_after_steps.py").write_text(NAN_LOSS_MODULE)
    result = cli("fit", config, "--set", "trainer.epochs=3", "--set", f"trainer.output_dir={out_dir}", "--json")
    assert_fails(result, 1, "training failed", "the loss became nan at epoch 2, step 7", "learning rate")
    assert json.loads(result.stdout)["exit_code"] == 1
    run = out_dir / "spirals" / "1"
    # Epoch 1's checkpoints and metrics survive the failure in epoch 2, intact.
    for name in ("last", "best"):
        _, metadata = load_checkpoint(run / "checkpoints" / f"{name}.safetensors")
        assert metadata["epoch"] == 1
    assert (run / "metrics.jsonl").read_text().count("\n") == 1


def test_a_diverging_run_fails_with_exit_1(write_config, cli, out_dir: Path) -> None:
    result = cli("fit", write_config(), "--set", "optimizer.lr=1e10", "--set", "optimizer.momentum=0.9",
                 "--set", "trainer.epochs=20", "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 1, "training failed: the loss became")


# ---------------------------------------------------------------- bad checkpoints


@pytest.fixture
def checkpoint(write_config, fit_json) -> Path:
    return Path(fit_json(write_config(), "--set", "trainer.epochs=1")["checkpoints"]["last"])


def _damaged(checkpoint: Path, kind: str) -> Path:
    path = checkpoint.parent / f"{kind}.safetensors"
    raw = checkpoint.read_bytes()
    if kind == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "bitflip":
        flipped = bytearray(raw)
        flipped[-5] ^= 0x10  # in the tensor data, which its hash covers
        path.write_bytes(bytes(flipped))
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"model": [1.0, 2.0]}))
    elif kind == "directory":
        path.mkdir()
    elif kind == "missing":
        pass
    return path


DAMAGE = {
    "truncated": "truncated",
    "empty": "empty",
    "bitflip": "SHA-256",
    "pickle": "pickle",
    "directory": "directory",
    "missing": "no such checkpoint file",
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_eval_of_a_bad_checkpoint(checkpoint: Path, cli, kind: str) -> None:
    path = _damaged(checkpoint, kind)
    assert_fails(cli("eval", path), 2, str(path), DAMAGE[kind])


@pytest.mark.parametrize("kind", ["truncated", "pickle", "missing"])
def test_resume_from_a_bad_checkpoint_creates_no_run(checkpoint: Path, write_config, cli, out_dir: Path, kind: str) -> None:
    path = _damaged(checkpoint, kind)
    result = cli("fit", write_config(), "--resume", path, "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 2, str(path), DAMAGE[kind])
    assert sorted(p.name for p in (out_dir / "spirals").iterdir()) == ["1"]


def test_resume_from_a_checkpoint_of_another_model_creates_no_run(checkpoint: Path, write_config, cli,
                                                                   out_dir: Path) -> None:
    result = cli("fit", write_config(), "--resume", checkpoint, "--set", "model.layers.0.linear.out_features=8",
                 "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 2, str(checkpoint), "does not fit the model")
    assert sorted(p.name for p in (out_dir / "spirals").iterdir()) == ["1"]


def test_predict_with_a_bad_checkpoint_or_inputs(checkpoint: Path, cli, tmp_path: Path) -> None:
    inputs = tmp_path / "x.npz"
    assert_fails(cli("predict", _damaged(checkpoint, "truncated"), inputs), 2, "truncated")
    assert_fails(cli("predict", checkpoint, inputs), 2, str(inputs))
    (tmp_path / "x.idx").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 7)
    assert_fails(cli("predict", checkpoint, tmp_path / "x.idx"), 2, "x.idx")
    np.savez(inputs, x=np.zeros((2, 2), np.float32))
    unwritable = tmp_path / "x.npz" / "out.npz"  # inside a file
    assert_fails(cli("predict", checkpoint, inputs, "-o", unwritable), 2, f"{unwritable}: cannot write")
