"""Workload identity federation: the emulated external OIDC issuers and the check of federated client assertions.

An emulated issuer stands in for, say, a Kubernetes cluster's service-account issuer (AKS "OIDC issuer"). Issuer
``<name>`` lives at ``<base url>/_emulator/oidc/<name>``: a discovery document, a JWKS, and (admin) a route that
mints service-account-style tokens. Its RSA key is kept in ``<state dir>/oidc/<name>.pem``.

Entra ID accepts such a token as ``client_assertion`` when the app has a federated identity credential whose issuer,
subject and audience match it, and the token's signature verifies with the issuer's published keys. The checks run
in Entra's order and answer with its codes: issuer (AADSTS700211), subject (AADSTS700213), audience (AADSTS700212),
signing key (AADSTS7000272), signature (AADSTS700027), lifetime (AADSTS700024).
"""
from __future__ import annotations

import re
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import jwt
from jwt.algorithms import RSAAlgorithm
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..context import EmulatorContext, EmuRoute, emulator_context
from ..errors import EntraError
from ..requestlog import annotate
from ..state import OIDC_ISSUER_PATH, TOKEN_EXCHANGE_AUDIENCE, App, FederatedCredential, OidcIssuerKey
from .assertions import verify_assertion_signature

DEFAULT_TOKEN_LIFETIME = 3600   # what a projected service-account token lives by default (AKS: 1 hour)
SIGNING_ALGORITHMS = ('RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512')
_HOSTED_PATH = re.compile(r'^/_emulator/oidc/([A-Za-z0-9][A-Za-z0-9._-]{0,62})$')
_SERVICE_ACCOUNT = re.compile(r'^system:serviceaccount:([^:]+):([^:]+)$')


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip('/')


def issuer_url(request: Request, name: str) -> str:
    return base_url(request) + OIDC_ISSUER_PATH.format(name=name)


def hosted_issuer_name(request: Request, issuer: str) -> str | None:
    """The name of the emulated issuer ``issuer`` designates, when this emulator (as the request reached it)
    hosts it."""
    parts = urlsplit(issuer)
    match = _HOSTED_PATH.match(parts.path)
    if not match or parts.query or parts.fragment:
        return None
    if f'{parts.scheme}://{parts.netloc}'.lower() != base_url(request).lower():
        return None
    return match.group(1)


def issuer_jwks(key: OidcIssuerKey) -> dict[str, Any]:
    jwk = RSAAlgorithm.to_jwk(key.public_key, as_dict=True)
    jwk.update({'use': 'sig', 'kid': key.kid, 'alg': 'RS256'})
    return {'keys': [jwk]}


def mint_service_account_token(issuer: str, key: OidcIssuerKey, *, subject: str,
                               audience: str | list[str] | None = None, lifetime: int | None = None,
                               issued_seconds_ago: int = 0, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A token shaped like a Kubernetes projected service-account token: ``iss``, ``sub``, ``aud`` (a list),
    ``iat``/``nbf``/``exp``, ``jti`` and, for ``system:serviceaccount:<namespace>:<name>`` subjects, the
    ``kubernetes.io`` claim."""
    audiences = [audience] if isinstance(audience, str) else list(audience or [TOKEN_EXCHANGE_AUDIENCE])
    now = int(time.time()) - int(issued_seconds_ago)
    claims: dict[str, Any] = {
        'aud': audiences,
        'exp': now + int(lifetime if lifetime is not None else DEFAULT_TOKEN_LIFETIME),
        'iat': now,
        'iss': issuer,
        'jti': str(uuid.uuid4()),
        'nbf': now,
        'sub': subject,
    }
    account = _SERVICE_ACCOUNT.match(subject)
    if account:
        claims['kubernetes.io'] = {
            'namespace': account.group(1),
            'serviceaccount': {'name': account.group(2),
                               'uid': str(uuid.uuid5(uuid.NAMESPACE_URL, f'{issuer}#{subject}'))},
        }
    claims.update(extra or {})
    token = jwt.encode(claims, key.private_key, algorithm='RS256', headers={'kid': key.kid})
    return {'token': token, 'claims': claims, 'issuer': issuer, 'kid': key.kid}


# ----- the token endpoint's side --------------------------------------------------------------------------------
def is_federated_assertion(request: Request, assertion: str, app: App) -> bool:
    """Whether a client assertion is a federated one rather than one signed with the app's certificate.

    Certificate assertions carry ``iss`` = ``sub`` = the client ID and a certificate thumbprint header (``x5t`` /
    ``x5t#S256``). An assertion from another issuer is federated when it names no thumbprint (Kubernetes tokens
    carry only ``kid``) or when its issuer is one of the app's federated credentials (some issuers, like GitHub,
    add ``x5t``); otherwise it stays a certificate assertion with the wrong issuer (AADSTS700021).
    """
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={'verify_signature': False})
    except jwt.PyJWTError:
        return False
    issuer = claims.get('iss')
    if not isinstance(issuer, str) or not issuer or issuer.lower() == app.client_id:
        return False
    if not (header.get('x5t') or header.get('x5t#S256')):
        return True
    here = base_url(request)
    return any(f.resolved_issuer(here) == issuer for f in app.federated_credentials)


def _audiences(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def check_federated_assertion(ctx: EmulatorContext, request: Request, assertion: str, app: App) -> None:
    """Validate a federated client assertion for ``app`` or raise the Entra error a real tenant would."""
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={'verify_signature': False})
    except jwt.PyJWTError as exc:
        raise EntraError(700027, detail='Client assertion failed signature validation: the JWT is malformed.') from exc
    issuer, subject = str(claims.get('iss') or ''), str(claims.get('sub') or '')
    audiences = _audiences(claims.get('aud'))
    annotate(assertion_alg=header.get('alg'), assertion_kind='federated', assertion_issuer=issuer,
             assertion_subject=subject, assertion_jti=claims.get('jti') if isinstance(claims.get('jti'), str) else None)
    here = base_url(request)
    # Matching is exact (Entra compares issuer, subject and audience case-sensitively).
    records: list[FederatedCredential] = [f for f in app.federated_credentials if f.resolved_issuer(here) == issuer]
    if not records:
        raise EntraError(700211, issuer=issuer)
    records = [f for f in records if f.subject == subject]
    if not records:
        raise EntraError(700213, subject=subject)
    if not any(a in f.audiences for f in records for a in audiences):
        raise EntraError(700212, audience=', '.join(audiences))

    kid = str(header.get('kid') or '')
    name = hosted_issuer_name(request, issuer)
    key = ctx.state.oidc_issuer_key(name, create=False) if name else None
    if key is None:
        detail = ('' if name else f' (The emulator hosts OIDC issuers only at {here}/_emulator/oidc/<name>; it '
                                  f'cannot fetch the metadata of {issuer}.)')
        raise EntraError(7000272, kid=kid or '(none)', issuer=issuer, detail=detail)
    if kid != key.kid:
        raise EntraError(7000272, kid=kid or '(none)', issuer=issuer)
    alg = header.get('alg')
    if alg not in SIGNING_ALGORITHMS:
        raise EntraError(700027, detail=f"Client assertion uses the unsupported signing algorithm '{alg}'.")
    verify_assertion_signature(assertion, key.public_key, alg)


# ----- the issuer's public endpoints ----------------------------------------------------------------------------
def _issuer_key(request: Request) -> OidcIssuerKey | Response:
    try:
        key = emulator_context(request).state.oidc_issuer_key(request.path_params['name'])
    except ValueError as exc:
        return JSONResponse({'error': str(exc)}, status_code=404)
    if key is None:   # not reached: the key is created on first use
        return JSONResponse({'error': 'no such issuer'}, status_code=404)
    return key


async def openid_configuration(request: Request) -> Response:
    """The discovery document, shaped like a Kubernetes service-account issuer's."""
    key = _issuer_key(request)
    if isinstance(key, Response):
        return key
    issuer = issuer_url(request, key.name)
    return JSONResponse({
        'issuer': issuer,
        'jwks_uri': f'{issuer}/openid/v1/jwks',
        'response_types_supported': ['id_token'],
        'subject_types_supported': ['public'],
        'id_token_signing_alg_values_supported': ['RS256'],
    })


async def jwks(request: Request) -> Response:
    key = _issuer_key(request)
    if isinstance(key, Response):
        return key
    return JSONResponse(issuer_jwks(key))


def routes() -> list[EmuRoute]:
    return [
        EmuRoute('/_emulator/oidc/{name}/.well-known/openid-configuration', openid_configuration, host='oidc',
                 methods=['GET']),
        EmuRoute('/_emulator/oidc/{name}/openid/v1/jwks', jwks, host='oidc', methods=['GET']),
    ]
