"""`--expect METRIC>=VALUE`, shared by the commands that gate CI on a run's metrics (fit, eval)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Optional, Sequence

import typer

from ttrain.cli.errors import EXIT_EXPECTATION_FAILED

if TYPE_CHECKING:
    from ttrain.training.expectations import ExpectationResult

ExpectOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--expect", metavar="METRIC>=VALUE",
        help="Check a logged metric once the command is done, e.g. 'test.accuracy>=0.96' (operators: >= <= > < ==). "
             "Each is reported; exit code 3 if any fails. A metric that is never logged is an error before any work. "
             "Repeatable.",
    ),
]


def report_expectations(results: Sequence[ExpectationResult], json_output: bool) -> None:
    """One line per expectation (`expect test.accuracy>=0.96: 0.9723 ok`), on stdout, or on stderr
    beside `--json` (stdout then holds the JSON object alone)."""
    stream = sys.stderr if json_output else sys.stdout
    for result in results:
        print(f"expect {result.message}", file=stream)


def exit_if_unmet(results: Sequence[ExpectationResult]) -> None:
    """Exit with code 3 when any expectation failed."""
    if not all(result.passed for result in results):
        raise typer.Exit(EXIT_EXPECTATION_FAILED)
