"""Batch transforms: each takes and returns a whole batch (a NumPy array with a leading batch axis).

Working on batches keeps the `DataLoader` vectorised: one call per batch, no per-sample Python loop.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ttrain.data._rng import keep_stream, numpy_rng


class Transform:
    """Base class: ``__call__(batch) -> batch`` and `output_shape`, which maps a batch shape to the
    shape of the result without computing it (the config layer sizes models from it)."""

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape this transform gives a batch of ``shape`` (unchanged by default)."""
        return shape

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


def output_shape(
    transform: Callable[[np.ndarray], np.ndarray] | None, shape: tuple[int, ...], dtype: Any = np.float32
) -> tuple[int, ...]:
    """The batch shape after ``transform`` (None: unchanged); a plain callable is run on one zero sample."""
    if transform is None:
        return tuple(shape)
    if isinstance(transform, Transform):
        return tuple(transform.output_shape(tuple(shape)))
    probe = transform(np.zeros((1, *shape[1:]), dtype=dtype))
    return (shape[0], *np.shape(probe)[1:])


class Compose(Transform):
    """Apply ``transforms`` in order (torchvision's ``Compose``)."""

    def __init__(self, transforms: Sequence[Callable[[np.ndarray], np.ndarray]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        for t in self.transforms:
            batch = t(batch)
        return batch

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        for t in self.transforms:
            shape = output_shape(t, shape)
        return shape


class ToFloat(Transform):
    """Convert to a float dtype; integer data is scaled to [0, 1] by its dtype's maximum (uint8: 1/255).

    Pass ``scale`` to multiply by a fixed factor instead (``scale=1.0`` converts without scaling).
    """

    def __init__(self, dtype: Any = np.float32, scale: float | None = None) -> None:
        self.dtype = np.dtype(dtype)
        self.scale = scale

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        scale = self.scale
        if scale is None and batch.dtype.kind in "iu":
            scale = 1.0 / np.iinfo(batch.dtype).max
        out = batch.astype(self.dtype)
        if scale is not None and scale != 1.0:
            out *= self.dtype.type(scale)
        return out


class Normalize(Transform):
    """``(x - mean) / std`` with scalar statistics, one per channel (axis 1, as in torchvision), or one
    per feature (shaped like a sample)."""

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = mean
        self.std = std
        std_arr = np.asarray(std, dtype=np.float64)
        if np.any(std_arr <= 0):
            raise ValueError(f"Normalize: std must be positive, got {std}")

    def _broadcastable(self, value: float | Sequence[float], batch: np.ndarray) -> np.ndarray:
        """A scalar, one value per feature (shaped like a sample), or one per channel (axis 1)."""
        arr = np.asarray(value, dtype=batch.dtype)
        if arr.ndim == 0 or arr.shape == batch.shape[1:]:
            return arr
        if arr.ndim == 1 and batch.ndim >= 2 and batch.shape[1] == arr.size:
            return arr.reshape((1, arr.size) + (1,) * (batch.ndim - 2))
        raise ValueError(f"Normalize: statistics of shape {arr.shape} do not fit a batch of shape {batch.shape}")

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if batch.dtype.kind != "f":
            raise TypeError(f"Normalize: needs a float batch, got {batch.dtype} (put ToFloat() before it)")
        return (batch - self._broadcastable(self.mean, batch)) / self._broadcastable(self.std, batch)


class Flatten(Transform):
    """Flatten every sample to one axis: ``(N, ...) -> (N, prod(...))``."""

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return batch.reshape(len(batch), -1)

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (shape[0], int(np.prod(shape[1:], dtype=np.int64)))


class OneHot(Transform):
    """Target transform: integer class labels ``(N,)`` to one-hot rows ``(N, num_classes)`` (for MSE)."""

    def __init__(self, num_classes: int, dtype: Any = np.float32) -> None:
        if num_classes < 1:
            raise ValueError(f"OneHot: num_classes must be at least 1, got {num_classes}")
        self.num_classes = num_classes
        self.dtype = np.dtype(dtype)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        labels = np.asarray(batch)
        if labels.dtype.kind not in "iu":
            raise TypeError(f"OneHot: needs integer class labels, got {labels.dtype}")
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"OneHot: labels must lie in [0, {self.num_classes}), got values from {labels.min()} to {labels.max()}"
            )
        return np.eye(self.num_classes, dtype=self.dtype)[labels]

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (*shape, self.num_classes)


class RandomShift(Transform):
    """Translate each image by its own random offset of up to ``max_shift`` pixels along each of the
    last two axes, filling the uncovered border with ``fill``.

    Works on ``(N, H, W)`` or ``(N, C, H, W)`` batches, all images in one gather. Offsets come from
    ``generator`` (a `ttrain.Generator`, NumPy Generator or int seed), or ttrain's global generator
    when None, so a seeded run augments the same way every time.
    """

    def __init__(self, max_shift: int, fill: float = 0.0, generator: Any = None) -> None:
        if max_shift < 0:
            raise ValueError(f"RandomShift: max_shift must be non-negative, got {max_shift}")
        self.max_shift = int(max_shift)
        self.fill = fill
        self._generator = keep_stream(generator)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if batch.ndim < 3:
            raise ValueError(f"RandomShift: needs images of shape (N, [C,] H, W), got a batch of shape {batch.shape}")
        s = self.max_shift
        if s == 0 or len(batch) == 0:
            return batch
        rng = numpy_rng(self._generator)
        n, h, w = len(batch), batch.shape[-2], batch.shape[-1]
        images = batch.reshape(n, -1, h, w)
        padded = np.pad(images, ((0, 0), (0, 0), (s, s), (s, s)), constant_values=self.fill)
        dy, dx = rng.integers(-s, s + 1, size=(2, n))
        # out[i, c, r, k] = image[i, c, r - dy[i], k - dx[i]]; the padding supplies the fill.
        rows = np.arange(h)[None, :] + s - dy[:, None]
        cols = np.arange(w)[None, :] + s - dx[:, None]
        out = padded[
            np.arange(n)[:, None, None, None],
            np.arange(images.shape[1])[None, :, None, None],
            rows[:, None, :, None],
            cols[:, None, None, :],
        ]
        return out.reshape(batch.shape)
