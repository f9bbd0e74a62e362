"""`OutputWriteError`: the run's own output could not be written (disk full, no permission, I/O error).

It is not bad input: the config, data and checkpoints were fine, and the same run on a machine
with room succeeds. So the CLI reports it as a failed run (exit 1), with the path and the
operating system's reason, never as exit 2 and never with a traceback.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator


class OutputWriteError(RuntimeError):
    """Writing ``path`` failed with ``error`` (an OSError); the message names both."""

    def __init__(self, what: str, path: Path | str, error: OSError) -> None:
        self.path = Path(path)
        self.errno = error.errno
        super().__init__(f"cannot write {what} {path}: {error.strerror or error}")


@contextlib.contextmanager
def writing(what: str, path: Path | str) -> Iterator[None]:
    """Turn an OSError raised inside the block into an `OutputWriteError` about ``what`` at ``path``."""
    try:
        yield
    except OSError as error:
        raise OutputWriteError(what, path, error) from None
