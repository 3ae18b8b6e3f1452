"""Microsoft Defender XDR: incidents and advanced hunting on ``api.security.microsoft.com`` (``routes``), and the
same incidents, alerts and hunting through Microsoft Graph security (``graph_routes``: one store serves both, as
one backend serves both at Microsoft). Store and seed in ``store``/``seed``, hunting tables in ``hunting``, the
``/_emulator/xdr/...`` admin endpoints in ``admin``."""
from __future__ import annotations

from ..core.api import ApiModule


def modules() -> list[ApiModule]:
    from .admin import routes as admin_routes
    from .graph_routes import module as graph_module
    from .routes import module
    module.mount(admin_routes)
    return [module, graph_module]
