"""One trial: the config with the trial's values applied, trained once per seed, told to Optuna.

A trial's user attributes hold what the results need: `status` (complete, pruned, failed,
interrupted), `runs` (one per seed: seed, run directory, monitored value, final metrics),
`value` and `std` (mean and spread of the monitored value over seeds), and for a failure its
`error` and `exit_code` (2 for a bad value, 1 for a failed run).
"""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING, Any

from ttrain.strict_json import finite_or_none
from ttrain.sweep.plan import SweepPlan
from ttrain.training.callbacks.base import Callback

if TYPE_CHECKING:
    from ttrain.training.trainer import Trainer


class TrialReporter(Callback):
    """Reports the monitored metric to the Optuna trial after every epoch, keeps its best value,
    and stops training (as early stopping does) when the pruner says the trial is weak."""

    def __init__(self, trial: Any, monitor: str, mode: str, step_offset: int = 0) -> None:
        self.trial = trial
        self.monitor = monitor
        self.better = min if mode == "min" else max
        self.step_offset = step_offset  # seed k of a trial reports steps k*epochs+1 ...
        self.best: float | None = None
        self.pruned = False

    def on_train_epoch_end(self, trainer: "Trainer", metrics: dict[str, float]) -> None:
        value = metrics.get(self.monitor)
        if value is None or not math.isfinite(value):
            return
        self.best = value if self.best is None else self.better(self.best, value)
        self.trial.report(value, self.step_offset + trainer.epoch)
        if self.trial.should_prune():
            self.pruned = True
            trainer.should_stop = True


class _NeverLogged(RuntimeError):
    """The monitored metric had no finite value in any epoch."""


def _exit_code(error: BaseException) -> int:
    """The exit code `ttrain fit` would give this error (1 for anything unexpected)."""
    from ttrain.cli.errors import exit_code_for

    return exit_code_for(error) or 1


def run_trial(plan: SweepPlan, study: Any, trial: Any) -> str:
    """Run `trial` (once per seed), tell the study how it went, and return its status.

    A stop signal marks the trial interrupted (a resumed sweep runs it again) and is re-raised.
    """
    from optuna.trial import TrialState

    from ttrain.config import load_config
    from ttrain.training import run
    from ttrain.training.trainer import TrainingInterrupted

    values = dict(trial.params)
    runs: list[dict[str, Any]] = []
    state, status = TrialState.COMPLETE, "complete"
    try:
        for k in range(plan.repeat_seeds):
            run_name = f"{trial.number:04d}"
            overrides = plan.trial_overrides(values, run_name)
            if plan.repeat_seeds > 1:
                base_seed = load_config(plan.config_paths, overrides)[0].seed  # the grid may set it
                overrides = plan.trial_overrides(values, f"{run_name}-seed{base_seed + k}", base_seed + k)
            config, source = load_config(plan.config_paths, overrides)
            reporter = TrialReporter(trial, plan.monitor, plan.mode, k * plan.epochs)
            summary = run.fit(config, source, callbacks=[reporter])
            runs.append({"seed": config.seed, "run_dir": summary["run_dir"], "value": reporter.best,
                         "metrics": _numbers(summary["final"]), "epochs": summary["epochs"],
                         "seconds": summary["seconds"]})
            if reporter.pruned:
                state, status = TrialState.PRUNED, "pruned"
                break
            if reporter.best is None:
                raise _NeverLogged(f"{plan.monitor} was never a finite number (see {summary['run_dir']})")
    except (TrainingInterrupted, KeyboardInterrupt):
        _finish(study, trial, TrialState.FAIL, "interrupted", runs)
        raise
    except Exception as error:  # a failed trial is a result: record it and let the sweep go on
        _finish(study, trial, TrialState.FAIL, "failed", runs,
                error=str(error) or type(error).__name__, exit_code=_exit_code(error))
        return "failed"
    _finish(study, trial, state, status, runs)
    return status


def _numbers(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _finish(study: Any, trial: Any, state: Any, status: str, runs: list[dict[str, Any]], **failure: Any) -> None:
    """Record the trial's runs and outcome in its user attributes, then tell the study."""
    from optuna.trial import TrialState

    seeds_values = [r["value"] for r in runs if r["value"] is not None]
    value = statistics.fmean(seeds_values) if seeds_values else None
    std = statistics.pstdev(seeds_values) if len(seeds_values) > 1 else 0.0 if seeds_values else None
    for key, item in {"status": status, "runs": runs, "value": value, "std": std, **failure}.items():
        trial.set_user_attr(key, finite_or_none(item))
    if state == TrialState.COMPLETE:
        study.tell(trial, value)
    else:
        study.tell(trial, state=state)
