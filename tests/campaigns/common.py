"""What every campaign shares: bounded child processes, the tally and its summary line, a tiny run.

Each campaign tries many attacks and sorts every outcome into "clean" (what ttrain promises) or
"other" (anything else, kept with a description so it can be debugged). Children run with a
wall-clock timeout and an address-space limit in their own process group, so a hang or a memory
blow-up of the code under attack ends as an "other" case instead of taking the machine down.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

REPO_ROOT = Path(__file__).resolve().parents[2]
CHILD_MEMORY = 3 << 30  # bytes of address space a child may map (RLIMIT_AS)
EXIT_BAD_INPUT = 2

# A small experiment that trains in well under a second an epoch, with every kind of state a
# checkpoint holds: dropout, shuffling, a validation split, momentum and a scheduler.
TINY_CONFIG = """\
name: tiny
seed: 3
model:
  layers:
    - linear: {out_features: 32}
    - relu
    - dropout: {p: 0.2}
    - linear: {out_features: 2}
data:
  name: spirals
  n_train: 256
  n_test: 128
optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
scheduler: {name: step, step_size: 1, gamma: 0.95}
trainer:
  epochs: 3
  batch_size: 32
  val_split: 0.25
"""


def clean_error_classes() -> tuple[type[BaseException], ...]:
    """The exception classes the CLI maps to exit 2 (bad input): the loaders' documented errors."""
    from ttrain.config.errors import ConfigError
    from ttrain.config.registry import RegistryError
    from ttrain.data.errors import DataError
    from ttrain.training.checkpoint import CheckpointError

    return (ConfigError, RegistryError, DataError, CheckpointError)


def child_env() -> dict[str, str]:
    """The environment of a child: this tree importable first, unbuffered output, no forced colours."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def memory_limiter(limit: int = CHILD_MEMORY) -> Callable[[], None]:
    """A preexec_fn that caps the child's address space at `limit` bytes and restores the default
    actions of SIGINT, SIGTERM and SIGHUP (a campaign started in the background or under nohup
    would otherwise hand its children those signals ignored, as a shell does)."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        for kind in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(kind, signal.SIG_DFL)

    return apply


def ttrain_command(*args: object) -> list[str]:
    """`python -m ttrain ARGS...` with this interpreter (the tree on PYTHONPATH is the one attacked)."""
    return [sys.executable, "-m", "ttrain", *map(str, args)]


@dataclass
class ChildResult:
    """How a bounded child process ended."""

    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def start_child(args: Sequence[str], memory: int = CHILD_MEMORY, **popen: object) -> subprocess.Popen:
    """Start a child in its own process group, with a memory limit and this tree on its path."""
    return subprocess.Popen(
        list(args), env=child_env(), preexec_fn=memory_limiter(memory), start_new_session=True,
        stdin=subprocess.DEVNULL, **popen,
    )


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the child and everything it started (its own process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_child(args: Sequence[str], timeout: float = 20.0, memory: int = CHILD_MEMORY, cwd: Path | None = None) -> ChildResult:
    """Run a child to completion or to `timeout` seconds (then kill its group); capture its output."""
    started = time.monotonic()
    process = start_child(args, memory, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
    try:
        out, err = process.communicate(timeout=timeout)
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        kill_group(process)
        out, err = process.communicate()
        code = None
    decode = lambda data: data.decode("utf-8", "replace")  # noqa: E731
    return ChildResult(code, decode(out), decode(err), time.monotonic() - started)


def describe_code(code: int) -> str:
    """`exit 2` or `killed by SIGKILL`: a return code, for a report."""
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit {code}"


def describe_exit(result: ChildResult) -> str:
    """`exit 2`, `killed by SIGKILL`, `timeout after 20s`: how a child ended, for a report."""
    if result.timed_out:
        return f"timeout after {result.seconds:.0f}s"
    return describe_code(result.returncode)


def last_line(text: str, limit: int = 160) -> str:
    """The last non-empty line of `text`, shortened: the gist of an error message."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    line = lines[-1].strip() if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def refusal_problem(result: ChildResult, must_mention: str | None = None) -> str | None:
    """Why a child did not refuse its input cleanly (exit 2, a message, no traceback), or None if it did."""
    if result.returncode != EXIT_BAD_INPUT:
        return f"{describe_exit(result)}: {last_line(result.stderr) or '(no stderr)'}"
    if "Traceback" in result.stderr:
        return f"exit 2 with a traceback: {last_line(result.stderr)}"
    if not result.stderr.strip():
        return "exit 2 without a message on stderr"
    if must_mention is not None and must_mention not in result.stderr:
        return f"exit 2 but the message does not name {must_mention}: {last_line(result.stderr)}"
    return None


@dataclass
class Tally:
    """Outcomes of a campaign: every case tried, the clean ones counted, the others kept."""

    clean_label: str = "refused cleanly"
    tried: int = 0
    clean: int = 0
    others: list[tuple[str, str]] = field(default_factory=list)

    def add(self, case: str, problem: str | None) -> None:
        """Record one case: `problem` None means it behaved as promised."""
        self.tried += 1
        if problem is None:
            self.clean += 1
        else:
            self.others.append((case, problem))

    def summary(self) -> str:
        return f"tried {self.tried} / {self.clean_label} {self.clean} / other {len(self.others)}"

    def report(self, title: str, shown: int = 20) -> str:
        """The summary line and the first `shown` other cases, one per line."""
        lines = [f"{title}: {self.summary()}"]
        for case, problem in self.others[:shown]:
            lines.append(f"  other: {case}: {problem}")
        if len(self.others) > shown:
            lines.append(f"  ... and {len(self.others) - shown} more")
        return "\n".join(lines)


def write_text(path: Path, text: str) -> Path:
    """Write dedented `text` to `path` (creating folders) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def make_checkpoint(folder: Path, config: str = TINY_CONFIG, timeout: float = 120.0) -> Path:
    """Train the tiny config into `folder/runs` with the real CLI and return its `last` checkpoint."""
    config_path = write_text(folder / "tiny.yaml", config)
    result = run_child(ttrain_command("fit", config_path, "-q", "--set", f"trainer.output_dir={folder / 'runs'}"), timeout)
    if result.returncode != 0:
        raise RuntimeError(f"could not train the reference checkpoint: {describe_exit(result)}\n{result.stderr}")
    found = sorted((folder / "runs").glob("*/*/checkpoints/last.safetensors"))
    if not found:
        raise RuntimeError(f"the reference run wrote no last.safetensors under {folder / 'runs'}")
    return found[-1]


def config_keys() -> str:
    """The config's JSON Schema as text, to see which optional keys this ttrain has."""
    result = run_child(ttrain_command("config", "schema"), timeout=60)
    return result.stdout


def campaign_parser(description: str, default_count: int | None) -> argparse.ArgumentParser:
    """The options every campaign takes: --count, --seed, --workdir (default: a fresh temp folder)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--count", type=int, default=default_count,
                        help=f"cases to try (default {default_count if default_count is not None else 'all'})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random choices")
    parser.add_argument("--workdir", type=Path, default=None, help="where to write (default: a temporary folder, removed after)")
    parser.add_argument("--shown", type=int, default=20, help="how many 'other' cases to list")
    return parser


def run_campaign(title: str, work: Callable[[Path], Tally], workdir: Path | None, shown: int = 20) -> int:
    """Run `work` in `workdir` (or a temporary folder), print its report, return the exit status."""
    import tempfile

    started = time.monotonic()
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        tally = work(workdir)
    else:
        with tempfile.TemporaryDirectory(prefix=f"ttrain-{title}-") as folder:
            tally = work(Path(folder))
    print(tally.report(title, shown))
    print(f"({time.monotonic() - started:.0f}s)")
    return 1 if tally.others else 0
