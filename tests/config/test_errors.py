"""How config problems read: one plain line each, a heading when there are several."""

from __future__ import annotations

import pytest

from ttrain.config.errors import ConfigError, ConfigIssue, did_you_mean, format_path


def test_one_issue_is_one_line() -> None:
    issue = ConfigIssue("optimizer.wieght_decay", "unknown key", "c.yaml:7", "weight_decay")
    assert str(ConfigError(issue)) == "c.yaml:7: optimizer.wieght_decay: unknown key; did you mean 'weight_decay'?"


def test_several_issues_get_a_heading() -> None:
    error = ConfigError([ConfigIssue("a", "bad", "c.yaml:1"), ConfigIssue("b", "worse", "c.yaml:2")], "c.yaml")
    assert str(error).splitlines() == ["config error in c.yaml (2 problems):", "  c.yaml:1: a: bad", "  c.yaml:2: b: worse"]


def test_a_config_error_is_a_value_error_with_its_issues() -> None:
    error = ConfigError(ConfigIssue("", "no such config file", "x.yaml"))
    assert isinstance(error, ValueError) and str(error) == "x.yaml: no such config file"
    with pytest.raises(ValueError):
        ConfigError([])


def test_did_you_mean_and_paths() -> None:
    assert did_you_mean("wieght_decay", ["lr", "weight_decay", "momentum"]) == "weight_decay"
    assert did_you_mean("zzz", ["lr", "momentum"]) is None
    assert format_path(("model", "layers", 2, "linear")) == "model.layers.2.linear"
