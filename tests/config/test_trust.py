"""The trust boundary, against the real registries: every target must be of its section's kind, and a
checkpoint's config may import only the modules the user vouches for.

Hostile configs through `ttrain fit` and hostile checkpoints through `ttrain eval|predict` are in
tests/cli/test_trust.py; these are the rules underneath.
"""

from __future__ import annotations

import itertools
import re
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from ttrain.config import ConfigError, RegistryError, build, build_metric, config_from_dict, get_registry, load_config
from ttrain.config.registry import REGISTRIES, is_trusted

SPIRALS = {"model": {"layers": [{"linear": {"out_features": 2}}]}, "data": {"name": "spirals", "n_train": 64}}

USER_CODE = """\
from pathlib import Path

import numpy as np

from ttrain import nn
from ttrain.data import ArrayDataset, dataset_factory
from ttrain.training import metric

Path(__file__).with_name("imported").touch()  # the module's top-level code ran


class TinyNet(nn.Module):
    def __init__(self, in_features: int = 2, num_classes: int = 2, hidden: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.body(x)


@dataset_factory
def points(n: int = 32):
    x = np.random.default_rng(0).standard_normal((n, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    return {"train": ArrayDataset(x, y, num_classes=2), "test": ArrayDataset(x, y, num_classes=2)}


@metric
def always_one(outputs, targets) -> float:
    return 1.0


def not_a_metric(outputs, targets) -> float:
    return 1.0


class NotAModel:
    pass
"""


_PACKAGES = itertools.count()


@pytest.fixture
def user_package(tmp_path: Path) -> Iterator[str]:
    """A user's package in `tmp_path` (a name of its own per test, since imports are cached);
    importing it creates `tmp_path/<name>/imported`."""
    name = f"ttrain_trust_user_{next(_PACKAGES)}"
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "code.py").write_text(USER_CODE)
    yield name
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]


def test_every_registered_target_is_of_its_sections_kind() -> None:
    for category, registry in REGISTRIES.items():
        for entry in registry:
            target = registry.load(entry.name)[1]
            # Named by path, they would pass too; the built-in dataset factories are declared by registration.
            assert registry.kind.admits(target, registered=category == "datasets"), (category, entry.name)


@pytest.mark.parametrize(
    ("category", "target", "found"),
    [
        ("models", "subprocess:Popen", "a class"),
        ("layers", "os:system", "a 'builtin_function_or_method'"),
        ("losses", "builtins:eval", "a 'builtin_function_or_method'"),
        ("optimizers", "subprocess:Popen", "a class"),
        ("schedulers", "ttrain.optim:SGD", "a class"),  # a ttrain class, of another kind
        ("datasets", "os:system", "a 'builtin_function_or_method'"),
        ("datasets", "subprocess:Popen", "a class"),
        ("metrics", "builtins:eval", "a 'builtin_function_or_method'"),
        ("metrics", "math:pi", "a 'float'"),
    ],
)
def test_a_target_of_the_wrong_kind_is_refused_before_it_is_called(category: str, target: str, found: str) -> None:
    registry = get_registry(category)
    with pytest.raises(RegistryError, match=f"^'{target}' cannot be a {registry.noun}: it is {found}, "
                                            f"and a {registry.noun} must be "):
        registry.load(target)


def test_user_code_of_the_right_kind_is_accepted(user_package: str, tmp_path: Path) -> None:
    for category, name in [("models", "TinyNet"), ("layers", "TinyNet"), ("datasets", "points"), ("metrics", "always_one")]:
        _, target = get_registry(category).load(f"{user_package}.code:{name}", tmp_path)
        assert target.__name__ == name


@pytest.mark.parametrize(("category", "name", "kind"), [
    ("metrics", "not_a_metric", "a registered metric or a function declared with @ttrain.training.metric"),
    ("datasets", "not_a_metric", "a registered dataset or a function declared with @ttrain.data.dataset_factory"),
    ("models", "NotAModel", "an nn.Module subclass"),
    ("metrics", "TinyNet", "a registered metric or a function declared with @ttrain.training.metric"),
])
def test_undeclared_user_code_is_refused(user_package: str, tmp_path: Path, category: str, name: str, kind: str) -> None:
    with pytest.raises(RegistryError, match=f"must be {re.escape(kind)}$"):
        get_registry(category).load(f"{user_package}.code:{name}", tmp_path)


def test_config_errors_name_the_key_and_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent("""\
        model:
          layers:
            - linear: {out_features: 2}
            - {name: "os:system", command: "true"}
        data: {name: "subprocess:Popen", args: ["true"]}
        trainer:
          metrics: ["builtins:eval"]
        """))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    found = {(issue.path, issue.location) for issue in info.value.issues}
    assert found == {("model.layers.1.name", f"{path}:4"), ("data.name", f"{path}:5"), ("trainer.metrics.0", f"{path}:7")}


@pytest.mark.parametrize(("module", "trusted", "expected"), [
    ("pkg", ["pkg"], True), ("pkg.models", ["pkg"], True), ("pkg.models", ["pkg.models"], True),
    ("pkg", ["pkg.models"], False), ("pkgx", ["pkg"], False), ("os", [], False), ("os.path", ["os.pa"], False),
])
def test_trusting_a_module_covers_its_submodules_only(module: str, trusted: list[str], expected: bool) -> None:
    assert is_trusted(module, trusted) is expected


def test_a_checkpoint_config_imports_no_module_the_user_has_not_trusted(user_package: str, tmp_path: Path) -> None:
    data = {**SPIRALS, "model": {"name": f"{user_package}.code:TinyNet"}}
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, base_dir=tmp_path, where="ckpt.safetensors (embedded config)", trusted=["other"])
    (issue,) = info.value.issues
    assert (issue.path, issue.location) == ("model.name", "ckpt.safetensors (embedded config)")
    assert issue.message.startswith(f"'{user_package}.code:TinyNet' is not a registered model, and a checkpoint may name")
    assert issue.message.endswith(f"pass --trust-module {user_package}")
    assert not (tmp_path / user_package / "imported").exists()  # refused before the import
    config = config_from_dict(data, base_dir=tmp_path, trusted=[user_package])
    assert config.model.name == f"{user_package}.code:TinyNet" and (tmp_path / user_package / "imported").exists()


def test_a_checkpoint_config_may_name_registered_components_without_trust() -> None:
    config = config_from_dict({**SPIRALS, "trainer": {"metrics": ["accuracy", {"name": "top_k", "k": 1}]}}, trusted=())
    assert [m.name for m in config.trainer.metrics] == ["accuracy", "top_k"]


@pytest.mark.parametrize("target", ["subprocess:Popen", "os:system", "builtins:eval", "ttrain.nn:Linear"])
def test_a_checkpoint_config_refuses_any_unvouched_path_even_a_harmless_one(target: str) -> None:
    with pytest.raises(ConfigError, match="is not a registered layer, and a checkpoint may name only registered"):
        config_from_dict({**SPIRALS, "model": {"layers": [{"name": target}]}})  # data trusts nothing by default


def test_a_config_builds_a_users_declared_dataset_and_metric(user_package: str, tmp_path: Path) -> None:
    code = f"{user_package}.code"
    path = tmp_path / "c.yaml"
    path.write_text(f"model: {{name: '{code}:TinyNet'}}\ndata: {{name: '{code}:points', n: 8}}\n"
                    f"trainer: {{metrics: ['{code}:always_one']}}\n")
    config, _ = load_config(path)
    splits = build("datasets", config.data, base_dir=config.base_dir)
    assert len(splits["train"]) == 8
    (spec,) = config.trainer.metrics
    assert build_metric(spec, config.base_dir)(None, None) == 1.0
