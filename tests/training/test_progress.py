"""Progress output: plain lines off a terminal, Rich bars and a metrics table on one."""

from __future__ import annotations

import io

from rich.console import Console

from ttrain.training import ProgressReporter


def _fit_with_console(experiment, terminal: bool) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=terminal, width=200)
    exp = experiment([ProgressReporter(console, log_every=2)])
    exp.trainer.fit(exp.train_loader, exp.eval_loaders)
    return buffer.getvalue()


def test_off_a_terminal_one_plain_line_per_epoch(experiment) -> None:
    lines = _fit_with_console(experiment, terminal=False).splitlines()
    assert len(lines) == 2
    for epoch, line in enumerate(lines, start=1):
        assert line.startswith(f"epoch {epoch}/2  train.loss=")
        assert "val.accuracy=" in line and "test.loss=" in line and line.endswith("samples/s")
    assert "\x1b" not in "".join(lines)


def test_on_a_terminal_a_bar_and_a_table_per_epoch(experiment) -> None:
    output = _fit_with_console(experiment, terminal=True)
    assert "\x1b[" in output  # live display
    assert "6/6" in output and "samples/s" in output  # the bar reached the epoch's last step
    for epoch in (1, 2):
        assert f"epoch {epoch}/2" in output
    assert output.count("train.loss") == 2 and output.count("test.accuracy") == 2  # one table per epoch
