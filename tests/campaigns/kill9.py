"""Campaign: SIGKILL during checkpoint saves never leaves an unloadable checkpoint or stale temp files.

Two kinds of victims, both killed with SIGKILL at random times:

- a "saver": a small Python process that builds a real experiment (an MLP of about 270,000
  parameters with Adam: a 3 MB checkpoint) and calls `save_snapshot` in a loop, alternating
  `last` and `best`, so nearly every kill lands inside a save;
- a real `ttrain fit` of a tiny config that saves every epoch (and every step, when this ttrain
  has `checkpoint.every_n_steps`), killed once its first checkpoint exists.

A kill counts as recovered when every `*.safetensors` left in `checkpoints/` loads with
`load_checkpoint` (so `last` is either the new file or the old one, intact), and after the next
saves into the same folder (`save_checkpoint` of each checkpoint there, as a resumed run's saves)
no temporary file of the killed save is left there.

    python -m tests.campaigns.kill9 --count 200
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

from tests.campaigns.common import (
    Tally,
    campaign_parser,
    config_keys,
    kill_group,
    run_campaign,
    start_child,
    ttrain_command,
    write_text,
)

SAVER_CONFIG = """\
name: saver
seed: 1
model: {name: mlp, hidden: [512, 512]}
data: {name: spirals, n_train: 64, n_test: 32}
optimizer: {name: adam, lr: 0.001}
trainer: {epochs: 1, batch_size: 16}
"""

FIT_CONFIG = """\
name: kill9
seed: 3
model:
  layers:
    - linear: {out_features: 64}
    - relu
    - dropout: {p: 0.2}
    - linear: {out_features: 2}
data: {name: spirals, n_train: 256, n_test: 128}
optimizer: {name: adam, lr: 0.01}
trainer: {epochs: 2000, batch_size: 32, val_split: 0.25}
checkpoint: {every_n_epochs: 1%s}
"""

READY = "saver ready"


class NotKilled(Exception):
    """The victim finished on its own before the kill."""

WAIT_FOR_FIRST_SAVE = 60.0  # seconds a victim may take to write its first checkpoint


def saver_loop(folder: Path) -> None:
    """The saver victim: save a real experiment's snapshot into `folder/checkpoints` forever."""
    from ttrain.config import load_config
    from ttrain.training.experiment import build_experiment
    from ttrain.training.snapshot import save_snapshot

    config, source = load_config(folder / "saver.yaml")
    experiment = build_experiment(config, source)
    checkpoints = folder / "checkpoints"
    save_snapshot(checkpoints / "last.safetensors", experiment)
    save_snapshot(checkpoints / "best.safetensors", experiment)
    print(READY, flush=True)
    saves = 0
    while True:
        saves += 1
        experiment.trainer.global_step = saves  # so consecutive files differ
        save_snapshot(checkpoints / ("best.safetensors" if saves % 3 == 0 else "last.safetensors"), experiment)


def check_folder(checkpoints: Path) -> tuple[str | None, int]:
    """(the problem, or None if recovered; how many temp files the kill left) for a killed save's folder."""
    from ttrain.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

    files = sorted(p for p in checkpoints.iterdir()) if checkpoints.is_dir() else []
    saved = [p for p in files if p.name.endswith(".safetensors")]
    leftovers = [p for p in files if not p.name.endswith(".safetensors")]
    if not any(p.name == "last.safetensors" for p in saved):
        return f"no last.safetensors left (files: {[p.name for p in files]})", len(leftovers)
    loaded = {}
    for path in saved:
        try:
            loaded[path.name] = load_checkpoint(path)
        except CheckpointError as error:
            return f"unloadable checkpoint: {error}", len(leftovers)
    for name, (tensors, metadata) in loaded.items():  # the next run's saves: `last`, and `best` if there is one
        save_checkpoint(checkpoints / name, tensors, metadata)
    stale = [p.name for p in checkpoints.iterdir() if not p.name.endswith(".safetensors")]
    if stale:
        return f"{len(stale)} stale temp file(s) after a follow-up save: {stale[:3]}", len(leftovers)
    return None, len(leftovers)


def kill_saver(folder: Path, rng: random.Random) -> str | None:
    """Start a saver, SIGKILL it at a random moment of its save loop; the problem or None."""
    write_text(folder / "saver.yaml", SAVER_CONFIG)
    process = start_child([sys.executable, "-m", "tests.campaigns.kill9", "--saver", str(folder)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2])
    try:
        line = process.stdout.readline().decode(errors="replace").strip()
        if line != READY:
            kill_group(process)
            return f"the saver did not start: {line!r} {process.stderr.read().decode(errors='replace')[-300:]}"
        time.sleep(rng.uniform(0.0, 0.4))
    finally:
        kill_group(process)
        process.wait()
        process.stdout.close()
        process.stderr.close()
    return None


def kill_fit(folder: Path, rng: random.Random, steps_key: str) -> str | None:
    """Start `ttrain fit`, SIGKILL it at a random moment after its first save; the problem or None."""
    config = write_text(folder / "kill9.yaml", FIT_CONFIG % steps_key)
    process = start_child(ttrain_command("fit", config, "-q", "--set", f"trainer.output_dir={folder / 'runs'}"),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = folder / "runs" / "kill9" / "1" / "checkpoints" / "last.safetensors"
    try:
        deadline = time.monotonic() + WAIT_FOR_FIRST_SAVE
        while not last.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if not last.exists():
            return f"no checkpoint was written: {process.poll()} {process.stderr.read().decode(errors='replace')[-300:]}" \
                if process.poll() is not None else "no checkpoint within the wait"
        time.sleep(rng.uniform(0.0, 2.0))
        if process.poll() is not None:
            raise NotKilled  # the run ended before the kill: not counted
    finally:
        kill_group(process)
        process.wait()
        process.stderr.close()
    return None


def campaign(workdir: Path, count: int, fit_share: float, seed: int) -> Tally:
    """Kill `count` victims (a `fit_share` of them real fits) and check each one's checkpoints."""
    import shutil

    rng = random.Random(seed)
    steps_key = ", every_n_steps: 1" if "every_n_steps" in config_keys() else ""
    tally = Tally(clean_label="recovered")
    kinds = {"saver": 0, "fit": 0}
    left_tmp = 0
    attempts = 0
    while tally.tried < count and attempts < 3 * count:
        attempts += 1
        folder = workdir / f"kill-{attempts}"
        kind = "fit" if rng.random() < fit_share else "saver"
        try:
            failed_start = kill_fit(folder, rng, steps_key) if kind == "fit" else kill_saver(folder, rng)
        except NotKilled:
            shutil.rmtree(folder, ignore_errors=True)
            continue
        case = f"#{attempts} {kind} ({folder})"
        if failed_start is not None:
            tally.add(case, failed_start)
            continue
        kinds[kind] += 1
        checkpoints = folder / "checkpoints" if kind == "saver" else folder / "runs" / "kill9" / "1" / "checkpoints"
        problem, leftovers = check_folder(checkpoints)
        left_tmp += leftovers > 0
        tally.add(case, problem)
        if problem is None:
            shutil.rmtree(folder, ignore_errors=True)  # keep only the folders worth a look
    print(f"kills: {kinds['saver']} of a save loop, {kinds['fit']} of `ttrain fit`; "
          f"{left_tmp} left temp files in checkpoints/ right after the kill")
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = campaign_parser("SIGKILL saves at random moments; every checkpoint left must load.", 200)
    parser.add_argument("--fit-share", type=float, default=0.25, help="share of kills aimed at a real `ttrain fit` (default 0.25)")
    parser.add_argument("--saver", type=Path, help=argparse.SUPPRESS)  # run as the saver victim
    args = parser.parse_args(argv)
    if args.saver is not None:
        saver_loop(args.saver)
        return 0
    return run_campaign("kill -9", lambda folder: campaign(folder, args.count, args.fit_share, args.seed), args.workdir, args.shown)


if __name__ == "__main__":
    sys.exit(main())
