"""Client credentials with a secret, Entra-shaped errors, token claims, discovery, the verifier and the log."""
from __future__ import annotations

import re

import jwt
import pytest
import requests

from microsoft_emulator.testing import (
    GRAPH,
    M365D,
    MDE,
    NO_PERMISSIONS_APP_ID,
    NO_PERMISSIONS_APP_SECRET,
    OTHER_TENANT_ID,
    SECRET_APP_EXPIRED_SECRET,
    SECRET_APP_ID,
    SECRET_APP_SECRET,
    TENANT_DOMAIN,
    TENANT_ID,
    access_token,
    admin,
    client_credentials,
)

pytestmark = pytest.mark.usefixtures('emulator_reset')


def assert_entra_error(response: requests.Response, status: int, error: str, code: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body['error'] == error
    assert body['error_codes'] == [code]
    assert body['error_description'].startswith(f'AADSTS{code}: ')
    assert 'Trace ID: ' in body['error_description']
    assert re.fullmatch(r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ', body['timestamp'])
    assert body['trace_id'] and body['correlation_id']
    return body


def test_secret_gives_app_token_with_roles(emulator):
    response = client_credentials(emulator.url, scope=f'{M365D}/.default')
    assert response.status_code == 200
    body = response.json()
    assert body['token_type'] == 'Bearer'
    assert body['expires_in'] == body['ext_expires_in'] == 3599
    assert 'refresh_token' not in body
    jwks = requests.get(f'{emulator.url}/{TENANT_ID}/discovery/v2.0/keys', timeout=5).json()
    key = jwt.PyJWK(jwks['keys'][0])
    claims = jwt.decode(body['access_token'], key.key, algorithms=['RS256'], audience=M365D)
    assert claims['iss'] == f'https://sts.windows.net/{TENANT_ID}/'
    assert claims['tid'] == TENANT_ID
    assert claims['appid'] == SECRET_APP_ID
    assert claims['idtyp'] == 'app'
    assert claims['oid'] == claims['sub']
    assert set(claims['roles']) == {'AdvancedHunting.Read.All', 'Incident.ReadWrite.All', 'Incident.Read.All'}
    assert claims['exp'] - claims['iat'] == 3599
    assert claims['nbf'] <= claims['iat']


def test_v1_endpoint_takes_resource_and_answers_strings(emulator):
    response = requests.post(f'{emulator.url}/{TENANT_DOMAIN}/oauth2/token', timeout=5, data={
        'grant_type': 'client_credentials', 'client_id': SECRET_APP_ID, 'client_secret': SECRET_APP_SECRET,
        'resource': 'https://securitycenter.onmicrosoft.com/windowsatpservice'})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body['expires_in'] == '3599' and body['resource'] == 'https://securitycenter.onmicrosoft.com/windowsatpservice'
    assert int(body['expires_on']) > int(body['not_before'])
    claims = jwt.decode(body['access_token'], options={'verify_signature': False})
    assert 'Machine.Isolate' in claims['roles']


def test_resource_app_id_and_national_identifiers_are_accepted(emulator):
    for scope in ('fc780465-2017-40d4-a0c5-307022471b92/.default', 'https://graph.microsoft.us/.default',
                  'https://api-gcc.security.microsoft.us/.default', 'https://security.microsoft.com/mtp/.default'):
        assert client_credentials(emulator.url, scope=scope).status_code == 200, scope


def test_client_secret_basic_auth(emulator):
    response = requests.post(f'{emulator.url}/{TENANT_ID}/oauth2/v2.0/token', timeout=5,
                             auth=(SECRET_APP_ID, SECRET_APP_SECRET),
                             data={'grant_type': 'client_credentials', 'scope': f'{GRAPH}/.default'})
    assert response.status_code == 200, response.text


def test_invalid_secret_7000215(emulator):
    body = assert_entra_error(client_credentials(emulator.url, secret='nope'), 401, 'invalid_client', 7000215)
    assert SECRET_APP_ID in body['error_description']


def test_expired_secret_7000222(emulator):
    assert_entra_error(client_credentials(emulator.url, secret=SECRET_APP_EXPIRED_SECRET), 401, 'invalid_client',
                       7000222)


def test_runtime_app_with_expired_secret(emulator):
    admin(emulator.url, 'POST', '/apps', json={
        'tenant_id': TENANT_ID, 'client_id': '11111111-1111-4111-8111-111111111111', 'client_secret': 's3cret',
        'client_secret_expires': '2021-06-01T00:00:00Z', 'permissions': ['Incident.Read.All']})
    response = client_credentials(emulator.url, client_id='11111111-1111-4111-8111-111111111111', secret='s3cret')
    assert_entra_error(response, 401, 'invalid_client', 7000222)


def test_unknown_app_700016(emulator):
    body = assert_entra_error(client_credentials(emulator.url, client_id='00000000-0000-4000-8000-000000000000'),
                              400, 'unauthorized_client', 700016)
    assert '00000000-0000-4000-8000-000000000000' in body['error_description']


def test_single_tenant_app_in_another_tenant_700016(emulator):
    assert_entra_error(client_credentials(emulator.url, tenant=OTHER_TENANT_ID), 400, 'unauthorized_client', 700016)


def test_unknown_tenant_90002(emulator):
    assert_entra_error(client_credentials(emulator.url, tenant='nosuchtenant.onmicrosoft.com'), 400,
                       'invalid_request', 90002)


def test_unknown_resource_500011(emulator):
    body = assert_entra_error(client_credentials(emulator.url, scope='https://api.example.com/.default'), 400,
                              'invalid_resource', 500011)
    assert 'https://api.example.com' in body['error_description']


def test_missing_parameters_900144(emulator):
    response = requests.post(f'{emulator.url}/{TENANT_ID}/oauth2/v2.0/token', timeout=5,
                             data={'client_id': SECRET_APP_ID})
    body = assert_entra_error(response, 400, 'invalid_request', 900144)
    assert "'grant_type'" in body['error_description']
    response = requests.post(f'{emulator.url}/{TENANT_ID}/oauth2/v2.0/token', timeout=5, data={
        'grant_type': 'client_credentials', 'client_id': SECRET_APP_ID, 'client_secret': SECRET_APP_SECRET})
    assert "'scope'" in assert_entra_error(response, 400, 'invalid_request', 900144)['error_description']


def test_client_credentials_scope_must_be_default_70011(emulator):
    assert_entra_error(client_credentials(emulator.url, scope=f'{MDE}/Machine.Isolate'), 400, 'invalid_scope', 70011)


@pytest.mark.parametrize('scope', [
    'offline_access https://security.microsoft.com/mtp/.default',      # the official M365D integration's scope
    f'openid profile offline_access {GRAPH}/.default',                  # what MSAL libraries add
    f'{MDE}/.default email',
])
def test_client_credentials_accepts_oidc_scopes_beside_default(emulator, scope):
    """Given OpenID Connect scopes beside one .default, as Entra accepts them, Then an app token for that resource
    (and no refresh token: client credentials never get one)."""
    response = client_credentials(emulator.url, scope=scope)
    assert response.status_code == 200, response.text
    body = response.json()
    assert 'refresh_token' not in body
    resource = scope.split()[-1] if scope.endswith('/.default') else scope.split()[0]
    claims = jwt.decode(body['access_token'], options={'verify_signature': False})
    assert claims['aud'].rstrip('/') == resource.removesuffix('/.default')
    assert claims['roles']


@pytest.mark.parametrize('scope', [
    'offline_access openid',                                            # no .default at all
    f'offline_access {MDE}/Machine.Isolate',                           # a named permission
    f'openid profile offline_access {GRAPH}/.default {MDE}/.default',   # two resources
])
def test_client_credentials_stays_strict_where_entra_is_70011(emulator, scope):
    assert_entra_error(client_credentials(emulator.url, scope=scope), 400, 'invalid_scope', 70011)


def test_unsupported_grant_70003(emulator):
    response = requests.post(f'{emulator.url}/{TENANT_ID}/oauth2/v2.0/token', timeout=5,
                             data={'grant_type': 'password', 'client_id': SECRET_APP_ID})
    assert_entra_error(response, 400, 'unsupported_grant_type', 70003)


def test_app_without_permissions_gets_token_without_roles(emulator):
    token = access_token(emulator.url, client_id=NO_PERMISSIONS_APP_ID, secret=NO_PERMISSIONS_APP_SECRET)
    claims = jwt.decode(token, options={'verify_signature': False})
    assert 'roles' not in claims
    whoami = requests.get(f'{emulator.url}/_emulator/whoami', headers={'Authorization': f'Bearer {token}'}, timeout=5)
    assert whoami.status_code == 200 and whoami.json()['roles'] == []


def test_discovery_documents(emulator):
    config = requests.get(f'{emulator.url}/{TENANT_ID}/v2.0/.well-known/openid-configuration', timeout=5).json()
    assert config['token_endpoint'] == f'{emulator.url}/{TENANT_ID}/oauth2/v2.0/token'
    assert config['device_authorization_endpoint'].endswith('/oauth2/v2.0/devicecode')
    assert config['issuer'] == f'{emulator.url}/{TENANT_ID}/v2.0'
    common = requests.get(f'{emulator.url}/.well-known/openid-configuration', timeout=5).json()
    assert common['issuer'].endswith('/{tenantid}/v2.0')
    v1 = requests.get(f'{emulator.url}/organizations/.well-known/openid-configuration', timeout=5).json()
    assert v1['token_endpoint'].endswith('/organizations/oauth2/token')
    unknown = requests.get(f'{emulator.url}/nope.example/v2.0/.well-known/openid-configuration', timeout=5)
    assert unknown.status_code == 400 and unknown.json()['error_codes'] == [90002]
    keys = requests.get(f'{emulator.url}/common/discovery/keys', timeout=5).json()['keys']
    assert keys[0]['kty'] == 'RSA' and keys[0]['kid']


# ----- the shared verifier (through /_emulator/whoami) ----------------------------------------------------------
def whoami(emulator, token: str | None) -> requests.Response:
    headers = {'Authorization': f'Bearer {token}'} if token is not None else {}
    return requests.get(f'{emulator.url}/_emulator/whoami', headers=headers, timeout=5)


def test_verifier_accepts_valid_token(emulator):
    response = whoami(emulator, access_token(emulator.url, scope=f'{GRAPH}/.default'))
    assert response.status_code == 200
    assert response.json()['resource'] == 'graph' and response.json()['client_id'] == SECRET_APP_ID


@pytest.mark.parametrize('token, fragment', [
    (None, None),
    ('not-a-jwt', 'malformed'),
])
def test_verifier_rejects_missing_or_garbage(emulator, token, fragment):
    response = whoami(emulator, token)
    assert response.status_code == 401
    assert response.headers['WWW-Authenticate'].startswith('Bearer')
    assert response.json()['error']['code'] == 'Unauthorized'
    if fragment:
        assert 'error="invalid_token"' in response.headers['WWW-Authenticate']
        assert fragment in response.json()['error']['message']


def test_verifier_rejects_expired_token(emulator):
    minted = admin(emulator.url, 'POST', '/tokens/mint', json={'resource': MDE, 'issued_seconds_ago': 7200,
                                                               'lifetime': 3600})
    response = whoami(emulator, minted['access_token'])
    assert response.status_code == 401
    assert 'error="invalid_token", error_description="The token is expired."' in response.headers['WWW-Authenticate']


def test_verifier_rejects_foreign_signature(emulator):
    from cryptography.hazmat.primitives.asymmetric import rsa

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    genuine = jwt.decode(access_token(emulator.url), options={'verify_signature': False})
    forged = jwt.encode(genuine, other_key, algorithm='RS256')
    response = whoami(emulator, forged)
    assert response.status_code == 401 and 'signature' in response.json()['error']['message']


def test_expire_all_access_tokens(emulator):
    token = access_token(emulator.url)
    assert whoami(emulator, token).status_code == 200
    admin(emulator.url, 'POST', '/tokens/expire-all')
    response = whoami(emulator, token)
    assert response.status_code == 401 and 'invalidated' in response.json()['error']['message']
    assert whoami(emulator, access_token(emulator.url)).status_code == 200


# ----- request log ----------------------------------------------------------------------------------------------
def test_request_log_records_service_client_and_grant(emulator):
    client_credentials(emulator.url, secret='wrong')
    token = access_token(emulator.url, scope=f'{GRAPH}/.default')
    whoami(emulator, token)
    admin(emulator.url, 'GET', '/state')
    log = admin(emulator.url, 'GET', '/requests')
    assert [e['host'] for e in log] == ['login', 'login', 'emulator']
    failed, ok, api = log
    assert failed['status'] == 401 and failed['error_code'] == 7000215 and failed['grant_type'] == 'client_credentials'
    assert ok['client_id'] == SECRET_APP_ID and ok['method'] == 'POST' and ok['path'].endswith('/oauth2/v2.0/token')
    assert api['client_id'] == SECRET_APP_ID and api['tenant_id'] == TENANT_ID and api['status'] == 200
    assert all(isinstance(e['duration_ms'], float) for e in log)
    assert admin(emulator.url, 'GET', '/requests', params={'host': 'emulator'}) == [api]
    admin(emulator.url, 'DELETE', '/requests')
    assert admin(emulator.url, 'GET', '/requests') == []
