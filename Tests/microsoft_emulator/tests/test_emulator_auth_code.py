"""The authorization code flow: consent page, admin consent, auto-consent, PKCE, single redemption."""
from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from microsoft_emulator.testing import (
    MDE,
    NO_PERMISSIONS_APP_ID,
    NO_PERMISSIONS_APP_SECRET,
    REDIRECT_URI,
    SECRET_APP_ID,
    SECRET_APP_SECRET,
    TENANT_ID,
    USER_OID,
    admin,
)

pytestmark = pytest.mark.usefixtures('emulator_reset')
VERIFIER = 'x' * 43 + 'verifier-value'
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b'=').decode()


def authorize(emulator, client_id=SECRET_APP_ID, redirect_uri=REDIRECT_URI, pkce=True, **extra):
    params = {'client_id': client_id, 'response_type': 'code', 'redirect_uri': redirect_uri, 'state': 'st-123',
              'scope': f'offline_access openid {MDE}/Machine.Isolate', 'nonce': 'n-1'} | extra
    if pkce:
        params |= {'code_challenge': CHALLENGE, 'code_challenge_method': 'S256'}
    return requests.get(f'{emulator.url}/{TENANT_ID}/oauth2/v2.0/authorize', params=params, timeout=5,
                        allow_redirects=False)


def consent(emulator, page, decision='approve'):
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text).group(1)
    response = requests.post(f'{emulator.url}/{TENANT_ID}/oauth2/v2.0/authorize', timeout=5, allow_redirects=False,
                             data={'request_id': request_id, 'decision': decision, 'user': USER_OID})
    assert response.status_code == 302
    return parse_qs(urlsplit(response.headers['location']).query)


def redeem(emulator, code, client_id=SECRET_APP_ID, secret=SECRET_APP_SECRET, verifier=VERIFIER,
           redirect_uri=REDIRECT_URI):
    data = {'grant_type': 'authorization_code', 'client_id': client_id, 'client_secret': secret, 'code': code,
            'redirect_uri': redirect_uri}
    if verifier:
        data['code_verifier'] = verifier
    return requests.post(f'{emulator.url}/{TENANT_ID}/oauth2/v2.0/token', data=data, timeout=5)


def test_consent_page_then_code_then_tokens(emulator):
    page = authorize(emulator)
    assert page.status_code == 200 and 'Permissions requested' in page.text and 'Machine.Isolate' in page.text
    query = consent(emulator, page)
    assert query['state'] == ['st-123'] and query['code'][0]
    response = redeem(emulator, query['code'][0])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body['scope'] == f'{MDE}/Machine.Isolate offline_access openid'
    claims = jwt.decode(body['access_token'], options={'verify_signature': False})
    assert claims['scp'] == 'Machine.Isolate' and claims['appidacr'] == '1' and claims['oid'] == USER_OID
    id_claims = jwt.decode(body['id_token'], options={'verify_signature': False})
    assert id_claims['nonce'] == 'n-1' and id_claims['aud'] == SECRET_APP_ID
    assert body['refresh_token']


def test_code_redeemable_once_54005(emulator):
    code = consent(emulator, authorize(emulator))['code'][0]
    assert redeem(emulator, code).status_code == 200
    assert redeem(emulator, code).json()['error_codes'] == [54005]


def test_pkce_verified_501481(emulator):
    code = consent(emulator, authorize(emulator))['code'][0]
    assert redeem(emulator, code, verifier='wrong-verifier').json()['error_codes'] == [501481]
    assert redeem(emulator, code, verifier=None).json()['error_codes'] == [501481]
    assert redeem(emulator, code).status_code == 200


def test_redirect_uri_must_match(emulator):
    page = authorize(emulator, redirect_uri='https://evil.example/cb')
    assert page.status_code == 400 and 'AADSTS50011' in page.text
    code = consent(emulator, authorize(emulator))['code'][0]
    response = redeem(emulator, code, redirect_uri='http://localhost:8765/callback')
    assert response.status_code == 400 and response.json()['error_codes'] == [70000]


def test_confidential_client_needs_its_secret(emulator):
    code = consent(emulator, authorize(emulator))['code'][0]
    assert redeem(emulator, code, secret='wrong').json()['error_codes'] == [7000215]


def test_denied_consent_redirects_with_error(emulator):
    query = consent(emulator, authorize(emulator), decision='deny')
    assert query['error'] == ['access_denied'] and query['state'] == ['st-123']
    assert query['error_description'][0].startswith('AADSTS65004')


def test_auto_consent(emulator):
    admin(emulator.url, 'POST', '/settings', json={'auto_approve': True})
    response = authorize(emulator, pkce=False)
    assert response.status_code == 302
    code = parse_qs(urlsplit(response.headers['location']).query)['code'][0]
    assert redeem(emulator, code, verifier=None).status_code == 200


def test_admin_api_consent(emulator):
    authorize(emulator)
    pending = admin(emulator.url, 'GET', '/authorize/pending')
    assert len(pending) == 1 and pending[0]['client_id'] == SECRET_APP_ID
    location = admin(emulator.url, 'POST', '/authorize/approve', json={})['location']
    code = parse_qs(urlsplit(location).query)['code'][0]
    assert redeem(emulator, code).status_code == 200


def test_consent_missing_65001(emulator):
    admin(emulator.url, 'POST', '/settings', json={'auto_approve': True})
    response = authorize(emulator, client_id=NO_PERMISSIONS_APP_ID, pkce=False)
    code = parse_qs(urlsplit(response.headers['location']).query)['code'][0]
    body = redeem(emulator, code, client_id=NO_PERMISSIONS_APP_ID, secret=NO_PERMISSIONS_APP_SECRET,
                  verifier=None).json()
    assert body['error'] == 'invalid_grant' and body['error_codes'] == [65001]


def test_unknown_permission_70011(emulator):
    admin(emulator.url, 'POST', '/settings', json={'auto_approve': True})
    response = authorize(emulator, scope=f'{MDE}/Not.A.Permission', pkce=False)
    code = parse_qs(urlsplit(response.headers['location']).query)['code'][0]
    assert redeem(emulator, code, verifier=None).json()['error_codes'] == [70011]


def test_v1_authorize_with_resource(emulator):
    admin(emulator.url, 'POST', '/settings', json={'auto_approve': True})
    response = requests.get(f'{emulator.url}/{TENANT_ID}/oauth2/authorize', timeout=5, allow_redirects=False, params={
        'client_id': SECRET_APP_ID, 'response_type': 'code', 'redirect_uri': REDIRECT_URI, 'resource': MDE})
    code = parse_qs(urlsplit(response.headers['location']).query)['code'][0]
    token = requests.post(f'{emulator.url}/{TENANT_ID}/oauth2/token', timeout=5, data={
        'grant_type': 'authorization_code', 'client_id': SECRET_APP_ID, 'client_secret': SECRET_APP_SECRET,
        'code': code, 'redirect_uri': REDIRECT_URI, 'resource': MDE})
    assert token.status_code == 200, token.text
    body = token.json()
    assert body['resource'] == MDE and body['refresh_token'] and body['expires_in'] == '3599'
