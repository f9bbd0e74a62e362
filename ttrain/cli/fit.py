"""`ttrain fit CONFIG`: train a model described by a YAML config."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from ttrain.cli.errors import user_errors
from ttrain.cli.expect_option import ExpectOption, exit_if_unmet, report_expectations
from ttrain.cli.output import print_json

if TYPE_CHECKING:
    from rich.console import Console

    from ttrain.training.resume import ResumeChoice

SetOption = Annotated[
    Optional[list[str]],
    typer.Option("--set", "-s", metavar="KEY.PATH=VALUE", help="Override a config key: key.path=value (YAML-typed). Repeatable."),
]


def fit(
    config: Annotated[Path, typer.Argument(metavar="CONFIG", help="The experiment's YAML config.")],
    set_: SetOption = None,
    resume: Annotated[Optional[str], typer.Option(
        "--resume", metavar="CHECKPOINT|RUN_DIR|auto",
        help="Continue exactly from a checkpoint, from the newest valid one in a run directory, or (auto) from "
             "the newest valid one among this config's runs (none: start fresh).")] = None,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object on stdout, nothing else there: the run's summary.json, or the error.")] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress output; only the run directory, on stderr.")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Also a line per step: loss, lr, samples/s.")] = False,
    expect: ExpectOption = None,
) -> None:
    """Train the model a config describes, evaluating every epoch and writing checkpoints.

    `--expect` is checked against the final epoch's record (its train, val and test metrics).
    """
    with user_errors(json_output, "fit"):
        if quiet and verbose:
            raise typer.BadParameter("--quiet and --verbose ask for opposite things: give one", param_hint="-q/-v")
        from rich.console import Console

        from ttrain.config import load_config, logged_metrics
        from ttrain.training import run
        from ttrain.training.expectations import add_results, expectations_for

        cfg, source = load_config(config, set_ or [])
        expectations = expectations_for(expect or [], logged_metrics(cfg))  # before a run directory exists
        console = None if quiet else Console(stderr=json_output, highlight=False)
        checkpoint = _report_resume_choice(run.resume_checkpoint(cfg, resume), resume) if resume is not None else None
        try:
            summary = run.fit(cfg, source, resume=checkpoint, console=console, overrides=set_ or [], verbose=verbose)
        except BaseException as error:
            if quiet and not json_output and getattr(error, "run_dir", None) is not None:
                print(f"run directory: {error.run_dir}", file=sys.stderr)  # type: ignore[attr-defined]
            raise
        if quiet and not json_output:
            print(f"run directory: {summary['run_dir']}", file=sys.stderr)  # all -q prints: where the run went
        results = add_results(summary, expectations, summary["final"])
        if json_output:
            print_json("fit", summary)
        elif not quiet:
            _print_summary(console, summary)
        report_expectations(results, json_output)
    exit_if_unmet(results)


def _report_resume_choice(choice: ResumeChoice, resume: str) -> Optional[Path]:
    """The checkpoint to resume from, after a warning on stderr for each damaged one passed over."""
    for path, reason in choice.skipped:
        print(f"warning: skipping damaged checkpoint {path}: {reason}", file=sys.stderr)
    if choice.path is None:
        print(f"note: no checkpoint to resume from in {', '.join(map(str, choice.searched))}; starting fresh",
              file=sys.stderr)
    elif str(resume) != str(choice.path):
        print(f"resuming from {choice.path}", file=sys.stderr)
    return choice.path


def _print_summary(console: Console, summary: dict) -> None:
    from ttrain.training.callbacks.progress import format_metrics

    console.print(f"run directory: {summary['run_dir']}", markup=False, soft_wrap=True)
    console.print(f"final (epoch {summary['epochs']}): {format_metrics(summary['final'])}", markup=False, soft_wrap=True)
    best = summary["best"]
    if best["epoch"] is not None and "best" in summary["checkpoints"]:
        console.print(
            f"best checkpoint (epoch {best['epoch']}, {best['monitor']}={best['value']:.4g}): "
            f"{format_metrics(best['metrics'] or {})}",
            markup=False,
            soft_wrap=True,
        )
        console.print(f"saved {summary['checkpoints']['best']}", markup=False, soft_wrap=True)
