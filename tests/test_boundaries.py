"""The engine's boundary: outside `ttrain/autograd`, code builds tensors through public constructors
(`ttrain.from_numpy`, `ttrain.tensor`) and never reaches into the engine's private parts.

Checked on the syntax tree of every module, so a comment or a string that mentions a name does not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ttrain"
ENGINE = PACKAGE / "autograd"
OUTSIDE = sorted(p for p in PACKAGE.rglob("*.py") if ENGINE not in p.parents)


def _imported_modules(tree: ast.AST) -> list[str]:
    """Every module an `import` or `from ... import` names, with `from a import b` also as `a.b`."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _location(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', '?')}"


def test_the_scan_sees_the_packages_outside_the_engine():
    names = {p.relative_to(PACKAGE).parts[0] for p in OUTSIDE}
    assert {"nn", "optim", "data", "training", "config", "cli"} <= names
    assert not any(ENGINE in p.parents for p in OUTSIDE)


@pytest.mark.parametrize("path", OUTSIDE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_engine_access_outside_autograd(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    wraps = [_location(path, n) for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "_wrap"]
    assert not wraps, f"Tensor._wrap is the engine's own constructor; use ttrain.from_numpy: {wraps}"
    kernels = [m for m in _imported_modules(tree) if m.startswith("ttrain.autograd.kernels")]
    assert not kernels, f"{path.name} imports the engine's private kernels: {kernels}"


@pytest.mark.parametrize(
    "path", [p for p in OUTSIDE if p.relative_to(PACKAGE).parts[0] != "nn"], ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_only_nn_builds_on_the_op_classes(path: Path):
    """nn's layers and functional forms call the ops' `Function.apply`; everyone else uses public names."""
    ops = [m for m in _imported_modules(ast.parse(path.read_text(encoding="utf-8"))) if m.startswith("ttrain.autograd.ops")]
    assert not ops, f"{path.name} imports engine internals {ops}; use ttrain.autograd's public names"


def test_the_scan_would_catch_a_private_constructor():
    tree = ast.parse("from ttrain.autograd.kernels import optim\nx = Tensor._wrap(a, False)\n")
    assert any(isinstance(n, ast.Attribute) and n.attr == "_wrap" for n in ast.walk(tree))
    assert "ttrain.autograd.kernels.optim" in _imported_modules(tree)
