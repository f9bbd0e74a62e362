"""The Optuna side of a sweep: storage, sampler, pruner, and the study every worker shares."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ttrain.config import ConfigError, ConfigIssue
from ttrain.sweep.plan import SweepPlan

STUDY_FILE = "study.db"
SQLITE_TIMEOUT_S = 60
OPEN_ATTEMPTS = 5  # workers writing one SQLite file wait for each other's transactions this long


def default_storage(sweep_dir: Path) -> str:
    """The SQLite file inside the sweep directory."""
    return f"sqlite:///{Path(sweep_dir).resolve() / STUDY_FILE}"


def open_storage(url: str) -> Any:
    """Optuna storage for `url`: a database URL (SQLAlchemy's form) or `journal:PATH` (a journal file)."""
    import optuna

    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url[len("journal:"):]))
    engine: dict[str, Any] = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}} if url.startswith("sqlite") else {}
    for attempt in range(OPEN_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine)
        except Exception as error:  # SQLAlchemy's and the drivers' errors: a bad URL or an unreachable database
            if attempt + 1 == OPEN_ATTEMPTS:
                message = str(error).splitlines()[0]
                raise ConfigError(ConfigIssue("", f"cannot open the study storage {url!r}: {message}",
                                              "--storage")) from None
            # Processes started together race to create the tables: the losers find them made.
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _sampler(plan: SweepPlan, seed: int) -> Any:
    import optuna

    if plan.grid is not None:
        # The first len(grid) trials take grid point = trial number, so workers never run one twice.
        return _grid_sampler_class()(plan.grid, seed=seed)
    if plan.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _grid_sampler_class() -> type:
    from optuna.samplers import GridSampler

    class AskTellGridSampler(GridSampler):
        """GridSampler for ask-and-tell workers: our workers decide when the grid is done
        (`ttrain.sweep.worker.work_left`); GridSampler's own `study.stop()` works only inside
        `study.optimize`."""

        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            pass

    return AskTellGridSampler


def _pruner(plan: SweepPlan) -> Any:
    import optuna

    if plan.prune == "median":
        return optuna.pruners.MedianPruner()
    if plan.prune == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=plan.epochs * plan.repeat_seeds)
    return optuna.pruners.NopPruner()


def open_study(plan: SweepPlan, worker: int = 0) -> Any:
    """The plan's study in its storage, created by the first process to get there.

    A sampled space's sampler is seeded from the config's seed, the number of trials already in
    the study and `worker` (the index among `--jobs`), so a sweep reruns the same way, a resumed
    one does not draw its first trials again, and no two workers draw the same sequence.
    A study made for another space or monitor is a ConfigError.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(plan.storage)
    direction = "minimize" if plan.mode == "min" else "maximize"
    study = optuna.create_study(storage=storage, study_name=plan.study_name, direction=direction,
                                pruner=_pruner(plan), load_if_exists=True)
    existing = len(study.get_trials(deepcopy=False))
    # A grid's order is a permutation seeded once for the study: every worker, process and resume
    # must see the same one, or trial n would mean a different point to each.
    study.sampler = _sampler(plan, plan.seed if plan.grid is not None else plan.seed + existing + worker)
    _claim_or_check(study, plan)
    return study


def _claim_or_check(study: Any, plan: SweepPlan) -> None:
    """Record what the study is for; a study made for something else is refused."""
    made_for = {"space": plan.space_description(), "monitor": plan.monitor, "mode": plan.mode,
                "repeat_seeds": plan.repeat_seeds}
    attrs = study.user_attrs
    if "ttrain" not in attrs:
        study.set_user_attr("ttrain", made_for)
        return
    if attrs["ttrain"] != made_for:
        differs = [k for k in made_for if attrs["ttrain"].get(k) != made_for[k]]
        raise ConfigError(ConfigIssue("", f"study {plan.study_name!r} in {plan.storage} was made for another "
                                          f"sweep (its {', '.join(differs)} differ{'s' if len(differs) == 1 else ''}); "
                                          f"it has {attrs['ttrain']}", "--resume/--storage"))
