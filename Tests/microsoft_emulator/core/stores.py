"""The one store registry: every product keeps its data in a store it gets from here.

A store is created (and seeded) on first use, once per emulator, and registered with the reset that puts it back to
its seed, so ``POST /_emulator/reset`` / ``EmulatorServer.reset()`` resets every product's data. A product's admin
reset (``POST /_emulator/mde/reset``...) calls :meth:`StoreRegistry.reset` with its own store names::

    def get_store(ctx: EmulatorContext) -> MdeStore:
        return ctx.stores.get('defender_endpoint', lambda: MdeStore(...))

**Persistence.** With a directory (the server's ``<state-dir>/stores``), a store that has ``snapshot()`` /
``restore(data)`` survives a restart, as identity state does: :meth:`StoreRegistry.save` (called when the server
stops) writes each created store's snapshot to ``<name>.pickle``, and the next first use restores it instead of the
seed. A reset deletes the snapshots of the stores it resets. A snapshot that cannot be read (written by another
version of the emulator) is dropped and the store starts from its seed.
"""
from __future__ import annotations

import logging
import os
import pickle
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)
SNAPSHOT_FORMAT = 1

T = TypeVar('T')


class StoreRegistry:
    """Named stores of one emulator, each with its reset hook (the store's ``reset()`` unless given)."""

    def __init__(self, directory: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._stores: dict[str, Any] = {}
        self._resets: dict[str, Callable[[], None]] = {}
        self.directory = Path(directory) if directory is not None else None

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
            self._restore(name, store)
            hook: Callable[[Any], None] = reset or (lambda s: s.reset())
            self._resets[name] = lambda: hook(store)
            self._stores[name] = store
            return store

    def find(self, name: str) -> Any | None:
        """The store if it was created, else None (no store is created)."""
        return self._stores.get(name)

    def reset(self, *names: str) -> None:
        """Reset the named stores (every store when none is named); stores not created yet stay uncreated. Their
        snapshots go too, so the next start sees the seed."""
        with self._lock:
            hooks = [hook for name, hook in self._resets.items() if not names or name in names]
        for hook in hooks:
            hook()
        for path in self._snapshots():
            if not names or path.stem in names:
                path.unlink(missing_ok=True)

    # ----- persistence ----------------------------------------------------------------------------------------
    def _path(self, name: str) -> Path | None:
        return self.directory / f'{name}.pickle' if self.directory is not None else None

    def _snapshots(self) -> list[Path]:
        if self.directory is None or not self.directory.is_dir():
            return []
        return sorted(self.directory.glob('*.pickle'))

    def _restore(self, name: str, store: Any) -> None:
        path = self._path(name)
        if path is None or not path.exists() or not hasattr(store, 'restore'):
            return
        try:
            with path.open('rb') as handle:
                # Written by this emulator into its own state directory (like its signing key): trusted input.
                saved = pickle.load(handle)   # noqa: S301
            if not isinstance(saved, dict) or saved.get('format') != SNAPSHOT_FORMAT:
                raise ValueError('not a snapshot of this emulator version')
            store.restore(saved['data'])
        except Exception as exc:     # any unreadable snapshot: start from the seed instead
            log.warning('ignoring the saved %s store (%s); starting from its seed', name, exc)
            path.unlink(missing_ok=True)
            if hasattr(store, 'reset'):
                store.reset()

    def save(self) -> list[str]:
        """Write a snapshot of every created store that can take one (atomically, one file per store). Returns the
        names saved."""
        if self.directory is None:
            return []
        self.directory.mkdir(parents=True, exist_ok=True)
        saved = []
        for name, store in sorted(self._stores.items()):
            if not hasattr(store, 'snapshot'):
                continue
            path = self._path(name)
            assert path is not None
            tmp = path.with_suffix('.tmp')
            with tmp.open('wb') as handle:
                pickle.dump({'format': SNAPSHOT_FORMAT, 'data': store.snapshot()}, handle,
                            protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
            saved.append(name)
        return saved

    def names(self) -> list[str]:
        return sorted(self._stores)
