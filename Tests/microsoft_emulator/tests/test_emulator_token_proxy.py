"""The Cortex XSOAR token proxy (oproxy): AES-GCM encrypted tenant ID or refresh token in, tokens out."""
from __future__ import annotations

import base64
import time

import jwt
import pytest
import requests

from microsoft_emulator.identity.token_proxy import encrypt
from microsoft_emulator.testing import (
    MDE,
    OPROXY_APP_ID,
    OPROXY_KEY_B64,
    OPROXY_REGISTRATION_ID,
    TENANT_ID,
    admin,
)

pytestmark = pytest.mark.usefixtures('emulator_reset')
KEY = base64.b64decode(OPROXY_KEY_B64)


def obtain(emulator, content=TENANT_ID, *, app_name='ms-defender-atp', key=KEY, timestamp=None,
           registration_id=OPROXY_REGISTRATION_ID, scope=None, resource=''):
    return requests.post(f'{emulator.url}/obtain-token', timeout=5, json={
        'app_name': app_name, 'registration_id': registration_id, 'encrypted_token': encrypt(key, content, timestamp),
        'scope': scope, 'resource': resource})


def test_first_use_with_tenant_id(emulator):
    response = obtain(emulator)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {'access_token', 'expires_in', 'refresh_token'}
    claims = jwt.decode(body['access_token'], options={'verify_signature': False})
    assert claims['aud'] == MDE and claims['appid'] == OPROXY_APP_ID and claims['tid'] == TENANT_ID
    assert 'Machine.Isolate' in claims['roles']
    assert response.headers['Function-Execution-Id']


def test_scope_and_resource_choose_the_audience(emulator):
    graph = obtain(emulator, scope='graph').json()['access_token']
    assert jwt.decode(graph, options={'verify_signature': False})['aud'] == 'https://graph.microsoft.com'
    m365d = obtain(emulator, app_name='microsoft-365-defender', resource='https://api.security.microsoft.com/')
    assert jwt.decode(m365d.json()['access_token'], options={'verify_signature': False})['roles']


def test_refresh_token_round_trip_and_rotation(emulator):
    first = obtain(emulator).json()
    second = obtain(emulator, first['refresh_token'])
    assert second.status_code == 200 and second.json()['refresh_token'] != first['refresh_token']
    reused = obtain(emulator, first['refresh_token'])
    assert reused.status_code == 200, reused.text      # as Entra: a redeemed refresh token is not revoked
    admin(emulator.url, 'POST', '/settings', json={'refresh_token_single_use': True})
    refused = obtain(emulator, first['refresh_token'])
    assert refused.status_code == 400 and refused.json()['error_codes'] == [70008]
    admin(emulator.url, 'POST', '/refresh-tokens/revoke', json={'client_id': OPROXY_APP_ID})
    revoked = obtain(emulator, second.json()['refresh_token'])
    assert revoked.status_code == 400 and revoked.json()['error_codes'] == [50173]


def test_stale_and_future_timestamps(emulator):
    stale = obtain(emulator, timestamp=time.time() - 11 * 60)
    assert stale.status_code == 401 and stale.json()['error'] == 'stale_token'
    future = obtain(emulator, timestamp=time.time() + 600)
    assert future.status_code == 401 and future.json()['error'] == 'stale_token'


def test_bad_key(emulator):
    response = obtain(emulator, key=b'k' * 32)
    assert response.status_code == 401 and response.json()['error'] == 'decryption_failed'
    garbage = requests.post(f'{emulator.url}/obtain-token', timeout=5, json={
        'app_name': 'ms-defender-atp', 'registration_id': OPROXY_REGISTRATION_ID, 'encrypted_token': '!!not base64'})
    assert garbage.status_code == 401


def test_unknown_registration_app_and_content(emulator):
    assert obtain(emulator, registration_id='nope').status_code == 404
    assert obtain(emulator, app_name='some-other-app').status_code == 403
    wrong = obtain(emulator, content='not-the-tenant')
    assert wrong.status_code == 400 and wrong.json()['error'] == 'invalid_grant'
    missing = requests.post(f'{emulator.url}/obtain-token', json={'app_name': 'x'}, timeout=5)
    assert missing.status_code == 400 and 'registration_id' in missing.json()['error_description']


def test_unknown_resource_is_an_entra_error(emulator):
    response = obtain(emulator, resource='https://nope.example')
    assert response.status_code == 400 and response.json()['error_codes'] == [500011]


def test_logged_as_oproxy(emulator):
    obtain(emulator)
    entry = admin(emulator.url, 'GET', '/requests')[0]
    assert entry['host'] == 'oproxy' and entry['client_id'] == OPROXY_APP_ID and entry['app_name'] == 'ms-defender-atp'
