"""`ttrain summary CONFIG|CHECKPOINT`: layers in the order they run, output shapes, parameter
counts and FLOPs per sample (a multiply-add counts two), checked against sums done by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.numpy import load_file

from ttrain.schemas import output_schema

from .helpers import assert_fails

_CNN = """\
seed: 0
model:
  layers:
    - conv2d: {out_channels: 4, kernel_size: 3}
    - relu
    - max_pool2d: {kernel_size: 2}
    - flatten
    - linear: {out_features: 10}
data: {name: mnist, flatten: false, train_size: 64, test_size: 32}
trainer: {epochs: 1, batch_size: 32}
"""

_LSTM = """\
seed: 0
model:
  layers:
    - flatten: {start_dim: 1, end_dim: 2}
    - lstm: {hidden_size: 16}
    - sequence_output: {mode: last}
    - linear: {out_features: 10}
data: {name: mnist, flatten: false, train_size: 64, test_size: 32}
trainer: {epochs: 1, batch_size: 32}
"""


def summary_json(cli, source: Path, *args: str) -> dict:
    """`ttrain summary SOURCE --json`'s object, checked against the output schema."""
    result = cli("summary", source, "--json", *args)
    assert result.exit_code == 0, result.stderr
    value = json.loads(result.stdout)
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(value, output_schema())
    return value


def test_a_cnn_config_shows_each_layer_with_shapes_parameters_and_flops(write_config, cli) -> None:
    described = summary_json(cli, write_config(_CNN, "cnn.yaml"))
    layers = {row["name"]: row for row in described["layers"]}
    assert [row["kind"] for row in described["layers"]] == ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
    assert described["input_shape"] == [1, 28, 28]
    assert [row["output_shape"] for row in described["layers"]] == [
        [[None, 4, 26, 26]], [[None, 4, 26, 26]], [[None, 4, 13, 13]], [[None, 676]], [[None, 10]]]
    conv_weights, linear_weights = 4 * 1 * 3 * 3, 10 * 676
    assert layers["0"]["parameters"] == conv_weights + 4 and layers["4"]["parameters"] == linear_weights + 10
    assert described["parameters"] == {"total": conv_weights + 4 + linear_weights + 10,
                                       "trainable": conv_weights + 4 + linear_weights + 10, "non_trainable": 0,
                                       "bytes": 4 * (conv_weights + 4 + linear_weights + 10)}
    # each of the 26x26 outputs of 4 channels: 9 multiply-adds, plus its bias
    assert layers["0"]["flops"] == 2 * 9 * 4 * 26 * 26 + 4 * 26 * 26
    assert layers["4"]["flops"] == 2 * 676 * 10 + 10
    assert layers["1"]["flops"] is None  # not counted, shown as unknown rather than zero
    assert described["flops_per_sample"] == layers["0"]["flops"] + layers["4"]["flops"]


def test_the_table_reads_like_keras_summary(write_config, cli) -> None:
    result = cli("summary", write_config(_CNN, "cnn.yaml"))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["layer", "type", "output", "shape", "params", "FLOPs"]
    assert lines[1].split() == ["0", "Conv2d", "(N,", "4,", "26,", "26)", "40", "51.4K"]
    assert lines[3].split()[:2] == ["2", "MaxPool2d"] and lines[3].split()[-1] == "-"
    assert "parameters: 6,810 total, 6,810 trainable, 0 non-trainable" in result.stdout
    assert "FLOPs per sample: 64.9K" in result.stdout
    assert "input shape per sample: (1, 28, 28)" in result.stdout


def test_a_checkpoint_is_summarised_from_its_embedded_config_and_weights(write_config, fit_json, cli) -> None:
    config = write_config(_LSTM, "lstm.yaml")
    checkpoint = Path(fit_json(config)["checkpoints"]["last"])
    described = summary_json(cli, checkpoint)
    stored = load_file(checkpoint)
    model_sizes = sum(array.size for name, array in stored.items() if name.startswith("model."))
    assert described["parameters"]["total"] == model_sizes
    assert described == {**summary_json(cli, config), "source": str(checkpoint)}
    refused = cli("summary", checkpoint, "--set", "seed=1")
    assert refused.exit_code == 2 and "--set applies to configs" in refused.stderr
    lstm = next(row for row in described["layers"] if row["kind"] == "LSTMLayer")
    # 28 steps of 4 gates x 16 units over 28 inputs and 16 hidden values
    assert lstm["flops"] == 2 * 28 * (4 * 16 * 28 + 4 * 16 * 16)
    assert lstm["output_shape"][0] == [None, 28, 16]


def test_set_overrides_a_config_and_bad_input_exits_2(write_config, cli, tmp_path: Path) -> None:
    config = write_config(_CNN, "cnn.yaml")
    wider = summary_json(cli, config, "--set", "model.layers.0.conv2d.out_channels=8")
    assert wider["layers"][0]["output_shape"] == [[None, 8, 26, 26]]
    assert_fails(cli("summary", tmp_path / "missing.yaml"), 2, "missing.yaml")
    (tmp_path / "broken.safetensors").write_bytes(b"not a checkpoint")
    assert_fails(cli("summary", tmp_path / "broken.safetensors"), 2, "broken.safetensors")
    result = cli("summary", tmp_path / "missing.yaml", "--json")
    assert result.exit_code == 2 and json.loads(result.stdout)["status"] == "error"


def test_the_table_fits_a_narrow_terminal_and_folds_long_names() -> None:
    import io

    from rich.console import Console

    from ttrain.cli.output import print_table

    buffer = io.StringIO()
    console = Console(file=buffer, width=40, force_terminal=True, color_system=None)
    print_table(("layer", "type", "output shape", "params"),
                [["classifier.backbone.0", "Conv2d", "(N, 32, 26, 26)", "1,179,776"]], console)
    lines = buffer.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 40
    assert "…" not in buffer.getvalue()  # folded over lines, never cut
    assert "".join(line.split("│")[1].strip() for line in lines[4:-1]) == "classifier.backbone.0"
