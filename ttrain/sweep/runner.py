"""`run_sweep`: one sweep directory, the study in it, the workers, and the results.

Layout (`<output_dir>` is the config's trainer.output_dir):

    <output_dir>/<name>-sweep/<n>/          the sweep directory (n = 1, 2, ...)
        study.db                            the Optuna study (SQLite), unless --storage names another
        sweep.json, sweep.csv               the results, rewritten when the sweep ends (also if stopped)
        trials/<trial>/<k>/                 one run directory per trial (`0007/1`), or per seed
        trials/<trial>-seed<s>/<k>/         with --repeat-seeds

A resumed sweep (`--resume DIR` or `auto`) reopens the study and runs only what is missing:
grid points no trial has taken, or the rest of the `--trials` budget. Trials that completed,
were pruned or failed are results and never run again; trials cut short by a stop signal or a
crash (still "running" in the study) are marked interrupted and run again with the same values.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

from ttrain.config import ConfigError, ConfigIssue
from ttrain.sweep.plan import SweepPlan
from ttrain.sweep.worker import TrialReport, is_real_failure, is_skipped, run_workers, work

SWEEP_SUFFIX = "-sweep"


def sweep_root(plan: SweepPlan) -> Path:
    """The folder that holds this config's numbered sweep directories."""
    return Path(plan.output_dir) / f"{plan.name}{SWEEP_SUFFIX}"


def find_resume_dir(plan: SweepPlan, resume: str) -> Path | None:
    """The sweep directory `resume` names; for `auto`, the newest one of this config (None: none yet)."""
    if resume == "auto":
        root = sweep_root(plan)
        found = [p for p in root.iterdir() if p.name.isdigit() and (p / "sweep.json").is_file()] if root.is_dir() else []
        return max(found, key=lambda p: int(p.name)) if found else None
    path = Path(resume)
    if not (path / "sweep.json").is_file():
        raise ConfigError(ConfigIssue("", f"{path}: not a sweep directory (no sweep.json in it)", "--resume"))
    return path


def _previous_settings(sweep_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((sweep_dir / "sweep.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(ConfigIssue("", f"cannot read {sweep_dir / 'sweep.json'}: {error}", "--resume")) from None


def prepare(plan: SweepPlan, resume: str | None = None, storage: str | None = None, study: str | None = None) -> bool:
    """Fill in the plan's sweep directory, storage and study name, creating the directory for a
    new sweep; returns whether an existing sweep is resumed."""
    from ttrain.sweep.study import default_storage

    if storage is not None:
        from ttrain.sweep.study import open_storage

        open_storage(storage)  # a bad URL is refused before a sweep directory is made for it
    resume_dir = find_resume_dir(plan, resume) if resume is not None else None
    if resume_dir is not None:
        previous = _previous_settings(resume_dir)
        plan.sweep_dir = str(resume_dir)
        plan.storage = storage or previous.get("storage") or default_storage(resume_dir)
        plan.study_name = study or previous.get("study") or plan.name
        return True
    sweep_dir = _new_sweep_dir(plan)
    plan.sweep_dir = str(sweep_dir)
    plan.storage = storage or default_storage(sweep_dir)
    plan.study_name = study or plan.name
    return False


def _new_sweep_dir(plan: SweepPlan) -> Path:
    from ttrain.training.rundir import create_run_dir

    try:
        return create_run_dir(Path(plan.output_dir), f"{plan.name}{SWEEP_SUFFIX}", checkpoints=False)
    except OSError as error:
        raise ConfigError(ConfigIssue("trainer.output_dir", f"cannot create a sweep directory in {plan.output_dir}: "
                                                            f"{error.strerror or error}")) from None


def recover_interrupted(plan: SweepPlan, study: Any) -> int:
    """Mark the trials a crash left running as interrupted, then queue what is missing: every
    grid point no trial has taken (in grid order), or for a sampled space the values of each
    interrupted trial; returns how many trials were queued."""
    from optuna.trial import TrialState

    from ttrain.sweep.worker import point_of

    for trial in study.get_trials(deepcopy=False):
        if trial.state == TrialState.RUNNING:
            study.tell(trial.number, state=TrialState.FAIL)
    trials = study.get_trials(deepcopy=False)
    taken = {point_of(plan, t) for t in trials
             if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.WAITING) or is_real_failure(t)}
    if plan.grid is not None:
        wanted = [dict(zip(plan.keys, values)) for values in itertools.product(*plan.grid.values())]
    else:
        wanted = [dict(t.params) for t in trials if t.state == TrialState.FAIL and t.params
                  and not is_real_failure(t) and not is_skipped(t)]
    queued = 0
    for params in wanted:
        point = tuple(params[key] for key in plan.keys)
        if point not in taken:
            study.enqueue_trial(params)
            taken.add(point)
            queued += 1
    return queued


def run_sweep(plan: SweepPlan, jobs: int = 1, resumed: bool = False, report: TrialReport | None = None) -> dict[str, Any]:
    """Run the sweep `prepare` set up, with `jobs` workers, and return its summary (also written
    to sweep.json and sweep.csv). A stop signal writes the results so far, then raises
    TrainingInterrupted (a spawned worker's own exit code says which signal)."""
    from ttrain.sweep.results import sweep_summary, trial_rows, write_results
    from ttrain.sweep.study import open_study
    from ttrain.training.trainer import TrainingInterrupted

    started = time.perf_counter()
    study = open_study(plan)  # creates the study (and checks a resumed one is this sweep's) before any worker
    if resumed:
        recover_interrupted(plan, study)
    write_results(plan, sweep_summary(plan, trial_rows(plan, study), "running", 0.0))
    status = "interrupted"
    how_to_continue = f"the sweep stopped; continue it with --resume {plan.sweep_dir}"
    try:
        if jobs == 1:
            try:
                work(plan, report=report)
            except TrainingInterrupted as error:
                raise TrainingInterrupted(f"{str(error).split(';')[0]}; {how_to_continue}", error.signal_number) from None
            except KeyboardInterrupt:  # between trials
                raise TrainingInterrupted(f"interrupted; {how_to_continue}") from None
        else:
            stopped = [code for code in run_workers(plan, jobs, report) if code != 0]
            signal_codes = [code - 128 for code in stopped if code > 128]
            if signal_codes:
                raise TrainingInterrupted(f"interrupted: {len(signal_codes)} worker(s) stopped by a signal; "
                                          f"{how_to_continue}", signal_codes[0])
            if stopped:
                raise RuntimeError(f"sweep worker(s) exited with {', '.join(map(str, stopped))} (see the messages above)")
        status = "ok"
    finally:
        rows = trial_rows(plan, study)
        if status == "ok" and any(r["status"] == "failed" for r in rows):
            status = "failed"
        summary = sweep_summary(plan, rows, status, time.perf_counter() - started)
        write_results(plan, summary)
    return summary
