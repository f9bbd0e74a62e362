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
    config: ConfigArgument,
    set_: SetOption = None,
    json_output: JsonOption = False,
) -> None:
    """Print the resolved config: defaults filled in, overrides applied, paths resolved."""
    with user_errors(json_output, "config show"):
        from ttrain.config import config_to_dict, dump_config, load_config

        cfg, _ = load_config(config, set_ or [])
        if json_output:
            print_json("config show", {"status": "ok", "file": " ".join(map(str, config)), "config": config_to_dict(cfg)})
        else:
            print(dump_config(cfg), end="")


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
