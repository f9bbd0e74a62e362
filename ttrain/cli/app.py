"""The Typer application: global options and the commands.

Only Typer is imported here; each command imports the library it needs when it runs, so
`ttrain --help` stays fast and never loads numba.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ttrain.cli import config_cmd
from ttrain.cli.compare import compare
from ttrain.cli.compile_cmd import compile_kernels
from ttrain.cli.evaluate import evaluate, predict
from ttrain.cli.export_cmd import export, import_weights
from ttrain.cli.fit import fit
from ttrain.cli.init_cmd import init
from ttrain.cli.list_cmd import list_names
from ttrain.cli.plot import plot
from ttrain.cli.runs import runs
from ttrain.cli.sample_cmd import sample
from ttrain.cli.summary import summary
from ttrain.cli.sweep import sweep

app = typer.Typer(
    name="ttrain",
    help="Config-driven training toolkit with its own autograd engine.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},  # every command and group inherits it
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain Click help: loading Rich's formatter would double `ttrain --help`'s time
)

# Commands that run kernels: on a terminal, a first run says on stderr while they compile (off a
# terminal, stderr stays empty on success, as CI logs expect).
_KERNEL_COMMANDS = ("fit", "eval", "predict", "sweep", "summary", "sample")


def _version(value: bool) -> None:
    if value:
        from ttrain import __version__

        typer.echo(f"ttrain {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """ttrain: train and evaluate networks described by YAML configs."""
    if ctx.invoked_subcommand in _KERNEL_COMMANDS:  # others need not load the engine
        from ttrain.autograd import compilation  # no numba: it loads with the first kernel

        if sys.stderr.isatty():
            compilation.set_notifier(_tell_stderr)
        compilation.compile_in_background()  # a first run goes on while its kernels compile
        ctx.call_on_close(lambda: compilation.compile_in_background(False))


def _tell_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


app.command("fit")(fit)
app.command("eval")(evaluate)
app.command("predict")(predict)
app.command("sample")(sample)
app.command("list")(list_names)
app.command("compare")(compare)
app.command("runs")(runs)
app.command("sweep")(sweep)
app.command("compile")(compile_kernels)
app.command("export")(export)
app.command("import")(import_weights)
app.command("init")(init)
app.command("plot")(plot)
app.command("summary")(summary)
app.add_typer(config_cmd.app, name="config")
