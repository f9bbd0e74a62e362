"""`ttrain config show|check|schema`: inspect and validate configs without training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ttrain.cli.errors import user_errors
from ttrain.cli.fit import SetOption

app = typer.Typer(help="Show, check or describe configs.", no_args_is_help=True)


@app.command()
def show(
    config: Annotated[Path, typer.Argument(metavar="CONFIG", help="The experiment's YAML config.")],
    set_: SetOption = None,
) -> None:
    """Print the resolved config: defaults filled in, overrides applied, paths resolved."""
    with user_errors():
        from ttrain.config import dump_config, load_config

        cfg, _ = load_config(config, set_ or [])
        print(dump_config(cfg), end="")


@app.command()
def check(
    config: Annotated[Path, typer.Argument(metavar="CONFIG", help="The experiment's YAML config.")],
    set_: SetOption = None,
) -> None:
    """Validate a config and report every problem (exit code 2 if there is one)."""
    with user_errors():
        from ttrain.config import load_config

        load_config(config, set_ or [])
        print(f"{config}: ok")


@app.command()
def schema() -> None:
    """Print the config's JSON Schema (editors use it to complete and check YAML)."""
    from ttrain.config import config_json_schema

    print(json.dumps(config_json_schema(), indent=2))
