"""The campaigns in short form (each a handful of cases, the file well under a minute) and, behind the
`campaign` marker, in the long form whose counts the issue asks for.

Every test asserts that no case ended as "other"; the assertion message lists those that did.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.campaigns import bad_data, damaged_checkpoints, hostile_configs, kill9, signals
from tests.campaigns.common import Tally, make_checkpoint


def assert_all_clean(tally: Tally, title: str) -> None:
    assert tally.tried > 0, f"{title}: no case was tried"
    assert not tally.others, tally.report(title, shown=50)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real checkpoint of the tiny run, shared by the short campaigns that need one."""
    return make_checkpoint(tmp_path_factory.mktemp("reference"))


def test_kill9_short(tmp_path: Path) -> None:
    assert_all_clean(kill9.campaign(tmp_path, count=4, fit_share=0.25, seed=1), "kill -9")


def test_signals_short(tmp_path: Path) -> None:
    assert_all_clean(signals.campaign(tmp_path, count=1, seed=2, epochs=40, resume_every=1), "signals")


def test_damaged_checkpoints_short(tmp_path: Path, reference: Path) -> None:
    tally = damaged_checkpoints.campaign(tmp_path, count=75, seed=0, sample=3, reference=reference)
    assert_all_clean(tally, "damaged checkpoints")


HOSTILE_SAMPLE = {
    "model = subprocess:Popen": ("fit",),
    "data = os:system": ("fit",),
    "alias bomb 9 levels of 9": ("config",),
    "10,000-deep flow list": ("config",),
    "!!python/object/apply:os.system": ("config",),
    "trainer.epochs: True": ("config",),
    "/dev/zero as config": ("config",),
}


def test_hostile_configs_short(tmp_path: Path) -> None:
    tally = hostile_configs.campaign(tmp_path, count=None, only=HOSTILE_SAMPLE)
    assert tally.tried == len(HOSTILE_SAMPLE)
    assert_all_clean(tally, "hostile configs")


BAD_DATA_SAMPLE = {
    "CSV: /dev/zero": ("fit",),
    "CSV: NaN feature": ("fit",),
    "npz: pickled object array": ("fit",),
    "npz: x declares 10**10 x 2 floats": ("predict",),
    "IDX: 0 samples": ("predict",),
    "IDX: gzip bomb (4 GiB of zeros)": ("predict",),
}


def test_bad_data_short(tmp_path: Path, reference: Path) -> None:
    tally = bad_data.campaign(tmp_path, count=None, only=BAD_DATA_SAMPLE, checkpoint=reference)
    assert tally.tried == len(BAD_DATA_SAMPLE)
    assert_all_clean(tally, "bad data")


@pytest.mark.campaign
def test_kill9_long(tmp_path: Path) -> None:
    assert_all_clean(kill9.campaign(tmp_path, count=200, fit_share=0.25, seed=0), "kill -9")


@pytest.mark.campaign
def test_signals_long(tmp_path: Path) -> None:
    assert_all_clean(signals.campaign(tmp_path, count=50, seed=0, epochs=150, resume_every=5), "signals")


@pytest.mark.campaign
def test_damaged_checkpoints_long(tmp_path: Path) -> None:
    assert_all_clean(damaged_checkpoints.campaign(tmp_path, count=10_000, seed=0, sample=50), "damaged checkpoints")


@pytest.mark.campaign
def test_hostile_configs_long(tmp_path: Path) -> None:
    tally = hostile_configs.campaign(tmp_path, count=None)
    assert tally.tried >= 200  # over 100 configs, each through two commands
    assert_all_clean(tally, "hostile configs")


@pytest.mark.campaign
def test_bad_data_long(tmp_path: Path) -> None:
    tally = bad_data.campaign(tmp_path, count=None)
    assert tally.tried >= 50
    assert_all_clean(tally, "bad data")
