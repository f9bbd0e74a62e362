"""The corpus of bad configs in tests/config/bad/: each file states the error it must produce.

Header lines of each file:
    # path: <key path of the issue>          (empty for file-level problems)
    # line: <n> | <n>:<column> | none | --set <override>   (where the issue is located)
    # message: <text the rendered issue must contain>
    # set: <override>                        (optional, repeatable: applied as --set)
    # issues: <count>                        (optional, default 1: how many problems in all)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ttrain.config import ConfigError, load_config

BAD = Path(__file__).parent / "bad"
CASES = sorted(BAD.glob("*.yaml"))


def expectations(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("# "):
            break
        key, _, value = line[2:].partition(":")
        found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_corpus_is_large_and_every_case_states_its_error() -> None:
    assert len(CASES) >= 30
    for case in CASES:
        expected = expectations(case)
        assert {"path", "line", "message"} <= set(expected), case.name


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_bad_config(case: Path, stub_registry: object) -> None:
    expected = expectations(case)
    with pytest.raises(ConfigError) as info:
        load_config(case, expected.get("set", []))
    error = info.value
    assert len(error.issues) == int(expected.get("issues", ["1"])[0]), str(error)
    (path,) = expected["path"]
    matching = [issue for issue in error.issues if issue.path == path]
    assert matching, f"no issue at {path!r} in:\n{error}"
    issue = matching[0]
    (line,) = expected["line"]
    if line == "none":
        where = str(case)
    elif line.startswith("--set"):
        where = line
    else:
        where = f"{case}:{line}"
    assert issue.location == where, str(error)
    for message in expected["message"]:
        assert message in issue.render(), f"{message!r} not in {issue.render()!r}"
    # What a user sees: plain lines, each naming the place; never a pydantic dump.
    text = str(error)
    assert "pydantic" not in text and "errors.pydantic.dev" not in text and "Traceback" not in text
    assert len(text.splitlines()) <= 12
