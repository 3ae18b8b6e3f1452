"""The device authorization grant (RFC 8628) as Entra ID serves it.

``POST /{tenant}/oauth2/v2.0/devicecode`` (v1: ``/{tenant}/oauth2/devicecode`` with ``resource``) hands out a
device code and a user code. The user code is decided on the HTML page at ``/devicelogin`` or through the admin
API (``POST /_emulator/device/approve|deny``); with ``auto_approve`` every code is approved on its first poll.
Polling the token endpoint answers ``authorization_pending`` (AADSTS70016), ``slow_down`` when polled faster than
``interval``, ``expired_token`` (AADSTS70019), ``authorization_declined`` (AADSTS65004, what Entra documents for a
user who said no) and finally the tokens.
"""
from __future__ import annotations

import html
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from ..context import EmulatorContext, EmuRoute, emulator_context
from ..errors import EntraError, entra_error_response
from ..requestlog import annotate
from ..state import DeviceCode
from .common import (
    NO_STORE,
    TenantRef,
    authenticate_client,
    base_url,
    find_app,
    issue_delegated,
    parse_scopes,
    read_form,
    resolve_tenant,
    resource_scope_request,
)

USER_CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'


def _normalize_user_code(value: str) -> str:
    return ''.join(ch for ch in (value or '').upper() if ch.isalnum())


async def devicecode_endpoint(request: Request) -> Response:
    ctx = emulator_context(request)
    v1 = '/v2.0/' not in request.url.path
    try:
        ref = resolve_tenant(ctx, request.path_params['tenant'])
        form = await read_form(request)
        annotate(client_id=form.get('client_id'), grant_type='devicecode')
        app = find_app(ctx, form.get('client_id'), ref)
        v1_resource = None
        if v1:
            if not form.get('resource'):
                raise EntraError(900144, param='resource')
            req = resource_scope_request(ctx, form['resource'], ref, form.get('scope', ''))
            v1_resource = form['resource']
        else:
            if not form.get('scope'):
                raise EntraError(900144, param='scope')
            req = parse_scopes(ctx, form['scope'], ref)
    except EntraError as err:
        return entra_error_response(err, request.headers.get('client-request-id'))
    settings = ctx.state.settings
    now = time.time()
    with ctx.state.lock:
        user_code = ''.join(secrets.choice(USER_CODE_ALPHABET) for _ in range(9))
        record = DeviceCode(
            device_code='DAQABAAEAAAD' + secrets.token_urlsafe(64), user_code=user_code, client_id=app.client_id,
            path_tenant=ref.tenant.tenant_id if ref.tenant else ref.label, scopes=req.stored(), created=now,
            expires_at=now + settings.device_code_lifetime, interval=settings.device_code_interval,
            v1_resource=v1_resource)
        ctx.state.device_codes[record.device_code] = record
    uri = f'{base_url(request)}/devicelogin'
    body: dict[str, Any] = {
        'user_code': user_code,
        'device_code': record.device_code,
        ('verification_url' if v1 else 'verification_uri'): uri,
        'expires_in': settings.device_code_lifetime,
        'interval': settings.device_code_interval,
        'message': f'To sign in, use a web browser to open the page {uri} and enter the code {user_code} to '
                   'authenticate.',
    }
    return JSONResponse(body, headers=NO_STORE)


def find_by_user_code(ctx: EmulatorContext, user_code: str) -> DeviceCode | None:
    wanted = _normalize_user_code(user_code)
    with ctx.state.lock:
        return next((d for d in ctx.state.device_codes.values() if d.user_code == wanted), None)


def decide(ctx: EmulatorContext, user_code: str, approve: bool, user: str | None = None) -> DeviceCode:
    """Approve or deny a pending user code (the HTML page and the admin API). Raises ValueError when it can't."""
    with ctx.state.lock:
        record = find_by_user_code(ctx, user_code)
        if record is None:
            raise ValueError(f'unknown user code {user_code!r}')
        if time.time() >= record.expires_at:
            raise ValueError('the code has expired')
        if record.status != 'pending':
            raise ValueError(f'the code is already {record.status}')
        if approve:
            chosen = _choose_user(ctx, record, user)
            record.user_oid = chosen
            record.status = 'approved'
        else:
            record.status = 'denied'
        return record


def _choose_user(ctx: EmulatorContext, record: DeviceCode, user: str | None) -> str:
    tenant_id = record.path_tenant if record.path_tenant in ctx.state.tenants else None
    if tenant_id is None:
        app = ctx.state.get_app(record.client_id)
        tenant_id = app.tenant_id if app else None
    found = ctx.state.find_user(user, tenant_id)
    if found is None:
        raise ValueError(f'unknown user {user!r}' if user else 'the tenant has no users')
    if tenant_id and record.path_tenant in ctx.state.tenants and found.tenant_id != record.path_tenant:
        raise ValueError(f'{found.user_principal_name} is not a member of tenant {record.path_tenant}')
    return found.object_id


def redeem(ctx: EmulatorContext, request: Request, ref: TenantRef, form: dict[str, str], v1: bool) -> dict[str, Any]:
    code = form.get('device_code') or form.get('code')
    if not code:
        raise EntraError(900144, param='device_code')
    app = find_app(ctx, form.get('client_id'), ref)
    appidacr = authenticate_client(ctx, request, form, app, ref, credentials_required=False)
    now = time.time()
    with ctx.state.lock:
        record = ctx.state.device_codes.get(code)
        if record is None or record.client_id != app.client_id:
            raise EntraError(70000, detail="The provided value for the input parameter 'device_code' is not valid.")
        if record.status == 'redeemed':
            raise EntraError(54005)
        if now >= record.expires_at:
            raise EntraError(70019)
        if record.status == 'denied':
            raise EntraError(65004)
        if record.status == 'pending' and ctx.state.settings.auto_approve:
            record.user_oid = _choose_user(ctx, record, None)
            record.status = 'approved'
        if record.status == 'pending':
            previous, record.last_poll = record.last_poll, now
            if previous is not None and now - previous < record.interval - 0.05:
                raise EntraError(70016, error='slow_down')
            raise EntraError(70016)
        user = ctx.state.find_user(record.user_oid)
        if user is None:
            raise EntraError(70000, detail='The user who approved this code no longer exists.')
        if record.v1_resource:
            req = resource_scope_request(ctx, record.v1_resource, ref, ' '.join(record.scopes))
        else:
            req = parse_scopes(ctx, ' '.join(record.scopes), ref)
        body = issue_delegated(ctx, request, app=app, user=user, req=req, appidacr=appidacr, v1=v1,
                               want_client_info=form.get('client_info') == '1')
        record.status = 'redeemed'
    return body


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Enter code - Microsoft emulator</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">
<h1>Enter code</h1>
<p>Microsoft emulator: enter the code displayed on your app or device to sign in.</p>
{message}
<form method="post" action="/devicelogin">
  <p><label>Code <input name="otc" value="{code}" autofocus></label></p>
  <p><label>Sign in as <select name="user">{users}</select></label></p>
  <p><button name="decision" value="approve" type="submit">Approve</button>
     <button name="decision" value="deny" type="submit">Deny</button></p>
</form></body></html>"""


def _page(ctx: EmulatorContext, code: str = '', message: str = '', status: int = 200) -> HTMLResponse:
    users = ''.join(f'<option value="{html.escape(u.object_id)}">{html.escape(u.user_principal_name)}</option>'
                    for u in ctx.state.all_users())
    return HTMLResponse(_PAGE.format(code=html.escape(code), users=users, message=message), status_code=status)


async def devicelogin_page(request: Request) -> Response:
    return _page(emulator_context(request), code=request.query_params.get('otc', ''))


async def devicelogin_submit(request: Request) -> Response:
    ctx = emulator_context(request)
    form = await request.form()
    code, decision = str(form.get('otc', '')), str(form.get('decision', 'approve'))
    try:
        record = decide(ctx, code, decision == 'approve', str(form.get('user') or '') or None)
    except ValueError as exc:
        return _page(ctx, code=code, message=f'<p style="color: #a00">{html.escape(str(exc))}</p>', status=400)
    annotate(client_id=record.client_id)
    app = ctx.state.get_app(record.client_id)
    name = html.escape(app.display_name if app else record.client_id)
    verdict = 'You have signed in to' if record.status == 'approved' else 'You declined'
    return HTMLResponse(f'<!doctype html><html><body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">'
                        f'<h1>{verdict} {name}</h1><p>You may now close this window.</p></body></html>')


def routes() -> list[EmuRoute]:
    return [
        EmuRoute('/{tenant}/oauth2/v2.0/devicecode', devicecode_endpoint, host='login', methods=['POST']),
        EmuRoute('/{tenant}/oauth2/devicecode', devicecode_endpoint, host='login', methods=['POST']),
        EmuRoute('/devicelogin', devicelogin_page, host='login', methods=['GET']),
        EmuRoute('/devicelogin', devicelogin_submit, host='login', methods=['POST']),
    ]
