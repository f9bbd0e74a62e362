"""`trainer.loggers: [tensorboard]`: the run's scalars and weight histograms as TensorBoard event
files in the run directory, read back here with tensorboardX's own protocol buffers."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from .helpers import SPIRALS, assert_fails, subprocess_env

pytest.importorskip("tensorboardX")

TENSORBOARD = ("--set", "trainer.loggers=[tensorboard]", "--set", "trainer.log_every=2")


def read_events(run_dir: Path) -> Iterator[Any]:
    """Every event in the run's event file: TFRecord framing (length, CRC, payload, CRC) around `Event` protos."""
    from tensorboardX.proto import event_pb2

    (path,) = run_dir.glob("events.out.tfevents.*")
    data = path.read_bytes()
    offset = 0
    while offset < len(data):
        (length,) = struct.unpack("<Q", data[offset:offset + 8])
        event = event_pb2.Event()
        event.ParseFromString(data[offset + 12:offset + 12 + length])
        offset += 12 + length + 4
        yield event


def summaries(run_dir: Path) -> dict[str, list[tuple[int, Any]]]:
    """tag -> [(step, value)]: a float for a scalar, the HistogramProto for a histogram."""
    found: dict[str, list[tuple[int, Any]]] = {}
    for event in read_events(run_dir):
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            found.setdefault(value.tag, []).append((event.step, value.simple_value if kind == "simple_value" else value.histo))
    return found


def test_scalars_and_histograms_are_written_into_the_run_directory(write_config, fit_json) -> None:
    summary = fit_json(write_config(), *TENSORBOARD, "--set", "trainer.histograms=true")
    run_dir = Path(summary["run_dir"])
    logged = summaries(run_dir)
    history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [row["step"] for row in history]
    for metric in ("train.loss", "train.accuracy", "val.loss", "val.accuracy", "test.accuracy", "lr",
                   "train.samples_per_sec"):
        tag = metric.replace(".", "/", 1)
        assert [step for step, _ in logged[tag]] == steps, tag
        assert [value for _, value in logged[tag]] == pytest.approx([row[metric] for row in history], rel=1e-6), tag
    assert [value for _, value in logged["epoch"]] == [1, 2]
    # the step-level loss every log_every steps, so a long epoch's curve shows while it runs
    assert [step for step, _ in logged["train/loss_step"]] == list(range(2, steps[-1] + 1, 2))
    # one histogram of every parameter per epoch, of all its values
    for name, count in (("0.weight", 2 * 32), ("0.bias", 32), ("3.weight", 32 * 2)):
        histograms = logged[f"weights/{name}"]
        assert [step for step, _ in histograms] == steps
        assert all(histo.num == count for _, histo in histograms)
    assert set(logged) == {tag for tag in logged if not tag.startswith("weights/")} | {
        f"weights/{i}.{p}" for i in (0, 3) for p in ("weight", "bias")}


def test_no_histograms_unless_asked_and_no_events_unless_a_logger_is_named(write_config, fit_json) -> None:
    logged = summaries(Path(fit_json(write_config(), *TENSORBOARD)["run_dir"]))
    assert "val/accuracy" in logged and not any(tag.startswith("weights/") for tag in logged)
    plain = Path(fit_json(write_config())["run_dir"])
    assert not list(plain.glob("events.out.tfevents.*"))


def test_a_bad_logger_or_histograms_without_one_is_a_config_error_at_its_line(write_config, cli, out_dir) -> None:
    bad = write_config(SPIRALS + "  loggers: [tensorbord]\n", name="bad.yaml")
    assert_fails(cli("fit", bad, "--set", f"trainer.output_dir={out_dir}"), 2, "bad.yaml:24", "trainer.loggers",
                 "tensorboard")
    lonely = write_config(SPIRALS + "  histograms: true\n", name="lonely.yaml")
    assert_fails(cli("fit", lonely, "--set", f"trainer.output_dir={out_dir}"), 2, "lonely.yaml:24", "trainer.histograms",
                 "loggers: [tensorboard]")
    assert not out_dir.exists()


def test_without_tensorboardx_the_config_says_which_extra_to_install(write_config, cli, out_dir, monkeypatch) -> None:
    from ttrain.training import result_outputs

    monkeypatch.setattr(result_outputs, "installed", lambda module: module != "tensorboardX")
    config = write_config(SPIRALS + "  loggers: [tensorboard]\n")
    assert_fails(cli("fit", config, "--set", f"trainer.output_dir={out_dir}"), 2, "spirals.yaml:24",
                 "pip install 'ttrain[tensorboard]'")
    assert not out_dir.exists()


def test_logging_to_tensorboard_never_imports_torch(write_config, out_dir) -> None:
    config = write_config()
    script = ("import sys; from typer.testing import CliRunner; from ttrain.cli.app import app; "
              f"r = CliRunner().invoke(app, ['fit', {str(config)!r}, '-q', '--set', 'trainer.epochs=1', "
              f"'--set', 'trainer.loggers=[tensorboard]', '--set', 'trainer.output_dir={out_dir}']); "
              "print(r.exit_code, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=subprocess_env(),
                          timeout=120)
    assert done.stdout.split()[-2:] == ["0", "False"], done.stderr
    assert list(out_dir.glob("*/1/events.out.tfevents.*"))


def test_a_resumed_run_writes_the_epochs_it_continues_from_too(write_config, fit_json) -> None:
    config = write_config()
    first = fit_json(config, *TENSORBOARD, "--set", "trainer.epochs=1")
    resumed = fit_json(config, *TENSORBOARD, "--resume", first["checkpoints"]["last"])
    logged = summaries(Path(resumed["run_dir"]))
    assert [value for _, value in logged["epoch"]] == [1, 2]
    assert [step for step, _ in logged["val/loss"]] == [6, 12]
    assert logged["val/loss"][0][1] == pytest.approx(first["final"]["val.loss"], rel=1e-6)
