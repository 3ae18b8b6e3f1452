"""A demo API (``GET /_emulator/whoami``): the claims of any valid token."""
from __future__ import annotations

from ..core.api import ApiModule


def modules() -> list[ApiModule]:
    from .routes import module
    return [module]
