"""The training API: `ttrain.fit`, `ttrain.evaluate` and `ttrain.load`, what the CLI does, from Python
(`ttrain.load` also reads back what `ttrain.save` wrote, `ttrain.serialization`).

    summary = ttrain.fit("configs/seed.yaml", ["trainer.epochs=1"])
    ttrain.evaluate(summary["checkpoints"]["best"])["metrics"]
    model, config = ttrain.load(summary["checkpoints"]["best"])

Each is a thin wrapper over the jobs behind the CLI (`ttrain.training.run`): `fit` returns the
summary `ttrain fit --json` prints and `evaluate` the object `ttrain eval --json` prints, as the
same strict-JSON data (a NaN metric is None). Nothing here prints: progress goes to a console
only when asked for.

Bad input raises a `ValueError` subclass that says what and where (the CLI's exit 2):
`ttrain.config.ConfigError` (a config's key, with file:line; for a dict config, `<config dict>`),
`ttrain.data.DataError` (data files and values), `ttrain.training.checkpoint.CheckpointError`
(a missing, damaged or unusable checkpoint), and `ttrain.config.RegistryError`. A failed run
raises `ttrain.training.TrainingFailed` (a NaN loss, naming the step) or
`ttrain.training.write_errors.OutputWriteError` (exit 1); Ctrl-C, SIGTERM or SIGHUP during `fit`
save `last` and raise `ttrain.training.TrainingInterrupted`, whose message names that checkpoint.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence, Union

if TYPE_CHECKING:
    from ttrain.config import Config, SourceMap
    from ttrain.nn import Module

# `overrides`: `--set`-style "key.path=value" strings (the value is YAML), or a mapping from key
# paths to Python values; a single string is one override.
Overrides = Union[str, Sequence[str], Mapping[str, Any]]
ConfigLike = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]], Mapping[str, Any], "Config"]

# Where the errors of a config that has no file say they are.
DICT_CONFIG, OBJECT_CONFIG = "<config dict>", "<ttrain.config.Config>"
SPLITS = ("test", "val")


def fit(
    config: ConfigLike,
    overrides: Overrides | None = (),
    *,
    output_dir: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    progress: Any = False,
    expect: str | Sequence[str] = (),
    callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Train the experiment `config` describes into a new run directory, as `ttrain fit` does.

    Args:
        config: a YAML file's path (relative paths in it resolve against its folder, and the run
            is named after the file unless the config gives a `name`), a bundled config's name
            (`"mnist_mlp"`), or a list of files merged left to right as `ttrain fit a.yaml b.yaml`
            merges them; a dict of the same
            sections (relative paths resolve against the working directory, `package.module:Class`
            names import from it); or a validated `ttrain.config.Config`. A dict or file is your
            own code: it may name any of your modules, as a config file may.
        overrides: `--set`-style overrides applied before validation: `["trainer.epochs=1",
            "optimizer.lr=3e-4"]` (YAML values), or `{"trainer.epochs": 1}` (Python values).
        output_dir: shorthand for the override `trainer.output_dir` (relative to the working directory).
        resume: continue exactly from a checkpoint file, from the newest valid one in a run
            directory, or (`"auto"`) from the newest valid one among this config's runs; with
            none found, `"auto"` starts fresh. Each damaged checkpoint passed over is a warning.
        progress: False (the default) trains silently; True shows progress on stderr; a Rich
            `Console` shows it there.
        expect: `--expect`-style expectations on the final record, e.g. `"test.accuracy>=0.96"`;
            their results are listed in the summary's `expectations` (each with `passed`). A
            malformed one, or one naming a metric the run never logs, is a ConfigError before
            anything is trained.
        callbacks: `ttrain.training.callbacks.Callback` objects added to the trainer
            (`Trainer.add_callback`), e.g. one that reports every epoch's metrics elsewhere.

    Returns:
        The run's record, as `<run_dir>/summary.json` holds it and `ttrain fit --json` prints it
        (less `command`), with `status: "ok"`: `run_dir`, `epochs`, `global_step`, `epoch_step`,
        `stopped_early`, `final` (the last epoch's metrics), `best` (`monitor`, `mode`, `epoch`,
        `value`, `metrics`), `checkpoints` (`last`/`best` paths), `seconds`, `train_seconds`,
        `started_at`, `finished_at`, `config`, `overrides`, `versions`, `git`, ... (see
        `ttrain.training.records`); strict JSON data (a NaN metric is None). A failed or
        interrupted run's summary.json says so; the exception raised carries `run_dir`.
        With `expect`, also `expectations` (their results, each with `passed`).

    Raises:
        ConfigError, DataError, CheckpointError, RegistryError: bad input (see the module docstring).
        TrainingFailed, OutputWriteError: the run failed. TrainingInterrupted: a stop signal.
    """
    from ttrain.config import logged_metrics
    from ttrain.strict_json import finite_or_none
    from ttrain.training import run
    from ttrain.training.expectations import add_results, expectations_for

    extra = {} if output_dir is None else {"trainer.output_dir": os.fspath(output_dir)}
    given = [*_override_strings(overrides), *_override_strings(extra)]
    resolved, source = resolve_config(config, given)
    expectations = expectations_for(_names(expect), logged_metrics(resolved))
    checkpoint = _resume_checkpoint(resolved, resume) if resume is not None else None
    summary = run.fit(resolved, source=source, resume=checkpoint, console=_console(progress), overrides=given,
                      callbacks=callbacks)
    add_results(summary, expectations, summary["final"])
    return finite_or_none(summary)


def evaluate(
    checkpoint: str | os.PathLike[str],
    split: str = "test",
    *,
    data_overrides: Overrides | None = (),
    trust_modules: str | Sequence[str] = (),
    expect: str | Sequence[str] = (),
) -> dict[str, Any]:
    """Loss and metrics of a checkpoint's model on the `test` or `val` split, as `ttrain eval` does.

    The model and data are rebuilt from the config inside the checkpoint alone. That config is
    data, not your code: it may name only registered components, and `package.module:Name`
    from the modules in `trust_modules` (and their submodules), imported from the working
    directory or `sys.path` (`--trust-module`). `data_overrides` change keys of its data
    section, as `--data` does: `["n_test=500"]` or `{"n_test": 500}`.

    Returns the object `ttrain eval --json` prints (less `schema_version` and `command`):
    `status`, `checkpoint`, `split`, `epoch`, `samples`, `metrics` (`<split>.loss`,
    `<split>.accuracy`, ...), `seconds`, and the results of `expect` (`--expect`-style, on this
    split's metrics: see `fit`) as `expectations`.
    Raises CheckpointError, ConfigError, DataError (bad input), ValueError for another split.
    """
    from ttrain.strict_json import finite_or_none
    from ttrain.training import run
    from ttrain.training.expectations import add_results, expectations_for, logged_by_checkpoint

    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    texts, trusted = _names(expect), _names(trust_modules)
    expectations = expectations_for(texts, logged_by_checkpoint(checkpoint, split, trusted)) if texts else []
    result = run.evaluate(Path(checkpoint), split, _override_strings(data_overrides), trusted)
    add_results(result, expectations, result["metrics"])
    return finite_or_none(result)


@dataclass(frozen=True)
class Loaded:
    """What `ttrain.load` returns. It unpacks as `model, config = ttrain.load(path)`, as a
    `os.stat_result` unpacks as a tuple yet has more attributes: `metadata` is the checkpoint's
    (`epoch`, `global_step`, `metrics`, `ttrain_version`, ...)."""

    model: Module
    config: Config
    metadata: dict[str, Any] = field(repr=False)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.model, self.config))


def load(f: Any, map_location: Any = None, weights_only: Any = None, *,
         trust_modules: str | Sequence[str] = ()) -> Any:
    """Read a file ttrain wrote: what `ttrain.save` saved, or a training checkpoint's model and config.

    A file written by `ttrain.save` (or any plain safetensors file) gives back the saved object, its
    tensors as `ttrain.Tensor`s, as `torch.load` does for a state dict; `map_location` (the CPU) and
    `weights_only` are accepted for PyTorch scripts and change nothing: nothing is ever unpickled.

    A training checkpoint (`ttrain fit`'s `.safetensors` files, whose header says `format:
    ttrain.checkpoint`) gives a `Loaded`: the model with its weights, in eval mode, and its config.
    The model is rebuilt from the checkpoint's embedded config, which may name user code only from
    `trust_modules` (see `evaluate`); building it reads the config's data once, to size the model
    as training did. Raises CheckpointError for a missing, damaged or mismatched file and
    ConfigError for a config this ttrain cannot build.
    """
    from ttrain import serialization
    from ttrain.training import checkpoint, run

    if hasattr(f, "read") or checkpoint.header_format(f) != checkpoint.FORMAT_NAME:
        return serialization.load(f, map_location=map_location)
    config, model, _datasets, metadata = run.load_for_inference(Path(f), trust_modules=_names(trust_modules))
    return Loaded(model, config, metadata)


# ---- helpers ---------------------------------------------------------------------------------
def resolve_config(config: ConfigLike, overrides: Sequence[str] = ()) -> tuple[Config, SourceMap | None]:
    """`config` (a path, a dict or a Config) with `overrides` applied, validated; and where its
    keys came from, for later error messages (None for a Config given without overrides)."""
    from ttrain.config import Config, Location, SourceMap, config_to_dict, load_config, validate_config
    from ttrain.config.interpolation import resolve_references
    from ttrain.config.overrides import apply_overrides

    if isinstance(config, (str, os.PathLike, list, tuple)):
        return load_config(config, overrides)
    if isinstance(config, Config):
        if not overrides:
            return config, None
        data, base_dir, name = config_to_dict(config), config.base_dir, config.name
    elif isinstance(config, Mapping):
        data, base_dir, name = copy.deepcopy(dict(config)), None, None  # the caller's dict stays as it was
    else:
        raise TypeError(f"config must be a path, a dict or a ttrain.config.Config, not {type(config).__name__}")
    source = SourceMap(Location(DICT_CONFIG if isinstance(config, Mapping) else OBJECT_CONFIG))
    apply_overrides(data, overrides, source)
    if isinstance(config, Mapping):  # a Config's values were resolved when it was made
        resolve_references(data, source)
    # trusted=None: a dict or Config handed to fit is the caller's own code, as a config file is.
    return validate_config(data, source, base_dir=base_dir, default_name=name, trusted=None), source


def _override_strings(overrides: Overrides | None) -> list[str]:
    """`key.path=value` strings; a mapping's Python values are written as JSON, which YAML reads back."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [f"{key}={json.dumps(value, default=os.fspath)}" for key, value in overrides.items()]
    return _names(overrides)


def _names(values: str | Sequence[str]) -> list[str]:
    """A list of strings: one string is one item, not its characters."""
    return [values] if isinstance(values, str) else [str(v) for v in values]


def _resume_checkpoint(config: Config, resume: str | os.PathLike[str]) -> Path | None:
    """The checkpoint `resume` names (see `fit`), after a warning for each damaged one passed over."""
    from ttrain.training import run

    choice = run.resume_checkpoint(config, resume)
    for path, reason in choice.skipped:
        warnings.warn(f"skipping damaged checkpoint {path}: {reason}", stacklevel=3)
    return choice.path


def _console(progress: Any) -> Any:
    """The Rich console progress goes to: None (silent), one on stderr, or the caller's own."""
    if progress is False or progress is None:
        return None
    if progress is True:
        from rich.console import Console

        return Console(stderr=True, highlight=False)
    return progress
