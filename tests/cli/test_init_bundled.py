"""The bundled configs through the CLI: `ttrain fit NAME`, `ttrain list configs` and `ttrain init`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ttrain.config.bundled import bundled_configs

from .helpers import assert_fails

ROOT = Path(__file__).resolve().parents[2]
# A few steps on a slice of MNIST: enough to show a written config trains.
FEW_STEPS = ["--set", "trainer.epochs=1", "--set", "trainer.batch_size=32", "--set", "trainer.max_steps=3", "--set", "data.train_size=256",
             "--set", "data.test_size=128"]


def test_every_config_in_the_repository_ships_once_with_the_package() -> None:
    in_repo = sorted(p.name for p in (ROOT / "configs").glob("*.yaml"))
    assert [p.name for p in bundled_configs().values()] == in_repo
    assert (ROOT / "ttrain" / "configs").resolve() == (ROOT / "configs").resolve()  # one copy: a link


def test_fit_finds_a_bundled_config_by_name_and_a_path_wins(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("fit", "seed", "--json", *FEW_STEPS)
    assert result.exit_code == 0, result.stderr
    assert Path(json.loads(result.stdout)["run_dir"]) == tmp_path / "runs" / "seed" / "1"
    # A file of that name in the working directory is the one meant.
    Path("seed").write_text("name: mine\nmodel: {name: seed_net}\ndata: {name: mnist}\n")
    assert json.loads(cli("config", "show", "seed", "--json").stdout)["config"]["name"] == "mine"
    assert json.loads(cli("config", "show", "mnist_cnn.yaml", "--json").stdout)["config"]["name"] == "mnist_cnn"


def test_an_unknown_name_lists_the_bundled_configs(cli) -> None:
    assert_fails(cli("fit", "mnist_mpl"), 2, "mnist_mpl: no such config file, nor a bundled config of that name",
                 "did you mean 'mnist_mlp'?")
    assert_fails(cli("fit", "no/such/file.yaml"), 2, "no/such/file.yaml")


def test_list_configs_names_each_with_what_it_is(cli) -> None:
    result = cli("list", "configs")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "configs:"
    listed = {line.split()[0]: line for line in lines[1:]}
    assert list(listed) == list(bundled_configs())
    assert "A multi-layer perceptron 784-512-256-10" in listed["mnist_mlp"]
    assert "configs:" in cli("list").stdout


@pytest.mark.parametrize("template, bundled", [("seed", "seed"), ("mlp", "mnist_mlp"), ("cnn", "mnist_cnn")])
def test_init_writes_a_commented_config_that_trains(cli, tmp_path: Path, template: str, bundled: str) -> None:
    target = tmp_path / f"my_{template}.yaml"
    result = cli("init", template, "-o", target)
    assert result.exit_code == 0, result.stderr
    text = target.read_text()
    assert text.startswith("# ") and text.count("#") > 10  # it teaches its options
    assert yaml.safe_load(text)["name"] == f"my_{template}"  # the runs are named after the user's file
    assert f"configs/{bundled}.yaml" not in text and f"ttrain fit {target}" in text
    summary = cli("fit", target, "--json", "--set", f"trainer.output_dir={tmp_path / 'runs'}", *FEW_STEPS)
    assert summary.exit_code == 0, summary.stderr
    assert json.loads(summary.stdout)["global_step"] == 3


def test_init_never_overwrites_and_writes_to_stdout_without_o(cli, tmp_path: Path) -> None:
    target = tmp_path / "exp.yaml"
    target.write_text("mine\n")
    result = cli("init", "cnn", "-o", target)
    assert result.exit_code == 2 and "already exists" in result.stderr
    assert target.read_text() == "mine\n"
    shown = cli("init")  # the default template, on stdout, as shipped
    assert shown.exit_code == 0 and shown.stdout == bundled_configs()["mnist_mlp"].read_text()
    unknown = cli("init", "rnn")
    assert unknown.exit_code == 2 and "choose one of: " in unknown.stderr and "mlp" in unknown.stderr


@pytest.mark.parametrize("name", list(bundled_configs()))
def test_init_takes_every_bundled_config(cli, tmp_path: Path, name: str) -> None:
    target = tmp_path / "exp.yaml"
    assert cli("init", name, "-o", target).exit_code == 0
    check = cli("config", "check", target)
    assert check.exit_code == 0, check.stderr
