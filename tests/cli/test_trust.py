"""The trust boundary from the command line: hostile configs and re-saved hostile checkpoints are
refused (exit 2, naming the key and where it is) and the command they name never runs; a user's
own model works in `fit`, and in `eval` only when the user vouches for its module.

Each hostile target is given the arguments that would create `<tmp>/pwned` if it were called.
"""

from __future__ import annotations

import itertools
import json
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
import yaml

from ttrain.training.checkpoint import load_checkpoint, save_checkpoint

from .helpers import SPIRALS, assert_fails


def hostile(target: str, marker: Path) -> dict[str, Any]:
    """A component naming `target`, with the arguments that would create `marker` if it were called."""
    arguments = {
        "subprocess:Popen": {"args": ["touch", str(marker)]},
        "os:system": {"command": f"touch {marker}"},
        "builtins:eval": {"source": f"__import__('pathlib').Path({str(marker)!r}).touch()"},
    }[target]
    return {"name": target, **arguments}


# Where a hostile component goes in a config: (key path of its name, how to put it there).
PLACES: dict[str, Callable[[dict[str, Any], dict[str, Any]], None]] = {
    "model.name": lambda config, c: config.update(model=c),
    "model.layers.1.name": lambda config, c: config["model"]["layers"].insert(1, c),
    "loss.name": lambda config, c: config.update(loss=c),
    "optimizer.name": lambda config, c: config.update(optimizer=c),
    "scheduler.name": lambda config, c: config.update(scheduler=c),
    "data.name": lambda config, c: config.update(data=c),
    "trainer.metrics.0.name": lambda config, c: config["trainer"].update(metrics=[c]),
    "trainer.metrics.0": lambda config, c: config["trainer"].update(metrics=[c["name"]]),  # a bare name
}
NOUNS = {"model": "model", "layers": "layer", "loss": "loss", "optimizer": "optimizer", "scheduler": "scheduler",
         "data": "dataset", "metrics": "metric"}
TARGETS = ("subprocess:Popen", "os:system", "builtins:eval")


def _noun(key: str) -> str:
    parts = key.split(".")
    return NOUNS["layers" if "layers" in parts else "metrics" if "metrics" in parts else parts[0]]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("key", list(PLACES))
def test_fit_refuses_a_config_naming_a_hostile_target(cli, tmp_path: Path, out_dir: Path, key: str, target: str) -> None:
    marker = tmp_path / "pwned"
    config = yaml.safe_load(SPIRALS)
    PLACES[key](config, hostile(target, marker))
    path = tmp_path / "hostile.yaml"
    text = yaml.safe_dump(config, sort_keys=False)
    path.write_text(text)
    line = next(n for n, text_line in enumerate(text.splitlines(), 1) if target in text_line)
    result = cli("fit", path, "--set", f"trainer.output_dir={out_dir}")
    assert_fails(result, 2, f"{path}:{line}: {key}: '{target}' cannot be a {_noun(key)}: it is ")
    assert not marker.exists() and not out_dir.exists()


@pytest.fixture
def last_checkpoint(write_config, fit_json) -> Path:
    """The `last` checkpoint of a one-epoch SPIRALS fit."""
    return Path(fit_json(write_config(), "--set", "trainer.epochs=1")["checkpoints"]["last"])


def resave(checkpoint: Path, destination: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """`checkpoint` with its embedded config edited, saved with valid hashes as an attacker would."""
    tensors, metadata = load_checkpoint(checkpoint)
    edit(metadata["config"])
    return save_checkpoint(destination, tensors, metadata)


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """Three 2-D points to predict."""
    path = tmp_path / "points.npz"
    np.savez(path, x=np.zeros((3, 2), np.float32))
    return path


CHECKPOINT_CASES = [("model.name", "subprocess:Popen"), ("data.name", "os:system"), ("model.layers.1.name", "os:system"),
                    ("loss.name", "builtins:eval"), ("trainer.metrics.0.name", "subprocess:Popen")]


@pytest.mark.parametrize("command", ["eval", "predict"])
@pytest.mark.parametrize(("key", "target"), CHECKPOINT_CASES)
def test_a_checkpoint_naming_a_hostile_target_is_refused(cli, last_checkpoint: Path, inputs: Path, tmp_path: Path,
                                                         command: str, key: str, target: str) -> None:
    marker = tmp_path / "pwned"
    checkpoint = resave(last_checkpoint, tmp_path / "hostile.safetensors",
                        lambda config: PLACES[key](config, hostile(target, marker)))
    args = [command, checkpoint, *([inputs, "-o", tmp_path / "out.npz"] if command == "predict" else [])]
    module = target.split(":")[0]
    assert_fails(cli(*args), 2, f"{checkpoint} (embedded config): {key}: '{target}' is not a registered",
                 f"--trust-module {module}")
    # Even vouched for, it is still not of the kind its section needs.
    assert_fails(cli(*args, "--trust-module", module), 2, f"{key}: '{target}' cannot be a {_noun(key)}")
    assert not marker.exists() and not (tmp_path / "out.npz").exists()


def test_resume_builds_nothing_from_the_checkpoints_config(cli, write_config, last_checkpoint: Path, out_dir: Path,
                                                           tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    def edit(config: dict[str, Any]) -> None:
        for key, target in [("model.name", "subprocess:Popen"), ("data.name", "os:system"), ("loss.name", "builtins:eval")]:
            PLACES[key](config, hostile(target, marker))

    checkpoint = resave(last_checkpoint, tmp_path / "hostile.safetensors", edit)
    result = cli("fit", write_config(), "--resume", checkpoint, "--set", f"trainer.output_dir={out_dir}",
                 "--set", "trainer.epochs=2")
    assert "Traceback" not in result.stderr and result.exit_code in (0, 2), result.stderr
    assert not marker.exists()


USER_MODEL = """\
from ttrain import nn


class TinyNet(nn.Module):
    def __init__(self, in_features: int = 2, num_classes: int = 2, hidden: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.body(x)
"""
_MODULES = itertools.count()


@pytest.fixture
def user_model(write_config) -> Iterator[tuple[str, Path]]:
    """(module name, config): a SPIRALS config whose model is the user's `TinyNet`, in a module next to it."""
    module = f"ttrain_trust_nets_{next(_MODULES)}"
    config = write_config(SPIRALS.split("model:")[0] + textwrap.dedent(f"""\
        model:
          name: {module}:TinyNet
          hidden: 16
        """) + "data:" + SPIRALS.split("data:")[1], "experiment/spirals.yaml")
    (config.parent / f"{module}.py").write_text(USER_MODEL)
    yield module, config
    sys.modules.pop(module, None)


def test_a_users_model_trains_and_evaluates_only_when_its_module_is_trusted(
    cli, fit_json, user_model: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, config = user_model
    summary = fit_json(config, "--set", "trainer.epochs=1")
    best = Path(summary["checkpoints"]["best"])
    sys.modules.pop(module)  # eval imports it afresh, as a new process would
    monkeypatch.chdir(config.parent)  # a checkpoint's user modules come from the working directory
    assert_fails(cli("eval", best), 2, f"{best} (embedded config): model.name: '{module}:TinyNet' is not a registered model",
                 f"--trust-module {module}")
    assert module not in sys.modules
    result = cli("eval", best, "--trust-module", module, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["metrics"]["test.loss"] == summary["best"]["metrics"]["test.loss"]

    sys.modules.pop(module)
    monkeypatch.chdir(tmp_path)  # elsewhere, the trusted module is not found
    assert_fails(cli("eval", best, "--trust-module", module), 2, f"no module named '{module}'")
