"""Entra ID's admin endpoints under ``/_emulator/`` (logical host ``admin``; no token, not logged): apps and their
certificates, device codes and consent decisions, refresh-token revocation and expiry, access-token expiry, minted
tokens, and tokens of the emulated OIDC issuers. Mounted by the platform's ``admin.py`` at the same URLs."""
from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..adminkit import AdminError, admin_handler, error_response, json_body
from ..context import EmuRoute, emulator_context
from ..state import SeedError
from . import authorize, device_code, federation


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


def routes() -> list[EmuRoute]:
    def r(path: str, fn: Any, methods: list[str]) -> EmuRoute:
        return EmuRoute(f'/_emulator{path}', admin_handler(fn, bad_request=(SeedError,)), host='admin',
                        methods=methods)

    return [
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
    ]
