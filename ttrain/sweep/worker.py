"""Workers: the loop that claims and runs trials until the space or the budget is used up, run in
this process (`--jobs 1`) or in N spawned processes that share the study (`--jobs N`).

A claim (check what is left, then `study.ask`) happens under a lock shared by this machine's
workers, so they never overshoot the budget or start one grid point twice. Processes on other
machines (`--storage`) share only the database: a grid stays exact (Optuna's GridSampler gives
trial n the n-th point of one seeded order; a trial that lost a race for the last points finds
its point taken and is closed unrun, "skipped"), and a sampled budget can be overshot by the
trials those machines start at the moment it is reached.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from typing import Any, Callable, ContextManager, Optional

from ttrain.sweep.plan import SweepPlan

# The thread pools of NumPy's BLAS and of Numba read these once, when they load.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")

TrialReport = Callable[[dict[str, Any]], None]


def is_real_failure(trial: Any) -> bool:
    """A failed trial that is a result (an error in the run), not one cut short by a stop signal or crash."""
    return trial.user_attrs.get("status") == "failed"


def is_skipped(trial: Any) -> bool:
    """A trial closed without running: its grid point was already taken (see `_taken_before`)."""
    return trial.user_attrs.get("status") == "skipped"


def point_of(plan: SweepPlan, trial: Any) -> tuple | None:
    """The trial's values of the swept keys, in order (queued values for a waiting trial)."""
    params = trial.params or trial.system_attrs.get("fixed_params") or {}
    return tuple(params.get(key) for key in plan.keys) if all(k in params for k in plan.keys) else None


def work_left(plan: SweepPlan, study: Any) -> bool:
    """Whether a new trial should start: a grid point no trial has taken, a queued (retried)
    trial, or budget left; never after a failure with fail_fast."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    if plan.fail_fast and any(is_real_failure(t) and t.user_attrs.get("session") == plan.session for t in trials):
        return False
    if any(t.state == TrialState.WAITING for t in trials):
        return True
    if plan.grid is not None:
        return len({point_of(plan, t) for t in trials} - {None}) < plan.grid_size()
    counted = [t for t in trials if t.state != TrialState.FAIL or is_real_failure(t)]  # not interrupted, not skipped
    return len(counted) < plan.trials


def work(plan: SweepPlan, lock: Optional[Any] = None, worker: int = 0, report: TrialReport | None = None) -> None:
    """Claim and run trials until none is left (see `work_left`)."""
    from ttrain.sweep.study import open_study
    from ttrain.sweep.trial import run_trial

    study = open_study(plan, worker)
    distributions = plan.distributions()
    claim: ContextManager[Any] = lock if lock is not None else contextlib.nullcontext()
    while True:
        with claim:
            if not work_left(plan, study):
                return
            trial = study.ask(distributions)
            trial.set_user_attr("session", plan.session)
        if plan.grid is not None and _taken_before(plan, study, trial):
            _skip(study, trial)
            continue
        status = run_trial(plan, study, trial)
        if report is not None:
            report({"trial": trial.number, "status": status, "params": trial.params, "monitor": plan.monitor,
                    **_brief(study, trial.number)})


def _taken_before(plan: SweepPlan, study: Any, trial: Any) -> bool:
    """Whether a trial numbered lower already has this trial's grid point (and was not cut short).

    Workers on other machines can race for the last points: Optuna's GridSampler then gives
    the loser a point that is already running. The later trial yields."""
    from optuna.trial import TrialState

    point = point_of(plan, trial)
    return any(t.number < trial.number and point_of(plan, t) == point and not is_skipped(t)
               and (t.state != TrialState.FAIL or is_real_failure(t)) for t in study.get_trials(deepcopy=False))


def _skip(study: Any, trial: Any) -> None:
    """Close a trial that will not run; results leave it out."""
    from optuna.trial import TrialState

    trial.set_user_attr("status", "skipped")
    study.tell(trial, state=TrialState.FAIL)


def _brief(study: Any, number: int) -> dict[str, Any]:
    attrs = study.trials[number].user_attrs
    return {k: attrs.get(k) for k in ("value", "std", "error")}


def _worker_main(plan: SweepPlan, lock: Any, worker: int, report: TrialReport | None) -> None:
    """A spawned worker process: run trials; a stop signal ends it with 128 + the signal's number."""
    from ttrain.training.trainer import TrainingInterrupted

    try:
        work(plan, lock, worker, report)
    except TrainingInterrupted as error:
        raise SystemExit(128 + int(error.signal_number)) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def threads_per_worker(jobs: int) -> int:
    """The threads each of `jobs` workers may use so that together they fill the cores, no more."""
    return max(1, (os.cpu_count() or 1) // jobs)


def run_workers(plan: SweepPlan, jobs: int, report: TrialReport | None = None) -> list[int]:
    """Run `jobs` worker processes (spawned, so each loads NumPy and Numba with its own thread
    counts) and return their exit codes."""
    context = multiprocessing.get_context("spawn")
    lock = context.Lock()
    threads = str(threads_per_worker(jobs))
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    processes = []
    try:
        os.environ.update({name: threads for name in THREAD_VARIABLES})  # a spawned child copies the environment
        for worker in range(jobs):
            process = context.Process(target=_worker_main, args=(plan, lock, worker, report), name=f"ttrain-sweep-{worker}")
            process.start()
            processes.append(process)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    for process in processes:
        # A Ctrl-C reaches the workers too (one process group): they save `last` and exit; wait for them.
        while process.is_alive():
            try:
                process.join()
            except KeyboardInterrupt:
                continue
    return [process.exitcode for process in processes]
