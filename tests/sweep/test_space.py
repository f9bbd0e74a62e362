"""The search-space grammar: what `--grid` and `--param` accept, and what they say when refused."""

from __future__ import annotations

import pytest

from ttrain.sweep.space import Distribution, parse_distribution, parse_grid_values, split_values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("loguniform(1e-4,1e-1)", Distribution("loguniform", 1e-4, 0.1)),
        ("uniform(0, 0.5)", Distribution("uniform", 0, 0.5)),
        ("int(16,128)", Distribution("int", 16, 128)),
        ("int(16,128,16)", Distribution("int", 16, 128, 16)),
        ("choice(sgd, adam, 3, true)", Distribution("choice", choices=("sgd", "adam", 3, True))),
    ],
)
def test_each_distribution_form_parses(text: str, expected: Distribution) -> None:
    assert parse_distribution(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("logunif(1,2)", "unknown distribution 'logunif'"),
        ("loguniform(0,1)", "both ends must be > 0"),
        ("uniform(2,1)", "low end must be below the high end"),
        ("int(1.5,4)", "expected an integer"),
        ("int(1,4,0)", "step must be >= 1"),
        ("uniform(1)", "takes 2 numbers, found 1"),
        ("choice()", "at least one value"),
        ("choice([1,2])", "must be a number, string, bool or null"),
        ("0.1", "expected loguniform(a,b)"),
    ],
)
def test_a_bad_distribution_says_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        parse_distribution(text)
    assert fragment in str(info.value)


def test_grid_values_are_yaml_and_brackets_do_not_split() -> None:
    assert parse_grid_values("0.1, 1e-3, adam, true") == [0.1, 0.001, "adam", True]
    assert split_values("[1,2],{a: 1},'x,y'") == ["[1,2]", "{a: 1}", "'x,y'"]
    with pytest.raises(ValueError, match="repeated value"):
        parse_grid_values("0.1,0.1")
