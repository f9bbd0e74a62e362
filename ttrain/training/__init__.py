"""Training: the Trainer and its callbacks, metrics, checkpoints and run directories."""

from ttrain.training.callbacks import Callback, EarlyStopping, MetricsLogger, ModelCheckpoint, ProgressReporter
from ttrain.training.metrics import accuracy, metric, top_k_accuracy
from ttrain.training.trainer import Trainer, TrainingFailed, TrainingInterrupted

__all__ = [
    "Callback", "EarlyStopping", "MetricsLogger", "ModelCheckpoint", "ProgressReporter", "Trainer", "TrainingFailed",
    "TrainingInterrupted", "accuracy", "metric", "top_k_accuracy",
]
