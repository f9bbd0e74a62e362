"""Callbacks the Trainer calls: progress, checkpointing, early stopping, metric logging."""

from ttrain.training.callbacks.base import Callback, CallbackList
from ttrain.training.callbacks.checkpoint import ModelCheckpoint
from ttrain.training.callbacks.early_stopping import EarlyStopping
from ttrain.training.callbacks.metrics_logger import MetricsLogger
from ttrain.training.callbacks.progress import ProgressReporter

__all__ = ["Callback", "CallbackList", "EarlyStopping", "MetricsLogger", "ModelCheckpoint", "ProgressReporter"]
