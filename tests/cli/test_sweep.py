"""`ttrain sweep`, end to end through the CLI on a config that trains in a fraction of a second.

Grids, sampled searches, the `sweep:` config section and its errors, the sweep directory and its
results, resuming (after Ctrl-C and after a crash), failures, pruning, workers sharing a study,
`--repeat-seeds` and `--json`.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import jsonschema
import pytest

from .helpers import assert_fails, subprocess_env

optuna = pytest.importorskip("optuna")

BLOBS = """\
seed: 1
model:
  layers:
    - linear: {out_features: 16}
    - relu
    - linear: {out_features: 3}
data: {name: blobs, n_train: 192, n_test: 96}
optimizer: {name: sgd, lr: 0.1}
trainer: {epochs: 2, batch_size: 32, val_split: 0.25}
"""


@pytest.fixture
def config(write_config: Callable[..., Path]) -> Path:
    return write_config(BLOBS, "blobs.yaml")


@pytest.fixture
def sweep(cli: Callable[..., Any], out_dir: Path) -> Callable[..., Any]:
    """Run `ttrain sweep CONFIG ... --set trainer.output_dir=<tmp>` in this process."""

    def run(config: Path, *args: Any) -> Any:
        return cli("sweep", config, "--set", f"trainer.output_dir={out_dir}", *args)

    return run


def _json(result: Any) -> dict[str, Any]:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def _params(summary: dict[str, Any]) -> list[tuple]:
    return sorted(tuple(sorted(t["params"].items())) for t in summary["trials"])


def test_a_grid_runs_every_combination_once_in_one_sweep_directory(sweep: Callable[..., Any], config: Path,
                                                                   out_dir: Path) -> None:
    result = sweep(config, "--grid", "optimizer.lr=0.3,0.03", "--grid", "seed=0,1")
    assert result.exit_code == 0, result.stderr
    sweep_dir = out_dir / "blobs-sweep" / "1"
    assert (sweep_dir / "study.db").is_file()
    summary = json.loads((sweep_dir / "sweep.json").read_text())
    assert summary["status"] == "ok" and summary["monitor"] == "val.loss" and summary["mode"] == "min"
    assert _params(summary) == sorted((("optimizer.lr", lr), ("seed", s)) for lr in (0.3, 0.03) for s in (0, 1))
    values = [t["value"] for t in summary["trials"]]
    assert values == sorted(values) and summary["best"] == summary["trials"][0]
    for trial in summary["trials"]:  # each trial's own run directory, with the trial's values in its config
        (run_dir,) = trial["run_dirs"]
        assert Path(run_dir).parent.parent == sweep_dir / "trials"
        assert f"lr: {trial['params']['optimizer.lr']}" in (Path(run_dir) / "config.yaml").read_text()
        assert (Path(run_dir) / "checkpoints" / "best.safetensors").is_file()
    with open(sweep_dir / "sweep.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [int(r["trial"]) for r in rows] == [t["trial"] for t in summary["trials"]]
    assert {"optimizer.lr", "seed", "value", "std", "final.test.accuracy", "run_dirs"} <= set(rows[0])
    # Off a terminal the table is plain lines, best first; the progress goes to stderr.
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["#", "trial", "status"] and "\x1b" not in result.stdout
    assert lines[1].split()[1] == str(summary["best"]["trial"])
    assert result.stderr.count(" complete: ") == 4


def test_a_sampled_search_runs_its_trials_and_is_seeded(sweep: Callable[..., Any], config: Path) -> None:
    args = ("--param", "optimizer.lr=loguniform(1e-3,1)", "--param", "trainer.batch_size=choice(16,32)",
            "--trials", "3", "--sampler", "random", "--json")
    first, second = _json(sweep(config, *args)), _json(sweep(config, *args))
    assert len(first["trials"]) == 3 and first["counts"]["complete"] == 3
    assert all(1e-3 <= t["params"]["optimizer.lr"] <= 1 for t in first["trials"])
    assert _params(first) == _params(second)  # same config seed, same draws
    assert first["sweep_dir"] != second["sweep_dir"]


def test_the_sweep_section_of_a_config_is_the_space_and_fit_ignores_it(
    sweep: Callable[..., Any], write_config: Callable[..., Path], fit_json: Callable[..., dict[str, Any]]
) -> None:
    config = write_config(BLOBS + "sweep:\n  grid: {optimizer.lr: [0.3, 0.03]}\n  monitor: val.accuracy\n", "blobs.yaml")
    summary = _json(sweep(config, "--json"))
    assert summary["monitor"] == "val.accuracy" and summary["mode"] == "max"
    assert sorted(t["params"]["optimizer.lr"] for t in summary["trials"]) == [0.03, 0.3]
    run = fit_json(config)  # `ttrain fit` trains the config as it is, and its run leaves the section out
    assert "\nsweep:" not in (Path(run["run_dir"]) / "config.yaml").read_text()


@pytest.mark.parametrize(
    ("section", "line", "fragments"),
    [
        ("  grid: {optimizer.lr: [0.1]}\n  trails: 3\n", 12, ["sweep.trails: unknown key", "'trials'"]),
        ("  params:\n    optimizer.lr: logunif(1e-3,1)\n", 12, ["sweep.params.optimizer.lr", "unknown distribution"]),
        ("  grid:\n    optimizer.lrr: [0.1, 0.2]\n", 12, ["optimizer.lrr", "'lr'"]),
        ("  grid: {optimizer.lr: [0.1]}\n  monitor: val.acc\n", 12, ["sweep.monitor", "'val.accuracy'"]),
    ],
)
def test_a_bad_sweep_section_is_a_config_error_at_its_line(
    sweep: Callable[..., Any], write_config: Callable[..., Path], out_dir: Path,
    section: str, line: int, fragments: list[str],
) -> None:
    config = write_config(BLOBS + "sweep:\n" + section, "blobs.yaml")
    result = sweep(config)
    assert_fails(result, 2, f"{config}:{line}", *fragments)
    assert not (out_dir / "blobs-sweep").exists()  # nothing ran, nothing was created


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--grid", "optimizer.lrr=0.1,0.2"], ["--grid optimizer.lrr=0.1,0.2", "did you mean 'lr'"]),
        (["--param", "optimizer.lr=normal(0,1)"], ["--param optimizer.lr=normal(0,1)", "unknown distribution"]),
        (["--grid", "optimizer.lr=0.1", "--param", "seed=int(0,3)"], ["either --grid", "not both"]),
        (["--grid", "name=a,b"], ["name", "cannot be swept"]),
        ([], ["nothing to sweep"]),
        (["--grid", "optimizer.lr=0.1", "--trials", "3"], ["--trials 3", "trials is for sampled params"]),
        (["--param", "optimizer.lr=uniform(0.1,1)", "--sampler", "grid"], ["--sampler grid", "'tpe' or 'random'"]),
        (["--grid", "optimizer.lr=0.1", "--storage", "nosuch://db"], ["--storage", "cannot open the study storage"]),
    ],
)
def test_a_bad_space_on_the_command_line_is_bad_input(sweep: Callable[..., Any], config: Path,
                                                      args: list[str], fragments: list[str]) -> None:
    assert_fails(sweep(config, *args), 2, *fragments)


def test_failed_trials_are_recorded_and_the_sweep_goes_on(sweep: Callable[..., Any], config: Path) -> None:
    # lr=-1 is refused by the optimizer (a bad value: exit code 2); lr=1e30 makes the loss NaN (1).
    grid = ("--grid", "optimizer.lr=0.3,-1,1e30")
    result = sweep(config, *grid, "--json")
    assert result.exit_code == 1 and "2 of 3 trials failed" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "failed" and summary["counts"]["failed"] == 2
    assert summary["trials"][0]["status"] == "complete" and summary["best"]["params"]["optimizer.lr"] == 0.3
    failures = {t["params"]["optimizer.lr"]: t for t in summary["trials"][1:]}
    assert failures[-1]["exit_code"] == 2 and "lr" in failures[-1]["error"]
    assert failures[1e30]["exit_code"] == 1 and "loss" in failures[1e30]["error"].lower()
    assert sweep(config, *grid, "--allow-failures").exit_code == 0
    fail_fast = json.loads(sweep(config, *grid, "--fail-fast", "--json").stdout)
    assert fail_fast["counts"]["failed"] == 1  # no trial starts after the first failure


def test_median_pruning_stops_a_weak_trial_early(sweep: Callable[..., Any], config: Path) -> None:
    # Optuna's MedianPruner judges a trial once 5 have completed. The grid's order is a seeded
    # permutation of its points that does not depend on their values: find which position runs
    # sixth, and put the weak learning rate there.
    good = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    probe = _json(sweep(config, "--grid", "optimizer.lr=" + ",".join(map(str, good)), "--json"))
    sixth = next(t["params"]["optimizer.lr"] for t in probe["trials"] if t["trial"] == 5)
    values = [1e-7 if lr == sixth else lr for lr in good]
    summary = _json(sweep(config, "--grid", "optimizer.lr=" + ",".join(map(str, values)), "--prune", "median",
                          "--set", "trainer.epochs=3", "--json"))
    pruned = [t for t in summary["trials"] if t["status"] == "pruned"]
    assert [t["params"]["optimizer.lr"] for t in pruned] == [1e-7]
    (run_dir,) = pruned[0]["run_dirs"]
    epochs = (Path(run_dir) / "metrics.jsonl").read_text().splitlines()
    assert len(epochs) < 3  # stopped before the last epoch
    assert summary["counts"]["complete"] == 5 and summary["status"] == "ok"


def test_a_resumed_search_runs_only_the_rest_of_its_budget(sweep: Callable[..., Any], config: Path) -> None:
    space = ("--param", "optimizer.lr=loguniform(1e-2,1)")
    first = _json(sweep(config, *space, "--trials", "2", "--json"))
    before = {t["trial"]: t["run_dirs"] for t in first["trials"]}
    resumed = _json(sweep(config, *space, "--trials", "4", "--resume", first["sweep_dir"], "--json"))
    assert resumed["sweep_dir"] == first["sweep_dir"] and len(resumed["trials"]) == 4
    assert {t["trial"]: t["run_dirs"] for t in resumed["trials"] if t["trial"] in before} == before
    trial_dirs = sorted(p.name for p in (Path(first["sweep_dir"]) / "trials").iterdir())
    assert trial_dirs == ["0000", "0001", "0002", "0003"]  # trials 0 and 1 did not run again
    again = _json(sweep(config, *space, "--trials", "4", "--resume", "auto", "--json"))
    assert again["sweep_dir"] == first["sweep_dir"] and len(again["trials"]) == 4  # nothing left to run
    # A resumed sweep must be the same sweep.
    assert_fails(sweep(config, "--param", "optimizer.lr=uniform(0.1,1)", "--resume", first["sweep_dir"]), 2,
                 "made for another sweep")


def test_repeat_seeds_rank_parameter_sets_by_their_mean(sweep: Callable[..., Any], config: Path) -> None:
    summary = _json(sweep(config, "--grid", "optimizer.lr=0.3,0.01", "--repeat-seeds", "3", "--json"))
    assert summary["repeat_seeds"] == 3 and len(summary["trials"]) == 2
    for trial in summary["trials"]:
        assert trial["seeds"] == [1, 2, 3] and len(trial["run_dirs"]) == len(set(trial["run_dirs"])) == 3
        values = trial["values"]
        assert trial["value"] == pytest.approx(sum(values) / 3)
        mean = sum(values) / 3
        assert trial["std"] == pytest.approx((sum((v - mean) ** 2 for v in values) / 3) ** 0.5)
        assert "test.accuracy" in trial["final"]
    assert summary["trials"][0]["value"] <= summary["trials"][1]["value"]


def test_json_prints_one_object_and_nothing_else(sweep: Callable[..., Any], config: Path) -> None:
    result = sweep(config, "--grid", "optimizer.lr=0.3", "--json")
    summary = _json(result)
    assert len(result.stdout.strip().splitlines()) == 1
    assert {"status", "sweep_dir", "storage", "study", "monitor", "mode", "space", "counts", "best", "trials",
            "seconds"} <= set(summary)
    assert summary["space"] == {"grid": {"optimizer.lr": [0.3]}}
    assert {"trial", "status", "params", "value", "std", "seeds", "values", "final", "run_dirs", "seconds",
            "error", "exit_code"} <= set(summary["best"])
    assert (summary.pop("schema_version"), summary.pop("command")) == (1, "sweep")
    assert json.loads(Path(summary["sweep_dir"], "sweep.json").read_text()) == summary
    from ttrain.schemas import output_schema

    jsonschema.validate(json.loads(result.stdout), output_schema())


def test_expectations_gate_the_best_parameter_set(sweep: Callable[..., Any], config: Path) -> None:
    """Checked on the best trial's final metrics (the mean over seeds): a miss is exit 3, an unknown
    metric exit 2 before any trial."""
    grid = ("--grid", "optimizer.lr=0.3,0.01", "--repeat-seeds", "2", "--json")
    passed = _json(sweep(config, *grid, "--expect", "test.accuracy>=0"))
    best = passed["best"]["final"]["test.accuracy"]
    assert passed["expectations"] == [{"expectation": "test.accuracy>=0.0", "metric": "test.accuracy", "op": ">=",
                                       "threshold": 0.0, "actual": best, "passed": True}]
    missed = sweep(config, *grid, "--expect", "test.accuracy>1.5")
    assert missed.exit_code == 3 and json.loads(missed.stdout)["expectations"][0]["passed"] is False
    assert "expect test.accuracy>1.5" in missed.stderr and "FAILED" in missed.stderr
    unknown = sweep(config, *grid, "--expect", "test.acuracy>0.5")
    assert_fails(unknown, 2, "test.accuracy")


def test_jobs_split_the_trials_and_the_cores_between_workers(sweep: Callable[..., Any], config: Path) -> None:
    from ttrain.sweep.worker import threads_per_worker

    summary = _json(sweep(config, "--grid", "optimizer.lr=0.3,0.1", "--grid", "seed=0,1", "--jobs", "2", "--json"))
    assert summary["counts"]["complete"] == 4 and len(set(_params(summary))) == 4
    assert threads_per_worker(1) == (os.cpu_count() or 1) and threads_per_worker(10 ** 6) == 1


def _sweep_process(*args: Any) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ttrain", "sweep", *map(str, args)], env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_share_one_study_and_cover_the_grid_once(config: Path, out_dir: Path, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    args = (config, "--grid", "optimizer.lr=0.3,0.1,0.03", "--grid", "seed=0,1", "--storage", storage,
            "--set", f"trainer.output_dir={out_dir}", "--json")
    processes = [_sweep_process(*args) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    study = optuna.load_study(study_name="blobs", storage=storage)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 6 and len({tuple(sorted(t.params.items())) for t in done}) == 6  # no grid point twice
    # A trial that lost the race for the last point is closed unrun ("skipped"), never trained.
    assert all(t.user_attrs["status"] == "skipped" for t in study.trials if t not in done)
    runs = [p for d in out_dir.glob("blobs-sweep/*/trials/*") for p in d.iterdir()]
    assert len(runs) == 6
    sweep_dirs = {json.loads(out)["sweep_dir"] for out, _ in outputs}
    assert len(sweep_dirs) == 2  # each process has its own directory for the runs it did


def _stop_during_second_trial(config: Path, out_dir: Path, how: signal.Signals, *grid: str) -> tuple[int, str]:
    """Start a sweep, send `how` once its second trial has begun; its exit code and stderr."""
    process = _sweep_process(config, *grid)
    started = time.monotonic()
    while not (out_dir / "blobs-sweep" / "1" / "trials" / "0001").exists():
        assert process.poll() is None and time.monotonic() - started < 120, process.communicate()
        time.sleep(0.05)
    process.send_signal(how)
    _, stderr = process.communicate(timeout=120)
    return process.returncode, stderr


@pytest.mark.parametrize("how", [signal.SIGINT, pytest.param(signal.SIGKILL, marks=pytest.mark.slow)],
                         ids=["ctrl-c", "crash"])
def test_a_stopped_sweep_resumes_without_rerunning_finished_trials(config: Path, out_dir: Path,
                                                                   how: signal.Signals) -> None:
    grid = ("--grid", "optimizer.lr=0.3,0.1,0.03", "--set", "trainer.epochs=40", "--set", f"trainer.output_dir={out_dir}")
    code, stderr = _stop_during_second_trial(config, out_dir, how, *grid)
    sweep_dir = out_dir / "blobs-sweep" / "1"
    if how == signal.SIGINT:
        assert code == 130 and f"continue it with --resume {sweep_dir}" in stderr and "Traceback" not in stderr, stderr
        assert json.loads((sweep_dir / "sweep.json").read_text())["status"] == "interrupted"
    else:
        assert code == -signal.SIGKILL
    study = optuna.load_study(study_name="blobs", storage=f"sqlite:///{sweep_dir / 'study.db'}")
    finished = {t.number for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE}
    resumed = subprocess.run([sys.executable, "-m", "ttrain", "sweep", config, *grid, "--resume", "auto", "--json"],
                             env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["sweep_dir"] == str(sweep_dir) and summary["counts"] == {"complete": 3, "pruned": 0, "failed": 0}
    assert len(set(_params(summary))) == 3  # every grid point once: the stopped one again, the finished ones not
    for number in finished:  # a finished trial's run directory holds its one run
        assert [p.name for p in (sweep_dir / "trials" / f"{number:04d}").iterdir()] == ["1"]
    assert {t["trial"] for t in summary["trials"]} >= finished


def test_sweep_without_optuna_says_how_to_install_it(sweep: Callable[..., Any], config: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` raises ImportError
    assert_fails(sweep(config, "--grid", "optimizer.lr=0.3"), 2, "pip install 'ttrain[sweep]'")


def test_importing_ttrain_and_its_help_do_not_import_optuna() -> None:
    code = ("import sys, ttrain, ttrain.sweep; from ttrain.cli.app import app; "
            "from typer.testing import CliRunner; CliRunner().invoke(app, ['sweep', '--help']); "
            "print('optuna' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], env=subprocess_env(), capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
