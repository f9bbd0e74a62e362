"""A schedule laid out over the run's length follows `trainer.epochs` when the config leaves its
length out, and a length written in the config that no longer fits the run is a warning."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

SPIRALS = """\
seed: 0
model: {layers: [{linear: {out_features: 8}}, relu, {linear: {out_features: 2}}]}
data: {name: spirals, n_train: 128, n_test: 64}
optimizer: {name: sgd, lr: 0.1}
trainer: {epochs: 4, batch_size: 32}
"""  # 4 batches an epoch


def _lrs(run_dir: str) -> list[float]:
    lines = (Path(run_dir) / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line)["lr"] for line in lines if "lr" in json.loads(line)]


def _fit(cli, config: Path, out_dir: Path, *sets: str):
    args = [item for s in sets for item in ("--set", s)]
    return cli("fit", config, "--json", "--set", f"trainer.output_dir={out_dir}", *args)


def test_cosine_without_t_max_anneals_over_the_whole_run_whatever_its_epochs(cli, write_config, out_dir) -> None:
    config = write_config(SPIRALS + "scheduler: {name: cosine, eta_min: 0.0}\n", "cosine.yaml")
    for epochs in (3, 6):
        result = _fit(cli, config, out_dir, f"trainer.epochs={epochs}")
        assert result.exit_code == 0, result.stderr
        assert "warning" not in result.stderr
        lrs = _lrs(json.loads(result.stdout)["run_dir"])
        expected = [0.1 * (1 + math.cos(math.pi * e / epochs)) / 2 for e in range(epochs)]
        assert lrs == pytest.approx(expected, abs=1e-9)  # each epoch's lr: half a cosine over the run


def test_onecycle_per_batch_and_per_epoch_gets_the_run_length_in_its_own_unit(cli, write_config, out_dir) -> None:
    config = write_config(SPIRALS + "scheduler: {name: onecycle, max_lr: 0.5}\n", "onecycle.yaml")
    for interval in ("step", "epoch"):
        result = _fit(cli, config, out_dir, f"scheduler.interval={interval}", "trainer.epochs=3")
        assert result.exit_code == 0, result.stderr  # a schedule one step too short would fail the run
        assert "warning" not in result.stderr
        assert _lrs(json.loads(result.stdout)["run_dir"])[-1] < 0.5 / 25  # ended at the bottom of the cycle


@pytest.mark.parametrize("sets, fragment", [
    (["trainer.epochs=8"], "scheduler.T_max: the schedule is 4 epochs long but the run is 8 epochs: it ends "
                           "before the run does (leave T_max out to fit the schedule to the run)"),
    (["trainer.epochs=2"], "scheduler.T_max: the schedule is 4 epochs long but the run is 2 epochs: it is cut short"),
    (["trainer.epochs=2", "scheduler.interval=step"], "scheduler.T_max: the schedule is 4 batches long but the run is 8 batches"),
])
def test_a_written_length_that_no_longer_fits_is_a_warning_at_its_line(cli, write_config, out_dir,
                                                                       sets: list[str], fragment: str) -> None:
    config = write_config(SPIRALS + "scheduler:\n  name: cosine\n  T_max: 4\n", "cosine.yaml")
    result = _fit(cli, config, out_dir, *sets)
    assert result.exit_code == 0, result.stderr
    assert f"warning: {config}:8: {fragment}" in result.stderr
    json.loads(result.stdout)  # stdout stays one JSON object
    quiet = _fit(cli, config, out_dir, "trainer.epochs=4")
    assert quiet.exit_code == 0 and "warning" not in quiet.stderr
