"""The long campaigns (marker `campaign`) run only when asked for: `python -m pytest -m campaign tests/campaigns`."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "campaign" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="a long campaign: run with -m campaign")
    for item in items:
        if item.get_closest_marker("campaign") is not None:
            item.add_marker(skip)
