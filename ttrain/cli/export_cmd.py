"""`ttrain export CHECKPOINT --to torch|onnx` and `ttrain import WEIGHTS --config CONFIG`: move a
model out of ttrain and in (the work is in ttrain.interop.jobs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ttrain.cli.errors import user_errors
from ttrain.cli.evaluate import TrustOption
from ttrain.cli.fit import SetOption
from ttrain.cli.output import print_json

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
OverwriteOption = Annotated[bool, typer.Option("--overwrite", help="Replace the output file if it exists.")]


def export(
    checkpoint: Annotated[Path, typer.Argument(
        metavar="CHECKPOINT", help="A .safetensors checkpoint written by `ttrain fit`.")],
    to: Annotated[Optional[str], typer.Option(
        "--to", metavar="torch|onnx",
        help="torch: a state dict with plain torch.nn names (.safetensors) and the Python that rebuilds the model; "
             "onnx: an ONNX graph. Default: from the -o file's suffix.")] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o",
        help="Where to write it (default: beside CHECKPOINT, as NAME.torch.safetensors or NAME.onnx).")] = None,
    overwrite: OverwriteOption = False,
    trust_module: TrustOption = None,
    json_output: JsonOption = False,
) -> None:
    """Export a checkpoint's model to PyTorch (state dict + rebuild snippet) or ONNX.

    The model must be a chain of layers: a `layers:` list or a built-in model (seed_net, mlp, lenet5, cnn).
    """
    with user_errors(json_output, "export"):
        from ttrain.interop.jobs import FORMATS, export_checkpoint, format_for

        fmt = to or format_for(output)
        if fmt not in FORMATS:
            given = f"not {to!r}" if to else "none given and -o does not end in .onnx or .safetensors"
            raise typer.BadParameter(f"expected torch or onnx, {given}", param_hint="--to")
        result = export_checkpoint(checkpoint, fmt, output, overwrite, trust_module or [])
        if json_output:
            print_json("export", result)
        elif fmt == "torch":  # stdout stays valid Python: `ttrain export ... > rebuild.py`
            print(f"# wrote {result['output']}: {len(result['tensors'])} tensors of a torch.nn.Sequential "
                  f"of {len(result['layers'])} layers, for inputs of shape (N, {_dims(result['input_shape'])})")
            print("# rebuild the model in PyTorch and load them:")
            print(result["snippet"], end="")
        else:
            print(f"wrote {result['output']}: ONNX opset {result['opset']}, input 'input' "
                  f"(batch, {_dims(result['input_shape'])}) float32, output 'output' "
                  f"({', '.join(map(str, result['output_shape']))})")


def _dims(shape: list[int]) -> str:
    return ", ".join(map(str, shape))


def import_weights(
    weights: Annotated[Path, typer.Argument(
        metavar="WEIGHTS", help="A PyTorch state dict in a .safetensors file (safetensors.torch.save_file).")],
    config: Annotated[Path, typer.Option("--config", "-c", help="The YAML config whose model the weights are for.")],
    set_: SetOption = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o",
        help="The checkpoint to write (default: beside WEIGHTS, as NAME.ttrain.safetensors).")] = None,
    overwrite: OverwriteOption = False,
    json_output: JsonOption = False,
) -> None:
    """Import a PyTorch state dict as a ttrain checkpoint of the config's model.

    The names may be those `ttrain export --to torch` writes (a torch.nn.Sequential: 0.weight, ...) or the
    model's own (net.0.weight, ...), either under one shared prefix (model., module.). The checkpoint is
    what `ttrain fit` saves before its first step: `ttrain eval` reads it, `ttrain fit --resume` fine-tunes it.
    """
    with user_errors(json_output, "import"):
        from ttrain.config import load_config
        from ttrain.interop.jobs import import_state_dict

        cfg, source = load_config(config, set_ or [])
        result = import_state_dict(weights, cfg, output, source, overwrite)
        if json_output:
            print_json("import", result)
        else:
            print(f"wrote {result['output']}: {result['tensors']} tensors of the config's {result['model']} "
                  f"from {result['weights']}")
