"""Seeded random streams: one seed drives init, dropout and shuffling, via numpy's SeedSequence."""

from __future__ import annotations

from typing import Any

import numpy as np


class Generator:
    """A random stream (PCG64 seeded through `numpy.random.SeedSequence`), like `torch.Generator`."""

    def __init__(self, seed: int | None = None) -> None:
        self.manual_seed(0 if seed is None else seed)

    def manual_seed(self, seed: int) -> "Generator":
        """Restart the stream from `seed`; returns self."""
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
        self._seed = int(seed)
        self.numpy = np.random.Generator(np.random.PCG64(np.random.SeedSequence(self._seed)))
        return self

    def initial_seed(self) -> int:
        """The seed the stream was last started from."""
        return self._seed

    def spawn(self, n: int) -> list["Generator"]:
        """`n` independent child streams derived from this one's current state."""
        children = []
        for seq in np.random.SeedSequence(int(self.numpy.integers(2**63))).spawn(n):
            child = Generator.__new__(Generator)
            child._seed = self._seed
            child.numpy = np.random.Generator(np.random.PCG64(seq))
            children.append(child)
        return children

    def get_state(self) -> dict[str, Any]:
        """The stream's state as plain JSON-able data (for checkpoints)."""
        state = self.numpy.bit_generator.state
        return {"seed": self._seed, "bit_generator": _jsonable(state)}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from `get_state()`."""
        try:
            seed, bit_state = int(state["seed"]), state["bit_generator"]
            self.numpy.bit_generator.state = bit_state
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"Generator.set_state: not a state from get_state() ({e})") from None
        self._seed = seed


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.integer):
        return int(value)
    return value


_default = Generator(0)


def default_generator() -> Generator:
    """The global stream that `manual_seed` resets."""
    return _default


def manual_seed(seed: int) -> Generator:
    """Seed the global stream (and so every default random draw in ttrain)."""
    return _default.manual_seed(seed)


def resolve(generator: Generator | None) -> np.random.Generator:
    """The numpy generator behind `generator`, or the global one."""
    return (generator or _default).numpy
