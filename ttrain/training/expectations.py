"""Expectations on a run's metrics, for gating CI: ``test.accuracy>=0.96``, ``val.loss < 0.2``.

    expectations = expectations_for(["test.accuracy>=0.96", "val.loss<0.2"], logged_metrics(config))
    ...                                                       # train (a ConfigError above: nothing done)
    results = check_expectations(expectations, summary["final"])
    all(r.passed for r in results)

An expectation is ``<metric> <op> <number>``: the metric a logged name (``val.accuracy``,
``train.loss``, ``test.top_5``), the operator one of ``>= <= > < ==`` (``==`` compares exactly),
whitespace allowed around each. A metric that is NaN or was not recorded never passes. Mistakes
in the text, or a metric the run never logs, are ConfigErrors at the key ``--expect``: bad input,
found before any work starts.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from ttrain.config.errors import ConfigError, ConfigIssue, did_you_mean

OPTION = "--expect"  # where the errors say the mistake is
# Two-character operators first, so that ">=" is not read as ">" followed by "=0.9".
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, ">": operator.gt, "<": operator.lt,
}
_EXPECTATION = re.compile(r"\s*(?P<metric>[^\s<>=!]+)\s*(?P<op>>=|<=|==|>|<)\s*(?P<threshold>\S+)\s*")


@dataclass(frozen=True)
class Expectation:
    """``metric op threshold``, as parsed from ``text`` (the user's own words, for messages)."""

    metric: str
    op: str
    threshold: float
    text: str

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.threshold!r}"

    def holds_for(self, value: float) -> bool:
        """Whether ``value`` meets the expectation (never for NaN, whatever the operator)."""
        return not math.isnan(value) and OPERATORS[self.op](value, self.threshold)


@dataclass(frozen=True)
class ExpectationResult:
    """One expectation checked: the value found (None when the metric was not recorded), and a
    one-line ``message`` such as ``test.accuracy>=0.96: 0.9723 ok``."""

    expectation: Expectation
    actual: float | None
    passed: bool

    @property
    def message(self) -> str:
        found = "not recorded" if self.actual is None else f"{self.actual:.6g}"
        return f"{self.expectation}: {found} {'ok' if self.passed else 'FAILED'}"

    def to_json(self) -> dict[str, Any]:
        """The result as JSON data: ``expectation``, ``metric``, ``op``, ``threshold``, ``actual``, ``passed``."""
        e = self.expectation
        return {"expectation": str(e), "metric": e.metric, "op": e.op, "threshold": e.threshold,
                "actual": self.actual, "passed": self.passed}


def _bad(text: str, problem: str, suggestion: str | None = None) -> ConfigError:
    return ConfigError(ConfigIssue(OPTION, f"{text!r}: {problem}", suggestion=suggestion))


def parse_expectation(text: str) -> Expectation:
    """``"test.accuracy>=0.96"`` -> ``Expectation("test.accuracy", ">=", 0.96, text)``; a
    malformed one is a ConfigError naming the text."""
    match = _EXPECTATION.fullmatch(text)
    if match is None:
        swapped = text.replace("=>", ">=").replace("=<", "<=")  # the common slip
        raise _bad(text, f"expected METRIC OP NUMBER, e.g. 'test.accuracy>=0.96', with OP one of "
                         f"{' '.join(OPERATORS)}",
                   swapped.strip() if swapped != text and _EXPECTATION.fullmatch(swapped) else None)
    try:
        threshold = float(match["threshold"])
    except ValueError:
        raise _bad(text, f"{match['threshold']!r} is not a number") from None
    if math.isnan(threshold):
        raise _bad(text, "the threshold is NaN, which no value meets")
    return Expectation(match["metric"], match["op"], threshold, text)


def parse_expectations(texts: Iterable[str]) -> list[Expectation]:
    """Each of ``texts`` parsed (see ``parse_expectation``)."""
    return [parse_expectation(text) for text in texts]


def require_logged(expectations: Sequence[Expectation], logged: Sequence[str], by: str = "") -> None:
    """Raise a ConfigError, one issue per expectation whose metric is not in ``logged``, with the
    closest logged name; ``by`` names what logs them (`` by `ttrain eval --split test```)."""
    issues = [
        ConfigIssue(OPTION, f"{e.text!r}: {e.metric!r} is never logged{by}; logged metrics: {', '.join(logged)}",
                    suggestion=did_you_mean(e.metric, logged))
        for e in expectations if e.metric not in logged
    ]
    if issues:
        raise ConfigError(issues)


def expectations_for(texts: Iterable[str], logged: Sequence[str], by: str = "") -> list[Expectation]:
    """``texts`` parsed, each naming one of the ``logged`` metrics (see ``require_logged``): what a
    command checks before it starts its work."""
    expectations = parse_expectations(texts)
    require_logged(expectations, logged, by)
    return expectations


def add_results(report: dict[str, Any], expectations: Sequence[Expectation],
                metrics: Mapping[str, Any]) -> list[ExpectationResult]:
    """Check ``expectations`` against ``metrics`` and, when there are any, list the results in
    ``report`` (a command's JSON summary) under ``expectations``."""
    results = check_expectations(expectations, metrics)
    if results:
        report["expectations"] = [result.to_json() for result in results]
    return results


def check_expectations(expectations: Iterable[Expectation], metrics: Mapping[str, Any]) -> list[ExpectationResult]:
    """Check every expectation against ``metrics`` (a run's record: name -> number; a missing
    name or a None, as strict JSON writes NaN, is not recorded and fails)."""
    results = []
    for expectation in expectations:
        value = metrics.get(expectation.metric)
        actual = None if value is None else float(value)
        results.append(ExpectationResult(expectation, actual, actual is not None and expectation.holds_for(actual)))
    return results


def logged_by_checkpoint(path: str | Path, split: str, trust_modules: Sequence[str] = ()) -> list[str]:
    """The metrics ``ttrain eval`` logs for a checkpoint on ``split`` (``test.loss``, ...), from
    the config it embeds, validated as ``ttrain eval`` validates it (see ``trust_modules`` there)."""
    from ttrain.config import config_from_dict, logged_metrics
    from ttrain.training.checkpoint import load_checkpoint

    _, metadata = load_checkpoint(path)
    config = config_from_dict(metadata["config"], where=f"{path} (embedded config)", trusted=frozenset(trust_modules))
    return [name for name in logged_metrics(config) if name.startswith(f"{split}.")]
