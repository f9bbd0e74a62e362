"""Training: the Trainer and its callbacks, metrics, checkpoints and run directories."""

from ttrain.training.callbacks import (
    Callback, EarlyStopping, GradientClipping, MetricsLogger, ModelCheckpoint, Priority, ProgressReporter,
    SchedulerStepper,
)
from ttrain.training.metrics import accuracy, metric, top_k_accuracy
from ttrain.training.trainer import Trainer, TrainingFailed, TrainingInterrupted

__all__ = [
    "Callback", "EarlyStopping", "GradientClipping", "MetricsLogger", "ModelCheckpoint", "Priority", "ProgressReporter",
    "SchedulerStepper", "Trainer", "TrainingFailed", "TrainingInterrupted", "accuracy", "metric", "top_k_accuracy",
]
