"""Callbacks the Trainer calls: the lr schedule, gradient clipping, metric logging, early stopping,
progress and checkpointing, each in its own module, ordered by `Priority`."""

from ttrain.training.callbacks.base import Callback, Priority
from ttrain.training.callbacks.callback_list import CallbackList
from ttrain.training.callbacks.checkpoint import ModelCheckpoint
from ttrain.training.callbacks.early_stopping import EarlyStopping
from ttrain.training.callbacks.gradient_clipping import GradientClipping
from ttrain.training.callbacks.metrics_logger import MetricsLogger
from ttrain.training.callbacks.progress import ProgressReporter
from ttrain.training.callbacks.scheduler import SchedulerStepper

__all__ = [
    "Callback", "CallbackList", "EarlyStopping", "GradientClipping", "MetricsLogger", "ModelCheckpoint", "Priority",
    "ProgressReporter", "SchedulerStepper",
]
