"""`CallbackList`: the trainer's callbacks in priority order, one dispatcher for every hook, and
their checkpoint state under a unique key per instance."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

from ttrain.training.callbacks.base import HOOKS, Callback


def _overrides(callback: Any, hook: str) -> bool:
    """Whether `callback` does something at `hook`: its class (or the instance) replaces the no-op."""
    return getattr(type(callback), hook, None) not in (None, getattr(Callback, hook)) or hook in getattr(
        callback, "__dict__", {})


class CallbackList:
    """Callbacks ordered by priority (higher first; equal priorities in the order added).

    `call(hook, *args)` calls `hook` on every callback that overrides it, in that order. Which
    callbacks those are is worked out once per `add`, not per call: a hook no callback overrides
    (most hooks at most steps) costs one dictionary lookup.
    """

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        self._entries: list[tuple[int, int, Callback]] = []  # (priority, order added, callback)
        self._ordered: tuple[Callback, ...] = ()
        self._hooks: dict[str, tuple[Callable[..., None], ...]] = {hook: () for hook in HOOKS}
        for callback in callbacks:
            self.add(callback)

    def add(self, callback: Callback, priority: int | None = None) -> Callback:
        """Add `callback` at `priority` (default: its class's `priority`); returns it."""
        if any(existing is callback for existing in self._ordered):
            raise ValueError(f"{type(callback).__name__} is already one of the trainer's callbacks")
        if priority is None:
            priority = getattr(callback, "priority", Callback.priority)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise TypeError(f"a callback's priority is an int, not {priority!r}")
        self._entries.append((int(priority), len(self._entries), callback))
        self._entries.sort(key=lambda entry: (-entry[0], entry[1]))
        self._ordered = tuple(entry[2] for entry in self._entries)
        # New tuples, not edits: a dispatch under way (a callback adding another) keeps its list.
        self._hooks = {hook: tuple(getattr(c, hook) for c in self._ordered if _overrides(c, hook)) for hook in HOOKS}
        return callback

    def call(self, hook: str, *args: Any) -> None:
        """Call `hook(*args)` on each callback that overrides it, in priority order."""
        for method in self._hooks[hook]:
            method(*args)

    @property
    def callbacks(self) -> tuple[Callback, ...]:
        """The callbacks in the order their hooks run (read-only: add with `add`)."""
        return self._ordered

    def __iter__(self) -> Iterator[Callback]:
        return iter(self._ordered)

    def __len__(self) -> int:
        return len(self._ordered)

    # ---- checkpoint state --------------------------------------------------------------------
    def keyed(self) -> list[tuple[str, Callback]]:
        """Each callback with the key its state is saved under: its `state_key`, with `#2`, `#3`,
        ... for further callbacks with the same key (in the order they run), so that none
        overwrites another. A resumed run that adds the same callbacks finds the same keys."""
        seen: dict[str, int] = {}
        keyed = []
        for callback in self._ordered:
            key = callback.state_key
            seen[key] = seen.get(key, 0) + 1
            keyed.append((key if seen[key] == 1 else f"{key}#{seen[key]}", callback))
        return keyed

    def state_dict(self) -> dict[str, Any]:
        """Every callback's `state_dict()` under its key (see `keyed`)."""
        return {key: callback.state_dict() for key, callback in self.keyed()}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """Give each callback the state saved under its key; one with none saved keeps its own."""
        for key, callback in self.keyed():
            # Checkpoints written before `state_key` existed keyed the state by class name.
            state = saved.get(key, saved.get(type(callback).__name__))
            if state is not None:
                callback.load_state_dict(state)
