"""The example configs that ship with ttrain, found by name: `ttrain fit mnist_mlp`.

They live in the repository's `configs/` folder; `ttrain/configs` is a link to it, so an editable
install, a source checkout and a wheel (which copies the files in as package data) all find them
at `ttrain/configs/*.yaml`, and a config added to `configs/` ships with no other step.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ttrain.config.errors import ConfigError, ConfigIssue, did_you_mean

CONFIG_SUFFIXES = (".yaml", ".yml")


def bundled_configs() -> dict[str, Path]:
    """The bundled configs by name (the file's stem), sorted by name."""
    folder = Path(str(resources.files("ttrain") / "configs"))
    if not folder.is_dir():
        return {}
    found = [path for path in folder.iterdir() if path.suffix in CONFIG_SUFFIXES and path.is_file()]
    return {path.stem: path for path in sorted(found)}


def describe_config(path: Path) -> str:
    """The first sentence of a config's opening comment: what the experiment is."""
    words: list[str] = []
    with open(path, encoding="utf-8") as file:
        for line in file:
            if not line.startswith("#") or not line.strip("#").strip():
                break
            words += line.strip("#").split()
            if any(word.endswith(".") for word in words):
                break
    text = " ".join(words)
    return text[: text.index(". ") + 1] if ". " in text else text


def find_config(path: str | Path) -> Path:
    """``path`` when it exists or names a folder; else the bundled config named ``path``
    (``mnist_mlp`` or ``mnist_mlp.yaml``). A bare name that is neither is a ConfigError that lists
    the bundled configs; a path with a folder is left for the reader to report."""
    path = Path(path)
    if path.exists() or len(path.parts) != 1:
        return path
    bundled = bundled_configs()
    name = path.stem if path.suffix in CONFIG_SUFFIXES else path.name
    if name in bundled:
        return bundled[name]
    names = ", ".join(bundled) or "none"
    raise ConfigError(ConfigIssue("", f"no such config file, nor a bundled config of that name (bundled: {names})",
                                  str(path), did_you_mean(name, bundled)))
