"""``--set key.path=value`` overrides."""

from __future__ import annotations

import pytest

from ttrain.config import load_config
from ttrain.config.errors import ConfigError
from ttrain.config.loader import Location, SourceMap, load_yaml
from ttrain.config.overrides import apply_overrides, parse_override

from .conftest import MINIMAL

BASE = """\
optimizer:
  name: sgd
  lr: 0.1
model:
  layers:
    - linear: {out_features: 512}
    - relu
"""


def apply(*overrides: str) -> tuple[dict, SourceMap]:
    data, source = load_yaml(BASE, "c.yaml")
    return apply_overrides(data, list(overrides), source), source


@pytest.mark.parametrize(
    ("override", "value"),
    [("optimizer.lr=1e-3", 1e-3), ("optimizer.lr=0.5", 0.5), ("optimizer.nesterov=true", True),
     ("optimizer.name=adam", "adam"), ("optimizer.lr='0.5'", "0.5"), ("optimizer.lr=", None),
     ("optimizer.lr=[1, 2]", [1, 2]), ("optimizer.lr={a: 1}", {"a": 1}), ("optimizer.lr=a=b", "a=b")],
)
def test_values_are_yaml_typed(override: str, value: object) -> None:
    data, _ = apply(override)
    key = override.split("=")[0].split(".")[1]
    assert data["optimizer"][key] == value
    assert type(data["optimizer"][key]) is type(value)


def test_missing_mappings_are_created_and_located_at_the_override() -> None:
    data, source = apply("trainer.early_stopping.patience=3")
    assert data["trainer"] == {"early_stopping": {"patience": 3}}
    assert str(source.locate(("trainer", "early_stopping", "patience"))) == "--set trainer.early_stopping.patience=3"


def test_list_items_by_index() -> None:
    data, source = apply("model.layers.0.linear.out_features=128", "model.layers.2=dropout")
    assert data["model"]["layers"] == [{"linear": {"out_features": 128}}, "relu", "dropout"]
    assert source.locate(("model", "layers", 0, "linear", "out_features")).file.startswith("--set")


def test_replacing_a_mapping_relocates_its_old_keys() -> None:
    data, source = apply("optimizer={name: adam, betas: [0.8, 0.9]}")
    assert data["optimizer"] == {"name": "adam", "betas": [0.8, 0.9]}
    assert str(source.locate(("optimizer", "lr"))).startswith("--set optimizer=")
    assert str(source.locate(("optimizer", "betas", 1))).startswith("--set optimizer=")


def test_later_overrides_win() -> None:
    data, _ = apply("optimizer.lr=0.2", "optimizer.lr=0.3")
    assert data["optimizer"]["lr"] == 0.3


def test_a_null_section_becomes_a_mapping() -> None:
    data, source = load_yaml("scheduler:\n", "c.yaml")
    apply_overrides(data, ["scheduler.name=step"], source)
    assert data["scheduler"] == {"name": "step"}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optimizer.lr", r"--set optimizer.lr: an override must look like key.path=value \(no '=' found\)"),
        ("=3", r"--set =3: an override needs a key before '='"),
        ("optimizer..lr=3", r"--set optimizer..lr=3: empty name in the key path 'optimizer..lr'"),
        ("optimizer.lr.x=3", r"--set optimizer.lr.x=3: cannot set a key inside optimizer.lr: it is a float"),
        ("model.layers.first=3", r"model.layers is a list: use a number to pick an item, not 'first'"),
        ("model.layers.5=relu", r"model.layers has 2 items: index 5 is out of range"),
        ("optimizer.lr=[1, 2", r"^--set optimizer.lr=\[1, 2: bad YAML syntax: .*expected ',' or '\]'"),
        ("optimizer.lr=!!python/name:os.system", r"'!!python/name:os.system' is not allowed"),
    ],
)
def test_bad_overrides_are_errors_naming_them(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        apply(override)


def test_parse_override_splits_key_and_value() -> None:
    assert parse_override(" trainer.epochs = 3") == (("trainer", "epochs"), 3)


def test_override_errors_in_validation_point_at_the_override(stub_registry, write_config) -> None:
    path = write_config(MINIMAL)
    with pytest.raises(ConfigError) as info:
        load_config(path, ["trainer.batch_size=0"])
    assert str(info.value) == "--set trainer.batch_size=0: trainer.batch_size: expected a value >= 1, found 0"


def test_overrides_reach_the_validated_config(stub_registry, write_config) -> None:
    config, _ = load_config(write_config(MINIMAL), ["trainer.epochs=3", "optimizer={name: sgd, lr: 5e-2}"])
    assert config.trainer.epochs == 3
    assert config.optimizer.name == "sgd"
    assert config.optimizer.kwargs == {"lr": 0.05}


def test_source_map_root_location() -> None:
    assert str(SourceMap(Location("x.yaml")).locate(("a",))) == "x.yaml"


def test_key_paths_are_as_deep_as_a_config_may_nest() -> None:
    from ttrain.config.loader import MAX_DEPTH

    data, _ = apply(".".join(["k"] * MAX_DEPTH) + "=1")  # one mapping per part, the top-level one first
    assert data["k"]["k"]["k"]
    with pytest.raises(ConfigError, match=rf"a key path of 5,000 parts is too long \(a config nests at most {MAX_DEPTH} levels\)"):
        apply(".".join(["k"] * 5000) + "=1")


def test_a_long_override_is_shortened_where_it_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        apply("optimizer.lr=[" + "1, " * 5000)
    (issue,) = info.value.issues
    assert issue.location.startswith("--set optimizer.lr=[1, 1, ") and issue.location.endswith("...")
    assert len(issue.location) == len("--set ") + 100
