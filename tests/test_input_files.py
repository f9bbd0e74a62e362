"""The shared reader of users' files: regular files only, never blocking, within a size limit."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Iterator

import pytest

from ttrain.input_files import CONFIG, DATA, InputKind, check_size, format_size, open_input, read_input, size_limit

SMALL = InputKind("test file", 100, "TTRAIN_TEST_MAX_BYTES")


class Refused(Exception):
    pass


def fail(problem: str) -> Refused:
    return Refused(problem)


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail, rather than hang, if opening a FIFO blocks."""

    def timeout(*_: object) -> None:
        raise TimeoutError("blocked on a FIFO")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(10)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"x" * 100)
    assert read_input(path, SMALL, fail) == b"x" * 100
    with open_input(path, SMALL, fail) as (file, size):
        assert size == 100 and file.read(3) == b"xxx"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing", "no such data file"),
        (lambda tmp: tmp / "file" / "below", "no such data file"),
        (lambda tmp: tmp, "is a directory, not a data file"),
        (lambda tmp: Path("/dev/zero"), "is a character device, not a data file"),
        (lambda tmp: Path("/dev/urandom"), "is a character device, not a data file"),
    ],
)
def test_what_is_not_a_regular_file_is_refused(tmp_path: Path, make, message: str) -> None:
    (tmp_path / "file").write_text("x")
    path = make(tmp_path)
    if not path.parent.exists() and str(path).startswith("/dev"):
        pytest.skip("no /dev")
    with pytest.raises(Refused, match=f"^{message}$"):
        read_input(path, DATA, fail)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path: Path, no_hang: None) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(Refused, match=r"^is a named pipe \(FIFO\), not a config file$"):
        read_input(fifo, CONFIG, fail)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_a_fifo_swapped_in_after_the_stat_is_refused_without_blocking(tmp_path: Path, monkeypatch, no_hang: None) -> None:
    regular = tmp_path / "regular"
    regular.write_text("x")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda path, *a, **k: real_stat(regular if Path(path) == fifo else path, *a, **k))
    with pytest.raises(Refused, match=r"^is a named pipe \(FIFO\), not a data file$"):
        read_input(fifo, DATA, fail)


def test_a_file_over_the_limit_is_refused_naming_both_sizes(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * 101)
    with pytest.raises(Refused, match=r"^is 101 bytes, over the 100 bytes limit for a test file "
                                      r"\(set TTRAIN_TEST_MAX_BYTES to raise it\)$"):
        read_input(path, SMALL, fail)


@pytest.mark.parametrize(("text", "expected"), [("", 100), ("2048", 2048), ("4K", 4096), ("3 M", 3 << 20),
                                                ("2GiB", 2 << 30), ("1t", 1 << 40)])
def test_the_limit_can_be_set_from_the_environment(monkeypatch, text: str, expected: int) -> None:
    monkeypatch.setenv(SMALL.env, text)
    assert size_limit(SMALL, fail) == expected


def test_a_limit_that_is_not_a_size_is_an_error(monkeypatch) -> None:
    monkeypatch.setenv(SMALL.env, "lots")
    with pytest.raises(Refused, match=r"TTRAIN_TEST_MAX_BYTES='lots' is not a size"):
        check_size(1, SMALL, fail)


def test_declared_sizes_are_checked_with_the_same_limit() -> None:
    check_size(100, SMALL, fail, "declares")
    with pytest.raises(Refused, match=r"^declares 1 GiB, over the 100 bytes limit"):
        check_size(1 << 30, SMALL, fail, "declares")


def test_sizes_read_well() -> None:
    assert [format_size(n) for n in (0, 1023, 1536, 1 << 20, 5 << 30, 3 << 40)] == [
        "0 bytes", "1023 bytes", "1.5 KiB", "1 MiB", "5 GiB", "3 TiB"]


def test_a_size_beyond_the_memory_the_process_may_use_is_refused_before_reading(monkeypatch) -> None:
    """A gzip'd IDX declaring 4 GiB under `ulimit -v 3G` is refused at once, not after decompressing."""
    from ttrain import input_files

    monkeypatch.setattr(input_files, "memory_available", lambda: 3 << 30)
    with pytest.raises(ValueError, match=r"declares 4 GiB, more than the 3 GiB of memory this process can use"):
        input_files.check_size(4 << 30, input_files.DATA, ValueError, "declares")
    input_files.check_size(2 << 30, input_files.DATA, ValueError, "declares")  # fits: no error


def test_memory_available_reads_the_address_space_limit() -> None:
    import subprocess
    import sys

    from ttrain import input_files

    assert input_files.memory_available() is None or input_files.memory_available() > 0
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, resource.getrlimit(resource.RLIMIT_AS)[1]));"
            "from ttrain.input_files import memory_available; print(memory_available())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert int(out) <= 2 << 30
