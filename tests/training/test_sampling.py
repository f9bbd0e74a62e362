"""Generating text: greedy at temperature 0, seeded draws from softmax(logits / T), the prompt checked."""

from __future__ import annotations

import numpy as np
import pytest

from ttrain.autograd.creation import from_numpy
from ttrain.data import DataError
from ttrain.nn import CharLSTM, Module
from ttrain.training.sampling import generate, next_distribution

VOCABULARY = "abcde"


class Cycle(Module):
    """Logits (N, V, T) that favour the character after each input one (e after d, a after e) by `margin`."""

    def __init__(self, margin: float) -> None:
        super().__init__()
        self.margin = margin
        self.seen: list[int] = []  # the length of each input, to check the context window

    def forward(self, x):
        ids = x.data.astype(np.int64)
        self.seen.append(ids.shape[1])
        logits = np.zeros((ids.shape[0], len(VOCABULARY), ids.shape[1]))
        np.put_along_axis(logits, ((ids + 1) % len(VOCABULARY))[:, None, :], self.margin, axis=1)
        return from_numpy(logits)


def test_temperature_zero_takes_the_most_likely_character() -> None:
    assert generate(Cycle(0.1), VOCABULARY, "c", 7, temperature=0) == "deabcde"


def test_draws_follow_softmax_of_logits_over_temperature_and_repeat_for_a_seed() -> None:
    logits = np.array([2.0, 0.0, -1.0, 0.5, 0.0])
    expected = np.exp(logits / 0.7) / np.exp(logits / 0.7).sum()
    np.testing.assert_allclose(next_distribution(logits, 0.7), expected, rtol=1e-12)
    text = generate(Cycle(1.0), VOCABULARY, "a", 4000, temperature=1.0, seed=5)
    assert text == generate(Cycle(1.0), VOCABULARY, "a", 4000, temperature=1.0, seed=5)
    assert text != generate(Cycle(1.0), VOCABULARY, "a", 4000, temperature=1.0, seed=6)
    previous = "a" + text[:-1]
    follows = np.mean([VOCABULARY.index(n) == (VOCABULARY.index(p) + 1) % 5 for p, n in zip(previous, text)])
    assert follows == pytest.approx(np.e / (np.e + 4), abs=0.03)  # the favoured one, 4000 draws


def test_a_model_without_state_is_run_over_its_last_context_characters() -> None:
    model = Cycle(1.0)
    generate(model, VOCABULARY, "abcdeab", 5, temperature=0, context=4)
    assert model.seen == [4] * 5


def test_a_recurrent_model_reads_the_prompt_once_and_then_one_character_at_a_time() -> None:
    model = CharLSTM(vocab_size=5, embedding_dim=3, hidden_size=4)

    class Windowed(Module):  # the same model, without forward_with_state: rerun over everything
        def forward(self, x):
            return model(x)

    stateful = generate(model, VOCABULARY, "abcab", 12, temperature=0.8, seed=1)
    assert stateful == generate(Windowed(), VOCABULARY, "abcab", 12, temperature=0.8, seed=1, context=100)


def test_the_prompt_must_be_made_of_known_characters() -> None:
    with pytest.raises(DataError, match="lacks: 'x', 'Z'"):
        generate(Cycle(1.0), VOCABULARY, "abxZx", 3)
    with pytest.raises(DataError, match="the prompt is empty"):
        generate(Cycle(1.0), VOCABULARY, "", 3)
    assert generate(Cycle(1.0), VOCABULARY, "a", 0) == ""
