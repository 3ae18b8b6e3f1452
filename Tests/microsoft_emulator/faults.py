"""Injected faults, queued through ``POST /_emulator/faults``.

A fault matches requests by logical host, path prefix and/or path regex (and optionally method), and fires
``count`` times (or always, until cleared), optionally after letting ``skip`` matching requests through untouched
(e.g. ``skip: 2`` faults the third page of a listing). Kinds:

* ``status``  - answer at once with ``status`` (429, 500, 502, 503, 504...), optional ``Retry-After`` and a body
  shaped like the service (or ``body`` as given);
* ``latency`` - wait ``latency_ms`` and then serve the request normally (other faults may still apply);
* ``reset``   - close the TCP connection with a RST and no response (the client sees a connection reset /
  "connection aborted" error);
* ``hang``    - send nothing for ``hang_seconds`` (bounded by the ``hang_max_seconds`` setting) or until the
  client gives up and disconnects, then answer 504; clients with a read timeout see that timeout.
"""
from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

KINDS = ('status', 'latency', 'reset', 'hang')


@dataclass
class Fault:
    id: str
    kind: str
    host: str | None = None
    path_prefix: str | None = None
    path_regex: str | None = None
    method: str | None = None
    count: int | None = 1                 # None: always, until cleared
    status: int = 503
    retry_after: int | None = None
    latency_ms: int = 0
    hang_seconds: float = 30.0
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    skip: int = 0                         # matching requests to let through before the fault starts firing
    fired: int = 0

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count

    def matches(self, host: str, method: str, path: str) -> bool:
        if self.host and self.host != host:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        if self.path_prefix and not path.startswith(self.path_prefix):
            return False
        if self.path_regex and not re.search(self.path_regex, path):
            return False
        return True

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()} | {
            'remaining': None if self.count is None else max(0, self.count - self.fired)}


def parse_fault(data: dict[str, Any]) -> Fault:
    kind = data.get('kind') or ('status' if 'status' in data else None)
    if kind not in KINDS:
        raise ValueError(f'kind must be one of {", ".join(KINDS)}')
    if not any(data.get(k) for k in ('host', 'path_prefix', 'path_regex')):
        raise ValueError('a fault needs at least one of host, path_prefix, path_regex')
    if data.get('path_regex'):
        try:
            re.compile(data['path_regex'])
        except re.error as exc:
            raise ValueError(f'path_regex: {exc}') from exc
    count = data.get('count', 1)
    if count in ('always', None, -1):
        count = None
    else:
        count = int(count)
        if count < 1:
            raise ValueError('count must be a positive number or "always"')
    status = int(data.get('status', 429 if kind == 'status' and data.get('retry_after') else 503))
    if kind == 'status' and not 400 <= status <= 599:
        raise ValueError('status must be a 4xx or 5xx code')
    return Fault(
        id=str(uuid.uuid4()), kind=kind, host=data.get('host'), path_prefix=data.get('path_prefix'),
        path_regex=data.get('path_regex'), method=data.get('method'), count=count, status=status,
        retry_after=None if data.get('retry_after') is None else int(data['retry_after']),
        latency_ms=int(data.get('latency_ms', 0)), hang_seconds=float(data.get('hang_seconds', 30.0)),
        body=data.get('body'), headers={str(k): str(v) for k, v in (data.get('headers') or {}).items()},
        skip=_skip(data.get('skip', 0)))


def _skip(value: Any) -> int:
    skip = int(value or 0)
    if skip < 0:
        raise ValueError('skip must be zero or a positive number')
    return skip


class FaultRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_dict() for f in self._faults]

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, host: str, method: str, path: str) -> list[Fault]:
        """The faults this request triggers, in order: any latency faults, then at most one terminal fault.
        Each one's use is counted; exhausted faults are dropped."""
        fired: list[Fault] = []
        with self._lock:
            for fault in self._faults:
                if fault.exhausted or not fault.matches(host, method, path):
                    continue
                if fault.skip:
                    fault.skip -= 1
                    continue
                if fault.kind == 'latency':
                    fault.fired += 1
                    fired.append(fault)
                    continue
                if any(f.kind != 'latency' for f in fired):
                    continue
                fault.fired += 1
                fired.append(fault)
            self._faults = [f for f in self._faults if not f.exhausted]
        return fired
