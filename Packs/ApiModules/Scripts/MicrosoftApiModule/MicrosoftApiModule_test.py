"""Unit tests for MicrosoftApiModule: flows, clouds, token cache, HTTP behaviour, helpers, auth commands, secrecy."""
import base64
import copy
import hashlib
import json
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import demistomock as demisto
import jwt
import MicrosoftApiModule as mam
import pytest
import requests
from CommonServerPython import LOG, CommandResults, DemistoException
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from MicrosoftApiModule import (
    AUTH_CACHE_KEY,
    CLOUDS,
    AuthFlow,
    AuthSettings,
    MicrosoftAuthError,
    MicrosoftClient,
    NotFoundError,
    ODataFilter,
    RetryAfterError,
    UnsupportedCloudError,
    auth_command_table,
    auth_test_module,
    build_credential,
    complete_auth,
    ensure_same_origin,
    format_microsoft_error,
    generate_login_url,
    get_azure_managed_identities_client_id,
    get_cloud,
    odata_literal,
    odata_string,
    parse_auth_code,
    quote_id,
    reset_auth,
    retry_after_results,
    start_auth,
)

DATA = Path(__file__).parent / 'test_data'
CLIENT_ID = '00000000-0000-0000-0000-000000000001'
TENANT = '00000000-0000-0000-0000-0000000000aa'
SECRET = 'test-client-secret-value-123'
GRAPH = 'https://graph.microsoft.com'
GRAPH_SCOPE = 'https://graph.microsoft.com/.default'
TOKEN_URL = f'https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token'
NOW = 1_700_000_000.0


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding='utf-8'))


def token_body(access_token: str = 'test-access-token-1',  # noqa: S107 - test value
               expires_in: int = 3599, refresh_token: str | None = None) -> dict:
    body = {**load('entra_token.json'), 'access_token': access_token, 'expires_in': expires_in}
    if refresh_token:
        body['refresh_token'] = refresh_token
    return body


def form(request) -> dict:
    return dict(urllib.parse.parse_qsl(request.text))


def our_cache() -> dict:
    return demisto.integrationContext.get(AUTH_CACHE_KEY) or {}


def account(client: MicrosoftClient) -> dict:
    return (our_cache().get('accounts') or {}).get(client.tokens.account_key) or {}


@pytest.fixture(autouse=True)
def fresh_runtime(mocker, monkeypatch):
    """A clean integration context, frozen module time and no real sleeps for every test."""
    demisto.integrationContext = {}
    mocker.patch.object(mam, '_now', return_value=NOW)
    sleep = mocker.patch.object(mam.time, 'sleep')
    for name in ('IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'MSAL_MANAGED_IDENTITY_ENDPOINT', 'AZURE_FEDERATED_TOKEN_FILE',
                 'AZURE_CLIENT_ID', 'AZURE_TENANT_ID', 'AZURE_AUTHORITY_HOST'):
        monkeypatch.delenv(name, raising=False)
    yield sleep
    demisto.integrationContext = {}


def secret_client(scope: str = GRAPH_SCOPE, base_url: str = f'{GRAPH}/v1.0', **settings) -> MicrosoftClient:
    values = {'client_id': CLIENT_ID, 'tenant_id': TENANT, 'client_secret': SECRET, 'command_prefix': 'msft-test',
              **settings}
    return MicrosoftClient.from_settings(AuthSettings(**values), base_url=base_url, scope=scope)


# ------------------------------------------------------------------------------------------------------------
# Test certificates, generated per session (never committed)
# ------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope='session')
def test_cert():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'unit-test-only')])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    pfx = pkcs12.serialize_key_and_certificates(b'unit-test', key, cert, None,
                                                serialization.BestAvailableEncryption(b'pfx-pass'))
    return {'key': key, 'cert': cert, 'key_pem': key_pem, 'cert_pem': cert_pem,
            'sha1': cert.fingerprint(hashes.SHA1()).hex(),  # noqa: S303 - Entra thumbprints are SHA-1
            'sha256': cert.fingerprint(hashes.SHA256()),
            'pfx_b64': base64.b64encode(pfx).decode()}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


# ============================================================================================================
# Clouds
# ============================================================================================================

@pytest.mark.parametrize('name, login, graph, xdr, mde, mde_resource, mdti', [
    ('Worldwide', 'https://login.microsoftonline.com', 'https://graph.microsoft.com', 'https://api.security.microsoft.com',
     'https://api.securitycenter.microsoft.com', 'https://api.securitycenter.microsoft.com', True),
    ('US GCC', 'https://login.microsoftonline.com', 'https://graph.microsoft.com', 'https://api-gcc.security.microsoft.us',
     'https://api-gcc.securitycenter.microsoft.us', 'https://api.securitycenter.microsoft.com', False),
    ('US GCC-High', 'https://login.microsoftonline.us', 'https://graph.microsoft.us', 'https://api-gov.security.microsoft.us',
     'https://api-gov.securitycenter.microsoft.us', 'https://api-gov.securitycenter.microsoft.us', False),
    ('DoD', 'https://login.microsoftonline.us', 'https://dod-graph.microsoft.us', 'https://api-gov.security.microsoft.us',
     'https://api-gov.securitycenter.microsoft.us', 'https://api-gov.securitycenter.microsoft.us', False),
])
def test_cloud_table(name, login, graph, xdr, mde, mde_resource, mdti):
    """
    Given: a cloud name from Microsoft's national-cloud tables.
    When: reading its endpoints.
    Then: login, Graph (URL and .default scope), Defender XDR and MDE hosts/resources and MDTI availability match.
    """
    cloud = get_cloud(name)
    assert cloud.login_url == login
    assert cloud.api_url('graph') == graph and cloud.scope('graph') == f'{graph}/.default'
    assert cloud.api_url('xdr') == xdr
    assert cloud.api_url('mde') == mde and cloud.resource('mde') == mde_resource
    assert cloud.mdti_available is mdti
    assert cloud.token_url('t') == f'{login}/t/oauth2/v2.0/token'


def test_cloud_china_defender_unsupported():
    """
    Given: the China cloud.
    When: asking for Graph and for the Defender APIs.
    Then: Graph resolves; Defender XDR and MDE raise a clear UnsupportedCloudError; MDTI is refused.
    """
    cloud = get_cloud('China')
    assert cloud.login_url == 'https://login.chinacloudapi.cn'
    assert cloud.scope('graph') == 'https://microsoftgraph.chinacloudapi.cn/.default'
    for product, label in (('xdr', 'Defender XDR'), ('mde', 'Defender for Endpoint')):
        with pytest.raises(UnsupportedCloudError, match=label):
            cloud.api_url(product)
    with pytest.raises(UnsupportedCloudError, match='worldwide cloud only'):
        cloud.require_mdti()


def test_cloud_mdti_only_worldwide():
    """
    Given: worldwide and GCC-High clouds.
    When: checking MDTI availability.
    Then: worldwide passes, GCC-High raises.
    """
    get_cloud('Worldwide').require_mdti()
    with pytest.raises(UnsupportedCloudError, match='US GCC-High'):
        get_cloud('gcc-high').require_mdti()


def test_cloud_custom_overrides():
    """
    Given: the Custom cloud with every host pointed at a local emulator and one resource overridden.
    When: resolving it.
    Then: the URLs change, token resources keep the worldwide audiences unless overridden, empty values are ignored.
    """
    local = 'https://127.0.0.1:8443/'
    cloud = get_cloud('Custom', login_url=local, graph_url=local, xdr_url=local, mde_url=local,
                      mde_resource='https://securitycenter.onmicrosoft.com/windowsatpservice', xdr_resource='')
    assert cloud.login_url == cloud.graph_url == cloud.xdr_url == cloud.mde_url == 'https://127.0.0.1:8443'
    assert cloud.scope('graph') == GRAPH_SCOPE
    assert cloud.resource('xdr') == 'https://api.security.microsoft.com'
    assert cloud.scope('mde') == 'https://securitycenter.onmicrosoft.com/windowsatpservice/.default'
    assert cloud.mdti_available


@pytest.mark.parametrize('endpoint_type, host', [
    ('EU Geo Proximity', 'https://api-eu.securitycenter.microsoft.com'),
    ('UK Geo Proximity', 'https://api-uk.securitycenter.microsoft.com'),
    ('US Geo Proximity', 'https://api-us.securitycenter.microsoft.com'),
])
def test_cloud_mde_geo(endpoint_type, host):
    """
    Given: an MDE geo endpoint type.
    When: resolving the cloud.
    Then: the MDE host is the geo host, everything else stays worldwide.
    """
    cloud = get_cloud(endpoint_type)
    assert cloud.mde_url == host
    assert cloud.login_url == 'https://login.microsoftonline.com'
    assert cloud.resource('mde') == 'https://api.securitycenter.microsoft.com'


def test_cloud_unknown_values():
    """
    Given: an unknown cloud name or override.
    When: resolving.
    Then: ValueError names the valid values.
    """
    with pytest.raises(ValueError, match='Valid values'):
        get_cloud('Germany')
    with pytest.raises(ValueError, match='override'):
        get_cloud('Worldwide', exchange_url='x')
    assert get_cloud('') is CLOUDS['Worldwide'] and get_cloud(None) is CLOUDS['Worldwide']


# ============================================================================================================
# Client credentials: secret, certificate, workload identity
# ============================================================================================================

def test_client_secret_request(requests_mock):
    """
    Given: a self-deployed app with a client secret in the GCC-High cloud.
    When: a token is needed.
    Then: the v2 endpoint of the .us login host gets exactly the client credentials form.
    """
    cloud = get_cloud('US GCC-High')
    url = cloud.token_url(TENANT)
    requests_mock.post(url, json=token_body())
    client = secret_client(scope=cloud.scope('mde'), cloud=cloud)
    assert client.get_access_token() == 'test-access-token-1'
    assert form(requests_mock.last_request) == {'grant_type': 'client_credentials', 'client_id': CLIENT_ID,
                                                'client_secret': SECRET,
                                                'scope': 'https://api-gov.securitycenter.microsoft.us/.default'}
    assert requests_mock.last_request.timeout == mam.TOKEN_TIMEOUT


def _assertion(requests_mock) -> tuple[dict, dict]:
    body = form(requests_mock.last_request)
    assert 'client_secret' not in body
    assert body['client_assertion_type'] == 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
    return jwt.get_unverified_header(body['client_assertion']), body


def test_certificate_pem_with_certificate(requests_mock, test_cert):
    """
    Given: a PEM holding the private key and its certificate (newlines flattened to spaces, as XSOAR does).
    When: a token is requested.
    Then: the assertion is PS256 with x5t#S256 = SHA-256 of the DER certificate and the expected claims, and
          verifies with the certificate's public key.
    """
    requests_mock.post(TOKEN_URL, json=token_body())
    pem = (test_cert['key_pem'] + test_cert['cert_pem']).replace('\n', ' ')
    settings = AuthSettings(client_id=CLIENT_ID, tenant_id=TENANT, certificate_thumbprint=test_cert['sha1'].upper(),
                            private_key=pem)
    client = MicrosoftClient.from_settings(settings, base_url=GRAPH, scope=GRAPH_SCOPE)
    client.get_access_token()
    header, body = _assertion(requests_mock)
    assert header['alg'] == 'PS256' and header['x5t#S256'] == b64url(test_cert['sha256']) and 'x5t' not in header
    claims = jwt.decode(body['client_assertion'], test_cert['key'].public_key(), algorithms=['PS256'], audience=TOKEN_URL,
                        options={'verify_exp': False, 'verify_nbf': False, 'verify_iat': False})
    assert claims['iss'] == claims['sub'] == CLIENT_ID and claims['aud'] == TOKEN_URL
    assert claims['nbf'] == claims['iat'] == int(NOW) and claims['exp'] == int(NOW) + 600
    assert len(claims['jti']) == 36 and body['scope'] == GRAPH_SCOPE
    assert client.credential.flow == AuthFlow.CERTIFICATE


def test_certificate_thumbprint_and_key_only(requests_mock, test_cert):
    """
    Given: only a thumbprint (colon separated) and the private key.
    When: a token is requested.
    Then: the assertion is RS256 with x5t = base64url of the SHA-1 thumbprint bytes.
    """
    requests_mock.post(TOKEN_URL, json=token_body())
    thumb = ':'.join(test_cert['sha1'][i:i + 2] for i in range(0, 40, 2))
    settings = AuthSettings(client_id=CLIENT_ID, tenant_id=TENANT, certificate_thumbprint=thumb,
                            private_key=test_cert['key_pem'])
    MicrosoftClient.from_settings(settings, base_url=GRAPH, scope=GRAPH_SCOPE).get_access_token()
    header, body = _assertion(requests_mock)
    assert header['alg'] == 'RS256' and header['x5t'] == b64url(bytes.fromhex(test_cert['sha1']))
    jwt.decode(body['client_assertion'], test_cert['key'].public_key(), algorithms=['RS256'], audience=TOKEN_URL,
               options={'verify_exp': False, 'verify_nbf': False, 'verify_iat': False})


def test_certificate_x5t_matches_msal(test_cert):
    """
    Given: a thumbprint and private key.
    When: msal (test-only cross-check) and this module each build a client assertion.
    Then: both headers carry the same RS256 x5t.
    """
    assertion = pytest.importorskip('msal.oauth2cli.assertion')
    theirs = assertion.JwtAssertionCreator(test_cert['key_pem'], 'RS256', sha1_thumbprint=test_cert['sha1'])
    ours = mam.CertificateAuth(CLIENT_ID, test_cert['sha1'], test_cert['key_pem'])
    their_header = jwt.get_unverified_header(theirs.create_normal_assertion(audience=TOKEN_URL, issuer=CLIENT_ID))
    our_header = jwt.get_unverified_header(ours.assertion(TOKEN_URL))
    # msal pads the base64url value; Microsoft's documented form (and RFC 7515) omits the padding.
    assert our_header['x5t'] == their_header['x5t'].rstrip('=') and our_header['alg'] == their_header['alg'] == 'RS256'


def test_x5t_documented_example():
    """
    Given: the SHA-1 thumbprint used as the example on learn.microsoft.com/entra/identity-platform/certificate-credentials.
    When: encoding it as this module does for the x5t header.
    Then: the documented value.
    """
    assert mam._b64url(bytes.fromhex('84E05C1D98BCE3A5421D225B140B36E86A3D5534')) == 'hOBcHZi846VCHSJbFAs26Go9VTQ'


def test_certificate_pfx(requests_mock, test_cert):
    """
    Given: a base64 PFX with a password and no thumbprint.
    When: a token is requested.
    Then: PS256 with x5t#S256, thumbprint derived from the certificate.
    """
    requests_mock.post(TOKEN_URL, json=token_body())
    settings = AuthSettings(client_id=CLIENT_ID, tenant_id=TENANT, certificate_pfx=test_cert['pfx_b64'],
                            certificate_password='pfx-pass')
    client = MicrosoftClient.from_settings(settings, base_url=GRAPH, scope=GRAPH_SCOPE)
    client.get_access_token()
    header, _ = _assertion(requests_mock)
    assert header['alg'] == 'PS256' and header['x5t#S256'] == b64url(test_cert['sha256'])


@pytest.mark.parametrize('kwargs, message', [
    ({'certificate_thumbprint': 'ab' * 20, 'with_cert': True}, 'does not match'),
    ({'certificate_thumbprint': 'abcd'}, '40-hex-digit'),
    ({'certificate_thumbprint': ''}, 'needs the certificate thumbprint'),
    ({'private_key': '-----BEGIN PRIVATE KEY----- bm90IGEga2V5 -----END PRIVATE KEY-----'}, 'Could not load'),
    ({'private_key': 'not a pem'}, 'not in PEM format'),
])
def test_certificate_errors(test_cert, kwargs, message):
    """
    Given: inconsistent certificate parameters.
    When: building the credential.
    Then: a clear error explains what to fix.
    """
    kwargs = dict(kwargs)
    pem = test_cert['key_pem'] + (test_cert['cert_pem'] if kwargs.pop('with_cert', False) else '')
    settings = AuthSettings(client_id=CLIENT_ID, tenant_id=TENANT, **{'private_key': pem, **kwargs})
    with pytest.raises(DemistoException, match=message):
        build_credential(settings)


def test_workload_identity_reads_file_each_time(requests_mock, tmp_path, monkeypatch):
    """
    Given: AZURE_FEDERATED_TOKEN_FILE/AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_AUTHORITY_HOST and no secret.
    When: two tokens are requested and the projected token file changes in between.
    Then: each request sends the current file content as client_assertion, to the authority host from the env.
    """
    token_file = tmp_path / 'token'
    token_file.write_text('federated-token-one\n')
    monkeypatch.setenv('AZURE_FEDERATED_TOKEN_FILE', str(token_file))
    monkeypatch.setenv('AZURE_CLIENT_ID', CLIENT_ID)
    monkeypatch.setenv('AZURE_TENANT_ID', TENANT)
    monkeypatch.setenv('AZURE_AUTHORITY_HOST', 'https://login.microsoftonline.us/')
    url = f'https://login.microsoftonline.us/{TENANT}/oauth2/v2.0/token'
    requests_mock.post(url, json=token_body())
    client = MicrosoftClient.from_settings(AuthSettings(), base_url=GRAPH, scope=GRAPH_SCOPE)
    assert client.credential.flow == AuthFlow.WORKLOAD_IDENTITY
    client.get_access_token()
    token_file.write_text('federated-token-two')
    client.get_access_token(scope='https://api.security.microsoft.com/.default')
    sent = [form(r) for r in requests_mock.request_history]
    assert [s['client_assertion'] for s in sent] == ['federated-token-one', 'federated-token-two']
    assert all(s['grant_type'] == 'client_credentials' and s['client_id'] == CLIENT_ID for s in sent)


def test_workload_identity_missing_pieces(monkeypatch, tmp_path):
    """
    Given: the workload identity grant without a token file.
    When: building the credential.
    Then: the error lists what is needed; an unreadable file gives a clear error at request time.
    """
    with pytest.raises(DemistoException, match='AZURE_FEDERATED_TOKEN_FILE'):
        build_credential(AuthSettings(grant_type=AuthFlow.WORKLOAD_IDENTITY))
    monkeypatch.setenv('AZURE_FEDERATED_TOKEN_FILE', str(tmp_path / 'missing'))
    credential = build_credential(AuthSettings(client_id=CLIENT_ID, tenant_id=TENANT))
    with pytest.raises(MicrosoftAuthError, match='Could not read the federated token file'):
        credential.acquire(GRAPH_SCOPE, None, {})


def test_client_credentials_need_a_secret():
    """
    Given: client credentials without secret, certificate or federated token.
    When: building the credential.
    Then: a clear error.
    """
    with pytest.raises(DemistoException, match='client secret, or a certificate'):
        build_credential(AuthSettings(client_id=CLIENT_ID, tenant_id=TENANT))


# ============================================================================================================
# Cortex XSOAR app (oproxy)
# ============================================================================================================

ENC_KEY = base64.b64encode(b'k' * 32).decode()


def decrypt(blob: str) -> str:
    raw = base64.b64decode(blob)
    return AESGCM(b'k' * 32).decrypt(raw[:12], raw[12:], None).decode()


def proxy_client(auth_id: str = 'reg-123', scope: str = 'https://api.securitycenter.microsoft.com/.default') -> MicrosoftClient:
    settings = AuthSettings(client_id=auth_id, tenant_id=TENANT, enc_key=ENC_KEY, self_deployed=False,
                            app_name='ms-defender-atp', command_prefix='microsoft-atp')
    return MicrosoftClient.from_settings(settings, base_url='https://api.securitycenter.microsoft.com/api', scope=scope)


def test_oproxy_payload_and_rotation(requests_mock, mocker):
    """
    Given: the Cortex XSOAR app parameters.
    When: a first token is requested, then another after it expired.
    Then: the JSON body has app_name/registration_id/scope/resource and an AES-GCM sealed "<epoch>:<tenant>"; the
          second call seals the refresh token from the first answer, and the rotated one is kept.
    """
    answers = [load('oproxy_token.json'),
               {**load('oproxy_token.json'), 'access_token': 'second-at', 'refresh_token': 'test-oproxy-refresh-token-2'}]
    requests_mock.post('https://oproxy.demisto.ninja/obtain-token', [{'json': a} for a in answers])
    client = proxy_client()
    assert client.get_access_token() == 'test-oproxy-access-token'
    first = requests_mock.last_request.json()
    assert first['app_name'] == 'ms-defender-atp' and first['registration_id'] == 'reg-123'
    assert first['scope'] is None and first['resource'] == ''
    assert decrypt(first['encrypted_token']) == f'{int(NOW)}:{TENANT}'
    assert account(client)['refresh_token'] == 'test-oproxy-refresh-token-1'
    mocker.patch.object(mam, '_now', return_value=NOW + 3600)
    client.tokens._memory.clear()
    assert client.get_access_token() == 'second-at'
    assert decrypt(requests_mock.last_request.json()['encrypted_token']) == f'{int(NOW) + 3600}:test-oproxy-refresh-token-1'
    assert account(client)['refresh_token'] == 'test-oproxy-refresh-token-2'


def test_oproxy_custom_url_and_scope(requests_mock):
    """
    Given: an ID written as id@proxy-url and a per-call scope.
    When: requesting a token for another scope.
    Then: the custom proxy is used, with the scope and its resource in the body.
    """
    requests_mock.post('https://proxy.example.test/obtain-token', json=load('oproxy_token.json'))
    client = proxy_client(auth_id='reg-9@https://proxy.example.test/')
    client.get_access_token(scope=GRAPH_SCOPE)
    body = requests_mock.last_request.json()
    assert body['registration_id'] == 'reg-9' and body['scope'] == GRAPH_SCOPE and body['resource'] == GRAPH


def test_oproxy_bounded_retry_then_clear_error(requests_mock):
    """
    Given: the proxy answers 503 twice then 200; later 401 with a decryption error.
    When: tokens are requested.
    Then: the 503s are retried (bounded) and succeed; the 401 becomes a clear error naming the parameters.
    """
    requests_mock.post('https://oproxy.demisto.ninja/obtain-token',
                       [{'status_code': 503, 'text': 'busy'}, {'status_code': 503, 'text': 'busy'},
                        {'json': load('oproxy_token.json')}])
    assert proxy_client().get_access_token() == 'test-oproxy-access-token'
    assert requests_mock.call_count == 3
    requests_mock.post('https://oproxy.demisto.ninja/obtain-token', status_code=401,
                       json={'error': 'decryption_failed', 'error_description': 'hash verification failed'})
    with pytest.raises(MicrosoftAuthError, match='Check the ID, Token and Key') as err:
        proxy_client().get_access_token(scope=GRAPH_SCOPE)
    assert 'Status: 401' in str(err.value)


def test_oproxy_bad_key():
    """
    Given: a Key that is not base64 or has a bad length.
    When: building the credential.
    Then: a clear error.
    """
    for key, message in (('%%%', 'not valid base64'), (base64.b64encode(b'short').decode(), 'wrong length')):
        with pytest.raises(DemistoException, match=message):
            build_credential(AuthSettings(client_id='reg', tenant_id=TENANT, enc_key=key, self_deployed=False,
                                          app_name='ms-defender-atp'))
    with pytest.raises(DemistoException, match='app_name'):
        build_credential(AuthSettings(client_id='reg', tenant_id=TENANT, enc_key=ENC_KEY, self_deployed=False))
    with pytest.raises(DemistoException, match='ID, Token and Key'):
        build_credential(AuthSettings(client_id='reg', enc_key=ENC_KEY, self_deployed=False, app_name='x'))


# ============================================================================================================
# Managed identities
# ============================================================================================================

IMDS = 'http://169.254.169.254/metadata/identity/oauth2/token'


@pytest.mark.parametrize('client_id, expected', [('', None), ('SYSTEM_ASSIGNED', None), ('user-mi-id', 'user-mi-id')])
def test_imds_system_and_user(requests_mock, client_id, expected):
    """
    Given: a system-assigned (empty or sentinel) or user-assigned managed identity.
    When: a token is requested.
    Then: IMDS gets api-version 2018-02-01, the resource (no /.default), Metadata: true, client_id only for user ones,
          and a short timeout.
    """
    requests_mock.get(IMDS, json=load('imds_token.json'))
    settings = AuthSettings(use_managed_identity=True, managed_identity_client_id=client_id)
    client = MicrosoftClient.from_settings(settings, base_url=GRAPH, scope=GRAPH_SCOPE)
    assert client.get_access_token() == 'test-imds-access-token'
    request = requests_mock.last_request
    assert request.headers['Metadata'] == 'true'
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.url).query))
    assert query.get('api-version') == '2018-02-01' and query.get('resource') == GRAPH
    assert query.get('client_id') == expected
    assert request.timeout == mam.MANAGED_IDENTITY_TIMEOUT


def test_imds_retry_and_env_override(requests_mock, monkeypatch, fresh_runtime):
    """
    Given: MSAL_MANAGED_IDENTITY_ENDPOINT pointing at a local IMDS that answers 404, then 500, then 200.
    When: a token is requested.
    Then: the override URL is used, the transient answers are retried with short pauses (a few seconds in total).
    """
    local = 'http://127.0.0.1:50342/metadata/identity/oauth2/token'
    monkeypatch.setenv('MSAL_MANAGED_IDENTITY_ENDPOINT', local)
    requests_mock.get(local, [{'status_code': 404, 'text': ''}, {'status_code': 500, 'text': ''},
                              {'json': load('imds_token.json')}])
    client = MicrosoftClient.from_settings(AuthSettings(use_managed_identity=True), base_url=GRAPH, scope=GRAPH_SCOPE)
    assert client.get_access_token() == 'test-imds-access-token'
    assert requests_mock.call_count == 3
    pauses = [c.args[0] for c in fresh_runtime.call_args_list]
    assert pauses == [0.5, 1.0] and sum(pauses) < 5


def test_imds_gives_up_with_clear_error(requests_mock):
    """
    Given: IMDS never answers (connection errors) or keeps answering 400.
    When: a token is requested.
    Then: a bounded number of attempts, then a managed-identity specific error.
    """
    requests_mock.get(IMDS, exc=requests.exceptions.ConnectTimeout)
    client = MicrosoftClient.from_settings(AuthSettings(use_managed_identity=True), base_url=GRAPH, scope=GRAPH_SCOPE)
    with pytest.raises(MicrosoftAuthError, match='Azure Managed Identities'):
        client.get_access_token()
    assert requests_mock.call_count == 4
    requests_mock.get(IMDS, status_code=400, json={'error': 'invalid_request', 'error_description': 'Identity not found'})
    with pytest.raises(MicrosoftAuthError, match='Identity not found'):
        client.get_access_token(scope='https://api.security.microsoft.com/.default')


def test_app_service_identity(requests_mock, monkeypatch):
    """
    Given: IDENTITY_ENDPOINT and IDENTITY_HEADER (App Service / Container Apps) and a user-assigned identity.
    When: a token is requested.
    Then: api-version 2019-08-01, X-IDENTITY-HEADER, resource and client_id are sent; expires_on gives the expiry.
    """
    monkeypatch.setenv('IDENTITY_ENDPOINT', 'http://localhost:42356/msi/token')
    monkeypatch.setenv('IDENTITY_HEADER', 'identity-header-secret')
    requests_mock.get('http://localhost:42356/msi/token',
                      json={'access_token': 'app-service-at', 'expires_on': str(int(NOW) + 7200), 'token_type': 'Bearer'})
    settings = AuthSettings(use_managed_identity=True, managed_identity_client_id='mi-client')
    client = MicrosoftClient.from_settings(settings, base_url=GRAPH, scope='https://api.security.microsoft.com/.default')
    assert client.get_access_token() == 'app-service-at'
    request = requests_mock.last_request
    assert request.headers['X-IDENTITY-HEADER'] == 'identity-header-secret'
    assert request.qs == {'api-version': ['2019-08-01'], 'resource': ['https://api.security.microsoft.com'],
                          'client_id': ['mi-client']}
    assert account(client)['tokens'][mam._scope_key('https://api.security.microsoft.com/.default')]['expires_at'] == NOW + 7200


@pytest.mark.parametrize('params, expected', [
    ({'use_managed_identities': True, 'managed_identities_client_id': {'password': 'abc'}}, 'abc'),
    ({'use_managed_identities': 'true'}, 'SYSTEM_ASSIGNED'),
    ({'auth_type': 'Azure Managed Identities'}, 'SYSTEM_ASSIGNED'),
    ({'authentication_type': 'Azure Managed Identities', 'managed_identities_client_id': {'password': 'x'}}, 'x'),
    ({'use_managed_identities': False, 'auth_type': 'Client Credentials'}, None),
])
def test_managed_identity_params(params, expected):
    """
    Given: the official parameter spellings for managed identities.
    When: reading them.
    Then: the client ID, SYSTEM_ASSIGNED or None.
    """
    assert get_azure_managed_identities_client_id(params) == expected


# ============================================================================================================
# Device code (RFC 8628)
# ============================================================================================================

DEVICE_URL = 'https://login.microsoftonline.com/organizations/oauth2/v2.0/devicecode'
ORG_TOKEN_URL = 'https://login.microsoftonline.com/organizations/oauth2/v2.0/token'
XDR_SCOPE = 'https://api.security.microsoft.com/.default'


def device_client(tenant: str = '') -> MicrosoftClient:
    settings = AuthSettings(client_id=CLIENT_ID, tenant_id=tenant, client_secret=SECRET, grant_type='Device Code',
                            command_prefix='microsoft-365-defender')
    return MicrosoftClient.from_settings(settings, base_url='https://api.security.microsoft.com', scope=XDR_SCOPE)


def start_device_flow(requests_mock, client: MicrosoftClient, url: str = DEVICE_URL) -> CommandResults:
    requests_mock.post(url, json=load('device_code.json'))
    return start_auth(client, 'microsoft-365-defender-auth-complete')


def test_device_start(requests_mock):
    """
    Given: the device code flow, no tenant, and an integration context holding the integration's own keys.
    When: auth-start runs.
    Then: the devicecode endpoint of 'organizations' gets client_id and offline_access + scope (no secret); the user
          sees the URL and code; a ScheduledCommand runs auth-complete after the interval; other keys survive.
    """
    demisto.integrationContext = {'last_fetch': '2025-01-01', 'ids': [1, 2]}
    client = device_client()
    result = start_device_flow(requests_mock, client)
    assert form(requests_mock.last_request) == {'client_id': CLIENT_ID, 'scope': f'offline_access {XDR_SCOPE}'}
    assert 'https://microsoft.com/devicelogin' in result.readable_output and 'TESTCODE1' in result.readable_output
    assert 'test-device-code-secret-value' not in result.readable_output
    scheduled = result.to_context()
    assert scheduled['PollingCommand'] == 'microsoft-365-defender-auth-complete'
    assert scheduled['NextRun'] == '10' and scheduled['PollingArgs'] == {'polling': 'true'}
    assert demisto.integrationContext['last_fetch'] == '2025-01-01' and demisto.integrationContext['ids'] == [1, 2]
    flow = account(client)['device_flow']
    assert flow['expires_at'] == NOW + 900 and flow['interval'] == 5


def test_device_start_uses_tenant(requests_mock):
    """
    Given: a tenant ID.
    When: auth-start runs.
    Then: the tenant's devicecode endpoint is used.
    """
    start_device_flow(requests_mock, device_client(TENANT),
                      f'https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/devicecode')
    assert requests_mock.call_count == 1


@pytest.mark.parametrize('polling', [True, False])
def test_device_pending(requests_mock, polling):
    """
    Given: a started device flow the user has not approved yet.
    When: auth-complete runs with or without polling.
    Then: the poll uses the device_code field (not code) and no secret; polling reschedules, manual runs say
          "not yet approved".
    """
    client = device_client()
    start_device_flow(requests_mock, client)
    requests_mock.post(ORG_TOKEN_URL, status_code=400, json=load('device_pending.json'))
    result = complete_auth(client, {'polling': str(polling).lower()}, 'microsoft-365-defender-auth-complete')
    assert form(requests_mock.last_request) == {'grant_type': 'urn:ietf:params:oauth:grant-type:device_code',
                                                'client_id': CLIENT_ID, 'device_code': 'test-device-code-secret-value'}
    if polling:
        assert result.to_context()['PollingCommand'] == 'microsoft-365-defender-auth-complete'
    else:
        assert result.scheduled_command is None and 'not yet approved' in result.readable_output


def test_device_slow_down(requests_mock):
    """
    Given: Entra answers slow_down.
    When: auth-complete polls.
    Then: the stored interval grows by 5 seconds and the next run is scheduled with it.
    """
    client = device_client()
    start_device_flow(requests_mock, client)
    account_before = account(client)['device_flow']
    requests_mock.post(ORG_TOKEN_URL, status_code=400, json=load('device_slow_down.json'))
    complete_auth(client, {'polling': 'true'})
    assert account(client)['device_flow']['interval'] == account_before['interval'] + 5
    requests_mock.post(ORG_TOKEN_URL, status_code=400, json=load('device_slow_down.json'))
    result = complete_auth(client, {'polling': 'true'})
    assert account(client)['device_flow']['interval'] == 15
    assert result.to_context()['NextRun'] == '15'


@pytest.mark.parametrize('body, message', [('device_expired.json', 'run !microsoft-365-defender-auth-start again'),
                                           ('device_denied.json', 'declined')])
def test_device_expired_or_denied(requests_mock, body, message):
    """
    Given: Entra answers expired_token or access_denied.
    When: auth-complete polls.
    Then: a clear error and the flow state is dropped.
    """
    client = device_client()
    start_device_flow(requests_mock, client)
    requests_mock.post(ORG_TOKEN_URL, status_code=400, json=load(body))
    with pytest.raises(DemistoException, match=message):
        complete_auth(client, {'polling': 'true'})
    assert 'device_flow' not in account(client)


def test_device_stored_expiry(requests_mock, mocker):
    """
    Given: the stored device code expiry has passed.
    When: auth-complete runs.
    Then: no token request; "run auth-start again".
    """
    client = device_client()
    start_device_flow(requests_mock, client)
    mocker.patch.object(mam, '_now', return_value=NOW + 901)
    with pytest.raises(DemistoException, match='auth-start again'):
        complete_auth(client, {})
    assert requests_mock.call_count == 1


def test_device_success_then_refresh(requests_mock, mocker):
    """
    Given: the user approved the sign-in.
    When: auth-complete polls, then a token is needed after the access token expired.
    Then: access and refresh tokens are stored; the refresh uses the refresh_token grant without a secret and the
          rotated refresh token replaces the old one.
    """
    client = device_client()
    start_device_flow(requests_mock, client)
    requests_mock.post(ORG_TOKEN_URL, json=token_body('device-at', refresh_token='rt-1'))
    result = complete_auth(client, {'polling': 'true'})
    assert 'completed successfully' in result.readable_output and result.scheduled_command is None
    stored = account(client)
    assert stored['refresh_token'] == 'rt-1' and 'device_flow' not in stored
    assert client.get_access_token() == 'device-at'
    mocker.patch.object(mam, '_now', return_value=NOW + 3500)
    client.tokens._memory.clear()
    requests_mock.post(ORG_TOKEN_URL, json=token_body('device-at-2', refresh_token='rt-2'))
    assert client.get_access_token() == 'device-at-2'
    assert form(requests_mock.last_request) == {'grant_type': 'refresh_token', 'client_id': CLIENT_ID,
                                                'refresh_token': 'rt-1', 'scope': f'offline_access {XDR_SCOPE}'}
    assert account(client)['refresh_token'] == 'rt-2'


def test_device_not_started():
    """
    Given: no device flow in progress and no refresh token.
    When: auth-complete runs or a token is needed.
    Then: both say to run auth-start.
    """
    client = device_client()
    with pytest.raises(DemistoException, match='auth-start first'):
        complete_auth(client, {})
    with pytest.raises(MicrosoftAuthError, match='auth-start'):
        client.get_access_token()


# ============================================================================================================
# Authorization code with PKCE
# ============================================================================================================

REDIRECT = 'https://localhost/myapp'


def auth_code_client(code: str = '') -> MicrosoftClient:
    settings = AuthSettings(client_id=CLIENT_ID, tenant_id=TENANT, client_secret=SECRET, grant_type='authorization_code',
                            auth_code=code, command_prefix='microsoft-atp')
    return MicrosoftClient.from_settings(settings, base_url='https://api.securitycenter.microsoft.com/api',
                                         scope='https://api.securitycenter.microsoft.com/.default')


def login(client: MicrosoftClient) -> dict:
    result = generate_login_url(client)
    url = result.readable_output.split('(', 1)[1].split(')', 1)[0]
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query)) | {'_url': url}


def test_generate_login_url_pkce():
    """
    Given: the authorization code flow.
    When: generate-login-url runs.
    Then: the URL carries S256 PKCE whose challenge matches the stored verifier, a random state, offline_access.
    """
    client = auth_code_client()
    query = login(client)
    assert query['_url'].startswith(f'https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize?')
    pkce = account(client)['pkce']
    challenge = b64url(hashlib.sha256(pkce['code_verifier'].encode()).digest())
    assert query['code_challenge'] == challenge and query['code_challenge_method'] == 'S256'
    assert query['state'] == pkce['state'] and len(query['state']) >= 20
    assert query['scope'] == 'offline_access https://api.securitycenter.microsoft.com/.default'
    assert query['redirect_uri'] == REDIRECT and query['response_type'] == 'code'
    assert login(auth_code_client())['state'] != query['state']


def test_auth_code_redeem_once_and_rotate(requests_mock, mocker):
    """
    Given: the user pasted the whole redirect URL (with state and session_state).
    When: tokens are needed, then again after the access token expired.
    Then: the code is redeemed once with the verifier, redirect URI and secret; later requests use the rotated refresh
          tokens, never the code again.
    """
    first = auth_code_client()
    state = login(first)['state']
    verifier = account(first)['pkce']['code_verifier']
    pasted = f'{REDIRECT}?code=the-auth-code&state={state}&session_state=abc-123'
    client = auth_code_client(pasted)
    requests_mock.post(TOKEN_URL, json=token_body('code-at', refresh_token='rt-1'))
    assert client.get_access_token() == 'code-at'
    sent = form(requests_mock.last_request)
    assert sent == {'grant_type': 'authorization_code', 'client_id': CLIENT_ID, 'code': 'the-auth-code',
                    'redirect_uri': REDIRECT, 'scope': 'offline_access https://api.securitycenter.microsoft.com/.default',
                    'code_verifier': verifier, 'client_secret': SECRET}
    assert 'pkce' not in account(client) and account(client)['redeemed_code']
    mocker.patch.object(mam, '_now', return_value=NOW + 3400)
    client.tokens._memory.clear()
    requests_mock.post(TOKEN_URL, json=token_body('code-at-2', refresh_token='rt-2'))
    assert client.get_access_token() == 'code-at-2'
    sent = form(requests_mock.last_request)
    assert sent['grant_type'] == 'refresh_token' and sent['refresh_token'] == 'rt-1' and 'code' not in sent
    assert account(client)['refresh_token'] == 'rt-2'


def test_auth_code_not_resent_and_state_checked(requests_mock):
    """
    Given: a code already redeemed whose refresh token is gone, and a pasted URL whose state is stale.
    When: a token is needed.
    Then: no request is sent; the user is told to sign in again; a state mismatch is refused.
    """
    client = auth_code_client('used-code')
    code_hash = hashlib.sha256(b'used-code').hexdigest()
    client.tokens.update_account(lambda acc: {**acc, 'redeemed_code': code_hash})
    with pytest.raises(MicrosoftAuthError, match='already used'):
        client.get_access_token()
    login(auth_code_client())
    stale = auth_code_client(f'{REDIRECT}?code=new-code&state=not-the-state')
    with pytest.raises(MicrosoftAuthError, match='state'):
        stale.get_access_token()
    assert requests_mock.call_count == 0
    with pytest.raises(MicrosoftAuthError, match='generate-login-url'):
        auth_code_client().get_access_token()


@pytest.mark.parametrize('pasted, code, state', [
    ('plain-code', 'plain-code', ''),
    ('plain-code&session_state=xyz', 'plain-code', ''),
    ('code=c1&state=s1&session_state=xyz', 'c1', 's1'),
    ('https://localhost/myapp?code=c2&state=s2&session_state=x', 'c2', 's2'),
    ('', '', ''),
])
def test_parse_auth_code(pasted, code, state):
    """
    Given: the ways users paste the authorization code.
    When: parsing it.
    Then: code and state are extracted.
    """
    assert parse_auth_code(pasted) == (code, state)


@pytest.mark.parametrize('pasted', ['https://localhost/myapp?session_state=x&state=y', 'session_state'])
def test_parse_auth_code_malformed(pasted):
    """
    Given: a pasted value with session_state but no code.
    When: parsing it.
    Then: "Malformed".
    """
    with pytest.raises(DemistoException, match='Malformed'):
        parse_auth_code(pasted)


# ============================================================================================================
# Token cache
# ============================================================================================================

def test_cache_reuse_and_refresh(requests_mock, mocker):
    """
    Given: a cached token valid for one hour.
    When: a new execution (fresh client) needs it with 6 minutes left, then with 4 minutes left.
    Then: zero token requests while more than 5 minutes remain; a refresh below that.
    """
    requests_mock.post(TOKEN_URL, [{'json': token_body('at-1')}, {'json': token_body('at-2')}])
    assert secret_client().get_access_token() == 'at-1'
    mocker.patch.object(mam, '_now', return_value=NOW + 3599 - 360)
    assert secret_client().get_access_token() == 'at-1'
    assert requests_mock.call_count == 1
    mocker.patch.object(mam, '_now', return_value=NOW + 3599 - 240)
    assert secret_client().get_access_token() == 'at-2'
    assert requests_mock.call_count == 2


@pytest.mark.parametrize('lifetime, remaining, refresh', [(3600, 301, False), (3600, 299, True), (3600, 300, True),
                                                          (400, 201, False), (400, 199, True), (0, 0, True)])
def test_needs_refresh_rule(lifetime, remaining, refresh):
    """
    Given: tokens of various lifetimes.
    When: checking whether to refresh.
    Then: 5 minutes before expiry, or at half-life for tokens shorter than 10 minutes.
    """
    token = {'access_token': 'x', 'issued_at': NOW - (lifetime - remaining), 'expires_at': NOW + remaining}
    assert mam._needs_refresh(token, NOW) is refresh


def test_cache_one_entry_per_scope_and_namespaced(requests_mock):
    """
    Given: an integration context with the integration's own keys.
    When: tokens for two scopes are obtained, then auth-reset runs.
    Then: two entries under the one namespaced key, other keys untouched; reset removes only our key.
    """
    demisto.integrationContext = {'last_run': {'time': 1}, 'access_token': 'integration-owned'}
    requests_mock.post(TOKEN_URL, [{'json': token_body('graph-at')}, {'json': token_body('xdr-at')}])
    client = secret_client()
    client.get_access_token()
    client.get_access_token(resource='https://api.security.microsoft.com')
    client.get_access_token()
    assert requests_mock.call_count == 2
    tokens = account(client)['tokens']
    assert set(tokens) == {GRAPH_SCOPE, XDR_SCOPE}
    assert demisto.integrationContext['last_run'] == {'time': 1}
    assert demisto.integrationContext['access_token'] == 'integration-owned'
    result = reset_auth(client)
    assert 'reset successfully' in result.readable_output
    assert demisto.integrationContext == {'last_run': {'time': 1}, 'access_token': 'integration-owned'}


def test_cache_versioned_write_conflict(requests_mock, mocker):
    """
    Given: another execution writes the integration context while we save a token (our first write conflicts).
    When: the token is stored.
    Then: we re-read, merge only our entry and retry: both the other execution's key and our token are kept.
    """
    requests_mock.post(TOKEN_URL, json=token_body('at-1'))
    real_set = mam.set_integration_context
    calls = {'n': 0}

    def conflicting_set(context, sync=True, version=-1):
        calls['n'] += 1
        if calls['n'] == 1:
            real_set({**demisto.integrationContext, 'other_execution': 'wrote'}, version=-1)
            raise ValueError('version conflict')
        return real_set(context, sync, version)

    mocker.patch.object(mam, 'set_integration_context', side_effect=conflicting_set)
    client = secret_client()
    client.get_access_token()
    assert calls['n'] == 2
    assert demisto.integrationContext['other_execution'] == 'wrote'
    assert account(client)['tokens'][GRAPH_SCOPE]['access_token'] == 'at-1'


def _seed_delegated(client: MicrosoftClient, refresh_token: str, expires_at: float = NOW - 1) -> None:
    client.tokens.update_account(lambda acc: {**acc, 'refresh_token': refresh_token, 'tokens': {
        XDR_SCOPE: {'access_token': 'old-at', 'issued_at': expires_at - 3600, 'expires_at': expires_at}}})


def test_concurrent_rotation_uses_the_newer_token(requests_mock):
    """
    Given: we read refresh token rt-1, but another execution already redeemed it and stored rt-2 (and a fresh token).
    When: our refresh with rt-1 fails with invalid_grant.
    Then: we re-read the cache and use the other execution's fresh access token without a second request.
    """
    client = device_client()
    _seed_delegated(client, 'rt-1')

    def consumed(request, context):
        client.tokens.update_account(lambda acc: {**acc, 'refresh_token': 'rt-2', 'tokens': {
            XDR_SCOPE: {'access_token': 'their-at', 'issued_at': NOW, 'expires_at': NOW + 3600}}})
        context.status_code = 400
        return load('entra_invalid_grant_rotated.json')

    requests_mock.post(ORG_TOKEN_URL, json=consumed)
    assert client.get_access_token() == 'their-at'
    assert requests_mock.call_count == 1 and account(client)['refresh_token'] == 'rt-2'


def test_concurrent_rotation_retries_with_newer_refresh_token(requests_mock):
    """
    Given: rt-1 was consumed by another execution, which stored rt-2 but no token for our scope.
    When: our refresh with rt-1 fails.
    Then: we refresh with rt-2 and store rt-3: the cache never keeps a consumed refresh token.
    """
    client = device_client()
    _seed_delegated(client, 'rt-1')
    answers = iter(['consumed', 'ok'])

    def token_endpoint(request, context):
        if next(answers) == 'consumed':
            client.tokens.update_account(lambda acc: {**acc, 'refresh_token': 'rt-2', 'tokens': {}})
            context.status_code = 400
            return load('entra_invalid_grant_rotated.json')
        return token_body('our-at', refresh_token='rt-3')

    requests_mock.post(ORG_TOKEN_URL, json=token_endpoint)
    assert client.get_access_token() == 'our-at'
    assert [form(r)['refresh_token'] for r in requests_mock.request_history] == ['rt-1', 'rt-2']
    assert account(client)['refresh_token'] == 'rt-3'


def test_concurrent_rotation_waits_for_the_successor_to_be_stored(requests_mock, mocker):
    """
    Given: rt-1 was redeemed by another execution that has not stored its successor yet.
    When: our refresh with rt-1 fails and the successor appears in the cache a moment later.
    Then: we wait briefly, then use the other execution's token instead of failing.
    """
    client = device_client()
    _seed_delegated(client, 'rt-1')
    requests_mock.post(ORG_TOKEN_URL, status_code=400, json=load('entra_invalid_grant_rotated.json'))
    waits = []

    def other_execution_stores(seconds):
        waits.append(seconds)
        if len(waits) == 2:
            client.tokens.update_account(lambda acc: {**acc, 'refresh_token': 'rt-2', 'tokens': {
                XDR_SCOPE: {'access_token': 'their-at', 'issued_at': NOW, 'expires_at': NOW + 3600}}})

    mocker.patch.object(mam.time, 'sleep', side_effect=other_execution_stores)
    assert client.get_access_token() == 'their-at'
    assert len(waits) == 2 and requests_mock.call_count == 1


def test_refused_refresh_without_successor_fails_clearly(requests_mock, mocker):
    """
    Given: our refresh token is refused and no other execution stores a newer one.
    When: a token is requested.
    Then: after a bounded wait the Entra error is raised (with the auth-reset hint), not hidden.
    """
    client = device_client()
    _seed_delegated(client, 'rt-1')
    requests_mock.post(ORG_TOKEN_URL, status_code=400, json=load('entra_invalid_grant_rotated.json'))
    sleep = mocker.patch.object(mam.time, 'sleep')
    with pytest.raises(MicrosoftAuthError, match='auth-reset'):
        client.get_access_token()
    waited = sum(call.args[0] for call in sleep.call_args_list)
    assert waited == pytest.approx(client.tokens.rotation_wait) and requests_mock.call_count == 1


def test_rotation_wait_is_the_token_request_timeout():
    """The wait for a concurrent execution's successor is as long as one token request may take, not a fixed moment."""
    assert device_client().tokens.rotation_wait == mam.TOKEN_TIMEOUT
    assert mam._timeout_seconds((2.0, 10.0)) == 12.0


def test_dead_refresh_token_is_not_waited_on(requests_mock, mocker):
    """
    Given: our refresh token was revoked (AADSTS50173): no other execution can be about to store a successor.
    When: a token is requested.
    Then: the cache is read once more and the error is raised at once, without waiting.
    """
    client = device_client()
    _seed_delegated(client, 'rt-1')
    requests_mock.post(ORG_TOKEN_URL, status_code=400,
                       json={**load('entra_invalid_grant_rotated.json'), 'error_codes': [50173]})
    sleep = mocker.patch.object(mam.time, 'sleep')
    with pytest.raises(MicrosoftAuthError, match='auth-reset'):
        client.get_access_token()
    assert sleep.call_count == 0 and requests_mock.call_count == 1


def test_single_use_rotation_retries_as_long_as_the_cache_keeps_changing(requests_mock, mocker):
    """
    Given: a single-use token service, and five other executions that each redeem the token we just read and store
           their successor a little later (a loaded server).
    When: our refreshes keep being refused.
    Then: we retry with each newer cached token until one works, and store its successor (never an older chain).
    """
    client = device_client()
    _seed_delegated(client, 'rt-0')
    sent: list[str] = []

    def token_endpoint(request, context):
        used = form(request)['refresh_token']
        sent.append(used)
        if len(sent) <= 5:
            context.status_code = 400
            return load('entra_invalid_grant_rotated.json')
        return token_body('our-at', refresh_token='rt-final')

    def other_execution_stores(seconds):
        generation = len(sent)
        if account(client)['refresh_token'] == f'rt-{generation - 1}':
            client.tokens.update_account(lambda acc: {**acc, 'refresh_token': f'rt-{generation}', 'tokens': {}})

    requests_mock.post(ORG_TOKEN_URL, json=token_endpoint)
    mocker.patch.object(mam.time, 'sleep', side_effect=other_execution_stores)
    assert client.get_access_token() == 'our-at'
    assert sent == ['rt-0', 'rt-1', 'rt-2', 'rt-3', 'rt-4', 'rt-5']
    assert account(client)['refresh_token'] == 'rt-final'


def test_rotated_refresh_token_survives_many_version_conflicts(requests_mock, mocker):
    """
    Given: a refresh that returns a new refresh token while the integration context keeps changing under us.
    When: the first ten writes meet a version conflict.
    Then: the write is tried again until it lands: a successor that is lost breaks a single-use chain.
    """
    client = device_client()
    _seed_delegated(client, 'rt-1')
    requests_mock.post(ORG_TOKEN_URL, json=token_body('our-at', refresh_token='rt-2'))
    mocker.patch.object(mam.time, 'sleep')
    real_set = mam.set_integration_context
    conflicts = iter(range(10))

    def conflicting(context, *args, **kwargs):
        if next(conflicts, None) is not None:
            raise ValueError('version conflict')
        return real_set(context, *args, **kwargs)

    mocker.patch.object(mam, 'set_integration_context', side_effect=conflicting)
    assert client.get_access_token() == 'our-at'
    assert account(client)['refresh_token'] == 'rt-2'


def test_rotation_compare_and_swap(requests_mock):
    """
    Given: while we refresh with rt-1 (successfully, getting rt-2a), another execution rotates the cache to rt-9.
    When: we store our result.
    Then: the newer cached rt-9 is kept (ours would replace a token chain we did not hold); our access token is kept.
    """
    client = device_client()
    _seed_delegated(client, 'rt-1')

    def token_endpoint(request, context):
        client.tokens.update_account(lambda acc: {**acc, 'refresh_token': 'rt-9'})
        return token_body('our-at', refresh_token='rt-2a')

    requests_mock.post(ORG_TOKEN_URL, json=token_endpoint)
    assert client.get_access_token() == 'our-at'
    assert account(client)['refresh_token'] == 'rt-9'
    assert account(client)['tokens'][XDR_SCOPE]['access_token'] == 'our-at'


# ============================================================================================================
# HTTP client behaviour
# ============================================================================================================

API = f'{GRAPH}/v1.0/security/incidents'


@pytest.fixture
def api_client(requests_mock):
    requests_mock.post(TOKEN_URL, [{'json': token_body('at-1')}, {'json': token_body('at-2')}])
    return secret_client()


def test_headers_and_timeout(requests_mock, api_client):
    """
    Given: a JSON POST with caller headers and a per-call timeout.
    When: sending it.
    Then: bearer token, JSON content type, caller headers and the per-call timeout are used.
    """
    requests_mock.post(API, json={'ok': True})
    assert api_client.http_request('POST', 'security/incidents', json_data={'a': 1}, headers={'Prefer': 'x'},
                                   timeout=7) == {'ok': True}
    request = requests_mock.last_request
    assert request.headers['Authorization'] == 'Bearer at-1' and request.headers['Content-Type'] == 'application/json'
    assert request.headers['Prefer'] == 'x' and request.timeout == 7


def test_401_invalidates_and_retries_once(requests_mock, api_client):
    """
    Given: the API rejects the cached token once.
    When: a GET is sent.
    Then: the token is dropped from the cache, a new one is obtained and the request succeeds; a second 401 in a row
          is an error.
    """
    requests_mock.get(API, [{'status_code': 401, 'json': {'error': {'code': 'InvalidAuthenticationToken',
                                                                    'message': 'Access token has expired.'}}},
                            {'json': {'value': []}}])
    assert api_client.http_request('GET', 'security/incidents') == {'value': []}
    auth_headers = [r.headers.get('Authorization') for r in requests_mock.request_history if r.method == 'GET']
    assert auth_headers == ['Bearer at-1', 'Bearer at-2']
    assert account(api_client)['tokens'][GRAPH_SCOPE]['access_token'] == 'at-2'
    requests_mock.get(API, status_code=401, json={'error': {'code': 'Unauthorized', 'message': 'nope'}})
    requests_mock.post(TOKEN_URL, json=token_body('at-3'))
    with pytest.raises(DemistoException, match=r'(?s)\[401\].*Unauthorized: nope'):
        api_client.http_request('GET', 'security/incidents')



def test_401_again_with_a_newer_token_retries_again(requests_mock, api_client):
    """
    Given: the API rejects the cached token, then the next token too (revoked again while the command ran).
    When: a GET is sent.
    Then: each 401 is retried with a newer token, and the request succeeds on the third token.
    """
    unauthorized = {'status_code': 401, 'json': {'error': {'code': 'InvalidAuthenticationToken', 'message': 'revoked'}}}
    requests_mock.get(API, [unauthorized, unauthorized, {'json': {'value': []}}])
    requests_mock.post(TOKEN_URL, [{'json': token_body(t)} for t in ('at-1', 'at-2', 'at-3')])
    assert api_client.http_request('GET', 'security/incidents') == {'value': []}
    auth_headers = [r.headers.get('Authorization') for r in requests_mock.request_history if r.method == 'GET']
    assert auth_headers == ['Bearer at-1', 'Bearer at-2', 'Bearer at-3']

def test_429_short_wait_in_process(requests_mock, api_client, fresh_runtime):
    """
    Given: a 429 with Retry-After: 3.
    When: a POST is sent.
    Then: we sleep 3 seconds in-process and retry (even a POST: the server did not process it).
    """
    requests_mock.post(API, [{'status_code': 429, 'headers': {'Retry-After': '3'}, 'json': {}}, {'json': {'ok': 1}}])
    assert api_client.http_request('POST', 'security/incidents', json_data={}) == {'ok': 1}
    assert fresh_runtime.call_args_list[-1].args == (3.0,)


@pytest.mark.parametrize('header', ['120', 'HTTP-DATE'])
def test_429_long_wait_raises(requests_mock, api_client, header):
    """
    Given: a 429 asking to wait two minutes (as seconds or as an HTTP date).
    When: a GET is sent.
    Then: RetryAfterError with retry_after=120 and a message saying when to retry.
    """
    if header == 'HTTP-DATE':
        header = email_date(NOW + 120)
    requests_mock.get(API, status_code=429, headers={'Retry-After': header}, json={})
    with pytest.raises(RetryAfterError) as err:
        api_client.http_request('GET', 'security/incidents')
    assert err.value.retry_after == 120 and 'Retry in 120 seconds' in str(err.value)
    results = retry_after_results(err.value, 'msft-test-list', {'limit': '5'})
    assert results.to_context()['PollingCommand'] == 'msft-test-list' and results.to_context()['NextRun'] == '120'


def test_429_no_inline_wait_when_overwritten(requests_mock, api_client, fresh_runtime):
    """
    Given: a short Retry-After and the official overwrite_rate_limit_retry flag (fetch, polling internals).
    When: a GET is sent.
    Then: RetryAfterError at once, no sleep, one API call.
    """
    requests_mock.get(API, status_code=429, headers={'Retry-After': '2'}, json={})
    with pytest.raises(RetryAfterError) as err:
        api_client.http_request('GET', 'security/incidents', overwrite_rate_limit_retry=True)
    assert err.value.retry_after == 2 and not fresh_runtime.called
    assert len([r for r in requests_mock.request_history if r.method == 'GET']) == 1


def email_date(epoch: float) -> str:
    import email.utils
    return email.utils.formatdate(epoch, usegmt=True)


def test_503_with_retry_after(requests_mock, api_client, fresh_runtime):
    """
    Given: a 503 with Retry-After: 1, then success.
    When: a GET is sent.
    Then: one short in-process wait and a retry.
    """
    requests_mock.get(API, [{'status_code': 503, 'headers': {'Retry-After': '1'}, 'text': ''}, {'json': {'v': 1}}])
    assert api_client.http_request('GET', 'security/incidents') == {'v': 1}


def test_5xx_retry_idempotent_only(requests_mock, api_client):
    """
    Given: the API answers 500 then 200.
    When: a GET, a POST, and a POST marked idempotent are sent.
    Then: GET and the idempotent POST are retried; the plain POST fails after one attempt.
    """
    requests_mock.get(API, [{'status_code': 500, 'text': 'oops'}, {'json': {'ok': 'get'}}])
    assert api_client.http_request('GET', 'security/incidents') == {'ok': 'get'}
    requests_mock.post(API, [{'status_code': 500, 'json': {'error': {'code': 'InternalError', 'message': 'boom'}}},
                             {'json': {'ok': 'post'}}])
    with pytest.raises(DemistoException, match=r'(?s)\[500\].*InternalError: boom'):
        api_client.http_request('POST', 'security/incidents', json_data={})
    requests_mock.post(API, [{'status_code': 502, 'text': ''}, {'json': {'ok': 'query'}}])
    assert api_client.http_request('POST', 'security/incidents', json_data={}, idempotent=True) == {'ok': 'query'}


def test_5xx_retry_is_bounded(requests_mock, api_client):
    """
    Given: the API keeps answering 504.
    When: a GET is sent.
    Then: at most max_attempts tries, then the error.
    """
    requests_mock.get(API, status_code=504, text='gateway')
    with pytest.raises(DemistoException, match=r'\[504\]'):
        api_client.http_request('GET', 'security/incidents')
    assert len([r for r in requests_mock.request_history if r.method == 'GET']) == 4


def test_connection_error_retry(requests_mock, api_client):
    """
    Given: a connection error followed by success.
    When: a GET and then a POST are sent.
    Then: the GET is retried; the POST (maybe already sent) is not.
    """
    requests_mock.get(API, [{'exc': requests.exceptions.ConnectionError('reset')}, {'json': {'ok': 1}}])
    assert api_client.http_request('GET', 'security/incidents') == {'ok': 1}
    requests_mock.post(API, [{'exc': requests.exceptions.ConnectionError('reset')}, {'json': {'ok': 2}}])
    with pytest.raises(DemistoException, match='Verify that the server URL'):
        api_client.http_request('POST', 'security/incidents', json_data={})


TLS_EOF = "Max retries exceeded (Caused by SSLError(SSLEOFError(8, 'EOF occurred in violation of protocol')))"
TLS_VERIFY = "Max retries exceeded (Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED]')))"


def test_connection_reset_during_tls_is_a_connection_failure(requests_mock, api_client):
    """
    Given: the connection is reset during the TLS handshake (requests raises SSLError with an EOF).
    When: a GET and then a POST are sent.
    Then: the GET is retried like any dropped connection; the POST fails with a message about the connection, not
        about certificates.
    """
    requests_mock.get(API, [{'exc': requests.exceptions.SSLError(TLS_EOF)}, {'json': {'ok': 1}}])
    assert api_client.http_request('GET', 'security/incidents') == {'ok': 1}
    requests_mock.post(API, exc=requests.exceptions.SSLError(TLS_EOF))
    with pytest.raises(DemistoException, match='connection reset during TLS') as error:
        api_client.http_request('POST', 'security/incidents', json_data={})
    assert 'Certificate' not in str(error.value)


def test_certificate_failure_is_not_retried(requests_mock, api_client):
    """
    Given: the server's certificate does not verify.
    When: a GET is sent.
    Then: one attempt, and the certificate error.
    """
    requests_mock.get(API, exc=requests.exceptions.SSLError(TLS_VERIFY))
    with pytest.raises(DemistoException, match='SSL Certificate Verification Failed'):
        api_client.http_request('GET', 'security/incidents')
    assert len([r for r in requests_mock.request_history if r.method == 'GET']) == 1


def test_404_not_found(requests_mock, api_client):
    """
    Given: the API answers 404.
    When: a GET is sent.
    Then: NotFoundError carrying Microsoft's message.
    """
    requests_mock.get(f'{API}/9', status_code=404, json={'error': {'code': 'NotFound', 'message': 'Incident 9'}})
    with pytest.raises(NotFoundError, match='NotFound: Incident 9'):
        api_client.http_request('GET', 'security/incidents/9')


def test_response_types(requests_mock, api_client):
    """
    Given: 204 and text answers.
    When: reading them with each resp_type.
    Then: {} for an empty JSON body, the Response when asked, text and bytes as asked.
    """
    requests_mock.delete(f'{API}/1', status_code=204)
    assert api_client.http_request('DELETE', 'security/incidents/1') == {}
    assert isinstance(api_client.http_request('DELETE', 'security/incidents/1', return_empty_response=True),
                      requests.Response)
    requests_mock.get(f'{API}/t', text='plain')
    assert api_client.http_request('GET', 'security/incidents/t', resp_type='text') == 'plain'
    assert api_client.http_request('GET', 'security/incidents/t', resp_type='content') == b'plain'
    assert api_client.http_request('GET', 'security/incidents/t', resp_type='response').status_code == 200
    with pytest.raises(DemistoException, match='Failed to parse json'):
        api_client.http_request('GET', 'security/incidents/t')


@pytest.mark.parametrize('body, kind', [('null', 'null'), ('[1, 2]', 'array'), ('"text"', 'scalar value')])
def test_json_that_is_not_an_object_is_a_clear_error(requests_mock, api_client, body, kind):
    """
    Given: a 200 answer whose JSON is null, an array or a scalar (every Microsoft API answers an object).
    When: reading it as JSON.
    Then: a DemistoException saying what came instead of an object, before any caller calls .get() on it.
    """
    requests_mock.get(f'{API}/odd', text=body, headers={'Content-Type': 'application/json'})
    with pytest.raises(DemistoException, match=f'a JSON {kind} where an object was expected'):
        api_client.http_request('GET', 'security/incidents/odd')


# ============================================================================================================
# Microsoft error bodies
# ============================================================================================================

@pytest.mark.parametrize('code, expected', [
    (70008, 'Run !msft-test-auth-reset, then authenticate again.'),
    (700082, 'Run !msft-test-auth-reset'),
    (50173, 'Run !msft-test-auth-reset'),
    (54005, 'Run !msft-test-auth-reset'),
    (7000222, 'create a new secret'),
    (7000215, 'Check the client secret'),
    (700016, 'Check the application (client) ID and the tenant ID'),
    (90002, 'Check the tenant ID'),
    (65001, "Grant admin consent for the permissions the integration requires (application 'Cortex App')"),
    (500011, 'Check the cloud/endpoint selection'),
    (700027, 'Check the certificate thumbprint and private key'),
])
def test_aadsts_hints(code, expected):
    """
    Given: an Entra error body with an AADSTS code.
    When: formatting it.
    Then: the description (trace lines removed) and the remedy for that code.
    """
    body = {'error': 'invalid_grant',
            'error_description': f"AADSTS{code}: Something named 'Cortex App' failed.\r\nTrace ID: abc\r\n"
                                 'Correlation ID: def\r\nTimestamp: 2025-01-01 00:00:00Z',
            'error_codes': [code]}
    message = format_microsoft_error(body, 'msft-test')
    assert message.startswith(f'invalid_grant: AADSTS{code}: Something') and 'Trace ID' not in message
    assert expected in message


def test_error_formats():
    """
    Given: Graph/Defender, plain text and unknown JSON error bodies.
    When: formatting them.
    Then: "code: message", the text, or the JSON.
    """
    assert format_microsoft_error(load('graph_error_forbidden.json')).startswith('Forbidden: Missing application roles')
    assert format_microsoft_error('<html>Bad gateway</html>') == '<html>Bad gateway</html>'
    assert format_microsoft_error(b'{"message": "Oops"}') == 'Oops'
    assert format_microsoft_error({'weird': 1}) == '{"weird": 1}'


def test_token_error_message(requests_mock):
    """
    Given: Entra rejects the client secret.
    When: a token is requested.
    Then: MicrosoftAuthError with status, the AADSTS description and the remedy, and no secret.
    """
    requests_mock.post(TOKEN_URL, status_code=401, json=load('entra_invalid_client.json'))
    with pytest.raises(MicrosoftAuthError) as err:
        secret_client().get_access_token()
    text = str(err.value)
    assert 'Status: 401' in text and 'AADSTS7000215' in text and 'Check the client secret' in text
    assert err.value.codes == [7000215] and err.value.error == 'invalid_client' and SECRET not in text


# ============================================================================================================
# Request helpers
# ============================================================================================================

def test_paginate_same_origin(requests_mock, api_client):
    """
    Given: two pages linked by @odata.nextLink on the API's own host.
    When: paginating (with and without a limit).
    Then: all items in order; the limit stops early.
    """
    requests_mock.get(API, [{'json': load('graph_page_1.json')}, {'json': load('graph_page_2.json')}])
    assert [i['id'] for i in api_client.paginate('security/incidents')] == ['1', '2', '3']
    requests_mock.get(API, json=load('graph_page_1.json'))
    assert [i['id'] for i in api_client.paginate('security/incidents', limit=1)] == ['1']


def test_paginate_refuses_foreign_origin(requests_mock, api_client):
    """
    Given: a nextLink pointing at another host.
    When: paginating.
    Then: an error before any request reaches that host (the bearer token stays home).
    """
    page = {**load('graph_page_1.json'), '@odata.nextLink': 'https://evil.example/v1.0/x?$skiptoken=1'}
    requests_mock.get(API, json=page)
    evil = requests_mock.get('https://evil.example/v1.0/x', json={})
    with pytest.raises(DemistoException, match='another origin'):
        list(api_client.paginate('security/incidents'))
    assert not evil.called


@pytest.mark.parametrize('url, ok', [
    ('https://graph.microsoft.com:443/v1.0/a', True), ('HTTPS://GRAPH.microsoft.com/b', True),
    ('http://graph.microsoft.com/v1.0/a', False), ('https://graph.microsoft.com:8443/a', False),
    ('https://graph.microsoft.com.evil.example/a', False),
])
def test_ensure_same_origin(url, ok):
    """
    Given: candidate next links.
    When: checking their origin against the API base URL.
    Then: only scheme+host+port identical links pass.
    """
    if ok:
        assert ensure_same_origin(url, f'{GRAPH}/v1.0') == url
    else:
        with pytest.raises(DemistoException):
            ensure_same_origin(url, f'{GRAPH}/v1.0')


def test_quote_id():
    """
    Given: IDs with reserved characters, and path-changing values.
    When: quoting them as one path segment.
    Then: everything is encoded; '', '.', '..' and None are rejected.
    """
    assert quote_id('a/b?c#d e') == 'a%2Fb%3Fc%23d%20e'
    assert quote_id(12) == '12'
    for bad in ('', '.', '..', None, '  '):
        with pytest.raises(ValueError, match='Invalid'):
            quote_id(bad)


def test_odata_escaping_and_filter():
    """
    Given: values with quotes, dates and lists.
    When: building literals and a $filter.
    Then: quotes are doubled, datetimes are UTC ISO, clauses are combined with proper parentheses, fields checked.
    """
    assert odata_string("O'Brien") == "'O''Brien'"
    assert odata_literal(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)) == '2025-01-02T03:04:05Z'
    assert odata_literal(datetime(2025, 1, 2, 3, 4, 5, 120000)) == '2025-01-02T03:04:05.120Z'
    assert odata_literal(True) == 'true' and odata_literal(None) == 'null' and odata_literal(5) == '5'
    query = ODataFilter.and_(
        ODataFilter.ge('createdDateTime', datetime(2025, 1, 1, tzinfo=UTC)),
        ODataFilter.or_(ODataFilter.eq('status', 'active'), ODataFilter.eq('status', "it's")),
        ODataFilter.in_('severity', ['high', 'medium']),
        None,
    )
    assert query == ("createdDateTime ge 2025-01-01T00:00:00Z and (status eq 'active' or status eq 'it''s') and "
                     "severity in ('high','medium')")
    assert ODataFilter.le('x', 1) == 'x le 1' and ODataFilter.or_('a eq 1') == 'a eq 1'
    for bad in ("name') or (1 eq 1", ''):
        with pytest.raises(ValueError):
            ODataFilter.eq(bad, 'x')
    with pytest.raises(ValueError):
        ODataFilter.in_('x', [])


# ============================================================================================================
# Auth commands
# ============================================================================================================

def test_auth_command_table_and_test_module(requests_mock):
    """
    Given: clients for each flow.
    When: building the command table and running test-module.
    Then: the five commands exist under the prefix; client credentials get a token ('ok'), the interactive flows say
          which command to run.
    """
    requests_mock.post(TOKEN_URL, json=token_body())
    client = secret_client()
    table = auth_command_table(client, 'msft-test')
    assert set(table) == {f'msft-test-{c}' for c in ('auth-start', 'auth-complete', 'auth-test', 'auth-reset',
                                                     'generate-login-url')}
    assert auth_test_module(client) == 'ok'
    assert 'Success' in table['msft-test-auth-test']({}).readable_output
    with pytest.raises(DemistoException, match='device code flow only'):
        table['msft-test-auth-start']({})
    with pytest.raises(DemistoException, match='authorization code flow only'):
        table['msft-test-generate-login-url']({})
    with pytest.raises(DemistoException, match='!microsoft-365-defender-auth-start'):
        auth_test_module(device_client())
    with pytest.raises(DemistoException, match='!microsoft-atp-generate-login-url'):
        auth_test_module(auth_code_client())
    reset_text = auth_command_table(auth_code_client())['microsoft-atp-auth-reset']({}).readable_output
    assert '!microsoft-atp-generate-login-url' in reset_text


def test_auth_complete_via_table_polls(requests_mock):
    """
    Given: the command table of a device-code client with a custom auth-complete name.
    When: auth-start then auth-complete (pending, polling) run through the table.
    Then: both schedule the custom command name.
    """
    client = device_client()
    table = auth_command_table(client, complete_command='custom-complete')
    requests_mock.post(DEVICE_URL, json=load('device_code.json'))
    assert table['microsoft-365-defender-auth-start']({}).to_context()['PollingCommand'] == 'custom-complete'
    requests_mock.post(ORG_TOKEN_URL, status_code=400, json=load('device_pending.json'))
    result = table['microsoft-365-defender-auth-complete']({'polling': 'true'})
    assert result.to_context()['PollingCommand'] == 'custom-complete'


# ============================================================================================================
# Secrets never leak
# ============================================================================================================

def test_no_secret_in_messages_or_logs(requests_mock, mocker, test_cert, monkeypatch):
    """
    Given: secrets of every kind (client secret, private key, proxy key, tokens, refresh tokens, device code,
           authorization code, identity header).
    When: exercising successes and failures across flows, capturing demisto.debug/info/error.
    Then: no secret value appears in any returned message, exception text or log line; LOG masks the tokens.
    """
    logged: list[str] = []
    for level in ('debug', 'info', 'error'):
        mocker.patch.object(demisto, level, side_effect=lambda msg, *a: logged.append(str(msg)))
    texts: list[str] = []

    def run(func):
        try:
            result = func()
            if isinstance(result, CommandResults):   # a token returned to the caller is fine; messages are not
                texts.append(result.readable_output or '')
        except Exception as exc:  # noqa: BLE001 - collecting every message
            texts.append(str(exc))
            texts.append(repr(exc.args))

    # client secret: wrong secret, then success, then API failures
    requests_mock.post(TOKEN_URL, [{'status_code': 401, 'json': load('entra_invalid_client.json')},
                                   {'json': token_body('secret-access-token-xyz')}])
    client = secret_client()
    run(client.get_access_token)
    run(client.get_access_token)
    requests_mock.get(API, status_code=403, json=load('graph_error_forbidden.json'))
    run(lambda: client.http_request('GET', 'security/incidents'))
    run(lambda: reset_auth(client))
    # proxy failure
    requests_mock.post('https://oproxy.demisto.ninja/obtain-token', status_code=400,
                       json={'error': 'invalid_grant', 'error_description': 'AADSTS70008: expired'})
    run(proxy_client().get_access_token)
    # device code: start, denied
    device = device_client()
    requests_mock.post(DEVICE_URL, json=load('device_code.json'))
    run(lambda: start_auth(device))
    requests_mock.post(ORG_TOKEN_URL, status_code=400, json=load('device_denied.json'))
    run(lambda: complete_auth(device, {'polling': 'true'}))
    # authorization code: refresh token revoked
    code_client = auth_code_client('secret-auth-code-value')
    code_client.tokens.update_account(lambda acc: {**acc, 'refresh_token': 'secret-refresh-token-abc'})
    requests_mock.post(TOKEN_URL, status_code=400, json={**load('entra_invalid_grant_rotated.json'), 'error_codes': [50173]})
    run(code_client.get_access_token)
    # certificate with a bad thumbprint
    run(lambda: build_credential(AuthSettings(client_id=CLIENT_ID, tenant_id=TENANT, certificate_thumbprint='ab' * 20,
                                              private_key=test_cert['key_pem'] + test_cert['cert_pem'])))
    # managed identity through App Service, failing
    monkeypatch.setenv('IDENTITY_ENDPOINT', 'http://localhost:1/msi/token')
    monkeypatch.setenv('IDENTITY_HEADER', 'secret-identity-header')
    requests_mock.get('http://localhost:1/msi/token', status_code=500, text='down')
    run(MicrosoftClient.from_settings(AuthSettings(use_managed_identity=True), base_url=GRAPH,
                                      scope=GRAPH_SCOPE).get_access_token)

    secrets_ = [SECRET, ENC_KEY, 'secret-access-token-xyz', 'test-device-code-secret-value', 'secret-auth-code-value',
                'secret-refresh-token-abc', 'secret-identity-header', test_cert['key_pem'].splitlines()[1]]
    everything = '\n'.join(texts + logged)
    assert 'AADSTS7000215' in everything and 'declined' in everything  # the failures did happen
    for value in secrets_:
        assert value not in everything
    assert 'secret-access-token-xyz' not in LOG.encode('Bearer secret-access-token-xyz')
    assert 'secret-refresh-token-abc' not in LOG.encode(copy.deepcopy('rt=secret-refresh-token-abc'))


@pytest.mark.parametrize('value, expected', [
    ('2026-01-02T03:04:05Z', '2026-01-02T03:04:05.0000000Z'),
    ('2026-01-02T03:04:05.1234567Z', '2026-01-02T03:04:05.1234567Z'),
    ('2026-01-02T03:04:05.123456789Z', '2026-01-02T03:04:05.1234567Z'),
    ('2026-01-02 03:04:05.5', '2026-01-02T03:04:05.5000000Z'),
    ('2026-01-02T05:04:05.25+02:00', '2026-01-02T03:04:05.2500000Z'),
])
def test_normalize_ts(value, expected):
    """Given Microsoft timestamps with 0-9 fractional digits and offsets, When normalised, Then they become 7-digit
    UTC strings that sort as times (Python's 6 digits would merge distinct events)."""
    assert mam.normalize_ts(value) == expected


def test_normalize_ts_refuses_anything_else():
    """Given text that is not a timestamp (e.g. an OData injection), When normalised, Then it is refused."""
    with pytest.raises(ValueError, match='Unrecognised timestamp'):
        mam.normalize_ts("2026-01-01T00:00:00Z' or 1 eq 1")


def test_timestamp_round_trip():
    """Given a normalised timestamp, When turned into a datetime and back, Then microseconds survive."""
    assert mam.datetime_to_ts(mam.ts_to_datetime('2026-01-02T03:04:05.123456Z')) == '2026-01-02T03:04:05.1234560Z'


def test_response_shape_guard_names_the_problem_not_python():
    """Given a context builder that meets a list where it expects an object, When it runs inside the guard,
    Then one UnexpectedResponseError says what happened and what to do, without Python's wording."""
    with pytest.raises(mam.UnexpectedResponseError) as caught:
        with mam.response_shape_guard():
            'unexpected text'.get('id')  # type: ignore[attr-defined]
    assert 'debug-mode=true' in str(caught.value) and 'attribute' not in str(caught.value)
    assert isinstance(caught.value.__cause__, AttributeError)


@pytest.mark.parametrize('value', ['999999999999999999999999999999', '10000-01-01', 'not a date'])
def test_date_arg_names_the_argument_for_any_bad_date(value):
    """Given a date the platform's library cannot hold (OverflowError/OSError there) or cannot read, When it is parsed
    as a command argument, Then one ValueError names the argument and what is allowed."""
    with pytest.raises(ValueError, match='"lastUpdate"'):
        mam.date_arg(value, 'lastUpdate', required=True)


def test_date_arg_reads_good_dates():
    assert mam.date_arg('2024-05-31T00:00:00Z', 'since').year == 2024
    assert mam.date_arg(None, 'since') is None


# ============================================================================================================
# Errors that name what is wrong: URL parameters, unreachable hosts, reset connections, IDs out of error text
# ============================================================================================================

@pytest.mark.parametrize('value, expected', [('', ''), ('  https://login.example.com/ ', 'https://login.example.com'),
                                             ('https://gw.example.com:8443/api', 'https://gw.example.com:8443/api'),
                                             ('http://gw.example.com', 'http://gw.example.com')])
def test_url_param_accepts_https_urls(value, expected):
    """Given an empty or an http(s) URL parameter, When read, Then it is returned trimmed."""
    assert mam.url_param({'login_url': value}, 'login_url', 'Login URL', 'https://login.microsoftonline.com') == expected


@pytest.mark.parametrize('value', ['ftp://login.example.com', 'login.microsoftonline.com', 'https://', 'file:///etc/x',
                                   'https://user:pw@login.example.com', 'https://host.example:port'])
def test_url_param_names_the_parameter_and_what_is_allowed(value):
    """Given a URL parameter that is not an https:// URL with a host, When read, Then the error names the
    parameter (display and name) and says what it takes."""
    with pytest.raises(ValueError) as error:
        mam.url_param({'login_url': value}, 'login_url', 'Login URL', 'https://login.microsoftonline.com')
    assert str(error.value).startswith('Invalid "Login URL" parameter (login_url)')
    assert 'https:// URL with a host name' in str(error.value)
    assert 'pw@' not in str(error.value)


RESET = requests.exceptions.ConnectionError(
    "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))")


def test_connection_reset_is_named_as_such(requests_mock, api_client):
    """Given connections reset by the peer, When a GET (retried) and a POST (not retried) are sent, Then the error
    says the connection was reset and to run the command again, not to verify the server URL."""
    requests_mock.get(API, exc=RESET)
    with pytest.raises(DemistoException) as error:
        api_client.http_request('GET', 'security/incidents')
    assert 'graph.microsoft.com was reset before an answer arrived after 4 attempts' in str(error.value)
    assert 'Verify that the server URL' not in str(error.value)
    requests_mock.post(API, exc=RESET)
    with pytest.raises(DemistoException, match='was reset before an answer arrived .*run the command again'):
        api_client.http_request('POST', 'security/incidents', json_data={})


def test_unusable_api_url_is_named(requests_mock):
    """Given an API URL requests cannot use (ftp://), When a request is sent, Then the error says the URL is not
    usable and where to fix it, instead of only "(InvalidSchema)"."""
    requests_mock.post(TOKEN_URL, json=token_body('at-1'))
    requests_mock.get('ftp://graph.example.com/v1.0/security/incidents', exc=requests.exceptions.InvalidSchema(
        "No connection adapters were found for 'ftp://graph.example.com/v1.0/security/incidents'"))
    client = secret_client(base_url='ftp://graph.example.com/v1.0')
    with pytest.raises(DemistoException) as error:
        client.http_request('GET', 'security/incidents')
    assert 'graph.example.com is not a usable URL (InvalidSchema)' in str(error.value)
    assert 'https:// URL with a host name' in str(error.value)


def test_token_url_without_host_is_named_without_the_tenant():
    """Given a login URL without a scheme (so the token URL has no host), When a token is requested, Then the error
    names the URL's start instead of "Could not reach  to obtain a token", and not the tenant ID in its path."""
    transport = mam.TokenTransport(attempts=1)
    with pytest.raises(mam.MicrosoftAuthError) as error:
        transport.request('POST', f'login.microsoftonline.com/{TENANT}/oauth2/v2.0/token')
    message = str(error.value)
    assert '"login.microsoftonline.com" is not a usable URL' in message
    assert TENANT not in message and 'reach  ' not in message


def test_auth_errors_carry_no_tenant_or_client_id(requests_mock):
    """Given Entra naming the tenant and the client in its error, When the token request fails, Then the error's
    text (which debug mode prints as a traceback, unmasked) holds neither ID, and still says what to check."""
    description = (f"AADSTS700016: Application with identifier '{CLIENT_ID}' was not found in the directory "
                   f"'{TENANT.upper()}'.\r\nTrace ID: abc")
    requests_mock.post(TOKEN_URL, status_code=400, json={'error': 'unauthorized_client', 'error_codes': [700016],
                                                         'error_description': description})
    client = secret_client()
    with pytest.raises(mam.MicrosoftAuthError) as error:
        client.get_access_token()
    message = str(error.value)
    assert CLIENT_ID not in message and TENANT not in message.lower()
    assert '<application (client) ID>' in message and '<tenant ID>' in message
    assert 'Check the application (client) ID and the tenant ID' in message


# ------------------------------------------------------------------------------------------------------------
# Graph refusals remembered (advanced hunting on Automatic)
# ------------------------------------------------------------------------------------------------------------

def test_graph_refusal_is_remembered_per_account_for_the_ttl(mocker):
    """Given a remembered refusal, Then it is active until the TTL passes, lives in the credential's cache account
    beside its tokens (so auth-reset forgets it), and another credential's account does not see it."""
    client = secret_client()
    memo = mam.GraphRefusalMemo(client.tokens, 'hunting')
    assert not memo.active()
    memo.remember()
    assert memo.active()
    assert account(client)['graph_refusals'] == {'hunting': NOW + mam.GRAPH_REFUSAL_TTL}
    other = secret_client(client_id='9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a')
    assert not mam.GraphRefusalMemo(other.tokens, 'hunting').active()
    mocker.patch.object(mam, '_now', return_value=NOW + mam.GRAPH_REFUSAL_TTL + 1)
    assert not memo.active()
    memo.forget()
    assert 'graph_refusals' not in account(client)
    memo.remember()
    client.tokens.cache.clear()
    assert not memo.active()


def test_graph_refused_only_for_missing_permission():
    forbidden, throttled = requests.Response(), requests.Response()
    forbidden.status_code, throttled.status_code = 403, 429
    assert mam.graph_refused(DemistoException('x', res=forbidden))
    assert not mam.graph_refused(DemistoException('x', res=throttled))
    assert not mam.graph_refused(DemistoException('no response'))
    assert mam.graph_refused(mam.MicrosoftAuthError('consent', error='invalid_grant', codes=[65001]))
    assert not mam.graph_refused(mam.MicrosoftAuthError('bad secret', error='invalid_client', codes=[7000215]))


def test_http_status_and_the_graph_permission_error():
    """Given failures with and without a response, Then http_status reads the status only where there is one; and the
    permission error names the Graph permission, where to add it, and the retiring API's status when given."""
    forbidden = requests.Response()
    forbidden.status_code = 403
    assert mam.http_status(DemistoException('x', res=forbidden)) == 403
    assert mam.http_status(DemistoException('no response')) is None
    error = mam.graph_permission_error('ThreatHunting.Read.All', 'Defender XDR hunting API', 'device code', 404)
    text = str(error)
    assert 'ThreatHunting.Read.All' in text and 'Delegated permissions for the device code flow' in text
    assert 'Defender XDR hunting API, which Microsoft is retiring, refused the query too (HTTP 404)' in text
    assert 'refused the query too' not in str(mam.graph_permission_error('P', 'API', 'flow'))
