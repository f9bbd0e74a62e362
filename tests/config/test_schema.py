"""The validated Config: defaults, derived values, path resolution, dumping and the JSON Schema."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from ttrain.config import (
    ComponentSpec,
    ConfigError,
    build,
    build_metric,
    build_scheduler,
    config_from_dict,
    config_json_schema,
    config_to_dict,
    dump_config,
    load_config,
    validate_config,
)
from ttrain.config import builders

from . import conftest
from .conftest import MINIMAL


def test_defaults_fill_every_section(stub_registry, write_config) -> None:
    config, _ = load_config(write_config(MINIMAL, "my-exp.yaml"))
    assert config.name == "my-exp"  # named after the file
    assert config.seed == 0
    assert config.loss.name == "cross_entropy" and config.optimizer.name == "adam"
    assert config.scheduler is None
    trainer = config.trainer
    assert (trainer.epochs, trainer.batch_size, trainer.eval_batch_size) == (10, 32, 256)
    assert trainer.val_split == 0.0 and trainer.grad_clip is None and trainer.early_stopping is None
    assert [m.name for m in trainer.metrics] == ["accuracy"]
    # Without validation data the monitored metric defaults to the training loss.
    assert (config.checkpoint.monitor, config.checkpoint.mode) == ("train.loss", "min")
    assert config.checkpoint.save_last and config.checkpoint.save_best


def test_derived_defaults_follow_the_other_sections(stub_registry, write_config) -> None:
    text = MINIMAL + """\
trainer:
  val_split: 0.1
  early_stopping: {patience: 2}
  metrics: [accuracy, {top_k: {k: 3}}]
checkpoint:
  monitor: val.top_3
scheduler:
  name: onecycle
  max_lr: 0.1
"""
    config, _ = load_config(write_config(text))
    assert config.checkpoint.mode == "max"
    assert (config.trainer.early_stopping.monitor, config.trainer.early_stopping.mode) == ("val.loss", "min")
    assert config.scheduler.interval == "step"  # onecycle steps per batch by default
    assert config.trainer.metrics[1].kwargs == {"k": 3}


def test_empty_trainer_section_means_defaults(stub_registry, write_config) -> None:
    config, _ = load_config(write_config(MINIMAL + "trainer:\ncheckpoint:\n"))
    assert config.trainer.epochs == 10


def test_kwargs_are_coerced_by_the_signature(stub_registry, write_config) -> None:
    text = "model: {name: mlp, hidden: [64]}\ndata: {name: mnist}\noptimizer: {name: adam, lr: 1, betas: [0.8, 0.9]}\n"
    config, _ = load_config(write_config(text))
    assert config.optimizer.kwargs == {"lr": 1.0, "betas": (0.8, 0.9)}
    assert isinstance(config.optimizer.kwargs["lr"], float)
    assert config.model.kwargs == {"hidden": [64]}


def test_layers_list_forms(stub_registry, write_config) -> None:
    text = """\
model:
  layers:
    - linear: {out_features: 32}
    - relu
    - {name: dropout, p: 0.2}
    - linear: {in_features: 32, out_features: 10}
data: {name: mnist}
"""
    config, _ = load_config(write_config(text))
    layers = config.model.layers
    assert [(l.name, l.kwargs) for l in layers] == [
        ("linear", {"out_features": 32}), ("relu", {}), ("dropout", {"p": 0.2}),
        ("linear", {"in_features": 32, "out_features": 10})]


def test_relative_paths_resolve_against_the_config_folder_not_the_cwd(stub_registry, tmp_path, monkeypatch) -> None:
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "c.yaml").write_text(
        "model: {name: mlp}\ndata: {name: npz, path: data/train.npz, test_path: ~/t.npz}\ntrainer: {output_dir: out}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config, _ = load_config(Path("..") / "experiments" / "c.yaml")
    assert config.data.kwargs["path"] == str(folder.resolve() / "data" / "train.npz")
    assert config.data.kwargs["test_path"] == str(Path("~/t.npz").expanduser())
    assert config.trainer.output_dir == folder.resolve() / "out"
    assert Path.cwd() == elsewhere  # nothing changed the working directory


def test_paths_from_overrides_and_defaults_resolve_against_the_cwd(stub_registry, tmp_path, monkeypatch) -> None:
    (tmp_path / "cfg").mkdir()
    path = tmp_path / "cfg" / "c.yaml"
    path.write_text("model: {name: mlp}\ndata: {name: npz, path: a.npz}\n")
    monkeypatch.chdir(tmp_path)
    config, _ = load_config(path, ["data.path=b.npz"])
    assert config.data.kwargs["path"] == str(tmp_path / "b.npz")
    assert config.trainer.output_dir == tmp_path / "runs"


def test_dump_is_yaml_that_loads_back_to_the_same_config(stub_registry, write_config, tmp_path) -> None:
    text = """\
name: demo
model:
  layers: [{linear: {out_features: 16}}, relu, {linear: {out_features: 10}}]
data: {name: mnist, one_hot: true}
optimizer: {name: adam, lr: 1e-3, betas: [0.8, 0.9]}
scheduler: {name: step, step_size: 2, warmup: {iters: 1}}
trainer: {epochs: 2, val_split: 0.2, metrics: [accuracy, {top_k: {k: 2}}], early_stopping: {}}
"""
    config, _ = load_config(write_config(text))
    dumped = dump_config(config)
    assert "!!python" not in dumped and "pydantic" not in dumped
    data = yaml.safe_load(dumped)
    assert data["model"]["layers"] == [{"linear": {"out_features": 16}}, "relu", {"linear": {"out_features": 10}}]
    assert data["optimizer"] == {"name": "adam", "lr": 0.001, "betas": [0.8, 0.9]}
    again, _ = load_config(write_config(dumped, "again/config.yaml"))
    assert config_to_dict(again) == config_to_dict(config)


def test_config_round_trips_through_json(stub_registry, write_config) -> None:
    config, _ = load_config(write_config(MINIMAL + "trainer: {val_split: 0.1}\n"))
    data = json.loads(json.dumps(config_to_dict(config)))
    assert config_to_dict(config_from_dict(data)) == data


def test_config_from_dict_errors_name_the_source(stub_registry) -> None:
    with pytest.raises(ConfigError, match=r"^<embedded config>: model: missing required value"):
        config_from_dict({"data": {"name": "mnist"}})


def test_validate_config_accepts_plain_data(stub_registry) -> None:
    config = validate_config({"model": {"name": "seed_net"}, "data": {"name": "mnist"}}, default_name="x")
    assert config.name == "x" and config.model.name == "seed_net"


def test_many_problems_are_capped_to_a_few_lines(stub_registry) -> None:
    data = {"model": {"name": "mlp"}, "data": {"name": "mnist"}, "trainer": {f"bogus{i}": i for i in range(20)}}
    with pytest.raises(ConfigError) as info:
        validate_config(data)
    lines = str(info.value).splitlines()
    assert len(lines) == 12 and lines[-1].strip() == "... and 10 more problems"


def test_build_calls_targets_with_supplied_arguments(stub_registry, write_config) -> None:
    text = MINIMAL + "optimizer: {name: sgd, lr: 0.5}\nscheduler: {name: step, step_size: 3, warmup: {iters: 2, start_factor: 0.5}}\n"
    config, _ = load_config(write_config(text))
    optimizer = build("optimizers", config.optimizer, ["p"])
    assert (optimizer.params, optimizer.lr) == (["p"], 0.5)
    model = build("models", config.model)
    assert model.hidden == (512, 256)


def test_build_scheduler_composes_warmup(stub_registry, write_config, monkeypatch) -> None:
    monkeypatch.setattr(builders, "SEQUENTIAL_LR", f"{conftest.__name__}:SequentialLR")
    text = MINIMAL + "scheduler: {name: step, step_size: 3, warmup: {iters: 2, start_factor: 0.5}}\n"
    config, _ = load_config(write_config(text))
    scheduler = build_scheduler(config.scheduler, "opt")
    assert isinstance(scheduler, conftest.SequentialLR)
    warmup, main = scheduler.schedulers
    assert (warmup.start_factor, warmup.total_iters) == (0.5, 2)
    assert main.step_size == 3 and scheduler.milestones == [2]
    config.scheduler.warmup = None
    assert isinstance(build_scheduler(config.scheduler, "opt"), conftest.StepLR)


def test_build_metric_binds_its_arguments(stub_registry) -> None:
    assert build_metric(ComponentSpec(name="top_k", k=3))(None, None) == 3.0
    assert build_metric(ComponentSpec(name="accuracy"))(None, None) == 1.0


def test_json_schema_describes_sections_and_registered_arguments(stub_registry) -> None:
    schema = config_json_schema()
    json.dumps(schema)  # plain JSON
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["properties"]) >= {"name", "seed", "model", "data", "loss", "optimizer", "scheduler", "trainer", "checkpoint"}
    assert set(schema["required"]) == {"model", "data"}
    sgd = next(b for b in schema["properties"]["optimizer"]["anyOf"] if b["properties"]["name"].get("const") == "sgd")
    assert sgd["properties"]["lr"] == {"default": 0.001, "exclusiveMinimum": 0, "type": "number"}
    assert "params" not in sgd["properties"] and sgd["additionalProperties"] is False
    step = next(b for b in schema["properties"]["scheduler"]["anyOf"] if b.get("properties", {}).get("name", {}).get("const") == "step")
    assert "step_size" in step["required"] and "warmup" in step["properties"]
    trainer = schema["$defs"]["TrainerConfig"]["properties"]
    assert trainer["batch_size"]["minimum"] == 1
    layer_items = schema["properties"]["model"]["anyOf"][-1]["properties"]["layers"]["items"]["anyOf"]
    assert layer_items[0] == {"enum": ["dropout", "linear", "relu"]}


def test_the_schema_validates_a_good_config(stub_registry) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    config = {"model": {"layers": [{"linear": {"out_features": 10}}, "relu"]}, "data": {"name": "mnist"},
              "optimizer": {"name": "sgd", "lr": 0.1}, "trainer": {"epochs": 2}}
    jsonschema.validate(config, config_json_schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**config, "optimizer": {"name": "sgd", "lr": -1}}, config_json_schema())


def test_nothing_changes_the_working_directory(stub_registry, write_config) -> None:
    before = os.getcwd()
    load_config(write_config(MINIMAL))
    assert os.getcwd() == before


def test_top_k_is_logged_under_its_k(stub_registry, write_config) -> None:
    from ttrain.config.validate import logged_metrics

    config, _ = load_config(write_config(MINIMAL + "trainer: {metrics: [top_k, {top_k: {k: 2}}], val_split: 0.5}\n"))
    assert logged_metrics(config) == [
        f"{split}.{name}" for split in ("train", "val", "test") for name in ("loss", "top_5", "top_2")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("optimizer: {name: adam, betas: [0.9, .inf]}", "optimizer.betas.1: expected a finite number, found inf"),
        ("optimizer: {name: sgd, nesterov: 1}", "optimizer.nesterov: expected true or false, found 1"),
        ("model: {name: mlp, hidden: [64, true]}", "model.hidden.1: expected an integer, found True"),
        ("trainer: {early_stopping: {min_delta: .nan}}", "trainer.early_stopping.min_delta: expected a finite number"),
        ("checkpoint: {save_last: 0}", "checkpoint.save_last: expected true or false, found 0"),
    ],
)
def test_values_are_strict_and_finite_everywhere(stub_registry, write_config, text, message) -> None:
    base = "model: {name: mlp}\ndata: {name: mnist}\n"
    if text.startswith("model:"):
        base = "data: {name: mnist}\n"
    with pytest.raises(ConfigError) as info:
        load_config(write_config(base + text + "\n"))
    assert message in str(info.value)


def test_strict_annotation_keeps_natural_yaml_types() -> None:
    from typing import Any, Optional

    from pydantic import TypeAdapter, ValidationError

    from ttrain.config.signature import strict_annotation

    assert TypeAdapter(strict_annotation(Optional[tuple[float, ...]])).validate_python([1, 0.5]) == (1.0, 0.5)
    assert TypeAdapter(strict_annotation(dict[str, list[int]])).validate_python({"a": [1, 2]}) == {"a": [1, 2]}
    nested_inf = TypeAdapter(strict_annotation(Any))
    assert nested_inf.validate_python({"a": [1, "x"]}) == {"a": [1, "x"]}
    with pytest.raises(ValidationError, match="finite"):
        nested_inf.validate_python({"a": [1.0, float("nan")]})
