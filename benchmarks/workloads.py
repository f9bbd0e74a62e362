"""What is measured: the training/inference tasks, their targets, and the data and weights both sides share.

A task is one model in one mode (train or infer) at one batch size. The runner prepares, once per
run, the MNIST arrays and each model's initial weights (`prepare_inputs`) and every worker loads
those same files, so ttrain, PyTorch and the NumPy floor start from identical float32 data and
identical parameters, and see the same batches in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# The command-line names of the workloads, in the order the report lists them.
THROUGHPUT_WORKLOADS = ("seed", "mlp", "cnn", "lenet", "transformer", "infer_mlp", "infer_cnn", "infer_lenet",
                        "numpy_mlp", "lstm")
PROCESS_WORKLOADS = ("startup", "memory", "conv_layers", "scaling", "whole_job")
ALL_WORKLOADS = THROUGHPUT_WORKLOADS + PROCESS_WORKLOADS

MODELS = ("seed", "mlp", "cnn", "lenet", "transformer", "lstm")
IMAGE_MODELS = ("cnn", "lenet", "transformer")  # fed (N, 1, 28, 28) images, not rows
INFER_BATCH = 256  # issue 10: inference is measured at batch 256
DATA_SEED = 0  # the batch order
INIT_SEED = 0  # the initial weights


# What each framework's `build(task, inputs)` returns first: one training or inference step on a batch.
Step = Callable[[np.ndarray, np.ndarray], None]


@dataclass(frozen=True)
class Task:
    """One model in one mode, timed in each of `frameworks` (alternating).

    `steps` is the default number of timed steps per repeat, `warmup` the untimed steps run once
    when a worker builds the task. `target`/`numpy_target` are the minimum ratios ttrain/PyTorch
    (issue 10's) and ttrain/NumPy (issue 5's) in samples per second (None: no target).
    """

    key: str
    title: str
    model: str
    train: bool
    batch_size: int
    steps: int
    warmup: int
    frameworks: tuple[str, ...]
    target: float | None = None
    numpy_target: float | None = None


def tasks_for(workloads: list[str], torch: bool = True) -> list[Task]:
    """The throughput tasks the selected workload names ask for.

    `numpy_mlp` adds the hand-written NumPy MLP to the MLP training task's rotation (so ttrain,
    PyTorch and NumPy alternate there); alone, it runs the MLP in ttrain and NumPy only.
    """
    theirs = ("torch",) if torch else ()
    tasks = []
    if "seed" in workloads:
        tasks.append(Task("seed", "seed net train (Linear 784->10 + Sigmoid, MSE, SGD lr 0.5)",
                          "seed", True, 128, 300, 20, ("ttrain", *theirs), target=2.0))
    if "mlp" in workloads or "numpy_mlp" in workloads:
        mlp_sides = ("ttrain", *theirs) if "mlp" in workloads else ("ttrain",)
        floor = ("numpy",) if "numpy_mlp" in workloads else ()
        tasks.append(Task("mlp", "MLP 784-512-256-10 train (ReLU, cross-entropy, Adam 1e-3)",
                          "mlp", True, 128, 40, 5, mlp_sides + floor,
                          target=1.3 if "mlp" in workloads else None,
                          numpy_target=0.95 if floor else None))
    if "cnn" in workloads:
        tasks.append(Task("cnn", "CNN of configs/mnist_cnn.yaml train (Adam 1e-3, dropout on)",
                          "cnn", True, 64, 6, 2, ("ttrain", *theirs), target=1.2))
    if "lenet" in workloads:
        tasks.append(Task("lenet", "LeNet-style CNN train (3x3 convs 32, 64 unpadded, each + max-pool; FC 128; Adam)",
                          "lenet", True, 64, 12, 2, ("ttrain", *theirs), target=1.2))
    if "transformer" in workloads:
        tasks.append(Task("transformer", "ViT of configs/mnist_vit.yaml train (2-layer encoder, d_model 64, 4 heads, "
                          "49 patches; Adam 1e-3, dropout on)", "transformer", True, 64, 10, 3,
                          ("ttrain", *theirs), target=1.0))
    if "lstm" in workloads:
        tasks.append(Task("lstm", "LSTM(28, 128) over 28 rows of 28 pixels + Linear on the last step train "
                          "(cross-entropy, Adam 1e-3)", "lstm", True, 64, 30, 5, ("ttrain", *theirs), target=1.0))
    if "infer_mlp" in workloads:
        tasks.append(Task("infer_mlp", "MLP 784-512-256-10 inference (eval, no_grad / inference_mode)",
                          "mlp", False, INFER_BATCH, 50, 5, ("ttrain", *theirs), target=1.5))
    if "infer_cnn" in workloads:
        tasks.append(Task("infer_cnn", "CNN inference (eval, no_grad / inference_mode)",
                          "cnn", False, INFER_BATCH, 3, 1, ("ttrain", *theirs), target=1.5))
    if "infer_lenet" in workloads:
        tasks.append(Task("infer_lenet", "LeNet-style CNN inference (eval, no_grad / inference_mode)",
                          "lenet", False, INFER_BATCH, 6, 1, ("ttrain", *theirs), target=1.5))
    return tasks


# ---- shared inputs ---------------------------------------------------------------------------------

def _mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The bundled MNIST training set as ttrain's data pipeline gives it: normalised float32 rows and int64 labels."""
    from ttrain.data.factories import mnist

    train = mnist(flatten=True, normalize=True)["train"]
    x, y = train.get_batch(np.arange(len(train)))
    return np.ascontiguousarray(x, dtype=np.float32), np.asarray(y, dtype=np.int64)


def build_ttrain_model(model: str):  # noqa: ANN201  (a ttrain Module)
    """The ttrain model `model` names, built as a config would build it (registry or model class).

    Raises ImportError (with the reason) when the CNN is not available in this checkout yet.
    """
    from ttrain.nn.models import MLP, SeedNet

    if model == "seed":
        return SeedNet(784, 10)
    if model == "mlp" or model.startswith("mlp_w"):
        return MLP(784, mlp_hidden(model), 10, activation="relu")
    if model == "cnn":
        return cnn_class()()  # its defaults are the network of configs/mnist_cnn.yaml
    if model == "lenet":
        return _ttrain_lenet()
    if model == "transformer":
        return vit_model()
    if model == "lstm":  # the `layers:` list of configs/mnist_lstm.yaml, one image row per time step
        from ttrain import nn

        return nn.Sequential(nn.LSTMLayer(28, 128), nn.SequenceOutput("last"), nn.Linear(128, 10))
    raise ValueError(f"unknown model {model!r}; expected one of {', '.join(MODELS)} or mlp_w<width>")


def mlp_hidden(model: str) -> tuple[int, int]:
    """Hidden sizes of "mlp" (512, 256) or of a width-scaling MLP "mlp_w<W>" (W, W // 2)."""
    width = 512 if model == "mlp" else int(model.removeprefix("mlp_w"))
    return width, width // 2


def _ttrain_lenet():  # noqa: ANN202  (a ttrain Module)
    """The LeNet-style unpadded net of issue 10, state-dict names as its twin in workloads_torch:
    conv 3x3 1->32, ReLU, pool 2, conv 3x3 32->64, ReLU, pool 2 (28 -> 26 -> 13 -> 11 -> 5),
    FC 1600->128, ReLU, FC 10."""
    from ttrain import nn

    class LeNetStyle(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                                          nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2))
            self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))

        def forward(self, x):  # noqa: ANN001, ANN202
            return self.classifier(self.features(x))

    return LeNetStyle()


def cnn_class() -> type:
    """ttrain's CNN through the config registry (`model: {name: cnn}`), else straight from its module."""
    from ttrain.config.registry import RegistryError, resolve

    try:
        return resolve("models", "cnn")
    except RegistryError:
        from ttrain.nn.vision_models import CNN  # registered later than the class exists

        return CNN


def vit_model():  # noqa: ANN201  (a ttrain Module)
    """The `layers:` list of configs/mnist_vit.yaml, built as `ttrain fit` builds it."""
    from ttrain.config.api import load_config
    from ttrain.training.experiment import build_layers

    config, _ = load_config(Path(__file__).resolve().parents[1] / "configs" / "mnist_vit.yaml")
    return build_layers(config, (1, 28, 28), 10)


def prepare_inputs(folder: Path, models: set[str]) -> dict[str, str]:
    """Write the shared data and each model's initial weights into `folder`.

    Files: `x.npy` (N, 784) float32 in a seeded shuffled order, `y.npy` int64 labels, `onehot.npy`
    float32, and `init_<model>.npz` with the ttrain model's freshly initialised state dict
    (PyTorch's default init, seed `INIT_SEED`). Returns {model: reason} for models that could not
    be built (they are skipped).
    """
    import ttrain

    x, y = _mnist_arrays()
    order = np.random.default_rng(DATA_SEED).permutation(len(x))
    x, y = np.ascontiguousarray(x[order]), y[order]
    np.save(folder / "x.npy", x)
    np.save(folder / "y.npy", y)
    np.save(folder / "onehot.npy", np.eye(10, dtype=np.float32)[y])
    skipped = {}
    for model in sorted(models):
        try:
            ttrain.manual_seed(INIT_SEED)
            net = build_ttrain_model(model)
        except (ImportError, AttributeError) as error:
            skipped[model] = f"ttrain's CNN is not available in this checkout ({type(error).__name__}: {error})"
            continue
        state = {name: np.ascontiguousarray(t.numpy()) for name, t in net.state_dict().items()}
        np.savez(folder / f"init_{model}.npz", **state)
    return skipped


@dataclass
class Inputs:
    """The shared arrays, loaded in a worker: rows `x`, labels `y`, one-hot `onehot`."""

    x: np.ndarray
    y: np.ndarray
    onehot: np.ndarray
    folder: Path

    @classmethod
    def load(cls, folder: Path) -> Inputs:
        """Load what `prepare_inputs` wrote."""
        return cls(np.load(folder / "x.npy"), np.load(folder / "y.npy"), np.load(folder / "onehot.npy"), folder)

    def init_state(self, model: str) -> dict[str, np.ndarray]:
        """The initial weights of `model` by state-dict name."""
        with np.load(self.folder / f"init_{model}.npz") as data:
            return {name: data[name] for name in data.files}

    def batches(self, task: Task) -> list[tuple[np.ndarray, np.ndarray]]:
        """Every full batch of the epoch, as views: images (N, 1, 28, 28) for the image models, sequences
        of 28 rows (N, 28, 28) for the LSTM, one-hot targets for the seed net."""
        if task.model in IMAGE_MODELS:
            x = self.x.reshape(-1, 1, 28, 28)
        else:
            x = self.x.reshape(-1, 28, 28) if task.model == "lstm" else self.x
        targets = self.onehot if task.model == "seed" else self.y
        b = task.batch_size
        return [(x[i:i + b], targets[i:i + b]) for i in range(0, len(x) - b + 1, b)]
