"""`ttrain list [CATEGORY]`: the registered names with their parameters and defaults."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ttrain.cli.errors import user_errors


def list_names(
    category: Annotated[
        Optional[str],
        typer.Argument(help="models, layers, losses, optimizers, schedulers, datasets, metrics, or configs "
                            "(the bundled configs, which `ttrain fit NAME` and `ttrain init NAME` take) "
                            "(default: all)."),
    ] = None,
) -> None:
    """List what a config can name, with each one's parameters and defaults; and the bundled configs."""
    with user_errors():
        from ttrain.config import CATEGORIES, describe

        if category == BUNDLED:
            _list_bundled()
            return
        for name in [category] if category else list(CATEGORIES):
            infos = describe(name)  # an unknown category fails here, before anything is printed
            print(f"{name}:")
            for info in infos:
                if info.error:
                    print(f"  {info.name}  (unavailable: {info.error})")
                    continue
                summary = f"  - {info.summary}" if info.summary else ""
                print(f"  {info.name}({info.signature_text()}){summary}")
    if category is None:
        _list_bundled()


BUNDLED = "configs"


def _list_bundled() -> None:
    from ttrain.config.bundled import bundled_configs, describe_config

    print(f"{BUNDLED}:")
    found = bundled_configs()
    width = max(map(len, found), default=0)
    for name, path in found.items():
        print(f"  {name.ljust(width)}  - {describe_config(path)}".rstrip(" -"))
