"""YAML loading with safe-load semantics that remembers where every key came from.

``yaml.SafeLoader`` semantics only: any tag without a safe constructor (``!!python/object``,
``!custom``) is refused before anything is constructed. Two deliberate differences from plain
``yaml.safe_load``: numbers such as ``1e-3`` are floats (YAML 1.1 wants a dot and a signed
exponent, so PyYAML reads them as strings), and a key given twice in one mapping is an error
instead of silently keeping the last value.

Bounded: a document may nest at most MAX_DEPTH levels, hold at most MAX_VALUES values once its
aliases are expanded (a "billion laughs" alias bomb of 9 levels of 9 aliases is 387 million), and
write an integer in at most MAX_INTEGER_CHARS characters (Python refuses to convert over 4,300
digits). An alias inside the value it names (a cycle) is refused: a config is a tree. Every
later pass over the data (overrides, validation, checkpoints) therefore sees a small, finite tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import yaml

from ttrain.config.errors import ConfigError, ConfigIssue, format_path
from ttrain.input_files import CONFIG, read_input

OVERRIDE_PREFIX = "--set "  # the "file" of a value given on the command line
_YAML_TAG_PREFIX = "tag:yaml.org,2002:"
_MERGE_TAG = _YAML_TAG_PREFIX + "merge"
_INT_TAG = _YAML_TAG_PREFIX + "int"

MAX_DEPTH = 64  # real configs nest about 6 levels; PyYAML's composer recurses per level
MAX_VALUES = 100_000  # real configs hold a few hundred
MAX_INTEGER_CHARS = 100  # a 64-bit integer has at most 20 digits


@dataclass(frozen=True)
class Location:
    """Where a value came from: a file and line, or a ``--set`` override (``line`` is None)."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file] + [str(n) for n in (self.line, self.column) if n is not None]
        return ":".join(parts)

    @property
    def is_override(self) -> bool:
        """True for a value given on the command line with ``--set``."""
        return self.file.startswith(OVERRIDE_PREFIX)


class SourceMap:
    """Maps dotted key paths (``optimizer.lr``, ``model.layers.2.linear``) to their Location.

    A path that was never written (a missing key, a default) is located at its nearest written
    ancestor, and finally at the file itself.
    """

    def __init__(self, root: Location) -> None:
        self.root = root
        self._locations: dict[str, Location] = {}

    def record(self, path: Sequence[str | int], location: Location) -> None:
        """Remember that ``path`` was written at ``location``."""
        self._locations[format_path(path)] = location

    def forget(self, path: Sequence[str | int]) -> None:
        """Drop ``path`` and everything below it (its value was replaced)."""
        key = format_path(path)
        for known in [k for k in self._locations if k == key or k.startswith(key + ".")]:
            del self._locations[known]

    def __contains__(self, path: Sequence[str | int]) -> bool:
        return format_path(path) in self._locations

    def locate(self, path: Sequence[str | int]) -> Location:
        """The location of ``path`` or of its nearest recorded ancestor."""
        parts = list(path)
        while parts:
            found = self._locations.get(format_path(parts))
            if found is not None:
                return found
            parts.pop()
        return self.root

    def paths(self) -> list[str]:
        """Every recorded dotted path, in the order first recorded."""
        return list(self._locations)


# YAML 1.2 floats that YAML 1.1 (and so PyYAML) leaves as strings: an exponent without a dot
# (1e-3, 5E4) or without a sign (1.0e5).
_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


class _LimitExceeded(yaml.YAMLError):
    """A document past one of the bounds above (not a syntax error): reported with its position."""

    def __init__(self, message: str, mark: yaml.Mark) -> None:
        super().__init__(message)
        self.message, self.mark = message, mark


class SafeLineLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads ``1e-3`` as a float, and nests at most MAX_DEPTH levels."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        # Composing recurses once per mapping or list: stop long before Python's recursion limit.
        if not self.check_event(yaml.MappingStartEvent, yaml.SequenceStartEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                message = f"mappings and lists nested deeper than {MAX_DEPTH} levels"
                raise _LimitExceeded(message, self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


SafeLineLoader.add_implicit_resolver(_YAML_TAG_PREFIX + "float", _EXPONENT_FLOAT, list("-+0123456789."))


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML_TAG_PREFIX):] if tag.startswith(_YAML_TAG_PREFIX) else tag


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


class _Walker:
    """Checks tags and duplicate keys and records every key path's line, before construction."""

    def __init__(self, filename: str, source: SourceMap) -> None:
        self.filename = filename
        self.source = source
        self._active: set[int] = set()  # node ids on the current path (to find alias cycles)
        self._values = 0  # values seen, counting each alias as often as it is used

    def error(self, path: Sequence[str | int], node: yaml.Node, message: str) -> ConfigError:
        return ConfigError(ConfigIssue(format_path(path), message, f"{self.filename}:{_line(node)}"))

    def walk(self, node: yaml.Node, path: tuple[str | int, ...]) -> None:
        self._enter(node, path)
        self._check_tag(node, path)
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                self._walk_mapping(node, path, explicit=set())
            elif isinstance(node, yaml.SequenceNode):
                for index, item in enumerate(node.value):
                    self.source.record((*path, index), Location(self.filename, _line(item)))
                    self.walk(item, (*path, index))
        finally:
            self._active.discard(id(node))

    def _enter(self, node: yaml.Node, path: Sequence[str | int]) -> None:
        """Count one more value; refuse an alias cycle, an alias bomb, and an overlong integer."""
        if id(node) in self._active:
            raise self.error(path, node, "an alias inside the value it refers to makes a cycle; "
                                         "a config must be a tree")
        self._values += 1
        if self._values > MAX_VALUES:
            raise self.error(path, node, f"more than {MAX_VALUES:,} values once aliases are expanded "
                                         "(an alias bomb?)")
        if node.tag == _INT_TAG and isinstance(node, yaml.ScalarNode) and len(node.value) > MAX_INTEGER_CHARS:
            raise self.error(path, node, f"an integer of {len(node.value):,} characters is too long "
                                         f"(at most {MAX_INTEGER_CHARS})")

    def _check_tag(self, node: yaml.Node, path: Sequence[str | int]) -> None:
        if node.tag in SafeLineLoader.yaml_constructors or node.tag == _MERGE_TAG:
            return
        tag = _short_tag(node.tag)
        if tag.startswith("!!python/"):
            raise self.error(path, node, f"tag {tag!r} is not allowed: configs are read with YAML "
                                         "safe-load semantics, which never create Python objects")
        raise self.error(path, node, f"unknown YAML tag {tag!r}")

    def _walk_mapping(self, node: yaml.MappingNode, path: tuple[str | int, ...], explicit: set[str]) -> None:
        # Keys written in this mapping win over keys brought in by a `<<: *anchor` merge.
        seen: dict[str, int] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error(path, key_node, "keys must be plain names, not lists or mappings")
            key = key_node.value
            if key in seen:
                raise self.error((*path, key), key_node, f"duplicate key {key!r} (first given at line {seen[key]})")
            seen[key] = _line(key_node)
            if key in explicit:
                continue
            self.source.record((*path, key), Location(self.filename, _line(key_node)))
            self.walk(value_node, (*path, key))
        for merged in merges:
            sources = merged.value if isinstance(merged, yaml.SequenceNode) else [merged]
            for source in sources:
                if isinstance(source, yaml.MappingNode):
                    self._enter(source, path)
                    self._active.add(id(source))
                    try:
                        self._walk_mapping(source, path, explicit | set(seen))
                    finally:
                        self._active.discard(id(source))


def _syntax_error(filename: str, exc: yaml.YAMLError) -> ConfigError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark is not None else filename
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    detail = f"{context}, {problem}" if context else problem
    return ConfigError(ConfigIssue("", f"bad YAML syntax: {detail}", where))


def load_yaml(text: str, filename: str = "<string>") -> tuple[Any, SourceMap]:
    """Parse one YAML document with safe-load semantics; returns the data and its SourceMap.

    An empty document gives ``{}``. Raises ConfigError for bad syntax (``file:line:column``), a
    refused tag, or a duplicate key.
    """
    source = SourceMap(Location(filename))
    try:
        loader = SafeLineLoader(text)  # checks every character at once: a control character fails here
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise ConfigError(ConfigIssue("", f"character {exc.character:#06x} is not allowed in YAML text "
                                          "(a control character or a binary file?)",
                                      f"{filename}:{line}:{column}")) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return {}, source
        _Walker(filename, source).walk(node, ())
        return loader.construct_document(node), source
    except _LimitExceeded as exc:
        where = f"{filename}:{exc.mark.line + 1}:{exc.mark.column + 1}"
        raise ConfigError(ConfigIssue("", exc.message, where)) from None
    except yaml.YAMLError as exc:
        raise _syntax_error(filename, exc) from None
    finally:
        loader.dispose()


def load_yaml_file(path: str | Path) -> tuple[Any, SourceMap]:
    """Read and parse a YAML file (see ``load_yaml``).

    A missing file, one that is not a regular file (a directory, FIFO or device), one over the
    config size limit (``ttrain.input_files``) or not UTF-8 text is a ConfigError naming it.
    """
    path = Path(path)
    raw = read_input(path, CONFIG, lambda problem: ConfigError(ConfigIssue("", problem, str(path))))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(ConfigIssue("", f"not a UTF-8 text file ({exc.reason} at byte {exc.start})",
                                      str(path))) from None
    return load_yaml(text, str(path))


def parse_value(text: str, where: str) -> Any:
    """Parse a single YAML value (an override's right-hand side) with the same safe rules.

    Errors are located at ``where`` (e.g. ``--set optimizer.lr=...``) rather than at a line.
    """
    try:
        value, _ = load_yaml(text, "<value>")
    except ConfigError as exc:
        raise ConfigError([ConfigIssue(i.path, i.message, where, i.suggestion) for i in exc.issues]) from None
    return None if value == {} and not text.strip().startswith("{") else value


def iter_paths(data: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every key path inside nested dicts and lists (used to record an override's sub-keys)."""
    children: Any = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in children:
        yield (*path, key)
        yield from iter_paths(value, (*path, key))
