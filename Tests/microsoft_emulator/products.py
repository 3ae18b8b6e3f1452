"""The product packages the emulator serves by default, in mounting order. This module and ``server.py`` are the
only ones that know every product; products know only ``core`` (and the platform modules) and themselves."""
from __future__ import annotations

from .core.api import ApiModule


def builtin_modules() -> list[ApiModule]:
    """Every built-in product's API modules (a product package exposes ``modules()``)."""
    from . import defender_endpoint, defender_xdr, threat_intelligence, whoami
    return [*whoami.modules(), *defender_xdr.modules(), *threat_intelligence.modules(),
            *defender_endpoint.modules()]
