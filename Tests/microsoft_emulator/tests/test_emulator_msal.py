"""Microsoft's own client library, msal, against the emulator (HTTPS, certificates verified for real)."""
from __future__ import annotations

import re
import threading
import time

import jwt
import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12

from microsoft_emulator.testing import (
    APP_SERVICE_IDENTITY_HEADER,
    CERT_APP_ID,
    GRAPH,
    M365D,
    MDE,
    REDIRECT_URI,
    SECRET_APP_ID,
    SECRET_APP_SECRET,
    SYSTEM_MI_CLIENT_ID,
    TENANT_ID,
    USER_MI_CLIENT_ID,
    USER_OID,
    XSOAR_M365D_APP_ID,
    admin,
)

pytestmark = pytest.mark.usefixtures('emulator_reset')


def claims_of(result: dict) -> dict:
    assert 'access_token' in result, result
    return jwt.decode(result['access_token'], options={'verify_signature': False})


def tls_session(server) -> requests.Session:
    """A session that trusts the emulator's CA. ``trust_env`` is off because a REQUESTS_CA_BUNDLE in the
    environment would otherwise override ``verify``."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(server.ca_path)
    return session


def confidential(server, client_id, credential):
    return msal.ConfidentialClientApplication(client_id, client_credential=credential,
                                              authority=f'{server.url}/{TENANT_ID}', instance_discovery=False,
                                              http_client=tls_session(server))


def test_client_secret_and_cache(emulator_tls):
    app = confidential(emulator_tls, SECRET_APP_ID, SECRET_APP_SECRET)
    result = app.acquire_token_for_client(scopes=[f'{MDE}/.default'])
    assert 'Machine.Isolate' in claims_of(result)['roles']
    again = app.acquire_token_for_client(scopes=[f'{MDE}/.default'])
    assert again['access_token'] == result['access_token'] and again['token_source'] == 'cache'


def test_wrong_secret_reports_aadsts(emulator_tls):
    result = confidential(emulator_tls, SECRET_APP_ID, 'wrong').acquire_token_for_client(scopes=[f'{GRAPH}/.default'])
    assert result['error'] == 'invalid_client' and result['error_codes'] == [7000215]


@pytest.fixture
def cert(emulator_tls):
    return admin(emulator_tls.url, 'GET', f'/apps/{CERT_APP_ID}/certificate', verify=str(emulator_tls.ca_path))


def _assertion_seen(server) -> dict:
    return [e for e in server.requests(host='login') if e.get('assertion_alg')][-1]


def test_certificate_thumbprint_rs256(emulator_tls, cert):
    app = confidential(emulator_tls, CERT_APP_ID, {'thumbprint': cert['thumbprint_sha1'],
                                                   'private_key': cert['private_key_pem']})
    assert claims_of(app.acquire_token_for_client(scopes=[f'{M365D}/.default']))['appidacr'] == '2'
    seen = _assertion_seen(emulator_tls)
    assert (seen['assertion_alg'], seen['assertion_thumbprint']) == ('RS256', 'x5t')


def test_certificate_public_certificate_ps256(emulator_tls, cert):
    app = confidential(emulator_tls, CERT_APP_ID, {'private_key': cert['private_key_pem'],
                                                   'public_certificate': cert['certificate_pem']})
    assert claims_of(app.acquire_token_for_client(scopes=[f'{MDE}/.default']))['appid'] == CERT_APP_ID
    seen = _assertion_seen(emulator_tls)
    assert (seen['assertion_alg'], seen['assertion_thumbprint']) == ('PS256', 'x5t#S256')


def test_certificate_pfx_ps256(emulator_tls, cert, tmp_path):
    key = load_pem_private_key(cert['private_key_pem'].encode(), password=None)
    certificate = x509.load_pem_x509_certificate(cert['certificate_pem'].encode())
    pfx = tmp_path / 'app.pfx'
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(b'app', key, certificate, None,  # type: ignore[arg-type]
                                                          pkcs12.serialization.NoEncryption()))
    app = confidential(emulator_tls, CERT_APP_ID, {'private_key_pfx_path': str(pfx)})
    assert claims_of(app.acquire_token_for_client(scopes=[f'{GRAPH}/.default']))['aud'] == GRAPH
    assert _assertion_seen(emulator_tls)['assertion_alg'] == 'PS256'


def test_device_flow_approved_from_another_thread(emulator_tls):
    verify = str(emulator_tls.ca_path)
    admin(emulator_tls.url, 'POST', '/settings', json={'device_code_interval': 1}, verify=verify)
    app = msal.PublicClientApplication(XSOAR_M365D_APP_ID, authority=f'{emulator_tls.url}/organizations',
                                       instance_discovery=False, http_client=tls_session(emulator_tls))
    flow = app.initiate_device_flow(scopes=['https://security.microsoft.com/mtp/.default'])
    assert flow['user_code'] and flow['interval'] == 1

    def approve():
        time.sleep(1.2)
        admin(emulator_tls.url, 'POST', '/device/approve', json={'user_code': flow['user_code']}, verify=verify)

    approver = threading.Thread(target=approve)
    approver.start()
    result = app.acquire_token_by_device_flow(flow)
    approver.join()
    claims = claims_of(result)
    assert claims['scp'] == 'AdvancedHunting.Read Incident.Read Incident.ReadWrite' and claims['oid'] == USER_OID
    assert result['refresh_token'] and result['id_token_claims']['oid'] == USER_OID
    polls = [e for e in emulator_tls.requests(host='login') if e.get('grant_type', '').endswith('device_code')]
    assert [e['status'] for e in polls][-1] == 200 and polls[0]['error'] == 'authorization_pending'
    account = app.get_accounts()[0]
    silent = app.acquire_token_silent(['https://security.microsoft.com/mtp/.default'], account=account,
                                      force_refresh=True)
    assert claims_of(silent)['oid'] == USER_OID


def test_auth_code_flow_with_pkce(emulator_tls):
    verify = str(emulator_tls.ca_path)
    admin(emulator_tls.url, 'POST', '/settings', json={'auto_approve': True}, verify=verify)
    app = confidential(emulator_tls, SECRET_APP_ID, SECRET_APP_SECRET)
    flow = app.initiate_auth_code_flow(scopes=[f'{MDE}/Machine.Isolate'], redirect_uri=REDIRECT_URI,
                                       response_mode='form_post')
    consented = requests.get(flow['auth_uri'], allow_redirects=False, verify=verify, timeout=5)
    assert consented.status_code == 200 and f'action="{REDIRECT_URI}"' in consented.text
    reply = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', consented.text))
    assert set(reply) == {'code', 'state', 'session_state'}
    result = app.acquire_token_by_auth_code_flow(flow, reply)
    claims = claims_of(result)
    assert claims['scp'] == 'Machine.Isolate' and claims['aud'] == MDE
    assert result['id_token_claims']['preferred_username'] == 'alex.wilber@contoso.onmicrosoft.com'
    account = app.get_accounts()[0]
    refreshed = app.acquire_token_silent([f'{MDE}/Machine.Isolate'], account=account, force_refresh=True)
    assert claims_of(refreshed)['scp'] == 'Machine.Isolate'


@pytest.fixture
def clean_identity_env(monkeypatch):
    for name in ('IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'IDENTITY_SERVER_THUMBPRINT', 'MSI_ENDPOINT', 'MSI_SECRET',
                 'IMDS_ENDPOINT', 'AZURE_POD_IDENTITY_AUTHORITY_HOST'):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_managed_identity_imds(emulator, clean_identity_env):
    clean_identity_env.setenv('AZURE_POD_IDENTITY_AUTHORITY_HOST', emulator.url)
    with requests.Session() as session:
        system = msal.ManagedIdentityClient(msal.SystemAssignedManagedIdentity(), http_client=session)
        assert claims_of(system.acquire_token_for_client(resource=M365D))['appid'] == SYSTEM_MI_CLIENT_ID
        user = msal.ManagedIdentityClient(msal.UserAssignedManagedIdentity(client_id=USER_MI_CLIENT_ID),
                                          http_client=session)
        assert claims_of(user.acquire_token_for_client(resource=GRAPH))['roles'] == ['ThreatIntelligence.Read.All']


def test_managed_identity_app_service(emulator, clean_identity_env):
    clean_identity_env.setenv('IDENTITY_ENDPOINT', f'{emulator.url}/msi/token')
    clean_identity_env.setenv('IDENTITY_HEADER', APP_SERVICE_IDENTITY_HEADER)
    with requests.Session() as session:
        client = msal.ManagedIdentityClient(msal.UserAssignedManagedIdentity(client_id=USER_MI_CLIENT_ID),
                                            http_client=session)
        assert claims_of(client.acquire_token_for_client(resource=GRAPH))['appid'] == USER_MI_CLIENT_ID
    assert emulator.requests()[-1]['host'] == 'appservice'
