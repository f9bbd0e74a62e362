"""Run directories: `<root>/<name>/<n>`, numbered so that no run ever overwrites an earlier one."""

from __future__ import annotations

from pathlib import Path


def create_run_dir(root: Path, name: str, checkpoints: bool = True) -> Path:
    """Create and return the next free `<root>/<name>/<n>` (n = 1, 2, ...), with its `checkpoints`
    folder unless `checkpoints` is false (a sweep's directory holds runs, not checkpoints).

    `mkdir` without `exist_ok` claims the number atomically, so two runs started together
    never share a directory.
    """
    base = Path(root) / name
    base.mkdir(parents=True, exist_ok=True)
    n = 1 + max((int(p.name) for p in base.iterdir() if p.name.isdigit()), default=0)
    while True:
        candidate = base / str(n)
        try:
            candidate.mkdir()
        except FileExistsError:
            n += 1
            continue
        if checkpoints:
            (candidate / "checkpoints").mkdir()
        return candidate
