"""Progress output: a Rich progress bar and metrics table on a terminal, one plain line per epoch
elsewhere (a pipe, CI, or a terminal that says it is dumb: `TERM=dumb`). Colour follows Rich,
which honours `NO_COLOR`."""

from __future__ import annotations

import datetime
import time
from typing import TYPE_CHECKING, Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ttrain.training.callbacks.base import Callback, Priority

if TYPE_CHECKING:
    from ttrain.training.trainer import Trainer


# Logged every epoch, but shown apart (the epoch, time and speed) or not at all (the step).
_BOOKKEEPING = ("epoch", "step", "train.seconds", "train.samples_per_sec")


def format_metrics(metrics: dict[str, float]) -> str:
    """`name=value` pairs for the metrics a person reads (losses, accuracies, lr)."""
    parts = []
    for name, value in metrics.items():
        if name in _BOOKKEEPING:
            continue
        parts.append(f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}")
    return "  ".join(parts)


# The bar's loss and speed are refreshed at least this often, however long `log_every` steps take.
REFRESH_SECONDS = 0.5


def format_duration(seconds: float) -> str:
    """`0:01:05` for a time left, `-:--:--` while it is not known yet."""
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "-:--:--"
    return str(datetime.timedelta(seconds=int(seconds + 0.5)))


def run_steps(trainer: "Trainer") -> int:
    """The optimizer steps the whole run takes: every epoch's, or `max_steps` if that ends it sooner."""
    total = trainer.epochs * trainer.steps_per_epoch
    return min(total, trainer.max_steps) if trainer.max_steps is not None else total


class ProgressReporter(Callback):
    """Reports training to `console`: live bars when it is an interactive terminal, plain lines
    otherwise. The bar shows the epoch's time left and the run's (`run ETA`: the steps left in
    the run at the speed of the steps so far, evaluations included); with `verbose`, one line per
    step too (loss, lr, speed)."""

    priority = Priority.PROGRESS

    def __init__(self, console: Console, log_every: int = 1, verbose: bool = False,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.console = console
        # A dumb terminal (TERM=dumb: an editor's shell, a serial console) cannot move the cursor.
        self.live = console.is_terminal and not console.is_dumb_terminal
        self.log_every = log_every
        self.verbose = verbose
        self._clock = clock
        self._progress: Progress | None = None
        self._task = None
        self._epoch_start = 0.0
        self._samples = 0
        self._steps = 0  # steps done in this epoch
        self._fit_start = 0.0
        self._fit_start_step = 0  # global step when this fit() began (a resumed run starts part-way)
        self._last_refresh = 0.0

    def on_fit_start(self, trainer: "Trainer") -> None:
        self._fit_start = self._clock()
        self._fit_start_step = trainer.global_step

    def run_eta(self, trainer: "Trainer") -> float:
        """Seconds left in the run, from the time per step so far in this fit (NaN before a step)."""
        done = trainer.global_step - self._fit_start_step
        if done <= 0:
            return float("nan")
        return (self._clock() - self._fit_start) / done * max(run_steps(trainer) - trainer.global_step, 0)

    def on_train_epoch_start(self, trainer: "Trainer") -> None:
        self._epoch_start = self._last_refresh = self._clock()
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
            TextColumn("run ETA {task.fields[run_eta]}"),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            "train", total=trainer.steps_per_epoch, completed=self._steps, loss=float("nan"), rate=0.0,
            run_eta=format_duration(self.run_eta(trainer)),
        )

    def on_train_batch_end(self, trainer: "Trainer", loss: float, batch_size: int) -> None:
        self._samples += batch_size
        self._steps += 1
        if self.verbose:
            self._print_step(trainer, loss)
        if self._progress is None:
            return
        now = self._clock()
        if (self._steps - 1) % self.log_every == 0 or now - self._last_refresh >= REFRESH_SECONDS:
            # The bar moves every step; the loss, speed and run ETA it shows are refreshed every
            # `log_every` steps, and at least every REFRESH_SECONDS when steps are slow.
            self._last_refresh = now
            self._progress.update(self._task, advance=1, loss=loss, rate=self._rate(now),
                                  run_eta=format_duration(self.run_eta(trainer)))
        else:
            self._progress.update(self._task, advance=1)

    def _rate(self, now: float) -> float:
        elapsed = now - self._epoch_start
        return self._samples / elapsed if elapsed > 0 else 0.0

    def _print_step(self, trainer: "Trainer", loss: float) -> None:
        lr = float(trainer.optimizer.param_groups[0]["lr"])
        line = (f"epoch {trainer.epoch + 1}/{trainer.epochs}  step {self._steps}/{trainer.steps_per_epoch}  "
                f"global_step {trainer.global_step}  loss={loss:.4g}  lr={lr:.4g}  "
                f"{self._rate(self._clock()):,.0f} samples/s")
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)  # above the bar while it is live

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
        self.console.print(epoch_table(trainer, metrics, self.console.width))

    def on_interrupt(self, trainer: "Trainer") -> None:
        self._stop_bar()

    def on_fit_end(self, trainer: "Trainer") -> None:
        self._stop_bar()

    def on_exception(self, trainer: "Trainer", error: BaseException) -> None:
        self._stop_bar()


def epoch_table(trainer: "Trainer", metrics: dict[str, float], width: int) -> Table:
    """The epoch's metrics as one row under their names; as a column of name and value when
    that row would not fit in `width` columns (many metrics on a narrow terminal)."""
    cells = [(n, f"{metrics[n]:.4g}") for n in metrics if n not in _BOOKKEEPING]
    cells += [("time", f"{metrics.get('train.seconds', float('nan')):.1f}s"),
              ("samples/s", f"{metrics.get('train.samples_per_sec', float('nan')):,.0f}")]
    title = f"epoch {trainer.epoch}/{trainer.epochs}"
    # A cell takes its widest text plus a space each side and a border.
    if sum(max(len(name), len(value)) + 3 for name, value in cells) + 1 <= width:
        table = Table(title=title, title_justify="left")
        for name, _ in cells:
            table.add_column(name, justify="right")
        table.add_row(*(value for _, value in cells))
        return table
    table = Table("metric", "value", title=title, title_justify="left")
    for name, value in cells:
        table.add_row(name, value)
    return table
