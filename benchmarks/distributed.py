"""Data-parallel speed on one machine: 1 rank x 2 threads against 2 ranks x 1 thread.

`python -m benchmarks.distributed` launches `mpiexec` itself (loopback, oversubscribed), alternating
the two layouts repeat by repeat, for the MLP (Adam, global batch 128) and the CNN of
`configs/mnist_cnn.yaml` (Adam, global batch 64), and prints a Markdown section with the medians:
samples/s, the bytes each rank allreduces per step, and each step split into compute (forward,
backward, optimizer) and communication (the bucketed allreduce of `GradientAllreduce`). It also
times whether a non-blocking allreduce makes progress behind a backward pass (the `overlap` row).

`--worker MODEL` is what each rank runs (under mpiexec); it prints one JSON line from rank 0.
The docs/distributed.md cost model starts from these figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

BATCH = {"mlp": 128, "cnn": 64}
MPI_ENV = {"OMPI_MCA_btl": "self,tcp", "OMPI_MCA_btl_tcp_if_include": "lo",
           "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# ---- one rank --------------------------------------------------------------------------------------

def _worker(model_name: str, steps: int, warmup: int) -> None:
    """Train `steps` timed steps of the global batch over the ranks; rank 0 prints the figures."""
    import numpy as np
    from mpi4py import MPI

    import ttrain
    from benchmarks.workloads import _mnist_arrays, build_ttrain_model
    from ttrain import nn, optim
    from ttrain.distributed.gradients import GradientAllreduce
    from ttrain.distributed.launch import World
    from ttrain.distributed.sharding import share_bounds

    comm = MPI.COMM_WORLD
    world = World(comm, comm.Get_rank(), comm.Get_size())
    x_all, y_all = _mnist_arrays()
    if model_name == "cnn":
        x_all = x_all.reshape(-1, 1, 28, 28)
    ttrain.manual_seed(0)
    model = build_ttrain_model(model_name)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    batch = BATCH[model_name]
    start, stop = share_bounds(batch, world.rank, world.size)

    class _Share:  # what GradientAllreduce reads from a ShardedLoader
        share = (stop - start, batch)

    allreduce = GradientAllreduce(world, list(model.parameters()), _Share(), loss_fn)
    compute, waiting, communicate = [], [], []
    for step in range(warmup + steps):
        first = (step * batch) % (len(x_all) - batch)
        x = ttrain.from_numpy(np.ascontiguousarray(x_all[first + start : first + stop]))
        y = ttrain.from_numpy(y_all[first + start : first + stop])
        comm.Barrier()  # every rank starts the step together: the split is then the step's own
        began = time.perf_counter()
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        backward_done = time.perf_counter()
        if world.size > 1:
            comm.Barrier()  # benchmark only: the wait for the slower rank, apart from the transfer
        all_there = time.perf_counter()
        if world.size > 1:
            allreduce.on_before_optimizer_step(None)
        reduced = time.perf_counter()
        optimizer.step()
        ended = time.perf_counter()
        if step >= warmup:
            compute.append((backward_done - began) + (ended - reduced))
            waiting.append(all_there - backward_done)
            communicate.append(reduced - all_there)
    overlap = _overlap_probe(world, model, loss_fn, allreduce, x, y) if world.size > 1 else None
    if world.is_main:
        step_s = [c + w + m for c, w, m in zip(compute, waiting, communicate)]
        print(json.dumps({
            "model": model_name, "ranks": world.size, "batch": batch,
            "parameters": int(sum(p.data.size for p in model.parameters())),
            "bytes_per_step": allreduce.bytes_per_step, "buckets": len(allreduce.buffers),
            "step_s": statistics.median(step_s), "compute_s": statistics.median(compute),
            "communicate_s": statistics.median(communicate), "wait_s": statistics.median(waiting),
            "compute_per_sample_s": statistics.median(compute) / (stop - start),
            "samples_per_s": batch / statistics.median(step_s), "overlap": overlap,
        }), flush=True)
    from ttrain.distributed.launch import drop_terminal_reset

    drop_terminal_reset()


def _overlap_probe(world, model, loss_fn, allreduce, x, y, repeats: int = 15) -> dict[str, float]:  # noqa: ANN001
    """Median seconds of (a) a forward+backward, then a blocking allreduce of the gradient buckets,
    against (b) non-blocking allreduces started first, the same forward+backward, then the waits.
    If the transport progressed in the background, (b) would take about max(compute, comm)."""
    import numpy as np
    from mpi4py import MPI

    buffers = [np.random.default_rng(world.rank).random(b.size).astype(b.dtype) for b in allreduce.buffers]

    def compute() -> None:
        for p in model.parameters():
            p.grad = None
        loss_fn(model(x), y).backward()

    blocking, overlapped = [], []
    for _ in range(repeats):
        world.comm.Barrier()
        began = time.perf_counter()
        compute()
        for buffer in buffers:
            world.comm.Allreduce(MPI.IN_PLACE, buffer)
        blocking.append(time.perf_counter() - began)
        world.comm.Barrier()
        began = time.perf_counter()
        requests = [world.comm.Iallreduce(MPI.IN_PLACE, buffer) for buffer in buffers]
        compute()
        MPI.Request.Waitall(requests)
        overlapped.append(time.perf_counter() - began)
    return {"blocking_s": statistics.median(blocking), "overlapped_s": statistics.median(overlapped)}


# ---- the launcher ----------------------------------------------------------------------------------

def _launch(model: str, ranks: int, threads: int, steps: int, warmup: int) -> dict:
    env = {**os.environ, **MPI_ENV, **{name: str(threads) for name in THREAD_VARIABLES}}
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    command = [shutil.which("mpiexec") or "mpiexec", "--oversubscribe", "--bind-to", "none", "-n", str(ranks),
               sys.executable, "-m", "benchmarks.distributed", "--worker", model, "--steps", str(steps),
               "--warmup", str(warmup)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(next(line for line in reversed(done.stdout.splitlines()) if line.startswith("{")))


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def _section(results: dict[tuple[str, int], list[dict]], repeats: int, load: tuple[float, float]) -> str:
    lines = [
        f"## Data-parallel training over MPI (`python -m benchmarks.distributed`), {time.strftime('%Y-%m-%d')}",
        "",
        f"Medians of {repeats} alternating launches per layout (each: the median step of its timed steps), "
        f"on this 2-core machine at load average {load[0]:.1f} -> {load[1]:.1f}; Adam, loopback TCP "
        "(Open MPI 5, `btl self,tcp`). Compute = forward + backward + optimizer step; communication = the "
        "bucketed in-place allreduce of the gradients (`GradientAllreduce`), timed after a barrier so that "
        "waiting for the slower rank (a core lost to another process) is its own column.",
        "",
        "| model (global batch) | layout | samples/s | step ms | compute ms | waiting for the other rank ms | "
        "allreduce ms | allreduced per step per rank |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model in BATCH:
        one, two = results[(model, 1)], results[(model, 2)]
        for runs, layout in ((one, "1 rank x 2 threads"), (two, "2 ranks x 1 thread")):
            comm_ms = _median(runs, "communicate_s") * 1e3
            bytes_ = runs[0]["bytes_per_step"] if runs[0]["ranks"] > 1 else 0
            lines.append(
                f"| {model.upper()} ({runs[0]['batch']}) | {layout} | {_median(runs, 'samples_per_s'):,.0f} | "
                f"{_median(runs, 'step_s') * 1e3:.1f} | {_median(runs, 'compute_s') * 1e3:.1f} | "
                f"{_median(runs, 'wait_s') * 1e3:.2f} | {comm_ms:.2f} | "
                f"{bytes_ / 2**20:.2f} MiB ({runs[0]['parameters']:,} float32, "
                f"{runs[0]['buckets']} bucket{'s' if runs[0]['buckets'] > 1 else ''}) |")
        ratio = _median(two, "samples_per_s") / _median(one, "samples_per_s")
        lines.append(f"| {model.upper()} | 2 ranks / 1 rank | {ratio:.2f}x | | | | | |")
    lines += ["", "Overlap probe (2 ranks): a forward+backward followed by the blocking allreduce, against "
              "non-blocking allreduces started before the same forward+backward and waited for after it.", "",
              "| model | blocking ms | non-blocking, overlapped ms |", "|---|---|---|"]
    for model in BATCH:
        runs = results[(model, 2)]
        lines.append(f"| {model.upper()} | {statistics.median(r['overlap']['blocking_s'] for r in runs) * 1e3:.2f} | "
                     f"{statistics.median(r['overlap']['overlapped_s'] for r in runs) * 1e3:.2f} |")
    return "\n".join(line if line.startswith("|") else textwrap.fill(line, 100) for line in lines) + "\n"


# ---- the ring-allreduce projection (docs/distributed.md) ---------------------------------------------

NODES = (2, 4, 8, 16, 32, 64)
LINKS_GBIT = (10, 25, 100)
LINK_EFFICIENCY = 0.8  # the share of the line rate an allreduce gets over TCP/RoCE, a common rule of thumb
LATENCY_S = {10: 25e-6, 25: 20e-6, 100: 5e-6}  # per message: TCP over Ethernet; 100 Gb/s as RDMA


def ring_allreduce_seconds(nbytes: int, nodes: int, link_gbit: float, buckets: int = 1) -> float:
    """Time of a ring allreduce of `nbytes` over `nodes`: each node sends and receives 2(N-1)/N of
    the bytes (reduce-scatter, then allgather) in 2(N-1) steps, each paying the link latency, per bucket."""
    if nodes <= 1:
        return 0.0
    bandwidth = link_gbit * 1e9 / 8 * LINK_EFFICIENCY
    return 2 * (nodes - 1) / nodes * nbytes / bandwidth + buckets * 2 * (nodes - 1) * LATENCY_S[link_gbit]


def projection(node_samples_per_s: float, batch_per_node: int, nbytes: int, buckets: int) -> list[dict]:
    """Samples/s and scaling efficiency of N nodes, each as fast as `node_samples_per_s` measured
    here, each with `batch_per_node` samples per step (the global batch grows with N), no overlap."""
    compute = batch_per_node / node_samples_per_s
    rows = []
    for link in LINKS_GBIT:
        for nodes in NODES:
            step = compute + ring_allreduce_seconds(nbytes, nodes, link, buckets)
            rows.append({"link_gbit": link, "nodes": nodes, "samples_per_s": nodes * batch_per_node / step,
                         "efficiency": compute / step})
    return rows


def break_even_parameters(compute_s: float, link_gbit: float) -> float:
    """The float32 parameter count whose allreduce (large N) takes as long as `compute_s`:
    past it, a node spends more time communicating than computing (efficiency under 50%)."""
    return compute_s * link_gbit * 1e9 / 8 * LINK_EFFICIENCY / (2 * 4)


def projection_section(results: dict[str, list[dict]]) -> str:
    """The Markdown tables of docs/distributed.md from a `--json` file's launches."""
    lines = []
    for model in BATCH:
        # A node = this machine's 2 cores, each at the 1-thread compute speed the 2-rank runs measured.
        runs = results[f"{model}/2"]
        node_rate = 2 / statistics.median(r["compute_per_sample_s"] for r in runs)
        run = runs[0]
        rows = projection(node_rate, run["batch"], run["bytes_per_step"], run["buckets"])
        compute_s = run["batch"] / node_rate
        lines += [f"### {model.upper()}: {run['parameters']:,} parameters, {run['bytes_per_step'] / 2**20:.2f} MiB "
                  f"per allreduce, {run['batch']} samples per node per step, a node = {node_rate:,.0f} samples/s "
                  f"({compute_s * 1e3:.1f} ms per step)", "",
                  "| nodes | " + " | ".join(f"{g} Gb/s: samples/s (efficiency)" for g in LINKS_GBIT) + " |",
                  "|---|" + "---|" * len(LINKS_GBIT)]
        for nodes in NODES:
            cells = [next(r for r in rows if r["nodes"] == nodes and r["link_gbit"] == g) for g in LINKS_GBIT]
            lines.append(f"| {nodes} | " + " | ".join(f"{c['samples_per_s']:,.0f} ({c['efficiency']:.0%})"
                                                      for c in cells) + " |")
        lines += ["", "Break-even model size at this compute per step (efficiency 50%): " + ", ".join(
            f"{break_even_parameters(compute_s, g) / 1e6:.1f} M parameters at {g} Gb/s" for g in LINKS_GBIT) + ".", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=sorted(BATCH), help="run one rank (under mpiexec)")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write every launch's figures here")
    parser.add_argument("--project", type=Path, metavar="JSON",
                        help="print the ring-allreduce projection from a --json file instead of measuring")
    args = parser.parse_args()
    if args.project:
        print(projection_section(json.loads(args.project.read_text())))
        return
    if args.worker:
        _worker(args.worker, args.steps, args.warmup)
        return
    load_before = os.getloadavg()[0]
    results: dict[tuple[str, int], list[dict]] = {(m, r): [] for m in BATCH for r in (1, 2)}
    for repeat in range(args.repeats):
        for model in BATCH:
            layouts = [(1, 2), (2, 1)] if repeat % 2 == 0 else [(2, 1), (1, 2)]  # who goes first alternates
            for ranks, threads in layouts:
                results[(model, ranks)].append(_launch(model, ranks, threads, args.steps, args.warmup))
    if args.json:
        args.json.write_text(json.dumps({f"{m}/{r}": v for (m, r), v in results.items()}, indent=1))
    print(_section(results, args.repeats, (load_before, os.getloadavg()[0])))


if __name__ == "__main__":
    main()
