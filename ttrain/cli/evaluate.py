"""`ttrain eval CHECKPOINT` and `ttrain predict CHECKPOINT FILE`: use a trained model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ttrain.cli.errors import user_errors
from ttrain.cli.expect_option import ExpectOption, exit_if_unmet, report_expectations
from ttrain.cli.output import print_json

# A checkpoint is data: its config may name only registered components, unless the user vouches
# for a module of their own, as Hugging Face's `trust_remote_code` does (but per module).
TrustOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--trust-module", metavar="NAME",
        help="Allow the checkpoint's config to import your module NAME (and its submodules), from the "
             "working directory or sys.path, to build the components it names. Importing runs the module's "
             "code: vouch only for code you trust. Repeatable.",
    ),
]


def evaluate(
    checkpoint: Annotated[Path, typer.Argument(metavar="CHECKPOINT", help="A .safetensors checkpoint written by `ttrain fit`.")],
    split: Annotated[str, typer.Option("--split", metavar="test|val", help="Which split to evaluate: test or val.")] = "test",
    data: Annotated[
        Optional[list[str]], typer.Option("--data", metavar="KEY=VALUE", help="Override a key of the data section: key=value. Repeatable.")
    ] = None,
    trust_module: TrustOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    expect: ExpectOption = None,
) -> None:
    """Evaluate a checkpoint's model, rebuilt from the config embedded in the checkpoint."""
    with user_errors(json_output, "eval"):
        from ttrain.training import run
        from ttrain.training.expectations import add_results, expectations_for, logged_by_checkpoint

        if split not in ("test", "val"):
            raise typer.BadParameter(f"expected test or val, not {split!r}", param_hint="--split")
        expectations = expectations_for(expect or [], logged_by_checkpoint(checkpoint, split, trust_module or []),
                                        by=f" by `ttrain eval --split {split}`") if expect else []
        result = run.evaluate(checkpoint, split, data or [], trust_module or [])
        results = add_results(result, expectations, result["metrics"])
        if json_output:
            print_json("eval", result)
        else:
            metrics = "  ".join(f"{k}={v:.4f}" for k, v in result["metrics"].items())
            print(f"{checkpoint} (epoch {result['epoch']}) on {result['samples']} {split} samples: {metrics}")
        report_expectations(results, json_output)
    exit_if_unmet(results)


def predict(
    checkpoint: Annotated[Path, typer.Argument(metavar="CHECKPOINT", help="A .safetensors checkpoint written by `ttrain fit`.")],
    inputs: Annotated[list[Path], typer.Argument(
        metavar="FILE", show_default=False,
        help="Inputs: .npz (array x), .npy, .csv/.tsv (as training data is read), .png/.jpg/.jpeg (one image each; "
             "needs ttrain[images]) or IDX files.")],
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o",
        help="Where to write: a .csv file, an .npz file, or - for CSV on stdout "
             "(default: a fresh FILE.predictions[-n].npz beside the first input).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the output file if it exists.")] = False,
    trust_module: TrustOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Write class probabilities and predicted classes for the inputs, normalised as the training data was."""
    with user_errors(json_output, "predict"):
        from ttrain.training import run

        if str(output) == "-":
            if json_output:
                raise typer.BadParameter("-o - writes the CSV on stdout, where --json would print too; use one",
                                         param_hint="--output")
            print(run.predictions(checkpoint, inputs, trust_module or []).csv_text(), end="")
            return
        result = run.predict(checkpoint, inputs, output, overwrite=overwrite, trust_modules=trust_module or [])
        if json_output:
            print_json("predict", result)
        else:
            print(f"wrote probabilities for {result['samples']} inputs to {result['output']}")
