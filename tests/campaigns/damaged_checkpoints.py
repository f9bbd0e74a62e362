"""Campaign: damaged and hostile checkpoints are refused cleanly, never run code, never hang.

From a real checkpoint of a tiny run, `mutations.py` makes each case: bit flips, byte changes at
random and at structural positions, truncations at every boundary, appended bytes, edits of the
safetensors header (dtypes, shapes, offsets, nesting), and edits of the metadata with both hashes
recomputed (configs naming `subprocess:Popen` or `os:system` in every section, missing keys, wrong
types, data read from /dev/zero or a FIFO, changed tensors).

Each case is loaded in a worker process (3 GiB address space) with `load_checkpoint`, then built
for evaluation with `ttrain.training.run.evaluate`, each step under a 10 s alarm. A case is
"refused cleanly" when both steps either raise one of the errors the CLI maps to exit 2
(CheckpointError, ConfigError, DataError, RegistryError) or succeed as they may: a raw-damaged
file only when it reads exactly as the original did, a re-signed one when it is well-formed, a
hostile one never. Anything else is "other": another exception, no answer within the limit, the
worker dying, or the marker file a hostile command would create. A sample is then run through
the real `ttrain eval`, which must exit 2 (or 0 where loading may succeed) with no traceback.

    python -m tests.campaigns.damaged_checkpoints --count 10000
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from pathlib import Path

from tests.campaigns.common import (
    Tally,
    campaign_parser,
    clean_error_classes,
    describe_code,
    kill_group,
    make_checkpoint,
    refusal_problem,
    run_campaign,
    run_child,
    start_child,
    ttrain_command,
)
from tests.campaigns.mutations import Case, mutate, read_reference, same_meaning

STEP_LIMIT = 10  # seconds for one load or one evaluation
CASE_LIMIT = 2 * STEP_LIMIT + 15  # seconds the campaign waits for a worker's answer on one case
PREFIX = "@@"  # marks the worker's protocol lines (a hostile command may print too)


class CaseTimeout(BaseException):
    """Raised by the alarm: a step took longer than STEP_LIMIT (BaseException, so no `except Exception` eats it)."""


def _where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return ""
    frame = frames[-1]
    return f" (at {Path(frame.filename).name}:{frame.lineno})"


def attempt(step: str, call: object) -> tuple[bool, str | None]:
    """Run one step under the alarm: (succeeded, problem); a documented error is (False, None)."""
    signal.setitimer(signal.ITIMER_REAL, STEP_LIMIT)
    try:
        call()
        return True, None
    except clean_error_classes():
        return False, None
    except CaseTimeout:
        return False, f"{step}: no answer within {STEP_LIMIT}s"
    except BaseException as error:  # noqa: BLE001 -- every other escape is what the campaign looks for
        return False, f"{step}: {type(error).__name__}: {str(error)[:150]}{_where(error)}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def judge(layout: object, case: Case, path: Path) -> tuple[str | None, bool]:
    """(the problem or None, whether loading succeeded) for one damaged file at `path`."""
    from ttrain.training import run
    from ttrain.training.checkpoint import load_checkpoint

    read = {}
    loaded, problem = attempt("load_checkpoint", lambda: read.update(result=load_checkpoint(path)))
    if problem is not None:
        return problem, loaded
    evaluated, problem = attempt("evaluate", lambda: run.evaluate(path, "test"))
    if problem is not None:
        return problem, loaded
    if loaded and case.kind == "raw" and not same_meaning(layout, *read["result"]):
        return "load_checkpoint accepted a changed file", loaded
    if loaded and evaluated and case.kind == "hostile":
        return "loaded and evaluated a checkpoint that names code to run", loaded
    if evaluated and not loaded:
        return "evaluate accepted a file load_checkpoint refused", loaded
    return None, loaded


def worker(reference: Path, seed: int, start: int, stop: int, folder: Path) -> None:
    """Judge cases start..stop-1, printing one protocol line before and after each."""

    def on_alarm(*_: object) -> None:
        raise CaseTimeout

    signal.signal(signal.SIGALRM, on_alarm)
    layout = read_reference(reference)
    fifo = folder / "fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    path = folder / "case.safetensors"
    for index in range(start, stop):
        marker = folder / f"marker-{index}"
        print(f"{PREFIX}start {index}", flush=True)
        case = mutate(layout, seed, index, str(marker), str(fifo))
        path.write_bytes(case.data)
        problem, loaded = judge(layout, case, path)
        if marker.exists():
            problem = f"side effect: the hostile command ran (created {marker.name})"
        result = {"index": index, "family": case.family, "detail": case.detail, "problem": problem, "loaded": loaded}
        print(PREFIX + "done " + json.dumps(result), flush=True)


def run_workers(reference: Path, seed: int, count: int, folder: Path) -> dict[int, dict]:
    """Judge every case in worker processes, restarting a worker after a case that kills or hangs it."""
    results: dict[int, dict] = {}
    next_index = 0
    while next_index < count:
        log = folder / "worker-stderr.txt"
        with log.open("wb") as stderr:
            process = start_child([sys.executable, "-m", "tests.campaigns.damaged_checkpoints", "--worker", str(reference),
                                   "--seed", str(seed), "--start", str(next_index), "--stop", str(count), "--folder", str(folder)],
                                  stdout=subprocess.PIPE, stderr=stderr, cwd=Path(__file__).resolve().parents[2])
            lines: queue.Queue = queue.Queue()
            threading.Thread(target=lambda: [lines.put(l) for l in iter(process.stdout.readline, b"")] + [lines.put(None)],
                             daemon=True).start()
            in_flight = None
            while True:
                try:
                    line = lines.get(timeout=CASE_LIMIT if in_flight is not None else 120)
                except queue.Empty:
                    kill_group(process)
                    problem = f"no answer within {CASE_LIMIT}s (the worker was killed)"
                    break
                if line is None:
                    process.wait()
                    tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
                    problem = f"the worker died: {describe_code(process.returncode)} {' '.join(tail)[:200]}"
                    break
                text = line.decode("utf-8", "replace").strip()
                if text.startswith(PREFIX + "start "):
                    in_flight = int(text.split()[-1])
                elif text.startswith(PREFIX + "done "):
                    result = json.loads(text[len(PREFIX + "done "):])
                    results[result["index"]] = result
                    in_flight = None
                    if len(results) % 1000 == 0:
                        print(f"  {len(results)}/{count} cases", flush=True)
            kill_group(process)
            process.wait()
            process.stdout.close()
        if in_flight is None:  # the worker ended between cases: done, unless cases are missing
            in_flight = next((i for i in range(next_index, count) if i not in results), None)
            if in_flight is None:
                break
        results[in_flight] = {"index": in_flight, "family": "?", "detail": "(in the worker that died or hung)",
                              "problem": problem, "loaded": False}
        next_index = in_flight + 1
    return results


def cli_sample(reference: Path, seed: int, results: dict[int, dict], sample: int, folder: Path, tally: Tally) -> None:
    """Run a sample of the cases, a few from each family, through the real `ttrain eval`."""
    layout = read_reference(reference)
    by_family: dict[str, list[int]] = {}
    for index, result in sorted(results.items()):
        by_family.setdefault(result["family"], []).append(index)
    rng = random.Random(seed)
    chosen: list[int] = []
    while len(chosen) < min(sample, len(results)):
        for indices in by_family.values():
            remaining = [i for i in indices if i not in chosen]
            if remaining and len(chosen) < sample:
                chosen.append(rng.choice(remaining))
    fifo = folder / "fifo"
    for index in sorted(chosen):
        marker = folder / f"cli-marker-{index}"
        case = mutate(layout, seed, index, str(marker), str(fifo))
        path = folder / f"cli-{index}.safetensors"
        path.write_bytes(case.data)
        result = run_child(ttrain_command("eval", path), timeout=CASE_LIMIT)
        time.sleep(0.1)  # a command started by Popen runs on after the parent returns
        if marker.exists():
            problem = "side effect: the hostile command ran"
        elif result.returncode == 0 and results[index]["loaded"]:
            problem = "exit 0 with a traceback" if "Traceback" in result.stderr else None
        else:
            problem = refusal_problem(result)
        tally.add(f"cli #{index} {case.family}: {case.detail}", problem)
        path.unlink()


def campaign(workdir: Path, count: int, seed: int, sample: int, reference: Path | None = None) -> Tally:
    """Judge `count` damaged variants of `reference` (default: a fresh checkpoint of the tiny run)."""
    reference = reference or make_checkpoint(workdir / "reference")
    folder = workdir / "cases"
    folder.mkdir(parents=True, exist_ok=True)
    results = run_workers(reference, seed, count, folder)
    for marker in folder.glob("marker-*"):  # commands that ran after their case was judged
        result = results[int(marker.name.split("-")[1])]
        if "side effect" not in (result["problem"] or ""):
            result["problem"] = "side effect: the hostile command ran" + (f"; {result['problem']}" if result["problem"] else "")
    tally = Tally()
    families: Counter[tuple[str, bool]] = Counter()
    for index, result in sorted(results.items()):
        tally.add(f"#{index} {result['family']}: {result['detail']}", result["problem"])
        families[(result["family"], result["problem"] is None)] += 1
    for family in sorted({f for f, _ in families}):
        clean, total = families[(family, True)], families[(family, True)] + families[(family, False)]
        print(f"  {family}: {clean}/{total} clean")
    if sample:
        cli_sample(reference, seed, results, sample, folder, tally)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = campaign_parser("Load damaged and hostile checkpoints; every one must be refused cleanly.", 10_000)
    parser.add_argument("--cli-sample", type=int, default=50, help="cases also run through `ttrain eval` (default 50)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--stop", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        worker(args.worker, args.seed, args.start, args.stop, args.folder)
        return 0
    return run_campaign("damaged checkpoints", lambda folder: campaign(folder, args.count, args.seed, args.cli_sample),
                        args.workdir, args.shown)


if __name__ == "__main__":
    sys.exit(main())
