"""The per-server context every handler reaches through ``emulator_context(request)``, and the route class that
carries each route's logical host (login, graph, m365d, mde, imds, appservice, oproxy, admin, emulator)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import Route

from .core.stores import StoreRegistry
from .faults import FaultRegistry
from .ratelimits import RateLimiter, RateLimitRule
from .requestlog import RequestLog
from .state import EmulatorState
from .tokens import TokenService

if TYPE_CHECKING:
    from .core.api import ApiModule


class EmuRoute(Route):
    """A Starlette route that knows which logical Microsoft service it belongs to."""

    def __init__(self, path: str, endpoint: Callable[..., Any], *, host: str, methods: list[str] | None = None,
                 module: ApiModule | None = None, name: str | None = None):
        super().__init__(path, endpoint, methods=methods, name=name)
        self.host = host
        self.module = module


@dataclass
class EmulatorContext:
    state: EmulatorState
    tokens: TokenService
    modules: list[ApiModule]
    faults: FaultRegistry = field(default_factory=FaultRegistry)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    log: RequestLog = field(default_factory=RequestLog)
    ca_path: Path | None = None
    rate_limit_overrides: dict[str, list[RateLimitRule]] = field(default_factory=dict)
    # Every product's data (incidents, machines, indicators...): created on first use, reset with the emulator.
    stores: StoreRegistry = field(default_factory=StoreRegistry)

    def rate_rules(self, module: ApiModule) -> list[RateLimitRule]:
        return self.rate_limit_overrides.get(module.name, list(module.rate_limits))

    def reset(self) -> None:
        """Seed state, no faults, empty request log, fresh rate-limit counters."""
        self.state.reset()
        self.faults.clear()
        self.log.clear()
        self.limiter.clear()
        self.rate_limit_overrides.clear()
        self.stores.reset()


def emulator_context(request: Request) -> EmulatorContext:
    return request.app.state.emulator
