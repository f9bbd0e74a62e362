"""Curves as a PNG with matplotlib: one chart per panel side by side, one colour per run, the
split as the line style (train solid, val dashed, test dotted), one legend under the charts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ttrain.plot.curves import Panel, RunCurves, split_of

LINE_STYLES = {"train": "-", "val": "--", "test": ":"}
_PANEL_INCHES = (5.0, 3.6)
_MARKERS_UP_TO = 30  # epochs: with fewer, each one gets a dot, so a 2-epoch run still shows points


def run_colours(count: int) -> list[Any]:
    """`count` distinct colours: matplotlib's tab10 cycle, tab20 beyond ten, a colour map beyond that."""
    from matplotlib import colormaps

    if count <= 10:
        return [colormaps["tab10"](i) for i in range(count)]
    if count <= 20:
        return [colormaps["tab20"](i) for i in range(count)]
    return [colormaps["turbo"](i / (count - 1)) for i in range(count)]


def save_png(runs: Sequence[RunCurves], charts: Sequence[Panel], path: Path) -> Path:
    """Draw `charts` for `runs` into the PNG `path` (written whole, then renamed into place)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        draw_figure(runs, charts).savefig(temporary, format="png", dpi=110)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def draw_figure(runs: Sequence[RunCurves], charts: Sequence[Panel]) -> Any:
    """A matplotlib `Figure` of `charts` side by side for `runs`."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    colours = run_colours(len(runs))
    figure = Figure(figsize=(_PANEL_INCHES[0] * len(charts), _PANEL_INCHES[1] + 0.3 * (len(runs) + 2)),
                    layout="constrained")
    axes = figure.subplots(1, len(charts), squeeze=False)[0]
    splits_drawn: list[str] = []
    for ax, chart in zip(axes, charts):
        for colour, run in zip(colours, runs):
            for metric in chart.metrics:
                epochs, values = run.series(metric)
                if not epochs:
                    continue
                split = split_of(metric)
                splits_drawn += [split] if split in LINE_STYLES and split not in splits_drawn else []
                ax.plot(epochs, values, label=f"{run.label} {metric}", color=colour, linestyle=LINE_STYLES.get(split, "-"), linewidth=1.6,
                        marker="o" if len(epochs) <= _MARKERS_UP_TO else None, markersize=3.5)
        ax.set_title(chart.title)
        ax.set_xlabel("epoch")
        ax.set_ylabel(chart.title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    # Runs (colours) in one legend under the charts; the splits (line styles), when more than one
    # is drawn, in a key in the first chart.
    runs_key = [Line2D([], [], color=colour, linewidth=2.5, label=run.label) for colour, run in zip(colours, runs)]
    figure.legend(handles=runs_key, loc="outside lower center", ncols=min(len(runs_key), 3), frameon=False)
    if len(splits_drawn) > 1:
        axes[0].legend(handles=[Line2D([], [], color="0.35", linestyle=LINE_STYLES[split], label=split)
                                for split in splits_drawn], loc="best", fontsize="small", handlelength=3)
    return figure
