"""Find the checkpoint to resume from: `--resume auto` (the config's runs) or `--resume RUN_DIR`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ttrain.training.checkpoint import CheckpointError, is_temporary_file, load_checkpoint


@dataclass
class ResumeChoice:
    """The checkpoint to continue from (None: none was found), and the damaged ones passed over,
    each with the reason, for the caller to warn about."""

    path: Path | None
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    searched: list[Path] = field(default_factory=list)


def _checkpoint_folders(run_dir: Path) -> list[Path]:
    checkpoints = run_dir / "checkpoints"
    return [checkpoints] if checkpoints.is_dir() else [run_dir]


def newest_checkpoint(folders: list[Path]) -> ResumeChoice:
    """The valid checkpoint with the highest global step in `folders` (the newest file on a tie).

    Every `*.safetensors` file is loaded and verified; a damaged one is skipped and reported.
    Temporary files of interrupted saves are never candidates.
    """
    choice = ResumeChoice(None, searched=list(folders))
    best_key: tuple[int, float] | None = None
    for folder in folders:
        for path in sorted(folder.glob("*.safetensors")):
            if is_temporary_file(path) or path.name.startswith(".") or not path.is_file():
                continue
            try:
                _, metadata = load_checkpoint(path)
                key = (int(metadata["global_step"]), path.stat().st_mtime)
            except (CheckpointError, OSError, TypeError, ValueError) as error:
                choice.skipped.append((path, str(error)))
                continue
            if best_key is None or key > best_key:
                best_key, choice.path = key, path
    return choice


def runs_of(output_dir: Path, name: str) -> list[Path]:
    """The run directories `<output_dir>/<name>/<n>` that exist, in run order."""
    base = Path(output_dir) / name
    if not base.is_dir():
        return []
    return sorted((p for p in base.iterdir() if p.name.isdigit() and p.is_dir()), key=lambda p: int(p.name))


def find_resume_checkpoint(resume: str | Path, output_dir: Path, name: str) -> ResumeChoice:
    """What `--resume` names: ``auto`` (the newest valid checkpoint of any run of this config;
    none found is not an error), a run directory (its newest valid checkpoint; none is an error),
    or a checkpoint file (taken as it is)."""
    if str(resume) == "auto":
        folders = [folder for run in runs_of(output_dir, name) for folder in _checkpoint_folders(run)]
        choice = newest_checkpoint(folders)
        choice.searched = [Path(output_dir) / name]
        return choice
    path = Path(resume)
    if not path.is_dir():
        return ResumeChoice(path)
    choice = newest_checkpoint(_checkpoint_folders(path))
    if choice.path is None:
        damaged = "".join(f"; skipped {reason}" for _, reason in choice.skipped[:2])
        raise CheckpointError(f"{path}: no valid checkpoint to resume from in this run directory{damaged}")
    return choice
