"""Seeded random streams: one seed reproduces every draw; states round-trip for checkpoints."""

import json

import numpy as np
import pytest

import ttrain
from ttrain.random import default_generator


def test_manual_seed_reproduces_the_global_stream():
    ttrain.manual_seed(123)
    first = (ttrain.randn(5).data, ttrain.rand(3).data, ttrain.randint(0, 10, (4,)).data, ttrain.randperm(6).data)
    ttrain.manual_seed(123)
    second = (ttrain.randn(5).data, ttrain.rand(3).data, ttrain.randint(0, 10, (4,)).data, ttrain.randperm(6).data)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    ttrain.manual_seed(124)
    assert not np.array_equal(ttrain.randn(5).data, first[0])


def test_manual_seed_returns_the_default_generator():
    g = ttrain.manual_seed(7)
    assert g is default_generator() and g.initial_seed() == 7


def test_generators_are_independent_of_the_global_stream():
    g = ttrain.Generator(5)
    a = ttrain.randn(4, generator=g).data
    ttrain.randn(100)  # draws from the global stream do not disturb g
    b = ttrain.randn(4, generator=ttrain.Generator(5)).data
    np.testing.assert_array_equal(a, b)
    c = ttrain.randn(4, generator=g).data
    assert not np.array_equal(a, c)


def test_state_round_trips_through_json():
    g = ttrain.Generator(42)
    ttrain.rand(10, generator=g)
    state = json.loads(json.dumps(g.get_state()))  # checkpoints store it as plain data
    expected = ttrain.rand(5, generator=g).data
    g.set_state(state)
    np.testing.assert_array_equal(ttrain.rand(5, generator=g).data, expected)
    other = ttrain.Generator(0)
    other.set_state(state)
    np.testing.assert_array_equal(ttrain.rand(5, generator=other).data, expected)
    assert other.initial_seed() == 42


def test_spawned_streams_are_reproducible_and_distinct():
    children = ttrain.Generator(3).spawn(2)
    again = ttrain.Generator(3).spawn(2)
    draws = [ttrain.rand(4, generator=c).data for c in children]
    np.testing.assert_array_equal(draws[0], ttrain.rand(4, generator=again[0]).data)
    assert not np.array_equal(draws[0], draws[1])


def test_bad_seeds_and_states_are_clear_errors():
    for seed in (-1, 1.5, "3", True):
        with pytest.raises(ValueError, match="seed must be a non-negative integer"):
            ttrain.Generator(seed)
    with pytest.raises(ValueError, match="not a state from get_state"):
        ttrain.Generator().set_state({"seed": 1})
    with pytest.raises(ValueError, match="not a state from get_state"):
        ttrain.Generator().set_state({"seed": 1, "bit_generator": {"bit_generator": "MT19937"}})
