"""The examples run, and the seed example's SGD step moves the weights by exactly -lr * grad."""

import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SEED_EXAMPLE = ROOT / "examples" / "forward_backward.py"


def test_seed_example_step_is_exactly_minus_lr_times_grad(capsys):
    scope = runpy.run_path(str(SEED_EXAMPLE), run_name="__main__")
    net, x, target = scope["net"], scope["input"], scope["target"]
    weight = net.linear.weight
    before, grad = scope["weight_before"].numpy(), weight.grad.numpy()
    assert x.shape == (1, 784) and target.numpy().tolist() == [[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]]
    assert weight.dtype == grad.dtype == np.float32

    # The gradient is the one of mean((sigmoid(x W^T + b) - y)^2), worked out by hand.
    out = scope["output"].detach().numpy()
    d_pre = 2 / 10 * (out - target.numpy()) * out * (1 - out)
    np.testing.assert_allclose(grad, d_pre.T @ x.numpy(), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(net.linear.bias.grad.numpy(), d_pre[0], rtol=1e-5, atol=1e-9)

    # SGD in float32: w <- w - float32(lr) * grad, compared bit for bit.
    lr = scope["optimizer"].param_groups[0]["lr"]
    assert lr == 0.01
    np.testing.assert_array_equal(weight.detach().numpy(), before - np.float32(lr) * grad)
    assert np.abs(weight.detach().numpy() - before).max() > 0

    printed = capsys.readouterr().out
    assert "Linear(in_features=784, out_features=10, bias=True)" in printed and "loss:" in printed


def test_seed_example_runs_as_a_script():
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, str(SEED_EXAMPLE)], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "loss:" in result.stdout and "(sigmoid): Sigmoid()" in result.stdout
