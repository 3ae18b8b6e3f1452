"""The one store registry: every product keeps its data in a store it gets from here.

A store is created (and seeded) on first use, once per emulator, and registered with the reset that puts it back to
its seed, so ``POST /_emulator/reset`` / ``EmulatorServer.reset()`` resets every product's data. A product's admin
reset (``POST /_emulator/mde/reset``...) calls :meth:`StoreRegistry.reset` with its own store names::

    def get_store(ctx: EmulatorContext) -> MdeStore:
        return ctx.stores.get('defender_endpoint', lambda: MdeStore(...))
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar('T')


class StoreRegistry:
    """Named stores of one emulator, each with its reset hook (the store's ``reset()`` unless given)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stores: dict[str, Any] = {}
        self._resets: dict[str, Callable[[], None]] = {}

    def get(self, name: str, factory: Callable[[], T], *, reset: Callable[[T], None] | None = None) -> T:
        """The store called ``name``, made by ``factory()`` on first use. ``reset(store)`` (default: the store's
        ``reset()`` method) puts it back to its seed when the emulator resets."""
        existing = self._stores.get(name)
        if existing is not None:
            return existing
        with self._lock:
            existing = self._stores.get(name)
            if existing is not None:
                return existing
            store = factory()
            hook: Callable[[Any], None] = reset or (lambda s: s.reset())
            self._resets[name] = lambda: hook(store)
            self._stores[name] = store
            return store

    def find(self, name: str) -> Any | None:
        """The store if it was created, else None (no store is created)."""
        return self._stores.get(name)

    def reset(self, *names: str) -> None:
        """Reset the named stores (every store when none is named); stores not created yet stay uncreated."""
        with self._lock:
            hooks = [hook for name, hook in self._resets.items() if not names or name in names]
        for hook in hooks:
            hook()

    def names(self) -> list[str]:
        return sorted(self._stores)
