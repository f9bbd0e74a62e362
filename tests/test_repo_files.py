"""The files a release needs: LICENSE matching pyproject's license, py.typed shipped as package data,
a CHANGELOG that names the latest version, extras the CI installs."""

from __future__ import annotations

from pathlib import Path

import pytest

import ttrain

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_license_file_is_the_license_pyproject_declares(pyproject: dict) -> None:
    assert pyproject["project"]["license"] == {"text": "MIT"}
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")


def test_py_typed_ships_with_the_package(pyproject: dict) -> None:
    assert (Path(ttrain.__file__).parent / "py.typed").is_file()
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["ttrain"]


def test_changelog_has_the_current_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{ttrain.__version__}]" in changelog and "## [Unreleased]" in changelog


def test_ci_and_readme_install_the_export_and_docs_extras(pyproject: dict) -> None:
    extras = pyproject["project"]["optional-dependencies"]
    assert {"export", "docs"} <= set(extras)
    for path in (ROOT / ".ci" / "run", ROOT / "README.md"):
        text = path.read_text(encoding="utf-8")
        line = next(line for line in text.splitlines() if "pip install" in line and "test" in line)
        assert "export" in line and "docs" in line, path
