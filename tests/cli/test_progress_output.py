"""What `ttrain fit` shows while it trains, as a person sees it in a terminal (a pseudo-terminal
here) and as CI sees it: the run's ETA on the bar, a refresh at least every second, tables that
fit the width, NO_COLOR and TERM=dumb, `-q` and `-v`."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from ttrain.training.callbacks.progress import REFRESH_SECONDS, ProgressReporter, epoch_table, format_duration

from .helpers import subprocess_env

# Escape sequences: any CSI sequence, and those that set a colour (SGR 30-38, 40-48, 90-97 ...).
CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


def fit_in_terminal(config: Path, out_dir: Path, *args: str, columns: int = 120, **env: str) -> tuple[int, str]:
    """`ttrain fit` in a pseudo-terminal `columns` wide: its exit code and everything it wrote."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    environment = {k: v for k, v in subprocess_env().items() if k != "NO_COLOR"}  # only where a test sets it
    environment.update({"TERM": "xterm-256color", "COLUMNS": str(columns), **env})
    process = subprocess.Popen(
        [sys.executable, "-m", "ttrain", "fit", str(config), "--set", f"trainer.output_dir={out_dir}", *args],
        stdin=slave, stdout=slave, stderr=slave, env=environment, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return process.wait(timeout=120), b"".join(chunks).decode("utf-8", errors="replace")


def test_the_bar_shows_the_run_eta_in_colour_and_no_colour_under_no_color(write_config, out_dir) -> None:
    config = write_config()
    code, shown = fit_in_terminal(config, out_dir)
    assert code == 0, shown
    assert re.search(r"run ETA \d+:\d\d:\d\d", shown), shown  # the whole run's time left, beside the epoch's
    assert COLOUR.search(shown)  # a terminal gets colour...
    code, plain = fit_in_terminal(config, out_dir, NO_COLOR="1")
    assert code == 0 and "run ETA" in plain
    assert not COLOUR.search(plain), COLOUR.search(plain)  # ...unless NO_COLOR says otherwise


def test_a_dumb_terminal_gets_plain_lines(write_config, out_dir) -> None:
    code, shown = fit_in_terminal(write_config(), out_dir, TERM="dumb")
    assert code == 0, shown
    # No cursor movement, no colour from ttrain. (Numba, once it has compiled a kernel, loads
    # colorama, whose exit handler writes one reset code to a terminal: not ours to remove.)
    assert "\x1b" not in shown.removesuffix("\x1b[0m")
    lines = shown.replace("\r\n", "\n").splitlines()
    assert [line.split("  ")[0] for line in lines if line.startswith("epoch ")] == ["epoch 1/2", "epoch 2/2"]


def test_everything_fits_a_narrow_terminal(write_config, out_dir) -> None:
    code, shown = fit_in_terminal(write_config(), out_dir, "--set", "trainer.metrics=[accuracy, {top_k: {k: 2}}]",
                                  columns=60)
    assert code == 0, shown
    # Each piece of the bar and the tables, between line starts and cursor moves, fits in 60
    # columns (the closing summary lines are soft-wrapped: the terminal wraps them).
    pieces = [piece for line in re.split(r"\r\n|\n|\r", shown) for piece in CSI.split(line)
              if any(mark in piece for mark in "━│┃┏┗┡─")]
    assert pieces and max(len(piece) for piece in pieces) <= 60, max(pieces, key=len)
    assert "val.top_2" in shown  # the epoch table is still there, as a column of metric and value


def test_the_epoch_table_is_one_row_when_it_fits_and_a_column_when_not() -> None:
    metrics = {"epoch": 1, "step": 6, "train.loss": 0.5, "train.accuracy": 0.75, "val.loss": 0.6,
               "val.accuracy": 0.7, "test.loss": 0.61, "test.accuracy": 0.69, "lr": 0.1,
               "train.seconds": 0.2, "train.samples_per_sec": 1234.0}
    trainer = SimpleNamespace(epoch=1, epochs=2)
    for width in (40, 200):
        buffer = io.StringIO()
        Console(file=buffer, width=width, force_terminal=True, color_system=None).print(
            epoch_table(trainer, metrics, width))
        lines = buffer.getvalue().splitlines()
        assert max(len(line) for line in lines) <= width
        text = buffer.getvalue()
        assert all(name in text for name in ("train.loss", "val.accuracy", "lr", "samples/s"))
        assert (len(lines) < 8) == (width == 200)  # wide: a header and a row; narrow: a row per metric


class _Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _trainer(**fields) -> SimpleNamespace:
    base = dict(epoch=0, epochs=3, steps_per_epoch=100, epoch_step=0, global_step=0, max_steps=None,
                optimizer=SimpleNamespace(param_groups=[{"lr": 0.1}]))
    return SimpleNamespace(**{**base, **fields})


def test_run_eta_counts_every_step_left_in_the_run() -> None:
    clock, trainer = _Clock(), _trainer()
    reporter = ProgressReporter(Console(file=io.StringIO()), clock=clock)
    reporter.on_fit_start(trainer)
    assert format_duration(reporter.run_eta(trainer)) == "-:--:--"  # no step timed yet
    trainer.global_step, clock.now = 50, clock.now + 5.0  # 0.1 s a step; 250 of 300 steps left
    assert reporter.run_eta(trainer) == pytest.approx(25.0)
    trainer.max_steps = 120  # the run ends sooner: 70 steps left
    assert reporter.run_eta(trainer) == pytest.approx(7.0)
    assert format_duration(65.4) == "0:01:05"


def test_loss_and_speed_refresh_at_least_every_second_however_rare_log_every_is() -> None:
    clock, trainer = _Clock(), _trainer()
    reporter = ProgressReporter(Console(file=io.StringIO(), force_terminal=True), log_every=1000, clock=clock)
    reporter.on_fit_start(trainer)
    reporter.on_train_epoch_start(trainer)
    shown = lambda: reporter._progress.tasks[0].fields  # noqa: E731
    assert REFRESH_SECONDS < 1
    for step, loss in enumerate((2.0, 1.5), start=1):
        trainer.global_step = step
        clock.now += 0.4  # slow steps: 0.4 s each
        reporter.on_train_batch_end(trainer, loss, 32)
    assert shown()["loss"] == 2.0  # step 1 refreshed; step 2 came 0.4 s later and did not need to
    trainer.global_step = 3
    clock.now += 0.4
    reporter.on_train_batch_end(trainer, 1.0, 32)  # 0.8 s after the last refresh, 997 steps before log_every
    assert shown()["loss"] == 1.0 and shown()["rate"] == pytest.approx(3 * 32 / 1.2)
    assert shown()["run_eta"] == format_duration(1.2 / 3 * 297)
    reporter.on_fit_end(trainer)


def test_verbose_prints_a_line_per_step(write_config, cli, out_dir) -> None:
    result = cli("fit", write_config(), "-v", "--set", f"trainer.output_dir={out_dir}")
    assert result.exit_code == 0, result.stderr
    steps = [line for line in result.stdout.splitlines() if " step " in line]
    assert len(steps) == 12  # 6 steps in each of 2 epochs
    assert steps[0].startswith("epoch 1/2  step 1/6  global_step 1  loss=") and "lr=0.1" in steps[0]
    assert steps[-1].startswith("epoch 2/2  step 6/6  global_step 12  loss=") and "lr=0.09" in steps[-1]
    assert steps[0].endswith("samples/s")
    both = cli("fit", write_config(), "-q", "-v", "--set", f"trainer.output_dir={out_dir}")
    assert both.exit_code == 2 and "--quiet and --verbose" in both.stderr


def test_quiet_names_the_run_directory_of_a_failed_run_too(write_config, cli, out_dir) -> None:
    result = cli("fit", write_config(), "-q", "--set", "optimizer.lr=1e30", "--set", f"trainer.output_dir={out_dir}")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines()[0] == f"run directory: {out_dir / 'spirals' / '1'}"
    assert result.stderr.splitlines()[1].startswith("training failed:")
