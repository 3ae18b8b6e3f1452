"""The request log: one JSON object per request, readable at ``GET /_emulator/requests``.

Handlers deep inside a request add facts (``client_id``, ``grant_type``, ``error_code``...) with :func:`annotate`,
which writes into the entry of the request being served (a context variable set by the middleware).
"""
from __future__ import annotations

import threading
from collections import deque
from contextvars import ContextVar
from typing import Any

_current: ContextVar[dict[str, Any] | None] = ContextVar('microsoft_emulator_request', default=None)

MAX_ENTRIES = 10_000


def annotate(**facts: Any) -> None:
    """Add facts to the current request's log entry; ``None`` values are ignored, the first value set wins for
    ``client_id``/``tenant_id`` so that a later, less specific source does not overwrite it."""
    entry = _current.get()
    if entry is None:
        return
    for key, value in facts.items():
        if value is None or value == '':
            continue
        if key in ('client_id', 'tenant_id') and entry.get(key):
            continue
        entry[key] = value


def current_entry() -> dict[str, Any] | None:
    return _current.get()


def bind(entry: dict[str, Any]):
    return _current.set(entry)


def unbind(token) -> None:
    _current.reset(token)


class RequestLog:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._next_id = 1

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            entry['seq'] = self._next_id
            self._next_id += 1
            self._entries.append(entry)

    def entries(self, **filters: str) -> list[dict[str, Any]]:
        with self._lock:
            items = [dict(e) for e in self._entries]
        for key, value in filters.items():
            if value:
                items = [e for e in items if str(e.get(key, '')) == value]
        return items

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
