"""A sweep's search space: a grid of values, or distributions to sample, and their small grammar.

    --grid optimizer.lr=0.1,0.01,0.001        every combination of the --grid keys' values
    --param "optimizer.lr=loguniform(1e-4,1e-1)"
    --param "trainer.batch_size=choice(16,32,64)"

Distributions: ``loguniform(a,b)``, ``uniform(a,b)``, ``int(a,b)``, ``int(a,b,step)`` and
``choice(x,y,...)``. Every value is read as YAML (``0.1`` a float, ``true`` a bool, ``adam`` a
string), and must be a plain value (a number, string, bool or null): Optuna stores nothing else.
This module imports neither Optuna nor NumPy: the config schema parses ``sweep.params`` with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Union

Scalar = Union[None, bool, int, float, str]

_CALL = re.compile(r"^\s*([A-Za-z_]+)\s*\((.*)\)\s*$", re.DOTALL)
FORMS = "loguniform(a,b), uniform(a,b), int(a,b), int(a,b,step) or choice(x,y,...)"


@dataclass(frozen=True)
class Distribution:
    """One key's distribution: ``kind`` is loguniform, uniform, int or choice."""

    kind: str
    low: float | int | None = None
    high: float | int | None = None
    step: int = 1
    choices: tuple[Scalar, ...] = ()

    def to_optuna(self) -> Any:
        """The Optuna distribution (imports Optuna)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "choice":
            return CategoricalDistribution(self.choices)
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), step=self.step)
        return FloatDistribution(float(self.low), float(self.high), log=self.kind == "loguniform")


def split_values(text: str) -> list[str]:
    """``"0.1, [1,2], x"`` -> ``["0.1", "[1,2]", "x"]``: commas inside brackets or quotes do not split."""
    parts, depth, quote, current = [], 0, None, []
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return parts


def _scalar(text: str) -> Scalar:
    from ttrain.config.errors import ConfigError
    from ttrain.config.loader import parse_value

    if not text:
        raise ValueError("empty value")
    try:
        value = parse_value(text, "<value>")
    except ConfigError as error:
        raise ValueError(f"{text!r} is not a YAML value ({error.issues[0].message})") from None
    return check_scalar(value)


def check_scalar(value: Any) -> Scalar:
    """``value`` if it is a plain value a study can store; else a ValueError."""
    if value is not None and not isinstance(value, (bool, int, float, str)):
        raise ValueError(f"{value!r}: a swept value must be a number, string, bool or null, "
                         f"not a {type(value).__name__}")
    return value


def _number(text: str, integer: bool) -> float | int:
    value = _scalar(text)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ValueError(f"expected {'an integer' if integer else 'a number'}, found {text!r}")
    return value


def parse_distribution(text: str) -> Distribution:
    """``"loguniform(1e-4,1e-1)"`` -> its Distribution; anything else is a ValueError saying what is allowed."""
    match = _CALL.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"expected {FORMS}, found {text!r}")
    kind, args = match.group(1), split_values(match.group(2))
    if kind == "choice":
        if args == [""]:
            raise ValueError("choice() needs at least one value")
        return Distribution("choice", choices=tuple(_scalar(a) for a in args))
    if kind not in ("loguniform", "uniform", "int"):
        raise ValueError(f"unknown distribution {kind!r}: expected {FORMS}")
    arity = (2, 3) if kind == "int" else (2,)
    if len(args) not in arity:
        raise ValueError(f"{kind}() takes {' or '.join(map(str, arity))} numbers, found {len(args)}: {text!r}")
    low, high = (_number(a, kind == "int") for a in args[:2])
    step = _number(args[2], True) if len(args) == 3 else 1
    if not low < high:
        raise ValueError(f"{kind}({low}, {high}): the low end must be below the high end")
    if kind == "loguniform" and low <= 0:
        raise ValueError(f"loguniform({low}, {high}): both ends must be > 0")
    if step < 1:
        raise ValueError(f"int(): the step must be >= 1, found {step}")
    return Distribution(kind, low, high, step)


def parse_assignment(option: str) -> tuple[str, str]:
    """``"optimizer.lr=..."`` -> ``("optimizer.lr", "...")``; a ValueError without a key and ``=``."""
    key, sep, value = option.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"expected KEY.PATH=VALUES, found {option!r}")
    return key.strip(), value.strip()


def parse_grid_values(text: str) -> list[Scalar]:
    """``"0.1,0.01"`` -> ``[0.1, 0.01]`` (YAML values); at least one, none repeated."""
    values = [_scalar(part) for part in split_values(text)]
    duplicates = {repr(v) for v in values if values.count(v) > 1}
    if duplicates:
        raise ValueError(f"repeated value{'s' if len(duplicates) > 1 else ''}: {', '.join(sorted(duplicates))}")
    return values
