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

# One config, or several merged left to right (`base.yaml experiment.yaml`); a bare name that is
# no file names a bundled config (`mnist_mlp`).
ConfigArgument = Annotated[list[Path], typer.Argument(
    metavar="CONFIG", show_default=False,
    help="The experiment's YAML config: a file, a bundled config's name (ttrain list configs), or several "
         "files merged left to right (later ones win).")]
SetOption = Annotated[
    Optional[list[str]],
    typer.Option("--set", "-s", metavar="KEY.PATH=VALUE", help="Override a config key: key.path=value (YAML-typed). Repeatable."),
]


def fit(
    config: ConfigArgument,
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

    Under `mpiexec -n N` (or `srun`) it trains data-parallel over the N ranks: `trainer.batch_size`
    is the global batch; rank 0 alone prints and writes the run directory (docs/distributed.md).
    """
    world = _mpi_world(json_output)
    main = world is None or world.is_main
    from ttrain.distributed.faults import abort_on_failure, rank_label, setup_stage

    with abort_on_failure(world), user_errors(json_output and main, "fit", rank_label(world)):
        if quiet and verbose:
            raise typer.BadParameter("--quiet and --verbose ask for opposite things: give one", param_hint="-q/-v")
        from rich.console import Console

        from ttrain.config import load_config, logged_metrics
        from ttrain.training import run
        from ttrain.training.expectations import add_results, expectations_for

        with setup_stage(world):  # a bad config fails every rank alike: reported once
            cfg, source = load_config(config, set_ or [])
            expectations = expectations_for(expect or [], logged_metrics(cfg))  # before a run directory exists
        # Open MPI gives each rank a pseudo-terminal even when mpiexec's output goes to a pipe:
        # plain lines then, never a live display's control codes.
        console = None if quiet or not main else Console(
            stderr=json_output, highlight=False, **({"force_terminal": False} if world is not None else {}))
        checkpoint = None
        if resume is not None:
            choice = run.resume_checkpoint(cfg, resume)
            checkpoint = _report_resume_choice(choice, resume) if main else choice.path
        tell_run_dir = quiet and not json_output and main
        try:
            summary = run.fit(cfg, source, resume=checkpoint, console=console, overrides=set_ or [], world=world,
                              verbose=verbose)
        except BaseException as error:
            if tell_run_dir and getattr(error, "run_dir", None) is not None:
                print(f"run directory: {error.run_dir}", file=sys.stderr)  # type: ignore[attr-defined]
            raise
        if tell_run_dir:
            print(f"run directory: {summary['run_dir']}", file=sys.stderr)  # all -q prints: where the run went
        results = add_results(summary, expectations, summary["final"])
        if not main:
            pass  # rank 0 reports for the job
        elif json_output:
            print_json("fit", summary)
        elif not quiet:
            _print_summary(console, summary)
        if main:
            report_expectations(results, json_output)
    if world is not None:
        from ttrain.distributed.launch import drop_terminal_reset

        drop_terminal_reset()
    exit_if_unmet(results)


def _mpi_world(json_output: bool):
    """The MPI world when `mpiexec`/`srun` started several ranks (None: a single process, as
    always); launched without a working mpi4py, a clear error and exit 2, not N separate runs."""
    from ttrain.distributed.launch import MPIUnavailable, init_world

    try:
        return init_world()
    except MPIUnavailable as error:
        from ttrain.cli.errors import EXIT_BAD_INPUT, _error_payload
        from ttrain.error_report import make_report

        print(f"error: {error}", file=sys.stderr)
        if json_output:
            print_json("fit", _error_payload(EXIT_BAD_INPUT, make_report("usage", str(error))))
        raise typer.Exit(EXIT_BAD_INPUT) from None


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
