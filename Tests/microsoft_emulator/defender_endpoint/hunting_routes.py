"""``POST /api/advancedqueries/run``: advanced hunting over the store's tables (``hunting.py``)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..core.clock import now_ticks
from ..core.http import defender_error, json_body
from ..core.hunting import hunting_stats
from ..core.kql import KqlError, run_query
from ..tokens import Principal
from .common import HUNTING_WINDOW, bad_body, module, request_store
from .hunting import hunting_view


@module.route('/api/advancedqueries/run', methods=['POST'], permissions=['AdvancedQuery.Read.All', 'AdvancedQuery.Read'])
async def run_hunting(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        return bad_body()
    query = body.get('Query')
    if not isinstance(query, str) or not query.strip():
        return bad_body('Missing query.')
    tables = hunting_view(request_store(request))
    now = now_ticks()
    try:
        result = run_query(tables, query, (now - HUNTING_WINDOW, now))
    except KqlError as exc:
        return defender_error(400, 'BadRequest', str(exc))
    return JSONResponse({
        'Stats': hunting_stats(result.seconds, result.rows),
        'Schema': [{'Name': name, 'Type': kind} for name, kind in result.columns],
        'Results': result.rows,
    })
