"""`ttrain runs [DIR]`: a table of the runs under a folder, from their `summary.json` records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ttrain.cli.errors import user_errors
from ttrain.cli.output import print_json, print_table

HEADERS = ("status", "name", "run", "config", "best", "time")
# Shown for a run made without overrides: what most often tells two runs apart.
NOTABLE_KEYS = (("optimizer", "name"), ("optimizer", "lr"), ("trainer", "epochs"), ("seed",))


def runs(
    directory: Annotated[Path, typer.Argument(
        metavar="DIR", help="A folder of runs (trainer.output_dir), one config's runs, a sweep, or one run.",
    )] = Path("runs"),
    sort: Annotated[Optional[str], typer.Option(
        "--sort", metavar="KEY",
        help="Order by KEY, -KEY for descending: a column (status, name, seconds, best, started_at, ...), a metric "
             "at the best epoch (val.accuracy; final.val.loss at the last), or a config key (optimizer.lr).")] = None,
    filter_: Annotated[Optional[list[str]], typer.Option(
        "--filter", metavar="EXPR",
        help="Keep the runs where KEY OP VALUE holds, OP one of = != < <= > >= ~ (~: regular expression), "
             "e.g. status=completed, optimizer.lr<0.01, name~mlp. Repeatable: all must hold.")] = None,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object on stdout: the run records.")] = False,
) -> None:
    """List runs: status, name, run directory, key config values, best monitored metric, wall time."""
    with user_errors(json_output, "runs"):
        from ttrain.training.records import find_run_dirs, read_run
        from ttrain.training.run_query import QueryError, select

        if not directory.is_dir():
            raise typer.BadParameter(f"{directory} is not a folder of runs", param_hint="DIR")
        records = [read_run(path) for path in find_run_dirs(directory)]
        try:
            chosen = select(records, filter_ or [], sort)
        except QueryError as error:
            raise typer.BadParameter(str(error), param_hint="--filter/--sort") from None
        if json_output:
            print_json("runs", {"status": "ok", "directory": str(directory), "runs": chosen})
        elif chosen:
            print_table(HEADERS, [_row(record, directory) for record in chosen])
        else:
            print(f"no runs in {directory}" + (" match the filters" if filter_ and records else ""))


def _row(record: dict[str, Any], directory: Path) -> list[str]:
    run_dir = Path(record["run_dir"])
    try:
        shown_dir = str(run_dir.relative_to(directory)) if run_dir != directory else str(run_dir)
    except ValueError:
        shown_dir = str(run_dir)
    seconds = record.get("seconds")
    return [record["status"], str(record.get("name") or ""), shown_dir, _config_text(record), _best_text(record),
            "" if seconds is None else f"{seconds:.1f}s"]


def _config_text(record: dict[str, Any]) -> str:
    """The overrides the run was given (but the output folder, the same for all of them), or its
    notable keys; for a damaged record, what is wrong with it."""
    overrides = [o for o in record.get("overrides") or [] if not o.startswith("trainer.output_dir=")]
    if overrides:
        return " ".join(overrides)
    if record["status"] == "damaged":
        return record["error"]["message"].splitlines()[0]
    config = record.get("config")
    if not isinstance(config, dict):
        return ""
    parts = []
    model = config.get("model")
    if isinstance(model, dict):
        parts.append(f"model={model.get('name') or str(len(model.get('layers') or [])) + ' layers'}")
    for path in NOTABLE_KEYS:
        value: Any = config
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            parts.append(f"{'.'.join(path)}={value}")
    return " ".join(parts)


def _best_text(record: dict[str, Any]) -> str:
    best = record.get("best") or {}
    if best.get("value") is None:
        return ""
    return f"{best['monitor']}={best['value']:.4g} (epoch {best['epoch']})"
