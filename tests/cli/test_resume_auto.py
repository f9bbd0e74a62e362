"""`ttrain fit CONFIG --resume auto` and `--resume RUN_DIR`: the newest valid checkpoint, by
global step, skipping a damaged one with a warning; none at all starts fresh, with a note."""

from __future__ import annotations

import json
from pathlib import Path

from .helpers import assert_fails


def run_json(cli, config: Path, out_dir: Path, *args: str):
    result = cli("fit", config, "--json", "--set", f"trainer.output_dir={out_dir}", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_auto_takes_the_newest_checkpoint_and_skips_a_damaged_one(write_config, cli, out_dir: Path) -> None:
    config = write_config()
    older, _ = run_json(cli, config, out_dir, "--set", "trainer.epochs=1")
    newer, _ = run_json(cli, config, out_dir, "--set", "trainer.epochs=2")
    resumed, stderr = run_json(cli, config, out_dir, "--set", "trainer.epochs=3", "--resume", "auto")
    assert f"resuming from {newer['checkpoints']['last']}" in stderr
    assert resumed["global_step"] == 3 * 6 and len(resumed["final"]) > 0

    # The newest run's `last` and `best` damaged (run 3 is newest now): both skipped with a warning.
    newest = Path(resumed["checkpoints"]["last"])
    for damaged in (newest, newest.with_name("best.safetensors")):
        data = bytearray(damaged.read_bytes())
        data[-1] ^= 0xFF
        damaged.write_bytes(bytes(data))
    again, stderr = run_json(cli, config, out_dir, "--set", "trainer.epochs=3", "--resume", "auto")
    assert f"warning: skipping damaged checkpoint {newest}" in stderr
    assert f"resuming from {newer['checkpoints']['last']}" in stderr
    assert again["global_step"] == 3 * 6
    assert older["run_dir"] != again["run_dir"]


def test_auto_without_any_checkpoint_starts_fresh_with_a_note(write_config, cli, out_dir: Path) -> None:
    summary, stderr = run_json(cli, write_config(), out_dir, "--resume", "auto")
    assert "no checkpoint to resume from" in stderr and "starting fresh" in stderr
    assert summary["global_step"] == 2 * 6


def test_a_run_directory_resumes_from_its_newest_checkpoint(write_config, cli, out_dir: Path) -> None:
    config = write_config()
    part, _ = run_json(cli, config, out_dir, "--set", "trainer.max_steps=4")
    resumed, stderr = run_json(cli, config, out_dir, "--resume", part["run_dir"])
    assert f"resuming from {part['checkpoints']['last']}" in stderr
    assert resumed["global_step"] == 2 * 6


def test_a_run_directory_without_a_valid_checkpoint_is_an_error(write_config, cli, out_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty_run"
    (empty / "checkpoints").mkdir(parents=True)
    (empty / "checkpoints" / "last.safetensors").write_bytes(b"not a checkpoint")
    result = cli("fit", write_config(), "--set", f"trainer.output_dir={out_dir}", "--resume", empty)
    assert_fails(result, 2, "no valid checkpoint to resume from", "last.safetensors")
