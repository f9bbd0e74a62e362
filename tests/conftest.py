"""Test-wide settings: a fixed global seed per test so results never depend on test order."""

from __future__ import annotations

import pytest

import ttrain


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    ttrain.manual_seed(0)
