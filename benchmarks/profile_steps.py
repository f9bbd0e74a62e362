"""Where a ttrain training step spends its time: phase by phase, next to the hand-written NumPy floor.

    python -m benchmarks.profile_steps [--model seed|mlp] [--steps 300] [--threads 1] [--pyinstrument]

Times each phase of the PyTorch-style step separately (zero_grad, forward, loss, backward, optimizer
step), in microseconds per step (median over steps), for ttrain and for the same maths in plain
NumPy; the difference is ttrain's overhead per phase. Also times the BLAS calls alone (the matmuls
of the step, nothing else) and one batch of ttrain's DataLoader over the bundled MNIST.
`--pyinstrument` adds a call-tree profile of ttrain's steps (pip install pyinstrument).
Set the thread count here rather than in the environment: it is applied with threadpoolctl. With
one thread (the default) phases are timed in the thread's CPU time, which a loaded machine barely
disturbs; with more, in wall-clock time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.workloads import Inputs, Task, prepare_inputs
from benchmarks.workloads_numpy import NumpyMLP, _cross_entropy_grad

PHASES = ("zero_grad", "forward", "loss", "backward", "step")
# With one BLAS thread all the work happens on this thread: its CPU time leaves out the time other
# processes held the core (a loaded machine inflates wall-clock medians of anything over a time slice).
CLOCK = [time.thread_time]


def _median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


Phases = Callable[[np.ndarray, np.ndarray], list[float]]  # one step; returns the PHASES' durations


def _ttrain_step(model_name: str) -> Phases:
    import ttrain
    from benchmarks.workloads import build_ttrain_model
    from ttrain import nn, optim

    ttrain.manual_seed(0)
    model = build_ttrain_model(model_name)
    loss_fn = nn.MSELoss() if model_name == "seed" else nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.5) if model_name == "seed" else optim.Adam(model.parameters(), lr=1e-3)
    clock = CLOCK[0]

    def step(x: np.ndarray, y: np.ndarray) -> list[float]:
        t0 = clock()
        opt.zero_grad()
        t1 = clock()
        out = model(ttrain.from_numpy(x))
        t2 = clock()
        loss = loss_fn(out, ttrain.from_numpy(y))
        t3 = clock()
        loss.backward()
        t4 = clock()
        opt.step()
        t5 = clock()
        return [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4]

    return step


def _numpy_mlp_step(state: dict[str, np.ndarray]) -> Phases:
    net = NumpyMLP(state)
    clock = CLOCK[0]
    w2, w3 = net.params[2], net.params[4]

    def step(x: np.ndarray, y: np.ndarray) -> list[float]:
        t1 = clock()
        a1, a2, logits = net.forward(x)
        t2 = clock()
        _, g3 = _cross_entropy_grad(logits, y)
        t3 = clock()
        g2 = g3 @ w3
        g2 *= a2 > 0
        g1 = g2 @ w2
        g1 *= a1 > 0
        grads = [g1.T @ x, g1.sum(axis=0), g2.T @ a1, g2.sum(axis=0), g3.T @ a2, g3.sum(axis=0)]
        t4 = clock()
        net.adam(grads)
        t5 = clock()
        return [0.0, t2 - t1, t3 - t2, t4 - t3, t5 - t4]

    return step


def _numpy_seed_step() -> Phases:
    rng = np.random.default_rng(0)
    w = rng.uniform(-0.036, 0.036, (10, 784)).astype(np.float32)
    b = np.zeros(10, np.float32)
    clock = CLOCK[0]

    def step(x: np.ndarray, t: np.ndarray) -> list[float]:
        t1 = clock()
        z = x @ w.T
        z += b
        np.negative(z, out=z)
        np.exp(z, out=z)
        z += 1.0
        out = np.reciprocal(z, out=z)  # sigmoid
        t2 = clock()
        diff = out - t
        t3 = clock()
        gz = diff * (2.0 / diff.size)  # d mean((out - t)^2) / d out, then through the sigmoid
        gz *= out * (1.0 - out)
        gw, gb = gz.T @ x, gz.sum(axis=0)
        t4 = clock()
        gw *= 0.5  # SGD, lr 0.5
        np.subtract(w, gw, out=w)
        gb *= 0.5
        np.subtract(b, gb, out=b)
        t5 = clock()
        return [0.0, t2 - t1, t3 - t2, t4 - t3, t5 - t4]

    return step


def _blas_step(model: str, batch: int) -> Callable[[], float]:
    """The step's matmuls alone (same shapes and transposes), seconds per call."""
    rng = np.random.default_rng(0)
    widths = (784, 10) if model == "seed" else (784, 512, 256, 10)
    acts = [rng.standard_normal((batch, n), dtype=np.float32) for n in widths]
    weights = [rng.standard_normal((o, i), dtype=np.float32) for i, o in zip(widths, widths[1:])]

    def step() -> float:
        t = CLOCK[0]()
        for a, w in zip(acts, weights):
            a @ w.T  # forward
        for k, w in enumerate(weights):
            g = acts[k + 1]
            g.T @ acts[k]  # weight gradient
            if k:
                g @ w  # input gradient (none for the first layer)
        return CLOCK[0]() - t

    return step


def profile(model: str, batches: list[tuple[np.ndarray, np.ndarray]], steps: int, state: dict[str, np.ndarray]
            ) -> tuple[dict[str, float], dict[str, float], float]:
    """Median microseconds per phase for ttrain and NumPy, and for the BLAS calls alone (on arrays
    that stay in cache), measured step by step in turn so that load changes hit all three alike."""
    ours = _ttrain_step(model)
    floor = _numpy_seed_step() if model == "seed" else _numpy_mlp_step(state)
    blas = _blas_step(model, batches[0][0].shape[0])
    samples: dict[str, list[list[float]]] = {"ttrain": [], "numpy": []}
    blas_samples = []
    for i in range(steps + 20):
        x, y = batches[i % len(batches)]
        if i % 2:  # whoever goes second finds the batch in cache: take turns
            b, a = floor(x, y), ours(x, y)
        else:
            a, b = ours(x, y), floor(x, y)
        c = blas()
        if i >= 20:  # warm-up
            samples["ttrain"].append(a)
            samples["numpy"].append(b)
            blas_samples.append(c)
    medians = {k: {p: _median_us([s[j] for s in v]) for j, p in enumerate(PHASES)} for k, v in samples.items()}
    return medians["ttrain"], medians["numpy"], _median_us(blas_samples)


def _pyinstrument(model: str, batches: list[tuple[np.ndarray, np.ndarray]], steps: int) -> str:
    from pyinstrument import Profiler

    ours = _ttrain_step(model)
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for i in range(steps):
        ours(*batches[i % len(batches)])
    profiler.stop()
    return profiler.output_text(unicode=False, color=False, show_all=False)


def _loader_us(model: str, batch: int, batches: int) -> float:
    from ttrain.data import DataLoader
    from ttrain.data.factories import mnist

    data = mnist(flatten=True, one_hot=model == "seed")["train"]
    loader = DataLoader(data, batch_size=batch, shuffle=True, generator=0)
    samples = []
    it = iter(loader)
    for _ in range(min(batches, len(loader) - 1)):
        t = time.perf_counter()
        next(it)
        samples.append(time.perf_counter() - t)
    return _median_us(samples)


def main() -> None:
    """Print the phase table (and the pyinstrument tree)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("seed", "mlp"), default="mlp")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pyinstrument", action="store_true")
    args = parser.parse_args()
    try:
        from threadpoolctl import threadpool_limits

        limits: Any = threadpool_limits(args.threads, user_api="blas")
    except ImportError:
        limits = nullcontext()
        print("threadpoolctl missing: BLAS threads as the environment says")
    CLOCK[0] = time.thread_time if args.threads == 1 else time.perf_counter
    with limits, tempfile.TemporaryDirectory() as tmp:
        prepare_inputs(Path(tmp), {args.model})
        inputs = Inputs.load(Path(tmp))
        task = Task(args.model, args.model, args.model, True, 128, args.steps, 0, ("ttrain",))
        batches = inputs.batches(task)
        state = inputs.init_state(args.model)
        ours, floor, blas = profile(args.model, batches, args.steps, state)
        loader = _loader_us(args.model, 128, 60)
        clock = "thread CPU time" if args.threads == 1 else "wall clock"
        print(f"{args.model}, batch 128, {args.threads} BLAS thread(s); "
              f"microseconds per step ({clock}, median of {args.steps})")
        print(f"{'phase':<10} {'ttrain':>9} {'NumPy':>9} {'overhead':>9}")
        for p in PHASES:
            print(f"{p:<10} {ours[p]:9.1f} {floor[p]:9.1f} {ours[p] - floor[p]:9.1f}")
        total_ours, total_floor = sum(ours.values()), sum(floor.values())
        print(f"{'total':<10} {total_ours:9.1f} {total_floor:9.1f} {total_ours - total_floor:9.1f}")
        print(f"BLAS calls alone (the step's matmuls): {blas:.1f} us; ttrain DataLoader, one batch: {loader:.1f} us")
        if args.pyinstrument:
            print(_pyinstrument(args.model, batches, args.steps))

if __name__ == "__main__":
    main()
