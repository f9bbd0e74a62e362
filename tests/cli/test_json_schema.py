"""Every `--json` output and `summary.json` follows `ttrain/schemas/output.schema.json`: real
outputs of real commands are validated against it, and errors are structured objects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from ttrain.schemas import output_schema
from ttrain.strict_json import SCHEMA_VERSION

from .helpers import SPIRALS

EPOCH = ("--set", "trainer.epochs=1")


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = output_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def printed(result: Any, code: int, validator: jsonschema.Draft202012Validator) -> dict[str, Any]:
    """The one JSON line `result` printed, after checking its exit code and that the schema holds."""
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stdout.count("\n") == 1
    value = json.loads(result.stdout)
    validator.validate(value)
    assert value["schema_version"] == SCHEMA_VERSION
    return value


def test_fit_eval_predict_and_runs_outputs_follow_the_schema(write_config, cli, out_dir: Path, tmp_path: Path,
                                                             validator) -> None:
    fit = printed(cli("fit", write_config(), "--json", "-q", *EPOCH, "--set", f"trainer.output_dir={out_dir}"),
                  0, validator)
    assert (fit["command"], fit["status"]) == ("fit", "ok")
    summary = json.loads((Path(fit["run_dir"]) / "summary.json").read_text())
    validator.validate(summary)
    best = fit["checkpoints"]["best"]
    evaluated = printed(cli("eval", best, "--json"), 0, validator)
    assert evaluated["command"] == "eval" and "test.accuracy" in evaluated["metrics"]
    np.savez(tmp_path / "points.npz", x=np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32))
    predicted = printed(cli("predict", best, tmp_path / "points.npz", "--json"), 0, validator)
    assert predicted["command"] == "predict" and predicted["samples"] == 5
    listed = printed(cli("runs", out_dir, "--json"), 0, validator)
    assert [r["run_dir"] for r in listed["runs"]] == [fit["run_dir"]]
    # and a failed run's outputs
    failed = printed(cli("fit", write_config(), "--json", "-q", "--set", "optimizer.lr=1e30",
                         "--set", f"trainer.output_dir={out_dir}"), 1, validator)
    validator.validate(json.loads((Path(failed["run_dir"]) / "summary.json").read_text()))
    listed = printed(cli("runs", out_dir, "--json"), 0, validator)
    assert [r["status"] for r in listed["runs"]] == ["completed", "failed"]


def test_a_config_error_names_its_file_line_and_key(write_config, cli, validator) -> None:
    config = write_config(SPIRALS.replace("  lr: 0.1", "  lr: -1").replace("  epochs: 2", "  epohcs: 2"))
    report = printed(cli("fit", config, "--json", "--set", "trainer.batch_size=x"), 2, validator)
    assert (report["command"], report["status"], report["exit_code"]) == ("fit", "error", 2)
    error = report["error"]
    text = config.read_text().splitlines()
    lr_line = next(n for n, line in enumerate(text, 1) if "lr: -1" in line)
    assert (error["kind"], error["file"], error["line"], error["key"]) == ("config", str(config), lr_line, "optimizer.lr")
    assert [(i["key"], i["line"]) for i in error["issues"]] == [
        ("optimizer.lr", lr_line), ("trainer.epohcs", lr_line + 7), ("trainer.batch_size", None)]
    assert error["issues"][1]["suggestion"] == "epochs"
    assert error["issues"][2]["location"] == "--set trainer.batch_size=x" and error["issues"][2]["file"] is None
    assert "optimizer.lr: expected a value > 0" in error["message"]
    checked = printed(cli("config", "check", config, "--json", "--set", "trainer.batch_size=x"), 2, validator)
    assert checked["command"] == "config check" and checked["error"] == error


def test_config_check_and_show(write_config, cli, validator) -> None:
    config = write_config()
    checked = printed(cli("config", "check", config, "--json"), 0, validator)
    assert (checked["command"], checked["status"], checked["file"]) == ("config check", "ok", str(config))
    shown = printed(cli("config", "show", config, "--json", "--set", "optimizer.lr=0.5"), 0, validator)
    assert shown["command"] == "config show" and shown["config"]["optimizer"]["lr"] == 0.5


@pytest.mark.parametrize(("args", "kind"), [
    (("eval", "missing.safetensors", "--json"), "checkpoint"),
    (("fit", "{config}", "--json", "--set", "data={name: npz, path: {nan_data}}"), "data"),
    (("eval", "{config}", "--json", "--split", "train"), "usage"),
])
def test_each_kind_of_bad_input_is_a_structured_error(write_config, cli, validator, tmp_path: Path,
                                                      args: tuple[str, ...], kind: str) -> None:
    nan_data = tmp_path / "nan.npz"
    np.savez(nan_data, x=np.full((20, 2), np.nan, np.float32), y=np.zeros(20, np.int64))
    fill = {"{config}": str(write_config())}
    result = cli(*(fill.get(a, a).replace("{nan_data}", str(nan_data)) for a in args))
    report = printed(result, 2, validator)
    assert report["error"]["kind"] == kind, report
    if kind != "usage":  # Click reports a bad option its own way
        assert f"error: {report['error']['message']}" in result.stderr


def test_registry_errors_carry_the_suggestion() -> None:
    from ttrain.config import RegistryError
    from ttrain.error_report import error_report

    report = error_report(RegistryError("unknown model 'mpl'", "mlp"))
    assert (report["kind"], report["suggestion"], report["key"]) == ("registry", "mlp", None)


def test_the_schema_refuses_what_it_does_not_describe(validator) -> None:
    good = {"schema_version": SCHEMA_VERSION, "command": "eval", "status": "error", "exit_code": 2,
            "error": {"kind": "checkpoint", "message": "m", "file": None, "line": None, "key": None}}
    validator.validate(good)
    for bad in ({**good, "error": "m"}, {**good, "schema_version": 0}, {**good, "error": {**good["error"], "kind": "x"}},
                {**good, "status": "ok"}):
        assert not validator.is_valid(bad), bad


def test_expectations_and_compare_outputs_follow_the_schema(write_config, cli, out_dir: Path, validator) -> None:
    run = ("--json", "-q", *EPOCH, "--set", f"trainer.output_dir={out_dir}")
    a = printed(cli("fit", write_config(), *run, "--expect", "test.accuracy>=0"), 0, validator)
    assert [e["passed"] for e in a["expectations"]] == [True]
    b = printed(cli("fit", write_config(), *run, "--set", "optimizer.lr=1e-6", "--expect", "test.accuracy>1.5"),
                3, validator)
    assert [e["passed"] for e in b["expectations"]] == [False]
    evaluated = printed(cli("eval", a["checkpoints"]["last"], "--json", "--expect", "test.loss<1e9"), 0, validator)
    assert evaluated["expectations"][0]["metric"] == "test.loss"
    compared = printed(cli("compare", a["run_dir"], b["run_dir"], "--json", "--tolerance", "1"), 0, validator)
    assert compared["command"] == "compare" and compared["monitor"]["regressed"] is False
    assert {"key": "optimizer.lr", "a": 0.1, "b": 1e-06} in compared["config_changes"]
