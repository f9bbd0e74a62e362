"""A sweep's results: one row per trial (one parameter set), ranked by the monitored metric, written
as `sweep.csv` and `sweep.json` in the sweep directory.

A row's `value` is the monitored metric at the trial's best epoch, averaged over its seeds
(`--repeat-seeds`), with `std` the spread over seeds (population standard deviation; 0 for one
seed); `final` holds the last epoch's metrics, each averaged over the seeds. Ranking: completed
trials by value (best first), then pruned ones by value, then failed
and interrupted ones. An interrupted trial whose parameters ran again is left out.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path
from typing import Any

from ttrain.strict_json import finite_or_none, strict_json
from ttrain.sweep.plan import SweepPlan

_ORDER = {"complete": 0, "pruned": 1, "failed": 2, "interrupted": 3, "running": 4}
_TIMING = ("train.seconds", "train.samples_per_sec", "epoch", "step")


def _status(trial: Any) -> str:
    from optuna.trial import TrialState

    if trial.state == TrialState.RUNNING:
        return "running"
    return trial.user_attrs.get("status") or "interrupted"


def _mean_metrics(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Each final metric's mean over the trial's runs (seeds)."""
    names = [n for n in (runs[0]["metrics"] if runs else {}) if n not in _TIMING]
    means = {}
    for name in names:
        values = [r["metrics"][name] for r in runs if r["metrics"].get(name) is not None]
        if values:
            means[name] = statistics.fmean(values)
    return means


def trial_rows(plan: SweepPlan, study: Any) -> list[dict[str, Any]]:
    """Every trial of the study as a row, ranked (see the module docstring)."""
    from optuna.trial import TrialState

    rows = []
    for trial in study.get_trials(deepcopy=False):
        if trial.state == TrialState.WAITING or trial.user_attrs.get("status") == "skipped":
            continue
        attrs, status = trial.user_attrs, _status(trial)
        runs = attrs.get("runs") or []
        rows.append({
            "trial": trial.number, "status": status, "params": dict(trial.params),
            "value": attrs.get("value"), "std": attrs.get("std"),
            "seeds": [r["seed"] for r in runs], "values": [r["value"] for r in runs],
            "final": _mean_metrics(runs), "run_dirs": [r["run_dir"] for r in runs],
            "seconds": sum(r["seconds"] for r in runs),
            "error": attrs.get("error"), "exit_code": attrs.get("exit_code"),
        })
    rerun = {json.dumps(r["params"], sort_keys=True) for r in rows if r["status"] != "interrupted"}
    rows = [r for r in rows if r["status"] != "interrupted" or json.dumps(r["params"], sort_keys=True) not in rerun]
    sign = 1 if plan.mode == "min" else -1
    return sorted(rows, key=lambda r: (_ORDER[r["status"]], r["value"] is None,
                                       sign * r["value"] if r["value"] is not None else 0.0, r["trial"]))


def sweep_summary(plan: SweepPlan, rows: list[dict[str, Any]], status: str, seconds: float) -> dict[str, Any]:
    """The object `sweep.json` holds and `ttrain sweep --json` prints."""
    counts = {name: sum(r["status"] == name for r in rows) for name in _ORDER}
    best = rows[0] if rows and rows[0]["status"] == "complete" else None
    return finite_or_none({
        "status": status,
        "sweep_dir": plan.sweep_dir,
        "config": plan.config_paths[-1],  # the experiment's file (the one that names it)
        "configs": plan.config_paths,  # every file, merged left to right
        "overrides": plan.sets,
        "storage": plan.storage,
        "study": plan.study_name,
        "monitor": plan.monitor,
        "mode": plan.mode,
        "space": plan.space_description(),
        "repeat_seeds": plan.repeat_seeds,
        "prune": plan.prune,
        "counts": {k: v for k, v in counts.items() if v or k in ("complete", "pruned", "failed")},
        "best": best,
        "trials": rows,
        "seconds": seconds,
    })


def _csv(plan: SweepPlan, rows: list[dict[str, Any]]) -> str:
    metric_names = sorted({name for r in rows for name in r["final"]})
    header = ["trial", "status", *plan.keys, "value", "std", *(f"final.{n}" for n in metric_names),
              "seeds", "seconds", "run_dirs", "error", "exit_code"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow([r["trial"], r["status"], *(r["params"].get(k, "") for k in plan.keys),
                         _cell(r["value"]), _cell(r["std"]), *(_cell(r["final"].get(n)) for n in metric_names),
                         " ".join(map(str, r["seeds"])), f"{r['seconds']:.3f}", " ".join(r["run_dirs"]),
                         r["error"] or "", "" if r["exit_code"] is None else r["exit_code"]])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    return "" if value is None else repr(value)


def write_results(plan: SweepPlan, summary: dict[str, Any]) -> None:
    """`sweep.json` and `sweep.csv` in the sweep directory, each written atomically."""
    from ttrain.training.checkpoint import atomic_write_bytes

    sweep_dir = Path(plan.sweep_dir)
    atomic_write_bytes(sweep_dir / "sweep.json", (strict_json(summary) + "\n").encode("utf-8"))
    atomic_write_bytes(sweep_dir / "sweep.csv", _csv(plan, summary["trials"]).encode("utf-8"))
