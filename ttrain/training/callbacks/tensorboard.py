"""`TensorBoardLogger`: the run's scalars (and, on request, weight histograms) as TensorBoard event
files in the run directory, written through tensorboardX (the `tensorboard` extra)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from ttrain.training.callbacks.base import Callback, Priority
from ttrain.training.write_errors import writing

if TYPE_CHECKING:
    from ttrain.training.trainer import Trainer

# Per-epoch values that are bookkeeping, not curves: the x axis already says them.
_NOT_SCALARS = ("epoch", "step")


def scalar_tag(metric: str) -> str:
    """TensorBoard's tag for a logged metric: `val.accuracy` -> `val/accuracy` (the part before
    the slash groups the charts: train, val, test), `lr` -> `lr`."""
    return metric.replace(".", "/", 1)


@contextlib.contextmanager
def _without_torch() -> Iterator[None]:
    """tensorboardX imports torch when it can (a second or more, and torch is never ttrain's at run
    time); it writes NumPy values without it, so hide torch while it loads, unless already loaded."""
    if "torch" in sys.modules:
        yield
        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` raises ImportError
    try:
        yield
    finally:
        del sys.modules["torch"]


def summary_writer(directory: Path) -> Any:
    """A tensorboardX `SummaryWriter` writing event files into `directory`."""
    with _without_torch():
        from tensorboardX import SummaryWriter

    return SummaryWriter(logdir=str(directory), flush_secs=10)


class TensorBoardLogger(Callback):
    """Writes the run to `<directory>/events.out.tfevents.*`, read by `tensorboard --logdir runs/`.

    Every epoch: each logged metric (`train/loss`, `val/accuracy`, `lr`,
    `train/samples_per_sec`, ...) at the epoch's global step, and `epoch`; every `log_every`
    steps, `train/loss_step` and `lr_step`, so a long epoch's curve is visible while it runs.
    With `histograms`, each parameter's values once an epoch as `weights/<name>`. A resumed
    run writes the epochs it continues from first, so its directory holds the whole curve.
    """

    priority = Priority.METRICS

    def __init__(self, directory: Path, log_every: int = 50, histograms: bool = False) -> None:
        self.directory = Path(directory)
        self.log_every = log_every
        self.histograms = histograms
        self._writer: Any = None
        self._epochs_written = 0

    def on_fit_start(self, trainer: "Trainer") -> None:
        # Also after an interrupted fit() that the same trainer continues: the writer was closed.
        with writing("TensorBoard events in", self.directory):
            if self._writer is None:
                self._writer = summary_writer(self.directory)
            for record in trainer.history[self._epochs_written:]:  # the epochs a resumed run continues from
                self._write_epoch(record)

    def on_train_batch_end(self, trainer: "Trainer", loss: float, batch_size: int) -> None:
        if trainer.global_step % self.log_every == 0 and self._writer is not None:
            self._writer.add_scalar("train/loss_step", loss, trainer.global_step)
            self._writer.add_scalar("lr_step", float(trainer.optimizer.param_groups[0]["lr"]), trainer.global_step)

    def on_train_epoch_end(self, trainer: "Trainer", metrics: dict[str, float]) -> None:
        with writing("TensorBoard events in", self.directory):
            self._write_epoch(metrics)
            if self.histograms:
                for name, parameter in trainer.model.named_parameters():
                    self._writer.add_histogram(f"weights/{name}", parameter.data, int(metrics["step"]))
            self._writer.flush()

    def _write_epoch(self, record: dict[str, Any]) -> None:
        self._epochs_written += 1
        step = int(record["step"])
        self._writer.add_scalar("epoch", record["epoch"], step)
        for name, value in record.items():
            if name not in _NOT_SCALARS and isinstance(value, (int, float)):
                self._writer.add_scalar(scalar_tag(name), value, step)

    def _close(self) -> None:
        if self._writer is not None:
            with writing("TensorBoard events in", self.directory):
                self._writer.close()
            self._writer = None

    def on_fit_end(self, trainer: "Trainer") -> None:
        self._close()

    def on_interrupt(self, trainer: "Trainer") -> None:
        self._close()

    def on_exception(self, trainer: "Trainer", error: BaseException) -> None:
        with contextlib.suppress(Exception):  # the error being raised is the one to report
            self._close()
