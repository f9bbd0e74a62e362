"""Opening the files a user names: regular files only, never blocking, never beyond a size limit.

Every reader of a user's file (config, checkpoint, data) opens it here, so none of them can hang on
a FIFO, read ``/dev/zero`` until memory runs out, or start loading a file larger than it could
hold. The path is checked with ``stat`` before opening (opening some devices has side effects),
opened with ``O_NONBLOCK`` (opening a FIFO that has no writer would otherwise wait forever) and
checked again with ``fstat`` on the open descriptor, so it cannot be swapped in between.

Size limits, each overridable by an environment variable (bytes, or a number with K, M, G or T):

    config file       1 MiB    TTRAIN_MAX_CONFIG_BYTES      (PyYAML parses ~0.25 MiB/s in Python)
    checkpoint file   16 GiB   TTRAIN_MAX_CHECKPOINT_BYTES  (it is read whole, then copied)
    data file         4 GiB    TTRAIN_MAX_DATA_BYTES        (held whole in memory, as float32)

A data file's limit also bounds what compressed data (a gzip'd IDX file, an ``.npz`` member)
declares it will decompress to, checked before anything is decompressed.

Errors are raised through ``fail``, the caller's factory that turns a problem ("is a directory,
not a data file") into its own error type naming the file (ConfigError, CheckpointError, DataError).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

ErrorFactory = Callable[[str], Exception]

_MIB, _GIB = 1 << 20, 1 << 30
_SIZE = re.compile(r"(\d+)\s*([KMGT]?)(?:i?B)?", re.IGNORECASE)
_UNIT = {"": 1, "K": 1 << 10, "M": _MIB, "G": _GIB, "T": 1 << 40}
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # POSIX; Windows has no FIFOs to wait on
_OPEN_FLAGS = (os.O_RDONLY | _NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
               | getattr(os, "O_BINARY", 0))


@dataclass(frozen=True)
class InputKind:
    """What a file is for: its name in messages, and its size limit with the variable that overrides it."""

    noun: str
    default_limit: int
    env: str


CONFIG = InputKind("config file", _MIB, "TTRAIN_MAX_CONFIG_BYTES")
CHECKPOINT = InputKind("checkpoint file", 16 * _GIB, "TTRAIN_MAX_CHECKPOINT_BYTES")
DATA = InputKind("data file", 4 * _GIB, "TTRAIN_MAX_DATA_BYTES")


def format_size(size: int) -> str:
    """``1536`` -> ``"1.5 KiB"``; sizes under 1 KiB in bytes."""
    value, unit = float(size), "bytes"
    for name in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, name
    return f"{size} bytes" if unit == "bytes" else f"{value:.3g} {unit}"


def size_limit(kind: InputKind, fail: ErrorFactory) -> int:
    """The size limit for ``kind``: its environment variable if set, else its default."""
    text = os.environ.get(kind.env, "").strip()
    if not text:
        return kind.default_limit
    match = _SIZE.fullmatch(text)
    if match is None:
        raise fail(f"{kind.env}={text!r} is not a size: give bytes, or a number with K, M, G or T")
    return int(match[1]) * _UNIT[match[2].upper()]


def memory_available() -> int | None:
    """The most memory this process could still get, as far as it can be known cheaply: the lower of
    its address-space limit (``ulimit -v``, as a batch scheduler sets it) and the kernel's
    ``MemAvailable``; None when neither is known."""
    known = []
    with contextlib.suppress(ImportError, OSError, ValueError):
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            known.append(int(soft))
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    known.append(int(line.split()[1]) * 1024)
                    break
    return min(known) if known else None


def check_size(size: int, kind: InputKind, fail: ErrorFactory, what: str = "is") -> None:
    """Raise ``fail(...)`` when ``size`` bytes (``what``: "is", "declares", ...) exceed ``kind``'s limit,
    or the memory this process could still get: whatever is read is held whole, so a size that cannot
    fit is refused at once rather than after a long read that ends out of memory."""
    limit = size_limit(kind, fail)
    if size > limit:
        raise fail(f"{what} {format_size(size)}, over the {format_size(limit)} limit for a {kind.noun} "
                   f"(set {kind.env} to raise it)")
    available = memory_available()
    if available is not None and size > available:
        raise fail(f"{what} {format_size(size)}, more than the {format_size(available)} of memory this "
                   "process can use")


def _not_regular(mode: int) -> str | None:
    """What a file of ``mode`` is, when it is not a regular file."""
    for test, what in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return None if stat.S_ISREG(mode) else "not a regular file"


def _check_regular(mode: int, kind: InputKind, fail: ErrorFactory) -> None:
    what = _not_regular(mode)
    if what is not None:
        raise fail(f"is {what}, not a {kind.noun}")


def _os_problem(error: OSError, kind: InputKind) -> str:
    if isinstance(error, (FileNotFoundError, NotADirectoryError)):
        return f"no such {kind.noun}"
    return f"cannot read it: {error.strerror or error}"


@contextlib.contextmanager
def open_input(path: str | os.PathLike[str], kind: InputKind, fail: ErrorFactory) -> Iterator[tuple[BinaryIO, int]]:
    """Open a regular file within ``kind``'s size limit; yields the binary file and its size.

    A missing file, a directory, FIFO, device or socket, an oversized file, and any OSError while
    it is open (reading it, or in the caller's block) are raised as ``fail(problem)``.
    """
    path = Path(path)
    try:
        _check_regular(os.stat(path).st_mode, kind, fail)
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        raise fail(_os_problem(error, kind)) from None
    try:
        status = os.fstat(fd)
        _check_regular(status.st_mode, kind, fail)  # the path may have been replaced since the stat
        check_size(status.st_size, kind, fail)
        if _NONBLOCK:
            os.set_blocking(fd, True)  # a regular file: read it as any other
        file = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with file:
        try:
            yield file, status.st_size
        except OSError as error:
            raise fail(_os_problem(error, kind)) from None


def read_input(path: str | os.PathLike[str], kind: InputKind, fail: ErrorFactory) -> bytes:
    """The whole content of a regular file within ``kind``'s size limit (see ``open_input``)."""
    with open_input(path, kind, fail) as (file, size):
        content = file.read(size)
        if file.read(1):  # reading no more than fstat said keeps a growing file within the limit
            raise fail("grew while it was being read; try again once it is complete")
    return content
