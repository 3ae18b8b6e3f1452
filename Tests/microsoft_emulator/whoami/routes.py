"""``GET /_emulator/whoami``: the smallest API module. Any valid token for any known resource is accepted; the
answer shows what the verifier saw. Handy for checking a token by hand and as the template for product modules."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..core.api import ApiModule
from ..tokens import Principal

module = ApiModule('whoami', host='emulator', audiences=())


@module.route('/_emulator/whoami')
async def whoami(request: Request, principal: Principal) -> Response:
    return JSONResponse({
        'tenant_id': principal.tenant_id,
        'client_id': principal.client_id,
        'object_id': principal.object_id,
        'app_only': principal.is_app_only,
        'resource': principal.resource.key,
        'audience': principal.claims.get('aud'),
        'roles': sorted(principal.roles),
        'scopes': sorted(principal.scopes),
    })
