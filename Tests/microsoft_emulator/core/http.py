"""HTTP helpers every product uses: JSON request bodies, the Defender error envelope (Graph's is
``errors.api_error``), who a change is attributed to, the base URL and ``$skip`` next links."""
from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..requestlog import annotate
from ..tokens import Principal


def defender_error(status: int, code: str, message: str) -> JSONResponse:
    annotate(error=code)
    return JSONResponse({'error': {'code': code, 'message': message, 'target': f'|{uuid.uuid4().hex[:16]}.'}},
                        status_code=status)


def acting_identity(principal: Principal) -> str:
    """Who a comment or change is attributed to: the signed-in user's UPN, or ``API-App:<client id>``."""
    if not principal.is_app_only:
        upn = principal.claims.get('upn') or principal.claims.get('unique_name')
        if upn:
            return str(upn)
    return f'API-App:{principal.client_id}'


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip('/')


def next_link(request: Request, path: str, skip: int) -> str:
    """The request's URL with ``$skip`` replaced."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k.lower() != '$skip']
    query.append(('$skip', str(skip)))
    return f"{base_url(request)}{path}?{urlencode(query, quote_via=quote, safe=SAFE_QUERY_CHARS)}"


SAFE_QUERY_CHARS = "$,:'()"
