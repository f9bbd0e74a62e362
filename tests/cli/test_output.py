"""`--json` output is strict JSON: one line, NaN and infinities as null, led by `schema_version` and `command`."""

from __future__ import annotations

import json

from ttrain.cli.output import print_json


def test_nan_and_infinity_become_null(capsys) -> None:
    print_json("fit", {"status": "ok", "final": {"val.loss": float("nan"), "lr": 0.1}, "values": [float("inf"), 1, "x"],
                "pair": (float("-inf"), 2.5)})
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert json.loads(out, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name))) == {
        "schema_version": 1, "command": "fit", "status": "ok", "final": {"val.loss": None, "lr": 0.1}, "values": [None, 1, "x"], "pair": [None, 2.5],
    }
