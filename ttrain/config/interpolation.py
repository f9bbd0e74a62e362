"""``${path.to.key}`` references and ``${env:VAR,default}`` in config values.

    trainer: {epochs: 20}
    scheduler: {name: cosine, T_max: "${trainer.epochs}"}      # the number 20
    trainer: {output_dir: "${env:RUNS,runs}/${name}"}          # a string: runs/mnist_mlp

A value that is exactly one reference takes the referenced value with its type (a number, a
list, a mapping); references inside a longer string make a string. An environment variable's
text is read as YAML when it is the whole value (``EPOCHS=5`` gives the number 5), as ``--set``
values are; so is its default. ``\\${`` writes a literal ``${``. References are resolved after the
files are merged and the ``--set`` overrides applied, so an override of a referenced key reaches
every value that refers to it. A missing key, a cycle, or an unset variable with no default is a
ConfigError at the file and line of the value that refers to it. OmegaConf's grammar, kept small:
no nested references and no other resolvers.
"""

from __future__ import annotations

import copy
import os
from typing import Any, Iterator

from ttrain.config.errors import ConfigError, ConfigIssue, KeyPath, did_you_mean, format_path
from ttrain.config.loader import SourceMap, iter_paths, parse_value

_OPEN, _CLOSE, _ESCAPED = "${", "}", "\\${"
_ENV = "env:"


def resolve_references(data: dict[str, Any], source: SourceMap) -> dict[str, Any]:
    """Resolve every reference in ``data`` in place and return it (see the module's docstring)."""
    _Resolver(data, source).resolve(data, ())
    return data


def _pieces(text: str) -> Iterator[tuple[bool, str]]:
    """``text`` split into literal pieces (False, text) and references (True, inside of ``${...}``)."""
    start = 0
    while True:
        opening = text.find(_OPEN, start)
        if opening < 0:
            yield False, text[start:]
            return
        if opening > 0 and text[opening - 1] == "\\":  # an escaped `\${`: a literal `${`
            yield False, text[start : opening - 1] + _OPEN
            start = opening + len(_OPEN)
            continue
        closing = text.find(_CLOSE, opening)
        if closing < 0:
            raise ValueError(f"{text[opening:]!r}: a reference has no closing '}}' (write \\${{ for a literal ${{)")
        inner = text[opening + len(_OPEN) : closing]
        if _OPEN in inner:
            raise ValueError(f"{text[opening:closing + 1]!r}: references cannot be nested")
        yield False, text[start:opening]
        yield True, inner.strip()
        start = closing + 1


def _as_text(value: Any, reference: str) -> str:
    """A referenced value embedded in a longer string."""
    if isinstance(value, (dict, list)):
        raise ValueError(f"${{{reference}}} is a {'mapping' if isinstance(value, dict) else 'list'}: it can be "
                         "the whole value, but not part of a string")
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return str(value)


class _Resolver:
    def __init__(self, data: dict[str, Any], source: SourceMap) -> None:
        self.data = data
        self.source = source
        self.resolving: list[KeyPath] = []  # the strings being resolved, outermost first (to find cycles)
        self.done: set[KeyPath] = set()  # resolved values, never read again (an escaped `${` stays literal)

    def resolve(self, value: Any, path: KeyPath) -> Any:
        """``value`` (found at ``path``) with its references resolved; containers in place."""
        if isinstance(value, dict):
            for key in list(value):
                value[key] = self.resolve(value[key], (*path, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                value[index] = self.resolve(item, (*path, index))
        elif isinstance(value, str) and path not in self.done and _OPEN in value:
            self.resolving.append(path)
            try:
                value = self._substitute(value, path)
            finally:
                self.resolving.pop()
            self.done.update([path, *iter_paths(value, path)])
        return value

    def _error(self, path: KeyPath, message: str, suggestion: str | None = None) -> ConfigError:
        return ConfigError(ConfigIssue(format_path(path), message, str(self.source.locate(path)), suggestion))

    def _substitute(self, text: str, path: KeyPath) -> Any:
        try:
            pieces = list(_pieces(text))
            whole = [piece for piece in pieces if piece != (False, "")]
            if len(whole) == 1 and whole[0][0]:  # exactly one reference: its value, with its type
                return self._value_of(whole[0][1], path, typed=True)
            return "".join(_as_text(self._value_of(inner, path, typed=False), inner) if is_reference else inner
                           for is_reference, inner in pieces)
        except ValueError as error:
            if isinstance(error, ConfigError):
                raise
            raise self._error(path, str(error)) from None

    def _value_of(self, reference: str, path: KeyPath, typed: bool) -> Any:
        if reference.startswith(_ENV):
            return self._environment(reference[len(_ENV):], path, typed)
        if ":" in reference:
            resolver = reference.split(":", 1)[0]
            raise self._error(path, f"${{{reference}}}: unknown resolver {resolver!r} (only env: is known)")
        if not reference:
            raise self._error(path, "${}: an empty reference (write ${section.key})")
        return copy.deepcopy(self._resolve_path(reference, path))

    def _environment(self, argument: str, path: KeyPath, typed: bool) -> Any:
        name, has_default, default = (part.strip() for part in argument.partition(","))
        if not name:
            raise self._error(path, f"${{env:{argument}}}: no variable name")
        text = os.environ.get(name)
        if text is None and not has_default:
            raise self._error(path, f"environment variable {name} is not set, and ${{env:{name}}} gives no default "
                                    f"(write ${{env:{name},DEFAULT}})")
        text = default if text is None else text
        if not typed:
            return text
        try:
            return parse_value(text, "")
        except ConfigError as error:
            raise self._error(path, f"${{env:{argument}}}: {error.issues[0].message}") from None

    def _resolve_path(self, reference: str, origin: KeyPath) -> Any:
        """The resolved value at the dotted key ``reference``."""
        target: KeyPath = ()
        node: Any = self.data
        parts = reference.split(".")
        for index, part in enumerate(parts):
            if isinstance(node, dict) and part in node:
                key: str | int = part
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                key = int(part)
            else:
                known = [format_path(p) for p in iter_paths(self.data)]
                raise self._error(origin, f"${{{reference}}}: no key {reference!r} in the config",
                                  did_you_mean(reference, known))
            target = (*target, key)
            # Resolve only what is read: the target (all of it), and a string on the way (to step into
            # its value); a mapping on the way may hold other references that this one does not need.
            if index == len(parts) - 1 or isinstance(node[key], str):
                if any(target == active[: len(target)] for active in self.resolving):
                    chain = " -> ".join(format_path(p) for p in [*self.resolving, target])
                    raise self._error(origin, f"${{{reference}}}: the references make a cycle ({chain})")
                node[key] = self.resolve(node[key], target)
            node = node[key]
        return node
