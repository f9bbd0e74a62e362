"""atheris harness for the checkpoint loader: any bytes, `load_checkpoint` raises CheckpointError or loads.

A loaded checkpoint's embedded config is then validated (`config_from_dict`), which may raise
ConfigError or RegistryError. Anything else escaping is a crash. The seed corpus is a real
checkpoint of a tiny run plus a few dozen of the campaign's damaged variants of it.

    pip install -e '.[fuzz]'     # or: pip install atheris
    python -m tests.campaigns.fuzz_checkpoint -max_total_time=120 [--keep-going] [--corpus DIR]
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

import atheris

from tests.campaigns.fuzzing import CrashLog, start

with atheris.instrument_imports():
    from ttrain.config import config_from_dict
    from ttrain.training import checkpoint as checkpoint_module

SEEDS = 60  # damaged variants added to the real checkpoint


def seed(corpus: Path) -> None:
    from tests.campaigns.common import make_checkpoint
    from tests.campaigns.mutations import mutate, parse

    reference = make_checkpoint(Path(tempfile.mkdtemp(prefix="ttrain-fuzz-reference-")))
    raw = reference.read_bytes()
    (corpus / "reference.safetensors").write_bytes(raw)
    layout = parse(raw)
    for index in range(SEEDS):
        case = mutate(layout, 0, index, str(corpus.parent / "marker"), "/nonexistent-fifo")
        if len(case.data) < 1_000_000:
            (corpus / f"seed-{index}.safetensors").write_bytes(case.data)


def one_input(crashes: CrashLog | None) -> Callable[[bytes], None]:
    from tests.campaigns.common import clean_error_classes

    expected = clean_error_classes()
    path = Path(tempfile.mkdtemp(prefix="ttrain-fuzz-")) / "input.safetensors"

    def test(data: bytes) -> None:
        path.write_bytes(data)
        try:
            _, metadata = checkpoint_module.load_checkpoint(path)
            if isinstance(metadata.get("config"), dict):
                config_from_dict(metadata["config"])
        except expected:
            pass
        except Exception as error:  # noqa: BLE001 -- the crashes the harness looks for
            if crashes is None:
                raise
            crashes.record(error)

    return test


if __name__ == "__main__":
    start("Fuzz ttrain's checkpoint loader with atheris.", seed, one_input)
