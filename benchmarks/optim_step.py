"""Optimizer step time over the parameters of the MLP 784-512-256-10: NumPy vs Numba kernel vs torch.

    python benchmarks/optim_step.py [--repeats 30] [--steps 20] [--torch-threads 2]

Times `optimizer.step()` (the whole call, Python overhead included) for SGD, SGD with momentum and
Adam: ttrain with `fused=False` (the NumPy reference) and `fused=True` (the Numba kernels), and
torch.optim (default single-tensor path and `fused=True`) where torch is installed, with 2 threads
by default (as the target machine has; 1 is steadier on a busy machine, where torch's pool
spin-waits). The variants alternate within each repeat so that machine load hits them alike; the
tables show the median and the minimum over repeats of the mean step time, in microseconds.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from typing import Any, Callable

import numpy as np

import ttrain
from ttrain import optim
from ttrain.nn.parameter import Parameter

SHAPES = [(512, 784), (512,), (256, 512), (256,), (10, 256), (10,)]
CONFIGS = {
    "SGD": ("SGD", dict(lr=0.01)),
    "SGD momentum": ("SGD", dict(lr=0.01, momentum=0.9)),
    "Adam": ("Adam", dict(lr=1e-3)),
}


def _arrays(seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [rng.standard_normal(s).astype(np.float32) * 1e-2 for s in SHAPES]
    return params, grads


def ttrain_step(name: str, kwargs: dict[str, Any], fused: bool) -> Callable[[], None]:
    values, grads = _arrays()
    params = [Parameter(v) for v in values]
    for p, g in zip(params, grads):
        p.grad = ttrain.tensor(g)
    return getattr(optim, name)(params, fused=fused, **kwargs).step


def torch_step(torch: Any, name: str, kwargs: dict[str, Any], fused: bool) -> Callable[[], None]:
    values, grads = _arrays()
    params = [torch.tensor(v, requires_grad=True) for v in values]
    for p, g in zip(params, grads):
        p.grad = torch.from_numpy(g)
    opt = getattr(torch.optim, name)(params, fused=fused or None, **kwargs)
    return opt.step


def measure(steps: dict[str, Callable[[], None]], repeats: int, per_sample: int) -> dict[str, list[float]]:
    """`repeats` samples per variant of the mean time of `per_sample` steps, in microseconds; the variants
    alternate within each repeat."""
    for step in steps.values():  # warm up: compile kernels, allocate state
        for _ in range(3):
            step()
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(per_sample):
                step()
            samples[name].append((time.perf_counter() - start) / per_sample * 1e6)
    return samples


def _row(label: str, t: dict[str, float]) -> str:
    row = f"{label:<14}{t['numpy']:>9.0f}{t['numba']:>9.0f}{t['numpy'] / t['numba']:>13.2f}"
    if "torch" in t:
        row += f"{t['torch']:>9.0f}{t['torch fused']:>13.0f}{t['torch'] / t['numba']:>13.2f}"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed sample")
    parser.add_argument("--torch-threads", type=int, default=2)
    args = parser.parse_args()
    try:
        import torch

        torch.set_num_threads(args.torch_threads)
    except ImportError:
        torch = None
    print(f"# optimizer step, MLP 784-512-256-10 ({sum(int(np.prod(s)) for s in SHAPES):,} float32 parameters)")
    versions = f"torch {torch.__version__} ({args.torch_threads} threads)" if torch else "no torch: ttrain only"
    print(f"# {platform.processor() or platform.machine()}, numpy {np.__version__}, {versions}")
    print(f"# {args.repeats} samples of {args.steps} steps each, microseconds per step")
    header = f"{'optimizer':<14}{'numpy':>9}{'numba':>9}{'numpy/numba':>13}"
    if torch:
        header += f"{'torch':>9}{'torch fused':>13}{'torch/numba':>13}"
    medians, minimums = [], []
    for label, (name, kwargs) in CONFIGS.items():
        steps = {"numpy": ttrain_step(name, kwargs, False), "numba": ttrain_step(name, kwargs, True)}
        if torch:
            steps["torch"] = torch_step(torch, name, kwargs, False)
            steps["torch fused"] = torch_step(torch, name, kwargs, True)
        samples = measure(steps, args.repeats, args.steps)
        medians.append(_row(label, {k: statistics.median(v) for k, v in samples.items()}))
        minimums.append(_row(label, {k: min(v) for k, v in samples.items()}))
    # The minimum is the sample least disturbed by other work on a shared machine.
    for title, rows in (("median", medians), ("minimum", minimums)):
        print(f"\n{title}\n{header}")
        print("\n".join(rows))

if __name__ == "__main__":
    main()
