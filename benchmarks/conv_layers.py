"""Conv layer efficiency: achieved GFLOP/s of each conv layer of `configs/mnist_cnn.yaml` (and of the
LeNet-style net's second conv), per pass, next to the same process's sgemm GFLOP/s.

    python -m benchmarks.conv_layers --threads 2 [--repeats 9]     one JSON object on stdout

Runs in its own process (the runner starts one per thread count, with every thread pool sized by
environment before NumPy and Numba load). Batch 64, float32, PyTorch layouts. A pass's FLOPs are
the direct convolution's, 2 * N * O * C * kh * kw * Ho * Wo, whatever algorithm runs (Winograd does
fewer): GFLOP/s are comparable across algorithms and with the sgemm ceiling. sgemm: NumPy's BLAS on
(1024 x 1024) @ (1024 x 1024) float32. Medians over `repeats` timed calls after a warm-up call.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

BATCH = 64
# (name, input shape, weight shape): the two 3x3 convs of configs/mnist_cnn.yaml on MNIST, and the
# second conv of the LeNet-style net (workloads `lenet`), which sees the pooled 13x13 maps.
LAYERS = (
    ("conv1 1->32, 28x28", (BATCH, 1, 28, 28), (32, 1, 3, 3)),
    ("conv2 32->64, 26x26", (BATCH, 32, 26, 26), (64, 32, 3, 3)),
    ("LeNet-style conv2 32->64, 13x13", (BATCH, 32, 13, 13), (64, 32, 3, 3)),
)
PASSES = ("forward", "input grad", "weight grad")
SGEMM_SIZE = 1024


def _median_seconds(call: Callable[[], object], repeats: int) -> float:
    call()  # warm-up: kernels load from the cache (or compile), buffers and threads start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sgemm_gflops(repeats: int) -> float:
    """NumPy's float32 GEMM rate on a large square product, GFLOP/s."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((SGEMM_SIZE, SGEMM_SIZE)).astype(np.float32)
    b = rng.standard_normal((SGEMM_SIZE, SGEMM_SIZE)).astype(np.float32)
    return 2 * SGEMM_SIZE**3 / _median_seconds(lambda: a @ b, repeats) / 1e9


def layer_rows(repeats: int) -> list[dict[str, Any]]:
    """One row per layer and pass: milliseconds and GFLOP/s of ttrain's kernel."""
    from ttrain.autograd.kernels.conv import conv2d_backward, conv2d_forward

    rng = np.random.default_rng(0)
    rows = []
    for name, x_shape, w_shape in LAYERS:
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = (rng.standard_normal(w_shape) * 0.1).astype(np.float32)
        b = np.zeros(w_shape[0], dtype=np.float32)
        gy = rng.standard_normal(conv2d_forward(x, w, b).shape).astype(np.float32)
        n, c = x_shape[:2]
        o, _, kh, kw = w_shape
        flops = 2 * n * o * c * kh * kw * gy.shape[2] * gy.shape[3]
        calls = {
            "forward": lambda x=x, w=w, b=b: conv2d_forward(x, w, b),
            "input grad": lambda gy=gy, x=x, w=w: conv2d_backward(gy, x, w, needs=(True, False, False)),
            "weight grad": lambda gy=gy, x=x, w=w: conv2d_backward(gy, x, w, needs=(False, True, False)),
        }
        for pass_name in PASSES:
            seconds = _median_seconds(calls[pass_name], repeats)
            rows.append({"layer": name, "pass": pass_name, "ms": seconds * 1e3, "gflops": flops / seconds / 1e9})
    return rows


def measure(repeats: int) -> dict[str, Any]:
    """sgemm twice (the machine is shared: the ceiling is the better of the two), then the layers.

    sgemm goes first: after the first parallel conv kernel, BLAS runs on one thread (see
    `ttrain.autograd.kernels.conv_threads`), and the ceiling is BLAS at the full thread count.
    """
    sgemm = max(sgemm_gflops(repeats), sgemm_gflops(repeats))
    return {"sgemm_gflops": sgemm, "layers": layer_rows(repeats)}


def run_for_threads(threads: list[int], repeats: int, env_for: Callable[[int], dict[str, str]]) -> list[dict[str, Any]]:
    """`measure` in a fresh process per thread count, each with the environment `env_for(threads)`."""
    results = []
    for count in threads:
        out = subprocess.run([sys.executable, "-m", "benchmarks.conv_layers", "--threads", str(count),
                              "--repeats", str(repeats)], capture_output=True, text=True, env=env_for(count),
                             cwd=Path(__file__).resolve().parents[1], check=True)
        results.append(json.loads(out.stdout))
    return results


def main() -> None:
    """Measure in this process and print the result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, required=True, help="the thread count the environment set (recorded)")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    print(json.dumps({"threads": args.threads, **measure(args.repeats)}))


if __name__ == "__main__":
    main()
