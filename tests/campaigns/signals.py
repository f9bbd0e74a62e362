"""Campaign: SIGINT, SIGTERM and SIGHUP at random moments of `ttrain fit` end it cleanly.

Each case starts `ttrain fit --json` on a small config that trains for a few seconds (saving every
epoch, and every few steps when this ttrain has `checkpoint.every_n_steps`), sends one signal at a
random moment (start-up, training steps, evaluation, saving, the end) and, in one case of five, a
second signal of the same kind shortly after (a second Ctrl-C during the save). A case is clean when:

- the process exits within 10 s of the signal with the signal's code: 130 (SIGINT), 143 (SIGTERM),
  129 (SIGHUP); exit 0 is also clean when, and only when, the run had already printed its final
  JSON summary before the signal was sent (the work was done; the signal met the shutdown);
  dying by the signal itself (exit -15, -1, -2) is never clean;
- stderr holds no Python traceback;
- if `checkpoints/last.safetensors` exists it loads, no temp file is left beside it, and after an
  interrupted run stderr names it (where the checkpoint is);
- for every `--resume-every`-th such case, `ttrain fit --resume last` exits 0.

Signals are sent once the child has run for at least 0.2 s: before that the interpreter itself is
starting and no program can have installed a handler yet. The phase of each case (start-up before
the first epoch line, training, after the last epoch line, finished) is read from the child's own
output, timestamped as it arrives.

    python -m tests.campaigns.signals --count 50        # 50 of each signal
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from tests.campaigns.common import (
    Tally,
    campaign_parser,
    config_keys,
    describe_code,
    describe_exit,
    kill_group,
    last_line,
    run_campaign,
    run_child,
    start_child,
    ttrain_command,
    write_text,
)

SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}
EXIT_WITHIN = 10.0  # seconds from the signal to the exit
EARLIEST = 0.2  # seconds after the start: the interpreter's own start-up is out of scope

CONFIG = """\
name: signals
seed: 3
model:
  layers:
    - linear: {out_features: 64}
    - relu
    - dropout: {p: 0.2}
    - linear: {out_features: 2}
data: {name: spirals, n_train: 2048, n_test: 2048}
optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
scheduler: {name: step, step_size: 1, gamma: 0.98}
trainer: {epochs: %d, batch_size: 32, val_split: 0.25}
checkpoint: {every_n_epochs: 1%s}
"""


class Stream:
    """Lines of a child's pipe, each with the monotonic time it arrived, read on a thread."""

    def __init__(self, pipe: object) -> None:
        self.lines: list[tuple[float, str]] = []
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: object) -> None:
        for raw in iter(pipe.readline, b""):
            self.lines.append((time.monotonic(), raw.decode("utf-8", "replace")))
        pipe.close()

    def join(self) -> None:
        self._thread.join(timeout=5)

    def text(self) -> str:
        return "".join(line for _, line in self.lines)

    def count_before(self, moment: float, prefix: str) -> int:
        return sum(1 for at, line in self.lines if at <= moment and line.startswith(prefix))


def phase_of(sent: float, stdout: Stream, stderr: Stream, epochs: int) -> str:
    """Where the run was when the signal was sent, from what it had printed by then."""
    if stdout.count_before(sent, "{"):
        return "finished"
    done = stderr.count_before(sent, "epoch ")
    if done == 0:
        return "start-up"
    return "end" if done >= epochs else "training"


def checkpoint_problem(result_stderr: str, code: int | None, last: Path) -> str | None:
    """What is wrong with the `last` checkpoint a signalled run left, or None."""
    from ttrain.training.checkpoint import CheckpointError, load_checkpoint

    if not last.exists():
        return None
    try:
        load_checkpoint(last)
    except CheckpointError as error:
        return f"last does not load: {error}"
    stale = [p.name for p in last.parent.iterdir() if not p.name.endswith(".safetensors")]
    if stale:
        return f"temp files left beside last: {stale[:3]}"
    if code in SIGNAL_EXIT.values() and str(last) not in result_stderr.replace("\n", ""):
        return f"interrupted, but stderr does not say where the checkpoint is: {last_line(result_stderr)}"
    return None


def one_case(folder: Path, config: Path, kind: signal.Signals, delay: float, double: float | None,
             epochs: int) -> tuple[str | None, str, bool]:
    """Signal one run; (problem or None, phase, whether the signal was sent at all)."""
    process = start_child(ttrain_command("fit", config, "--json", "--set", f"trainer.output_dir={folder / 'runs'}"),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = Stream(process.stdout), Stream(process.stderr)
    try:
        time.sleep(delay)
        if process.poll() is not None:
            return None, "exited before the signal", False
        sent = time.monotonic()
        process.send_signal(kind)
        if double is not None:
            time.sleep(double)
            if process.poll() is None:
                process.send_signal(kind)
        try:
            code: int | None = process.wait(timeout=EXIT_WITHIN)
        except subprocess.TimeoutExpired:
            code = None
    finally:
        kill_group(process)
        process.wait()
        stdout.join()
        stderr.join()
    phase = phase_of(sent, stdout, stderr, epochs)
    err = stderr.text()
    expected = SIGNAL_EXIT[kind]
    if code is None:
        return f"still running {EXIT_WITHIN:.0f}s after the signal", phase, True
    if code != expected and not (code == 0 and phase == "finished"):  # exit 0: the work was done
        return f"{describe_code(code)}, expected {expected}: {last_line(err) or '(no stderr)'}", phase, True
    if "Traceback" in err:
        return f"exit {code} with a traceback: {last_line(err)}", phase, True
    last = folder / "runs" / "signals" / "1" / "checkpoints" / "last.safetensors"
    return checkpoint_problem(err, code, last), phase, True


def resume_problem(folder: Path, config: Path) -> str | None:
    """`ttrain fit --resume last` after the signal must finish the run (exit 0)."""
    last = folder / "runs" / "signals" / "1" / "checkpoints" / "last.safetensors"
    result = run_child(ttrain_command("fit", config, "-q", "--resume", last, "--set", f"trainer.output_dir={folder / 'resumed'}"),
                       timeout=180)
    if result.returncode != 0:
        return f"resume from {last}: {describe_exit(result)}: {last_line(result.stderr)}"
    return None


def baseline(folder: Path, config: Path, epochs: int) -> tuple[float, float]:
    """(seconds to the first epoch line, seconds to the exit) of an unsignalled run; it must exit 0."""
    process = start_child(ttrain_command("fit", config, "--json", "--set", f"trainer.output_dir={folder / 'runs'}"),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started = time.monotonic()
    stdout, stderr = Stream(process.stdout), Stream(process.stderr)
    code = process.wait(timeout=300)
    ended = time.monotonic()
    stdout.join()
    stderr.join()
    if code != 0:
        raise RuntimeError(f"the unsignalled run failed (exit {code}):\n{stderr.text()[-2000:]}")
    first = next((at for at, line in stderr.lines if line.startswith("epoch ")), ended)
    return first - started, ended - started


def campaign(workdir: Path, count: int, seed: int, epochs: int, resume_every: int) -> Tally:
    """`count` signals of each kind at random moments; returns the tally."""
    import shutil

    rng = random.Random(seed)
    steps_key = ", every_n_steps: 7" if "every_n_steps" in config_keys() else ""
    config = write_text(workdir / "signals.yaml", CONFIG % (epochs, steps_key))
    first_epoch, total = baseline(workdir / "baseline", config, epochs)
    print(f"unsignalled run: first epoch line after {first_epoch:.1f}s, exit after {total:.1f}s")
    kinds = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP] * count
    rng.shuffle(kinds)
    tally = Tally(clean_label="handled cleanly")
    phases: Counter[tuple[str, str, bool]] = Counter()
    not_sent = 0
    resumed = 0
    for number, kind in enumerate(kinds, 1):
        window = rng.random()
        if window < 0.2:  # start-up: imports, data, model
            delay = rng.uniform(EARLIEST, max(EARLIEST, first_epoch))
        elif window < 0.85:  # training steps, evaluations and saves
            delay = rng.uniform(first_epoch, total)
        else:  # the last moments: final evaluation, last save, summary, shutdown
            delay = rng.uniform(max(EARLIEST, total - 0.6), total + 0.2)
        double = rng.uniform(0.0, 0.3) if rng.random() < 0.2 else None
        folder = workdir / f"case-{number}"
        problem, phase, sent = one_case(folder, config, kind, delay, double, epochs)
        if not sent:
            not_sent += 1
            shutil.rmtree(folder, ignore_errors=True)
            continue
        last = folder / "runs" / "signals" / "1" / "checkpoints" / "last.safetensors"
        if problem is None and phase != "finished" and last.exists():
            resumed += 1
            if resume_every and resumed % resume_every == 0:
                problem = resume_problem(folder, config)
        case = f"#{number} {kind.name}{' twice' if double is not None else ''} at {delay:.2f}s ({phase})"
        tally.add(case, problem)
        phases[(kind.name, phase, problem is None)] += 1
        if problem is None:
            shutil.rmtree(folder, ignore_errors=True)
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        parts = [f"{phase} {phases[(name, phase, True)]}/{phases[(name, phase, True)] + phases[(name, phase, False)]}"
                 for phase in ("start-up", "training", "end", "finished")]
        print(f"{name}: clean/tried by phase: " + ", ".join(parts))
    print(f"{not_sent} runs ended before their signal (not counted); resume checked on "
          f"{resumed // resume_every if resume_every else 0} cases")
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = campaign_parser("Signal `ttrain fit` at random moments; it must exit 130/143/129 cleanly.", 50)
    parser.add_argument("--epochs", type=int, default=150, help="epochs of the signalled run (default 150)")
    parser.add_argument("--resume-every", type=int, default=5,
                        help="check `fit --resume` on every n-th case that left a checkpoint (0: never)")
    args = parser.parse_args(argv)
    return run_campaign("signals", lambda folder: campaign(folder, args.count, args.seed, args.epochs, args.resume_every),
                        args.workdir, args.shown)


if __name__ == "__main__":
    sys.exit(main())
