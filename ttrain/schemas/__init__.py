"""JSON Schemas shipped with ttrain: `output.schema.json` describes every `--json` output and each
run's `summary.json` (their `schema_version` is `ttrain.strict_json.SCHEMA_VERSION`)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def output_schema() -> dict[str, Any]:
    """The JSON Schema of ttrain's `--json` outputs and `summary.json` files."""
    return json.loads(resources.files(__name__).joinpath("output.schema.json").read_text(encoding="utf-8"))
