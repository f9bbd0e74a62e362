"""`ttrain config show|check|schema`: inspect and validate configs without training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ttrain.cli.errors import user_errors
from ttrain.cli.fit import ConfigArgument, SetOption
from ttrain.cli.output import print_json

app = typer.Typer(help="Show, check or describe configs.", no_args_is_help=True)


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout (errors too).")]


@app.command()
def show(
    config: Annotated[list[Path], typer.Argument(
        metavar="CONFIG...|CHECKPOINT", show_default=False,
        help="The experiment's YAML config (a file, a bundled config's name, or several files merged left to "
             "right), or a .safetensors checkpoint.")],
    set_: SetOption = None,
    json_output: JsonOption = False,
) -> None:
    """Print the resolved config: defaults filled in, overrides applied, paths resolved; or the
    config a checkpoint was trained with, as embedded in it."""
    with user_errors(json_output, "config show"):
        from ttrain.config.api import config_to_dict, dump_config_data
        from ttrain.training.checkpoint import SUFFIX as CHECKPOINT_SUFFIX

        if len(config) == 1 and config[0].suffix == CHECKPOINT_SUFFIX:
            data = _embedded_config(config[0], set_ or [])
        else:
            from ttrain.config import load_config

            data = config_to_dict(load_config(config, set_ or [])[0])
        if json_output:
            print_json("config show", {"status": "ok", "file": " ".join(map(str, config)), "config": data})
        else:
            print(dump_config_data(data), end="")


def _embedded_config(checkpoint: Path, overrides: list[str]) -> dict:
    """The config stored in `checkpoint` (read and verified; nothing built or imported from it), in
    the order `config show` prints a config, as far as it still validates as data."""
    from ttrain.config import ConfigError, config_from_dict
    from ttrain.config.api import config_to_dict
    from ttrain.config.registry import RegistryError
    from ttrain.training.checkpoint import load_checkpoint

    if overrides:
        raise typer.BadParameter("a checkpoint's config is shown as it was trained; --set applies to configs",
                                 param_hint="--set")
    _, metadata = load_checkpoint(checkpoint)
    data = metadata["config"]
    try:  # the metadata's keys are sorted; validating puts them back in the schema's order
        return config_to_dict(config_from_dict(data, where=f"{checkpoint} (embedded config)"))
    except (ConfigError, RegistryError):  # e.g. it names the user's own module: shown as stored
        return data


@app.command()
def check(
    config: ConfigArgument,
    set_: SetOption = None,
    json_output: JsonOption = False,
) -> None:
    """Validate a config and report every problem (exit code 2 if there is one)."""
    with user_errors(json_output, "config check"):
        from ttrain.config import load_config

        load_config(config, set_ or [])
        if json_output:
            print_json("config check", {"status": "ok", "file": " ".join(map(str, config))})
        else:
            print(f"{' '.join(map(str, config))}: ok")


@app.command()
def schema() -> None:
    """Print the config's JSON Schema (editors use it to complete and check YAML)."""
    from ttrain.config import config_json_schema

    print(json.dumps(config_json_schema(), indent=2))
