"""configs/mnist_vit.yaml trains through `ttrain fit` (a few steps on a slice of MNIST), its checkpoint
holds the Transformer's PyTorch-named weights, and `ttrain eval` rebuilds the model from it alone."""

from __future__ import annotations

import math
from pathlib import Path

from safetensors.numpy import load_file

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "mnist_vit.yaml"


def test_the_vit_config_trains_a_few_steps_and_its_checkpoint_evaluates(fit_json, cli) -> None:
    summary = fit_json(CONFIG, "--set", "trainer.epochs=1", "--set", "data.train_size=128",
                       "--set", "data.test_size=64")
    final = summary["final"]
    assert summary["global_step"] == 2 and math.isfinite(final["train.loss"]) and 0 <= final["test.accuracy"] <= 1
    checkpoint = summary["checkpoints"]["last"]
    names = set(load_file(checkpoint))
    assert {"model.0.proj.weight", "model.1.weight", "model.2.layers.0.self_attn.in_proj_weight",
            "model.2.layers.1.self_attn.out_proj.weight", "model.2.layers.1.linear2.weight", "model.2.norm.weight",
            "model.4.weight"} <= names
    result = cli("eval", checkpoint, "--json")
    assert result.exit_code == 0, result.stderr
