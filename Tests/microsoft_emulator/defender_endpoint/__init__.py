"""Microsoft Defender for Endpoint (``api.securitycenter.microsoft.com``): machines, machine actions,
investigations, files/IPs/domains, indicators, alerts, advanced hunting (``routes``), vulnerability management
(``tvm``), live response (``live_response``), alert creation and related entities (``alerts``), and the legacy
Graph ``tiIndicators`` the Defender for Endpoint integration also calls (``graph_indicators``). Store and seed in
``store``/``seed``, the ``/_emulator/mde/...`` admin endpoints in ``admin``."""
from __future__ import annotations

from ..core.api import ApiModule


def modules() -> list[ApiModule]:
    from .admin import routes as admin_routes
    from .alerts import module as alerts
    from .graph_indicators import module as graph_indicators
    from .live_response import module as live_response
    from .routes import module
    from .tvm import module as tvm
    module.mount(admin_routes)
    return [module, tvm, live_response, alerts, graph_indicators]
