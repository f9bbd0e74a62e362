"""Stand-in components with PyTorch's signatures, so config tests do not depend on ttrain.nn/optim.

They declare the traits the config layer reads (a scheduler's step interval, a layer's inferred
sizes, a metric's log name) as the real classes do.

``stub_registry`` swaps every registry category for these stand-ins (restored after the test);
the real targets are checked separately in test_registry.py and test_shipped_configs.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Literal

import pytest

from ttrain.config.registry import REGISTRIES, Kind, Registry
from ttrain.declare import metric


class SGD:
    """Stochastic gradient descent."""

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        self.params, self.lr = params, lr


class Adam:
    """Adam."""

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        self.params, self.lr, self.betas = params, lr, betas


class StepLR:
    """Decay the learning rate every step_size epochs."""

    default_interval, needs_metric, needs_total_steps = "epoch", False, False

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1) -> None:
        self.optimizer, self.step_size = optimizer, step_size


class LinearLR:
    """Linear ramp."""

    default_interval, needs_metric, needs_total_steps = "epoch", False, False

    def __init__(self, optimizer: Any, start_factor: float = 1 / 3, end_factor: float = 1.0, total_iters: int = 5) -> None:
        self.optimizer, self.start_factor, self.total_iters = optimizer, start_factor, total_iters


class SequentialLR:
    """Schedulers one after another."""

    default_interval, needs_metric, needs_total_steps = "epoch", False, False

    def __init__(self, optimizer: Any, schedulers: list[Any], milestones: list[int]) -> None:
        self.schedulers, self.milestones = schedulers, milestones


class ReduceLROnPlateau:
    """Reduce the learning rate when a metric stops improving."""

    default_interval, needs_metric, needs_total_steps = "epoch", True, False

    def __init__(self, optimizer: Any, mode: Literal["min", "max"] = "min", factor: float = 0.1, patience: int = 10) -> None:
        self.mode = mode


class OneCycleLR:
    """One-cycle policy."""

    default_interval, needs_metric, needs_total_steps = "step", False, True

    def __init__(self, optimizer: Any, max_lr: float, total_steps: int | None = None) -> None:
        self.max_lr = max_lr


class Linear:
    """y = x W^T + b."""

    inferred_args = {"in_features": "last"}

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        self.in_features, self.out_features = in_features, out_features


class ReLU:
    """max(x, 0)."""


class Dropout:
    """Zero inputs with probability p."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p


class MLP:
    """A multi-layer perceptron."""

    def __init__(self, in_features: int = 784, hidden: list[int] = (512, 256), num_classes: int = 10,  # type: ignore[assignment]
                 activation: Literal["relu", "tanh", "sigmoid", "gelu"] = "relu", dropout: float = 0.0) -> None:
        self.hidden = hidden


class SeedNet:
    """Linear + Sigmoid."""

    def __init__(self, in_features: int = 784, num_classes: int = 10) -> None:
        self.in_features = in_features


class CrossEntropyLoss:
    """Cross entropy."""

    def __init__(self, ignore_index: int = -100, reduction: Literal["mean", "sum", "none"] = "mean",
                 label_smoothing: float = 0.0) -> None:
        self.reduction = reduction


class MSELoss:
    """Mean squared error."""

    def __init__(self, reduction: Literal["mean", "sum", "none"] = "mean") -> None:
        self.reduction = reduction


def mnist(flatten: bool = True, normalize: bool = True, one_hot: bool = False, train_size: int | None = None) -> dict[str, Any]:
    """Bundled MNIST."""
    return {"train": train_size}


def npz(path: Path, test_path: Path | None = None, features_key: str = "x") -> dict[str, Any]:
    """A user's .npz file."""
    return {"path": path}


def accuracy(outputs: Any, targets: Any) -> float:
    """Fraction of correct predictions."""
    return 1.0


@metric(log_name="top_{k}")
def top_k_accuracy(outputs: Any, targets: Any, k: int = 5) -> float:
    """Top-k accuracy."""
    return float(k)


STUBS: dict[str, dict[str, Callable[..., Any]]] = {
    "models": {"mlp": MLP, "seed_net": SeedNet},
    "layers": {"linear": Linear, "relu": ReLU, "dropout": Dropout},
    "losses": {"cross_entropy": CrossEntropyLoss, "mse": MSELoss},
    "optimizers": {"sgd": SGD, "adam": Adam},
    "schedulers": {"step": StepLR, "plateau": ReduceLROnPlateau, "onecycle": OneCycleLR, "linear": LinearLR},
    "datasets": {"mnist": mnist, "npz": npz},
    "metrics": {"accuracy": accuracy, "top_k": top_k_accuracy},
}


@pytest.fixture
def stub_registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, Registry]:
    """Every category holds only the stand-ins above while the test runs.

    Its kind admits any callable: the real kinds are nn.Module, Optimizer, ... subclasses, which the
    stand-ins are not (test_trust.py checks the real kinds against the real registries).
    """
    for category, stubs in STUBS.items():
        registry = REGISTRIES[category]
        stand_in = Registry(registry.category, registry.noun, Kind(registry.kind.description), registry.supplied)
        for name, target in stubs.items():
            stand_in.register(name, target)
        monkeypatch.setitem(REGISTRIES, category, stand_in)
    return REGISTRIES


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write YAML text to ``tmp_path/name`` and return the path."""

    def write(text: str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


MINIMAL = """\
model:
  name: mlp
data:
  name: mnist
"""
