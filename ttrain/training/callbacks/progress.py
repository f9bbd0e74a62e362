"""Progress output: a Rich progress bar and metrics table on a terminal, one plain line per epoch elsewhere."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ttrain.training.callbacks.base import Callback, Priority

if TYPE_CHECKING:
    from ttrain.training.trainer import Trainer


def format_metrics(metrics: dict[str, float]) -> str:
    """`name=value` pairs for the metrics a person reads (losses, accuracies, lr)."""
    parts = []
    for name, value in metrics.items():
        if name in ("epoch", "step", "train.seconds", "train.samples_per_sec"):
            continue
        parts.append(f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}")
    return "  ".join(parts)


class ProgressReporter(Callback):
    """Reports training to `console`: live bars when it is a terminal, plain lines otherwise."""

    priority = Priority.PROGRESS

    def __init__(self, console: Console, log_every: int = 1) -> None:
        self.console = console
        self.live = console.is_terminal
        self.log_every = log_every
        self._progress: Progress | None = None
        self._task = None
        self._epoch_start = 0.0
        self._samples = 0
        self._steps = 0  # steps done in this epoch

    def on_train_epoch_start(self, trainer: "Trainer") -> None:
        self._epoch_start = time.perf_counter()
        self._samples = 0
        self._steps = trainer.epoch_step  # a resumed epoch starts part-way
        if not self.live:
            return
        self._progress = Progress(
            TextColumn(f"epoch {trainer.epoch + 1}/{trainer.epochs}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}"),
            TextColumn("{task.fields[rate]:,.0f} samples/s"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            "train", total=trainer.steps_per_epoch, completed=self._steps, loss=float("nan"), rate=0.0
        )

    def on_train_batch_end(self, trainer: "Trainer", loss: float, batch_size: int) -> None:
        self._samples += batch_size
        self._steps += 1
        if self._progress is None:
            return
        if (self._steps - 1) % self.log_every == 0:
            # The bar moves every step; the loss and rate it shows are refreshed every `log_every` steps.
            elapsed = time.perf_counter() - self._epoch_start
            rate = self._samples / elapsed if elapsed > 0 else 0.0
            self._progress.update(self._task, advance=1, loss=loss, rate=rate)
        else:
            self._progress.update(self._task, advance=1)

    def _stop_bar(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def on_train_epoch_end(self, trainer: "Trainer", metrics: dict[str, float]) -> None:
        self._stop_bar()
        rate = metrics.get("train.samples_per_sec", float("nan"))
        seconds = metrics.get("train.seconds", float("nan"))
        if not self.live:
            self.console.print(
                f"epoch {trainer.epoch}/{trainer.epochs}  {format_metrics(metrics)}  {seconds:.1f}s  {rate:,.0f} samples/s",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            return
        table = Table(title=f"epoch {trainer.epoch}/{trainer.epochs}", title_justify="left")
        names = [k for k in metrics if k not in ("epoch", "step", "train.seconds", "train.samples_per_sec")]
        for name in names:
            table.add_column(name, justify="right")
        table.add_column("time", justify="right")
        table.add_column("samples/s", justify="right")
        table.add_row(*(f"{metrics[n]:.4g}" for n in names), f"{seconds:.1f}s", f"{rate:,.0f}")
        self.console.print(table)

    def on_interrupt(self, trainer: "Trainer") -> None:
        self._stop_bar()

    def on_fit_end(self, trainer: "Trainer") -> None:
        self._stop_bar()

    def on_exception(self, trainer: "Trainer", error: BaseException) -> None:
        self._stop_bar()
