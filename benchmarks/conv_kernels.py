"""Micro-benchmark: ttrain's conv/pool kernels against torch.nn.functional on the MNIST CNN shapes.

Batch 64, float32, the same thread count on both sides (default 2): conv 1->32 3x3 on 28x28 (the
first layer, so no input gradient), conv 32->64 3x3 on 26x26, max-pool 2 on (64, 64, 24, 24), and
the three chained as in a training step (forward, then backward in reverse). The libraries
alternate repeat by repeat so both see the same machine state; after each switch one untimed call
lets the other library's spinning threads go idle. Medians and minima are reported with the
ratio torch time / ttrain time (> 1: ttrain is faster); on a shared machine the minimum is the
steadier figure.

    python benchmarks/conv_kernels.py [--repeats 30] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

BATCH = 64
CONV1 = ((BATCH, 1, 28, 28), (32, 1, 3, 3))
CONV2 = ((BATCH, 32, 26, 26), (64, 32, 3, 3))
POOL_INPUT = (BATCH, 64, 24, 24)


@dataclass
class Case:
    """One workload: a ttrain callable and the equivalent torch callable (None without torch)."""

    name: str
    ours: Callable[[], object]
    theirs: Callable[[], object] | None
    ours_s: list[float] = field(default_factory=list)
    theirs_s: list[float] = field(default_factory=list)


def _arrays(rng: np.random.Generator) -> dict[str, np.ndarray]:
    def normal(shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    return {
        "x1": normal(CONV1[0]), "w1": normal(CONV1[1], 0.3), "b1": normal(32),
        "x2": normal(CONV2[0]), "w2": normal(CONV2[1], 0.06), "b2": normal(64),
        "gy1": normal((BATCH, 32, 26, 26)), "gy2": normal((BATCH, 64, 24, 24)),
        "xp": normal(POOL_INPUT), "gyp": normal((BATCH, 64, 12, 12)),
    }


def _ttrain_cases(a: dict[str, np.ndarray]) -> dict[str, Callable[[], object]]:
    from ttrain.autograd.kernels.conv import conv2d_backward, conv2d_forward
    from ttrain.autograd.kernels.pool import max_pool2d_backward, max_pool2d_forward

    def pool_step():
        _, idx = max_pool2d_forward(a["xp"], 2)
        return max_pool2d_backward(a["gyp"], idx, POOL_INPUT)

    def chain():
        h1 = conv2d_forward(a["x1"], a["w1"], a["b1"])
        h2 = conv2d_forward(h1, a["w2"], a["b2"])
        _, idx = max_pool2d_forward(h2, 2)
        g2 = max_pool2d_backward(a["gyp"], idx, h2.shape)
        g1, _, _ = conv2d_backward(g2, h1, a["w2"])
        return conv2d_backward(g1, a["x1"], a["w1"], needs=(False, True, True))

    return {
        "conv1 forward": lambda: conv2d_forward(a["x1"], a["w1"], a["b1"]),
        "conv1 backward (dw, db)": lambda: conv2d_backward(a["gy1"], a["x1"], a["w1"], needs=(False, True, True)),
        "conv2 forward": lambda: conv2d_forward(a["x2"], a["w2"], a["b2"]),
        "conv2 backward (dx, dw, db)": lambda: conv2d_backward(a["gy2"], a["x2"], a["w2"]),
        "max_pool2d forward+backward": pool_step,
        "chain conv1-conv2-pool fwd+bwd": chain,
    }


def _torch_cases(a: dict[str, np.ndarray], torch) -> dict[str, Callable[[], object]]:
    F = torch.nn.functional
    t = {k: torch.from_numpy(v) for k, v in a.items()}
    w1, b1, w2, b2 = (t[k].clone().requires_grad_() for k in ("w1", "b1", "w2", "b2"))
    x2 = t["x2"].clone().requires_grad_()
    xp = t["xp"].clone().requires_grad_()

    def pool_step():
        return torch.autograd.grad(F.max_pool2d(xp, 2), xp, t["gyp"])

    def chain():
        out = F.max_pool2d(F.conv2d(F.conv2d(t["x1"], w1, b1), w2, b2), 2)
        return torch.autograd.grad(out, (w1, b1, w2, b2), t["gyp"])

    def forward(x, w, b):
        with torch.no_grad():
            return F.conv2d(x, w, b)

    # Backward alone: the aten op autograd calls, on the saved forward's inputs.
    def backward(gy, x, w, mask):
        return torch.ops.aten.convolution_backward(gy, x, w, [w.shape[0]], [1, 1], [0, 0], [1, 1], False, [0, 0], 1, mask)

    return {
        "conv1 forward": lambda: forward(t["x1"], w1, b1),
        "conv1 backward (dw, db)": lambda: backward(t["gy1"], t["x1"], w1.detach(), [False, True, True]),
        "conv2 forward": lambda: forward(x2, w2, b2),
        "conv2 backward (dx, dw, db)": lambda: backward(t["gy2"], x2.detach(), w2.detach(), [True, True, True]),
        "max_pool2d forward+backward": pool_step,
        "chain conv1-conv2-pool fwd+bwd": chain,
    }


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(repeats: int, threads: int) -> list[Case]:
    """Time every case `repeats` times, ttrain and torch alternating."""
    import numba

    numba.set_num_threads(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        torch = None
    arrays = _arrays(np.random.default_rng(0))
    ours = _ttrain_cases(arrays)
    theirs = _torch_cases(arrays, torch) if torch is not None else {}
    cases = [Case(name, fn, theirs.get(name)) for name, fn in ours.items()]
    for case in cases:
        for _ in range(3):  # warm-up: JIT compile or cache load, allocators, thread pools
            case.ours()
            if case.theirs is not None:
                case.theirs()
        for _ in range(repeats):
            # An untimed call after each switch lets the other library's spinning threads go idle:
            # what is timed is each library running on its own, not the handover between them.
            case.ours()
            case.ours_s.append(_timed(case.ours))
            if case.theirs is not None:
                case.theirs()
                case.theirs_s.append(_timed(case.theirs))
    return cases


def _environment(threads: int) -> str:
    import numba

    keys = ("OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT", "OPENBLAS_NUM_THREADS", "NUMBA_THREADING_LAYER")
    env = ", ".join(f"{k}={os.environ[k]}" for k in keys if k in os.environ) or "no thread env vars"
    try:
        import torch

        versions = f"torch {torch.__version__}"
    except ImportError:
        versions = "torch not installed: ttrain alone"
    return (f"{os.cpu_count()} cores, {threads} threads, numpy {np.__version__}, numba {numba.__version__}, "
            f"{versions}; {env}; load average {os.getloadavg()[0]:.2f}")


def main() -> None:
    """Run the benchmark and print one line per case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(_environment(args.threads))
    cases = run(args.repeats, args.threads)
    print(f"{'case (ms)':32s} {'ttrain med':>10s} {'torch med':>10s} {'ratio':>6s}   "
          f"{'ttrain min':>10s} {'torch min':>10s} {'ratio':>6s}")
    for case in cases:
        om, on = statistics.median(case.ours_s) * 1e3, min(case.ours_s) * 1e3
        if not case.theirs_s:
            print(f"{case.name:32s} {om:10.2f} {'-':>10s} {'-':>6s}   {on:10.2f}")
            continue
        tm, tn = statistics.median(case.theirs_s) * 1e3, min(case.theirs_s) * 1e3
        print(f"{case.name:32s} {om:10.2f} {tm:10.2f} {tm / om:5.2f}x   {on:10.2f} {tn:10.2f} {tn / on:5.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
