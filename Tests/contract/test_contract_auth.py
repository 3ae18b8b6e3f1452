"""The contract of the Microsoft Entra ID and managed identity endpoints (MicrosoftApiModule): the module sends
Microsoft's documented requests (path, query names, form fields) and parses the documented answers; the emulator
answers the documented requests with the documented fields and JSON types."""
from __future__ import annotations

import urllib.parse
from typing import Any

import MicrosoftApiModule as mam
import pytest
import requests
import requests_mock as rm

from contract.contract import body_problems, load, query_names, shape_problems
from contract.endpoints import BY_KEY, ENDPOINTS
from microsoft_emulator.testing import (
    APP_SERVICE_IDENTITY_HEADER,
    GRAPH,
    MDE,
    REDIRECT_URI,
    SECRET_APP_ID,
    SECRET_APP_SECRET,
    TENANT_ID,
    XSOAR_M365D_APP_ID,
    admin,
)

LOGIN = 'https://login.microsoftonline.com'
TENANT = 'contoso.onmicrosoft.com'
SCOPE = 'https://graph.microsoft.com/.default'
APP_SERVICE_ENDPOINT = 'http://localhost:4141/MSI/token'
# Documented fields Microsoft sends only on a condition the pack's requests never meet.
CONDITIONAL = {'id_token': 'sent only when the scope includes openid; the pack asks for offline_access and an API'}
KEYS = sorted(e.key for e in ENDPOINTS if e.owner == 'auth' and e.fixture.exists())


def form_of(request: Any) -> dict[str, str]:
    return {k: v[0] for k, v in urllib.parse.parse_qs(request.text or '', keep_blank_values=True).items()}


def documented_url(key: str) -> str:
    path = load(BY_KEY[key])['request']['path'].replace('{tenant}', TENANT)
    if key == 'imds-token':
        return f'http://169.254.169.254{path}'
    if key == 'app-service-token':
        return APP_SERVICE_ENDPOINT
    return f'{LOGIN}{path}'


def module_call(key: str, monkeypatch: Any) -> Any:
    """Drive the module's code for ``key`` the way an integration does."""
    cloud, transport = mam.get_cloud('Worldwide'), mam.TokenTransport()
    if key in ('entra-token-client-credentials', 'error-entra-invalid-scope'):
        return mam.ClientSecretCredential('app-id', TENANT, 'secret', cloud, transport).acquire(SCOPE, None, {})
    code = mam.AuthorizationCodeCredential('app-id', TENANT, cloud, transport, mam.SecretAuth('secret'),
                                           auth_code='the-code', redirect_uri='http://localhost/myapp/')
    if key == 'entra-authorize':
        return code.login_url(SCOPE)
    if key == 'entra-token-authorization-code':
        return code.redeem(SCOPE, {'pkce': {'code_verifier': 'v' * 43}})
    if key == 'entra-token-refresh':
        return code.refresh(SCOPE, 'refresh-token')
    device = mam.DeviceCodeCredential('app-id', TENANT, cloud, transport)
    if key == 'entra-devicecode':
        return device.start(SCOPE)
    if key == 'entra-token-device-code':
        return device.poll('device-code')
    if key == 'app-service-token':
        monkeypatch.setenv('IDENTITY_ENDPOINT', APP_SERVICE_ENDPOINT)
        monkeypatch.setenv('IDENTITY_HEADER', 'identity-header')
    else:
        for name in ('IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'MSAL_MANAGED_IDENTITY_ENDPOINT'):
            monkeypatch.delenv(name, raising=False)
    return mam.ManagedIdentityCredential(None, cloud, transport).acquire('https://management.azure.com/.default',
                                                                         None, {})


@pytest.mark.parametrize('key', KEYS)
def test_module_sends_documented_request_and_parses_documented_answer(key, monkeypatch):
    """Given Microsoft's documented answer, When the module calls the endpoint, Then the request has the documented
    method, path, query names and form fields, and the answer becomes a token (or the flow's state)."""
    fixture = load(BY_KEY[key])
    documented = fixture['request']
    if key == 'entra-authorize':
        url, state = module_call(key, monkeypatch)
        parts = urllib.parse.urlsplit(url)
        assert parts.path == documented['path'].replace('{tenant}', TENANT)
        assert set(documented['query']) == query_names(url) and state['code_verifier']
        return
    with rm.Mocker() as mock:
        mock.register_uri(documented['method'], documented_url(key), status_code=fixture['response']['status'],
                          json=fixture['response']['body'])
        if BY_KEY[key].expect_error:
            with pytest.raises(mam.MicrosoftAuthError) as raised:
                module_call(key, monkeypatch)
            assert 'AADSTS70011' in str(raised.value) and 'Traceback' not in str(raised.value)
            return
        result = module_call(key, monkeypatch)
        request = mock.request_history[0]
    assert request.method == documented['method']
    assert set(documented['query']) <= query_names(request.url)
    if documented['body'] is not None:
        sent = form_of(request)
        documented_fields = dict(documented['body'])
        if key == 'entra-token-refresh':
            documented_fields.pop('client_secret')          # not sent by public clients; the secret auth sends it
            sent.pop('client_secret', None)
        assert not body_problems(documented_fields, sent), (documented_fields, sent)
    if key == 'entra-devicecode':
        assert result['device_code'] and result['user_code'] and result['interval'] == 5
    else:        # App Service's documented expires_on (2020) is past: the token counts as expired, not refused
        assert result.access_token and isinstance(result.expires_in, float)


# ----- emulator side -------------------------------------------------------------------------------------------

def token_form(url: str, form: dict[str, str], tenant: str = TENANT_ID) -> requests.Response:
    return requests.post(f'{url}/{tenant}/oauth2/v2.0/token', data=form, timeout=30)


def authorize_redirect(url: str) -> dict[str, str]:
    """An authorization code through the emulator's authorize endpoint (consent given by its settings)."""
    admin(url, 'POST', '/settings', json={'auto_approve': True})
    query = {'client_id': SECRET_APP_ID, 'response_type': 'code', 'redirect_uri': REDIRECT_URI,
             'response_mode': 'query', 'scope': f'offline_access {GRAPH}/.default', 'state': '12345',
             'code_challenge': mam._b64url(__import__('hashlib').sha256(b'v' * 43).digest()),
             'code_challenge_method': 'S256'}
    response = requests.get(f'{url}/{TENANT_ID}/oauth2/v2.0/authorize', params=query, allow_redirects=False,
                            timeout=30)
    assert response.status_code == 302, response.text[:300]
    location = urllib.parse.urlsplit(response.headers['Location']).query
    return {k: v[0] for k, v in urllib.parse.parse_qs(location).items()}


def emulator_answer(key: str, url: str) -> requests.Response | dict[str, str]:
    if key == 'error-entra-invalid-scope':
        return token_form(url, {'client_id': SECRET_APP_ID, 'scope': 'https://foo.microsoft.com/.default',
                                'client_secret': SECRET_APP_SECRET, 'grant_type': 'client_credentials'})
    if key == 'entra-token-client-credentials':
        return token_form(url, {'client_id': SECRET_APP_ID, 'scope': f'{MDE}/.default',
                                'client_secret': SECRET_APP_SECRET, 'grant_type': 'client_credentials'})
    if key == 'entra-authorize':
        return authorize_redirect(url)
    if key in ('entra-token-authorization-code', 'entra-token-refresh'):
        code = authorize_redirect(url)['code']
        redeemed = token_form(url, {'client_id': SECRET_APP_ID, 'scope': f'offline_access {GRAPH}/.default',
                                    'code': code, 'redirect_uri': REDIRECT_URI, 'grant_type': 'authorization_code',
                                    'code_verifier': 'v' * 43, 'client_secret': SECRET_APP_SECRET})
        if key == 'entra-token-authorization-code':
            return redeemed
        return token_form(url, {'client_id': SECRET_APP_ID, 'scope': f'offline_access {GRAPH}/.default',
                                'refresh_token': redeemed.json()['refresh_token'], 'grant_type': 'refresh_token',
                                'client_secret': SECRET_APP_SECRET})
    if key in ('entra-devicecode', 'entra-token-device-code'):
        started = requests.post(f'{url}/organizations/oauth2/v2.0/devicecode', timeout=30, data={
            'client_id': XSOAR_M365D_APP_ID, 'scope': 'offline_access https://security.microsoft.com/mtp/.default'})
        if key == 'entra-devicecode':
            return started
        admin(url, 'POST', '/device/approve', json={'user_code': started.json()['user_code']})
        return token_form(url, {'grant_type': 'urn:ietf:params:oauth:grant-type:device_code',
                                'client_id': XSOAR_M365D_APP_ID, 'device_code': started.json()['device_code']},
                          tenant='organizations')
    if key == 'imds-token':
        return requests.get(f'{url}/metadata/identity/oauth2/token', headers={'Metadata': 'true'}, timeout=30,
                            params={'api-version': '2018-02-01', 'resource': GRAPH})
    return requests.get(f'{url}/msi/token', headers={'X-IDENTITY-HEADER': APP_SERVICE_IDENTITY_HEADER}, timeout=30,
                        params={'resource': GRAPH, 'api-version': '2019-08-01'})


@pytest.mark.parametrize('key', KEYS)
def test_emulator_answers_documented_request_with_documented_shape(key, emulator, emulator_reset):
    """Given Microsoft's documented request (the emulator's seeded apps and identities), When the emulator is asked,
    Then it answers with the documented status and every documented field with its JSON type."""
    fixture = load(BY_KEY[key])
    answer = emulator_answer(key, emulator.url)
    if isinstance(answer, dict):                       # the authorize redirect's query
        actual: Any = answer
    else:
        assert answer.status_code == fixture['response']['status'], answer.text[:300]
        actual = answer.json()
    documented = {k: v for k, v in fixture['response']['body'].items() if k not in CONDITIONAL}
    problems = shape_problems(documented, actual)
    assert not problems, f'{key}: the emulator differs from Microsoft\'s example: {problems}'
