"""The admin API under ``/_emulator/`` (logical host ``admin``; kept out of the request log): the platform's
endpoints (health, time, CA, state, reset, settings, faults, request log, rate limits) and Entra ID's
(``identity/admin.py``); the products mount theirs on their API modules.

See README.md for the full list. Every body and answer is JSON; errors are ``{"error": "..."}`` with 400/404.
"""
from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from .adminkit import AdminError, admin_handler, error_response, json_body
from .context import EmuRoute, emulator_context
from .faults import parse_fault
from .identity.admin import routes as identity_admin_routes
from .ratelimits import RateLimitRule
from .state import SeedError


def _handler(fn):
    return admin_handler(fn, bad_request=(SeedError,))


async def health(request: Request) -> Response:
    return JSONResponse({'status': 'ok'})


async def ca_pem(request: Request) -> Response:
    ctx = emulator_context(request)
    if ctx.ca_path is None:
        return error_response('this emulator serves plain HTTP; there is no CA', 404)
    return PlainTextResponse(ctx.ca_path.read_text(encoding='ascii'), media_type='application/x-pem-file')


async def state(request: Request) -> Response:
    return JSONResponse(emulator_context(request).state.describe())


async def reset(request: Request) -> Response:
    emulator_context(request).reset()
    return JSONResponse({'reset': True})


async def settings(request: Request) -> Response:
    ctx = emulator_context(request)
    if request.method == 'POST':
        values = await json_body(request)
        with ctx.state.lock:
            ctx.state.settings.update(values)
    return JSONResponse(ctx.state.settings.as_dict())


async def faults(request: Request) -> Response:
    ctx = emulator_context(request)
    if request.method == 'GET':
        return JSONResponse(ctx.faults.snapshot())
    if request.method == 'DELETE':
        ctx.faults.clear()
        return JSONResponse({'cleared': True})
    fault = ctx.faults.add(parse_fault(await json_body(request)))
    return JSONResponse(fault.as_dict(), status_code=201)


async def fault_detail(request: Request) -> Response:
    removed = emulator_context(request).faults.remove(request.path_params['fault_id'])
    return JSONResponse({'deleted': removed}, status_code=200 if removed else 404)


async def requests_log(request: Request) -> Response:
    ctx = emulator_context(request)
    if request.method == 'DELETE':
        ctx.log.clear()
        return JSONResponse({'cleared': True})
    filters = {k: v for k, v in request.query_params.items() if k in ('host', 'method', 'client_id', 'path')}
    return JSONResponse(ctx.log.entries(**filters))


async def rate_limits(request: Request) -> Response:
    """GET: the rules per module and the settings. POST ``{enabled?, time_scale?, rules?: {module: [rule...]}}``
    (an empty list removes a module's limits; ``"default"`` restores them). DELETE: forget the counted calls."""
    ctx = emulator_context(request)
    if request.method == 'DELETE':
        ctx.limiter.clear()
    elif request.method == 'POST':
        body = await json_body(request)
        with ctx.state.lock:
            if 'enabled' in body:
                ctx.state.settings.update({'rate_limits': body['enabled']})
            if 'time_scale' in body:
                ctx.state.settings.update({'rate_limit_time_scale': body['time_scale']})
        names = {m.name for m in ctx.modules}
        for module_name, rules in (body.get('rules') or {}).items():
            if module_name not in names:
                raise AdminError(f'unknown API module {module_name!r}')
            if rules == 'default':
                ctx.rate_limit_overrides.pop(module_name, None)
            else:
                ctx.rate_limit_overrides[module_name] = [RateLimitRule.from_dict(r) for r in rules]
        ctx.limiter.clear()
    return JSONResponse({
        'enabled': ctx.state.settings.rate_limits,
        'time_scale': ctx.state.settings.rate_limit_time_scale,
        'modules': {m.name: [r.as_dict() for r in ctx.rate_rules(m)] for m in ctx.modules},
    })


async def server_time(request: Request) -> Response:
    return JSONResponse({'epoch': time.time()})


def routes() -> list[EmuRoute]:
    def r(path: str, fn, methods: list[str]) -> EmuRoute:
        return EmuRoute(f'/_emulator{path}', _handler(fn), host='admin', methods=methods)

    return [
        r('/health', health, ['GET']),
        r('/time', server_time, ['GET']),
        r('/ca.pem', ca_pem, ['GET']),
        r('/state', state, ['GET']),
        r('/reset', reset, ['POST']),
        r('/settings', settings, ['GET', 'POST']),
        *identity_admin_routes(),
        r('/faults', faults, ['GET', 'POST', 'DELETE']),
        r('/faults/{fault_id}', fault_detail, ['DELETE']),
        r('/requests', requests_log, ['GET', 'DELETE']),
        r('/rate-limits', rate_limits, ['GET', 'POST', 'DELETE']),
    ]
