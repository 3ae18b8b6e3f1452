"""Entra ID's token endpoints (v2.0 ``/{tenant}/oauth2/v2.0/token`` and v1 ``/{tenant}/oauth2/token``), OpenID
discovery and the signing keys (JWKS)."""
from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..context import EmulatorContext, EmuRoute, emulator_context
from ..errors import EntraError, entra_error_response
from ..requestlog import annotate
from ..resources import OIDC_SCOPES
from . import authorize, device_code
from .common import (
    DEVICE_CODE_GRANT,
    NO_STORE,
    TenantRef,
    authenticate_client,
    base_url,
    basic_credentials,
    find_app,
    issue_app_token,
    issue_delegated,
    parse_scopes,
    read_form,
    resolve_tenant,
    resource_scope_request,
)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime('%Y-%m-%d %H:%M:%SZ')


async def token_endpoint(request: Request) -> Response:
    ctx = emulator_context(request)
    v1 = '/v2.0/' not in request.url.path
    correlation = request.headers.get('client-request-id')
    try:
        ref = resolve_tenant(ctx, request.path_params['tenant'])
        form = await read_form(request)
        basic_id, _ = basic_credentials(request)
        if basic_id and not form.get('client_id'):
            form['client_id'] = basic_id
        grant_type = form.get('grant_type', '')
        annotate(grant_type=grant_type, client_id=form.get('client_id'),
                 tenant_id=ref.tenant.tenant_id if ref.tenant else None)
        if not grant_type:
            raise EntraError(900144, param='grant_type')
        if grant_type == 'client_credentials':
            body = client_credentials(ctx, request, ref, form, v1)
        elif grant_type == 'authorization_code':
            body = authorize.redeem_code(ctx, request, ref, form, v1)
        elif grant_type == 'refresh_token':
            body = refresh_token_grant(ctx, request, ref, form, v1)
        elif grant_type in (DEVICE_CODE_GRANT, 'device_code'):
            body = device_code.redeem(ctx, request, ref, form, v1)
        else:
            raise EntraError(70003, grant_type=grant_type)
    except EntraError as err:
        return entra_error_response(err, correlation)
    return JSONResponse(body, headers=NO_STORE)


def client_credentials(ctx: EmulatorContext, request: Request, ref: TenantRef, form: dict[str, str],
                       v1: bool) -> dict[str, Any]:
    app = find_app(ctx, form.get('client_id'), ref)
    appidacr = authenticate_client(ctx, request, form, app, ref, credentials_required=True)
    tenant_id = ref.tenant.tenant_id if ref.tenant else app.tenant_id
    scope, resource_param = form.get('scope', '').strip(), form.get('resource', '').strip()
    if v1 or (not scope and resource_param):
        if not resource_param:
            raise EntraError(900144, param='resource')
        identifier = resource_param
    else:
        if not scope:
            raise EntraError(900144, param='scope')
        # Entra ignores the OpenID Connect scopes (offline_access, openid, profile, email) beside a .default in
        # client credentials and issues the app token; the official M365D integration sends
        # "offline_access https://security.microsoft.com/mtp/.default". What stays refused, as at Entra: no
        # .default, a named permission, or .default of more than one resource.
        items = [item for item in scope.split() if item.lower() not in OIDC_SCOPES]
        if len(items) != 1 or not items[0].endswith('/.default'):
            raise EntraError(70011, scope=scope, detail=(
                'Client credential flows must have a scope value with /.default suffixed to the resource '
                'identifier (application ID URI).'))
        identifier = items[0][:-len('/.default')]
    resource = ctx.state.catalog.find(identifier)
    if resource is None:
        tenant = ctx.state.tenants[tenant_id]
        raise EntraError(500011, resource=identifier, tenant=tenant.domains[0] if tenant.domains else tenant_id)
    annotate(resource=resource.key, tenant_id=tenant_id)
    return issue_app_token(ctx, app=app, tenant_id=tenant_id, resource=resource, identifier=identifier.rstrip('/'),
                           appidacr=appidacr, v1=v1)


def refresh_token_grant(ctx: EmulatorContext, request: Request, ref: TenantRef, form: dict[str, str],
                        v1: bool) -> dict[str, Any]:
    value = form.get('refresh_token')
    if not value:
        raise EntraError(900144, param='refresh_token')
    app = find_app(ctx, form.get('client_id'), ref)
    appidacr = authenticate_client(ctx, request, form, app, ref, credentials_required=False)
    now = time.time()
    with ctx.state.lock:
        record = ctx.state.refresh_tokens.get(value)
        if record is None or record.origin != 'entra':
            raise EntraError(9002313, detail='The refresh token is malformed or not valid.')
        if record.client_id != app.client_id:
            raise EntraError(70000, detail='The refresh token was issued to a different client.')
        if record.status == 'revoked':
            raise EntraError(50173, issued=_iso(record.issued_at), valid_from=_iso(now))
        if record.status == 'rotated' and ctx.state.settings.refresh_token_single_use:
            raise EntraError(70008, detail='The refresh token was already redeemed; use the newest one.')
        inactive = now - record.last_used
        if inactive > ctx.state.settings.refresh_token_max_inactive:
            raise EntraError(700082, issued=_iso(record.issued_at), inactive=f'{int(inactive // 86400)}.00:00:00')
        user = ctx.state.find_user(record.user_oid)
        if user is None:
            raise EntraError(70000, detail='The user of this refresh token no longer exists.')
        if form.get('scope'):
            req = parse_scopes(ctx, form['scope'], ref)
        elif form.get('resource'):
            req = resource_scope_request(ctx, form['resource'], ref, form.get('scope', ''))
        else:
            req = parse_scopes(ctx, ' '.join(record.scopes), ref)
        body = issue_delegated(ctx, request, app=app, user=user, req=req, appidacr=appidacr, v1=v1,
                               want_client_info=form.get('client_info') == '1', always_refresh=True)
        record.status = 'rotated'
        record.last_used = now
        ctx.state._save_runtime()
    return body


def _tenant_paths(request: Request, label: str) -> dict[str, str]:
    base = f'{base_url(request)}/{label}'
    return {
        'token_endpoint': f'{base}/oauth2/v2.0/token',
        'authorization_endpoint': f'{base}/oauth2/v2.0/authorize',
        'device_authorization_endpoint': f'{base}/oauth2/v2.0/devicecode',
        'jwks_uri': f'{base}/discovery/v2.0/keys',
        'end_session_endpoint': f'{base}/oauth2/v2.0/logout',
    }


async def openid_configuration(request: Request) -> Response:
    ctx = emulator_context(request)
    label = request.path_params.get('tenant', 'common')
    try:
        ref = resolve_tenant(ctx, label)
    except EntraError as err:
        return entra_error_response(err)
    v1 = '/v2.0/' not in request.url.path and request.url.path != '/.well-known/openid-configuration'
    tenant_id = ref.tenant.tenant_id if ref.tenant else '{tenantid}'
    paths = _tenant_paths(request, label)
    if v1:
        paths = {k: v.replace('/oauth2/v2.0/', '/oauth2/').replace('/discovery/v2.0/', '/discovery/')
                 for k, v in paths.items()}
    issuer = f'https://sts.windows.net/{tenant_id}/' if v1 else f'{base_url(request)}/{tenant_id}/v2.0'
    return JSONResponse(paths | {
        'issuer': issuer,
        'token_endpoint_auth_methods_supported': ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        'response_modes_supported': ['query', 'fragment', 'form_post'],
        'response_types_supported': ['code', 'id_token', 'code id_token', 'id_token token'],
        'subject_types_supported': ['pairwise'],
        'id_token_signing_alg_values_supported': ['RS256'],
        'scopes_supported': ['openid', 'profile', 'email', 'offline_access'],
        'claims_supported': ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'name', 'preferred_username', 'oid',
                             'tid', 'ver'],
        'request_uri_parameter_supported': False,
        'tenant_region_scope': 'NA',
        'cloud_instance_name': 'microsoftonline.com',
        'msgraph_host': 'graph.microsoft.com',
        'x_emulator': True,
    })


async def jwks(request: Request) -> Response:
    ctx = emulator_context(request)
    label = request.path_params.get('tenant')
    if label:
        try:
            resolve_tenant(ctx, label)
        except EntraError as err:
            return entra_error_response(err)
    return JSONResponse(ctx.tokens.jwks())


def routes() -> list[EmuRoute]:
    return [
        EmuRoute('/.well-known/openid-configuration', openid_configuration, host='login'),
        EmuRoute('/{tenant}/v2.0/.well-known/openid-configuration', openid_configuration, host='login'),
        EmuRoute('/{tenant}/.well-known/openid-configuration', openid_configuration, host='login'),
        EmuRoute('/discovery/keys', jwks, host='login'),
        EmuRoute('/{tenant}/discovery/v2.0/keys', jwks, host='login'),
        EmuRoute('/{tenant}/discovery/keys', jwks, host='login'),
        EmuRoute('/{tenant}/oauth2/v2.0/token', token_endpoint, host='login', methods=['POST']),
        EmuRoute('/{tenant}/oauth2/token', token_endpoint, host='login', methods=['POST']),
    ]
