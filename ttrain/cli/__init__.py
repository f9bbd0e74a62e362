"""The `ttrain` command line. Commands are thin: they parse, call the library, map errors to exit codes."""

from __future__ import annotations


def main() -> None:
    """Entry point of the `ttrain` console script."""
    from ttrain.cli.app import app

    app()
