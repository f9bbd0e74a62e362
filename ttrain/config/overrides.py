"""``--set key.path=value`` overrides, applied to the loaded YAML data before validation.

The value is YAML (``--set optimizer.lr=1e-3`` is a float, ``--set model.hidden=[256,128]`` a
list), parsed by the same safe loader as config files. Missing mappings along the path are
created; list items are addressed by index (``model.layers.0.linear.out_features=128``).
"""

from __future__ import annotations

from typing import Any, Sequence

from ttrain.config.errors import ConfigError, ConfigIssue, format_path
from ttrain.config.loader import MAX_DEPTH, OVERRIDE_PREFIX, Location, SourceMap, iter_paths, parse_value

_SHOWN_CHARS = 100  # of an override, in messages: a pasted 10,000-character value is not repeated whole


def _where(override: str) -> str:
    """``--set key.path=value``, shortened when long, for messages and the SourceMap."""
    shown = override if len(override) <= _SHOWN_CHARS else override[: _SHOWN_CHARS - 3] + "..."
    return OVERRIDE_PREFIX + shown


def _error(override: str, message: str) -> ConfigError:
    return ConfigError(ConfigIssue("", message, _where(override)))


def parse_override(override: str) -> tuple[tuple[str, ...], Any]:
    """``"optimizer.lr=1e-3"`` -> ``(("optimizer", "lr"), 0.001)``; a malformed override is a ConfigError."""
    key, sep, text = override.partition("=")
    key = key.strip()
    if not sep:
        raise _error(override, "an override must look like key.path=value (no '=' found)")
    if not key:
        raise _error(override, "an override needs a key before '='")
    parts = tuple(part.strip() for part in key.split("."))
    if len(parts) > MAX_DEPTH:
        raise _error(override, f"a key path of {len(parts):,} parts is too long "
                               f"(a config nests at most {MAX_DEPTH} levels)")
    if any(not part for part in parts):
        raise _error(override, f"empty name in the key path {key!r}")
    return parts, parse_value(text, _where(override))


def _step_into(container: Any, part: str, path: tuple[str | int, ...], override: str) -> tuple[Any, str | int]:
    """The key to use for ``part`` inside ``container`` (an int index for lists)."""
    if isinstance(container, dict):
        return container, part
    if isinstance(container, list):
        if not part.lstrip("-").isdigit():
            raise _error(override, f"{format_path(path)} is a list: use a number to pick an item, not {part!r}")
        index = int(part)
        if not 0 <= index <= len(container):
            raise _error(override, f"{format_path(path)} has {len(container)} items: index {index} is out of range")
        return container, index
    kind = type(container).__name__
    raise _error(override, f"cannot set a key inside {format_path(path)}: it is a {kind}, not a mapping or list")


def apply_override(data: dict[str, Any], override: str, source: SourceMap) -> None:
    """Apply one ``key.path=value`` override to ``data`` in place and record it in ``source``."""
    parts, value = parse_override(override)
    container: Any = data
    path: tuple[str | int, ...] = ()
    for i, part in enumerate(parts):
        container, key = _step_into(container, part, path, override)
        path = (*path, key)
        last = i == len(parts) - 1
        if isinstance(container, list) and key == len(container):
            container.append(value if last else {})
        elif last:
            container[key] = value
        elif isinstance(container, dict) and (key not in container or container[key] is None):
            container[key] = {}
        if not last:
            container = container[key]
    location = Location(_where(override))
    source.forget(path)
    source.record(path, location)
    for sub_path in iter_paths(value, path):
        source.record(sub_path, location)


def apply_overrides(data: dict[str, Any], overrides: Sequence[str], source: SourceMap) -> dict[str, Any]:
    """Apply each override in order (a later one wins) and return ``data``."""
    for override in overrides:
        apply_override(data, override, source)
    return data
