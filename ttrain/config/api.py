"""The config entry points: load (with overrides), validate, dump, and the JSON Schema."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Collection, Sequence

import yaml

from ttrain.config.loader import Location, SourceMap, load_yaml_file
from ttrain.config.overrides import apply_overrides
from ttrain.config.schema import Config
from ttrain.config.validate import validate_config


def _run_name(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip("._-") or "run"


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> tuple[Config, SourceMap]:
    """Load, override (``key.path=value`` strings) and validate a config file.

    Relative paths in the file resolve against its folder; the run is named after the file
    unless the config gives a ``name``. Raises ConfigError with every problem found.
    """
    path = Path(path)
    data, source = load_yaml_file(path)
    if data is None:
        data = {}
    if isinstance(data, dict):
        apply_overrides(data, overrides, source)
    config = validate_config(data, source, base_dir=path.resolve().parent, default_name=_run_name(path.stem))
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
