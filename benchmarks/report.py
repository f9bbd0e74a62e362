"""The Markdown report of a benchmark run, and how it is written into `benchmarks/results.md`.

The runner's output goes between two marker comments; whatever the file holds outside them (the
profile notes, the log of what each optimisation bought) is kept when a new run replaces the block.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.workloads_process import COLD_CNN

BEGIN = "<!-- benchmarks:begin (written by `python -m benchmarks`; edit outside these markers) -->"
END = "<!-- benchmarks:end -->"

PREAMBLE = """\
# Benchmarks: ttrain next to PyTorch on the CPU

`python -m benchmarks` (from the repository root, with the `bench` extra installed) measures every
workload of issue 5 and rewrites the block below; `--help` lists the options. Text outside the
markers is kept, so notes and the log of what each change bought live there.

"""

# Issue 5's targets for the whole-process workloads: (label, key in the report, limit in seconds).
STARTUP_TARGETS = {"import ttrain": 0.3, "ttrain --help": 0.2}
FIRST_STEP_TARGET = 1.5
COLD_START_TARGET = 5.0  # issue 10: first CNN step on a fresh install


def _num(value: float | None) -> str:
    """Samples/s to 3 significant digits, with thousands separators."""
    if value is None:
        return "–"
    return f"{float(f'{value:.3g}'):,.0f}" if value >= 100 else f"{value:.3g}"


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}x"


def _verdict(value: float | None, limit: float | None, below: bool = False) -> str:
    """`pass`/`**FAIL**` against a minimum (or, with `below`, a maximum); empty without a target."""
    if limit is None or value is None:
        return ""
    ok = value < limit if below else value >= limit
    return "pass" if ok else "**FAIL**"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f} s"


def _versions(machine: dict[str, Any], infos: dict[str, Any]) -> str:
    """Installed versions; the workers' own report wins (torch's build tag, say)."""
    found = {k: v for k, v in machine.get("versions", {}).items() if v}
    for info in infos.values():
        for name in ("ttrain", "numpy", "numba", "torch"):
            if info.get(name):
                found[name] = str(info[name])
    return ", ".join(f"{k} {v}" for k, v in found.items()) or "–"


def _blas(infos: dict[str, Any], sides: dict[str, str]) -> list[str]:
    lines = []
    for key, info in infos.items():
        side, _, threads = key.partition("@")
        if info.get("framework") == "torch":
            lines.append(f"- {sides.get(side, side)}, {threads} thread(s): torch.get_num_threads() = "
                         f"{info.get('torch_threads')}")
            continue
        pools = info.get("blas") or []
        text = "; ".join(f"{p.get('prefix')} {p.get('version')}, kernel {p.get('architecture')}, "
                         f"{p.get('num_threads')} thread(s)" for p in pools) or "threadpoolctl not installed"
        coretype = info.get("env", {}).get("OPENBLAS_CORETYPE", "unset")
        lines.append(f"- {sides.get(side, side)}, {threads} thread(s): NumPy BLAS {text} "
                     f"(OPENBLAS_CORETYPE {coretype})")
    return lines


def _throughput_tables(report: dict[str, Any]) -> list[str]:
    sides: dict[str, str] = report.get("sides", {})
    results = report.get("throughput", [])
    lines: list[str] = []
    for threads in report["options"]["threads"]:
        rows = [r for r in results if r["threads"] == threads]
        if not rows:
            continue
        present = [k for k in sides if any(k in r["samples_per_sec"] for r in rows)]
        extra = [k for k in present if k not in ("ttrain", "torch", "numpy")]
        header = ["workload", "batch", *(sides[k] for k in present), "ttrain/PyTorch", "by CPU time", "target", "",
                  "ttrain/NumPy", "by CPU time", "target", "", *(f"{sides[k]} / ttrain" for k in extra)]
        lines += [f"### Throughput, {threads} thread(s) per framework", "",
                  f"Samples per second (wall clock): median (best) of {report['options']['repeats']} alternating "
                  "repeats, warm-up excluded. Ratios: of the medians (of the bests); targets are judged on the "
                  "medians. *By CPU time*: the ratio of the medians in samples per CPU-second of the worker "
                  "process, which leaves out the time other processes held the cores (steadier on a loaded "
                  "machine; with 2 threads it also counts threads spinning while they wait).", "",
                  "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in rows:
            task = r["task"]
            wall = {k: _median(v) for k, v in r["samples_per_sec"].items()}
            best = {k: max(v) for k, v in r["samples_per_sec"].items() if v}
            cpu = {k: _median(v) for k, v in r.get("samples_per_cpu_sec", {}).items()}

            def both(a: str, b: str, wall: dict = wall, best: dict = best) -> str:
                return f"{_ratio(_div(wall.get(a), wall.get(b)))} ({_ratio(_div(best.get(a), best.get(b)))})"

            vs_torch = _div(wall.get("ttrain"), wall.get("torch"))
            vs_numpy = _div(wall.get("ttrain"), wall.get("numpy"))
            cells = [f"{task['title']} ({task['steps']} steps/repeat)", str(task["batch_size"]),
                     *(f"{_num(wall[k])} ({_num(best[k])})" if wall.get(k) else "–" for k in present),
                     both("ttrain", "torch") if vs_torch else "–", _ratio(_div(cpu.get("ttrain"), cpu.get("torch"))),
                     _target(task["target"]), _verdict(vs_torch, task["target"]),
                     both("ttrain", "numpy") if vs_numpy else "–", _ratio(_div(cpu.get("ttrain"), cpu.get("numpy"))),
                     _target(task["numpy_target"]), _verdict(vs_numpy, task["numpy_target"]),
                     *(both(k, "ttrain") for k in extra)]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        checks = []
        for r in rows:
            if len(r["check"]) > 1:
                values = ", ".join(f"{sides[k]} {v:.6g}" for k, v in r["check"].items())
                checks.append(f"{r['task']['key']}: {values}")
            for k, why in r["skipped"].items():
                checks.append(f"{r['task']['key']}: {sides.get(k, k)} failed: {why}")
        if checks:
            lines += ["Same weights, same batches — check values (first-batch loss in eval mode for training, "
                      "mean output for inference): " + "; ".join(checks) + ".", ""]
    return lines


def _median(values: list[float]) -> float | None:
    import statistics

    return statistics.median(values) if values else None


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _limit(seconds: float | None) -> str:
    return "" if seconds is None else f"< {seconds:g} s"


def _target(value: float | None) -> str:
    return "" if value is None else f">= {value:g}x"


def _startup_table(report: dict[str, Any]) -> list[str]:
    startup = report.get("startup")
    first = report.get("first_step")
    if not startup and not first:
        return []
    lines = [f"### Start-up ({report.get('process_threads')} thread(s); fresh process each time, medians)", "",
             "| command | median wall time | target | |", "|---|---|---|---|"]
    for label, m in (startup or {}).get("times", {}).items():
        limit = STARTUP_TARGETS.get(label)
        value = m["seconds"]
        cell = _seconds(value) if not m["error"] else f"failed: {m['error']}"
        lines.append(f"| `{label}` | {cell} | {_limit(limit)} | {_verdict(value, limit, below=True)} |")
    for label, m in (first or {}).items():
        ours = label.startswith("ttrain")
        cold = label == COLD_CNN
        limit = (COLD_START_TARGET if cold else FIRST_STEP_TARGET) if ours else None
        value = m["first_step"]
        cell = (f"{_seconds(value)} to the end of step 1 (whole run {_seconds(m['seconds'])})"
                if not m["error"] else f"failed: {m['error']}")
        what = (f"`{label}`, tiny budget" + ("" if cold else ", warm kernel cache") if ours
                else f"{label} (same budget, for reference)")
        lines.append(f"| {what} | {cell} | {_limit(limit)} | {_verdict(value, limit, below=True)} |")
    lines.append("")
    if startup:
        lines += [f"numba imported by `import ttrain`: {'**yes**' if startup['numba_on_import'] else 'no'}; "
                  f"by `ttrain --help`: {'**yes**' if startup['numba_on_help'] else 'no'} (must be no).", ""]
    return lines


def _conv_layer_table(report: dict[str, Any]) -> list[str]:
    runs = report.get("conv_layers")
    if not runs:
        return []
    head = " | ".join(f"{r['threads']} thr: ms | GFLOP/s | of sgemm" for r in runs)
    lines = ["### Conv layers of configs/mnist_cnn.yaml and the LeNet-style net: achieved GFLOP/s (batch 64, float32)", "",
             "FLOPs are the direct convolution's (2·N·O·C·kh·kw·Ho·Wo) whatever algorithm runs; sgemm is "
             "NumPy's float32 GEMM (1024³) in the same process. Target: >= 50% of sgemm on the 64-channel layer.", "",
             f"| layer | pass | {head} |", "|---|---|" + "---|---|---|" * len(runs)]
    for i, row in enumerate(runs[0]["layers"]):
        cells = []
        for r in runs:
            cell = r["layers"][i]
            cells += [f"{cell['ms']:.2f}", f"{cell['gflops']:.1f}", f"{cell['gflops'] / r['sgemm_gflops']:.0%}"]
        lines.append(f"| {row['layer']} | {row['pass']} | " + " | ".join(cells) + " |")
    sgemm = [cell for r in runs for cell in ("", f"{r['sgemm_gflops']:.1f}", "100%")]
    lines += ["| sgemm 1024³ | | " + " | ".join(sgemm) + " |", ""]
    return lines


def _memory_table(report: dict[str, Any]) -> list[str]:
    memory = report.get("memory")
    if not memory:
        return []
    epochs = report["options"]["memory_epochs"]
    lines = [f"### Peak memory: the MLP on the bundled MNIST, {epochs} epoch(s), test set evaluated and "
             f"checkpoint saved per epoch ({report.get('process_threads')} thread(s))", "",
             "| job | max RSS | wall time (best) | first step after start |", "|---|---|---|---|"]
    for label, m in memory.items():
        rss = "–" if m["max_rss_mib"] is None else f"{m['max_rss_mib']:.0f} MiB"
        wall = f"{_seconds(m['seconds'])} ({_seconds(m.get('best_seconds'))})"
        cells = [rss, wall, _seconds(m["first_step"])] if not m["error"] else [f"failed: {m['error']}", "", ""]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    ours, theirs = memory.get("ttrain fit MLP", {}), memory.get("PyTorch MLP script", {})
    if ours.get("max_rss_mib") and theirs.get("max_rss_mib"):
        ok = ours["max_rss_mib"] < theirs["max_rss_mib"]
        lines += ["", f"Target: ttrain's peak below PyTorch's: {'pass' if ok else '**FAIL**'} "
                      f"({ours['max_rss_mib']:.0f} vs {theirs['max_rss_mib']:.0f} MiB)."]
    lines.append("")
    return lines


def _whole_job_table(report: dict[str, Any]) -> list[str]:
    whole = report.get("whole_job")
    if not whole:
        return []
    jobs = whole["jobs"]
    lines = [f"### Whole job: `ttrain fit configs/mnist_cnn.yaml` next to the PyTorch script doing the same "
             f"training ({whole['epochs']} epochs, {report.get('process_threads')} thread(s); fresh process each, "
             "alternating)", "",
             "| job | wall time, median (best) | max RSS | first step after start |", "|---|---|---|---|"]
    for label, m in jobs.items():
        rss = "–" if m["max_rss_mib"] is None else f"{m['max_rss_mib']:.0f} MiB"
        cells = ([f"{_seconds(m['seconds'])} ({_seconds(m.get('best_seconds'))})", rss, _seconds(m["first_step"])]
                 if not m["error"] else [f"failed: {m['error']}", "", ""])
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    ours = next((m for label, m in jobs.items() if label.startswith("ttrain")), {})
    theirs = next((m for label, m in jobs.items() if label.startswith("PyTorch")), {})
    if ours.get("seconds") and theirs.get("seconds"):
        faster = ours["seconds"] < theirs["seconds"]
        lines += ["", f"Target: ttrain's whole job takes less wall time: {'pass' if faster else '**FAIL**'} "
                      f"({ours['seconds']:.1f} vs {theirs['seconds']:.1f} s, {theirs['seconds'] / ours['seconds']:.2f}x)."]
    if ours.get("max_rss_mib") and theirs.get("max_rss_mib"):
        lower = ours["max_rss_mib"] < theirs["max_rss_mib"]
        lines += [f"Target: ttrain's peak memory below PyTorch's: {'pass' if lower else '**FAIL**'} "
                  f"({ours['max_rss_mib']:.0f} vs {theirs['max_rss_mib']:.0f} MiB)."]
    lines.append("")
    return lines


def _scaling_section(report: dict[str, Any]) -> list[str]:
    from benchmarks.scaling import table

    data = report.get("scaling")
    if not data:
        return []
    repeats = report["options"].get("scaling_repeats")
    lines = ["### How cost grows: samples/s against batch size and width", "",
             f"Median samples/s of {repeats} alternating repeats per point, training steps as in the throughput "
             "tables (same weights and batches on both sides).", ""]
    if report.get("scaling_png"):
        lines += [f"![samples/s against batch size and width, ttrain and PyTorch]({report['scaling_png']})", ""]
    return lines + table(data)


def render(report: dict[str, Any]) -> str:
    """The measured block (markers included) for a report from `benchmarks.runner.run`."""
    machine = report["machine"]
    options = report["options"]
    load = lambda values: "/".join(f"{v:.2f}" for v in values)  # noqa: E731
    coretype = ", ".join(f"{k}={v}" for k, v in machine["blas_env"].items() if v) or "OPENBLAS_CORETYPE unset"
    lines = [BEGIN, f"## Measured {report['date']}", "",
             f"- Machine: {machine['cpu']}, {machine['cores']} cores ({machine['usable_cores']} usable), "
             f"{machine['memory']}; {machine['os']}; Python {machine['python']}; {coretype}",
             f"- Versions: {_versions(machine, report.get('infos', {}))}",
             f"- Load average (1/5/15 min): at start {load(report['load_start'])}, at end {load(report['load_end'])} "
             "(the machine is shared: compare ratios from one run, not absolute numbers across runs)",
             f"- Workloads: {', '.join(options['workloads'])}; thread counts {options['threads']} "
             "(OPENBLAS/OMP/MKL/NUMBA_NUM_THREADS set before import in each framework's own worker process, "
             "fresh for each model, "
             "plus `torch.set_num_threads`); run time {:.0f} s".format(report["seconds"]),
             *_blas(report.get("infos", {}), report.get("sides", {})), ""]
    if report["notes"]:
        lines += ["Notes:", *(f"- {n}" for n in report["notes"]), ""]
    lines += _throughput_tables(report)
    lines += _startup_table(report)
    lines += _memory_table(report)
    lines += _conv_layer_table(report)
    lines += _whole_job_table(report)
    lines += _scaling_section(report)
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_report(path: Path, block: str) -> None:
    """Put `block` into `path`: replace the previous measured block, or start the file (keeping any other text)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else PREAMBLE
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")
