"""Workload identity federation: the emulated OIDC issuer (discovery, JWKS, minted service-account tokens) and
federated client assertions on the token endpoint, with Entra's errors for each mismatch."""
from __future__ import annotations

import time
import uuid

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from microsoft_emulator.certs import private_key_pem
from microsoft_emulator.state import EmulatorState, SeedError, load_seed
from microsoft_emulator.testing import (
    CERT_APP_ID,
    GRAPH,
    MDE,
    SECRET_APP_ID,
    TENANT_ID,
    WORKLOAD_AUDIENCE,
    WORKLOAD_ISSUER_NAME,
    WORKLOAD_SUBJECT,
    admin,
    federated_token,
    workload_identity_issuer,
)

pytestmark = pytest.mark.usefixtures('emulator_reset')
ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'


def redeem(emulator, assertion, client_id=SECRET_APP_ID, scope=f'{MDE}/.default', version='v2.0'):
    path = f'{TENANT_ID}/oauth2/v2.0/token' if version == 'v2.0' else f'{TENANT_ID}/oauth2/token'
    data = {'grant_type': 'client_credentials', 'client_id': client_id, 'client_assertion_type': ASSERTION_TYPE,
            'client_assertion': assertion}
    data |= {'scope': scope} if version == 'v2.0' else {'resource': MDE}
    return requests.post(f'{emulator.url}/{path}', timeout=5, data=data)


def error_of(response, status=401):
    assert response.status_code == status, response.text
    body = response.json()
    [code] = body['error_codes']
    assert body['error_description'].startswith(f'AADSTS{code}: ')
    return body['error'], code, body['error_description']


def forged(emulator, *, key=None, kid=None, **claim_overrides):
    """A token that looks like the issuer's but is signed with another key."""
    now = int(time.time())
    claims = {'iss': workload_identity_issuer(emulator.url), 'sub': WORKLOAD_SUBJECT, 'aud': [WORKLOAD_AUDIENCE],
              'iat': now, 'nbf': now, 'exp': now + 600} | claim_overrides
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    headers = {'kid': kid} if kid else {}
    return jwt.encode(claims, private_key_pem(key), algorithm='RS256', headers=headers)


def test_federated_token_gives_the_apps_roles(emulator):
    token = federated_token(emulator.url)
    response = redeem(emulator, token)
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()['access_token'], options={'verify_signature': False})
    assert claims['appid'] == SECRET_APP_ID and claims['tid'] == TENANT_ID and claims['idtyp'] == 'app'
    assert claims['appidacr'] == '2' and 'Machine.Isolate' in claims['roles']
    # The projected token is reused until it is rotated: no single-use rule as for certificate assertions' jti.
    assert redeem(emulator, token).status_code == 200
    assert redeem(emulator, token, version='v1').json()['resource'] == MDE
    [entry, *_] = emulator.requests(host='login')
    assert entry['assertion_kind'] == 'federated' and entry['assertion_subject'] == WORKLOAD_SUBJECT


def test_minted_token_is_service_account_shaped(emulator):
    minted = admin(emulator.url, 'POST', f'/oidc/{WORKLOAD_ISSUER_NAME}/token', json={'subject': WORKLOAD_SUBJECT})
    claims = minted['claims']
    assert claims['iss'] == workload_identity_issuer(emulator.url) == minted['issuer']
    assert claims['aud'] == [WORKLOAD_AUDIENCE] and claims['sub'] == WORKLOAD_SUBJECT
    assert claims['exp'] - claims['iat'] == 3600 and claims['nbf'] == claims['iat']
    assert claims['kubernetes.io']['namespace'] == 'xsoar'
    assert claims['kubernetes.io']['serviceaccount']['name'] == 'engine'
    assert jwt.get_unverified_header(minted['token'])['kid'] == minted['kid']


def test_discovery_document_and_jwks(emulator):
    issuer = workload_identity_issuer(emulator.url)
    config = requests.get(f'{issuer}/.well-known/openid-configuration', timeout=5).json()
    assert config['issuer'] == issuer
    assert config['jwks_uri'] == f'{issuer}/openid/v1/jwks'
    assert config['id_token_signing_alg_values_supported'] == ['RS256']
    assert config['response_types_supported'] == ['id_token'] and config['subject_types_supported'] == ['public']
    [jwk] = requests.get(config['jwks_uri'], timeout=5).json()['keys']
    assert jwk['kty'] == 'RSA' and jwk['use'] == 'sig' and jwk['alg'] == 'RS256' and jwk['e'] == 'AQAB'
    assert set(jwk) >= {'kid', 'n'}
    # The published key verifies what the issuer mints, as Entra would check it.
    token = federated_token(emulator.url)
    assert jwt.get_unverified_header(token)['kid'] == jwk['kid']
    claims = jwt.decode(token, RSAAlgorithm.from_jwk(jwk), algorithms=['RS256'], audience=WORKLOAD_AUDIENCE,
                        issuer=issuer)
    assert claims['sub'] == WORKLOAD_SUBJECT
    assert [e['host'] for e in emulator.requests(path=f'/_emulator/oidc/{WORKLOAD_ISSUER_NAME}/openid/v1/jwks')] \
        == ['oidc']


def test_issuer_key_survives_reset_and_restart(emulator, tmp_path):
    before = requests.get(f'{workload_identity_issuer(emulator.url)}/openid/v1/jwks', timeout=5).json()
    admin(emulator.url, 'POST', '/reset')
    after = requests.get(f'{workload_identity_issuer(emulator.url)}/openid/v1/jwks', timeout=5).json()
    assert before == after
    first = EmulatorState(load_seed(None), tmp_path).oidc_issuer_key('cluster-1')
    again = EmulatorState(load_seed(None), tmp_path).oidc_issuer_key('cluster-1')
    assert first is not None and again is not None and first.kid == again.kid
    assert (tmp_path / 'oidc' / 'cluster-1.pem').exists()


def test_wrong_subject_700213(emulator):
    error, code, description = error_of(redeem(emulator, federated_token(emulator.url,
                                                                          subject='system:serviceaccount:xsoar:other')))
    assert (error, code) == ('invalid_client', 700213)
    assert ("No matching federated identity record found for presented assertion subject "
            "'system:serviceaccount:xsoar:other'") in description


def test_wrong_issuer_700211(emulator):
    token = federated_token(emulator.url, issuer='other-cluster')
    error, code, description = error_of(redeem(emulator, token))
    assert (error, code) == ('invalid_client', 700211)
    assert f"presented assertion issuer '{workload_identity_issuer(emulator.url, 'other-cluster')}'" in description


def test_app_without_federated_credentials_700211(emulator):
    _, code, _ = error_of(redeem(emulator, federated_token(emulator.url), client_id=CERT_APP_ID))
    assert code == 700211


def test_wrong_audience_700212(emulator):
    _, code, description = error_of(redeem(emulator, federated_token(emulator.url, audience='api://other')))
    assert code == 700212
    assert "No matching federated identity record found for presented assertion audience 'api://other'" in description


def test_expired_token_700024(emulator):
    token = federated_token(emulator.url, lifetime=3600, issued_seconds_ago=7200)
    _, code, description = error_of(redeem(emulator, token))
    assert code == 700024 and 'not within its valid time range' in description


def test_not_yet_valid_token_700024(emulator):
    token = federated_token(emulator.url, issued_seconds_ago=-3600)
    assert error_of(redeem(emulator, token))[1] == 700024


def test_tampered_signature_700027(emulator):
    header, payload, signature = federated_token(emulator.url).split('.')
    tampered = f'{header}.{payload}.{signature[:-6]}{"AAAAAA" if not signature.endswith("AAAAAA") else "BBBBBB"}'
    _, code, description = error_of(redeem(emulator, tampered))
    assert code == 700027 and 'signature is invalid' in description


def test_foreign_key_with_the_issuers_kid_700027(emulator):
    kid = jwt.get_unverified_header(federated_token(emulator.url))['kid']
    _, code, _ = error_of(redeem(emulator, forged(emulator, kid=kid)))
    assert code == 700027


def test_key_not_in_issuer_metadata_7000272(emulator):
    federated_token(emulator.url)          # the issuer exists
    _, code, description = error_of(redeem(emulator, forged(emulator, kid='some-other-key')))
    assert code == 7000272
    assert 'some-other-key used to sign the federated credential could not be found' in description


def test_issuer_the_emulator_does_not_host_7000272(emulator):
    external = 'https://oidc.prod-aks.azure.com/00000000-0000-0000-0000-000000000000/'
    client_id = str(uuid.uuid4())
    admin(emulator.url, 'POST', '/apps', json={
        'tenant_id': TENANT_ID, 'client_id': client_id, 'permissions': ['graph:ThreatHunting.Read.All'],
        'federated_credentials': [{'issuer': external, 'subject': WORKLOAD_SUBJECT}]})
    response = redeem(emulator, forged(emulator, iss=external, kid='k1'), client_id=client_id,
                      scope=f'{GRAPH}/.default')
    _, code, description = error_of(response)
    assert code == 7000272 and 'hosts OIDC issuers only at' in description


def test_runtime_app_with_federated_credential(emulator):
    client_id = str(uuid.uuid4())
    created = admin(emulator.url, 'POST', '/apps', json={
        'tenant_id': TENANT_ID, 'client_id': client_id, 'permissions': ['graph:ThreatHunting.Read.All'],
        'federated_credentials': [{'issuer': 'oidc:build-agents', 'subject': 'repo:contoso/soc:ref:refs/heads/main',
                                   'audiences': ['api://AzureADTokenExchange']}]})
    assert created['federated_credentials'][0]['issuer'] == 'oidc:build-agents'
    token = federated_token(emulator.url, issuer='build-agents', subject='repo:contoso/soc:ref:refs/heads/main')
    response = redeem(emulator, token, client_id=client_id, scope=f'{GRAPH}/.default')
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()['access_token'], options={'verify_signature': False})
    assert claims['appid'] == client_id and claims['roles'] == ['ThreatHunting.Read.All']


def test_certificate_assertion_with_a_foreign_issuer_stays_700021(emulator):
    cert = admin(emulator.url, 'GET', f'/apps/{CERT_APP_ID}/certificate')
    now = int(time.time())
    assertion = jwt.encode({'aud': f'{emulator.url}/{TENANT_ID}/oauth2/v2.0/token', 'iss': 'someone-else',
                            'sub': 'someone-else', 'jti': str(uuid.uuid4()), 'nbf': now, 'iat': now, 'exp': now + 600},
                           cert['private_key_pem'], algorithm='RS256', headers={'x5t': cert['x5t']})
    assert error_of(redeem(emulator, assertion, client_id=CERT_APP_ID))[1] == 700021


@pytest.mark.parametrize('credentials, message', [
    ([{'subject': 'x'}], 'needs an issuer and a subject'),
    ([{'issuer': 'oidc:bad name', 'subject': 'x'}], 'does not name an emulated OIDC issuer'),
    ([{'issuer': 'cluster', 'subject': 'x'}], 'must be a URL or oidc:<name>'),
    ([{'issuer': 'oidc:a', 'subject': 'x', 'audiences': []}], 'non-empty list of audiences'),
    ([{'issuer': 'oidc:a', 'subject': 'x'}, {'issuer': 'oidc:a', 'subject': 'x'}], 'two federated credentials'),
])
def test_seed_validation(tmp_path, credentials, message):
    seed = load_seed(None)
    seed['apps'][0]['federated_credentials'] = credentials
    with pytest.raises(SeedError, match=message):
        EmulatorState(seed, tmp_path)


def test_mint_needs_a_subject_and_a_valid_issuer_name(emulator):
    response = requests.post(f'{emulator.url}/_emulator/oidc/aks/token', json={}, timeout=5)
    assert response.status_code == 400 and 'subject' in response.json()['error']
    response = requests.post(f'{emulator.url}/_emulator/oidc/bad%20name/token', json={'subject': 's'}, timeout=5)
    assert response.status_code == 400
