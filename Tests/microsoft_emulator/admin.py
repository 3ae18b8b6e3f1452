"""The admin API under ``/_emulator/`` (logical host ``admin``; kept out of the request log).

See README.md for the full list. Every body and answer is JSON; errors are ``{"error": "..."}`` with 400/404.
"""
from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from .adminkit import AdminError, admin_handler, error_response, json_body
from .context import EmuRoute, emulator_context
from .faults import parse_fault
from .identity import authorize, device_code, federation
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


async def apps(request: Request) -> Response:
    ctx = emulator_context(request)
    if request.method == 'GET':
        with ctx.state.lock:
            return JSONResponse([a.describe() for a in ctx.state.apps.values()])
    spec = await json_body(request)
    if not spec.get('tenant_id') or not spec.get('client_id'):
        raise AdminError('tenant_id and client_id are required')
    if ctx.state.get_app(spec['client_id']) is not None:
        raise AdminError(f"an app with client_id {spec['client_id']} already exists")
    app = ctx.state.register_app(spec)
    out = app.describe()
    out['certificates'] = [c.describe() for c in app.certificates]
    return JSONResponse(out, status_code=201)


async def app_detail(request: Request) -> Response:
    ctx = emulator_context(request)
    client_id = request.path_params['client_id']
    if request.method == 'DELETE':
        return JSONResponse({'deleted': ctx.state.delete_app(client_id)})
    app = ctx.state.get_app(client_id)
    if app is None:
        return error_response(f'no app {client_id}', 404)
    return JSONResponse(app.describe())


async def app_certificate(request: Request) -> Response:
    app = emulator_context(request).state.get_app(request.path_params['client_id'])
    if app is None or not app.certificates:
        return error_response('no such app, or it has no certificate', 404)
    index = int(request.query_params.get('index', '0'))
    return JSONResponse(app.certificates[index].describe())


async def device_codes(request: Request) -> Response:
    ctx = emulator_context(request)
    with ctx.state.lock:
        return JSONResponse([d.describe() for d in ctx.state.device_codes.values()])


async def device_approve(request: Request) -> Response:
    body = await json_body(request)
    record = device_code.decide(emulator_context(request), str(body.get('user_code', '')), True, body.get('user'))
    return JSONResponse(record.describe())


async def device_deny(request: Request) -> Response:
    body = await json_body(request)
    record = device_code.decide(emulator_context(request), str(body.get('user_code', '')), False)
    return JSONResponse(record.describe())


async def authorize_pending(request: Request) -> Response:
    return JSONResponse(authorize.pending_requests(emulator_context(request)))


async def _authorize_decision(request: Request, approve: bool) -> Response:
    body = await json_body(request)
    ctx = emulator_context(request)
    request_id = body.get('request_id')
    if not request_id:
        pending = authorize.pending_requests(ctx)
        if len(pending) != 1:
            raise AdminError(f'request_id is required ({len(pending)} requests are pending)')
        request_id = pending[0]['request_id']
    response = authorize.decide(ctx, str(request_id), approve, body.get('user'))
    location = response.headers.get('location')
    if location is None:
        return error_response('the request could not be answered (unknown request_id?)', 404)
    return JSONResponse({'location': location})


async def authorize_approve(request: Request) -> Response:
    return await _authorize_decision(request, True)


async def authorize_deny(request: Request) -> Response:
    return await _authorize_decision(request, False)


async def revoke_refresh_tokens(request: Request) -> Response:
    body = await json_body(request)
    count = emulator_context(request).state.revoke_refresh_tokens(body.get('client_id'), body.get('tenant_id'))
    return JSONResponse({'revoked': count})


async def expire_refresh_tokens(request: Request) -> Response:
    body = await json_body(request)
    count = emulator_context(request).state.age_refresh_tokens(body.get('inactive_seconds'), body.get('client_id'))
    return JSONResponse({'expired': count})


async def expire_access_tokens(request: Request) -> Response:
    return JSONResponse({'token_generation': emulator_context(request).state.expire_access_tokens()})


async def mint_token(request: Request) -> Response:
    """A token made to order, for verifier tests: ``{resource, tenant_id?, client_id?, roles?, scp?, lifetime?,
    issued_seconds_ago?}``."""
    ctx = emulator_context(request)
    body = await json_body(request)
    resource = ctx.state.catalog.find(str(body.get('resource', '')))
    if resource is None:
        raise AdminError('resource must name a known resource')
    tenant_id = str(body.get('tenant_id') or ctx.state.default_tenant_id)
    client_id = str(body.get('client_id') or '00000000-0000-0000-0000-00000000e1e1')
    ago = int(body.get('issued_seconds_ago', 0))
    lifetime = int(body.get('lifetime', ctx.state.settings.access_token_lifetime))
    issued = ctx.tokens.app_token(tenant_id=tenant_id, resource=resource, aud=str(body['resource']).rstrip('/'),
                                  client_id=client_id, object_id=client_id, roles=set(body.get('roles') or []),
                                  lifetime=lifetime)
    claims = dict(issued.claims)
    if ago or body.get('scp'):
        claims['iat'] -= ago
        claims['nbf'] -= ago
        claims['exp'] -= ago
        if body.get('scp'):
            claims['scp'] = body['scp']
            claims['idtyp'] = 'user'
        token = ctx.tokens._sign(claims)
    else:
        token = issued.token
    return JSONResponse({'access_token': token, 'claims': claims})


async def oidc_token(request: Request) -> Response:
    """A token from the emulated OIDC issuer ``{name}`` (workload identity federation), shaped like a Kubernetes
    projected service-account token: ``{subject, audience?, lifetime?, issued_seconds_ago?, claims?}``. The issuer
    URL is ``<the base URL this call was made to>/_emulator/oidc/{name}``."""
    ctx = emulator_context(request)
    body = await json_body(request)
    subject = body.get('subject')
    if not isinstance(subject, str) or not subject:
        raise AdminError('subject is required')
    audience = body.get('audience')
    if audience is not None and not (isinstance(audience, str) and audience) and not (
            isinstance(audience, list) and audience and all(isinstance(a, str) for a in audience)):
        raise AdminError('audience must be a string or a list of strings')
    extra = body.get('claims') or {}
    if not isinstance(extra, dict):
        raise AdminError('claims must be an object')
    key = ctx.state.oidc_issuer_key(request.path_params['name'])
    if key is None:   # not reached: the key is made on first use
        return error_response('no such issuer', 404)
    minted = federation.mint_service_account_token(
        federation.issuer_url(request, key.name), key, subject=subject, audience=audience,
        lifetime=int(body['lifetime']) if body.get('lifetime') is not None else None,
        issued_seconds_ago=int(body.get('issued_seconds_ago', 0)), extra=extra)
    return JSONResponse(minted)


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
        r('/apps', apps, ['GET', 'POST']),
        r('/apps/{client_id}', app_detail, ['GET', 'DELETE']),
        r('/apps/{client_id}/certificate', app_certificate, ['GET']),
        r('/device/codes', device_codes, ['GET']),
        r('/device/approve', device_approve, ['POST']),
        r('/device/deny', device_deny, ['POST']),
        r('/authorize/pending', authorize_pending, ['GET']),
        r('/authorize/approve', authorize_approve, ['POST']),
        r('/authorize/deny', authorize_deny, ['POST']),
        r('/refresh-tokens/revoke', revoke_refresh_tokens, ['POST']),
        r('/refresh-tokens/expire', expire_refresh_tokens, ['POST']),
        r('/tokens/expire-all', expire_access_tokens, ['POST']),
        r('/tokens/mint', mint_token, ['POST']),
        r('/oidc/{name}/token', oidc_token, ['POST']),
        r('/faults', faults, ['GET', 'POST', 'DELETE']),
        r('/faults/{fault_id}', fault_detail, ['DELETE']),
        r('/requests', requests_log, ['GET', 'DELETE']),
        r('/rate-limits', rate_limits, ['GET', 'POST', 'DELETE']),
    ]
