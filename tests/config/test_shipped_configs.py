"""The example configs in configs/ validate against the real registry and teach what they use."""

from __future__ import annotations

from pathlib import Path

import pytest

from ttrain.config import dump_config, load_config

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("*.yaml"))


def test_the_main_configs_ship() -> None:
    assert {"seed.yaml", "mnist_mlp.yaml"} <= {p.name for p in CONFIGS}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_config_validates(path: Path) -> None:
    config, _ = load_config(path)
    assert config.name == path.stem
    again, _ = load_config(path, [f"trainer.epochs={config.trainer.epochs}"])
    assert dump_config(again) == dump_config(config)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_config_explains_itself(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    settings = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    commented = [line for line in settings if "#" in line]
    assert lines[0].startswith("#")  # opens with what the experiment is
    assert len(commented) >= len(settings) // 3  # the settings say what they do


def test_seed_config_is_the_seed_network() -> None:
    config, _ = load_config(CONFIGS[0].parent / "seed.yaml")
    assert (config.model.name, config.loss.name, config.optimizer.name) == ("seed_net", "mse", "sgd")
    assert config.data.kwargs["one_hot"] is True
    assert (config.optimizer.kwargs["lr"], config.trainer.batch_size, config.trainer.epochs) == (0.5, 32, 10)


def test_mlp_config_is_784_512_256_10_with_adam() -> None:
    config, _ = load_config(CONFIGS[0].parent / "mnist_mlp.yaml")
    assert config.model.name == "mlp" and list(config.model.kwargs["hidden"]) == [512, 256]
    assert (config.loss.name, config.optimizer.name, config.trainer.batch_size) == ("cross_entropy", "adam", 128)
