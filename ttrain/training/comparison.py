"""Compare two runs or checkpoints: their metrics side by side, the config keys that differ, and
whether B regressed from A on A's monitored metric (`ttrain compare`, a regression gate for CI).

    comparison = compare(read_record("runs/seed/1"), read_record("runs/seed/2"), tolerance=0.005)
    comparison.regressed

A record is read without building anything (no model, no data, no user module imported):

- a run directory: its ``summary.json`` (``final`` metrics, ``config``) when it has one; the parts
  it lacks come from ``config.yaml`` and the last record of ``metrics.jsonl``;
- a checkpoint: the metrics and resolved config in its metadata (``best.safetensors`` holds the
  best epoch's record, ``last.safetensors`` the last one's).

The monitored metric and its mode are A's ``checkpoint.monitor`` and ``checkpoint.mode``. B
regressed when it is worse than A by more than ``tolerance`` (absolute, in the metric's units),
or has no value for the metric at all (a NaN, a failed run). An A without a value is bad input:
there is nothing to hold B to. Unreadable inputs are DataErrors or CheckpointErrors naming the path.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ttrain.data.errors import DataError, file_problem
from ttrain.input_files import DATA, open_input, read_input

SUMMARY, CONFIG, METRICS = "summary.json", "config.yaml", "metrics.jsonl"
_TAIL_BYTES = 1 << 16  # the last metrics record is a few hundred bytes; never read a long history whole


@dataclass(frozen=True)
class RunRecord:
    """What a run or checkpoint says about itself: its final ``metrics`` and resolved ``config``."""

    path: Path
    kind: str  # "run" or "checkpoint"
    metrics: dict[str, Any]
    config: dict[str, Any]

    def setting(self, dotted: str) -> Any:
        """The config's value at a dotted key path (``checkpoint.monitor``), or None."""
        value: Any = self.config
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value


def _read_json(path: Path) -> Any:
    try:
        return json.loads(read_input(path, DATA, file_problem(path)))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise DataError(f"{path}: is damaged: not JSON ({error})") from None


def _last_metrics_record(path: Path) -> dict[str, Any]:
    """The last record of a ``metrics.jsonl`` ({} when the run logged none)."""
    with open_input(path, DATA, file_problem(path)) as (file, size):
        file.seek(max(0, size - _TAIL_BYTES))
        lines = file.read().splitlines()
    if size > _TAIL_BYTES:
        lines = lines[1:]  # the first is likely cut in half
    last = next((line for line in reversed(lines) if line.strip()), None)
    if last is None:
        return {}
    try:
        record = json.loads(last)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{path}: is damaged: its last line is not JSON ({error})") from None
    if not isinstance(record, dict):
        raise DataError(f"{path}: is damaged: its last line is not a JSON object")
    return record


def _read_run(path: Path) -> RunRecord:
    from ttrain.config.loader import load_yaml_file

    if not (path / SUMMARY).exists() and not (path / METRICS).exists():
        raise DataError(f"{path}: is a directory but not a run directory (no {SUMMARY} or {METRICS} in it)")
    summary = _read_json(path / SUMMARY) if (path / SUMMARY).exists() else {}
    if not isinstance(summary, dict):
        raise DataError(f"{path / SUMMARY}: is damaged: not a JSON object")
    metrics, config = summary.get("final"), summary.get("config")
    if not isinstance(metrics, dict):
        metrics = _last_metrics_record(path / METRICS)
    if not isinstance(config, dict):
        config, _ = load_yaml_file(path / CONFIG)  # a ConfigError naming the file if it is missing or bad
        if not isinstance(config, dict):
            raise DataError(f"{path / CONFIG}: is damaged: not a mapping of config sections")
    return RunRecord(path, "run", metrics, config)


def _read_checkpoint(path: Path) -> RunRecord:
    from ttrain.training.checkpoint import CheckpointError, load_checkpoint

    _, metadata = load_checkpoint(path)  # verified, never unpickled; nothing is built from it
    metrics, config = metadata.get("metrics"), metadata["config"]
    if not isinstance(metrics, dict) or not isinstance(config, dict):
        raise CheckpointError(f"{path}: its metadata has no metrics record or config to compare")
    return RunRecord(path, "checkpoint", metrics, config)


def read_record(path: str | Path) -> RunRecord:
    """The record of a run directory or a checkpoint file (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        return _read_run(path)
    if not path.exists():
        raise DataError(f"{path}: no such run directory or checkpoint")
    return _read_checkpoint(path)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested config data as dotted keys: ``{"optimizer": {"lr": 0.1}}`` -> ``{"optimizer.lr": 0.1}``;
    list items are keyed by index (``model.layers.0.linear.out_features``); empty ones stay whole."""
    if isinstance(value, Mapping) and value:
        items = ((str(k), v) for k, v in value.items())
    elif isinstance(value, list) and value:
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in items:
        flat.update(flatten(item, f"{prefix}.{key}" if prefix else key))
    return flat


MISSING = object()  # a key one side's config does not have


@dataclass(frozen=True)
class MetricRow:
    name: str
    a: float | None
    b: float | None

    @property
    def difference(self) -> float | None:
        """B - A, when both are numbers."""
        return None if self.a is None or self.b is None else self.b - self.a


@dataclass(frozen=True)
class ConfigChange:
    key: str
    a: Any  # MISSING when only B has the key
    b: Any  # MISSING when only A has it


@dataclass(frozen=True)
class Comparison:
    """A compared with B: ``metrics`` side by side, the ``config_changes``, and the verdict on the
    ``monitor``: ``worse_by`` (how much worse B is, in the metric's units; negative when better;
    None when B has no value) and ``regressed`` (worse by more than ``tolerance``, or no value)."""

    a: RunRecord
    b: RunRecord
    metrics: list[MetricRow]
    config_changes: list[ConfigChange]
    monitor: str
    mode: str
    tolerance: float
    worse_by: float | None

    @property
    def regressed(self) -> bool:
        if self.worse_by is None:
            return True
        # 0.87 - 0.865 is 0.005000000000000004: a difference equal to the tolerance, as written, passes.
        return self.worse_by > self.tolerance and not math.isclose(self.worse_by, self.tolerance, abs_tol=1e-12)

    @property
    def verdict(self) -> str:
        """One line: how B compares with A on the monitored metric, and whether that is a regression."""
        where = f"{self.monitor} ({self.mode})"
        if self.worse_by is None:
            return f"{where}: B has no value: regression"
        if self.worse_by <= 0:
            how = "the same as A" if self.worse_by == 0 else f"better than A by {-self.worse_by:.6g}"
            return f"{where}: B is {how}: ok"
        within = "over" if self.regressed else "within"
        return (f"{where}: B is worse than A by {self.worse_by:.6g}, {within} the tolerance {self.tolerance:g}: "
                f"{'regression' if self.regressed else 'ok'}")

    def to_json(self) -> dict[str, Any]:
        """JSON data: the paths, the verdict, the metric rows and the config changes (a key one
        side lacks has no ``a`` or ``b``)."""
        monitor = next(row for row in self.metrics if row.name == self.monitor)
        return {
            "a": {"path": str(self.a.path), "kind": self.a.kind},
            "b": {"path": str(self.b.path), "kind": self.b.kind},
            "monitor": {"name": self.monitor, "mode": self.mode, "a": monitor.a, "b": monitor.b,
                        "worse_by": self.worse_by, "tolerance": self.tolerance, "regressed": self.regressed},
            "metrics": [{"name": r.name, "a": r.a, "b": r.b, "difference": r.difference} for r in self.metrics],
            "config_changes": [{"key": c.key, **({"a": c.a} if c.a is not MISSING else {}),
                                **({"b": c.b} if c.b is not MISSING else {})} for c in self.config_changes],
        }


def _number(value: Any) -> float | None:
    """A metric's value as a float; None for a NaN, a null (strict JSON's NaN) or a non-number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def compare(a: RunRecord, b: RunRecord, tolerance: float = 0.005) -> Comparison:
    """Compare B against A (the baseline) on A's monitored metric, with an absolute ``tolerance``."""
    monitor, mode = a.setting("checkpoint.monitor"), a.setting("checkpoint.mode")
    if not isinstance(monitor, str) or mode not in ("min", "max"):
        raise DataError(f"{a.path}: its config has no checkpoint.monitor and mode (min or max) to compare on")
    names = [*a.metrics, *(name for name in b.metrics if name not in a.metrics)]
    if monitor not in names:
        names.append(monitor)
    rows = [MetricRow(n, _number(a.metrics.get(n)), _number(b.metrics.get(n))) for n in names]
    baseline = _number(a.metrics.get(monitor))
    if baseline is None:
        raise DataError(f"{a.path}: has no value for its monitored metric {monitor!r}: nothing to hold B to")
    value = _number(b.metrics.get(monitor))
    worse_by = None if value is None else (baseline - value if mode == "max" else value - baseline)
    flat_a, flat_b = flatten(a.config), flatten(b.config)
    keys = [*flat_a, *(key for key in flat_b if key not in flat_a)]
    changes = [ConfigChange(k, flat_a.get(k, MISSING), flat_b.get(k, MISSING)) for k in keys
               if flat_a.get(k, MISSING) != flat_b.get(k, MISSING)]
    return Comparison(a, b, rows, changes, monitor, mode, tolerance, worse_by)
