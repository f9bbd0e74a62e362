"""Sorting and filtering run records (`ttrain runs --sort KEY --filter EXPR`).

A KEY names one value of a record (see `field`):

    status, name, run_dir, seconds, train_seconds, started_at, finished_at, epochs, global_step
    run, time                 the table's names for run_dir and seconds
    best                      the monitored metric's best value
    val.accuracy, train.loss  a metric: its value at the best epoch (the last one if none is best)
    final.val.loss            a metric at the last epoch
    optimizer.lr, seed        a key of the resolved config (`config.optimizer.lr` says so explicitly)

A filter is `KEY OP VALUE`, OP one of `=  !=  <  <=  >  >=  ~` (`~`: the value, a regular
expression, is found in the key's text). Numbers compare as numbers, text as text (ISO times
compare in time order: `started_at>2026-12-01`). A run without the key matches only `!=`.
"""

from __future__ import annotations

import json
import math
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from ttrain.config.errors import did_you_mean

COLUMNS = ("status", "name", "run_dir", "seconds", "train_seconds", "started_at", "finished_at", "epochs",
           "global_step", "best", "run", "time")
_ALIASES = {"run": "run_dir", "time": "seconds"}  # the table's headers
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le, ">=": operator.ge, "!=": operator.ne, "=": operator.eq, "<": operator.lt, ">": operator.gt,
}
_FILTER = re.compile(r"^\s*(?P<key>[^<>=!~\s]+)\s*(?P<op><=|>=|!=|=|<|>|~)\s*(?P<value>[^<>=!~\s].*?)\s*$")


class QueryError(ValueError):
    """A `--sort` key or `--filter` expression that cannot be used; the message says why."""


def field(record: dict[str, Any], key: str) -> Any:
    """The value `key` names in `record` (see the module docstring), or None if it has none."""
    if key == "best":
        return (record.get("best") or {}).get("value")
    if key in COLUMNS:
        return record.get(_ALIASES.get(key, key))
    if key.startswith("final."):
        return (record.get("final") or {}).get(key.removeprefix("final."))
    if key.startswith("config."):
        return _config_value(record, key.removeprefix("config."))
    metrics = (record.get("best") or {}).get("metrics") or record.get("final") or {}
    if key in metrics:
        return metrics[key]
    return _config_value(record, key)


def _config_value(record: dict[str, Any], path: str) -> Any:
    value: Any = record.get("config")
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


@dataclass(frozen=True)
class RunFilter:
    """One parsed `--filter KEY OP VALUE`."""

    key: str
    op: str
    value: str

    @classmethod
    def parse(cls, text: str) -> "RunFilter":
        """The filter `text` writes; a QueryError for one that does not follow the grammar."""
        match = _FILTER.match(text)
        if match is None:
            raise QueryError(f"cannot read the filter {text!r}: expected KEY OP VALUE, OP one of "
                             "= != < <= > >= ~ (e.g. status=completed, optimizer.lr<0.01, name~mlp)")
        if match["op"] == "~":
            try:
                re.compile(match["value"])
            except re.error as error:
                raise QueryError(f"filter {text!r}: {match['value']!r} is not a regular expression ({error})") from None
        return cls(match["key"], match["op"], match["value"])

    def matches(self, record: dict[str, Any]) -> bool:
        """Whether `record` passes this filter."""
        actual = field(record, self.key)
        if actual is None:
            return self.op == "!="
        if self.op == "~":
            return re.search(self.value, _text(actual)) is not None
        wanted = _number(self.value)
        if _is_number(actual) and wanted is not None:
            return _OPERATORS[self.op](float(actual), wanted)
        if self.op in ("=", "!="):
            return _OPERATORS[self.op](_text(actual), self.value)
        return isinstance(actual, str) and _OPERATORS[self.op](actual, self.value)


def select(
    records: Sequence[dict[str, Any]], filters: Iterable[str] = (), sort: str | None = None
) -> list[dict[str, Any]]:
    """The records that pass every filter (AND), ordered by `sort` (`KEY`, or `-KEY` descending;
    runs without the key last). A key no run has is a QueryError, with the closest known key."""
    parsed = [RunFilter.parse(text) for text in filters]
    for rule in parsed:
        _check_known(records, rule.key)
    chosen = [r for r in records if all(rule.matches(r) for rule in parsed)]
    if sort is None:
        return chosen
    key, descending = sort.removeprefix("-"), sort.startswith("-")
    _check_known(records, key)
    present = [r for r in chosen if field(r, key) is not None]
    missing = [r for r in chosen if field(r, key) is None]
    present.sort(key=lambda r: _sort_key(field(r, key)), reverse=descending)
    return present + missing


def _check_known(records: Sequence[dict[str, Any]], key: str) -> None:
    if not records or any(field(r, key) is not None for r in records) or key in COLUMNS:
        return
    known = {*COLUMNS, *(k for r in records for k in ((r.get("best") or {}).get("metrics") or r.get("final") or {}))}
    hint = did_you_mean(key, known)
    raise QueryError(f"no run has {key!r}" + (f"; did you mean {hint!r}?" if hint else "")
                     + " (keys: the columns, a metric, or a config key such as optimizer.lr)")


def _sort_key(value: Any) -> tuple[int, Any]:
    # Numbers before text, so a column mixing both still sorts (NaN is not comparable: last).
    if _is_number(value):
        return (0, float(value)) if not math.isnan(float(value)) else (2, 0.0)
    return (1, _text(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _text(value: Any) -> str:
    """A value as a filter compares it: strings as they are, anything else as JSON (`true`, `[64]`)."""
    return value if isinstance(value, str) else json.dumps(value)
