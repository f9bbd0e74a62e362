"""Exit codes that mean one thing: bad data and bad config values are exit 2 before training starts,
a failure to write the run's output is exit 1, and each message says where the problem is."""

from __future__ import annotations

import csv
import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from .helpers import SPIRALS, assert_fails

TABULAR = """\
model:
  layers: [{linear: {out_features: 8}}, relu, {linear: {out_features: 3}}]
data: {name: npz, path: data.npz}
trainer: {epochs: 1, batch_size: 8}
"""


def _npz(folder: Path, name: str = "data.npz", n: int = 40, **changes: object) -> Path:
    """A clean 3-class table of `n` rows; `changes` are `(row, value)` edits of `x` (with a column) or `y`."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(n, 4)).astype(np.float32), np.arange(n) % 3
    for key, (index, value) in changes.items():
        {"x": x, "y": y}[key][index] = value
    path = folder / name
    np.savez(path, x=x, y=y)
    return path


# ---------------------------------------------------------------- data


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_non_finite_feature_in_an_npz_file_names_the_row(write_config, cli, out_dir, value) -> None:
    config = write_config(TABULAR, "table.yaml")
    data = _npz(config.parent, x=((13, 2), float(value)))
    result = cli("fit", config, "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 2, f"error: {data}: row 13 has a non-finite feature ({float(value)} at feature 2)")
    assert not out_dir.exists()  # refused before a run directory was made


def test_a_non_finite_feature_in_a_csv_file_names_the_row(write_config, cli, out_dir) -> None:
    config = write_config(TABULAR.replace("{name: npz, path: data.npz}", "{name: csv, path: data.csv}"), "t.yaml")
    rows = [f"{i * 0.1},{i % 3}" for i in range(30)]
    rows[21] = "inf,0"
    (config.parent / "data.csv").write_text("\n".join(rows) + "\n")
    result = cli("fit", config, "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 2, "data.csv: row 21 has a non-finite feature (inf at feature 0)")


def test_a_negative_label_names_the_row(write_config, cli, out_dir) -> None:
    config = write_config(TABULAR, "table.yaml")
    data = _npz(config.parent, y=(7, -1))
    result = cli("fit", config, "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 2, f"{data}: row 7 has label -1; class labels must run from 0")


def test_a_label_past_the_models_outputs_names_the_split_and_row(write_config, cli, out_dir) -> None:
    config = write_config(TABULAR, "table.yaml")
    _npz(config.parent, y=(33, 5))  # six classes in the data, three outputs in the model
    result = cli("fit", config, "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 2, "error: the ", "split of data 'npz': row ", "has label 5; class labels must run from 0 to 2 "
                 "(cross_entropy over the model's 3 outputs)")


def test_a_label_past_a_declared_num_classes_names_the_file_row(write_config, cli, out_dir) -> None:
    config = write_config(TABULAR.replace("path: data.npz", "path: data.npz, num_classes: 3"), "table.yaml")
    data = _npz(config.parent, y=(33, 3))
    result = cli("fit", config, "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 2, f"{data}: row 33 has label 3; class labels must run from 0 to 2 (num_classes=3)")


def test_an_empty_test_file_is_refused(write_config, cli, out_dir) -> None:
    config = write_config(TABULAR.replace("path: data.npz", "path: data.npz, test_path: test.npz"), "table.yaml")
    _npz(config.parent)
    test = _npz(config.parent, "test.npz", n=0)
    result = cli("fit", config, "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 2, f"error: {test}: no samples")


def test_a_validation_split_that_leaves_nothing_is_refused(write_config, cli, out_dir) -> None:
    config = write_config(TABULAR, "table.yaml")
    _npz(config.parent, n=3)
    result = cli("fit", config, "--set", "data.test_split=0.4", "--set", "trainer.val_split=0.1",
                 "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 2, "trainer.val_split", "leaves an empty training or validation set")


# ---------------------------------------------------------------- config values


@pytest.mark.parametrize(
    ("key", "text", "message"),
    [
        ("optimizer.lr", "optimizer: {name: sgd, lr: .inf}", "optimizer.lr: expected a finite number, found inf"),
        ("trainer.epochs", "trainer: {epochs: true}", "trainer.epochs: expected an integer, found True"),
        ("trainer.batch_size", "trainer: {batch_size: 2.5}", "trainer.batch_size: expected an integer, found 2.5"),
    ],
)
def test_non_finite_and_mistyped_values_name_the_key_and_line(write_config, cli, out_dir, key, text, message) -> None:
    config = write_config("model: {name: mlp, hidden: [8]}\ndata: {name: spirals}\n" + text + "\n", "values.yaml")
    result = cli("fit", config, "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 2, f"error: {config}:3: {message}")


def test_a_mistyped_override_names_the_override(write_config, cli, out_dir) -> None:
    result = cli("fit", write_config(), "--set", "trainer.shuffle=1", "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 2, "--set trainer.shuffle=1: trainer.shuffle: expected true or false, found 1")


# ---------------------------------------------------------------- writing the run's output

def _no_space(path: object) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def test_a_full_disk_during_a_checkpoint_save_is_a_failed_run_naming_the_file(write_config, cli, out_dir, monkeypatch) -> None:
    from ttrain.training import checkpoint

    def full(file, data) -> None:
        raise _no_space(file.name)

    monkeypatch.setattr(checkpoint, "_write_all", full)
    result = cli("fit", write_config(), "--set", f"trainer.output_dir={out_dir}", "--json")
    ckpt = out_dir / "spirals" / "1" / "checkpoints" / "best.safetensors"
    assert_fails(result, 1, f"training failed: cannot write checkpoint {ckpt}: No space left on device")
    assert json.loads(result.stdout)["exit_code"] == 1
    assert list(ckpt.parent.iterdir()) == []  # no temporary file left behind


def test_any_os_error_writing_the_metrics_is_a_failed_run(write_config, cli, out_dir, monkeypatch) -> None:
    from ttrain.training.callbacks import metrics_logger

    class Unwritable(csv.DictWriter):
        def writeheader(self) -> None:
            raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(metrics_logger.csv, "DictWriter", Unwritable)
    result = cli("fit", write_config(), "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 1, f"cannot write metrics {out_dir / 'spirals' / '1' / 'metrics.csv'}: {os.strerror(errno.EIO)}")


def test_a_full_disk_on_resume_is_a_failed_run_naming_the_file(write_config, cli, fit_json, out_dir, monkeypatch) -> None:
    config = write_config()
    last = Path(fit_json(config)["checkpoints"]["last"])
    write_text = Path.write_text

    def full(self: Path, *args: object, **kwargs: object) -> int:
        if self.name == "config.yaml":
            raise _no_space(self)
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    result = cli("fit", config, "--resume", last, "--set", "trainer.epochs=3", "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 1, "training failed: cannot write ", "config.yaml: No space left on device")


NAN_EVAL_LOSS = '''
import ttrain.nn as nn


class NanWhenEvaluating(nn.CrossEntropyLoss):
    """Cross-entropy that trains normally but evaluates to NaN (evaluation runs without a graph)."""

    def forward(self, input, target):
        loss = super().forward(input, target)
        return loss if input.requires_grad else loss * float("nan")
'''


def test_metrics_jsonl_is_strict_json_when_a_metric_is_nan(write_config, cli, fit_json) -> None:
    config = write_config(SPIRALS + "loss: {name: 'nan_eval_loss:NanWhenEvaluating'}\n")
    (config.parent / "nan_eval_loss.py").write_text(NAN_EVAL_LOSS)
    run = Path(fit_json(config)["run_dir"])

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in metrics.jsonl is not JSON")

    rows = [json.loads(line, parse_constant=refuse) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(row["val.loss"] is None and row["test.loss"] is None for row in rows)
    assert all(isinstance(row["train.loss"], float) for row in rows)
    with open(run / "metrics.csv", newline="") as f:
        assert {row["val.loss"] for row in csv.DictReader(f)} == {"nan"}


# ---------------------------------------------------------------- where a NaN came from

LAYERS = '''
import ttrain.nn as nn


class Log(nn.Module):
    """The log of its input: NaN wherever the input is negative."""

    def forward(self, x):
        return x.log()


class ZeroSqrt(nn.Module):
    """x + sqrt(|0 * x|): a finite output, but a NaN gradient (sqrt's slope at 0 is infinite)."""

    def forward(self, x):
        return x + (x * 0).abs().sqrt()
'''

MIDDLE_LAYER = """\
model:
  layers: [{linear: {out_features: 8}}, 'my_layers:LAYER', {linear: {out_features: 2}}]
data: {name: spirals, n_train: 64, n_test: 32}
trainer: {epochs: 1, batch_size: 16}
"""


def _fit_middle_layer(write_config, cli, out_dir, layer: str, *args: str):
    config = write_config(MIDDLE_LAYER.replace("LAYER", layer), "middle.yaml")
    (config.parent / "my_layers.py").write_text(LAYERS)
    return cli("fit", config, "--set", f"trainer.output_dir={out_dir}", *args)


def test_a_nan_from_a_middle_layer_names_the_module(write_config, cli, out_dir) -> None:
    result = _fit_middle_layer(write_config, cli, out_dir, "Log")
    assert_fails(result, 1, "training failed: the loss became nan at epoch 1, step 1; the first non-finite value came "
                 "from model.1 (Log), whose output held nan from finite inputs")


def test_detect_anomaly_names_the_op_and_the_module(write_config, cli, out_dir) -> None:
    result = _fit_middle_layer(write_config, cli, out_dir, "Log", "--set", "trainer.detect_anomaly=true")
    assert_fails(result, 1, "epoch 1, step 1: log (in forward) produced nan from finite inputs in model.1 (Log)")


def test_a_non_finite_gradient_under_a_finite_loss_names_the_parameter(write_config, cli, out_dir) -> None:
    result = _fit_middle_layer(write_config, cli, out_dir, "ZeroSqrt")
    assert_fails(result, 1, "a gradient became nan at epoch 1, step 1 while the loss was finite: model.0.bias (Linear)",
                 "trainer.detect_anomaly: true names the op")


def test_detect_anomaly_names_the_backward_op(write_config, cli, out_dir) -> None:
    result = _fit_middle_layer(write_config, cli, out_dir, "ZeroSqrt", "--set", "trainer.detect_anomaly=true")
    assert_fails(result, 1, "epoch 1, step 1: sqrt backward produced inf in the gradient of its input 0")


def test_a_diverging_run_names_the_layer_that_overflowed(write_config, cli, out_dir) -> None:
    result = cli("fit", write_config(), "--set", "optimizer.lr=1e10", "--set", "trainer.epochs=20",
                 "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 1, "training failed: the loss became", "the first non-finite value came from model.3 (Linear)")


@pytest.mark.parametrize("change, huge, key", [
    ("n_train: 256", "n_train: 1000000000000", "data"),  # 10**12 spiral points: terabytes
    ("linear: {out_features: 32}", "linear: {out_features: 1099511627776}", "model.layers.0"),  # 2**40 wide
])
def test_sizes_the_machine_cannot_hold_are_config_errors(write_config, cli, out_dir, change, huge, key) -> None:
    config = write_config(SPIRALS.replace(change, huge, 1), "huge.yaml")
    assert huge in config.read_text()
    result = cli("fit", config, "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 2, key)
    assert "ran out of memory" in result.output and not out_dir.exists()
