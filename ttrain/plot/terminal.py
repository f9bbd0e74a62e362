"""Curves as text with plotext: one chart per panel side by side, one colour per run, the split
as the marker (train `▚`, val `x`, test `+`), and a key under the charts (a legend inside a chart
this small would hide the curves). Without colour (NO_COLOR, TERM=dumb, a pipe) each run and
split is drawn with its own character instead, which the key lists."""

from __future__ import annotations

import os
from typing import Sequence

from ttrain.plot.curves import Panel, RunCurves, split_of

MARKERS = {"train": "hd", "val": "x", "test": "+"}
_KEY_SYMBOLS = {"train": "▚", "val": "x", "test": "+"}
# plotext's named colours; more runs than these share colours, which the key's order tells apart.
COLOURS = ("blue", "red", "green", "orange", "magenta", "cyan", "gray", "yellow")
# Without colour: one character per line drawn (run and split).
PLAIN_MARKERS = "ox+*#@%&=~abcdefghijklmnpqrstuvwyz"


def wants_colour() -> bool:
    """False when the environment asks for no colour: NO_COLOR set (no-color.org) or TERM=dumb."""
    return "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def render(runs: Sequence[RunCurves], charts: Sequence[Panel], width: int, height: int = 20,
           colour: bool = True) -> str:
    """The charts and their key as lines of text `width` columns wide (colour codes unless `colour` is false)."""
    import plotext

    plotext.terminal.limit(False, False)  # `width` is the size: off a terminal plotext would assume 80 columns
    figure = plotext.figure
    figure.clear()
    if len(charts) > 1:
        figure.subplots(1, len(charts))
    figure.plot_size(width, height)
    splits_drawn: list[str] = []
    plain: dict[tuple[int, str], str] = {}  # (run, split) -> its character, when drawn without colour
    for column, chart in enumerate(charts, start=1):
        plot = figure.subplot(1, column) if len(charts) > 1 else figure  # one chart is the figure itself
        for index, run in enumerate(runs):
            for metric in chart.metrics:
                epochs, values = run.series(metric)
                if not epochs:
                    continue
                split = split_of(metric)
                splits_drawn += [split] if split in MARKERS and split not in splits_drawn else []
                if colour:
                    marker = plotext.marker(MARKERS.get(split, "hd"), COLOURS[index % len(COLOURS)])
                else:
                    marker = plain.setdefault((index, split), PLAIN_MARKERS[len(plain) % len(PLAIN_MARKERS)])
                signal = plot.signal(epochs, values, marker=marker)
                signal.lines()
                plot.draw(signal)
        plot.legend(active=False)
        plot.title(chart.title)
        plot.label("epoch", "x")
        plot.label(chart.title, "y")
    charts_text = figure.build().string(colorless=not colour)
    return charts_text + "\n" + (_colour_key(runs, splits_drawn) if colour else _plain_key(runs, plain))


def _colour_key(runs: Sequence[RunCurves], splits: Sequence[str]) -> str:
    """One line per run, `■ label` in its colour, then the splits' markers."""
    import plotext

    lines = [f"{plotext.colorize('■', COLOURS[i % len(COLOURS)]).string()} {run.label}" for i, run in enumerate(runs)]
    if len(splits) > 1:
        lines.append("   ".join(f"{_KEY_SYMBOLS[split]} {split}" for split in splits))
    return "\n".join(lines)


def _plain_key(runs: Sequence[RunCurves], plain: dict[tuple[int, str], str]) -> str:
    """One line per line drawn: its character, the run's label and the split."""
    return "\n".join(f"{char} {runs[index].label} {split}" for (index, split), char in plain.items())
