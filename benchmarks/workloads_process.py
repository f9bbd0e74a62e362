"""Whole-process workloads: start-up times, the first training step of `ttrain fit`, and peak memory.

Each measurement starts a fresh process (the user's experience), so these numbers include the
interpreter's start. Commands alternate repeat by repeat, like the throughput workloads.

- start-up: `python -c pass` (the interpreter alone, for reference), `import ttrain`, `import ttrain` plus
  a first tensor (which loads NumPy and the engine), `ttrain --help`
  (the console script next to this interpreter, and, when different, the one on PATH), `import torch`;
  and whether numba was imported (`-X importtime`).
- first step: `ttrain fit` of the MLP (and the CNN) on a tiny budget, through `benchmarks.first_step`,
  after one untimed run that warms the kernel cache; the PyTorch twin (`benchmarks.torch_fit`) for reference.
- memory: the maximum resident set size (`wait4`'s rusage of that one child) of `ttrain fit` of the MLP
  on the bundled data next to the PyTorch twin doing the same epochs, plus both wall times.
- whole job: the full `ttrain fit configs/mnist_cnn.yaml` next to the PyTorch script doing the same
  training: wall time and peak RSS of each.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

MLP_CONFIG = """\
name: bench_mlp
seed: 0
model: {{name: mlp, hidden: [512, 256], activation: relu}}
data: {{name: mnist, flatten: true, normalize: true{sizes}}}
loss: {{name: cross_entropy}}
optimizer: {{name: adam, lr: 0.001}}
trainer: {{epochs: {epochs}, batch_size: 128, val_split: 0, metrics: [accuracy], output_dir: {out}}}
"""

CNN_CONFIG = """\
name: bench_cnn
seed: 0
model: {{name: cnn, channels: [32, 64], kernel_sizes: 3, hidden: 128, dropout: 0.25}}
data: {{name: mnist, flatten: false, normalize: true, train_size: 128, test_size: 128}}
loss: {{name: cross_entropy}}
optimizer: {{name: adam, lr: 0.001}}
trainer: {{epochs: 1, batch_size: 64, val_split: 0, metrics: [accuracy], output_dir: {out}}}
"""


@dataclass
class ProcessRun:
    """One finished process: wall seconds, max RSS in MiB, exit code, end of its first step (seconds after start)."""

    seconds: float
    max_rss_mib: float
    returncode: int
    first_step: float | None = None
    stderr: str = ""


# Started by a small Python trampoline rather than by this (possibly large) process: on Linux a
# child's ru_maxrss starts from the high-water mark of the process that forked it, so a child of
# a pytest or runner process holding PyTorch would report at least that much. The trampoline also
# takes the start time just before spawning, so its own start-up is not counted.
TRAMPOLINE = """\
import json, os, sys, time
argv = json.loads(sys.argv[1])
devnull = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
started = time.monotonic()
pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=devnull)
_, status, usage = os.wait4(pid, 0)
print(json.dumps([started, time.monotonic(), usage.ru_maxrss, os.waitstatus_to_exitcode(status)]))
"""


def run_process(argv: list[str], env: dict[str, str], marker: Path | None = None) -> ProcessRun:
    """Run `argv` to completion and measure its own wall time and peak RSS (see TRAMPOLINE)."""
    if marker is not None:
        marker.unlink(missing_ok=True)
        env = {**env, "BENCH_FIRST_STEP_FILE": str(marker)}
    with tempfile.TemporaryFile() as err:
        out = subprocess.run([PYTHON, "-c", TRAMPOLINE, json.dumps(argv)], stdout=subprocess.PIPE, stderr=err,
                             env=env, cwd=REPO, text=True, check=True)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    started, ended, max_rss_kib, returncode = json.loads(out.stdout)
    first = None
    if marker is not None and marker.exists():
        first = float(marker.read_text(encoding="utf-8")) - started
    return ProcessRun(ended - started, max_rss_kib / 1024, returncode, first, stderr)  # ru_maxrss is KiB on Linux


@dataclass
class Measured:
    """Repeated runs of one command: medians and any failure."""

    label: str
    runs: list[ProcessRun] = field(default_factory=list)
    error: str | None = None

    def median(self, attribute: str) -> float | None:
        """Median of `attribute` over successful runs (None when there are none)."""
        values = [getattr(r, attribute) for r in self.runs if r.returncode == 0 and getattr(r, attribute) is not None]
        return statistics.median(values) if values else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary."""
        done = [r.seconds for r in self.runs if r.returncode == 0]
        return {"label": self.label, "error": self.error, "best_seconds": min(done) if done else None,
                "seconds": self.median("seconds"), "first_step": self.median("first_step"),
                "max_rss_mib": self.median("max_rss_mib"),
                "runs": [{"seconds": r.seconds, "first_step": r.first_step, "max_rss_mib": r.max_rss_mib,
                          "returncode": r.returncode} for r in self.runs]}


def alternate(commands: dict[str, list[str]], repeats: int, env: dict[str, str],
              markers: dict[str, Path] | None = None,
              fresh_env: dict[str, Callable[[], dict[str, str]]] | None = None,
              settle: dict[str, Callable[[], None]] | None = None) -> dict[str, Measured]:
    """Run every command `repeats` times, alternating; a command that fails is not run again.

    `fresh_env[label]`, when given, is called before each run of that command for extra environment
    variables (a new empty kernel cache folder, say); `settle[label]` after each run (to wait for
    what the run left working in the background)."""
    results = {label: Measured(label) for label in commands}
    markers = markers or {}
    fresh_env = fresh_env or {}
    settle = settle or {}
    for _ in range(repeats):
        for label, argv in commands.items():
            measured = results[label]
            if measured.error:
                continue
            extra = fresh_env[label]() if label in fresh_env else {}
            run = run_process(argv, {**env, **extra}, markers.get(label))
            if label in settle:
                settle[label]()
            measured.runs.append(run)
            if run.returncode != 0:
                tail = run.stderr.strip().splitlines()[-3:]
                measured.error = f"exit {run.returncode}: " + " / ".join(tail)
    return results


def _ttrain_scripts() -> dict[str, list[str]]:
    """How a user starts `ttrain`: the console script beside this interpreter, and the one on PATH if that differs."""
    beside = Path(PYTHON).parent / "ttrain"
    on_path = shutil.which("ttrain")
    scripts = {"ttrain --help": [str(beside), "--help"] if beside.exists() else [PYTHON, "-m", "ttrain", "--help"]}
    if on_path and Path(on_path).resolve() != beside.resolve():
        scripts[f"ttrain --help via PATH ({on_path})"] = [on_path, "--help"]
    return scripts


def imports_numba(argv_tail: list[str], env: dict[str, str]) -> bool:
    """Whether `python -X importtime <argv_tail>` imports numba."""
    out = subprocess.run([PYTHON, "-X", "importtime", *argv_tail], env=env, cwd=REPO, capture_output=True, text=True)
    return any(line.rsplit("|", 1)[-1].strip().split(".")[0] == "numba" for line in out.stderr.splitlines())


def startup(repeats: int, env: dict[str, str], torch: bool) -> dict[str, Any]:
    """Median wall times of the start-up commands, and the numba checks."""
    commands = {"python -c pass": [PYTHON, "-c", "pass"], "import ttrain": [PYTHON, "-c", "import ttrain"],
                "import ttrain; ttrain.zeros(1)": [PYTHON, "-c", "import ttrain; ttrain.zeros(1)"]}
    commands.update(_ttrain_scripts())
    if torch:
        commands["import torch"] = [PYTHON, "-c", "import torch"]
    results = alternate(commands, repeats, env)
    return {
        "times": {label: m.to_dict() for label, m in results.items()},
        "numba_on_import": imports_numba(["-c", "import ttrain"], env),
        "numba_on_help": imports_numba(["-m", "ttrain", "--help"], env),
    }


def _fit_argv(config: Path) -> list[str]:
    return [PYTHON, "-m", "benchmarks.first_step", "fit", str(config), "--quiet"]


def _torch_argv(out: Path, epochs: int, sizes: tuple[int | None, int | None], threads: int) -> list[str]:
    from ttrain.data.mnist import BUNDLED_DIR

    argv = [PYTHON, "-m", "benchmarks.torch_fit", "--mnist", str(BUNDLED_DIR), "--out", str(out),
            "--epochs", str(epochs), "--threads", str(threads)]
    for flag, size in zip(("--train-size", "--test-size"), sizes):
        if size is not None:
            argv += [flag, str(size)]
    return argv


def _mlp_config(folder: Path, epochs: int, sizes: tuple[int | None, int | None]) -> Path:
    extra = "".join(f", {k}: {v}" for k, v in zip(("train_size", "test_size"), sizes) if v is not None)
    path = folder / f"mlp_{epochs}_{sizes[0]}.yaml"
    path.write_text(MLP_CONFIG.format(sizes=extra, epochs=epochs, out=folder / "runs"), encoding="utf-8")
    return path


COLD_CNN = "ttrain fit CNN, empty kernel cache"
COMPILE_HELPER = "ttrain.autograd.kernels.compile_worker"


def wait_for_compile_helpers(timeout: float = 300.0) -> None:
    """Wait until no cold-start compile helper runs (Linux: read from /proc; elsewhere, return). A
    first run leaves one compiling into its cache after it ends: left running, it would take CPU
    from the measurements that follow."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = False
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                running = COMPILE_HELPER.encode() in cmdline.read_bytes()
            except OSError:
                continue
            if running:
                break
        if not running:
            return
        time.sleep(0.2)


def first_step(repeats: int, env: dict[str, str], torch: bool, cnn: bool, threads: int) -> dict[str, Any]:
    """Seconds from process start to the end of the first training step, kernel cache warm; and the
    CNN's first step with an empty kernel cache (a fresh NUMBA_CACHE_DIR each run: a first run after
    installing)."""
    with tempfile.TemporaryDirectory(prefix="ttrain-bench-") as tmp:
        folder = Path(tmp)
        sizes = (256, 256)
        commands = {"ttrain fit MLP": _fit_argv(_mlp_config(folder, 1, sizes))}
        fresh_env = {}
        if cnn:
            cnn_path = folder / "cnn.yaml"
            cnn_path.write_text(CNN_CONFIG.format(out=folder / "runs"), encoding="utf-8")
            commands["ttrain fit CNN"] = _fit_argv(cnn_path)
            commands[COLD_CNN] = _fit_argv(cnn_path)
            fresh_env[COLD_CNN] = lambda: {"NUMBA_CACHE_DIR": tempfile.mkdtemp(dir=folder, prefix="numba-cache-")}
        if torch:
            commands["PyTorch MLP script"] = _torch_argv(folder / "torch", 1, sizes, threads)
        markers = {label: folder / f"marker{i}" for i, label in enumerate(commands)}
        warm = {label: argv for label, argv in commands.items() if label != COLD_CNN}
        alternate(warm, 1, env, markers)  # untimed: fills numba's kernel cache and the OS file cache
        results = alternate(commands, repeats, env, markers, fresh_env, {COLD_CNN: wait_for_compile_helpers})
    return {label: m.to_dict() for label, m in results.items()}


def memory(repeats: int, env: dict[str, str], torch: bool, epochs: int, threads: int) -> dict[str, Any]:
    """Peak RSS and wall time of `ttrain fit` of the MLP on the bundled data vs the PyTorch twin."""
    with tempfile.TemporaryDirectory(prefix="ttrain-bench-") as tmp:
        folder = Path(tmp)
        commands = {"ttrain fit MLP": _fit_argv(_mlp_config(folder, epochs, (None, None)))}
        if torch:
            commands["PyTorch MLP script"] = _torch_argv(folder / "torch", epochs, (None, None), threads)
        markers = {label: folder / f"marker{i}" for i, label in enumerate(commands)}
        results = alternate(commands, repeats, env, markers)
    return {label: m.to_dict() for label, m in results.items()}


WHOLE_JOB_CONFIG = REPO / "configs" / "mnist_cnn.yaml"


def whole_job(repeats: int, env: dict[str, str], torch: bool, threads: int, epochs: int | None = None) -> dict[str, Any]:
    """Wall time and peak RSS of the whole `ttrain fit configs/mnist_cnn.yaml` next to the PyTorch script
    training the same network the same way (same epochs, batch, optimizer, shift augmentation, test
    evaluation and checkpoint each epoch). `epochs` shortens both alike (None: the config's own)."""
    import yaml

    config = yaml.safe_load(WHOLE_JOB_CONFIG.read_text(encoding="utf-8"))
    trainer = config["trainer"]
    epochs = epochs or trainer["epochs"]
    with tempfile.TemporaryDirectory(prefix="ttrain-bench-") as tmp:
        folder = Path(tmp)
        ours = [PYTHON, "-m", "benchmarks.first_step", "fit", str(WHOLE_JOB_CONFIG), "--quiet",
                "--set", f"trainer.output_dir={folder / 'runs'}", "--set", f"trainer.epochs={epochs}"]
        commands = {"ttrain fit configs/mnist_cnn.yaml": ours}
        if torch:
            from ttrain.data.mnist import BUNDLED_DIR

            commands["PyTorch CNN script"] = [
                PYTHON, "-m", "benchmarks.torch_fit", "--model", "cnn", "--mnist", str(BUNDLED_DIR),
                "--out", str(folder / "torch"), "--epochs", str(epochs), "--batch-size", str(trainer["batch_size"]),
                "--augment-shift", str(config["data"].get("augment_shift", 0)), "--threads", str(threads)]
        markers = {label: folder / f"marker{i}" for i, label in enumerate(commands)}
        results = alternate(commands, repeats, env, markers)
    return {"epochs": epochs, "jobs": {label: m.to_dict() for label, m in results.items()}}
