"""`ttrain plot RUN...`: learning curves of runs, as a PNG (matplotlib) or in the terminal (plotext)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ttrain.cli.errors import user_errors


def plot(
    runs: Annotated[list[Path], typer.Argument(
        metavar="RUN...", help="Run directories, folders of runs (trainer.output_dir, one config's runs) or sweeps.")],
    metric: Annotated[Optional[list[str]], typer.Option(
        "--metric", "-m", metavar="NAME",
        help="A metric to draw (val.accuracy), or a quantity in every split (accuracy). Repeatable; "
             "default: each quantity logged, the loss first.")] = None,
    output: Annotated[Path, typer.Option(
        "--output", "-o", metavar="FILE.png", help="Where to write the PNG (replaced if it exists).")] = Path("curves.png"),
    terminal: Annotated[bool, typer.Option(
        "--terminal", help="Draw in the terminal (plotext) instead of a PNG; also what happens without matplotlib.")] = False,
) -> None:
    """Draw the loss and metric curves of one or many runs, one colour per run.

    Runs are labelled by the config keys that differ between them (optimizer.lr=0.01), else by folder.
    """
    with user_errors():
        from ttrain.plot import INSTALL_HINT, have_matplotlib, panels, read_runs

        curves = read_runs(runs)
        charts = panels(curves, metric or [])
        if not terminal and not have_matplotlib():
            print(f"note: matplotlib is not installed ({INSTALL_HINT}); drawing in the terminal", file=sys.stderr)
            terminal = True
        if terminal:
            _draw_in_terminal(curves, charts)
            return
        from ttrain.plot.png import save_png

        if output.suffix.lower() != ".png":
            raise typer.BadParameter(f"{output}: the output is a PNG file (name it *.png)", param_hint="--output")
        try:
            save_png(curves, charts, output)
        except OSError as error:
            from ttrain.data.errors import DataError

            raise DataError(f"{output}: cannot write the plot: {error.strerror or error}") from None
        print(f"wrote {output} ({len(curves)} run{'s' if len(curves) != 1 else ''}: "
              f"{', '.join(chart.title for chart in charts)})")


def _draw_in_terminal(curves: list, charts: list) -> None:
    import importlib.util

    if importlib.util.find_spec("plotext") is None:
        from ttrain.data.errors import DataError
        from ttrain.plot import INSTALL_HINT

        raise DataError(f"drawing in the terminal needs plotext ({INSTALL_HINT})")
    from ttrain.plot.terminal import render, wants_colour

    width = shutil.get_terminal_size((100, 24)).columns
    print(render(curves, charts, width=width, colour=wants_colour() and sys.stdout.isatty()))
