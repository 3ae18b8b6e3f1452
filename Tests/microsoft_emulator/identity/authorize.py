"""The authorization-code flow: ``/{tenant}/oauth2/v2.0/authorize`` (consent page, or immediate consent with
``auto_approve``), and redeeming the code at the token endpoint (redirect URI must match, PKCE S256/plain
verified, each code redeemable once)."""
from __future__ import annotations

import hashlib
import html
import secrets
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..certs import b64url
from ..context import EmulatorContext, EmuRoute, emulator_context
from ..errors import EntraError
from ..requestlog import annotate
from ..state import AuthCode, AuthorizeRequest
from .common import (
    TenantRef,
    authenticate_client,
    find_app,
    issue_delegated,
    parse_scopes,
    resolve_tenant,
    resource_scope_request,
)


def _error_page(err: EntraError) -> HTMLResponse:
    annotate(error=err.error, error_code=err.code)
    text = html.escape(f'AADSTS{err.code}: {err.description_text()}')
    return HTMLResponse(f'<!doctype html><html><body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">'
                        f'<h1>Sign in</h1><p>Sorry, but we are having trouble signing you in.</p><p>{text}</p>'
                        f'</body></html>', status_code=400)


def _respond(redirect_uri: str, params: dict[str, str], response_mode: str) -> Response:
    if response_mode == 'form_post':
        fields = ''.join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                         for k, v in params.items())
        return HTMLResponse(f'<!doctype html><html><body onload="document.forms[0].submit()">'
                            f'<form method="post" action="{html.escape(redirect_uri)}">{fields}'
                            f'<noscript><button type="submit">Continue</button></noscript></form></body></html>')
    separator = '#' if response_mode == 'fragment' else ('&' if '?' in redirect_uri else '?')
    return RedirectResponse(f'{redirect_uri}{separator}{urlencode(params)}', status_code=302)


def _error_redirect(params: dict[str, str], err: EntraError, error: str | None = None) -> Response:
    annotate(error=err.error, error_code=err.code)
    out = {'error': error or err.error, 'error_description': f'AADSTS{err.code}: {err.description_text()}'}
    if params.get('state'):
        out['state'] = params['state']
    return _respond(params['redirect_uri'], out, params.get('response_mode', 'query'))


async def authorize_endpoint(request: Request) -> Response:
    ctx = emulator_context(request)
    params = {k: v for k, v in request.query_params.items()}
    v1 = '/v2.0/' not in request.url.path
    annotate(client_id=params.get('client_id'), grant_type='authorize')
    try:
        ref = resolve_tenant(ctx, request.path_params['tenant'])
        app = find_app(ctx, params.get('client_id'), ref)
        redirect_uri = params.get('redirect_uri') or (app.redirect_uris[0] if len(app.redirect_uris) == 1 else '')
        if not redirect_uri:
            raise EntraError(900971)
        if redirect_uri not in app.redirect_uris:
            raise EntraError(50011, redirect_uri=redirect_uri, client_id=app.client_id)
        params['redirect_uri'] = redirect_uri
    except EntraError as err:
        return _error_page(err)
    if 'code' not in params.get('response_type', '').split():
        return _error_redirect(params, EntraError(70000, detail="response_type must include 'code'."),
                               error='unsupported_response_type')
    try:
        if v1:
            if not params.get('resource'):
                raise EntraError(900144, param='resource')
            scopes = resource_scope_request(ctx, params['resource'], ref, params.get('scope', '')).stored()
        else:
            if not params.get('scope'):
                raise EntraError(900144, param='scope')
            scopes = parse_scopes(ctx, params['scope'], ref).stored()
        method = params.get('code_challenge_method') or ('plain' if params.get('code_challenge') else None)
        if method not in (None, 'S256', 'plain'):
            raise EntraError(70000, detail=f"Unsupported code_challenge_method '{method}'.")
    except EntraError as err:
        return _error_redirect(params, err)
    params['_scopes'] = ' '.join(scopes)
    with ctx.state.lock:
        pending = AuthorizeRequest(request_id=str(uuid.uuid4()), path_tenant=ref.tenant.tenant_id if ref.tenant
                                   else ref.label, client_id=app.client_id, params=params, created=time.time())
        ctx.state.authorize_requests[pending.request_id] = pending
        auto = ctx.state.settings.auto_approve
    if auto:
        return decide(ctx, pending.request_id, approve=True)
    return _consent_page(ctx, pending)


def _consent_page(ctx: EmulatorContext, pending: AuthorizeRequest) -> HTMLResponse:
    app = ctx.state.get_app(pending.client_id)
    name = html.escape(app.display_name if app else pending.client_id)
    scopes = ''.join(f'<li>{html.escape(s)}</li>' for s in pending.params['_scopes'].split())
    users = ''.join(f'<option value="{html.escape(u.object_id)}">{html.escape(u.user_principal_name)}</option>'
                    for u in ctx.state.all_users()
                    if pending.path_tenant not in ctx.state.tenants or u.tenant_id == pending.path_tenant)
    return HTMLResponse(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Permissions requested - Microsoft emulator</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">
<h1>Permissions requested</h1>
<p><b>{name}</b> would like to:</p><ul>{scopes}</ul>
<form method="post" action="/{html.escape(pending.path_tenant)}/oauth2/v2.0/authorize">
  <input type="hidden" name="request_id" value="{pending.request_id}">
  <p><label>Sign in as <select name="user">{users}</select></label></p>
  <p><button name="decision" value="approve" type="submit">Accept</button>
     <button name="decision" value="deny" type="submit">Cancel</button></p>
</form></body></html>""")


async def authorize_decision(request: Request) -> Response:
    ctx = emulator_context(request)
    form = await request.form()
    return decide(ctx, str(form.get('request_id', '')), approve=form.get('decision', 'approve') == 'approve',
                  user=str(form.get('user') or '') or None)


def decide(ctx: EmulatorContext, request_id: str, approve: bool, user: str | None = None) -> Response:
    """Consent (or refuse) a pending authorize request: redirect to the app with a code or an error."""
    with ctx.state.lock:
        pending = ctx.state.authorize_requests.pop(request_id, None)
    if pending is None:
        return _error_page(EntraError(70000, detail='The sign-in request is unknown or was already answered.'))
    params = pending.params
    if not approve:
        return _error_redirect(params, EntraError(65004), error='access_denied')
    tenant_id = pending.path_tenant if pending.path_tenant in ctx.state.tenants else None
    if tenant_id is None:
        app = ctx.state.get_app(pending.client_id)
        tenant_id = app.tenant_id if app else None
    chosen = ctx.state.find_user(user, tenant_id)
    if chosen is None:
        return _error_page(EntraError(70000, detail=f'Unknown user {user!r}.'))
    code = AuthCode(code='1.AQ' + secrets.token_urlsafe(64), client_id=pending.client_id, tenant_id=chosen.tenant_id,
                    user_oid=chosen.object_id, redirect_uri=params['redirect_uri'], scopes=params['_scopes'].split(),
                    nonce=params.get('nonce'), code_challenge=params.get('code_challenge'),
                    code_challenge_method=params.get('code_challenge_method') or (
                        'plain' if params.get('code_challenge') else None),
                    created=time.time())
    with ctx.state.lock:
        ctx.state.auth_codes[code.code] = code
    out = {'code': code.code}
    if params.get('state'):
        out['state'] = params['state']
    out['session_state'] = str(uuid.uuid5(uuid.NAMESPACE_URL, chosen.object_id))
    return _respond(params['redirect_uri'], out, params.get('response_mode', 'query'))


def pending_requests(ctx: EmulatorContext) -> list[dict[str, Any]]:
    with ctx.state.lock:
        return [{'request_id': p.request_id, 'client_id': p.client_id, 'tenant': p.path_tenant,
                 'redirect_uri': p.params.get('redirect_uri'), 'scopes': p.params.get('_scopes', '').split()}
                for p in ctx.state.authorize_requests.values()]


def redeem_code(ctx: EmulatorContext, request: Request, ref: TenantRef, form: dict[str, str],
                v1: bool) -> dict[str, Any]:
    value = form.get('code')
    if not value:
        raise EntraError(900144, param='code')
    app = find_app(ctx, form.get('client_id'), ref)
    appidacr = authenticate_client(ctx, request, form, app, ref, credentials_required=False)
    with ctx.state.lock:
        record = ctx.state.auth_codes.get(value)
        if record is None:
            raise EntraError(9002313, detail='The authorization code is malformed or not valid.')
        if record.client_id != app.client_id:
            raise EntraError(70000, detail='The authorization code was issued to a different client.')
        if record.redeemed:
            raise EntraError(54005)
        if time.time() > record.created + ctx.state.settings.auth_code_lifetime:
            raise EntraError(70008)
        if not form.get('redirect_uri'):
            raise EntraError(900144, param='redirect_uri')
        if form['redirect_uri'] != record.redirect_uri:
            raise EntraError(70000, detail="The 'redirect_uri' does not match the redirect URI used to obtain the "
                                           'authorization code.')
        if record.code_challenge:
            verifier = form.get('code_verifier', '')
            expected = (b64url(hashlib.sha256(verifier.encode('ascii', 'replace')).digest())
                        if record.code_challenge_method == 'S256' else verifier)
            if not verifier or not secrets.compare_digest(expected, record.code_challenge):
                raise EntraError(501481)
        user = ctx.state.find_user(record.user_oid)
        if user is None:
            raise EntraError(70000, detail='The user of this authorization code no longer exists.')
        req = parse_scopes(ctx, ' '.join(record.scopes), ref)
        body = issue_delegated(ctx, request, app=app, user=user, req=req, appidacr=appidacr, v1=v1,
                               nonce=record.nonce, want_client_info=form.get('client_info') == '1')
        record.redeemed = True
    return body


def routes() -> list[EmuRoute]:
    return [
        EmuRoute('/{tenant}/oauth2/v2.0/authorize', authorize_endpoint, host='login', methods=['GET']),
        EmuRoute('/{tenant}/oauth2/v2.0/authorize', authorize_decision, host='login', methods=['POST']),
        EmuRoute('/{tenant}/oauth2/authorize', authorize_endpoint, host='login', methods=['GET']),
        EmuRoute('/{tenant}/oauth2/authorize', authorize_decision, host='login', methods=['POST']),
    ]
