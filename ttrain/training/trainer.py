"""The Trainer: epochs of train steps, then evaluation, with callbacks around each phase."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from ttrain.autograd.grad_mode import no_grad
from ttrain.training.anomaly import check_step, watch_anomalies
from ttrain.training.callbacks.base import Callback, CallbackList
from ttrain.training.metrics import RunningMean, accuracy

MetricFn = Callable[[np.ndarray, np.ndarray], float]


class TrainingFailed(RuntimeError):
    """Training cannot go on, e.g. the loss became NaN or infinite."""


class TrainingInterrupted(Exception):
    """Ctrl-C stopped training after a completed step (a checkpoint was written)."""


class Trainer:
    """Runs training epochs and evaluations over data loaders and reports to callbacks.

    Metric names are `<split>.<metric>`: `train.loss`, `val.accuracy`, `test.loss`, ...
    """

    def __init__(
        self,
        model: Any,
        loss_fn: Callable[[Any, Any], Any],
        optimizer: Any,
        *,
        epochs: int = 1,
        scheduler: Any = None,
        scheduler_interval: str = "epoch",
        scheduler_monitor: str | None = None,
        grad_clip: float | None = None,
        grad_clip_algorithm: str = "norm",
        metrics: Mapping[str, MetricFn] | None = None,
        callbacks: Iterable[Callback] = (),
        detect_anomaly: bool = False,
    ) -> None:
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"scheduler_interval must be 'epoch' or 'step', not {scheduler_interval!r}")
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.epochs = epochs
        self.scheduler = scheduler
        self.scheduler_interval = scheduler_interval
        self.scheduler_monitor = scheduler_monitor
        self.grad_clip = grad_clip
        self.grad_clip_algorithm = grad_clip_algorithm
        # Keyed by the name they are logged under (the config layer's `metric_log_name`).
        self.metrics = dict(metrics) if metrics is not None else {"accuracy": accuracy}
        self.callbacks = CallbackList(list(callbacks))
        self.detect_anomaly = detect_anomaly  # name the op that made a NaN (`ttrain.training.anomaly`)
        self.epoch = 0  # epochs completed
        self.global_step = 0
        self.history: list[dict[str, float]] = []
        self.should_stop = False
        self.steps_per_epoch = 0
        self._interrupt_requested = False

    # ---- the loop ---------------------------------------------------------------------------
    def fit(self, train_loader: Any, eval_loaders: Mapping[str, Any] | None = None) -> list[dict[str, float]]:
        """Train until `epochs` are done or a callback sets `should_stop`; returns the history."""
        eval_loaders = dict(eval_loaders or {})
        self.steps_per_epoch = len(train_loader)
        try:
            self.callbacks.on_fit_start(self)
            # The loop checks the loss itself and stops with a clear TrainingFailed; NumPy's
            # overflow warnings on the way there would only bury that message.
            with self._catch_interrupt(), np.errstate(over="ignore", invalid="ignore", divide="ignore"), \
                    watch_anomalies(self):
                while self.epoch < self.epochs and not self.should_stop:
                    self.callbacks.on_train_epoch_start(self)
                    started = time.perf_counter()
                    train_metrics, samples = self._train_epoch(train_loader)
                    train_seconds = time.perf_counter() - started
                    record: dict[str, float] = {"epoch": self.epoch + 1, "step": self.global_step}
                    record.update(train_metrics)
                    for split, loader in eval_loaders.items():
                        record.update(self.evaluate(loader, prefix=split))
                    record["lr"] = float(self.optimizer.param_groups[0]["lr"])
                    record["train.seconds"] = train_seconds
                    record["train.samples_per_sec"] = samples / train_seconds if train_seconds > 0 else float("nan")
                    self.epoch += 1
                    if self.scheduler is not None and self.scheduler_interval == "epoch":
                        self._step_scheduler(record)
                    self.history.append(record)
                    self.callbacks.on_train_epoch_end(self, record)
            self.callbacks.on_fit_end(self)
        except BaseException as error:
            self.callbacks.on_exception(self, error)
            raise
        return self.history

    def _train_epoch(self, loader: Any) -> tuple[dict[str, float], int]:
        self.model.train()
        running = RunningMean()
        samples = 0
        for inputs, targets in loader:
            output = self.model(inputs)
            loss = self.loss_fn(output, targets)
            self.optimizer.zero_grad()
            loss.backward()
            value = loss.item()
            check_step(self, inputs, targets, value)  # a non-finite loss or gradient: where it came from
            if self.grad_clip:
                self._clip_gradients()
            self.optimizer.step()
            self.global_step += 1
            if self.scheduler is not None and self.scheduler_interval == "step":
                self.scheduler.step()
            n = len(inputs)
            samples += n
            running.update("train.loss", value, n)
            for name, fn in self.metrics.items():
                running.update(f"train.{name}", fn(output.data, targets.data), n)
            self.callbacks.on_train_batch_end(self, value, n)
            if self._interrupt_requested:
                self.callbacks.on_interrupt(self)
                raise TrainingInterrupted(f"interrupted at epoch {self.epoch + 1}, step {self.global_step}")
        return running.compute(), samples

    def _clip_gradients(self) -> None:
        from ttrain.optim import clip_grad_norm_, clip_grad_value_

        if self.grad_clip_algorithm == "value":
            clip_grad_value_(self.model.parameters(), self.grad_clip)
        else:
            clip_grad_norm_(self.model.parameters(), self.grad_clip)

    def evaluate(self, loader: Any, prefix: str = "val") -> dict[str, float]:
        """Mean loss and metrics of the model over `loader`, named `<prefix>.<metric>`."""
        was_training = getattr(self.model, "training", False)
        self.model.eval()
        running = RunningMean()
        with no_grad():
            for inputs, targets in loader:
                output = self.model(inputs)
                n = len(inputs)
                running.update(f"{prefix}.loss", self.loss_fn(output, targets).item(), n)
                for name, fn in self.metrics.items():
                    running.update(f"{prefix}.{name}", fn(output.data, targets.data), n)
        if was_training:
            self.model.train()
        return running.compute()

    def _step_scheduler(self, record: dict[str, float]) -> None:
        from ttrain.optim.lr_scheduler import ReduceLROnPlateau

        if isinstance(self.scheduler, ReduceLROnPlateau):
            monitor = self.scheduler_monitor or "train.loss"
            self.scheduler.step(record[monitor])
        else:
            self.scheduler.step()

    # ---- Ctrl-C -----------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Ask the loop to stop after the current step, as Ctrl-C does; a second request aborts now."""
        if self._interrupt_requested:
            raise KeyboardInterrupt
        self._interrupt_requested = True

    def _catch_interrupt(self) -> Any:
        trainer = self

        class _Handler:
            def __enter__(self) -> None:
                self.previous = None
                if threading.current_thread() is threading.main_thread():
                    self.previous = signal.signal(signal.SIGINT, lambda *_: trainer.request_stop())

            def __exit__(self, *exc: object) -> None:
                if self.previous is not None:
                    signal.signal(signal.SIGINT, self.previous)

        return _Handler()

    # ---- checkpoint state --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The loop's own state: epochs done, global step, history."""
        return {"epoch": self.epoch, "global_step": self.global_step, "history": self.history}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a `state_dict()`."""
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.history = list(state.get("history", []))
