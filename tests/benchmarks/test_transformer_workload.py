"""The transformer benchmark workload: ttrain's model is configs/mnist_vit.yaml's, and PyTorch's twin
takes its state dict strictly and computes the same outputs (so the side-by-side timing is fair)."""

from __future__ import annotations

import numpy as np
import pytest

import ttrain
from benchmarks.workloads import build_ttrain_model, tasks_for
from benchmarks.workloads_torch import _model

torch = pytest.importorskip("torch")


def test_the_torch_twin_of_the_vit_loads_ttrains_weights_and_agrees() -> None:
    (task,) = tasks_for(["transformer"])
    assert task.model == "transformer" and task.batch_size == 64 and task.target == 1.0
    ttrain.manual_seed(0)
    ours = build_ttrain_model("transformer").eval()
    theirs = _model(torch, "transformer").eval()
    theirs.load_state_dict({k: torch.from_numpy(v.data.copy()) for k, v in ours.state_dict().items()}, strict=True)
    images = np.random.default_rng(0).standard_normal((4, 1, 28, 28)).astype(np.float32)
    with ttrain.no_grad(), torch.no_grad():
        np.testing.assert_allclose(ours(ttrain.from_numpy(images)).data, theirs(torch.from_numpy(images)).numpy(),
                                   rtol=1e-4, atol=1e-5)
