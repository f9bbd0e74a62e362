"""YAML loading: safe semantics, YAML 1.2 floats, and the key-path -> file:line map."""

from __future__ import annotations

import pytest

from ttrain.config import loader
from ttrain.config.errors import ConfigError
from ttrain.config.loader import MAX_DEPTH, load_yaml, load_yaml_file, parse_value


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1e-3", 1e-3), ("1E5", 1e5), ("-2e+10", -2e10), ("5e3", 5000.0), ("1.0e5", 1e5), (".5e-2", 0.005),
     ("0.1", 0.1), ("3", 3), ("1_000", 1000)],
)
def test_numbers_in_exponent_form_are_floats(text: str, expected: float) -> None:
    value = parse_value(text, "--set x")
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize("text", ["e5", "1e", "1e-", "abc1e5", "'1e-3'"])
def test_non_numbers_stay_strings(text: str) -> None:
    assert isinstance(parse_value(text, "--set x"), str)


def test_every_key_path_has_its_line() -> None:
    text = """\
name: demo
optimizer:
  name: sgd
  lr: 0.1
model:
  layers:
    - linear:
        out_features: 512
    - relu
"""
    data, source = load_yaml(text, "c.yaml")
    assert data["model"]["layers"][0] == {"linear": {"out_features": 512}}
    assert str(source.locate(("optimizer", "lr"))) == "c.yaml:4"
    assert str(source.locate(("model", "layers", 0, "linear", "out_features"))) == "c.yaml:8"
    assert str(source.locate(("model", "layers", 1))) == "c.yaml:9"
    # A key that was never written is located at its nearest written ancestor, then the file.
    assert str(source.locate(("optimizer", "momentum"))) == "c.yaml:2"
    assert str(source.locate(("trainer", "epochs"))) == "c.yaml"


def test_anchors_and_merge_keys_are_safe_yaml_and_located() -> None:
    text = """\
base: &base
  lr: 0.1
  momentum: 0.9
optimizer:
  <<: *base
  name: sgd
  lr: 0.5
"""
    data, source = load_yaml(text, "c.yaml")
    assert data["optimizer"] == {"lr": 0.5, "momentum": 0.9, "name": "sgd"}
    assert source.locate(("optimizer", "lr")).line == 7  # the explicit key wins
    assert source.locate(("optimizer", "momentum")).line == 3  # where the merged value is written


def test_empty_document_is_an_empty_mapping() -> None:
    assert load_yaml("# only a comment\n", "c.yaml")[0] == {}


def test_python_tags_are_refused_before_anything_is_constructed() -> None:
    text = "model:\n  name: !!python/object/apply:os.system ['echo pwned']\n"
    with pytest.raises(ConfigError) as info:
        load_yaml(text, "c.yaml")
    (issue,) = info.value.issues
    assert issue.location == "c.yaml:2"
    assert issue.path == "model.name"
    assert "'!!python/object/apply:os.system' is not allowed" in issue.message
    assert "safe-load" in issue.message


def test_unknown_local_tags_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"c.yaml:1: seed: unknown YAML tag '!env'"):
        load_yaml("seed: !env SEED\n", "c.yaml")


def test_standard_explicit_tags_are_allowed() -> None:
    assert load_yaml("seed: !!int '3'\nname: !!str 12\n", "c.yaml")[0] == {"seed": 3, "name": "12"}


def test_duplicate_keys_are_errors_naming_both_lines() -> None:
    with pytest.raises(ConfigError, match=r"c.yaml:3: optimizer.lr: duplicate key 'lr' \(first given at line 2\)"):
        load_yaml("optimizer:\n  lr: 0.1\n  lr: 0.2\n", "c.yaml")


def test_recursive_aliases_are_refused_as_a_cycle() -> None:
    with pytest.raises(ConfigError, match=r"c.yaml:1: a.1: an alias inside the value it refers to makes a cycle"):
        load_yaml("a: &a [1, *a]\n", "c.yaml")
    with pytest.raises(ConfigError, match=r"c.yaml:1: m: an alias inside the value it refers to makes a cycle"):
        load_yaml("m: &m {x: 1, <<: *m}\n", "c.yaml")


def test_repeated_aliases_are_fine_within_the_value_limit() -> None:
    data, _ = load_yaml("a: &a [1, 2]\nb: [*a, *a, *a]\n", "c.yaml")
    assert data["b"] == [[1, 2]] * 3


def test_aliases_count_each_time_they_are_used(monkeypatch) -> None:
    monkeypatch.setattr(loader, "MAX_VALUES", 60)
    text = "a: &a [1, 2, 3]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n"  # 1 + 4 + 13 + 40 = 58 values
    assert load_yaml(text, "c.yaml")[0]["c"][2][2] == [1, 2, 3]
    with pytest.raises(ConfigError, match=r"c.yaml:1: d.0.0: more than 60 values once aliases are expanded \(an alias bomb\?\)"):
        load_yaml(text + "d: [*b, *b, *b]\n", "c.yaml")


@pytest.mark.parametrize("flow", [True, False])
def test_nesting_is_limited(flow: bool) -> None:
    def nested(levels: int) -> str:  # the top-level mapping is the first level
        if flow:
            return "x: " + "[" * (levels - 1) + "]" * (levels - 1) + "\n"
        return "".join("  " * i + f"k{i}:\n" for i in range(levels - 1)) + "  " * (levels - 1) + "v: 1\n"

    assert load_yaml(nested(MAX_DEPTH), "c.yaml")[0]
    with pytest.raises(ConfigError, match=rf"^c.yaml:\d+:\d+: mappings and lists nested deeper than {MAX_DEPTH} levels$"):
        load_yaml(nested(MAX_DEPTH + 1), "c.yaml")
    with pytest.raises(ConfigError, match="nested deeper than"):
        load_yaml(nested(10_000), "c.yaml")


def test_integers_are_limited_in_length_and_located() -> None:
    assert load_yaml("seed: " + "9" * 100 + "\n", "c.yaml")[0]["seed"] == 10**100 - 1
    assert load_yaml("name: '" + "9" * 10_000 + "'\n", "c.yaml")[0]["name"] == "9" * 10_000  # a string
    with pytest.raises(ConfigError, match=r"^c.yaml:2: trainer.seed: an integer of 10,000 characters is too long \(at most 100\)$"):
        load_yaml("trainer:\n  seed: " + "9" * 10_000 + "\n", "c.yaml")
    with pytest.raises(ConfigError, match=r"--set seed=9999.*: an integer of 5,000 characters is too long"):
        parse_value("9" * 5000, "--set seed=" + "9" * 20)


def test_oversized_and_non_regular_config_files(tmp_path, monkeypatch) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("seed: 1\n" + "#" * 3000 + "\n")
    monkeypatch.setenv("TTRAIN_MAX_CONFIG_BYTES", "1K")
    with pytest.raises(ConfigError, match=rf"^{config}: is 2.94 KiB, over the 1 KiB limit for a config file "
                                          r"\(set TTRAIN_MAX_CONFIG_BYTES to raise it\)$"):
        load_yaml_file(config)
    with pytest.raises(ConfigError, match="^/dev/null: is a character device, not a config file$"):
        load_yaml_file("/dev/null")


def test_syntax_error_names_file_line_and_column() -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml("model:\n  name: mlp\n  hidden: [512, 256\ndata: x\n", "c.yaml")
    message = str(info.value)
    assert message.startswith("c.yaml:4:")
    assert "bad YAML syntax" in message


def test_missing_file_directory_and_binary_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_yaml_file(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_yaml_file(tmp_path)
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00model")
    with pytest.raises(ConfigError, match="not a UTF-8 text file"):
        load_yaml_file(binary)


def test_control_characters_are_a_located_error_not_a_traceback() -> None:
    """PyYAML's reader refuses them before parsing; the error still names the file, line and column."""
    with pytest.raises(ConfigError, match=r"c\.yaml:2:8: character 0x0001 is not allowed"):
        load_yaml("seed: 1\nname: x\x01y\n", "c.yaml")
    with pytest.raises(ConfigError, match="0x0007"):
        parse_value("1\x07", "--set seed=1")
