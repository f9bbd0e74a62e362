"""Turn the `generator` argument of the data API into a NumPy generator."""

from __future__ import annotations

from typing import Any

import numpy as np

from ttrain.random import default_generator


def numpy_rng(generator: Any = None) -> np.random.Generator:
    """The NumPy generator behind ``generator``.

    ``generator`` may be a `ttrain.Generator` (its stream is used, so its state advances), a NumPy
    ``Generator``, an int seed (a fresh stream, the same for the same seed), or None for ttrain's
    global default generator (the one `ttrain.manual_seed` seeds).
    """
    if generator is None:
        generator = default_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    if _is_seed(generator):
        return np.random.default_rng(int(generator))
    rng = getattr(generator, "numpy", None)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(
        f"generator must be a ttrain.Generator, a numpy Generator, an int seed or None, got {type(generator).__name__}"
    )


def keep_stream(generator: Any) -> Any:
    """What an object that draws repeatedly should store for ``generator``.

    An int seed becomes one NumPy stream now (resolving the seed per draw would repeat the same
    numbers); anything else is kept as is and resolved per draw with `numpy_rng`, so re-seeding a
    `ttrain.Generator` (or the global one) later takes effect.
    """
    return numpy_rng(generator) if _is_seed(generator) else generator


def _is_seed(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
