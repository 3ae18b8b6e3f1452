"""The identity side: Entra ID (token, device code, authorize, discovery), managed identities, the token proxy, and
the emulated external OIDC issuers of workload identity federation."""
from __future__ import annotations

from ..context import EmuRoute
from . import authorize, device_code, entra, federation, managed_identity, token_proxy


def routes() -> list[EmuRoute]:
    return [
        *managed_identity.routes(),
        *token_proxy.routes(),
        *device_code.routes(),
        *authorize.routes(),
        *entra.routes(),
        *federation.routes(),
    ]
