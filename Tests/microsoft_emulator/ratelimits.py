"""Per-API rate limits (enabled with ``serve --rate-limits`` or the ``rate_limits`` setting).

Each API module declares :class:`RateLimitRule` objects. A rule counts the calls of one app in one tenant (or of
the whole tenant) on the module's routes it matches, over a sliding window; when a call would exceed ``calls`` in
``period_seconds`` the emulator answers 429 with ``Retry-After`` and Microsoft's error body. Windows are multiplied
by the ``rate_limit_time_scale`` setting so tests can use a 60-second rule with a 0.6-second window.
"""
from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RateLimitRule:
    name: str
    calls: int
    period_seconds: float
    path_regex: str | None = None                     # None: every route of the module
    methods: tuple[str, ...] = ()                     # empty: every method
    per: str = 'app'                                  # 'app' (app + tenant, as Microsoft documents) or 'tenant'
    _compiled: Any = field(default=None, compare=False, repr=False)

    def matches(self, method: str, path: str) -> bool:
        if self.methods and method.upper() not in self.methods:
            return False
        if self.path_regex is None:
            return True
        pattern = self._compiled or re.compile(self.path_regex)
        return pattern.search(path) is not None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RateLimitRule:
        regex = data.get('path_regex')
        if regex:
            try:
                re.compile(regex)
            except re.error as exc:
                raise ValueError(f'path_regex: {exc}') from exc
        return cls(name=str(data['name']), calls=int(data['calls']), period_seconds=float(data['period_seconds']),
                   path_regex=regex, methods=tuple(m.upper() for m in data.get('methods') or ()),
                   per=data.get('per', 'app'))

    def as_dict(self) -> dict[str, Any]:
        return {'name': self.name, 'calls': self.calls, 'period_seconds': self.period_seconds,
                'path_regex': self.path_regex, 'methods': list(self.methods), 'per': self.per}


@dataclass
class Throttled:
    rule: RateLimitRule
    retry_after: int
    window: float


class RateLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[tuple[str, str, str, str], deque[float]] = {}

    def check(self, module: str, rules: list[RateLimitRule], *, tenant_id: str, client_id: str, method: str,
              path: str, time_scale: float = 1.0, now: float | None = None) -> Throttled | None:
        """Record the call if every matching rule allows it; otherwise return the rule that throttles it."""
        now = time.monotonic() if now is None else now
        scale = time_scale if time_scale > 0 else 1.0
        matching = [r for r in rules if r.matches(method, path)]
        with self._lock:
            windows = []
            for rule in matching:
                key = (module, rule.name, tenant_id, client_id if rule.per == 'app' else '*')
                window = rule.period_seconds * scale
                calls = self._calls.setdefault(key, deque())
                while calls and calls[0] <= now - window:
                    calls.popleft()
                if len(calls) >= rule.calls:
                    wait = calls[0] + window - now
                    return Throttled(rule=rule, retry_after=max(1, math.ceil(wait)), window=window)
                windows.append(calls)
            for calls in windows:
                calls.append(now)
        return None

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()


# Documented limits, for the product API modules to use (per app and tenant unless noted):
MDE_DEFAULT = (RateLimitRule('mde-minute', 100, 60), RateLimitRule('mde-hour', 1500, 3600))
"""Defender for Endpoint API, most methods: 100 calls per minute and 1,500 per hour."""
MDE_HUNTING = (RateLimitRule('mde-hunting-minute', 45, 60, path_regex=r'/advancedqueries/'),
               RateLimitRule('mde-hunting-hour', 1500, 3600, path_regex=r'/advancedqueries/'))
"""Defender for Endpoint advanced hunting (``/api/advancedqueries/run``): 45 per minute and 1,500 per hour."""
M365D_INCIDENTS = (RateLimitRule('m365d-incidents-minute', 50, 60, path_regex=r'/incidents'),
                   RateLimitRule('m365d-incidents-hour', 1500, 3600, path_regex=r'/incidents'))
"""Defender XDR incidents API: 50 calls per minute and 1,500 per hour."""
M365D_HUNTING = (RateLimitRule('m365d-hunting-minute', 45, 60, path_regex=r'/advancedhunting/', per='tenant'),)
"""Defender XDR advanced hunting: at least 45 calls per minute per tenant."""
GRAPH_SECURITY = (RateLimitRule('graph-security-minute', 150, 60, path_regex=r'^/(v1\.0|beta)/security/'),)
"""Graph ``/security`` (alerts, incidents, secure score...): 150 requests per minute per app per tenant."""
