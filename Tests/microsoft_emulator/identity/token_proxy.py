"""The Cortex XSOAR app token proxy ("oproxy"): ``POST /obtain-token``.

Body: ``{"app_name", "registration_id", "encrypted_token", "scope", "resource"}``. ``encrypted_token`` is
base64(nonce(12) || AES-GCM ciphertext+tag) of ``"<epoch seconds>:<content>"`` under the registration's key,
where content is the tenant ID (first use) or the refresh token the proxy returned last time. The proxy answers
``{"access_token", "expires_in", "refresh_token"}`` with an app-only token of the registration's app, for the
requested scope/resource (default: the app name's default resource, else Microsoft Graph). Its refresh tokens
rotate like Entra's.
"""
from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..context import EmulatorContext, EmuRoute, emulator_context
from ..errors import EntraError, entra_error_body, proxy_error
from ..requestlog import annotate
from ..resources import split_scope


def encrypt(key: bytes, content: str, timestamp: float | None = None, nonce: bytes | None = None) -> str:
    """What a client sends (for tests and tools): base64(nonce || AES-GCM("<epoch>:<content>"))."""
    import os

    nonce = nonce or os.urandom(12)
    stamp = int(time.time() if timestamp is None else timestamp)
    sealed = AESGCM(key).encrypt(nonce, f'{stamp}:{content}'.encode(), None)
    return base64.b64encode(nonce + sealed).decode('ascii')


def _decrypt(key: bytes, blob: str) -> str:
    raw = base64.b64decode(blob, validate=True)
    if len(raw) < 12 + 16:
        raise ValueError('too short')
    return AESGCM(key).decrypt(raw[:12], raw[12:], None).decode('utf-8')


def _target(ctx: EmulatorContext, app_name: str, scope: str | None, resource: str | None) -> str:
    for value in (scope, resource):
        if not value:
            continue
        first = value.split()[0]
        if first.lower() == 'graph':
            return 'https://graph.microsoft.com'
        ident, name = split_scope(first)
        if ident and name:
            return ident
        return first.rstrip('/')
    return ctx.state.proxy_default_resources.get(app_name, 'https://graph.microsoft.com')


async def obtain_token(request: Request) -> Response:
    ctx = emulator_context(request)
    try:
        body = json.loads(await request.body() or b'{}')
    except ValueError:
        return proxy_error(400, 'invalid_request', 'The request body must be JSON.')
    if not isinstance(body, dict):
        return proxy_error(400, 'invalid_request', 'The request body must be a JSON object.')
    annotate(grant_type='oproxy', app_name=body.get('app_name'))
    for name in ('app_name', 'registration_id', 'encrypted_token'):
        if not body.get(name):
            return proxy_error(400, 'invalid_request', f'Missing required field: {name}.')
    app_name, registration_id = str(body['app_name']), str(body['registration_id'])
    with ctx.state.lock:
        reg = ctx.state.proxy_registrations.get(registration_id)
    if reg is None:
        return proxy_error(404, 'registration_not_found', f"No registration with ID '{registration_id}'.")
    annotate(client_id=reg.client_id, tenant_id=reg.tenant_id)
    if not reg.allows(app_name):
        return proxy_error(403, 'app_not_allowed',
                           f"The registration '{registration_id}' is not authorized for app '{app_name}'.")
    try:
        plaintext = _decrypt(reg.key, str(body['encrypted_token']))
    except (InvalidTag, ValueError, binascii.Error, UnicodeDecodeError):
        return proxy_error(401, 'decryption_failed',
                           'The encrypted token could not be decrypted: check the Key parameter (hash verification '
                           'failed).')
    stamp, sep, content = plaintext.partition(':')
    if not sep or not stamp.isdigit():
        return proxy_error(400, 'invalid_token_format', "The decrypted token must look like '<epoch>:<content>'.")
    age = time.time() - int(stamp)
    settings = ctx.state.settings
    if age > settings.proxy_max_age:
        return proxy_error(401, 'stale_token', f'The encrypted token is {int(age)} seconds old (at most '
                                               f'{settings.proxy_max_age} are accepted). Check the clock.')
    if -age > settings.proxy_max_future:
        return proxy_error(401, 'stale_token', 'The encrypted token is dated in the future. Check the clock.')
    app = ctx.state.get_app(reg.client_id)
    if app is None:
        return proxy_error(500, 'server_error', 'The registration refers to an app that does not exist.')
    now = time.time()
    with ctx.state.lock:
        if content.lower() == reg.tenant_id:
            previous = None
        else:
            previous = ctx.state.refresh_tokens.get(content)
            if previous is None or previous.origin != 'oproxy' or previous.registration_id != registration_id:
                return proxy_error(400, 'invalid_grant', 'The token is neither the tenant ID of this registration '
                                                         'nor a refresh token issued for it.')
            try:
                if previous.status == 'revoked':
                    raise EntraError(50173, issued=str(int(previous.issued_at)), valid_from=str(int(now)))
                if previous.status == 'rotated' and settings.refresh_token_single_use:
                    raise EntraError(70008, detail='The refresh token was already redeemed; use the newest one.')
                if now - previous.last_used > settings.refresh_token_max_inactive:
                    raise EntraError(700082, issued=str(int(previous.issued_at)),
                                     inactive=f'{int((now - previous.last_used) // 86400)}.00:00:00')
            except EntraError as err:
                annotate(error=err.error, error_code=err.code)
                return JSONResponse(entra_error_body(err), status_code=err.status)
        identifier = _target(ctx, app_name, body.get('scope'), body.get('resource'))
        resource = ctx.state.catalog.find(identifier)
        if resource is None:
            unknown = EntraError(500011, resource=identifier, tenant=reg.tenant_id)
            annotate(error=unknown.error, error_code=unknown.code)
            return JSONResponse(entra_error_body(unknown), status_code=unknown.status)
        issued = ctx.tokens.app_token(tenant_id=reg.tenant_id, resource=resource, aud=identifier.rstrip('/'),
                                      client_id=app.client_id, object_id=app.service_principal_id(reg.tenant_id),
                                      roles=app.roles.get(resource.key, set()))
        if previous is not None:
            previous.status = 'rotated'
            previous.last_used = now
        rt = ctx.state.new_refresh_token(app.client_id, reg.tenant_id, '', [], origin='oproxy',
                                         registration_id=registration_id)
    annotate(resource=resource.key)
    out: dict[str, Any] = {'access_token': issued.token, 'expires_in': issued.expires_in, 'refresh_token': rt.token}
    return JSONResponse(out, headers={'Function-Execution-Id': secrets.token_hex(6)})


def routes() -> list[EmuRoute]:
    return [EmuRoute('/obtain-token', obtain_token, host='oproxy', methods=['POST'])]
