"""The `ttrain` command line. Commands are thin: they parse, call the library, map errors to exit codes."""

from __future__ import annotations


def main() -> None:
    """Entry point of the `ttrain` console script."""
    from ttrain.signals import exit_on_stop_signals

    # First, so that SIGTERM and SIGHUP, too, exit with a message and 128 + n from the very start
    # (the imports below take a while), never by the signal itself.
    with exit_on_stop_signals():
        from ttrain.cli.app import app

        app()
