"""Configs that scale: several files merged left to right, `${...}` references and `${env:...}`,
each mistake reported at the file and line that made it, all through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from .helpers import assert_fails

BASE = """\
name: base
seed: 1
model:
  layers:
    - linear: {out_features: 16}
    - relu
    - linear: {out_features: 3}
data: {name: blobs, n_train: 96, n_test: 48}
optimizer:
  name: adam
  lr: 0.01
  betas: [0.9, 0.99]
scheduler: {name: step, step_size: 1, gamma: 0.5}
trainer: {epochs: 1, batch_size: 32, metrics: [accuracy]}
"""


def _show(cli: Callable[..., Any], *args: Any) -> dict[str, Any]:
    result = cli("config", "show", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["config"]


@pytest.fixture
def base(write_config: Callable[..., Path]) -> Path:
    return write_config(BASE, "base.yaml")


def test_later_files_merge_into_earlier_ones_and_set_wins_last(cli, base: Path, write_config) -> None:
    experiment = write_config("""\
        name: wide
        model:
          layers: [{linear: {out_features: 3}}]   # a list is replaced whole
        optimizer: {lr: 0.003}         # a mapping merges key by key: adam and its betas stay
        trainer: {epochs: 4}
        """, "wide.yaml")
    config = _show(cli, base, experiment, "--set", "trainer.epochs=5")
    assert config["name"] == "wide" and config["seed"] == 1
    assert config["optimizer"] == {"name": "adam", "lr": 0.003, "betas": [0.9, 0.99]}
    assert config["model"]["layers"] == [{"linear": {"out_features": 3}}]
    assert (config["trainer"]["epochs"], config["trainer"]["batch_size"]) == (5, 32)
    assert config["scheduler"]["name"] == "step"


def test_a_new_component_name_replaces_its_section_and_null_removes_one(cli, base: Path, write_config) -> None:
    sgd = write_config("optimizer: {name: sgd, lr: 0.1}\nscheduler: null\n", "sgd.yaml")
    config = _show(cli, base, sgd)
    assert config["optimizer"]["name"] == "sgd" and "betas" not in config["optimizer"]  # adam's betas went with it
    assert config["scheduler"] is None


def test_an_error_points_into_the_file_that_set_the_value(cli, base: Path, write_config) -> None:
    experiment = write_config("# an experiment\ntrainer:\n  epochs: 2\n  batch_size: 0\n", "exp.yaml")
    assert_fails(cli("config", "check", base, experiment), 2, f"{experiment}:4: trainer.batch_size")
    # The base's own mistake is still reported in the base, even though the experiment came last.
    broken_base = write_config(BASE.replace("gamma: 0.5", "gama: 0.5"), "broken.yaml")
    ok = write_config("trainer: {epochs: 2}\n", "ok.yaml")
    assert_fails(cli("config", "check", broken_base, ok), 2, f"{broken_base}:13: scheduler.gama",
                 "did you mean 'gamma'")
    # A value the experiment replaced is located in the experiment, not in the base it replaced.
    lr = write_config("\n\noptimizer: {lr: -1}\n", "lr.yaml")
    assert_fails(cli("config", "check", base, lr), 2, f"{lr}:3: optimizer.lr")


def test_fit_and_sweep_take_several_files(cli, base: Path, write_config, out_dir: Path) -> None:
    experiment = write_config("name: exp\ntrainer: {epochs: 2}\n", "exp.yaml")
    result = cli("fit", base, experiment, "--json", "--set", f"trainer.output_dir={out_dir}")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert Path(summary["run_dir"]) == out_dir / "exp" / "1" and summary["epochs"] == 2
    pytest.importorskip("optuna")
    result = cli("sweep", base, experiment, "--grid", "optimizer.lr=0.01,0.02", "--json",
                 "--set", f"trainer.output_dir={out_dir}")
    assert result.exit_code == 0, result.stderr
    sweep = json.loads(result.stdout)
    assert sweep["configs"] == [str(base), str(experiment)] and sweep["counts"]["complete"] == 2
    for trial in sweep["trials"]:
        assert json.loads((Path(trial["run_dirs"][0]) / "summary.json").read_text())["epochs"] == 2


def test_a_relative_path_resolves_against_the_file_that_wrote_it(cli, tmp_path: Path, base: Path) -> None:
    (tmp_path / "exp").mkdir()
    experiment = tmp_path / "exp" / "exp.yaml"
    experiment.write_text("trainer: {output_dir: my_runs}\n")
    assert _show(cli, base, experiment)["trainer"]["output_dir"] == str(tmp_path / "exp" / "my_runs")


def test_references_keep_their_type_and_follow_overrides(cli, base: Path, write_config, monkeypatch) -> None:
    monkeypatch.setenv("TTRAIN_TEST_RUNS", "/data/runs")
    monkeypatch.setenv("TTRAIN_TEST_EPOCHS", "3")
    monkeypatch.delenv("TTRAIN_TEST_UNSET", raising=False)
    experiment = write_config("""\
        name: "w${model.layers.0.linear.out_features}"                       # embedded: a string
        scheduler: {name: step, step_size: "${trainer.epochs}", gamma: 0.5}  # whole: the number
        trainer:
          epochs: "${env:TTRAIN_TEST_EPOCHS}"                                # the variable's text, read as YAML
          batch_size: "${env:TTRAIN_TEST_UNSET,16}"                          # unset: the default
          output_dir: "${env:TTRAIN_TEST_RUNS}/${name}"                      # a reference to a reference
          metrics: "${checkpoint.also_logged}"                               # a whole list
        checkpoint: {monitor: "test.${trainer.metrics.0}", also_logged: [accuracy]}
        """, "refs.yaml")
    result = cli("config", "check", base, experiment)
    assert_fails(result, 2, f"{experiment}:8: checkpoint.also_logged: unknown key")  # resolved, then validated
    experiment.write_text(experiment.read_text().replace(", also_logged: [accuracy]", "")
                          .replace('"${checkpoint.also_logged}"', "[accuracy]"))
    config = _show(cli, base, experiment)
    assert config["name"] == "w16" and config["trainer"]["output_dir"] == "/data/runs/w16"
    assert config["trainer"]["epochs"] == 3 and config["scheduler"]["step_size"] == 3
    assert config["trainer"]["batch_size"] == 16 and config["checkpoint"]["monitor"] == "test.accuracy"
    overridden = _show(cli, base, experiment, "--set", "trainer.epochs=6")
    assert overridden["scheduler"]["step_size"] == 6  # the override reaches every value that refers to it
    escaped = write_config(r"trainer: {output_dir: '\${not_a_reference}'}" + "\n", "escaped.yaml")  # not "\$"
    assert _show(cli, base, escaped)["trainer"]["output_dir"].endswith("/${not_a_reference}")


@pytest.mark.parametrize("text, line, message", [
    ("trainer:\n  epochs: 2\n  batch_size: ${trainer.epoch}\n", 3,
     "trainer.batch_size: ${trainer.epoch}: no key 'trainer.epoch' in the config; did you mean 'trainer.epochs'?"),
    ("trainer:\n  epochs: ${trainer.max_steps}\n  max_steps: ${trainer.epochs}\n", 3,
     "the references make a cycle (trainer.epochs -> trainer.max_steps -> trainer.epochs)"),
    ("\nname: run-${env:TTRAIN_TEST_UNSET}\n", 2,
     "name: environment variable TTRAIN_TEST_UNSET is not set, and ${env:TTRAIN_TEST_UNSET} gives no default"),
    ("model: ${model}\n", 1, "model: ${model}: the references make a cycle"),
    ("name: ${optimizer}-x\n", 1, "${optimizer} is a mapping: it can be the whole value, but not part of a string"),
    ("name: ${oc.env:HOME}\n", 1, "unknown resolver 'oc.env'"),
    ("name: ${trainer.epochs\n", 1, "a reference has no closing '}'"),
])
def test_a_bad_reference_is_an_error_at_its_line(cli, base: Path, write_config, monkeypatch,
                                                 text: str, line: int, message: str) -> None:
    monkeypatch.delenv("TTRAIN_TEST_UNSET", raising=False)
    experiment = write_config(text, "bad.yaml")
    result = cli("fit", base, experiment, "--json")
    assert_fails(result, 2, f"{experiment}:{line}: ", message)
    assert json.loads(result.stdout)["error"]["line"] == line
