"""`RemovableHandle`: what registering a hook returns; `handle.remove()` unregisters it."""

from __future__ import annotations

import itertools
from typing import Any, Callable, MutableMapping

_ids = itertools.count()


class RemovableHandle:
    """Removes one hook from the dict it was added to (`with handle:` removes it on exit).

    `on_empty` runs when a removal leaves that dict empty (a module then drops its hook machinery).
    """

    def __init__(self, hooks: MutableMapping[int, Any], on_empty: Callable[[], None] | None = None) -> None:
        self.id = next(_ids)
        self._hooks = hooks
        self._on_empty = on_empty

    def remove(self) -> None:
        """Unregister the hook; removing it twice does nothing."""
        if self._hooks.pop(self.id, None) is not None and not self._hooks and self._on_empty is not None:
            self._on_empty()

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
