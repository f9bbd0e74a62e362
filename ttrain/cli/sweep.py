"""`ttrain sweep CONFIG`: run a config many times over a grid or a search space, on Optuna."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from ttrain.cli.errors import EXIT_BAD_INPUT, EXIT_TRAINING_FAILED, user_errors
from ttrain.cli.fit import ConfigArgument, SetOption
from ttrain.cli.expect_option import ExpectOption, exit_if_unmet, report_expectations
from ttrain.cli.output import print_json
from ttrain.error_report import make_report

if TYPE_CHECKING:
    from rich.console import Console

INSTALL_HINT = "ttrain sweep needs Optuna: pip install 'ttrain[sweep]'"


def sweep(
    config: ConfigArgument,
    set_: SetOption = None,
    grid: Annotated[Optional[list[str]], typer.Option(
        "--grid", "-g", metavar="KEY.PATH=V1,V2,...", help="Run every combination of these values (YAML). Repeatable.")] = None,
    param: Annotated[Optional[list[str]], typer.Option(
        "--param", "-p", metavar="KEY.PATH=DIST",
        help="Sample a key: loguniform(a,b), uniform(a,b), int(a,b[,step]) or choice(x,y,...). Repeatable.")] = None,
    trials: Annotated[Optional[int], typer.Option(
        "--trials", "-n", min=1, help="Trials to sample with --param (default 20).")] = None,
    sampler: Annotated[Optional[str], typer.Option(
        "--sampler", metavar="tpe|random", help="How --param values are drawn (default tpe).")] = None,
    monitor: Annotated[Optional[str], typer.Option(
        "--monitor", help="Metric to rank and prune by (default: checkpoint.monitor).")] = None,
    mode: Annotated[Optional[str], typer.Option(
        "--mode", metavar="min|max", help="Whether lower or higher is better.")] = None,
    prune: Annotated[Optional[str], typer.Option(
        "--prune", metavar="none|median|hyperband", help="Stop weak trials early (Optuna's pruners).")] = None,
    repeat_seeds: Annotated[Optional[int], typer.Option(
        "--repeat-seeds", min=1,
        help="Run each parameter set with K seeds (seed, seed+1, ...) and rank by their mean.")] = None,
    jobs: Annotated[int, typer.Option(
        "--jobs", "-j", min=1, help="Worker processes sharing the study on this machine.")] = 1,
    storage: Annotated[Optional[str], typer.Option(
        "--storage", metavar="URL", help="Study database shared with other machines (SQLAlchemy URL, or journal:FILE); "
                                         "default: study.db in the sweep directory.")] = None,
    study: Annotated[Optional[str], typer.Option(
        "--study", help="Study name in --storage (default: the config's name).")] = None,
    resume: Annotated[Optional[str], typer.Option(
        "--resume", metavar="SWEEP_DIR|auto", help="Continue a sweep: run only its missing trials.")] = None,
    fail_fast: Annotated[bool, typer.Option(
        "--fail-fast/--keep-going", help="Stop starting trials after the first failure (default: keep going).")] = False,
    allow_failures: Annotated[bool, typer.Option(
        "--allow-failures", help="Exit 0 even if some trials failed.")] = False,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print one JSON summary on stdout, nothing else there.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    expect: ExpectOption = None,
) -> None:
    """Run a config over a grid or a sampled search space (one run per trial) and rank the trials.

    Results go to <output_dir>/<name>-sweep/<n>/ (sweep.csv, sweep.json, study.db, trials/). Exit
    codes: 0 ok, 1 a trial failed (unless --allow-failures), 2 bad input, 3 the best parameter set
    missed an --expect (checked on its final metrics, averaged over --repeat-seeds), 130
    interrupted (continue with --resume).
    """
    with user_errors(json_output, "sweep"):
        try:
            import optuna  # noqa: F401 - only to say clearly that it is missing
        except ImportError:
            print(f"error: {INSTALL_HINT}", file=sys.stderr)
            if json_output:
                print_json("sweep", {"status": "error", "exit_code": EXIT_BAD_INPUT,
                                     "error": make_report("usage", INSTALL_HINT)})
            raise typer.Exit(EXIT_BAD_INPUT) from None
        from rich.console import Console

        from ttrain.config import load_config, logged_metrics
        from ttrain.sweep import make_plan, prepare, run_sweep
        from ttrain.training.expectations import add_results, expectations_for

        options = {"trials": trials, "sampler": sampler, "monitor": monitor, "mode": mode, "prune": prune,
                   "repeat_seeds": repeat_seeds}
        settings = [f"sweep.{key}={value}" for key, value in options.items() if value is not None]
        plan = make_plan(config, set_ or [], grid or [], param or [], settings)
        expectations = expectations_for(expect or [], logged_metrics(load_config(config, set_ or [])[0]))
        plan.fail_fast = fail_fast
        resumed = prepare(plan, resume, storage, study)
        if not quiet:
            verb = "resuming" if resumed else "sweep directory:"
            print(f"{verb} {plan.sweep_dir}", file=sys.stderr)
        summary = run_sweep(plan, jobs, resumed, None if quiet else report_trial)
        results = add_results(summary, expectations, (summary["best"] or {}).get("final", {}))
        if json_output:
            print_json("sweep", summary)
        elif not quiet:
            print_table(Console(highlight=False), summary)
        failed = summary["counts"].get("failed", 0)
        if failed and not allow_failures:
            print(f"error: {failed} of {len(summary['trials'])} trials failed (see {plan.sweep_dir}/sweep.csv; "
                  "--allow-failures to accept)", file=sys.stderr)
            raise typer.Exit(EXIT_TRAINING_FAILED)
        report_expectations(results, json_output)
    exit_if_unmet(results)


def report_trial(event: dict[str, Any]) -> None:
    """One line on stderr per finished trial (module-level: worker processes receive it by name)."""
    values = "  ".join(f"{k}={v}" for k, v in event["params"].items())
    outcome = f"{event['monitor']}={_number(event['value'], event['std'])}" if event["value"] is not None else ""
    if event["status"] == "failed":
        outcome = f"error: {(event['error'] or '').splitlines()[0] if event['error'] else ''}"
    print(f"trial {event['trial']} {event['status']}: {values}  {outcome}".rstrip(), file=sys.stderr, flush=True)


def _number(value: Optional[float], std: Optional[float] = None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g} ± {std:.2g}" if std else f"{value:.4g}"


def _table_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    keys = list(summary["space"].get("grid") or summary["space"].get("params") or {})
    repeat = summary["repeat_seeds"] > 1
    header = ["#", "trial", "status", *keys, summary["monitor"] + (" (mean ± std)" if repeat else ""), "seconds"]
    rows = []
    for rank, row in enumerate(summary["trials"], 1):
        shown = _number(row["value"], row["std"] if repeat else None)
        if row["status"] == "failed":
            shown = (row["error"] or "").splitlines()[0][:60] if row["error"] else "failed"
        rows.append([str(rank), str(row["trial"]), row["status"], *(str(row["params"].get(k, "")) for k in keys),
                     shown, f"{row['seconds']:.1f}"])
    return header, rows


def print_table(console: Console, summary: dict[str, Any]) -> None:
    """The trials ranked by the monitor: a Rich table on a terminal, plain aligned lines elsewhere."""
    header, rows = _table_rows(summary)
    if console.is_terminal:
        from rich.table import Table

        table = Table(title=f"sweep {summary['sweep_dir']} ({summary['mode']} {summary['monitor']})")
        for name in header:
            table.add_column(name, justify="right" if name in ("#", "trial", "seconds") else "left")
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        console.print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip(),
                      markup=False, soft_wrap=True, highlight=False)
    console.print(f"results: {summary['sweep_dir']}/sweep.csv, sweep.json", markup=False, soft_wrap=True)
