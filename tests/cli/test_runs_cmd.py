"""`ttrain runs [DIR]`: the runs under a folder as a table (or JSON), sorted and filtered, with
runs older than summary.json and damaged records shown for what they are, never a traceback."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from ttrain.cli.output import print_table

from .helpers import SPIRALS

EPOCH = ("--set", "trainer.epochs=1")


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runs of two configs: three learning rates of `spirals` (one failed), one `mlp` run, one run
    from before summary.json (`old`) and one whose summary.json is damaged (`broken`)."""
    from typer.testing import CliRunner

    from ttrain.cli.app import app

    root = tmp_path_factory.mktemp("runs-table")
    out = root / "runs"
    for name, text in (("spirals", SPIRALS), ("mlp", SPIRALS.replace("out_features: 32", "out_features: 8"))):
        (root / f"{name}.yaml").write_text(text, encoding="utf-8")
    for config, lr in (("spirals", "0.1"), ("spirals", "0.01"), ("spirals", "1e30"), ("mlp", "0.05")):
        args = ["fit", str(root / f"{config}.yaml"), "-q", *EPOCH, "--set", f"trainer.output_dir={out}",
                "--set", f"optimizer.lr={lr}"]
        CliRunner().invoke(app, args)
    shutil.copytree(out / "mlp" / "1", out / "old" / "1")
    (out / "old" / "1" / "summary.json").unlink()
    shutil.copytree(out / "mlp" / "1", out / "broken" / "1")
    (out / "broken" / "1" / "summary.json").write_text('{"status": "compl', encoding="utf-8")  # cut short
    return out


def runs_json(cli, *args) -> list[dict]:
    result = cli("runs", *args, "--json")
    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout)
    assert (printed["command"], printed["status"]) == ("runs", "ok")
    return printed["runs"]


def where(records: list[dict]) -> list[str]:
    return [str(Path(r["run_dir"]).relative_to(Path(r["run_dir"]).parents[1])) for r in records]


def test_the_table_shows_every_run_plainly_off_a_terminal(runs_dir: Path, cli) -> None:
    result = cli("runs", runs_dir)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["status", "name", "run", "config", "best", "time"]
    rows = {line.split()[2]: line for line in lines[1:]}
    assert set(rows) == {"broken/1", "mlp/1", "old/1", "spirals/1", "spirals/2", "spirals/3"}
    assert rows["spirals/2"].split()[:5] == ["completed", "spirals", "spirals/2", "trainer.epochs=1", "optimizer.lr=0.01"]
    assert rows["spirals/3"].startswith("failed ") and "optimizer.lr=1e30" in rows["spirals/3"]
    assert "val.loss=" in rows["spirals/1"] and "(epoch 1)" in rows["spirals/1"] and rows["spirals/1"].endswith("s")
    assert rows["old/1"].startswith("unknown ") and "optimizer.name=sgd optimizer.lr=0.05 trainer.epochs=1" in rows["old/1"]
    assert "val.loss=" in rows["old/1"]  # read from its metrics.jsonl
    assert rows["broken/1"].startswith("damaged ") and "not a readable JSON file" in rows["broken/1"]
    assert "\x1b" not in result.stdout and "Traceback" not in result.stderr


def test_json_lists_the_records(runs_dir: Path, cli) -> None:
    records = {r["run_dir"]: r for r in runs_json(cli, runs_dir)}
    spirals = records[str(runs_dir / "spirals" / "1")]
    assert spirals == json.loads((runs_dir / "spirals" / "1" / "summary.json").read_text())
    old = records[str(runs_dir / "old" / "1")]
    assert old["status"] == "unknown" and old["config"]["optimizer"]["lr"] == 0.05 and old["epochs"] == 1
    assert old["best"]["value"] == records[str(runs_dir / "mlp" / "1")]["best"]["value"]
    broken = records[str(runs_dir / "broken" / "1")]
    assert broken["status"] == "damaged" and broken["error"]["file"].endswith("summary.json")


@pytest.mark.parametrize(("args", "expected"), [
    (("--filter", "status=completed", "--sort", "optimizer.lr"), ["spirals/2", "mlp/1", "spirals/1"]),
    (("--filter", "status=completed", "--sort", "-optimizer.lr"), ["spirals/1", "mlp/1", "spirals/2"]),
    (("--filter", "optimizer.lr<0.1", "--filter", "name~^spi"), ["spirals/2"]),
    (("--filter", "optimizer.lr>=0.1", "--filter", "status!=failed"), ["spirals/1"]),
    (("--filter", "status=failed",), ["spirals/3"]),
    (("--filter", "name~mlp", "--sort", "status"), ["mlp/1", "old/1"]),  # completed < unknown
])
def test_sort_and_filter(runs_dir: Path, cli, args: tuple[str, ...], expected: list[str]) -> None:
    assert where(runs_json(cli, runs_dir, *args)) == expected


def test_sorting_by_a_metric_puts_runs_without_it_last(runs_dir: Path, cli) -> None:
    records = runs_json(cli, runs_dir, "--sort", "-val.loss")
    losses = [r["best"]["metrics"]["val.loss"] for r in records if r["status"] in ("completed", "unknown")]
    assert losses == sorted(losses, reverse=True)
    assert {r["status"] for r in records[-2:]} == {"failed", "damaged"}


def test_the_tables_headers_are_keys_too(runs_dir: Path, cli) -> None:
    records = runs_json(cli, runs_dir, "--filter", "run~spirals", "--sort", "-time")
    assert sorted(where(records)) == ["spirals/1", "spirals/2", "spirals/3"]
    assert [r["seconds"] for r in records] == sorted((r["seconds"] for r in records), reverse=True)


def test_one_configs_runs_or_one_run(runs_dir: Path, cli) -> None:
    assert where(runs_json(cli, runs_dir / "spirals")) == ["spirals/1", "spirals/2", "spirals/3"]
    assert where(runs_json(cli, runs_dir / "spirals" / "2")) == ["spirals/2"]


@pytest.mark.parametrize(("args", "fragment"), [
    (("--sort", "val.acuracy"), "did you mean 'val.accuracy'?"),
    (("--filter", "optimizer.lr<<0.1"), "expected KEY OP VALUE"),
    (("--filter", "name~(mlp"), "not a regular expression"),
])
def test_a_bad_sort_or_filter_is_a_usage_error(runs_dir: Path, cli, args: tuple[str, ...], fragment: str) -> None:
    result = cli("runs", runs_dir, *args)
    assert result.exit_code == 2 and fragment in result.stderr and "Traceback" not in result.stderr
    printed = json.loads(cli("runs", runs_dir, *args, "--json").stdout)
    assert printed["error"]["kind"] == "usage" and fragment in printed["error"]["message"]


def test_a_missing_folder_is_an_error_and_an_empty_one_says_so(cli, tmp_path: Path) -> None:
    result = cli("runs", tmp_path / "nowhere")
    assert result.exit_code == 2 and "is not a folder of runs" in result.stderr
    result = cli("runs", tmp_path)
    assert result.exit_code == 0 and result.stdout == f"no runs in {tmp_path}\n"


def test_a_terminal_gets_a_rich_table_that_keeps_brackets() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    print_table(["status", "config"], [["completed", "model.hidden=[64]"]], console)
    shown = console.file.getvalue()
    assert "┃" in shown or "│" in shown  # drawn as a table
    assert "model.hidden=[64]" in shown


@pytest.mark.parametrize("change", [{"best": "x"}, {"seconds": "slow"}, {"final": [1]}, {"overrides": [1]},
                                    {"status": "done"}, {"error": {"kind": "data"}}])
def test_a_record_of_the_wrong_shape_is_damaged(runs_dir: Path, cli, tmp_path: Path, change: dict) -> None:
    run = tmp_path / "odd" / "1"
    shutil.copytree(runs_dir / "mlp" / "1", run)
    record = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**record, **change}))
    result = cli("runs", tmp_path)
    assert result.exit_code == 0 and result.stdout.splitlines()[1].startswith("damaged "), result.stdout
    assert "not a run record" in result.stdout
    assert runs_json(cli, tmp_path, "--sort", "best")[0]["status"] == "damaged"


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs FIFOs")
def test_a_fifo_or_a_link_loop_is_never_waited_on(runs_dir: Path, cli, tmp_path: Path) -> None:
    import os

    run = tmp_path / "odd" / "1"
    shutil.copytree(runs_dir / "mlp" / "1", run)
    (run / "summary.json").unlink()
    (run / "metrics.jsonl").unlink()
    os.mkfifo(run / "metrics.jsonl")  # opening it to read would wait for a writer forever
    (tmp_path / "odd" / "loop").symlink_to(tmp_path)
    records = runs_json(cli, tmp_path)
    assert [(r["status"], r["final"]) for r in records] == [("unknown", {})]
