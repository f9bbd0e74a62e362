"""Helpers the docs tests share: the repository root, the generator script imported by path, Markdown tables."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FENCED_PYTHON = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def docs_reference() -> ModuleType:
    """tools/docs_reference.py as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "tools" / "docs_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table_keys(page: str, heading: str) -> list[str]:
    """The backquoted first cells of the Markdown table under `heading` (up to the next heading)."""
    start = page.index(heading) + len(heading)
    end = page.find("\n#", start)
    section = page[start:end if end != -1 else None]
    return re.findall(r"^\| `([^`]+)` \|", section, re.MULTILINE)
