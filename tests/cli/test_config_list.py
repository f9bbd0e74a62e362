"""`ttrain config show|check|schema` and `ttrain list`."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ttrain.config import CATEGORIES, config_to_dict, load_config

from .helpers import assert_fails


def test_config_show_prints_the_resolved_config_with_overrides(write_config, cli) -> None:
    config = write_config()
    result = cli("config", "show", config, "--set", "optimizer.lr=1e-3", "-s", "trainer.epochs=7")
    assert result.exit_code == 0, result.stderr
    shown = yaml.safe_load(result.stdout)
    assert shown["optimizer"] == {"name": "sgd", "lr": 0.001, "momentum": 0.9}
    assert shown["trainer"]["epochs"] == 7
    assert shown["loss"] == {"name": "cross_entropy"}  # defaults filled in
    assert shown["name"] == "spirals"  # named after the file
    resolved, _ = load_config(config, ["optimizer.lr=1e-3", "trainer.epochs=7"])
    assert shown == config_to_dict(resolved)


def test_config_show_output_is_itself_a_valid_config(write_config, cli, tmp_path: Path) -> None:
    shown = tmp_path / "shown.yaml"
    shown.write_text(cli("config", "show", write_config()).stdout)
    result = cli("config", "check", shown)
    assert result.exit_code == 0 and result.stdout.strip() == f"{shown}: ok"


def test_config_check_reports_problems(write_config, cli) -> None:
    config = write_config()
    assert cli("config", "check", config).exit_code == 0
    assert_fails(cli("config", "check", config, "--set", "trainer.batch_size=0"), 2, "trainer.batch_size")
    assert_fails(cli("config", "check", config.parent / "missing.yaml"), 2, "missing.yaml")


def test_config_schema_is_a_json_schema_of_every_section(cli) -> None:
    result = cli("config", "schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert {"model", "data", "loss", "optimizer", "scheduler", "trainer", "checkpoint", "seed"} <= set(schema["properties"])
    assert "model" in schema["required"]


def test_list_shows_every_category_with_signatures(cli) -> None:
    result = cli("list")
    assert result.exit_code == 0
    headings = [line[:-1] for line in result.stdout.splitlines() if not line.startswith(" ")]
    assert headings == [*CATEGORIES, "configs"]  # and the bundled configs last
    assert "  mlp(in_features: int" in result.stdout
    assert "  top_k(k: int = 5)" in result.stdout


def test_list_one_category(cli) -> None:
    result = cli("list", "optimizers")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "optimizers:"
    assert {line.split("(")[0].strip() for line in lines[1:]} >= {"sgd", "adam", "adamw"}


def test_list_an_unknown_category_prints_nothing_on_stdout(cli) -> None:
    result = cli("list", "optimisers")
    assert_fails(result, 2, "optimisers")
    assert result.stdout == ""
