"""The Trainer: epochs of train steps, then evaluation, with callbacks around each phase."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from ttrain.autograd.grad_mode import no_grad
from ttrain.training.anomaly import check_step, watch_anomalies
from ttrain.training.callbacks.base import Callback
from ttrain.training.callbacks.callback_list import CallbackList
from ttrain.training.callbacks.gradient_clipping import GradientClipping
from ttrain.training.callbacks.scheduler import SchedulerStepper
from ttrain.training.metrics import RunningMean, accuracy, finished
from ttrain.signals import StopSignals, signal_name

MetricFn = Callable[[np.ndarray, np.ndarray], float]


class TrainingFailed(RuntimeError):
    """Training cannot go on, e.g. the loss became NaN or infinite."""


class TrainingInterrupted(Exception):
    """A stop signal ended training at a safe point (after a step, or in an evaluation), after the
    callbacks' `on_interrupt` (which saves `last`); `signal_number` is the signal that asked."""

    def __init__(self, message: str, signal_number: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.signal_number = signal_number


@dataclass
class EpochProgress:
    """How far the current epoch got: what a checkpoint taken inside it needs to continue it exactly."""

    steps: int = 0  # optimizer steps done in this epoch
    samples: int = 0
    seconds: float = 0.0  # training time spent on it so far, over every process that ran it
    train_done: bool = False  # every step is done; the epoch's evaluation is pending
    running: RunningMean = field(default_factory=RunningMean)  # the epoch's train metric sums
    data: dict[str, Any] | None = None  # the train loader's `state_dict()` after the last step

    def state_dict(self) -> dict[str, Any]:
        """Plain data (and the loader's order array) for a checkpoint."""
        return {"steps": self.steps, "samples": self.samples, "seconds": self.seconds, "train_done": self.train_done,
                "running": self.running.state_dict(), "data": None if self.train_done else self.data}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> "EpochProgress":
        """The progress a `state_dict()` describes."""
        running = RunningMean()
        running.load_state_dict(state["running"])
        data = state.get("data")
        progress = cls(int(state["steps"]), int(state["samples"]), float(state["seconds"]), bool(state["train_done"]),
                       running, dict(data) if data is not None else None)
        if progress.steps and not progress.train_done and (data is None or data.get("batches_done") != progress.steps):
            raise ValueError(f"the data loader's saved position does not match the {progress.steps} steps done")
        return progress


class Trainer:
    """Runs training epochs and evaluations over data loaders and reports to callbacks.

    Metric names are `<split>.<metric>`: `train.loss`, `val.accuracy`, `test.loss`, ...

    While `fit` runs, SIGINT, SIGTERM and SIGHUP (main thread only) ask it to stop, as
    `request_stop` does: it finishes the current step (or leaves the evaluation it is in), calls
    the callbacks' `on_interrupt` (ModelCheckpoint saves `last` there) and raises
    `TrainingInterrupted`. Its `state_dict` holds the position inside the epoch, so a run
    continued from it takes the very next step.

    Callbacks run in priority order (`add_callback`). The lr schedule and gradient clipping are
    callbacks too (`SchedulerStepper`, `GradientClipping`); `scheduler=` and `grad_clip=` are
    shorthands that add them: `scheduler_interval` (default: the scheduler's `default_interval`)
    and `scheduler_monitor` (for a scheduler that `needs_metric`) go to the first,
    `grad_clip_algorithm` (`"norm"` or `"value"`) to the second.
    """

    def __init__(
        self,
        model: Any,
        loss_fn: Callable[[Any, Any], Any],
        optimizer: Any,
        *,
        epochs: int = 1,
        max_steps: int | None = None,
        scheduler: Any = None,
        scheduler_interval: str | None = None,
        scheduler_monitor: str | None = None,
        grad_clip: float | None = None,
        grad_clip_algorithm: str = "norm",
        metrics: Mapping[str, MetricFn] | None = None,
        callbacks: Iterable[Callback] = (),
        detect_anomaly: bool = False,
    ) -> None:
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.epochs = epochs
        self.max_steps = max_steps  # stop once global_step reaches it (None: no limit)
        # Keyed by the name they are logged under (the config layer's `metric_log_name`).
        self.metrics = dict(metrics) if metrics is not None else {"accuracy": accuracy}
        self.callbacks = CallbackList()
        if scheduler is not None:
            self.add_callback(SchedulerStepper(scheduler, scheduler_interval, scheduler_monitor))
        if grad_clip:
            self.add_callback(GradientClipping(grad_clip, grad_clip_algorithm))
        for callback in callbacks:
            self.add_callback(callback)
        self.detect_anomaly = detect_anomaly  # name the op that made a NaN (`ttrain.training.anomaly`)
        self.epoch = 0  # epochs completed
        self.global_step = 0
        self.history: list[dict[str, float]] = []
        self.should_stop = False
        self.steps_per_epoch = 0
        self.progress: EpochProgress | None = None  # the epoch under way, None between epochs
        self.stop_signal: int | None = None  # the first stop signal (or request) not yet honoured
        # Data-parallel training sets one (`ttrain.distributed`): it adds up every rank's metric sums
        # and sample counts before an epoch or an evaluation reports them. None: this process's own.
        self.reducer: Any = None

    def add_callback(self, callback: Callback, priority: int | None = None) -> Callback:
        """Add `callback`; its hooks run before those of lower `priority` (default: its class's
        `priority`, see `Priority`), after those added earlier at the same one. Returns it."""
        return self.callbacks.add(callback, priority)

    @property
    def epoch_step(self) -> int:
        """Optimizer steps done in the current epoch (0 between epochs)."""
        return self.progress.steps if self.progress is not None else 0

    # ---- the loop ---------------------------------------------------------------------------
    def fit(self, train_loader: Any, eval_loaders: Mapping[str, Any] | None = None) -> list[dict[str, float]]:
        """Train until `epochs` (or `max_steps`) are done or a callback sets `should_stop`; returns
        the history. Continues a loaded `state_dict` from the step after it."""
        eval_loaders = dict(eval_loaders or {})
        self.steps_per_epoch = len(train_loader)
        try:
            # The loop checks the loss itself and stops with a clear TrainingFailed; NumPy's
            # overflow warnings on the way there would only bury that message.
            with StopSignals(self.request_stop), np.errstate(over="ignore", invalid="ignore", divide="ignore"), \
                    watch_anomalies(self):
                self.callbacks.call("on_fit_start", self)
                while self.epoch < self.epochs and not self.should_stop and not self._reached_max_steps():
                    self._stop_if_requested()
                    self._run_epoch(train_loader, eval_loaders)
                self.callbacks.call("on_fit_end", self)
                self._stop_if_requested()  # a signal during the last evaluation or on_fit_end
        except BaseException as error:
            self.callbacks.call("on_exception", self, error)
            raise
        return self.history

    def _reached_max_steps(self) -> bool:
        return self.max_steps is not None and self.global_step >= self.max_steps

    def _run_epoch(self, train_loader: Any, eval_loaders: Mapping[str, Any]) -> None:
        """Train the epoch's remaining steps, evaluate, close the epoch; a resumed epoch skips what is done."""
        if self.progress is None:
            self.progress = EpochProgress()
        progress = self.progress
        self.callbacks.call("on_train_epoch_start", self)
        if not progress.train_done:
            if not self._train_epoch(train_loader, progress):
                return  # max_steps ended the run inside this epoch
            progress.train_done = True
        record: dict[str, float] = {"epoch": self.epoch + 1, "step": self.global_step}
        running, samples = progress.running, progress.samples
        if self.reducer is not None:
            running, samples = self.reducer.reduce_running(running), self.reducer.reduce_count(samples)
        record.update(finished(running.compute(), self.metrics, "train"))
        for split, loader in eval_loaders.items():
            record.update(self._evaluate(loader, split, stoppable=True))
        record["lr"] = float(self.optimizer.param_groups[0]["lr"])
        record["train.seconds"] = progress.seconds
        record["train.samples_per_sec"] = samples / progress.seconds if progress.seconds > 0 else float("nan")
        self.epoch += 1
        self.progress = None
        self.history.append(record)
        self.callbacks.call("on_train_epoch_end", self, record)

    def _train_epoch(self, loader: Any, progress: EpochProgress) -> bool:
        """The epoch's remaining steps; False when max_steps stopped them before the epoch's end."""
        self.model.train()
        if progress.steps:
            self._continue_loader(loader, progress)
        call = self.callbacks.call
        clock = time.perf_counter()
        for inputs, targets in loader:
            n = len(inputs)
            if n:
                output = self.model(inputs)
                loss = self.loss_fn(output, targets)
                self.optimizer.zero_grad()
                loss.backward()
                value = loss.item()
                check_step(self, inputs, targets, value)  # a non-finite loss or gradient: where it came from
            else:  # a data-parallel rank with no share of a short last batch still joins the step
                self.optimizer.zero_grad()
                value = 0.0
            call("on_before_optimizer_step", self)  # gradient averaging (data-parallel), then clipping
            self.optimizer.step()
            self.global_step += 1
            progress.steps += 1
            progress.samples += n
            if n:
                progress.running.update("train.loss", value, n)
                for name, fn in self.metrics.items():
                    progress.running.update(f"train.{name}", fn(output.data, targets.data), n)
            progress.data = _loader_state(loader)
            now = time.perf_counter()
            progress.seconds, clock = progress.seconds + (now - clock), now
            call("on_train_batch_end", self, value, n)  # a per-step lr schedule steps here, first
            self._stop_if_requested()
            if self._reached_max_steps() and progress.steps < self.steps_per_epoch:
                return False
        return True

    def _continue_loader(self, loader: Any, progress: EpochProgress) -> None:
        """Put `loader` where the epoch in progress left it, so its next batch is the next step's."""
        if not callable(getattr(loader, "load_state_dict", None)) or progress.data is None:
            raise ValueError(
                f"cannot continue epoch {self.epoch + 1} after step {progress.steps}: "
                "the train loader cannot resume inside an epoch (it needs state_dict/load_state_dict)"
            )
        if progress.data.get("batches_done") != progress.steps:
            raise ValueError(
                f"the train loader's position ({progress.data.get('batches_done')} batches) does not match "
                f"the {progress.steps} steps done in epoch {self.epoch + 1}"
            )
        loader.load_state_dict(progress.data)

    def evaluate(self, loader: Any, prefix: str = "val") -> dict[str, float]:
        """Mean loss and metrics of the model over `loader`, named `<prefix>.<metric>`."""
        return self._evaluate(loader, prefix, stoppable=False)

    def _evaluate(self, loader: Any, prefix: str, stoppable: bool) -> dict[str, float]:
        # Inside fit a stop request ends the evaluation at the next batch: the epoch's steps are
        # done, its evaluation is pending, and that is what the checkpoint says.
        was_training = getattr(self.model, "training", False)
        self.model.eval()
        running = RunningMean()
        with no_grad():
            for inputs, targets in loader:
                n = len(inputs)
                if n == 0:  # a data-parallel rank's empty share of a batch
                    continue
                output = self.model(inputs)
                running.update(f"{prefix}.loss", self.loss_fn(output, targets).item(), n)
                for name, fn in self.metrics.items():
                    running.update(f"{prefix}.{name}", fn(output.data, targets.data), n)
                if stoppable:
                    self._stop_if_requested()
        if was_training:
            self.model.train()
        if self.reducer is not None:
            running = self.reducer.reduce_running(running)
        return finished(running.compute(), self.metrics, prefix)

    # ---- stop signals --------------------------------------------------------------------------
    def request_stop(self, signum: int = signal.SIGINT) -> None:
        """Ask `fit` to stop at its next safe point, as a stop signal does (`signum` picks the exit
        code). Later requests change nothing: the first one is already being honoured, and a
        save under way must not be cut short."""
        if self.stop_signal is None:
            self.stop_signal = signum

    def _stop_if_requested(self) -> None:
        if self.stop_signal is None:
            return
        self.callbacks.call("on_interrupt", self)
        progress = self.progress
        if progress is not None and progress.train_done:
            where = f"during the evaluation of epoch {self.epoch + 1} (step {self.global_step})"
        elif progress is not None and progress.steps:
            where = f"at epoch {self.epoch + 1}, step {self.global_step}"
        else:
            where = f"after epoch {self.epoch}, step {self.global_step}"
        signum, self.stop_signal = self.stop_signal, None  # honoured: a later fit() continues
        raise TrainingInterrupted(f"interrupted by {signal_name(signum)} {where}", signum)

    # ---- checkpoint state --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The loop's own state: epochs done, global step, history, and the epoch in progress
        (its steps, metric sums and data order) when there is one."""
        state: dict[str, Any] = {"epoch": self.epoch, "global_step": self.global_step, "history": self.history}
        if self.progress is not None and (self.progress.steps or self.progress.train_done):
            state["epoch_progress"] = self.progress.state_dict()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a `state_dict()`: the next `fit` takes the step after it."""
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.history = list(state.get("history", []))
        progress = state.get("epoch_progress")
        self.progress = EpochProgress.from_state(progress) if progress is not None else None


def _loader_state(loader: Any) -> dict[str, Any] | None:
    state_dict = getattr(loader, "state_dict", None)
    return state_dict() if callable(state_dict) else None
