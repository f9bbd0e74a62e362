"""The benchmark tasks in PyTorch: modules whose state-dict names match ttrain's, the same optimizer and loss."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.workloads import Inputs, Step, Task, mlp_hidden


def _model(torch: Any, model: str) -> Any:
    """torch.nn twins of ttrain's benchmark models (same layers, same state-dict names)."""
    nn = torch.nn

    class SeedNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(784, 10)
            self.sigmoid = nn.Sigmoid()

        def forward(self, x: Any) -> Any:
            return self.sigmoid(self.linear(x))

    class MLP(nn.Module):
        def __init__(self, first: int = 512, second: int = 256) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(784, first), nn.ReLU(), nn.Linear(first, second), nn.ReLU(),
                                     nn.Linear(second, 10))

        def forward(self, x: Any) -> Any:
            return self.net(x)

    class CNN(nn.Module):  # PyTorch's MNIST example, as configs/mnist_cnn.yaml
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
            )
            self.classifier = nn.Sequential(
                nn.Flatten(), nn.Linear(64 * 12 * 12, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10),
            )

        def forward(self, x: Any) -> Any:
            return self.classifier(self.features(x))

    class LeNetStyle(nn.Module):  # workloads._ttrain_lenet
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                                          nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2))
            self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))

        def forward(self, x: Any) -> Any:
            return self.classifier(self.features(x))

    class Patches(nn.Module):  # ttrain's PatchEmbedding: a strided conv, flattened to (N, 49, 64) tokens
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Conv2d(1, 64, 4, stride=4)

        def forward(self, x: Any) -> Any:
            return self.proj(x).flatten(2).transpose(1, 2)

    class Positions(nn.Module):  # ttrain's LearnedPositionalEmbedding
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(49, 64))

        def forward(self, x: Any) -> Any:
            return x + self.weight

    class MeanOverTokens(nn.Module):  # ttrain's SequenceOutput("mean")
        def forward(self, x: Any) -> Any:
            return x.mean(dim=1)

    def vit() -> Any:  # configs/mnist_vit.yaml
        layer = nn.TransformerEncoderLayer(64, 4, 128, dropout=0.1, activation="gelu", batch_first=True,
                                           norm_first=True)
        encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(64), enable_nested_tensor=False)
        return nn.Sequential(Patches(), Positions(), encoder, MeanOverTokens(), nn.Linear(64, 10))

    class LastStepLSTM(nn.LSTM):  # ttrain's LSTMLayer: batch-first, the output sequence only
        def forward(self, x: Any) -> Any:
            return super().forward(x)[0][:, -1]

    def lstm() -> Any:
        return nn.Sequential(LastStepLSTM(28, 128, batch_first=True), nn.Identity(), nn.Linear(128, 10))

    if model.startswith("mlp"):
        return MLP(*mlp_hidden(model))
    return {"seed": SeedNet, "cnn": CNN, "lenet": LeNetStyle, "transformer": vit, "lstm": lstm}[model]()


def build(task: Task, inputs: Inputs) -> tuple[Step, float]:
    """A step function over one batch of arrays and a check value (first-batch loss or mean output)."""
    import torch

    torch.manual_seed(0)
    model = _model(torch, task.model)
    # strict=True: the names and layouts must match ttrain's exactly.
    model.load_state_dict({k: torch.from_numpy(v) for k, v in inputs.init_state(task.model).items()}, strict=True)
    x0, y0 = inputs.batches(task)[0]
    from_numpy = torch.from_numpy

    if not task.train:
        model.eval()

        def infer(x: np.ndarray, _y: np.ndarray) -> None:
            with torch.inference_mode():
                model(from_numpy(x))

        with torch.inference_mode():
            check = float(model(from_numpy(x0)).mean())
        return infer, check

    loss_fn = torch.nn.MSELoss() if task.model == "seed" else torch.nn.CrossEntropyLoss()
    model.eval()  # the check loss without dropout, so both frameworks compute the same number
    with torch.no_grad():
        check = float(loss_fn(model(from_numpy(x0)), from_numpy(y0)))
    if task.model == "seed":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def train(x: np.ndarray, y: np.ndarray) -> None:
        optimizer.zero_grad()
        loss = loss_fn(model(from_numpy(x)), from_numpy(y))
        loss.backward()
        optimizer.step()

    return train, check
