"""Translate pydantic ValidationErrors into plain ``(key path, message, suggestion)`` triples.

Users never see a raw pydantic dump: each error becomes "expected X, found Y" at the key path
the user wrote. Pydantic's locations also name union members (``'int'``, ``"literal['auto']"``);
those are dropped by walking the location through the data the user gave, and the expectations
of all members are joined ("expected an integer or 'auto', found 'x'").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from pydantic import ValidationError

from ttrain.config.errors import KeyPath, describe_value, did_you_mean

AllowedKeys = Callable[[KeyPath], Iterable[str]]

_EXPECTED_BY_TYPE = {
    "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys",
    "dict_type": "a mapping of keys",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "finite_number": "a finite number",
    "none_required": "null",
    "path_type": "a path",
}
_BOUNDS = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="),
           "less_than": ("lt", "<"), "less_than_equal": ("le", "<=")}


@dataclass
class _Problem:
    expected: list[str] = field(default_factory=list)
    found: Any = None
    texts: list[str] = field(default_factory=list)
    suggestion: str | None = None


def _user_path(loc: tuple[Any, ...], data: Any, error_type: str) -> KeyPath:
    """The part of ``loc`` that names keys the user wrote (union member tags dropped)."""
    node, path = data, []
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif not (i == len(loc) - 1 and error_type == "missing" and isinstance(node, dict)):
            continue
        path.append(part)
    return tuple(path)


def _expected(error: dict[str, Any]) -> str | None:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _EXPECTED_BY_TYPE:
        return _EXPECTED_BY_TYPE[kind]
    if kind in _BOUNDS:
        key, symbol = _BOUNDS[kind]
        bound = ctx[key]
        return f"a value {symbol} {int(bound) if isinstance(bound, float) and bound.is_integer() else bound}"
    if kind == "literal_error":
        return ctx["expected"]
    if kind == "is_instance_of":
        return f"an instance of {ctx.get('class', '?')}"
    if kind in ("too_short", "too_long"):
        bound = "at least" if kind == "too_short" else "at most"
        count = ctx.get("min_length" if kind == "too_short" else "max_length")
        return f"{bound} {count} item{'s' if count != 1 else ''}"
    message = error["msg"]
    if message.startswith("Input should be "):
        return message[len("Input should be "):].split(",")[0]
    return None


def translate(
    exc: ValidationError, data: Any, allowed_keys: AllowedKeys | None = None
) -> list[tuple[KeyPath, str, str | None]]:
    """``(path, message, suggestion)`` for each problem in ``exc``, paths relative to ``data``."""
    problems: dict[KeyPath, _Problem] = {}
    for error in exc.errors(include_url=False):
        kind = error["type"]
        path = _user_path(tuple(error["loc"]), data, kind)
        problem = problems.setdefault(path, _Problem())
        if kind == "missing" and isinstance(error.get("input"), list):
            # A fixed-length list (a tuple such as Adam's betas) with too few items.
            problem.expected.append(f"at least {error['loc'][-1] + 1} items")
            problem.found = error["input"]
        elif kind == "missing":
            problem.texts.append("missing required value")
        elif kind == "extra_forbidden":
            problem.texts.append("unknown key")
            if allowed_keys is not None and path:
                problem.suggestion = did_you_mean(path[-1], allowed_keys(path[:-1]))
        elif kind in ("value_error", "assertion_error"):
            problem.texts.append(re.sub(r"^(Value|Assertion) error, ", "", error["msg"]))
        elif (expected := _expected(error)) is not None:
            problem.expected.append(expected)
            problem.found = error.get("input")
            if kind == "literal_error" and isinstance(problem.found, str):
                problem.suggestion = did_you_mean(problem.found, re.findall(r"'([^']*)'", expected))
        else:
            problem.texts.append(error["msg"])
    results = []
    for path, problem in problems.items():
        # An error inside a value hides the union member that merely rejected the whole value.
        if any(other[: len(path)] == path and len(other) > len(path) for other in problems):
            continue
        texts = list(dict.fromkeys(problem.texts))
        if problem.expected:
            expected = " or ".join(dict.fromkeys(problem.expected))
            texts.append(f"expected {expected}, found {describe_value(problem.found)}")
        results.append((path, "; ".join(texts), problem.suggestion))
    return results
