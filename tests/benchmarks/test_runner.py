"""The benchmark runner on a tiny budget: it measures both frameworks (or ttrain alone), and its report holds up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import workloads_process
from benchmarks.report import BEGIN, END, render, write_report
from benchmarks.runner import Options, parse_args, run

REPO = Path(__file__).resolve().parents[2]
TINY = dict(repeats=2, steps=2, warmup=1, threads=[1], settle=0.0)


def _torch_importable() -> bool:
    return subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0


def _by_key(report: dict) -> dict[str, dict]:
    return {r["task"]["key"]: r for r in report["throughput"]}


def test_runner_measures_ttrain_and_pytorch_side_by_side(tmp_path: Path) -> None:
    report = run(Options(["seed", "infer_mlp", "numpy_mlp"], **TINY), log=lambda _: None)
    results = _by_key(report)
    assert set(results) == {"seed", "mlp", "infer_mlp"}
    torch_here = _torch_importable()
    for result in results.values():
        assert not result["skipped"]
        assert len(result["samples_per_sec"]["ttrain"]) == 2 and min(result["samples_per_sec"]["ttrain"]) > 0
        if result["task"]["key"] != "mlp":  # numpy_mlp alone: ttrain against the floor, no PyTorch
            assert ("torch" in result["samples_per_sec"]) == torch_here
        # Same weights and batches everywhere: the check values agree across frameworks.
        checks = list(result["check"].values())
        assert len(checks) >= 2 or not torch_here
        np.testing.assert_allclose(checks, checks[0], rtol=1e-4, atol=1e-6)
    assert len(results["mlp"]["samples_per_sec"]["numpy"]) == 2

    out = tmp_path / "results.md"
    write_report(out, render(report))
    text = out.read_text()
    assert BEGIN in text and END in text
    assert "seed net train" in text and "ttrain/NumPy" in text
    assert "Load average" in text and "kernel" in text
    assert ("PyTorch" in text.split("| workload |")[1].splitlines()[0]) == torch_here


def test_runner_without_pytorch_runs_ttrain_alone_and_says_so(tmp_path: Path) -> None:
    hidden = tmp_path / "hide" / "torch"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('torch hidden by the test')\n")
    out = tmp_path / "results.md"
    env = {"PYTHONPATH": str(hidden.parent)}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--workloads", "seed", "--repeats", "1", "--steps", "2", "--warmup", "1",
         "--threads", "1", "--settle", "0", "--output", str(out), "--json", str(tmp_path / "r.json")],
        cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "PyTorch is not installed" in out.read_text()
    seed = _by_key(json.loads((tmp_path / "r.json").read_text()))["seed"]
    assert list(seed["samples_per_sec"]) == ["ttrain"]


def test_numpy_floor_does_the_same_maths_as_pytorch() -> None:
    torch = pytest.importorskip("torch")
    from benchmarks.workloads_numpy import NumpyMLP

    rng = np.random.default_rng(0)
    shapes = {"net.0": (512, 784), "net.2": (256, 512), "net.4": (10, 256)}
    state = {}
    for name, (out, inp) in shapes.items():
        state[f"{name}.weight"] = rng.uniform(-1, 1, (out, inp)).astype(np.float32) / np.sqrt(inp)
        state[f"{name}.bias"] = rng.uniform(-1, 1, out).astype(np.float32) / np.sqrt(inp)
    ours = NumpyMLP(state)
    nn = torch.nn
    theirs = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    theirs.load_state_dict({f"{k.split('.', 1)[1]}": torch.from_numpy(v) for k, v in state.items()})
    optimizer = torch.optim.Adam(theirs.parameters(), lr=1e-3)
    for _ in range(3):
        x = rng.standard_normal((32, 784), dtype=np.float32)
        y = rng.integers(0, 10, 32)
        loss, grads = ours.gradients(x, y)
        optimizer.zero_grad()
        expected = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x)), torch.from_numpy(y))
        expected.backward()
        assert loss == pytest.approx(expected.item(), rel=1e-5)
        for g, p in zip(grads, theirs.parameters()):
            np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-4, atol=1e-6)
            p.grad = torch.from_numpy(g.copy())  # Adam on identical gradients: its near-zero ones amplify rounding
        ours.adam(grads)
        optimizer.step()
        for ours_p, theirs_p in zip(ours.params, theirs.parameters()):
            np.testing.assert_allclose(ours_p, theirs_p.detach().numpy(), rtol=1e-5, atol=1e-7)
            theirs_p.data = torch.from_numpy(ours_p.copy())  # the next step starts from identical weights


def test_process_rusage_and_first_step_marker_are_the_childs_own(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    code = ("import os, time, numpy as np; a = np.ones(80 * 2**20 // 8); "
            "open(os.environ['BENCH_FIRST_STEP_FILE'], 'w').write(repr(time.monotonic()))")
    run_ = workloads_process.run_process([sys.executable, "-c", code], dict(os.environ), marker)
    assert run_.returncode == 0
    assert run_.max_rss_mib >= 80
    assert 0 < run_.first_step <= run_.seconds
    small = workloads_process.run_process([sys.executable, "-c", "pass"], dict(os.environ))
    assert small.max_rss_mib < 80 and small.first_step is None  # not the maximum over earlier children


def test_import_ttrain_does_not_load_numba() -> None:
    assert not workloads_process.imports_numba(["-c", "import ttrain"], dict(os.environ))


def test_write_report_replaces_only_the_measured_block(tmp_path: Path) -> None:
    path = tmp_path / "results.md"
    write_report(path, f"{BEGIN}\nfirst\n{END}\n")
    path.write_text(path.read_text() + "\n## Change log\n- fused Adam: +20%\n")
    write_report(path, f"{BEGIN}\nsecond\n{END}\n")
    text = path.read_text()
    assert "second" in text and "first" not in text
    assert text.count(BEGIN) == 1 and "- fused Adam: +20%" in text and text.startswith("# Benchmarks")


@pytest.mark.parametrize("argv", [["--workloads", "seed,nope"], ["--threads", "two"], ["--repeats", "0"]])
def test_bad_arguments_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2


def test_report_marks_each_target_pass_or_fail() -> None:
    def measured(seconds=None, first_step=None, rss=None):
        return {"error": None, "seconds": seconds, "best_seconds": seconds, "first_step": first_step,
                "max_rss_mib": rss}

    task = {"key": "seed", "title": "seed net train", "model": "seed", "train": True, "batch_size": 128, "steps": 10,
            "warmup": 1, "frameworks": ["ttrain", "torch"], "target": 2.0, "numpy_target": None}
    report = {
        "date": "today", "seconds": 1.0, "notes": [], "infos": {}, "process_threads": 2,
        "load_start": (1.0, 1.0, 1.0), "load_end": (2.0, 2.0, 2.0),
        "machine": {"cpu": "CPU", "cores": 2, "usable_cores": 2, "memory": "1 GiB", "os": "os", "python": "3",
                    "blas_env": {}, "versions": {"ttrain": "0.1"}},
        "options": {"workloads": ["seed"], "threads": [2], "repeats": 3, "memory_epochs": 1},
        "sides": {"ttrain": "ttrain", "torch": "PyTorch"},
        "throughput": [{"task": task, "threads": 2, "check": {}, "skipped": {},
                        "samples_per_sec": {"ttrain": [300.0, 310.0, 290.0], "torch": [100.0, 100.0, 100.0]},
                        "samples_per_cpu_sec": {"ttrain": [300.0], "torch": [200.0]}}],
        "startup": {"times": {"ttrain --help": measured(0.25), "import ttrain": measured(0.05)},
                    "numba_on_import": False, "numba_on_help": True},
        "first_step": {"ttrain fit MLP": measured(2.0, 1.0)},
        "memory": {"ttrain fit MLP": measured(3.0, 1.0, 200.0), "PyTorch MLP script": measured(4.0, 2.0, 400.0)},
    }
    text = render(report)
    seed_row = next(line for line in text.splitlines() if line.startswith("| seed net train"))
    # medians 300/100, bests 310/100, CPU time 300/200
    assert "| 300 (310) | 100 (100) | 3.00x (3.10x) | 1.50x | >= 2x | pass |" in seed_row
    help_row = next(line for line in text.splitlines() if line.startswith("| `ttrain --help`"))
    assert help_row.endswith("**FAIL** |")
    assert next(line for line in text.splitlines() if line.startswith("| `import ttrain`")).endswith("| pass |")
    assert "by `ttrain --help`: **yes**" in text
    assert "pass (200 vs 400 MiB)" in text
