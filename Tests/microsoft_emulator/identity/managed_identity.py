"""Managed identities: Azure IMDS (``/metadata/identity/oauth2/token``, what VMs use) and the App Service /
Container Apps identity endpoint (``/msi/token`` with ``X-IDENTITY-HEADER``; point ``IDENTITY_ENDPOINT`` at it).

IMDS answers with every number as a string, as the real service does.
"""
from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..context import EmulatorContext, EmuRoute, emulator_context
from ..errors import EntraError, app_service_error, imds_error
from ..requestlog import annotate
from ..state import ManagedIdentity
from ..tokens import IssuedToken

_API_VERSION = re.compile(r'^\d{4}-\d{2}-\d{2}$')


def _issue(ctx: EmulatorContext, identity: ManagedIdentity, resource_param: str) -> IssuedToken | EntraError:
    resource = ctx.state.catalog.find(resource_param)
    if resource is None:
        tenant = ctx.state.tenants.get(identity.tenant_id)
        label = tenant.domains[0] if tenant and tenant.domains else identity.tenant_id
        return EntraError(500011, resource=resource_param, tenant=label)
    annotate(client_id=identity.client_id, tenant_id=identity.tenant_id, resource=resource.key)
    return ctx.tokens.app_token(tenant_id=identity.tenant_id, resource=resource, aud=resource_param.rstrip('/'),
                                client_id=identity.client_id, object_id=identity.object_id,
                                roles=identity.roles.get(resource.key, set()), appidacr='2',
                                lifetime=ctx.state.settings.managed_identity_token_lifetime,
                                extra={'xms_mirid': identity.resource_id} if identity.resource_id else None)


def _select(ctx: EmulatorContext, q: dict[str, str]) -> ManagedIdentity | None:
    return ctx.state.find_managed_identity(
        client_id=q.get('client_id'), object_id=q.get('object_id') or q.get('principal_id'),
        resource_id=q.get('msi_res_id') or q.get('mi_res_id'))


async def imds_token(request: Request) -> Response:
    ctx = emulator_context(request)
    q = dict(request.query_params)
    annotate(grant_type='managed_identity')
    if request.headers.get('metadata', '').lower() != 'true':
        return imds_error(400, 'invalid_request', 'Required metadata header not specified')
    if not q.get('api-version'):
        return imds_error(400, 'invalid_request', "Required query variable 'api-version' is missing")
    if not _API_VERSION.match(q['api-version']):
        return imds_error(400, 'invalid_request', 'Invalid API version')
    if not q.get('resource'):
        return imds_error(400, 'invalid_request', 'Required audience parameter not specified')
    identity = _select(ctx, q)
    if identity is None:
        return imds_error(400, 'invalid_request', 'Identity not found')
    issued = _issue(ctx, identity, q['resource'])
    if isinstance(issued, EntraError):
        return imds_error(400, 'invalid_resource', f'AADSTS{issued.code}: {issued.description_text()}')
    exp, nbf = issued.claims['exp'], issued.claims['nbf']
    return JSONResponse({
        'access_token': issued.token,
        'refresh_token': '',            # documented as sent and unused (how-to-use-vm-token, "Sample response")
        'client_id': identity.client_id,
        'expires_in': str(issued.expires_in),
        'expires_on': str(exp),
        'ext_expires_in': str(issued.expires_in),
        'not_before': str(nbf),
        'resource': q['resource'],
        'token_type': 'Bearer',
    })


async def app_service_token(request: Request) -> Response:
    ctx = emulator_context(request)
    q = dict(request.query_params)
    annotate(grant_type='managed_identity')
    if request.headers.get('x-identity-header') != ctx.state.app_service_identity_header:
        return app_service_error(401, 'The X-IDENTITY-HEADER header is missing or does not match.')
    if q.get('api-version') != '2019-08-01':
        return app_service_error(400, "The api-version parameter must be '2019-08-01'.")
    if not q.get('resource'):
        return app_service_error(400, 'The resource parameter is required.')
    identity = _select(ctx, q)
    if identity is None:
        return app_service_error(400, 'No managed identity matches the requested identity.')
    issued = _issue(ctx, identity, q['resource'])
    if isinstance(issued, EntraError):
        return app_service_error(400, f'AADSTS{issued.code}: {issued.description_text()}')
    return JSONResponse({
        'access_token': issued.token,
        'expires_on': str(issued.claims['exp']),
        'resource': q['resource'],
        'token_type': 'Bearer',
        'client_id': identity.client_id,
    })


def routes() -> list[EmuRoute]:
    return [
        EmuRoute('/metadata/identity/oauth2/token', imds_token, host='imds', methods=['GET']),
        EmuRoute('/msi/token', app_service_token, host='appservice', methods=['GET']),
    ]
