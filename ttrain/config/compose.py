"""Composition: several config files merged left to right, each value located in its own file.

    ttrain fit base.yaml experiment.yaml --set trainer.epochs=3

A later file's mapping is merged into an earlier one key by key, at every depth; any other value
(a number, a string, a list, null) replaces what was there, as in Hydra and OmegaConf. A mapping
that names a different component (its ``name`` changes: ``optimizer: {name: sgd}`` over an Adam
section) replaces the earlier one whole: the old component's arguments do not belong to the new
one. The SourceMap follows every replacement, so an error points into the file that set the value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ttrain.config.errors import ConfigError, ConfigIssue
from ttrain.config.loader import Location, SourceMap, iter_paths, load_yaml_file


def _replaces_whole(base: dict[str, Any], overlay: dict[str, Any], path: tuple[str | int, ...]) -> bool:
    # At the top, `name` is the run's name, not a component's.
    return bool(path) and "name" in base and "name" in overlay and base["name"] != overlay["name"]


def merge(base: Any, base_source: SourceMap, overlay: Any, overlay_source: SourceMap,
          path: tuple[str | int, ...] = ()) -> Any:
    """``overlay`` merged into ``base`` (mappings key by key, anything else replaced); ``base`` and
    ``base_source`` are updated in place, the merged value is returned."""
    if isinstance(base, dict) and isinstance(overlay, dict) and not _replaces_whole(base, overlay, path):
        for key, value in overlay.items():
            child = (*path, key)
            if key in base:
                base[key] = merge(base[key], base_source, value, overlay_source, child)
            else:
                base[key] = value
                _take_locations(base_source, overlay_source, child, value)
        return base
    _take_locations(base_source, overlay_source, path, overlay)
    return overlay


def _take_locations(target: SourceMap, source: SourceMap, path: tuple[str | int, ...], value: Any) -> None:
    """``path`` and everything below it are now located where ``source`` has them."""
    target.forget(path)
    for sub_path in [path, *iter_paths(value, path)]:
        if sub_path:
            target.record(sub_path, source.locate(sub_path))


def load_files(paths: Sequence[str | Path]) -> tuple[dict[str, Any], SourceMap]:
    """The files' data merged left to right, and where each value came from.

    Each file must hold a mapping of sections (or nothing). The SourceMap's root is the last file,
    the one that names the experiment.
    """
    if not paths:
        raise ConfigError(ConfigIssue("", "no config file given"))
    data: dict[str, Any] = {}
    source = SourceMap(Location(str(paths[-1])))
    for path in paths:
        loaded, loaded_source = load_yaml_file(path)
        if loaded is None:
            continue
        if not isinstance(loaded, dict):
            raise ConfigError(ConfigIssue("", f"expected a mapping of sections (model, data, trainer, ...), "
                                              f"found {type(loaded).__name__}", str(path)))
        data = merge(data, source, loaded, loaded_source)
    return data, source
