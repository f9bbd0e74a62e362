"""`ttrain init [TEMPLATE] [-o FILE]`: start a config from one of the bundled, commented configs."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ttrain.cli.errors import user_errors

DEFAULT_TEMPLATE = "mlp"


def init(
    template: Annotated[str, typer.Argument(
        metavar="TEMPLATE", help="seed, mlp, cnn, or any bundled config's name (ttrain list configs).")] = DEFAULT_TEMPLATE,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="The file to write (never replaced if it exists); default: stdout.")] = None,
) -> None:
    """Write a commented starter config: a copy of a bundled one, ready for `ttrain fit FILE`."""
    with user_errors():
        from ttrain.config.bundled import bundled_configs

        bundled = bundled_configs()
        name = template if template in bundled else f"mnist_{template}"
        if name not in bundled:
            raise typer.BadParameter(f"no template {template!r}; choose one of: {', '.join(_short_names(bundled))}",
                                     param_hint="TEMPLATE")
        text = bundled[name].read_text(encoding="utf-8")
        if output is None:
            print(text, end="")
            return
        text = _for_file(text, name, output)
        try:
            with open(output, "x", encoding="utf-8") as file:  # "x": an existing file is never replaced
                file.write(text)
        except FileExistsError:
            raise typer.BadParameter(f"{output} already exists; not overwriting it", param_hint="--output") from None
        except OSError as error:
            raise typer.BadParameter(f"cannot write {output}: {error.strerror or error}", param_hint="--output") from None
        print(f"wrote {output} (from the bundled {name}); train it with: ttrain fit {output}", file=sys.stderr)


def _short_names(bundled: dict[str, Path]) -> list[str]:
    return [name.removeprefix("mnist_") for name in bundled]


def _for_file(text: str, name: str, output: Path) -> str:
    """The bundled config as the user's own: run name after their file, usage lines naming it."""
    from ttrain.config.api import run_name_for

    own = run_name_for(output.stem)
    text = text.replace(f"configs/{name}.yaml", str(output)).replace(f"/{name}/", f"/{own}/")

    def rename(match: re.Match[str]) -> str:  # keep the comment's column where the new name fits
        comment = match.group(2) or ""
        return (f"name: {own}".ljust(len(match.group(1))) + comment).rstrip()

    return re.sub(rf"^(name: {re.escape(name)}\s*)(#.*)?$", rename, text, count=1, flags=re.MULTILINE)
