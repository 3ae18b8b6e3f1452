"""The device code flow, and refresh tokens (rotation, revocation, inactivity)."""
from __future__ import annotations

import jwt
import pytest
import requests

from microsoft_emulator.testing import (
    M365D,
    NO_PERMISSIONS_APP_ID,
    SECRET_APP_ID,
    TENANT_ID,
    USER_OID,
    XSOAR_M365D_APP_ID,
    XSOAR_MDTI_APP_ID,
    admin,
)

pytestmark = pytest.mark.usefixtures('emulator_reset')
GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
M365D_SCOPE = 'offline_access https://security.microsoft.com/mtp/.default'


def start(emulator, client_id=XSOAR_M365D_APP_ID, scope=M365D_SCOPE, tenant='organizations'):
    response = requests.post(f'{emulator.url}/{tenant}/oauth2/v2.0/devicecode', timeout=5,
                             data={'client_id': client_id, 'scope': scope})
    assert response.status_code == 200, response.text
    return response.json()


def poll(emulator, flow, client_id=XSOAR_M365D_APP_ID, field='device_code', tenant='organizations'):
    return requests.post(f'{emulator.url}/{tenant}/oauth2/v2.0/token', timeout=5, data={
        'grant_type': GRANT, 'client_id': client_id, field: flow['device_code']})


def error_of(response):
    assert response.status_code == 400, response.text
    return response.json()['error'], response.json()['error_codes'][0]


def test_devicecode_response_shape(emulator):
    flow = start(emulator)
    assert set(flow) == {'user_code', 'device_code', 'verification_uri', 'expires_in', 'interval', 'message'}
    assert flow['verification_uri'] == f'{emulator.url}/devicelogin'
    assert flow['expires_in'] == 900 and flow['interval'] == 5
    assert flow['user_code'] in flow['message'] and flow['verification_uri'] in flow['message']


def test_pending_slow_down_then_tokens_after_admin_approval(emulator):
    flow = start(emulator)
    assert error_of(poll(emulator, flow)) == ('authorization_pending', 70016)
    assert error_of(poll(emulator, flow)) == ('slow_down', 70016)
    admin(emulator.url, 'POST', '/device/approve', json={'user_code': flow['user_code']})
    response = poll(emulator, flow)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body['refresh_token'] and body['scope'].split()[-1] == 'offline_access'
    claims = jwt.decode(body['access_token'], options={'verify_signature': False})
    assert claims['aud'] == 'https://security.microsoft.com/mtp'
    assert claims['scp'] == 'AdvancedHunting.Read Incident.Read Incident.ReadWrite'
    assert claims['oid'] == USER_OID and claims['tid'] == TENANT_ID and claims['idtyp'] == 'user'
    assert error_of(poll(emulator, flow)) == ('invalid_grant', 54005)


def test_code_field_of_the_official_module_is_accepted(emulator):
    flow = start(emulator, client_id=XSOAR_MDTI_APP_ID, scope='offline_access ThreatIntelligence.Read.All')
    admin(emulator.url, 'POST', '/device/approve', json={'user_code': flow['user_code']})
    response = poll(emulator, flow, client_id=XSOAR_MDTI_APP_ID, field='code')
    assert response.status_code == 200
    claims = jwt.decode(response.json()['access_token'], options={'verify_signature': False})
    assert claims['aud'] == 'https://graph.microsoft.com' and claims['scp'] == 'ThreatIntelligence.Read.All'


def test_denied(emulator):
    flow = start(emulator)
    admin(emulator.url, 'POST', '/device/deny', json={'user_code': flow['user_code']})
    assert error_of(poll(emulator, flow)) == ('authorization_declined', 65004)


def test_expired(emulator):
    admin(emulator.url, 'POST', '/settings', json={'device_code_lifetime': 0})
    flow = start(emulator)
    assert error_of(poll(emulator, flow)) == ('expired_token', 70019)


def test_auto_approve_on_first_poll(emulator):
    admin(emulator.url, 'POST', '/settings', json={'auto_approve': True})
    assert poll(emulator, start(emulator)).status_code == 200


def test_html_device_login_page(emulator):
    flow = start(emulator)
    page = requests.get(f'{emulator.url}/devicelogin', params={'otc': flow['user_code']}, timeout=5)
    assert page.status_code == 200 and 'name="otc"' in page.text and flow['user_code'] in page.text
    wrong = requests.post(f'{emulator.url}/devicelogin', data={'otc': 'ZZZZZZZZZ', 'decision': 'approve'}, timeout=5)
    assert wrong.status_code == 400
    done = requests.post(f'{emulator.url}/devicelogin', timeout=5,
                         data={'otc': flow['user_code'].lower(), 'decision': 'approve', 'user': USER_OID})
    assert done.status_code == 200 and 'signed in' in done.text
    assert poll(emulator, flow).status_code == 200


def test_app_without_delegated_grant_65001(emulator):
    flow = start(emulator, client_id=NO_PERMISSIONS_APP_ID, tenant=TENANT_ID)
    admin(emulator.url, 'POST', '/device/approve', json={'user_code': flow['user_code']})
    response = poll(emulator, flow, client_id=NO_PERMISSIONS_APP_ID, tenant=TENANT_ID)
    assert error_of(response) == ('invalid_grant', 65001)


def test_unknown_resource_at_devicecode_500011(emulator):
    response = requests.post(f'{emulator.url}/organizations/oauth2/v2.0/devicecode', timeout=5,
                             data={'client_id': XSOAR_M365D_APP_ID, 'scope': 'https://nope.example/.default'})
    assert error_of(response) == ('invalid_resource', 500011)


def test_two_resources_in_one_request_28000(emulator):
    response = requests.post(f'{emulator.url}/organizations/oauth2/v2.0/devicecode', timeout=5, data={
        'client_id': XSOAR_M365D_APP_ID, 'scope': f'{M365D}/.default https://graph.microsoft.com/User.Read'})
    assert error_of(response) == ('invalid_scope', 28000)


def test_confidential_app_without_public_flows_needs_a_secret(emulator):
    from microsoft_emulator.testing import OPROXY_APP_ID

    flow = start(emulator, client_id=OPROXY_APP_ID, scope=f'{M365D}/.default', tenant=TENANT_ID)
    response = poll(emulator, flow, client_id=OPROXY_APP_ID, tenant=TENANT_ID)
    assert response.status_code == 401 and response.json()['error_codes'] == [7000218]


# ----- refresh tokens -------------------------------------------------------------------------------------------
@pytest.fixture
def tokens(emulator):
    flow = start(emulator)
    admin(emulator.url, 'POST', '/device/approve', json={'user_code': flow['user_code']})
    response = poll(emulator, flow)
    assert response.status_code == 200
    return response.json()


def refresh(emulator, refresh_token, client_id=XSOAR_M365D_APP_ID, scope=M365D_SCOPE):
    data = {'grant_type': 'refresh_token', 'client_id': client_id, 'refresh_token': refresh_token}
    if scope:
        data['scope'] = scope
    return requests.post(f'{emulator.url}/organizations/oauth2/v2.0/token', data=data, timeout=5)


def test_refresh_returns_a_new_token_and_the_redeemed_one_keeps_working(emulator, tokens):
    """Microsoft does not revoke a refresh token when it is redeemed ("Refresh tokens", Microsoft identity platform)."""
    first = refresh(emulator, tokens['refresh_token'], scope=None)
    assert first.status_code == 200, first.text
    assert first.json()['refresh_token'] != tokens['refresh_token']
    again = refresh(emulator, tokens['refresh_token'])
    assert again.status_code == 200, again.text
    assert refresh(emulator, first.json()['refresh_token']).status_code == 200


def test_single_use_mode_refuses_a_redeemed_refresh_token(emulator, tokens):
    admin(emulator.url, 'POST', '/settings', json={'refresh_token_single_use': True})
    first = refresh(emulator, tokens['refresh_token'], scope=None)
    assert first.status_code == 200, first.text
    assert error_of(refresh(emulator, tokens['refresh_token'])) == ('invalid_grant', 70008)
    assert refresh(emulator, first.json()['refresh_token']).status_code == 200


def test_refresh_token_works_for_another_resource(emulator, tokens):
    response = refresh(emulator, tokens['refresh_token'], scope='offline_access https://graph.microsoft.com/.default')
    assert error_of(response) == ('invalid_grant', 65001)   # the XSOAR M365D app has no Graph delegated grant


def test_refresh_bound_to_client(emulator, tokens):
    assert error_of(refresh(emulator, tokens['refresh_token'], client_id=XSOAR_MDTI_APP_ID))[1] == 70000
    assert error_of(refresh(emulator, 'garbage'))[1] == 9002313


def test_revocation_all_and_per_app(emulator, tokens):
    assert admin(emulator.url, 'POST', '/refresh-tokens/revoke', json={'client_id': SECRET_APP_ID})['revoked'] == 0
    assert admin(emulator.url, 'POST', '/refresh-tokens/revoke', json={'client_id': XSOAR_M365D_APP_ID})['revoked'] == 1
    assert error_of(refresh(emulator, tokens['refresh_token'])) == ('invalid_grant', 50173)


def test_revoke_everything(emulator, tokens):
    admin(emulator.url, 'POST', '/refresh-tokens/revoke')
    assert error_of(refresh(emulator, tokens['refresh_token']))[1] == 50173


def test_inactive_refresh_token_700082(emulator, tokens):
    assert admin(emulator.url, 'POST', '/refresh-tokens/expire')['expired'] == 1
    body = refresh(emulator, tokens['refresh_token']).json()
    assert body['error_codes'] == [700082] and 'inactive' in body['error_description']
