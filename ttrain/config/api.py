"""The config entry points: load (with overrides), validate, dump, and the JSON Schema."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Collection, Sequence, Union

import yaml

from ttrain.config.bundled import find_config
from ttrain.config.compose import load_files
from ttrain.config.interpolation import resolve_references
from ttrain.config.loader import Location, SourceMap
from ttrain.config.overrides import apply_overrides
from ttrain.config.schema import Config
from ttrain.config.validate import validate_config


def run_name_for(stem: str) -> str:
    """The run name a config file's stem gives when the config sets no ``name``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip("._-") or "run"


ConfigPaths = Union[str, Path, Sequence[Union[str, Path]]]


def config_paths(paths: ConfigPaths) -> list[Path]:
    """The files ``paths`` names, in order: a path, or several to merge left to right; a bare name
    that is no file is a bundled config's (``mnist_mlp``)."""
    listed = [paths] if isinstance(paths, (str, Path)) else list(paths)
    return [find_config(path) for path in listed]


def load_config(path: ConfigPaths, overrides: Sequence[str] = ()) -> tuple[Config, SourceMap]:
    """Load, merge, override (``key.path=value`` strings), resolve and validate config files.

    ``path`` is one file or several, merged left to right (``ttrain.config.compose``); then the
    overrides apply, then ``${...}`` references resolve (``ttrain.config.interpolation``). A
    relative path in a file resolves against that file's folder, and user modules are imported
    from the last file's folder; the run is named after the last file unless the config gives a
    ``name``. Raises ConfigError with every problem found, each at the file and line that set it.
    """
    paths = config_paths(path)
    data, source = load_files(paths)
    apply_overrides(data, overrides, source)
    resolve_references(data, source)
    last = paths[-1]
    config = validate_config(data, source, base_dir=last.resolve().parent, default_name=run_name_for(last.stem))
    return config, source


def config_to_dict(config: Config) -> dict[str, Any]:
    """The resolved config as plain JSON-able data (for checkpoints and ``--json`` output)."""
    return config.model_dump(mode="json")


def config_from_dict(
    data: dict[str, Any], base_dir: str | Path | None = None, where: str = "<embedded config>",
    trusted: Collection[str] | None = (),
) -> Config:
    """Validate a config from plain data, e.g. the one embedded in a checkpoint.

    Such data is not the user's code: by default it may name only registered components, and
    ``trusted`` lists the modules the user vouches for (``--trust-module``); any other
    ``package.module:Name`` is refused before it is imported. None: the data is the user's own
    config, which may name any module.
    """
    return validate_config(data, SourceMap(Location(where)), base_dir=base_dir, trusted=trusted)


def dump_config(config: Config) -> str:
    """The resolved config as YAML (``ttrain config show``, the run directory's config.yaml)."""
    return dump_config_data(config_to_dict(config))


def dump_config_data(data: dict[str, Any]) -> str:
    """Config data (e.g. a checkpoint's embedded config) as YAML, laid out as `dump_config` lays it out."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=100)
