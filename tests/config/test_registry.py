"""The registry: lazy names, user classes from the config's folder, describe(), clear errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ttrain.config import ConfigError, RegistryError, describe, get_registry, load_config, resolve
from ttrain.config.registry import CATEGORIES, REGISTRIES, Kind, Registry, import_object

from .conftest import SGD, Linear


def test_every_category_exists_and_unknown_ones_suggest() -> None:
    assert tuple(REGISTRIES) == CATEGORIES
    with pytest.raises(RegistryError, match=r"unknown registry category 'model'; did you mean 'models'\?"):
        get_registry("model")


def test_building_the_registry_imports_nothing_heavy() -> None:
    code = ("import sys, ttrain.config; "
            "heavy = [m for m in ('numba', 'ttrain.nn', 'ttrain.optim', 'ttrain.data') if m in sys.modules]; "
            "print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).parents[2])
    assert result.stdout.strip() == "[]"


def test_names_resolve_through_the_lazy_targets(stub_registry) -> None:
    assert resolve("optimizers", "sgd") is SGD
    entry, target = get_registry("layers").load("linear")
    assert target is Linear
    assert get_registry("optimizers").entry("sgd").supplied == 1


def test_register_adds_a_name() -> None:
    registry = Registry("models", "model", Kind("a callable"))
    registry.register("tiny", "collections:OrderedDict")
    assert "tiny" in registry and registry.names() == ["tiny"]
    assert registry.load("tiny")[1].__name__ == "OrderedDict"


def test_unknown_name_suggests_the_closest_or_lists_the_known_ones(stub_registry) -> None:
    with pytest.raises(RegistryError) as info:
        get_registry("optimizers").entry("adma")
    assert (info.value.message, info.value.suggestion) == ("unknown optimizer 'adma'", "adam")
    with pytest.raises(RegistryError, match=r"unknown optimizer 'xyz' \(known: adam, sgd\)$"):
        get_registry("optimizers").entry("xyz")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("collections", "expected the form 'package.module:Name'"),
        (":Name", "expected the form 'package.module:Name'"),
        ("no_such_module_xyz:Thing", "no module named 'no_such_module_xyz'"),
        ("collections:OrderedDcit", "'collections' has no attribute 'OrderedDcit'; did you mean 'OrderedDict'?"),
    ],
)
def test_bad_import_paths(spec: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message.replace("?", r"\?").replace("(", r"\(")):
        import_object(spec)


def test_targets_of_the_wrong_kind_are_refused() -> None:
    with pytest.raises(RegistryError, match=r"^'math:sqrt' cannot be a model: it is a 'builtin_function_or_method', "
                                            r"and a model must be an nn.Module subclass$"):
        get_registry("models").load("math:sqrt")
    with pytest.raises(RegistryError, match=r"^'math:sqrt' cannot be a metric: .* a function declared with @ttrain.training.metric$"):
        get_registry("metrics").load("math:sqrt")  # a function, but not declared a metric


def write_package(root: Path, name: str, source: str) -> None:
    package = root / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(textwrap.dedent(source))


USER_MODEL = """\
class WideNet:
    \"\"\"A user's model.\"\"\"

    def __init__(self, width: int, depth: int = 2) -> None:
        self.width, self.depth = width, depth
"""


def test_user_class_is_imported_from_the_config_folder_only_while_importing(stub_registry, tmp_path, monkeypatch) -> None:
    write_package(tmp_path / "exp", "ttrain_user_pkg_a", USER_MODEL)
    config_path = tmp_path / "exp" / "c.yaml"
    config_path.write_text("model:\n  name: ttrain_user_pkg_a.models:WideNet\n  width: 64\ndata: {name: mnist}\n")
    monkeypatch.chdir(tmp_path)  # not the config's folder
    path_before = list(sys.path)
    config, _ = load_config(config_path)
    assert sys.path == path_before
    assert config.model.kwargs == {"width": 64}
    model = resolve("models", config.model.name, config.base_dir)
    assert (model(**config.model.kwargs).width, model.__name__) == (64, "WideNet")


def test_user_class_kwargs_are_checked_against_its_signature(stub_registry, tmp_path) -> None:
    write_package(tmp_path, "ttrain_user_pkg_b", USER_MODEL)
    config_path = tmp_path / "c.yaml"
    config_path.write_text("model:\n  name: ttrain_user_pkg_b.models:WideNet\n  widht: 64\ndata: {name: mnist}\n")
    with pytest.raises(ConfigError) as info:
        load_config(config_path)
    rendered = [issue.render() for issue in info.value.issues]
    assert rendered == [f"{config_path}:3: model.widht: unknown key for WideNet; did you mean 'width'?"]


def test_user_module_that_fails_to_import_is_reported_plainly(stub_registry, tmp_path) -> None:
    write_package(tmp_path, "ttrain_user_pkg_c", "raise RuntimeError('broken on purpose')\n")
    config_path = tmp_path / "c.yaml"
    config_path.write_text("model: {name: 'ttrain_user_pkg_c.models:Net'}\ndata: {name: mnist}\n")
    with pytest.raises(ConfigError, match=r"c.yaml:1: model.name: cannot import 'ttrain_user_pkg_c.models:Net': "
                                          r"importing 'ttrain_user_pkg_c.models' failed: RuntimeError: broken on purpose"):
        load_config(config_path)


def test_describe_lists_parameters_and_defaults(stub_registry) -> None:
    infos = {info.name: info for info in describe("optimizers")}
    assert set(infos) == {"sgd", "adam"}
    sgd = infos["sgd"]
    assert sgd.summary == "Stochastic gradient descent."
    assert [p.name for p in sgd.params] == ["lr", "momentum", "dampening", "weight_decay", "nesterov"]
    assert sgd.signature_text().startswith("lr: float (> 0) = 0.001, momentum: float (>= 0) = 0.0")
    linear = next(i for i in describe("layers") if i.name == "linear")
    assert linear.signature_text() == "in_features: int (>= 1) | None = <inferred>, out_features: int (>= 1), bias: bool = True"


def test_describe_reports_a_target_that_cannot_be_imported() -> None:
    registry = Registry("models", "model", Kind("a callable"))
    registry.register("ghost", "no_such_module_xyz:Ghost")
    original = REGISTRIES["models"]
    REGISTRIES["models"] = registry
    try:
        (info,) = describe("models")
    finally:
        REGISTRIES["models"] = original
    assert info.error is not None and "no module named 'no_such_module_xyz'" in info.error


# The real targets: every registered name must import, be of the right kind, and have a signature
# the config layer can read (each parameter type gives a validator).
ALL_NAMES = [(category, name) for category, registry in REGISTRIES.items() for name in registry.names()]


@pytest.mark.parametrize(("category", "name"), ALL_NAMES, ids=[f"{c}:{n}" for c, n in ALL_NAMES])
def test_every_registered_name_resolves(category: str, name: str) -> None:
    from ttrain.config.signature import signature_of

    entry, target = get_registry(category).load(name)
    signature = signature_of(target, entry.supplied)
    for param in signature.params.values():
        assert param.adapter is not None
    # What a class declares inferred is one of its own parameters (a typo would never be filled).
    assert {name for name, p in signature.params.items() if p.inferred} == set(getattr(target, "inferred_args", {})) | (
        {target.total_steps_kwarg} if getattr(target, "needs_total_steps", False) else set())


def test_describe_covers_every_real_category() -> None:
    for category in CATEGORIES:
        infos = describe(category)
        assert infos and all(info.error is None for info in infos), category
