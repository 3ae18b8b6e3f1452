"""Pieces shared by the Entra ID flows: tenants, scopes, client authentication, grants and token responses."""
from __future__ import annotations

import base64
import hmac
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import jwt
from starlette.requests import Request

from ..certs import b64url
from ..context import EmulatorContext
from ..errors import EntraError
from ..requestlog import annotate
from ..resources import GRAPH, OIDC_SCOPES, Resource, split_scope
from ..state import PUBLIC_TENANT_ALIASES, App, Tenant, User
from .assertions import ASSERTION_LEEWAY, verify_assertion_signature
from .federation import check_federated_assertion, is_federated_assertion

JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
KNOWN_LOGIN_HOSTS = frozenset({
    'login.microsoftonline.com', 'login.microsoftonline.us', 'login.chinacloudapi.cn', 'login.windows.net',
    'login.partner.microsoftonline.cn', 'sts.windows.net',
})


@dataclass
class TenantRef:
    """The tenant segment of a login URL: a registered tenant, or ``common``/``organizations``/``consumers``."""

    label: str
    tenant: Tenant | None

    @property
    def is_alias(self) -> bool:
        return self.tenant is None


def resolve_tenant(ctx: EmulatorContext, label: str) -> TenantRef:
    if label.lower() in PUBLIC_TENANT_ALIASES:
        return TenantRef(label=label.lower(), tenant=None)
    tenant = ctx.state.find_tenant(label)
    if tenant is None:
        raise EntraError(90002, tenant=label)
    return TenantRef(label=label, tenant=tenant)


def find_app(ctx: EmulatorContext, client_id: str | None, ref: TenantRef) -> App:
    if not client_id:
        raise EntraError(900144, param='client_id')
    app = ctx.state.get_app(client_id)
    if app is None or (ref.tenant is not None and not app.multi_tenant
                       and app.tenant_id != ref.tenant.tenant_id):
        raise EntraError(700016, client_id=client_id, tenant=ref.label)
    return app


@dataclass
class ScopeRequest:
    resource: Resource
    identifier: str                       # the resource as the client named it (no trailing slash)
    permissions: list[str]                # permission names, or ['.default']
    oidc: set[str] = field(default_factory=set)
    oidc_only: bool = False

    @property
    def wants_refresh_token(self) -> bool:
        return 'offline_access' in self.oidc

    def stored(self) -> list[str]:
        """How the request is remembered in codes and refresh tokens."""
        return sorted(self.oidc) + [f'{self.identifier}/{p}' for p in self.permissions]


def tenant_label(ref: TenantRef) -> str:
    return ref.tenant.tenant_id if ref.tenant else ref.label


def parse_scopes(ctx: EmulatorContext, scope: str, ref: TenantRef) -> ScopeRequest:
    items = scope.split()
    oidc = {s.lower() for s in items if s.lower() in OIDC_SCOPES}
    found: dict[str, tuple[Resource, str, list[str]]] = {}
    for item in items:
        if item.lower() in OIDC_SCOPES:
            continue
        ident, name = split_scope(item)
        resource: Resource
        if ident is None:
            resource = ctx.state.catalog.by_key('graph') or GRAPH
            ident = resource.canonical
        else:
            found_resource = ctx.state.catalog.find(ident)
            if found_resource is None:
                raise EntraError(500011, resource=ident, tenant=tenant_label(ref))
            resource = found_resource
        if not name:
            raise EntraError(70011, scope=item)
        entry = found.setdefault(resource.key, (resource, ident, []))
        entry[2].append(name)
    if len(found) > 1:
        raise EntraError(28000, scope=scope)
    if not found:
        graph = ctx.state.catalog.by_key('graph') or GRAPH
        return ScopeRequest(resource=graph, identifier=graph.canonical, permissions=['.default'], oidc=oidc,
                            oidc_only=True)
    resource, ident, names = next(iter(found.values()))
    return ScopeRequest(resource=resource, identifier=ident, permissions=sorted(set(names)), oidc=oidc)


def resource_scope_request(ctx: EmulatorContext, resource_param: str, ref: TenantRef,
                           extra_scope: str = '') -> ScopeRequest:
    """v1 endpoints: ``resource=<identifier>`` means every permission granted on it."""
    resource = ctx.state.catalog.find(resource_param)
    if resource is None:
        raise EntraError(500011, resource=resource_param, tenant=tenant_label(ref))
    oidc = {s.lower() for s in extra_scope.split() if s.lower() in OIDC_SCOPES} | {'offline_access'}
    return ScopeRequest(resource=resource, identifier=resource_param.rstrip('/'), permissions=['.default'], oidc=oidc)


def delegated_grant(app: App, req: ScopeRequest) -> set[str]:
    """The delegated permissions a user token gets; Entra's consent errors when the app lacks them."""
    granted = set(app.delegated.get(req.resource.key, set()))
    if '.default' in req.permissions:
        if not granted and not req.oidc_only:
            raise EntraError(65001, client_id=app.client_id, app_name=app.display_name)
        return granted
    for name in req.permissions:
        if name not in req.resource.delegated:
            raise EntraError(70011, scope=f'{req.identifier}/{name}',
                             detail=f"'{name}' is not a delegated permission of {req.resource.display_name}.")
        if name not in granted:
            raise EntraError(65001, client_id=app.client_id, app_name=app.display_name)
    return set(req.permissions)


# ----- client authentication ------------------------------------------------------------------------------------
def basic_credentials(request: Request) -> tuple[str | None, str | None]:
    header = request.headers.get('authorization', '')
    if not header.lower().startswith('basic '):
        return None, None
    try:
        raw = base64.b64decode(header[6:].strip()).decode('utf-8')
    except (ValueError, UnicodeDecodeError):
        return None, None
    user, _, password = raw.partition(':')
    return unquote(user), unquote(password)


def authenticate_client(ctx: EmulatorContext, request: Request, form: dict[str, str], app: App, ref: TenantRef,
                        *, credentials_required: bool) -> str:
    """Check the client's secret or signed assertion (certificate or federated). Returns ``appidacr``: 0 public,
    1 secret, 2 certificate or federated assertion."""
    _, basic_secret = basic_credentials(request)
    secret = form.get('client_secret') or basic_secret
    assertion = form.get('client_assertion')
    now = time.time()
    if secret:
        if not app.confidential and app.public_client:
            raise EntraError(700025)
        matches = [s for s in app.secrets if hmac.compare_digest(s.value.encode(), secret.encode())]
        if not matches:
            raise EntraError(7000215, client_id=app.client_id)
        if all(s.expired(now) for s in matches):
            raise EntraError(7000222, client_id=app.client_id)
        return '1'
    if assertion:
        if form.get('client_assertion_type') != JWT_BEARER:
            raise EntraError(900144, param='client_assertion_type')
        if is_federated_assertion(request, assertion, app):
            check_federated_assertion(ctx, request, assertion, app)   # workload identity federation
        else:
            check_client_assertion(ctx, request, assertion, app, ref)
        return '2'
    if credentials_required or not app.public_client:
        raise EntraError(7000218)
    return '0'


def check_client_assertion(ctx: EmulatorContext, request: Request, assertion: str, app: App, ref: TenantRef) -> None:
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        raise EntraError(700027, detail='Client assertion failed signature validation: the JWT is malformed.') from exc
    alg = header.get('alg')
    if alg not in ('RS256', 'PS256'):
        raise EntraError(700027, detail=f"Client assertion uses the unsupported signing algorithm '{alg}'.")
    # Thumbprints are base64url; clients differ on padding (msal pads), so compare without it.
    if header.get('x5t#S256'):
        used = str(header['x5t#S256']).rstrip('=')
        certs = [c for c in app.certificates if c.x5t_s256 == used]
    elif header.get('x5t'):
        used = str(header['x5t']).rstrip('=')
        certs = [c for c in app.certificates if c.x5t == used]
    else:
        raise EntraError(700027, detail='Client assertion contains no certificate thumbprint (x5t or x5t#S256).')
    if not certs:
        thumb = _thumb_hex(used)
        raise EntraError(700027, detail=(
            'The certificate with identifier used to sign the client assertion is not registered on application. '
            f"[Reason - The key was not found., Thumbprint of key used by client: '{thumb}', Please visit the "
            f"Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id "
            f"'{app.client_id}'.]"))
    cert = certs[0]
    annotate(assertion_alg=alg, assertion_thumbprint='x5t#S256' if header.get('x5t#S256') else 'x5t')
    claims = verify_assertion_signature(assertion, cert.certificate.public_key(), alg)
    now, exp = time.time(), claims['exp']
    if str(claims.get('iss', '')).lower() != app.client_id or str(claims.get('sub', '')).lower() != app.client_id:
        raise EntraError(700021, detail=f"Client assertion issuer and subject must both be '{app.client_id}'.")
    if not _assertion_audience_ok(claims.get('aud'), request, ref):
        raise EntraError(700027, detail='Client assertion audience claim does not match Realm issuer. The audience '
                                        'must be the token endpoint URL.')
    jti = claims.get('jti')
    if jti:
        key = f'{app.client_id}:{jti}'
        with ctx.state.lock:
            ctx.state.used_assertions = {k: v for k, v in ctx.state.used_assertions.items()
                                         if v > now - ASSERTION_LEEWAY}
            if key in ctx.state.used_assertions:
                raise EntraError(700027, detail=f"The client assertion with jti '{jti}' was already used.")
            ctx.state.used_assertions[key] = float(exp)


def _thumb_hex(b64: str) -> str:
    try:
        return base64.urlsafe_b64decode(b64 + '=' * (-len(b64) % 4)).hex().upper()
    except ValueError:
        return b64


_TOKEN_PATH = re.compile(r'^/([^/]+)/oauth2(?:/v2\.0)?/token/?$', re.IGNORECASE)


def _assertion_audience_ok(aud: Any, request: Request, ref: TenantRef) -> bool:
    audiences = aud if isinstance(aud, list) else [aud]
    tenants = {ref.label.lower()}
    if ref.tenant:
        tenants |= {ref.tenant.tenant_id, *ref.tenant.domains}
    for value in audiences:
        parts = urlsplit(str(value or ''))
        match = _TOKEN_PATH.match(parts.path)
        if not match or match.group(1).lower() not in tenants:
            continue
        if parts.netloc.lower() in (request.url.netloc.lower(), *KNOWN_LOGIN_HOSTS):
            return True
    return False


# ----- responses ------------------------------------------------------------------------------------------------
def client_info(user: User) -> str:
    return b64url(json.dumps({'uid': user.object_id, 'utid': user.tenant_id}).encode())


def issuer_for(request: Request, tenant_id: str) -> str:
    return f'{base_url(request)}/{tenant_id}/v2.0'


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip('/')


def issue_delegated(ctx: EmulatorContext, request: Request, *, app: App, user: User, req: ScopeRequest,
                    appidacr: str, v1: bool, nonce: str | None = None, want_client_info: bool = False,
                    always_refresh: bool = False, origin: str = 'entra', registration_id: str = '') -> dict[str, Any]:
    scopes = delegated_grant(app, req)
    at = ctx.tokens.user_token(tenant_id=user.tenant_id, resource=req.resource, aud=req.identifier, app=app,
                               user=user, scopes=scopes, appidacr=appidacr)
    if req.resource.key == 'graph':
        scope_out = sorted(scopes)
    else:
        scope_out = [f'{req.identifier}/{s}' for s in sorted(scopes)]
    scope_out += sorted(req.oidc)
    body: dict[str, Any] = {'token_type': 'Bearer', 'scope': ' '.join(scope_out)}
    if v1:
        body.update({'expires_in': str(at.expires_in), 'ext_expires_in': str(at.expires_in),
                     'expires_on': str(at.claims['exp']), 'not_before': str(at.claims['nbf']),
                     'resource': req.identifier})
    else:
        body.update({'expires_in': at.expires_in, 'ext_expires_in': at.expires_in})
    body['access_token'] = at.token
    if req.wants_refresh_token or always_refresh or v1:
        rt = ctx.state.new_refresh_token(app.client_id, user.tenant_id, user.object_id, req.stored(), origin=origin,
                                         registration_id=registration_id)
        body['refresh_token'] = rt.token
    if 'openid' in req.oidc:
        body['id_token'] = ctx.tokens.id_token(issuer=issuer_for(request, user.tenant_id), app=app, user=user,
                                               nonce=nonce)
    if want_client_info:
        body['client_info'] = client_info(user)
    return body


def issue_app_token(ctx: EmulatorContext, *, app: App, tenant_id: str, resource: Resource, identifier: str,
                    appidacr: str, v1: bool) -> dict[str, Any]:
    roles = app.roles.get(resource.key, set())
    at = ctx.tokens.app_token(tenant_id=tenant_id, resource=resource, aud=identifier, client_id=app.client_id,
                              object_id=app.service_principal_id(tenant_id), roles=roles, appidacr=appidacr)
    if v1:
        return {'token_type': 'Bearer', 'expires_in': str(at.expires_in), 'ext_expires_in': str(at.expires_in),
                'expires_on': str(at.claims['exp']), 'not_before': str(at.claims['nbf']), 'resource': identifier,
                'access_token': at.token}
    return {'token_type': 'Bearer', 'expires_in': at.expires_in, 'ext_expires_in': at.expires_in,
            'access_token': at.token}


NO_STORE = {'Cache-Control': 'no-store, no-cache', 'Pragma': 'no-cache'}


async def read_form(request: Request) -> dict[str, str]:
    content_type = request.headers.get('content-type', '')
    if 'application/x-www-form-urlencoded' not in content_type and 'multipart/form-data' not in content_type:
        return {}
    form = await request.form()
    return {k: str(v) for k, v in form.items()}
