"""atheris harness for the config loader: any bytes as a config file, `load_config` raises ConfigError or loads.

The first byte of an input picks how the rest is used: as the YAML file itself, or (one time in
four) as a valid config plus `--set` overrides, one per line. Anything escaping other than
ConfigError, RegistryError or DataError is a crash. The seed corpus is the bundled
`configs/*.yaml`, the test suite's bad configs and the campaign's small hostile configs.

    python -m tests.campaigns.fuzz_config -max_total_time=120 [--keep-going] [--corpus DIR]
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

import atheris

from tests.campaigns.common import REPO_ROOT, TINY_CONFIG
from tests.campaigns.fuzzing import CrashLog, start

with atheris.instrument_imports():
    import yaml  # noqa: F401 -- instrumented so the fuzzer sees the parser's branches too

    from ttrain.config import load_config

SEED_LIMIT = 64 * 1024  # bytes; larger hostile configs make slow seeds
# Hostile configs that exhaust time or memory on purpose: the campaign tries them; as seeds they
# would end the fuzzing run at its first input (a libFuzzer timeout or out-of-memory) on a loader
# that does not bound them yet.
EXHAUSTING = ("bomb", "deep", "digit", "recursive")


def seed(corpus: Path) -> None:
    from tests.campaigns.hostile_configs import hostile_configs

    sources = sorted((REPO_ROOT / "configs").glob("*.yaml")) + sorted((REPO_ROOT / "tests" / "config" / "bad").glob("*.yaml"))
    for number, source in enumerate(sources):
        (corpus / f"file-{number}.yaml").write_bytes(b"\x01" + source.read_bytes())
    folder = Path(tempfile.mkdtemp(prefix="ttrain-fuzz-seeds-"))
    for number, case in enumerate(hostile_configs()):
        if any(word in case.name for word in EXHAUSTING):
            continue
        if case.args:
            (corpus / f"set-{number}.yaml").write_bytes(b"\x00" + "\n".join(case.args[1::2]).encode()[:SEED_LIMIT])
            continue
        try:
            path = case.write(folder, str(folder / "marker"))
        except OSError:
            continue
        if path.is_file() and path.stat().st_size <= SEED_LIMIT:
            (corpus / f"hostile-{number}.yaml").write_bytes(b"\x01" + path.read_bytes())
            path.unlink()


def one_input(crashes: CrashLog | None) -> Callable[[bytes], None]:
    from tests.campaigns.common import clean_error_classes

    expected = clean_error_classes()
    folder = Path(tempfile.mkdtemp(prefix="ttrain-fuzz-"))
    path = folder / "config.yaml"

    def test(data: bytes) -> None:
        if not data:
            return
        overrides: list[str] = []
        if data[0] % 4 == 0:
            path.write_text(TINY_CONFIG, encoding="utf-8")
            overrides = data[1:].decode("utf-8", "replace").splitlines()
        else:
            path.write_bytes(data[1:])
        try:
            load_config(path, overrides)
        except expected:
            pass
        except Exception as error:  # noqa: BLE001 -- the crashes the harness looks for
            if crashes is None:
                raise
            crashes.record(error)

    return test


if __name__ == "__main__":
    start("Fuzz ttrain's config loader with atheris.", seed, one_input)
