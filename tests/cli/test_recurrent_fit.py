"""A `layers:` list with an LSTM trains end to end through `ttrain fit` (sequential MNIST, tiny)."""

from __future__ import annotations

import math
from pathlib import Path

from safetensors.numpy import load_file

# The 1x28x28 image becomes 28 steps of 28 pixels by flattening the channel axis into the rows.
_MNIST_LSTM = """\
seed: 0
model:
  layers:
    - flatten: {start_dim: 1, end_dim: 2}
    - lstm: {hidden_size: 16}
    - sequence_output: {mode: last}
    - linear: {out_features: 10}
data: {name: mnist, flatten: false, train_size: 64, test_size: 32}
optimizer: {name: adam, lr: 0.01}
trainer: {epochs: 1, batch_size: 32, val_split: 0}
"""


def test_an_lstm_layers_list_reads_mnist_rows_trains_and_its_checkpoint_evaluates(write_config, fit_json, cli) -> None:
    summary = fit_json(write_config(_MNIST_LSTM, "mnist_lstm.yaml"))
    final = summary["final"]
    assert summary["global_step"] == 2 and math.isfinite(final["train.loss"]) and math.isfinite(final["test.loss"])
    checkpoint = summary["checkpoints"]["last"]
    names = load_file(checkpoint).keys()
    assert {"model.1.weight_ih_l0", "model.1.weight_hh_l0", "model.1.bias_ih_l0", "model.1.bias_hh_l0"} <= set(names)
    result = cli("eval", checkpoint, "--json")
    assert result.exit_code == 0, result.stderr


def test_the_shipped_sequential_mnist_config_fits_a_few_steps(fit_json) -> None:
    config = Path(__file__).parents[2] / "configs" / "mnist_lstm.yaml"
    summary = fit_json(config, "--set", "data.train_size=128", "--set", "data.test_size=64",
                       "--set", "trainer.epochs=1", "--set", "model.layers.1.lstm.hidden_size=16")
    assert summary["global_step"] == 2 and math.isfinite(summary["final"]["train.loss"])
    assert 0.0 <= summary["final"]["test.accuracy"] <= 1.0
