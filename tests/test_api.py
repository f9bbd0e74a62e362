"""The public training API: `ttrain.fit`, `ttrain.evaluate`, `ttrain.load` keep the CLI's contracts."""

from __future__ import annotations

import copy
import io
import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

import ttrain
from ttrain.cli.app import app
from ttrain.config import Config, ConfigError, load_config
from ttrain.training.checkpoint import CheckpointError

# Spirals: 4 steps an epoch of 32 after the validation split; a second or two for the whole file.
CONFIG: dict[str, Any] = {
    "seed": 3,
    "model": {"layers": [{"linear": {"out_features": 16}}, "relu", {"linear": {"out_features": 2}}]},
    "data": {"name": "spirals", "n_train": 160, "n_test": 64},
    "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
    "trainer": {"epochs": 2, "batch_size": 32, "val_split": 0.2},
}
SUMMARY_KEYS = {"schema_version", "status", "error", "name", "run_dir", "epochs", "global_step", "epoch_step",
                "stopped_early", "final", "best", "checkpoints", "seconds", "train_seconds", "started_at",
                "finished_at", "config", "overrides", "resumed_from", "versions"}  # and `git` in a repository
TIMINGS = ("train.seconds", "train.samples_per_sec")

# A user's model, named as `module:Class` and imported from the working directory.
USER_MODEL = """\
import ttrain.nn as nn


class Tiny(nn.Module):
    def __init__(self, in_features, num_classes, hidden=8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.net(x)
"""
TINY = {"in_features": 2, "num_classes": 2}  # spirals' sizes, given: what a user's class infers is another matter


def _cli(*args: Any) -> dict[str, Any]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _untimed(record: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (record or {}).items() if k not in TIMINGS}


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """CONFIG as a YAML file whose runs go to `<tmp>/runs`."""
    path = tmp_path / "spirals.yaml"
    data = {**CONFIG, "trainer": {**CONFIG["trainer"], "output_dir": "runs"}}
    path.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML
    return path


@pytest.fixture
def fitted(config_file: Path) -> dict[str, Any]:
    """The summary of one run of `config_file`."""
    return ttrain.fit(config_file)


def test_fit_from_a_path_returns_what_fit_json_prints(config_file: Path, fitted: dict[str, Any]) -> None:
    assert set(fitted) - {"git"} == SUMMARY_KEYS and fitted["status"] == "ok"
    run_dir = Path(fitted["run_dir"])
    assert run_dir == config_file.parent / "runs" / "spirals" / "1"  # relative to the file; named after it
    assert (run_dir / "config.yaml").is_file() and Path(fitted["checkpoints"]["best"]).is_file()
    printed = _cli("fit", config_file, "--json", "--quiet")
    assert printed["run_dir"] == str(run_dir.with_name("2"))
    for key in ("epochs", "global_step", "epoch_step", "stopped_early"):
        assert fitted[key] == printed[key]
    assert _untimed(fitted["final"]) == _untimed(printed["final"])
    assert _untimed(fitted["best"]["metrics"]) == _untimed(printed["best"]["metrics"])
    assert json.loads(json.dumps(fitted, allow_nan=False)) == fitted  # strict JSON data


def test_fit_prints_nothing_unless_asked(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ttrain.fit(config_file, ["trainer.epochs=1"])
    assert capsys.readouterr() == ("", "")
    ttrain.fit(config_file, ["trainer.epochs=1"], progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "train.loss" in err
    console = Console(file=io.StringIO(), highlight=False)
    ttrain.fit(config_file, ["trainer.epochs=1"], progress=console)
    assert capsys.readouterr() == ("", "") and "train.loss" in console.file.getvalue()


@pytest.mark.parametrize("overrides", [
    ["trainer.epochs=1", "optimizer.lr=1e-5"],
    {"trainer.epochs": 1, "optimizer.lr": 1e-5},
])
def test_overrides_apply_as_set_strings_or_a_dict(config_file: Path, overrides: Any) -> None:
    summary = ttrain.fit(config_file, overrides, output_dir=config_file.parent / "elsewhere")
    assert summary["epochs"] == 1 and summary["final"]["lr"] == pytest.approx(1e-5)
    assert Path(summary["run_dir"]).parent.parent == config_file.parent / "elsewhere"


def test_one_override_string_is_one_override(config_file: Path) -> None:
    assert ttrain.fit(config_file, "trainer.epochs=1")["epochs"] == 1


def test_a_dict_config_resolves_paths_and_user_modules_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "api_user_models.py").write_text(USER_MODEL, encoding="utf-8")
    config = {**copy.deepcopy(CONFIG), "model": {"name": "api_user_models:Tiny", **TINY, "hidden": 4}}
    given = copy.deepcopy(config)
    summary = ttrain.fit(config, {"trainer.epochs": 1}, output_dir="out")
    assert config == given  # the caller's dict is not changed by the overrides
    assert Path(summary["run_dir"]) == tmp_path / "out" / "run" / "1"
    loaded = ttrain.load(summary["checkpoints"]["last"], trust_modules="api_user_models")
    assert type(loaded.model).__name__ == "Tiny" and loaded.model.net[0].out_features == 4


def test_a_config_object_is_used_as_it_is_or_with_overrides(config_file: Path) -> None:
    config, _ = load_config(config_file)
    assert ttrain.fit(config)["epochs"] == 2
    overridden = ttrain.fit(config, ["trainer.epochs=1"])
    assert overridden["epochs"] == 1 and Path(overridden["run_dir"]).parent == config_file.parent / "runs" / "spirals"
    assert config.trainer.epochs == 2
    with pytest.raises(ConfigError, match=r"^--set trainer\.epochs=0: trainer\.epochs: "):
        ttrain.fit(config, ["trainer.epochs=0"])


def test_resume_auto_continues_the_newest_run(config_file: Path, fitted: dict[str, Any]) -> None:
    resumed = ttrain.fit(config_file, ["trainer.epochs=3"], resume="auto")
    assert resumed["epochs"] == 3 and resumed["global_step"] == fitted["global_step"] * 3 // 2


def test_resume_warns_of_each_damaged_checkpoint_passed_over(config_file: Path, fitted: dict[str, Any]) -> None:
    damaged = Path(fitted["run_dir"]) / "checkpoints" / "zz_damaged.safetensors"
    damaged.write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="skipping damaged checkpoint .*zz_damaged"):
        resumed = ttrain.fit(config_file, ["trainer.epochs=3"], resume=fitted["run_dir"])
    assert resumed["epochs"] == 3


def test_evaluate_matches_eval_json_and_the_run_s_own_evaluation(fitted: dict[str, Any]) -> None:
    best = fitted["checkpoints"]["best"]
    result = ttrain.evaluate(best)
    printed = _cli("eval", best, "--json")
    assert set(result) == set(printed) - {"schema_version", "command"} and result["metrics"] == printed["metrics"]
    assert result["epoch"] == fitted["best"]["epoch"] and result["samples"] == 64
    expected = fitted["best"]["metrics"]
    assert result["metrics"]["test.accuracy"] == expected["test.accuracy"]
    assert result["metrics"]["test.loss"] == pytest.approx(expected["test.loss"], rel=1e-6)
    assert ttrain.evaluate(best, "val")["samples"] == 32
    assert ttrain.evaluate(best, data_overrides={"n_test": 16})["samples"] == 16


def test_load_returns_the_trained_model_in_eval_mode_and_its_config(fitted: dict[str, Any]) -> None:
    from ttrain.training.experiment import build_datasets

    best = fitted["checkpoints"]["best"]
    model, config = ttrain.load(best)
    assert not model.training and isinstance(config, Config) and config.name == "spirals"
    assert ttrain.load(best).metadata["epoch"] == fitted["best"]["epoch"]
    test = build_datasets(config)["test"]
    with ttrain.no_grad():
        predicted = model(ttrain.from_numpy(test.features)).argmax(dim=1).numpy()
    assert np.mean(predicted == test.targets) == ttrain.evaluate(best)["metrics"]["test.accuracy"]


def test_a_bad_config_file_is_a_config_error_at_its_line(config_file: Path) -> None:
    config_file.write_text(textwrap.dedent("""\
        model: {layers: [{linear: {out_features: 2}}]}
        data: {name: spirals}
        optimizer:
          name: sgd
          lr: fast
    """), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        ttrain.fit(config_file)
    (issue,) = info.value.issues
    assert (issue.path, issue.location) == ("optimizer.lr", f"{config_file}:5")


def test_a_bad_dict_config_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        ttrain.fit({**CONFIG, "optimizer": {"name": "sgd", "lr": 0.1, "momentun": 0.9}})
    (issue,) = info.value.issues
    assert (issue.path, issue.location, issue.suggestion) == ("optimizer.momentun", "<config dict>", "momentum")
    with pytest.raises(ConfigError, match=r"^--set trainer\.epochs=x: trainer\.epochs: "):
        ttrain.fit(CONFIG, ["trainer.epochs=x"])


def test_other_bad_input_raises_the_documented_types(tmp_path: Path, fitted: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="missing.yaml"):
        ttrain.fit(tmp_path / "missing.yaml")
    with pytest.raises(TypeError, match="not int"):
        ttrain.fit(42)  # type: ignore[arg-type]
    with pytest.raises(CheckpointError):
        ttrain.evaluate(tmp_path / "missing.safetensors")
    with pytest.raises(CheckpointError):
        ttrain.load(tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="split must be one of test, val"):
        ttrain.evaluate(fitted["checkpoints"]["best"], "train")


def test_a_checkpoint_names_your_module_only_if_you_trust_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "api_trusted_models.py").write_text(USER_MODEL, encoding="utf-8")
    config = {**CONFIG, "model": {"name": "api_trusted_models:Tiny", **TINY}}
    best = ttrain.fit(config, {"trainer.epochs": 1}, output_dir="out")["checkpoints"]["best"]
    with pytest.raises(ConfigError, match="api_trusted_models"):
        ttrain.evaluate(best)
    with pytest.raises(ConfigError, match="api_trusted_models"):
        ttrain.load(best)
    assert ttrain.evaluate(best, trust_modules=["api_trusted_models"])["status"] == "ok"
