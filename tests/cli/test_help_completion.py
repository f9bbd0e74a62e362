"""`-h` beside `--help` on every command, shell completion through Typer, and `ttrain config show`
on a checkpoint (its embedded config)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
import yaml
from typer.testing import CliRunner

from ttrain.cli.app import app

from .helpers import assert_fails


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group of the app, as the words that name it (`()` is `ttrain` itself)."""
    paths = [path]
    if hasattr(command, "commands"):  # a group (Typer's own Click, not necessarily `click`'s classes)
        for name, sub in command.commands.items():
            paths += _command_paths(sub, (*path, name))
    return paths


def test_h_is_help_on_every_command(cli) -> None:
    paths = _command_paths(typer.main.get_command(app))
    assert {("fit",), ("plot",), ("summary",), ("config", "show")} <= set(paths)
    for path in paths:
        short, long = cli(*path, "-h"), cli(*path, "--help")
        assert short.exit_code == 0, (path, short.stderr)
        assert short.stdout == long.stdout and "Usage:" in short.stdout, path
        assert "-h, --help" in short.stdout, path


def test_completion_completes_commands_options_and_installs(tmp_path: Path) -> None:
    runner = CliRunner()

    def complete(words: str) -> list[str]:
        env = {"_TTRAIN_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
        result = runner.invoke(app, [], prog_name="ttrain", env=env)
        assert result.exit_code == 0, result.output
        return result.stdout.split()

    assert complete("ttrain s") == ["sample", "sweep", "summary"]
    assert {"plot", "fit", "config"} <= set(complete("ttrain ''"))
    assert {"--metric", "--output", "--terminal"} <= set(complete("ttrain plot --"))
    assert complete("ttrain config s") == ["show", "schema"]
    shown = runner.invoke(app, ["--show-completion", "bash"], prog_name="ttrain", env={"SHELL": "/bin/bash"})
    assert shown.exit_code == 0 and "_TTRAIN_COMPLETE=complete_bash" in shown.stdout
    assert "complete -o default -F _ttrain_completion ttrain" in shown.stdout
    installed = runner.invoke(app, ["--install-completion", "bash"], prog_name="ttrain",
                              env={"HOME": str(tmp_path), "SHELL": "/bin/bash"})
    assert installed.exit_code == 0, installed.output
    assert "_TTRAIN_COMPLETE" in (tmp_path / ".bash_completions" / "ttrain.sh").read_text()
    assert "ttrain.sh" in (tmp_path / ".bashrc").read_text()


def test_config_show_prints_a_checkpoints_embedded_config(write_config, fit_json, cli) -> None:
    config = write_config()
    summary = fit_json(config, "-q", "--set", "trainer.epochs=1", "--set", "optimizer.lr=0.05")
    checkpoint = summary["checkpoints"]["last"]
    shown = cli("config", "show", checkpoint)
    assert shown.exit_code == 0, shown.stderr
    embedded = yaml.safe_load(shown.stdout)
    assert embedded == summary["config"]  # the resolved config the run was trained with
    assert (embedded["optimizer"]["lr"], embedded["trainer"]["epochs"]) == (0.05, 1)
    run_config = Path(summary["run_dir"]) / "config.yaml"
    # laid out as the run directory's copy: sections and their fields in the schema's order
    assert list(embedded) == list(yaml.safe_load(run_config.read_text()))
    assert list(embedded["trainer"]) == list(yaml.safe_load(run_config.read_text())["trainer"])
    as_json = cli("config", "show", checkpoint, "--json")
    assert json.loads(as_json.stdout)["config"] == embedded


def test_config_show_of_a_bad_checkpoint_or_with_set_is_bad_input(cli, write_config, fit_json, tmp_path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"\x80\x04not a checkpoint")
    assert_fails(cli("config", "show", tmp_path / "model.safetensors"), 2, "model.safetensors")
    checkpoint = fit_json(write_config(), "-q", "--set", "trainer.epochs=1")["checkpoints"]["last"]
    result = cli("config", "show", checkpoint, "--set", "seed=1")
    assert result.exit_code == 2 and "--set applies to configs" in result.stderr
