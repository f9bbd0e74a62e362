"""The PyTorch twin of `ttrain fit` on the MLP and CNN configs: the jobs whose wall time, peak memory
and start-up ttrain's are compared with.

    python -m benchmarks.torch_fit --mnist DIR --out DIR [--model mlp|cnn] [--epochs 1] [--batch-size 128]
                                   [--augment-shift 0] [--train-size N] [--test-size N] [--threads N]

Written the way a PyTorch user writes it without torchvision: read the bundled MNIST IDX files,
scale and normalise to float32 tensors, `DataLoader(TensorDataset, shuffle=True)`, the MLP
784-512-256-10 or the CNN of configs/mnist_cnn.yaml (the benchmark's twin, `workloads_torch`),
Adam 1e-3, cross-entropy; with `--augment-shift S` each training batch is shifted by up to S pixels
per image, as the CNN config's `augment_shift`; after each epoch evaluate the test set (batches of
256, as ttrain's default) and save model and optimizer state. If `BENCH_FIRST_STEP_FILE` is set, the
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

from benchmarks.workloads_torch import _model as twin_model

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


def random_shift(images: torch.Tensor, shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each image of (N, 1, H, W) moved by its own offset of up to `shift` pixels, zero-filled: pad, then gather."""
    n, _, h, w = images.shape
    padded = torch.nn.functional.pad(images, (shift, shift, shift, shift))
    dy, dx = torch.randint(-shift, shift + 1, (2, n), generator=generator)
    rows = torch.arange(h)[None, :] + shift - dy[:, None]
    cols = torch.arange(w)[None, :] + shift - dx[:, None]
    return padded[torch.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


def main() -> None:
    """Train, evaluate and checkpoint as `ttrain fit` does."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, required=True, help="folder of the bundled MNIST .gz files")
    parser.add_argument("--out", type=Path, required=True, help="folder for the checkpoints")
    parser.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--augment-shift", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--test-size", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shape = (-1, 1, 28, 28) if args.model == "cnn" else (-1, 784)
    train_x, train_y = load_split(args.mnist, "train", args.train_size)
    test_x, test_y = load_split(args.mnist, "test", args.test_size)
    train = torch.utils.data.TensorDataset(train_x.reshape(shape), train_y)
    test = torch.utils.data.TensorDataset(test_x.reshape(shape), test_y)
    train_loader = torch.utils.data.DataLoader(train, batch_size=args.batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test, batch_size=max(args.batch_size, 256))
    model = twin_model(torch, args.model)
    shifts = torch.Generator().manual_seed(1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    marker = os.environ.get("BENCH_FIRST_STEP_FILE")
    args.out.mkdir(parents=True, exist_ok=True)
    for epoch in range(args.epochs):
        model.train()
        for x, y in train_loader:
            if args.augment_shift:
                x = random_shift(x, args.augment_shift, shifts)
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
