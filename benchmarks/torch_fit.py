"""The PyTorch twin of `ttrain fit` on the MLP config: the job whose peak memory and start-up ttrain's is compared with.

    python -m benchmarks.torch_fit --mnist DIR --out DIR [--epochs 1] [--batch-size 128]
                                   [--train-size N] [--test-size N] [--threads N]

Written the way a PyTorch user writes it without torchvision: read the bundled MNIST IDX files,
scale and normalise to float32 tensors, `DataLoader(TensorDataset, shuffle=True)`, the MLP
784-512-256-10, Adam 1e-3, cross-entropy; after each epoch evaluate the test set (batches of 256,
as ttrain's default) and save model and optimizer state. If `BENCH_FIRST_STEP_FILE` is set, the
`time.monotonic()` at the end of the first optimizer step is written there.
"""

from __future__ import annotations

import argparse
import gzip
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

FILES = {
    "train": ("train-10k-images-idx3-ubyte.gz", "train-10k-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def read_idx(path: Path, header: int) -> np.ndarray:
    """The payload of an IDX file (images: 16-byte header, labels: 8) as uint8."""
    with gzip.open(path, "rb") as handle:
        return np.frombuffer(handle.read(), dtype=np.uint8, offset=header)


def load_split(folder: Path, split: str, size: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised float32 rows (N, 784) and int64 labels."""
    images, labels = FILES[split]
    x = read_idx(folder / images, 16).reshape(-1, 784)[:size]
    y = read_idx(folder / labels, 8)[:size]
    x = (torch.from_numpy(x.astype(np.float32)) / 255.0 - 0.1307) / 0.3081
    return x, torch.from_numpy(y.astype(np.int64))


def main() -> None:
    """Train, evaluate and checkpoint as `ttrain fit` does."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, required=True, help="folder of the bundled MNIST .gz files")
    parser.add_argument("--out", type=Path, required=True, help="folder for the checkpoints")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--test-size", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    train = torch.utils.data.TensorDataset(*load_split(args.mnist, "train", args.train_size))
    test = torch.utils.data.TensorDataset(*load_split(args.mnist, "test", args.test_size))
    train_loader = torch.utils.data.DataLoader(train, batch_size=args.batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test, batch_size=max(args.batch_size, 256))
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    marker = os.environ.get("BENCH_FIRST_STEP_FILE")
    args.out.mkdir(parents=True, exist_ok=True)
    for epoch in range(args.epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            loss.item()  # as ttrain's Trainer reads the loss every step
            if marker:
                Path(marker).write_text(repr(time.monotonic()), encoding="utf-8")
                marker = None
        model.eval()
        correct = 0
        with torch.inference_mode():
            for x, y in test_loader:
                correct += int((model(x).argmax(1) == y).sum())
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1,
                    "accuracy": correct / len(test)}, args.out / "last.pt")


if __name__ == "__main__":
    main()
