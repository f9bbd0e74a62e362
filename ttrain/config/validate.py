"""Validate loaded YAML data into a Config, collecting every problem with its file and line.

Three passes, all problems reported together:
1. the static schema (sections, types, ranges) with pydantic;
2. each component (model, layers, data, loss, optimizer, scheduler, metrics): its name through
   the registry (which imports it, checks it is of the section's kind, and, for a checkpoint's
   config, refuses modules the user has not trusted), its keyword arguments against the
   target's signature; paths resolved;
3. cross-checks that need the whole config (monitored metric names), then derived defaults.
"""

from __future__ import annotations

import copy
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection, Iterable

from pydantic import BaseModel, ValidationError

from ttrain.config.errors import ConfigError, ConfigIssue, KeyPath, did_you_mean, format_path
from ttrain.config.loader import Location, SourceMap
from ttrain.config.pydantic_errors import translate
from ttrain.config.registry import RegistryError, get_registry
from ttrain.config.schema import COMPONENT_SECTIONS, ComponentSpec, Config, ModelSpec
from ttrain.config.signature import Signature, signature_of, validate_kwargs
from ttrain.declare import log_name_of

MAX_SHOWN_ISSUES = 10
MIN_EVAL_BATCH_SIZE = 256  # evaluation keeps no graph, so bigger batches are cheap and faster


@dataclass
class _Context:
    data: dict[str, Any]
    source: SourceMap
    base_dir: Path
    trusted: Collection[str] | None = None  # None: any module (a config); else a checkpoint's vouched-for modules
    issues: list[tuple[KeyPath, str, str | None]] = field(default_factory=list)

    def add(self, path: KeyPath, message: str, suggestion: str | None = None) -> None:
        self.issues.append((tuple(path), message, suggestion))

    def resolve_path(self, path: KeyPath, value: Any) -> Any:
        """A relative path written in a file resolves against that file's folder (of the files
        merged, the one that set it); a default or an override's, against the cwd."""
        if value is None:
            return value
        candidate = Path(value).expanduser()
        if candidate.is_absolute():
            return str(candidate)
        if path not in self.source or self.source.locate(path).is_override:
            return str(Path.cwd() / candidate)
        written_in = Path(self.source.locate(path).file)
        folder = written_in.resolve().parent if written_in.is_file() else self.base_dir
        return str(folder / candidate)


def _fields_at(model: type[BaseModel], path: KeyPath) -> list[str]:
    """The field names of the section model found by following ``path`` from ``model``."""
    current: Any = model
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return []
        annotation = current.model_fields[part].annotation
        candidates = [annotation, *typing.get_args(annotation)]
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return list(current.model_fields) if isinstance(current, type) and issubclass(current, BaseModel) else []


def _check_component(ctx: _Context, category: str, path: KeyPath, name_path: KeyPath, name: str,
                     kwargs: dict[str, Any], own_keys: Iterable[str]) -> dict[str, Any] | None:
    """Check one component's name and kwargs; returns the validated kwargs, or None on a problem."""
    registry = get_registry(category)
    try:
        entry, target = registry.load(name, ctx.base_dir, ctx.trusted)
    except RegistryError as exc:
        ctx.add(name_path, exc.message, exc.suggestion)
        return None
    signature: Signature = signature_of(target, entry.supplied)
    values, issues = validate_kwargs(signature, kwargs, tuple(own_keys))
    for issue in issues:
        ctx.add((*path, *issue.path), issue.message, issue.suggestion)
    for key in values:
        if signature.params.get(key) is not None and signature.params[key].is_path:
            values[key] = ctx.resolve_path((*path, key), values[key])
    return None if issues else values


def _check_section(ctx: _Context, section: str, category: str, spec_model: type[BaseModel]) -> None:
    raw = ctx.data.get(section)
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        return  # absent (defaults are valid) or malformed (reported by the static pass)
    own = set(spec_model.model_fields)
    kwargs = {k: v for k, v in raw.items() if k not in own}
    values = _check_component(ctx, category, (section,), (section, "name"), raw["name"], kwargs, own)
    if values is not None:
        raw.update(values)


def _check_items(ctx: _Context, path: KeyPath, items: Any, category: str) -> None:
    """Items of ``model.layers`` / ``trainer.metrics``: ``- relu`` or ``- linear: {...}`` or ``- {name: ...}``."""
    if not isinstance(items, list):
        return
    for index, item in enumerate(items):
        item_path = (*path, index)
        if isinstance(item, str):
            name, kwargs, kwargs_path, name_path = item, {}, item_path, item_path
        elif isinstance(item, dict) and "name" in item and isinstance(item["name"], str):
            name = item["name"]
            kwargs = {k: v for k, v in item.items() if k != "name"}
            kwargs_path, name_path = item_path, (*item_path, "name")
        elif isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item.values())), (dict, type(None))):
            (name, raw_kwargs), = item.items()
            kwargs, kwargs_path, name_path = dict(raw_kwargs or {}), (*item_path, name), item_path
        else:
            continue  # malformed: reported by the static pass
        if category == "metrics" and not kwargs and name in get_registry(category):
            # A bare registered metric has no arguments to check (and stays written as the user wrote it).
            continue
        values = _check_component(ctx, category, kwargs_path, name_path, str(name), kwargs, ())
        if values is not None:
            items[index] = {"name": name, **values}


def _check_model(ctx: _Context) -> None:
    raw = ctx.data.get("model")
    if not isinstance(raw, dict):
        return
    own = set(ModelSpec.model_fields)
    if isinstance(raw.get("name"), str) and "layers" not in raw:
        kwargs = {k: v for k, v in raw.items() if k not in own}
        values = _check_component(ctx, "models", ("model",), ("model", "name"), raw["name"], kwargs, own)
        if values is not None:
            raw.update(values)
    elif "layers" in raw and "name" not in raw:
        for key in raw:
            if key not in own:
                ctx.add(("model", key), "unknown key next to 'layers' (a layers list takes no model arguments)",
                        did_you_mean(key, own))
        _check_items(ctx, ("model", "layers"), raw["layers"], "layers")


def metric_log_name(spec: ComponentSpec, base_dir: str | Path | None = None) -> str:
    """The name a metric is logged under: the ``log_name`` its function declares, filled with its
    keyword arguments (``top_5`` for ``{top_k: {k: 5}}``); else its registered name, or the
    function's name when the config names it as ``package.module:function``."""
    registry = get_registry("metrics")
    entry, function = registry.load(spec.name, base_dir)
    default = spec.name if spec.name in registry else str(getattr(function, "__name__", spec.name))
    params = signature_of(function, entry.supplied).params
    kwargs = {name: param.default for name, param in params.items() if not param.required} | dict(spec.kwargs)
    return log_name_of(function, default, kwargs)


def logged_metrics(config: Config) -> list[str]:
    """Every ``<split>.<metric>`` the trainer logs each epoch for this config (what a monitor may name).

    Splits: ``train``, ``val`` (when ``trainer.val_split > 0``, or the dataset factory
    `holds_out_validation` itself, as `text` does) and ``test``; metrics: ``loss`` and each of
    ``trainer.metrics``.
    """
    names = ["loss", *(metric_log_name(m, config.base_dir) for m in config.trainer.metrics)]
    validated = config.trainer.val_split > 0 or _holds_out_validation(config)
    splits = ["train", "val", "test"] if validated else ["train", "test"]
    return [f"{split}.{name}" for split in splits for name in names]


def _holds_out_validation(config: Config) -> bool:
    """Whether the data section's factory returns a `val` split itself (an unknown one is reported elsewhere)."""
    try:
        _, factory = get_registry("datasets").load(config.data.name, config.base_dir)
    except RegistryError:
        return False
    return bool(getattr(factory, "holds_out_validation", False))


def _default_mode(monitor: str) -> str:
    return "min" if monitor.rsplit(".", 1)[-1].endswith("loss") else "max"


def _check_monitor(ctx: _Context, path: KeyPath, monitor: str | None, logged: list[str]) -> str:
    """The monitored metric (a default when None); an unlogged name is reported."""
    if monitor is None:
        return "val.loss" if "val.loss" in logged else "train.loss"
    if monitor not in logged:
        no_validation = monitor.startswith("val.") and "val.loss" not in logged
        hint = " (no validation data: set trainer.val_split > 0)" if no_validation else ""
        ctx.add(path, f"{monitor!r} is never logged{hint}; logged metrics: {', '.join(logged)}",
                did_you_mean(monitor, logged))
    return monitor


def _derive(ctx: _Context, config: Config) -> Config:
    """Cross-checks and the defaults that depend on other sections."""
    logged = logged_metrics(config)
    trainer, checkpoint, scheduler = config.trainer, config.checkpoint, config.scheduler
    checkpoint.monitor = _check_monitor(ctx, ("checkpoint", "monitor"), checkpoint.monitor, logged)
    checkpoint.mode = checkpoint.mode or _default_mode(checkpoint.monitor)
    if trainer.early_stopping is not None:
        stop = trainer.early_stopping
        stop.monitor = _check_monitor(ctx, ("trainer", "early_stopping", "monitor"), stop.monitor, logged)
        stop.mode = stop.mode or _default_mode(stop.monitor)
    if scheduler is not None:
        # The scheduler's class says how it is stepped (see LRScheduler's traits).
        _, scheduler_class = get_registry("schedulers").load(scheduler.name, ctx.base_dir, ctx.trusted)
        scheduler.interval = scheduler.interval or scheduler_class.default_interval
        if scheduler_class.needs_metric or scheduler.monitor is not None:
            scheduler.monitor = _check_monitor(ctx, ("scheduler", "monitor"), scheduler.monitor, logged)
        if scheduler_class.needs_metric and scheduler.interval != "epoch":
            ctx.add(("scheduler", "interval"), f"the {scheduler.name!r} scheduler is stepped with a monitored "
                                               "metric, which exists once an epoch: use interval 'epoch'")
        if scheduler_class.needs_metric and scheduler.warmup is not None:
            ctx.add(("scheduler", "warmup"), f"warm-up cannot be combined with the {scheduler.name!r} scheduler "
                                             "(it is stepped with a metric's value)")
    if config.sweep is not None:
        sweep = config.sweep
        sweep.monitor = _check_monitor(ctx, ("sweep", "monitor"), sweep.monitor or checkpoint.monitor, logged)
        same = sweep.monitor == checkpoint.monitor
        sweep.mode = sweep.mode or (checkpoint.mode if same else _default_mode(sweep.monitor))
    trainer.eval_batch_size = trainer.eval_batch_size or max(trainer.batch_size, MIN_EVAL_BATCH_SIZE)
    trainer.output_dir = Path(ctx.resolve_path(("trainer", "output_dir"), trainer.output_dir))
    return config


def _config_error(ctx: _Context) -> ConfigError:
    located = []
    for path, message, suggestion in ctx.issues:
        location = ctx.source.locate(path)
        located.append((location, ConfigIssue(format_path(path), message, str(location), suggestion)))
    # File order; overrides (no line) after the file's own lines.
    located.sort(key=lambda pair: (pair[0].line is None, pair[0].line or 0))
    issues = [issue for _, issue in located]
    if len(issues) > MAX_SHOWN_ISSUES:
        rest = len(issues) - MAX_SHOWN_ISSUES
        issues = [*issues[:MAX_SHOWN_ISSUES], ConfigIssue("", f"... and {rest} more problem{'s' if rest > 1 else ''}")]
    return ConfigError(issues, ctx.source.root.file)


def validate_config(data: Any, source: SourceMap | None = None, base_dir: str | Path | None = None,
                    default_name: str | None = None, trusted: Collection[str] | None = None) -> Config:
    """Validate config data (as loaded from YAML) into a Config, or raise ConfigError.

    ``source`` locates keys for error messages; ``base_dir`` is the folder that relative paths
    and user modules are found from (default: the working directory); ``default_name`` names
    the run when the config does not. ``trusted``: None for a config (the user's own code may
    name any module); for a checkpoint's config, the modules the user vouches for, any other
    ``package.module:Name`` being an error (and never imported).
    """
    source = source or SourceMap(Location("<config>"))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(ConfigIssue("", f"expected a mapping of sections (model, data, trainer, ...), "
                                          f"found {type(data).__name__}", str(source.root)))
    ctx = _Context(copy.deepcopy(data), source, Path(base_dir or Path.cwd()).resolve(), trusted)
    config: Config | None = None
    try:
        config = Config.model_validate(ctx.data)
    except ValidationError as exc:
        ctx.issues += translate(exc, ctx.data, lambda parent: _fields_at(Config, parent))
    _check_model(ctx)
    for section, (category, spec_model) in COMPONENT_SECTIONS.items():
        _check_section(ctx, section, category, spec_model)
    if isinstance(ctx.data.get("trainer"), dict):
        _check_items(ctx, ("trainer", "metrics"), ctx.data["trainer"].get("metrics"), "metrics")
    if config is not None and not ctx.issues:
        config = Config.model_validate(ctx.data)
        config._base_dir = ctx.base_dir
        config = _derive(ctx, config)
        if config.name is None:
            config.name = default_name or "run"
    if ctx.issues or config is None:
        raise _config_error(ctx)
    return config

