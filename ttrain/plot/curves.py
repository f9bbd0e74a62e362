"""The curves `ttrain plot` draws: each run's per-epoch metrics, a label that tells the runs
apart, and the panels (one metric each, its splits as line styles) they are drawn in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ttrain.config.errors import did_you_mean
from ttrain.data.errors import DataError

SPLITS = ("train", "val", "test")
# Logged every epoch but not a learning curve: the timing columns.
_NOT_CURVES = ("seconds", "samples_per_sec")
# Config keys that differ between any two runs without telling them apart as experiments.
_NOT_SETTINGS = ("trainer.output_dir", "name")
_MOST_KEYS_IN_LABEL = 3


@dataclass(frozen=True)
class RunCurves:
    """One run's per-epoch metrics (`metrics.jsonl`) and the label its lines carry."""

    label: str
    run_dir: Path
    history: list[dict[str, Any]]

    def series(self, metric: str) -> tuple[list[int], list[float]]:
        """The epochs that logged `metric` and its values there (a null, i.e. NaN, is left out)."""
        points = [(row["epoch"], row[metric]) for row in self.history
                  if isinstance(row.get(metric), (int, float)) and isinstance(row.get("epoch"), int)]
        return [epoch for epoch, _ in points], [float(value) for _, value in points]


@dataclass(frozen=True)
class Panel:
    """One chart: `title` on the y axis, and the metrics drawn in it (`train.loss`, `val.loss`)."""

    title: str
    metrics: tuple[str, ...]


def read_runs(paths: Sequence[Path]) -> list[RunCurves]:
    """The runs under `paths` (run directories, folders of runs, sweep directories), labelled by the
    config keys that differ between them (`optimizer.lr=0.01`), else by their folders.

    Runs that logged no epoch (one that failed at its first step) have no curve and are left out;
    a path that holds no run, or none with an epoch, is a DataError naming it."""
    from ttrain.training.records import find_run_dirs, read_history, read_run

    found: list[tuple[Path, dict[str, Any], list[dict[str, Any]]]] = []
    for path in paths:
        run_dirs = find_run_dirs(Path(path)) if Path(path).is_dir() else []
        if not run_dirs:
            raise DataError(f"{path}: not a run directory, nor a folder holding runs")
        with_epochs = [(run_dir, history) for run_dir in run_dirs if (history := read_history(run_dir))]
        if not with_epochs:
            raise DataError(f"{path}: no run there has logged an epoch yet (metrics.jsonl is empty or missing)")
        found += [(run_dir, read_run(run_dir).get("config") or {}, history) for run_dir, history in with_epochs]
    labels = _labels([run_dir for run_dir, _, _ in found], [config for _, config, _ in found])
    return [RunCurves(label, run_dir, history) for label, (run_dir, _, history) in zip(labels, found)]


def _labels(run_dirs: list[Path], configs: list[dict[str, Any]]) -> list[str]:
    """`key=value` for the few config keys whose values differ between the runs; their folders
    when none do, too many do, or two runs would still share a label."""
    from ttrain.training.comparison import flatten

    flat = [flatten(config) for config in configs]
    keys = sorted({key for settings in flat for key in settings} - set(_NOT_SETTINGS))
    differing = [key for key in keys if len({repr(settings.get(key)) for settings in flat}) > 1]
    if len(run_dirs) > 1 and 0 < len(differing) <= _MOST_KEYS_IN_LABEL:
        labels = [", ".join(f"{key}={settings.get(key)}" for key in differing) for settings in flat]
        if len(set(labels)) == len(labels):
            return labels
    return _short_paths(run_dirs)


def _short_paths(run_dirs: list[Path]) -> list[str]:
    """Each run's folder, from the last two parts (`mnist_mlp/3`) up to as many as tell them apart."""
    resolved = [run_dir.resolve() for run_dir in run_dirs]
    for depth in range(2, max(len(p.parts) for p in resolved) + 1):
        labels = ["/".join(p.parts[-depth:]) for p in resolved]
        if len(set(labels)) == len(labels):
            return labels
    return [str(p) for p in resolved]


def panels(runs: Sequence[RunCurves], metrics: Sequence[str] = ()) -> list[Panel]:
    """The charts to draw: one per name in `metrics` (`val.accuracy` alone, or `accuracy` in its
    splits); by default one per logged quantity, the loss first, each in train and val (or test).

    A name no run logged is a DataError with the closest logged name."""
    logged = {name for run in runs for row in run.history for name, value in row.items()
              if isinstance(value, (int, float)) and name not in ("epoch", "step")}
    quantities: list[str] = []
    for name in sorted(logged, key=lambda n: (n.partition(".")[2] != "loss", n)):
        split, _, quantity = name.partition(".")
        if split in SPLITS and quantity not in _NOT_CURVES and quantity not in quantities:
            quantities.append(quantity)
    if not metrics:
        return [_panel_of(quantity, logged) for quantity in quantities]
    chosen = []
    for name in metrics:
        if name in logged:
            chosen.append(Panel(name, (name,)))
        elif name in quantities:
            chosen.append(_panel_of(name, logged))
        else:
            close = did_you_mean(name, sorted(logged | set(quantities)))
            hint = f" (did you mean {close!r}?)" if close else ""
            raise DataError(f"no run logged a metric {name!r}{hint}; logged: {', '.join(sorted(logged))}")
    return chosen


def _panel_of(quantity: str, logged: set[str]) -> Panel:
    """The learning curves of `quantity`: train and val (Keras's `loss`, `val_loss`); train and test
    when there is no validation split, the test split being evaluated every epoch then."""
    present = [split for split in SPLITS if f"{split}.{quantity}" in logged]
    if "val" in present and len(present) > 2:
        present.remove("test")
    return Panel(quantity, tuple(f"{split}.{quantity}" for split in present))


def split_of(metric: str) -> str:
    """The split a metric was measured on (`val` for `val.accuracy`), or the name itself (`lr`)."""
    split, dot, _ = metric.partition(".")
    return split if dot and split in SPLITS else metric
