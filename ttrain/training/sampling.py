"""Generating text from a character model: feed a prompt, then draw one character at a time.

A model with `forward_with_state` (`CharLSTM`) reads the prompt once and then each new character
alone, carrying its recurrent state; any other model that maps (1, T) character indices to logits
(1, V, T) is run again over its last ``context`` characters for every new one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ttrain.data.errors import DataError
from ttrain.data.text import decode, encode, unknown_characters


def next_distribution(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities of the next character from its logits (V,) at ``temperature`` (> 0), in float64."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    weights = np.exp(scaled - scaled.max())
    return weights / weights.sum()


def _pick(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """The next character's index: the most likely one at temperature 0, else a draw."""
    if temperature == 0:
        return int(np.argmax(logits))
    cumulative = np.cumsum(next_distribution(logits, temperature))
    return int(min(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"), len(cumulative) - 1))


def generate(model: Any, vocabulary: str, prompt: str, tokens: int, temperature: float = 1.0, seed: int = 0,
             context: int = 64) -> str:
    """The ``tokens`` characters ``model`` writes after ``prompt`` (the prompt not included).

    ``temperature`` 0 always takes the most likely character; higher values flatten the
    distribution. The same ``seed`` gives the same text. A prompt character the vocabulary lacks is
    a DataError naming it; so is an empty prompt (the model needs a character to start from).
    """
    from ttrain.autograd.creation import from_numpy
    from ttrain.autograd.grad_mode import no_grad

    if not prompt:
        raise DataError("the prompt is empty: give the model at least one character to continue from")
    missing = unknown_characters(prompt, vocabulary)
    if missing:
        raise DataError(f"the prompt has characters the model's vocabulary lacks: {', '.join(map(repr, missing))} "
                        f"(it knows {len(vocabulary)}: {vocabulary!r})")
    if tokens < 0 or temperature < 0 or context < 1:
        raise ValueError(f"generate: tokens ({tokens}) and temperature ({temperature}) must not be negative, "
                         f"context ({context}) must be positive")
    rng = np.random.default_rng(seed)
    ids = [int(i) for i in encode(prompt, vocabulary)]
    stateful = callable(getattr(model, "forward_with_state", None))
    produced: list[int] = []
    state = None
    model.eval()
    with no_grad():
        feed = ids
        for _ in range(tokens):
            batch = from_numpy(np.asarray([feed if stateful else ids[-context:]], dtype=np.int64))
            if stateful:
                logits, state = model.forward_with_state(batch, state)
            else:
                logits = model(batch)
            choice = _pick(logits.data[0, :, -1], temperature, rng)
            produced.append(choice)
            ids.append(choice)
            feed = [choice]
    return decode(produced, vocabulary)
