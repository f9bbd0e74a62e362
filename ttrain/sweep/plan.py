"""A sweep's plan: the config, the space and the settings, checked before any trial runs.

The space comes from the command line (`--grid`, `--param`), which replaces the config's
`sweep:` space when given, or from that section; the other settings (`trials`, `sampler`,
`monitor`, `mode`, `prune`, `repeat_seeds`) are the section's keys, which options override as
`--set sweep.<key>=...` would. Each key of the space is tried on the config with its first value
before any trial runs, so a misspelt key is a ConfigError (exit 2) located where it was written.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ttrain.config import ConfigError, ConfigIssue, load_config
from ttrain.config.api import ConfigPaths, config_paths
from ttrain.config.loader import OVERRIDE_PREFIX
from ttrain.sweep.space import Distribution, Scalar, parse_assignment, parse_distribution, parse_grid_values

DEFAULT_TRIALS = 20
# Keys the sweep sets for every trial itself: a space may not vary them.
RESERVED_KEYS = ("name", "trainer.output_dir")


@dataclass
class SweepPlan:
    """Everything a worker needs to run trials (plain data: it is sent to worker processes)."""

    config_paths: list[str]  # merged left to right
    sets: list[str]
    grid: dict[str, list[Scalar]] | None
    params: dict[str, str] | None
    trials: int
    sampler: str
    monitor: str
    mode: str
    prune: str
    repeat_seeds: int
    seed: int
    epochs: int
    name: str
    output_dir: str
    sweep_dir: str = ""
    storage: str = ""
    study_name: str = ""
    fail_fast: bool = False
    session: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def keys(self) -> list[str]:
        """The swept key paths, in the order given."""
        return list(self.grid or self.params or {})

    def distributions(self) -> dict[str, Any]:
        """The Optuna distribution of every swept key (a grid's values are a categorical choice)."""
        from optuna.distributions import CategoricalDistribution

        if self.grid is not None:
            return {key: CategoricalDistribution(values) for key, values in self.grid.items()}
        return {key: parse_distribution(text).to_optuna() for key, text in (self.params or {}).items()}

    def grid_size(self) -> int:
        """How many combinations the grid has (0 for a sampled space)."""
        size = 1
        for values in (self.grid or {}).values():
            size *= len(values)
        return size if self.grid is not None else 0

    def space_description(self) -> dict[str, Any]:
        """The space as JSON data: what a study was made for, and what sweep.json reports."""
        return {"grid": self.grid} if self.grid is not None else {"params": self.params, "sampler": self.sampler}

    def trial_overrides(self, values: dict[str, Any], run_name: str, seed: int | None = None) -> list[str]:
        """`--set`-style overrides for one run of a trial: the sweep's own, the trial's values, where it goes."""
        trial_dir = Path(self.sweep_dir) / "trials"
        overrides = [*self.sets, *(f"{key}={json.dumps(value)}" for key, value in values.items())]
        overrides += [f"trainer.output_dir={json.dumps(str(trial_dir))}", f"name={json.dumps(run_name)}"]
        return overrides + ([f"seed={seed}"] if seed is not None else [])


def _space_from_options(grid_options: Sequence[str], param_options: Sequence[str]) -> tuple[dict, dict, dict[str, str]]:
    """The grid and params the options give, and where each key was given (for messages)."""
    grid: dict[str, list[Scalar]] = {}
    params: dict[str, str] = {}
    where: dict[str, str] = {}
    for flag, options, target in (("--grid", grid_options, grid), ("--param", param_options, params)):
        for option in options:
            location = f"{flag} {option}"
            try:
                key, text = parse_assignment(option)
                target[key] = parse_grid_values(text) if flag == "--grid" else text
                if flag == "--param":
                    parse_distribution(text)
            except ValueError as error:
                raise ConfigError(ConfigIssue("", str(error), location)) from None
            if key in where:
                raise ConfigError(ConfigIssue(key, f"given twice (also {where[key]})", location))
            where[key] = location
    return grid, params, where


def _located(key: str, where: str, error: ConfigError) -> ConfigError:
    """`error` from trying `key`'s first value, with the override's location replaced by `where`."""
    prefix = f"{OVERRIDE_PREFIX}{key}="
    issues = [ConfigIssue(i.path, i.message, where if (i.location or "").startswith(prefix) else i.location,
                          i.suggestion) for i in error.issues]
    return ConfigError(issues)


def _as_options(error: ConfigError) -> ConfigError:
    """`error` with `--set sweep.repeat_seeds=0` written as the option it came from, `--repeat-seeds 0`."""
    prefix = f"{OVERRIDE_PREFIX}sweep."

    def where(location: str | None) -> str | None:
        if not (location or "").startswith(prefix):
            return location
        key, _, value = location[len(prefix):].partition("=")
        return f"--{key.replace('_', '-')} {value}"

    return ConfigError([ConfigIssue(i.path, i.message, where(i.location), i.suggestion) for i in error.issues])


def _check_keys(config_paths: list[Path], sets: list[str], first_values: dict[str, Any], where: dict[str, str]) -> None:
    """Try each swept key with its first value on the config: an unknown key or unusable value is a ConfigError."""
    for key, value in first_values.items():
        if key in RESERVED_KEYS:
            raise ConfigError(ConfigIssue(key, "the sweep sets this key for every trial; it cannot be swept",
                                          where[key]))
        try:
            load_config(config_paths, [*sets, f"{key}={json.dumps(value)}"])
        except ConfigError as error:
            raise _located(key, where[key], error) from None


def _first_value(text_or_values: Any) -> Any:
    if isinstance(text_or_values, list):
        return text_or_values[0]
    distribution: Distribution = parse_distribution(text_or_values)
    return distribution.choices[0] if distribution.kind == "choice" else distribution.low


def make_plan(configs: ConfigPaths, sets: Sequence[str] = (), grid_options: Sequence[str] = (),
              param_options: Sequence[str] = (), settings: Sequence[str] = ()) -> SweepPlan:
    """Load and check the config (one file, or several merged left to right), its `sweep:` section
    and the options; the plan to run.

    `sets` are `--set` overrides for every trial; `settings` are `sweep.<key>=value` overrides
    (from `--trials`, `--monitor`, ...). Raises ConfigError for any problem, located.
    """
    paths = config_paths(configs)
    try:
        config, source = load_config(paths, [*sets, *settings])
    except ConfigError as error:
        raise _as_options(error) from None
    section = config.sweep
    grid, params, where = _space_from_options(grid_options, param_options)
    if grid and params:
        raise ConfigError(ConfigIssue("", "give either --grid (every combination) or --param (sampled), not both",
                                      where[next(iter(params))]))
    if not grid and not params and section is not None:
        grid, params = dict(section.grid or {}), dict(section.params or {})
        where = {key: str(source.locate(["sweep", "grid" if grid else "params", key])) for key in (grid or params)}
    if not grid and not params:
        raise ConfigError(ConfigIssue("", "nothing to sweep: give --grid KEY=V1,V2,... or --param KEY=DIST, "
                                          "or a sweep: section with grid or params", str(paths[-1])))
    if grid and section is not None and section.trials is not None:
        raise _as_options(ConfigError(ConfigIssue("sweep.trials", "a grid runs every combination once: trials is "
                                                                  "for sampled params",
                                                  str(source.locate(["sweep", "trials"])))))
    _check_keys(paths, list(sets), {key: _first_value(v) for key, v in (grid or params).items()}, where)
    section_values = section.model_dump() if section is not None else {}
    checkpoint = config.checkpoint
    monitor = section_values.get("monitor") or checkpoint.monitor
    mode = section_values.get("mode") or checkpoint.mode
    return SweepPlan(
        config_paths=[str(path) for path in paths], sets=list(sets), grid=grid or None, params=params or None,
        trials=(section_values.get("trials") or DEFAULT_TRIALS) if params else 0,
        sampler=section_values.get("sampler", "tpe"), monitor=monitor, mode=mode,
        prune=section_values.get("prune", "none"), repeat_seeds=section_values.get("repeat_seeds", 1),
        seed=config.seed, epochs=config.trainer.epochs, name=config.name or "run",
        output_dir=str(config.trainer.output_dir),
    )

