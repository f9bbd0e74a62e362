"""Campaign: hostile configs are refused with exit 2 and a message, in bounded time and memory.

Every config here is one a user must be told is wrong: code-execution targets (`subprocess:Popen`,
`os:system`, `builtins:eval`, ...) in every section, YAML alias bombs, deep nesting, huge and
non-finite numbers, values of the wrong type, unknown keys, YAML python tags, binary garbage,
non-UTF-8 text, an empty file, FIFOs, /dev/zero and folders given as the config, and enormous
`--set` keys and values. Each runs through `ttrain config check` and `ttrain fit` in a child
process with a 20 s timeout and a 3 GiB address-space limit. Clean: exit 2, a message on stderr,
no "Traceback", and no marker file (the file a hostile command would create).

    python -m tests.campaigns.hostile_configs            # every config (over 100), both commands
"""

from __future__ import annotations

import copy
import os
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from tests.campaigns.common import TINY_CONFIG, Tally, campaign_parser, refusal_problem, run_campaign, run_child, ttrain_command
from tests.campaigns.mutations import HOSTILE_SECTIONS, HOSTILE_TARGETS, hostile_config

TIMEOUT = 20.0
COMMANDS = (("config", "check"), ("fit", "-q"))


@dataclass
class HostileConfig:
    """One attack: the config file's content (or a special file), and extra CLI arguments."""

    name: str
    write: Callable[[Path, str], Path]  # (folder, marker path) -> the config path to pass
    args: list[str] = field(default_factory=list)
    only: str | None = None  # "fit" for a well-formed config that asks for more than memory holds


def base() -> dict[str, Any]:
    """The tiny valid config, one epoch, as data to edit."""
    config = yaml.safe_load(TINY_CONFIG)
    config["trainer"]["epochs"] = 1
    return config


def text_file(text: str | bytes) -> Callable[[Path, str], Path]:
    """Write `text` (`{marker}` replaced by the marker's path) as the config."""

    def write(folder: Path, marker: str) -> Path:
        path = folder / "config.yaml"
        if isinstance(text, bytes):
            path.write_bytes(text.replace(b"{marker}", marker.encode()))
        else:
            path.write_text(text.replace("{marker}", marker), encoding="utf-8")
        return path

    return write


def edited(edit: Callable[[dict[str, Any]], Any]) -> Callable[[Path, str], Path]:
    """The base config changed by `edit` (which may also return a new top-level value)."""
    config = base()
    result = edit(config)
    return text_file(yaml.safe_dump(config if result is None else result, sort_keys=False))


def setting(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = config
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value

    return edit


def with_text(suffix: str) -> Callable[[Path, str], Path]:
    """The base config with raw YAML text appended (for what safe_dump cannot write: aliases, tags)."""
    return text_file(yaml.safe_dump(base(), sort_keys=False) + suffix)


def special(make: Callable[[Path], Path]) -> Callable[[Path, str], Path]:
    return lambda folder, marker: make(folder)


def fifo(folder: Path) -> Path:
    path = folder / "fifo.yaml"
    os.mkfifo(path)
    return path


def symlink_to(target: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "link.yaml"
        path.symlink_to(target)
        return path

    return make


def alias_bomb(levels: int, width: int) -> str:
    lines = ["a0: &a0 [x]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def hostile_configs() -> list[HostileConfig]:
    """Every attack, code targets first."""
    cases = []
    for section in HOSTILE_SECTIONS:
        for target, kwargs in HOSTILE_TARGETS:
            def edit(config: dict[str, Any], section: str = section, target: str = target, kwargs: dict = kwargs) -> None:
                hostile_config(config, section, target, copy.deepcopy(kwargs))
            cases.append(HostileConfig(f"{section} = {target}", edited(edit)))
    python_tags = {
        "!!python/object/apply:os.system": "x: !!python/object/apply:os.system ['touch {marker}']\n",
        "!!python/object/apply:subprocess.Popen": "x: !!python/object/apply:subprocess.Popen [[touch, '{marker}']]\n",
        "!!python/name:os.system": "x: !!python/name:os.system\n",
        "!!python/object/new:subprocess.Popen": "x: !!python/object/new:subprocess.Popen {args: [[touch, '{marker}']]}\n",
        "!!python/module:os": "x: !!python/module:os\n",
        "!!python/tuple as lr": None,
        "%TAG ! to python/object/apply": "%TAG !p! tag:yaml.org,2002:python/object/apply:\n---\nx: !p!os.system ['touch {marker}']\n",
        "!custom tag": "x: !custom 1\n",
    }
    for name, text in python_tags.items():
        if text is None:
            cases.append(HostileConfig(name, text_file(TINY_CONFIG.replace("lr: 0.1", "lr: !!python/tuple [0.1]"))))
        elif text.startswith("%TAG"):
            cases.append(HostileConfig(name, text_file(text)))
        else:
            cases.append(HostileConfig(name, with_text(text)))
    cases += [
        HostileConfig("alias bomb 9 levels of 9", with_text(alias_bomb(9, 9))),
        HostileConfig("alias bomb 30 levels of 2", with_text(alias_bomb(30, 2))),
        HostileConfig("alias bomb in model.layers", text_file(alias_bomb(8, 10) + TINY_CONFIG.replace("    - relu\n", "    - *a8\n"))),
        HostileConfig("merge-key bomb", text_file("".join(f"m{i}: &m{i} {{<<: [*m{i-1}, *m{i-1}], k{i}: 1}}\n" if i else "m0: &m0 {k: 1}\n"
                                                          for i in range(40)))),
        HostileConfig("recursive alias", with_text("x: &x [*x]\n")),
        HostileConfig("recursive alias as model", text_file(TINY_CONFIG.replace("model:\n", "model: &m\n  self: *m\n", 1))),
        HostileConfig("10,000-deep flow list", with_text("x: " + "[" * 10_000 + "]" * 10_000 + "\n")),
        HostileConfig("100,000-deep flow list", with_text("x: " + "[" * 100_000 + "]" * 100_000 + "\n")),
        HostileConfig("10,000-deep flow mapping", with_text("x: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n")),
        HostileConfig("10,000-deep list as lr", text_file(TINY_CONFIG.replace("lr: 0.1", "lr: " + "[" * 10_000 + "]" * 10_000))),
        HostileConfig("10,000-digit epochs", text_file(TINY_CONFIG.replace("epochs: 3", "epochs: " + "9" * 10_000))),
        HostileConfig("10,000-digit seed", text_file(TINY_CONFIG.replace("seed: 3", "seed: " + "9" * 10_000))),
        HostileConfig("10,000-digit lr", text_file(TINY_CONFIG.replace("lr: 0.1", "lr: 0." + "1" * 10_000 + "e5000"))),
        HostileConfig("lr 1e999", edited(setting("optimizer.lr", "1e999"))),
        HostileConfig("n_train 10**12", edited(setting("data.n_train", 10**12)), only="fit"),
        HostileConfig("out_features 2**40", edited(lambda c: c["model"]["layers"].__setitem__(0, {"linear": {"out_features": 2**40}})), only="fit"),
    ]
    for path, value in [("optimizer.lr", ".inf"), ("optimizer.lr", ".nan"), ("optimizer.lr", "-.inf"), ("optimizer.momentum", ".nan"),
                        ("trainer.val_split", ".nan"), ("trainer.epochs", ".inf"), ("trainer.grad_clip", ".inf"),
                        ("scheduler.gamma", ".nan"), ("optimizer.weight_decay", ".inf"), ("trainer.batch_size", ".nan")]:
        cases.append(HostileConfig(f"{path}: {value}", text_file(_replace_or_add(path, value))))
    for path, value in [("trainer.epochs", True), ("trainer.batch_size", "32"), ("optimizer.lr", [1]), ("seed", 1.5),
                        ("trainer.val_split", True), ("trainer.metrics", "accuracy"), ("trainer.shuffle", "yes"),
                        ("trainer.epochs", "1e3"), ("data.n_train", False), ("trainer.epochs", None)]:
        cases.append(HostileConfig(f"{path}: {value!r}", edited(setting(path, value))))
    cases += [
        HostileConfig("model: 5", edited(setting("model", 5))),
        HostileConfig("model.layers: {}", edited(setting("model.layers", {}))),
        HostileConfig("data: []", edited(setting("data", []))),
        HostileConfig("unknown top-level key", edited(setting("evil", 1))),
        HostileConfig("unknown key __class__", edited(setting("model.__class__", "os:system"))),
        HostileConfig("unknown key __init__", edited(setting("trainer.__init__", {"a": 1}))),
        HostileConfig("1 MB key", edited(setting("k" * 1_000_000, 1))),
        HostileConfig("top-level list", edited(lambda c: [c])),
        HostileConfig("top-level scalar", text_file("5\n")),
        HostileConfig("top-level string", text_file("subprocess:Popen\n")),
        HostileConfig("empty file", text_file("")),
        HostileConfig("only comments", text_file("# nothing\n# here\n")),
        HostileConfig("only a document marker", text_file("---\n")),
        HostileConfig("two documents", text_file(TINY_CONFIG + "---\n" + TINY_CONFIG)),
        HostileConfig("binary garbage", text_file(bytes(random.Random(1).randrange(256) for _ in range(4096)))),
        HostileConfig("NUL bytes", text_file(b"\0" * 1024)),
        HostileConfig("non-UTF-8 (Latin-1) value", text_file(TINY_CONFIG.replace("name: tiny", "name: caf\xe9").encode("latin-1"))),
        HostileConfig("UTF-16 with BOM", text_file(TINY_CONFIG.encode("utf-16"))),
        HostileConfig("PNG header", text_file(b"\x89PNG\r\n\x1a\n" + bytes(100))),
        HostileConfig("tabs for indentation", text_file(TINY_CONFIG.replace("  ", "\t"))),
        HostileConfig("FIFO as config", special(fifo)),
        HostileConfig("/dev/zero as config", special(lambda folder: Path("/dev/zero"))),
        HostileConfig("/dev/urandom as config", special(lambda folder: Path("/dev/urandom"))),
        HostileConfig("symlink to /dev/zero", special(symlink_to("/dev/zero"))),
        HostileConfig("a folder as config", special(lambda folder: folder)),
        HostileConfig("a missing config", special(lambda folder: folder / "missing.yaml")),
        HostileConfig("--set key of 5,000 parts", text_file(TINY_CONFIG), ["--set", ".".join(["a"] * 5000) + "=1"]),
        HostileConfig("--set key of 100,000 characters", text_file(TINY_CONFIG), ["--set", "k" * 100_000 + "=1"]),
        HostileConfig("--set value 10,000 deep", text_file(TINY_CONFIG), ["--set", "optimizer.lr=" + "[" * 10_000 + "]" * 10_000]),
        HostileConfig("--set alias bomb value", text_file(TINY_CONFIG), ["--set", "seed=" + _flow_bomb(9, 9)]),
        HostileConfig("--set python tag", text_file(TINY_CONFIG), ["--set", "seed=!!python/object/apply:os.system ['touch {marker}']"]),
        HostileConfig("--set model.name = subprocess:Popen", text_file(TINY_CONFIG),
                      ["--set", "model={name: 'subprocess:Popen', args: [touch, '{marker}']}"]),
        HostileConfig("--set lr=.nan", text_file(TINY_CONFIG), ["--set", "optimizer.lr=.nan"]),
        HostileConfig("--set epochs=true", text_file(TINY_CONFIG), ["--set", "trainer.epochs=true"]),
    ]
    return cases


def _replace_or_add(path: str, value: str) -> str:
    """The tiny config's YAML text with `path` set to the literal YAML `value` (kept as written)."""
    section, key = path.split(".")
    lines = TINY_CONFIG.splitlines()
    for number, line in enumerate(lines):
        if line.startswith(f"{section}:"):
            if "{" in line:  # a flow mapping on one line
                lines[number] = line.rstrip("}").rstrip() + f", {key}: {value}}}"
            else:
                lines.insert(number + 1, f"  {key}: {value}")
            return "\n".join(lines) + "\n"
    return TINY_CONFIG + f"{section}: {{{key}: {value}}}\n"


def _flow_bomb(levels: int, width: int) -> str:
    """A YAML flow value with nested aliases: `[&a0 [x], &a1 [*a0, *a0, ...], ...]`."""
    items = ["&a0 [x]"] + [f"&a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]" for level in range(1, levels + 1)]
    return "[" + ", ".join(items) + "]"


def try_config(case: HostileConfig, command: tuple[str, ...], folder: Path) -> str | None:
    """Run one hostile config through one command; the problem or None."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "marker"
    config = case.write(folder, str(marker))
    args = [a.replace("{marker}", str(marker)) for a in case.args]
    extra = ["--set", f"trainer.output_dir={folder / 'runs'}"] if command[0] == "fit" else []
    result = run_child(ttrain_command(*command, config, *args, *extra), timeout=TIMEOUT)
    if marker.exists():
        return "side effect: the hostile command ran"
    return refusal_problem(result)


def campaign(workdir: Path, count: int | None, jobs: int = 1, only: dict[str, tuple[str, ...]] | None = None) -> Tally:
    """Every hostile config (the first `count`, or those named in `only`, each with the commands given there)."""
    cases = hostile_configs()[:count] if only is None else [c for c in hostile_configs() if c.name in only]
    runs = [(case, command, workdir / f"{number}-{command[0]}") for number, case in enumerate(cases) for command in COMMANDS
            if (only is None or command[0] in only[case.name]) and case.only in (None, command[0])]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        problems = list(pool.map(lambda run: try_config(*run), runs))
    tally = Tally()
    for (case, command, _), problem in zip(runs, problems):
        tally.add(f"{' '.join(command[:2] if command[0] == 'config' else command[:1])}: {case.name}", problem)
    print(f"{len(cases)} hostile configs, {len(runs)} runs of `ttrain config check` and `ttrain fit`")
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = campaign_parser("Run hostile configs through the CLI; each must end in exit 2 with a message.", None)
    parser.add_argument("--jobs", type=int, default=1, help="children run at once (default 1)")
    args = parser.parse_args(argv)
    return run_campaign("hostile configs", lambda folder: campaign(folder, args.count, args.jobs), args.workdir, args.shown)


if __name__ == "__main__":
    sys.exit(main())
