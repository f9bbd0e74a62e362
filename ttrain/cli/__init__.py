"""The `ttrain` command line. Commands are thin: they parse, call the library, map errors to exit codes."""

from __future__ import annotations


def main() -> None:
    """Entry point of the `ttrain` console script."""
    from ttrain.cli.app import app
    from ttrain.signals import exit_on_stop_signals

    with exit_on_stop_signals():  # SIGTERM and SIGHUP, too, exit with a message and 128 + n, never by the signal
        app()
