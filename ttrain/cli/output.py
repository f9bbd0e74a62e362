"""What commands print: `--json` objects (strict JSON, with `schema_version` and `command`) and tables."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ttrain.strict_json import SCHEMA_VERSION, strict_json


def print_json(command: str | None, payload: Mapping[str, Any]) -> None:
    """Print `payload` as one line of strict JSON (a NaN metric becomes null, as `jq` and browsers
    need), led by `schema_version` and `command`, as `ttrain/schemas/output.schema.json` describes."""
    print(strict_json({"schema_version": SCHEMA_VERSION, "command": command, **payload}))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], console: Any = None) -> None:
    """`rows` under `headers`: a Rich table on a terminal; off it (CI logs, pipes), plain columns
    separated by two spaces, with no control codes, as the progress output decides."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console(highlight=False)
    if console.is_terminal:
        table = Table(*headers, header_style="bold")
        for row in rows:
            # As text: `[64]` is not markup. Folded, not cut short with an ellipsis, where the
            # terminal is too narrow: a run directory or a layer's name is read whole.
            table.add_row(*(Text(str(cell), overflow="fold") for cell in row))
        console.print(table)
        return
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    for row in (headers, *rows):
        line = "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths))
        console.print(line.rstrip(), markup=False, highlight=False, emoji=False, soft_wrap=True)
