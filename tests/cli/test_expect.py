"""`--expect` on `ttrain fit` and `ttrain eval`: every expectation reported, exit 3 for a worse
model (the run itself complete), exit 2 for a mistake before any work is done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ttrain.cli.errors import EXIT_BAD_INPUT, EXIT_EXPECTATION_FAILED

from .helpers import assert_fails


@pytest.fixture
def spirals(write_config) -> Path:
    return write_config()


def fit(cli, config: Path, out_dir: Path, *args: str):
    return cli("fit", config, "--set", f"trainer.output_dir={out_dir}", "--set", "trainer.epochs=1", *args)


def test_met_expectations_exit_0_and_are_reported_in_the_json(cli, spirals, out_dir) -> None:
    result = fit(cli, spirals, out_dir, "--json", "--expect", "test.accuracy>=0", "--expect", " val.loss < 1e9 ")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    final = summary["final"]
    assert summary["expectations"] == [
        {"expectation": "test.accuracy>=0.0", "metric": "test.accuracy", "op": ">=", "threshold": 0.0,
         "actual": final["test.accuracy"], "passed": True},
        {"expectation": "val.loss<1000000000.0", "metric": "val.loss", "op": "<", "threshold": 1e9,
         "actual": final["val.loss"], "passed": True},
    ]
    # Beside --json, the lines go to stderr: stdout holds the JSON object alone.
    assert f"expect test.accuracy>=0.0: {final['test.accuracy']:.6g} ok" in result.stderr.splitlines()


def test_an_unmet_expectation_exits_3_after_a_complete_run(cli, spirals, out_dir) -> None:
    result = fit(cli, spirals, out_dir, "--json", "--expect", "test.accuracy>1", "--expect", "train.loss>=0")
    assert result.exit_code == EXIT_EXPECTATION_FAILED, result.stderr
    assert "Traceback" not in result.stderr
    summary = json.loads(result.stdout)  # the run's summary still, with what was checked
    assert [e["passed"] for e in summary["expectations"]] == [False, True]  # every one is checked
    assert "expect test.accuracy>1.0: " in result.stderr and "FAILED" in result.stderr
    assert "expect train.loss>=0.0: " in result.stderr
    run = Path(summary["run_dir"])
    assert (run / "metrics.jsonl").is_file()
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"last.safetensors", "best.safetensors"}


def test_expectations_are_printed_on_stdout_without_json(cli, spirals, out_dir) -> None:
    result = fit(cli, spirals, out_dir, "--quiet", "--expect", "test.accuracy<=1")
    assert result.exit_code == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert line.startswith("expect test.accuracy<=1.0: ") and line.endswith(" ok")


def test_a_metric_of_the_configs_own_metrics_list_can_be_expected(cli, spirals, out_dir) -> None:
    # top_k with k=2 logs `top_2`; on two classes it is always 1.
    result = fit(cli, spirals, out_dir, "--set", "trainer.metrics=[accuracy, {top_k: {k: 2}}]",
                 "--expect", "val.top_2==1", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["expectations"][0]["actual"] == 1.0


def test_an_unknown_metric_is_bad_input_before_training(cli, spirals, out_dir) -> None:
    result = fit(cli, spirals, out_dir, "--expect", "test.acuracy>=0.9", "--expect", "val.loss<1")
    assert_fails(result, EXIT_BAD_INPUT, "--expect", "'test.acuracy' is never logged", "did you mean 'test.accuracy'?")
    assert not out_dir.exists()  # no run directory: nothing was trained


def test_a_val_metric_without_validation_data_is_bad_input(cli, spirals, out_dir) -> None:
    result = fit(cli, spirals, out_dir, "--set", "trainer.val_split=0", "--expect", "val.accuracy>=0.5")
    assert_fails(result, EXIT_BAD_INPUT, "'val.accuracy' is never logged", "logged metrics: train.loss")
    assert not out_dir.exists()


@pytest.mark.parametrize("text, problem", [
    ("test.accuracy=>0.9", "with OP one of >= <= == > <; did you mean 'test.accuracy>=0.9'?"),
    ("test.accuracy 0.9", "expected METRIC OP NUMBER"),
    (">=0.9", "expected METRIC OP NUMBER"),
    ("test.accuracy>=high", "'high' is not a number"),
    ("test.accuracy>=nan", "NaN"),
])
def test_a_malformed_expectation_is_bad_input_naming_it(cli, spirals, out_dir, text: str, problem: str) -> None:
    result = fit(cli, spirals, out_dir, "--expect", text)
    assert_fails(result, EXIT_BAD_INPUT, f"--expect: {text!r}", problem)
    assert not out_dir.exists()


def test_a_real_process_exits_3_for_an_unmet_expectation(spirals, out_dir, ttrain_process) -> None:
    done = ttrain_process("fit", spirals, "--set", f"trainer.output_dir={out_dir}", "--set", "trainer.epochs=1",
                          "--quiet", "--expect", "test.loss<0")
    assert done.returncode == EXIT_EXPECTATION_FAILED, done.stderr
    assert done.stdout.startswith("expect test.loss<0.0: ") and done.stdout.rstrip().endswith("FAILED")


def test_a_bad_expectation_with_json_is_a_json_error(cli, spirals, out_dir) -> None:
    result = fit(cli, spirals, out_dir, "--json", "--expect", "loss<1")
    assert result.exit_code == EXIT_BAD_INPUT
    error = json.loads(result.stdout)
    assert error["exit_code"] == EXIT_BAD_INPUT and "'loss' is never logged" in json.dumps(error)


# ---- ttrain eval -----------------------------------------------------------------------------
@pytest.fixture
def best(cli, spirals, out_dir) -> Path:
    result = fit(cli, spirals, out_dir, "--json")
    assert result.exit_code == 0, result.stderr
    return Path(json.loads(result.stdout)["checkpoints"]["best"])


def test_eval_checks_expectations_on_the_split_it_evaluates(cli, best) -> None:
    met = cli("eval", best, "--split", "val", "--json", "--expect", "val.accuracy>=0", "--expect", "val.loss>0")
    assert met.exit_code == 0, met.stderr
    report = json.loads(met.stdout)
    assert [(e["metric"], e["actual"], e["passed"]) for e in report["expectations"]] == [
        ("val.accuracy", report["metrics"]["val.accuracy"], True), ("val.loss", report["metrics"]["val.loss"], True)]

    unmet = cli("eval", best, "--expect", "test.loss<0")
    assert unmet.exit_code == EXIT_EXPECTATION_FAILED, unmet.stderr
    lines = unmet.stdout.splitlines()
    assert lines[0].startswith(f"{best} (epoch 1) on 128 test samples:")
    assert lines[1].startswith("expect test.loss<0.0: ") and lines[1].endswith(" FAILED")


def test_eval_refuses_a_metric_of_another_split(cli, best) -> None:
    result = cli("eval", best, "--expect", "val.accuracy>0.5")
    assert_fails(result, EXIT_BAD_INPUT, "never logged by `ttrain eval --split test`", "did you mean 'test.accuracy'?")


# ---- the same from Python ----------------------------------------------------------------------
def test_the_api_lists_the_results_in_what_it_returns(spirals, out_dir) -> None:
    import ttrain

    summary = ttrain.fit(spirals, ["trainer.epochs=1"], output_dir=out_dir, expect=["test.accuracy>1", "val.loss>=0"])
    assert [(e["expectation"], e["passed"]) for e in summary["expectations"]] == [
        ("test.accuracy>1.0", False), ("val.loss>=0.0", True)]
    report = ttrain.evaluate(summary["checkpoints"]["best"], "val", expect="val.accuracy<=1")
    assert report["expectations"][0]["actual"] == report["metrics"]["val.accuracy"]
    assert "expectations" not in ttrain.evaluate(summary["checkpoints"]["best"])


def test_the_api_refuses_an_unknown_metric_before_training(spirals, out_dir) -> None:
    import ttrain
    from ttrain.config import ConfigError

    with pytest.raises(ConfigError, match="did you mean 'val.loss'"):
        ttrain.fit(spirals, output_dir=out_dir, expect="val.los<1")
    assert not out_dir.exists()
