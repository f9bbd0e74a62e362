"""How cost grows: samples/s against batch size (MLP, CNN) and against width (MLP), ttrain next to PyTorch.

The points are ordinary throughput tasks (`benchmarks.workloads.Task`), timed by the runner's
alternating workers like every other table; only the task list and the drawing live here. Each
point runs about the same number of samples per repeat (fewer steps at larger batches), so a
point costs roughly the same time whatever its batch. The curves go into a PNG drawn with
matplotlib (the `bench` extra) next to the Markdown report.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from benchmarks.workloads import Task

BATCH_SIZES = (16, 32, 64, 128, 256, 512)
WIDTHS = (256, 512, 1024, 2048, 4096)
# Samples per timed repeat, per model, at the reference speed of each (about 0.3-0.5 s on 1 core).
SAMPLES_PER_REPEAT = {"mlp": 8192, "cnn": 384}
WIDTH_BATCH = 128
COLOURS = {"ttrain": "C0", "PyTorch": "C1"}
LINE_STYLES = ("-", "--", ":", "-.")

CURVES = {
    "mlp_batch": ("MLP 784-512-256-10 train: samples/s against batch size", "batch size"),
    "cnn_batch": ("CNN of configs/mnist_cnn.yaml train: samples/s against batch size", "batch size"),
    "mlp_width": (f"MLP 784-W-W/2-10 train (batch {WIDTH_BATCH}): samples/s against width W", "hidden width W"),
}


def _steps(samples: int, batch: int) -> int:
    return max(2, round(samples / batch))


def scaling_tasks(torch: bool = True) -> list[Task]:
    """One training task per point of every curve; the key says `<curve>:<x>`."""
    sides = ("ttrain", "torch") if torch else ("ttrain",)
    tasks = []
    for model in ("mlp", "cnn"):
        for batch in BATCH_SIZES:
            tasks.append(Task(f"{model}_batch:{batch}", f"{model} train, batch {batch}", model, True, batch,
                              _steps(SAMPLES_PER_REPEAT[model], batch), 1, sides))
    for width in WIDTHS:
        # Wider layers cost about (W/512)^2 more per sample on the W x W/2 layer: fewer samples per repeat.
        samples = max(WIDTH_BATCH * 2, SAMPLES_PER_REPEAT["mlp"] * 512 // width)
        tasks.append(Task(f"mlp_width:{width}", f"MLP width {width} train", f"mlp_w{width}", True, WIDTH_BATCH,
                          _steps(samples, WIDTH_BATCH), 1, sides))
    return tasks


def curves(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Median samples/s per curve, side and thread count: {curve: {"x": [...], "series": {label: [...]}}}."""
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        curve, _, x = r["task"]["key"].partition(":")
        entry = out.setdefault(curve, {"x": [], "series": {}})
        if int(x) not in entry["x"]:
            entry["x"].append(int(x))
        for side, values in r["samples_per_sec"].items():
            label = f"{'PyTorch' if side == 'torch' else side}, {r['threads']} thr"
            entry["series"].setdefault(label, {})[int(x)] = statistics.median(values) if values else None
    for entry in out.values():
        entry["x"].sort()
        entry["series"] = {label: [points.get(x) for x in entry["x"]] for label, points in entry["series"].items()}
    return out


def plot(data: dict[str, dict[str, Any]], path: Path) -> Path:
    """Draw every curve, one panel each, into the PNG `path`: log-log axes, one colour per framework,
    one line style per thread count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [name for name in CURVES if name in data]
    figure, axes = plt.subplots(1, len(names), figsize=(6 * len(names), 4.8), squeeze=False)
    styles: dict[str, str] = {}
    for ax, name in zip(axes[0], names):
        title, xlabel = CURVES[name]
        entry = data[name]
        for label, values in sorted(entry["series"].items()):
            framework, threads = label.rsplit(", ", 1)
            style = styles.setdefault(threads, LINE_STYLES[len(styles) % len(LINE_STYLES)])
            points = [(x, y) for x, y in zip(entry["x"], values) if y]
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", linestyle=style,
                    color=COLOURS.get(framework, "C2"), label=label)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(entry["x"], [str(x) for x in entry["x"]])
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("samples / s (median)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def table(data: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown tables of the curves, with ttrain/PyTorch ratios at each thread count."""
    lines: list[str] = []
    for name, (title, xlabel) in CURVES.items():
        entry = data.get(name)
        if not entry:
            continue
        labels = sorted(entry["series"])
        threads = sorted({label.rsplit(", ", 1)[1] for label in labels})
        ratio_heads = [f"ttrain/PyTorch, {t}" for t in threads
                       if f"ttrain, {t}" in entry["series"] and f"PyTorch, {t}" in entry["series"]]
        head = [xlabel, *labels, *ratio_heads]
        lines += [f"#### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for i, x in enumerate(entry["x"]):
            cells = [str(x)] + [_fmt(entry["series"][label][i]) for label in labels]
            for head_label in ratio_heads:
                t = head_label.split(", ", 1)[1]
                ours, theirs = entry["series"][f"ttrain, {t}"][i], entry["series"][f"PyTorch, {t}"][i]
                cells.append(f"{ours / theirs:.2f}x" if ours and theirs else "–")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{float(f'{value:.3g}'):,.0f}"
