"""What the two atheris harnesses share: seed corpora, the libFuzzer arguments, crash bookkeeping.

An input "crashes" when the loader raises anything but its documented errors. By default the
first crash stops the run (libFuzzer writes it to `crash-<sha1>` in the current folder); with
`--keep-going` every crash is recorded in `<corpus>/../crashes.txt` (one line per distinct
exception type and place, with a count) and fuzzing goes on. libFuzzer's last line,
"Done N runs in T second(s)", gives the executions.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path
from typing import Callable

DEFAULT_LIBFUZZER_ARGS = ["-max_total_time=120", "-timeout=10", "-rss_limit_mb=3072"]


class CrashLog:
    """Distinct crashes (exception type and innermost frame), each with how often it happened."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, str] = {}

    def record(self, error: BaseException) -> None:
        frames = traceback.extract_tb(error.__traceback__)
        # The innermost frame, and the innermost one in ttrain: where it broke, and which of our calls let it out.
        ours = [f for f in frames if f"{Path('ttrain')}/" in f.filename.replace("\\", "/") and "/tests/" not in f.filename]
        chosen = [frames[-1]] + ([ours[-1]] if ours and ours[-1] is not frames[-1] else []) if frames else []
        signature = f"{type(error).__name__} at " + " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in chosen)
        self.counts[signature] += 1
        if signature not in self.examples:
            self.examples[signature] = " ".join(str(error).split())[:160]
            print(f"\n== crash: {signature}: {self.examples[signature]}", file=sys.stderr, flush=True)
        # Rewritten every time: libFuzzer ends the process with exit(), which runs no Python atexit.
        self.path.write_text("".join(f"{n}\t{s}: {self.examples[s]}\n" for s, n in self.counts.most_common()),
                             encoding="utf-8")


def parse_args(description: str) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=description, epilog="Other arguments go to libFuzzer (e.g. -max_total_time=120).")
    parser.add_argument("--corpus", type=Path, default=None, help="corpus folder (default: a fresh temporary one, seeded)")
    parser.add_argument("--keep-going", action="store_true", help="record crashes in crashes.txt and keep fuzzing")
    return parser.parse_known_args()


def start(description: str, seed: Callable[[Path], None], one_input_factory: Callable[[CrashLog | None], Callable[[bytes], None]]) -> None:
    """Seed the corpus, then hand over to atheris (which never returns)."""
    import atheris

    args, libfuzzer = parse_args(description)
    corpus = args.corpus or Path(tempfile.mkdtemp(prefix="ttrain-fuzz-")) / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    if not any(corpus.iterdir()):
        seed(corpus)
    crashes = CrashLog(corpus.parent / "crashes.txt") if args.keep_going else None
    given = {a.split("=")[0] for a in libfuzzer}
    libfuzzer += [a for a in DEFAULT_LIBFUZZER_ARGS if a.split("=")[0] not in given]
    print(f"corpus: {corpus} ({sum(1 for _ in corpus.iterdir())} files); crashes: "
          f"{crashes.path if crashes else 'the first one stops the run'}", file=sys.stderr, flush=True)
    atheris.Setup([sys.argv[0], *libfuzzer, str(corpus)], one_input_factory(crashes))
    atheris.Fuzz()
