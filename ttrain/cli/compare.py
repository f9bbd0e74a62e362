"""`ttrain compare A B`: two runs or checkpoints side by side, and a regression gate for CI."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ttrain.cli.errors import EXIT_EXPECTATION_FAILED, user_errors
from ttrain.cli.output import print_json

if TYPE_CHECKING:
    from rich.console import Console

    from ttrain.training.comparison import Comparison


def compare(
    a: Annotated[Path, typer.Argument(metavar="A", help="The baseline: a run directory or a .safetensors checkpoint.")],
    b: Annotated[Path, typer.Argument(metavar="B", help="The run or checkpoint to hold to A.")],
    tolerance: Annotated[float, typer.Option(
        "--tolerance", min=0.0,
        help="How much worse than A B may be on the monitored metric, in its own units (absolute), "
             "before it is a regression.")] = 0.005,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Show the metrics of A and B side by side and the config keys that differ.

    The exit code is 3 when B is worse than A on A's monitored metric (checkpoint.monitor, in its
    mode) by more than the tolerance, or has no value for it; 0 otherwise. A run directory is
    compared on its final epoch, a checkpoint on the epoch it holds.
    """
    with user_errors(json_output, "compare"):
        from ttrain.training.comparison import compare as compare_records
        from ttrain.training.comparison import read_record

        comparison = compare_records(read_record(a), read_record(b), tolerance)
        if json_output:
            print_json("compare", {"status": "ok", **comparison.to_json()})
        else:
            _show(comparison)
    if comparison.regressed:
        raise typer.Exit(EXIT_EXPECTATION_FAILED)


def _show(comparison: Comparison) -> None:
    """Rich tables on a terminal; plain aligned columns elsewhere (CI logs, pipes)."""
    from rich.console import Console

    console = Console(highlight=False)
    if console.is_terminal:
        _show_tables(console, comparison)
    else:
        _show_plain(comparison)


def _value(value: Any) -> str:
    from ttrain.training.comparison import MISSING

    if value is MISSING:
        return "(absent)"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _difference(value: float | None) -> str:
    return "" if value is None else f"{value:+.4g}"


def _metric_rows(comparison: Comparison) -> list[list[str]]:
    """name (`*` marks the monitored one), A, B, B - A; a value a side lacks is `-`."""
    def cell(value: float | None) -> str:
        return "-" if value is None else _value(value)

    return [[f"{row.name}{' *' if row.name == comparison.monitor else ''}", cell(row.a), cell(row.b),
             _difference(row.difference)] for row in comparison.metrics]


def _show_plain(comparison: Comparison) -> None:
    print(f"A: {comparison.a.path} ({comparison.a.kind})")
    print(f"B: {comparison.b.path} ({comparison.b.kind})")
    rows = [["metric", "A", "B", "B-A"], *_metric_rows(comparison)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join([row[0].ljust(widths[0]), *(cell.rjust(w) for cell, w in zip(row[1:], widths[1:]))]).rstrip())
    changes = comparison.config_changes
    if not changes:
        print("config: no keys differ")
    else:
        print(f"config: {len(changes)} {'key differs' if len(changes) == 1 else 'keys differ'}:")
    for change in changes:
        print(f"  {change.key}: {_value(change.a)} -> {_value(change.b)}")
    print(comparison.verdict)


def _show_tables(console: Console, comparison: Comparison) -> None:
    from rich.table import Table

    metrics = Table(title=f"A: {comparison.a.path} ({comparison.a.kind})\nB: {comparison.b.path} ({comparison.b.kind})",
                    title_justify="left")
    metrics.add_column("metric (* monitored)")
    for name in ("A", "B", "B - A"):
        metrics.add_column(name, justify="right")
    for row in _metric_rows(comparison):
        metrics.add_row(*row)
    console.print(metrics)
    if comparison.config_changes:
        config = Table(title="config keys that differ", title_justify="left")
        for name in ("key", "A", "B"):
            config.add_column(name)
        for change in comparison.config_changes:
            config.add_row(change.key, _value(change.a), _value(change.b))
        console.print(config)
    else:
        console.print("config: no keys differ")
    style = "bold red" if comparison.regressed else "green"
    console.print(comparison.verdict, style=style, markup=False)
