"""`--json` output: one strict JSON object on stdout."""

from __future__ import annotations

from typing import Any

from ttrain.strict_json import strict_json


def print_json(value: Any) -> None:
    """Print `value` as one line of strict JSON (a NaN metric becomes null, as `jq` and browsers need)."""
    print(strict_json(value))
