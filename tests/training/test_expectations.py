"""Parsing and checking `--expect` expectations (the CLI tests run them end to end)."""

from __future__ import annotations

import math

import pytest

from ttrain.config import ConfigError
from ttrain.training.expectations import (
    OPERATORS, Expectation, check_expectations, parse_expectation, require_logged)


@pytest.mark.parametrize("text, parsed", [
    ("test.accuracy>=0.96", ("test.accuracy", ">=", 0.96)),
    ("  val.loss <  0.2 ", ("val.loss", "<", 0.2)),
    ("test.top_5>0.5", ("test.top_5", ">", 0.5)),
    ("train.loss<=1e-3", ("train.loss", "<=", 1e-3)),
    ("val.accuracy==1", ("val.accuracy", "==", 1.0)),
])
def test_parse(text: str, parsed: tuple) -> None:
    expectation = parse_expectation(text)
    assert (expectation.metric, expectation.op, expectation.threshold) == parsed
    assert expectation.text == text


@pytest.mark.parametrize("op, value, passes", [
    (">=", 0.5, True), (">=", 0.4999, False), (">", 0.5, False), ("<=", 0.5, True), ("<", 0.5, False),
    ("==", 0.5, True), ("==", 0.5000001, False),
])
def test_operators_at_the_threshold(op: str, value: float, passes: bool) -> None:
    (result,) = check_expectations([parse_expectation(f"val.accuracy{op}0.5")], {"val.accuracy": value})
    assert result.passed is passes and result.actual == value
    assert result.message == f"val.accuracy{op}0.5: {value:.6g} {'ok' if passes else 'FAILED'}"


@pytest.mark.parametrize("op", OPERATORS)
def test_nan_and_missing_values_never_pass(op: str) -> None:
    expectations = [parse_expectation(f"val.loss{op}0")]
    for metrics in ({"val.loss": math.nan}, {"val.loss": None}, {}):
        (result,) = check_expectations(expectations, metrics)
        assert not result.passed
    assert check_expectations(expectations, {})[0].message == f"val.loss{op}0.0: not recorded FAILED"


def test_require_logged_reports_each_unknown_metric_with_the_closest_name() -> None:
    expectations = [parse_expectation(t) for t in ("test.acc>=1", "val.loss<1", "trian.loss<1")]
    with pytest.raises(ConfigError) as caught:
        require_logged(expectations, ["train.loss", "val.loss", "test.loss", "test.accuracy"])
    assert [(i.path, i.suggestion) for i in caught.value.issues] == [
        ("--expect", "test.accuracy"), ("--expect", "train.loss")]
    require_logged([Expectation("val.loss", "<", 1.0, "val.loss<1")], ["val.loss"])  # no error
