"""Config errors: a list of issues, each naming the key path, where it is, and what went wrong.

A user's mistake in a config is shown as a few plain lines (no traceback, no pydantic dump):

    config error in configs/mnist.yaml (2 problems):
      configs/mnist.yaml:12: optimizer.wieght_decay: unknown key; did you mean 'weight_decay'?
      configs/mnist.yaml:15: trainer.batch_size: expected a number >= 1, found 0
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Sequence

KeyPath = tuple[str | int, ...]


def format_path(path: Sequence[str | int]) -> str:
    """``("model", "layers", 2, "linear")`` -> ``"model.layers.2.linear"``."""
    return ".".join(str(part) for part in path)


def did_you_mean(word: object, candidates: Iterable[object]) -> str | None:
    """The candidate closest to ``word`` (difflib ratio >= 0.6), or None."""
    names = [str(c) for c in candidates]
    matches = difflib.get_close_matches(str(word), names, n=1, cutoff=0.6)
    return matches[0] if matches else None


def describe_value(value: object, limit: int = 60) -> str:
    """A short repr of a user's value for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config: where (``location``, ``path``), what (``message``), and a hint."""

    path: str
    message: str
    location: str | None = None
    suggestion: str | None = None

    def render(self) -> str:
        """One line: ``file:line: key.path: message; did you mean 'x'?``."""
        parts = [p for p in (self.location, self.path) if p]
        text = ": ".join([*parts, self.message])
        if self.suggestion is not None:
            text += f"; did you mean {self.suggestion!r}?"
        return text


class ConfigError(ValueError):
    """A config that cannot be used; ``issues`` lists every problem found, in file order."""

    def __init__(self, issues: Sequence[ConfigIssue] | ConfigIssue, source: str | None = None) -> None:
        self.issues: list[ConfigIssue] = [issues] if isinstance(issues, ConfigIssue) else list(issues)
        if not self.issues:
            raise ValueError("ConfigError needs at least one issue")
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        """The issues as plain lines, with a heading when there are several."""
        lines = [issue.render() for issue in self.issues]
        if len(lines) == 1:
            return lines[0]
        where = f" in {self.source}" if self.source else ""
        return "\n".join([f"config error{where} ({len(lines)} problems):", *("  " + line for line in lines)])


class ConfigWarning(UserWarning):
    """A config that runs, but likely not as meant; its message starts with ``file:line: key:``
    (``ttrain`` commands show it as ``warning: ...`` on stderr)."""
