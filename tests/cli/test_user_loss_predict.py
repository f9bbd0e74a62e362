"""`ttrain predict` turns outputs into probabilities the way the run's loss class declares, for a
user's loss named by ``module:Class`` as for the built-in one it copies."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from .helpers import SPIRALS

# Like BCEWithLogitsLoss: each output is one class's logit, so a class's probability is its
# sigmoid; a softmax over the row (what a loss of unknown meaning falls back to) would differ.
USER_LOSS = '''
import numpy as np

from ttrain import nn
from ttrain.nn import functional as F


class MyBCEWithLogits(nn.Module):
    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target)

    def probabilities(self, outputs):
        return 1 / (1 + np.exp(-outputs))
'''
MODULE = "ttrain_user_bce"


@pytest.fixture
def one_hot_config(write_config):
    """``write(loss)``: a one-hot SPIRALS config with that loss, the user's loss module next to it."""

    def write(loss: str) -> Path:
        text = SPIRALS.replace("  name: spirals\n", "  name: spirals\n  one_hot: true\n")
        config = write_config(text + f"loss: {{name: '{loss}'}}\n", f"{loss.replace(':', '_')}/spirals.yaml")
        (config.parent / f"{MODULE}.py").write_text(USER_LOSS)
        return config

    yield write
    sys.modules.pop(MODULE, None)


def test_predict_uses_the_user_loss_probabilities_like_its_builtin_twin(
    one_hot_config, fit_json, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = np.random.default_rng(0).standard_normal((7, 2)).astype(np.float32)
    np.savez(tmp_path / "points.npz", x=x)
    saved = {}
    for loss in (f"{MODULE}:MyBCEWithLogits", "bce_with_logits"):
        config = one_hot_config(loss)
        summary = fit_json(config, "--set", "trainer.epochs=2")
        monkeypatch.chdir(config.parent)  # a checkpoint's user modules come from the working directory
        output = tmp_path / f"{loss.replace(':', '_')}.npz"
        result = cli("predict", summary["checkpoints"]["best"], tmp_path / "points.npz", "-o", output,
                     "--trust-module", MODULE)
        assert result.exit_code == 0, result.stderr
        with np.load(output) as predictions:
            saved[loss] = predictions["probabilities"]
    mine, builtin = saved[f"{MODULE}:MyBCEWithLogits"], saved["bce_with_logits"]
    assert not np.allclose(mine.sum(axis=1), 1.0)  # per-class sigmoids, not a softmax over the row
    np.testing.assert_allclose(mine, builtin, rtol=1e-6)
