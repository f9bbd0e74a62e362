"""Test-wide settings: a fixed global seed per test so results never depend on test order; kernels
compile in the test's own process (no background compiling, which tests/autograd/test_cold_start.py
switches on where it tests it), so the kernel tests run the kernels whatever the cache holds."""

from __future__ import annotations

import os

import pytest

import ttrain

os.environ["TTRAIN_BACKGROUND_COMPILE"] = "0"  # the CLI's subprocesses inherit it


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    ttrain.manual_seed(0)
