"""`ttrain summary CONFIG|CHECKPOINT`: a model's layers, output shapes, parameters and FLOPs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ttrain.cli.errors import user_errors
from ttrain.cli.fit import SetOption
from ttrain.cli.output import print_json, print_table

HEADERS = ("layer", "type", "output shape", "params", "FLOPs")


def summary(
    source: Annotated[Path, typer.Argument(
        metavar="CONFIG|CHECKPOINT", help="An experiment's YAML config, or a .safetensors checkpoint.")],
    set_: SetOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout (errors too).")] = False,
) -> None:
    """Print the model's layers in the order they run, with output shapes, parameter counts and
    FLOPs per sample where known (a multiply-add counts two), like Keras's model.summary().

    Shapes come from one forward pass on one sample of the config's data.
    """
    with user_errors(json_output, "summary"):
        from ttrain.training.model_summary import CHECKPOINT_SUFFIX, summarize_source

        if set_ and source.suffix == CHECKPOINT_SUFFIX:
            raise typer.BadParameter("a checkpoint's model is summarised as it was trained; --set applies to configs",
                                     param_hint="--set")
        described = summarize_source(source, set_ or [])
        if json_output:
            print_json("summary", {"status": "ok", "source": str(source), **described.to_json()})
            return
        print_table(HEADERS, [_row(row) for row in described.layers])
        print(f"model: {described.model}, input shape per sample: {tuple(described.input_shape)}")
        total, trainable = described.total_parameters, described.trainable_parameters
        print(f"parameters: {total:,} total, {trainable:,} trainable, {total - trainable:,} non-trainable "
              f"({described.parameter_bytes / 2**20:.2f} MiB)")
        flops = described.flops
        print(f"FLOPs per sample: {_count(flops)} (of the layers that report them)" if flops is not None
              else "FLOPs per sample: not known for these layers")


def _row(row: Any) -> list[str]:
    shapes = row.output_shape or []
    shape_text = ", ".join("(" + ", ".join("N" if n is None else str(n) for n in shape) + ")" for shape in shapes)
    return [row.name, row.kind, shape_text or "-", f"{row.parameters:,}", "-" if row.flops is None else _count(row.flops)]


def _count(flops: int) -> str:
    """`1.23M`-style: three significant digits, as summaries print large counts."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if flops >= size:
            return f"{flops / size:.3g}{unit}"
    return str(flops)
