"""Microsoft Defender Threat Intelligence over Microsoft Graph (``/security/threatIntelligence/...``): articles,
intel profiles, hosts and their WHOIS, passive DNS, components, trackers, cookies, SSL certificates and
vulnerabilities, from the deterministic data set in ``data.py``."""
from __future__ import annotations

from ..core.api import ApiModule


def modules() -> list[ApiModule]:
    from .routes import module
    return [module]
