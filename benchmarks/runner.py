"""The benchmark runner: ttrain next to PyTorch (and the NumPy floor) on the same machine, in the same run.

    python -m benchmarks [--workloads seed,mlp,cnn,infer_mlp,infer_cnn,numpy_mlp,startup,memory,conv_layers,
                                      scaling,whole_job]
                         [--repeats 5] [--steps N] [--threads 1,2] [--output benchmarks/results.md]

For every thread count, each framework gets its own worker process (`benchmarks.worker`) whose
thread pools (OpenBLAS, OpenMP, MKL, Numba; `torch.set_num_threads`) are sized by environment
variables before any import, so both sides use the same count. Every task is built once per
worker from the same float32 arrays and initial weights and warmed up; then each repeat times
`steps` steps in every framework in turn, rotating who goes first, with a short pause between
runs so that one side's spinning threads do not eat into the next side's time. Reported:
median samples/s per framework over the repeats and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.workloads import ALL_WORKLOADS, Task, prepare_inputs, tasks_for

REPO = Path(__file__).resolve().parents[1]
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
CORETYPE_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


@dataclass(frozen=True)
class Side:
    """One column of the tables: a framework run in its own worker, with environment changes (None unsets)."""

    key: str
    framework: str
    label: str
    env: tuple[tuple[str, str | None], ...] = ()


def thread_env(threads: int, changes: tuple[tuple[str, str | None], ...] = ()) -> dict[str, str]:
    """This process's environment with every thread pool sized to `threads`, plus `changes`."""
    env = dict(os.environ)
    env.update({name: str(threads) for name in THREAD_VARIABLES})
    for name, value in changes:
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def sides_for(coretype: str | None) -> list[Side]:
    """ttrain, PyTorch, the NumPy floor, and a ttrain variant for the OpenBLAS core type.

    The environment may set OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) for the sake of old OpenBLAS
    builds; the main ttrain side keeps whatever is set, and the variant unsets both (when set) or
    sets `coretype` (when asked), so the report shows what each gives.
    """
    sides = [Side("ttrain", "ttrain", "ttrain"), Side("torch", "torch", "PyTorch"),
             Side("numpy", "numpy", "NumPy floor")]
    if coretype:
        sides.append(Side("ttrain_coretype", "ttrain", f"ttrain, OPENBLAS_CORETYPE={coretype}",
                          (("OPENBLAS_CORETYPE", coretype), ("OPENBLAS_L2_SIZE", None))))
    elif os.environ.get("OPENBLAS_CORETYPE"):
        sides.append(Side("ttrain_coretype", "ttrain", "ttrain, OPENBLAS_CORETYPE unset",
                          tuple((name, None) for name in CORETYPE_VARIABLES)))
    return sides


class WorkerError(RuntimeError):
    """A worker died or answered something unreadable."""


class Worker:
    """A running `benchmarks.worker` process and its request/answer pipe."""

    def __init__(self, side: Side, threads: int, data: Path) -> None:
        self.side = side
        self.log = tempfile.TemporaryFile()
        argv = [sys.executable, "-m", "benchmarks.worker", "--framework", side.framework,
                "--threads", str(threads), "--data", str(data)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     env=thread_env(threads, side.env), cwd=REPO, text=True, bufsize=1)
        self.hello: dict[str, Any] = {}

    def greet(self) -> dict[str, Any]:
        """Wait for the worker's hello (its framework imported, or why not)."""
        self.hello = self._read()
        return self.hello

    def _read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            tail = self.log.read().decode(errors="replace").strip().splitlines()[-5:]
            raise WorkerError(f"{self.side.label} worker exited: " + " / ".join(tail))
        return json.loads(line)

    def request(self, **message: Any) -> dict[str, Any]:
        """Send one request and wait for its answer."""
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        """Ask the worker to quit and wait for it."""
        try:
            self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@dataclass
class TaskResult:
    """One task at one thread count: samples per wall and per CPU second for each side and repeat,
    the check values, and why a side failed."""

    task: Task
    threads: int
    samples_per_sec: dict[str, list[float]] = field(default_factory=dict)
    samples_per_cpu_sec: dict[str, list[float]] = field(default_factory=dict)
    check: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"task": dataclasses.asdict(self.task), "threads": self.threads, "samples_per_sec": self.samples_per_sec,
                "samples_per_cpu_sec": self.samples_per_cpu_sec, "check": self.check, "skipped": self.skipped}


@dataclass
class Options:
    """What to run (parsed from the command line)."""

    workloads: list[str]
    repeats: int = 5
    steps: int | None = None
    warmup: int | None = None
    threads: list[int] = field(default_factory=lambda: [1, 2])
    settle: float = 0.15
    coretype: str | None = None
    torch: bool = True
    startup_repeats: int = 7
    memory_epochs: int = 1
    whole_job_repeats: int = 1
    whole_job_epochs: int | None = None
    scaling_repeats: int = 3


def _with_overrides(task: Task, options: Options) -> Task:
    changes = {}
    if options.steps is not None:
        changes["steps"] = options.steps
    if options.warmup is not None:
        changes["warmup"] = options.warmup
    return dataclasses.replace(task, **changes)


def _start_workers(sides: list[Side], threads: int, data: Path, notes: list[str]) -> dict[str, Worker]:
    """One worker per side, started together; a side whose framework cannot be imported is left out, with a note."""
    started = [Worker(side, threads, data) for side in sides]
    workers = {}
    for side, worker in zip(sides, started):
        if worker.greet().get("ok"):
            workers[side.key] = worker
        else:
            worker.close()
            reason = worker.hello.get("error")
            if side.framework == "torch":
                notes.append(f"PyTorch is not installed here ({reason}): ttrain measured alone.")
            else:
                notes.append(f"{side.label} is not available ({reason}): not measured.")
    return workers


def _set_up(task: Task, sides: list[Side], workers: dict[str, Worker], threads: int,
            log: Callable[[str], None]) -> TaskResult:
    """Build `task` in every worker that runs it (warm-up included)."""
    result = TaskResult(task, threads)
    for side in sides:
        if side.framework not in task.frameworks or side.key not in workers:
            continue
        answer = workers[side.key].request(op="setup", task=dataclasses.asdict(task))
        if answer.get("ok"):
            result.check[side.key] = answer["check"]
            result.samples_per_sec[side.key] = []
            result.samples_per_cpu_sec[side.key] = []
        else:
            result.skipped[side.key] = answer.get("error", "failed")
        state = "ready" if answer.get("ok") else f"FAILED ({answer.get('error')})"
        log(f"  [{threads} thr] {task.key} {side.label}: {state}")
    return result


def _time_once(result: TaskResult, sides: list[Side], workers: dict[str, Worker], repeat: int, settle: float) -> None:
    """One repeat of one task: every side in turn, the first one rotating from repeat to repeat."""
    running = [s for s in sides if s.key in result.samples_per_sec]
    shift = repeat % len(running) if running else 0
    samples = result.task.steps * result.task.batch_size
    for side in running[shift:] + running[:shift]:
        answer = workers[side.key].request(op="run", key=result.task.key, steps=result.task.steps)
        if answer.get("ok"):
            result.samples_per_sec[side.key].append(samples / answer["seconds"])
            result.samples_per_cpu_sec[side.key].append(samples / max(answer["cpu_seconds"], 1e-9))
        else:
            result.skipped[side.key] = answer.get("error", "failed")
            del result.samples_per_sec[side.key], result.samples_per_cpu_sec[side.key]
        time.sleep(settle)  # let the side that just ran stop spinning its threads


def measure_throughput(tasks: list[Task], sides: list[Side], options: Options, data: Path,
                       notes: list[str], infos: dict[str, Any], log: Callable[[str], None]) -> list[TaskResult]:
    """Alternating, repeated timings of every task in every side, one thread count after the other.

    Each model gets fresh worker processes (its training and inference tasks share them), as each
    `ttrain fit` or training script is its own process: state one model leaves in a process (a
    convolution's kernel threads hold BLAS to one thread from then on) does not reach another's.
    """
    results = []
    for threads in options.threads:
        for model in dict.fromkeys(t.model for t in tasks):
            results += _measure_model([t for t in tasks if t.model == model], sides, threads, options, data,
                                      notes, infos, log)
    return results


def _measure_model(tasks: list[Task], sides: list[Side], threads: int, options: Options, data: Path,
                   notes: list[str], infos: dict[str, Any], log: Callable[[str], None]) -> list[TaskResult]:
    """The tasks of one model at one thread count, in one worker per side started for them."""
    wanted = [s for s in sides if any(s.framework in t.frameworks for t in tasks)]
    thread_notes: list[str] = []
    workers = _start_workers(wanted, threads, data, thread_notes)
    notes += [n for n in thread_notes if n not in notes]
    try:
        for key, worker in workers.items():
            infos.setdefault(f"{key}@{threads}", worker.hello["info"])
        batch = [_set_up(task, sides, workers, threads, log) for task in tasks]
        for repeat in range(options.repeats):
            for result in batch:
                _time_once(result, sides, workers, repeat, options.settle)
            log(f"  [{threads} thr] {tasks[0].model}: repeat {repeat + 1}/{options.repeats} done "
                f"(load {os.getloadavg()[0]:.2f})")
        return batch
    finally:
        for worker in workers.values():
            worker.close()


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, OS and Python."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB"
    except OSError:
        pass
    versions = {}
    for package in ("ttrain", "numpy", "numba", "torch", "threadpoolctl"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"cpu": model, "cores": os.cpu_count(), "usable_cores": affinity, "memory": memory,
            "os": platform.platform(), "python": platform.python_version(), "versions": versions,
            "blas_env": {k: os.environ.get(k) for k in CORETYPE_VARIABLES}}


def run(options: Options, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the selected workloads; returns everything the report needs (JSON-able)."""
    from benchmarks import workloads_process

    report: dict[str, Any] = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine_info(), "options": dataclasses.asdict(options),
        "load_start": os.getloadavg(), "notes": [], "infos": {}, "throughput": [],
    }
    notes: list[str] = report["notes"]
    if not options.torch:
        notes.append("PyTorch left out on request (--no-torch): ttrain alone.")
    tasks = [_with_overrides(t, options) for t in tasks_for(options.workloads, options.torch)]
    started = time.perf_counter()
    if tasks:
        sides = sides_for(options.coretype)
        with tempfile.TemporaryDirectory(prefix="ttrain-bench-") as tmp:
            data = Path(tmp)
            log("preparing the shared MNIST arrays and initial weights")
            skipped_models = prepare_inputs(data, {t.model for t in tasks})
            for model, reason in skipped_models.items():
                notes.append(f"{model}: skipped: {reason}")
            tasks = [t for t in tasks if t.model not in skipped_models]
            results = measure_throughput(tasks, sides, options, data, notes, report["infos"], log)
        report["throughput"] = [r.to_dict() for r in results]
        report["sides"] = {s.key: s.label for s in sides}
    torch_ok = options.torch and any(key.startswith("torch@") for key in report["infos"])
    missing = any(n.startswith("PyTorch is not installed") for n in notes)
    if options.torch and not torch_ok and not missing and {"startup", "memory"} & set(options.workloads):
        torch_ok = _torch_importable()  # no throughput worker said either way
        if not torch_ok:
            notes.append("PyTorch is not installed here (`import torch` failed): ttrain measured alone.")
    env = thread_env(max(options.threads))
    threads = max(options.threads)
    if "startup" in options.workloads:
        log("start-up: import ttrain, ttrain --help, first training step")
        report["startup"] = workloads_process.startup(options.startup_repeats, env, torch_ok)
        report["first_step"] = workloads_process.first_step(max(3, options.repeats // 2), env, torch_ok,
                                                            _cnn_available(), threads)
    if "memory" in options.workloads:
        log("memory: ttrain fit of the MLP next to the PyTorch twin")
        report["memory"] = workloads_process.memory(max(2, min(3, options.repeats)), env, torch_ok,
                                                    options.memory_epochs, threads)
    if "conv_layers" in options.workloads:
        from benchmarks import conv_layers

        log("conv layers: GFLOP/s per layer and pass next to sgemm, per thread count")
        report["conv_layers"] = conv_layers.run_for_threads(list(options.threads), max(5, 2 * options.repeats - 1),
                                                            thread_env)
    if "scaling" in options.workloads:
        log("scaling: samples/s against batch size and width, per thread count")
        report["scaling"] = _scaling(options, notes, report["infos"], log)
    if "whole_job" in options.workloads:
        log("whole job: ttrain fit configs/mnist_cnn.yaml next to the PyTorch script")
        report["whole_job"] = workloads_process.whole_job(options.whole_job_repeats, env, torch_ok, threads,
                                                          options.whole_job_epochs)
    report["process_threads"] = threads
    report["load_end"] = os.getloadavg()
    report["seconds"] = time.perf_counter() - started
    return report


def _scaling(options: Options, notes: list[str], infos: dict[str, Any],
             log: Callable[[str], None]) -> dict[str, Any]:
    """The scaling points, timed like the throughput tasks (fewer repeats), as curves."""
    from benchmarks import scaling

    tasks = [_with_overrides(t, dataclasses.replace(options, steps=None))
             for t in scaling.scaling_tasks(options.torch)]
    with tempfile.TemporaryDirectory(prefix="ttrain-bench-") as tmp:
        data = Path(tmp)
        prepare_inputs(data, {t.model for t in tasks})
        runs = dataclasses.replace(options, repeats=options.scaling_repeats)
        results = measure_throughput(tasks, sides_for(None)[:2], runs, data, notes, infos, log)
    return scaling.curves([r.to_dict() for r in results])


def _cnn_available() -> bool:
    """Whether this checkout has ttrain's CNN."""
    from benchmarks.workloads import cnn_class

    try:
        cnn_class()
        return True
    except (ImportError, AttributeError):
        return False


def _torch_importable() -> bool:
    """Whether `import torch` works in a fresh interpreter with this environment."""
    probe = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, cwd=REPO)
    return probe.returncode == 0


def parse_args(argv: list[str] | None = None) -> tuple[Options, Path, Path | None]:
    """Options, the Markdown output path and the optional JSON output path."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default=",".join(ALL_WORKLOADS),
                        help=f"comma-separated, from: {', '.join(ALL_WORKLOADS)} (default: all)")
    parser.add_argument("--repeats", type=int, default=5, help="alternating timed repeats per task (default 5)")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps per repeat, for every task (default: per task)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed warm-up steps per task (default: per task)")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts, each run for both frameworks")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results.md",
                        help="Markdown report; its measured block is replaced, the rest kept")
    parser.add_argument("--json", type=Path, default=None, help="also write every raw number here")
    parser.add_argument("--openblas-coretype", default=None,
                        help="also run ttrain with OPENBLAS_CORETYPE set to this (e.g. Haswell)")
    parser.add_argument("--no-torch", action="store_true", help="measure ttrain alone")
    parser.add_argument("--settle", type=float, default=0.15, help="pause between runs, seconds")
    parser.add_argument("--memory-epochs", type=int, default=1, help="epochs of the memory workload's fits")
    parser.add_argument("--scaling-repeats", type=int, default=3, help="alternating repeats per scaling point")
    parser.add_argument("--whole-job-repeats", type=int, default=1, help="runs of each whole job (alternating)")
    parser.add_argument("--whole-job-epochs", type=int, default=None,
                        help="shorten both whole jobs to this many epochs (default: the config's)")
    args = parser.parse_args(argv)
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in names if w not in ALL_WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(ALL_WORKLOADS)}")
    try:
        threads = [int(t) for t in args.threads.split(",")]
    except ValueError:
        parser.error(f"--threads must be comma-separated integers, got {args.threads!r}")
    if args.repeats < 1 or (args.steps is not None and args.steps < 1) or any(t < 1 for t in threads):
        parser.error("--repeats, --steps and --threads must be positive")
    options = Options(names, args.repeats, args.steps, args.warmup, threads, args.settle, args.openblas_coretype,
                      not args.no_torch, memory_epochs=args.memory_epochs,
                      whole_job_repeats=args.whole_job_repeats, whole_job_epochs=args.whole_job_epochs,
                      scaling_repeats=args.scaling_repeats)
    return options, args.output, args.json


def main(argv: list[str] | None = None) -> None:
    """Run, print the report, and write it to --output (and --json)."""
    from benchmarks.report import render, write_report

    options, output, json_path = parse_args(argv)
    report = run(options, log=lambda message: print(message, file=sys.stderr, flush=True))
    if report.get("scaling"):
        from benchmarks.scaling import plot

        report["scaling_png"] = plot(report["scaling"], output.with_name(output.stem + "_scaling.png")).name
    text = render(report)
    write_report(output, text)
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    print(text)
