"""Certificate credentials: signed client assertions (RS256 + x5t, PS256 + x5t#S256) and their failures."""
from __future__ import annotations

import time
import uuid

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from microsoft_emulator.certs import private_key_pem
from microsoft_emulator.testing import CERT_APP_ID, MDE, TENANT_ID, admin

pytestmark = pytest.mark.usefixtures('emulator_reset')
ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'


@pytest.fixture
def cert(emulator):
    return admin(emulator.url, 'GET', f'/apps/{CERT_APP_ID}/certificate')


def make_assertion(emulator, cert, *, alg='RS256', header=None, key=None, aud=None, exp_in=600, iss=CERT_APP_ID,
                   jti=None, nbf_in=0):
    now = int(time.time())
    claims = {'aud': aud or f'{emulator.url}/{TENANT_ID}/oauth2/v2.0/token', 'iss': iss, 'sub': iss,
              'jti': jti or str(uuid.uuid4()), 'nbf': now + nbf_in, 'iat': now, 'exp': now + exp_in}
    headers = header if header is not None else ({'x5t': cert['x5t']} if alg == 'RS256'
                                                 else {'x5t#S256': cert['x5t#S256']})
    return jwt.encode(claims, key or cert['private_key_pem'], algorithm=alg, headers=headers)


def redeem(emulator, assertion, client_id=CERT_APP_ID, assertion_type=ASSERTION_TYPE):
    return requests.post(f'{emulator.url}/{TENANT_ID}/oauth2/v2.0/token', timeout=5, data={
        'grant_type': 'client_credentials', 'client_id': client_id, 'scope': f'{MDE}/.default',
        'client_assertion_type': assertion_type, 'client_assertion': assertion})


def test_certificate_details_exposed(cert):
    assert len(cert['thumbprint_sha1']) == 40 and len(cert['thumbprint_sha256']) == 64
    assert cert['private_key_pem'].startswith('-----BEGIN PRIVATE KEY-----')
    assert cert['certificate_pem'].startswith('-----BEGIN CERTIFICATE-----')


@pytest.mark.parametrize('alg', ['RS256', 'PS256'])
def test_assertion_accepted(emulator, cert, alg):
    response = redeem(emulator, make_assertion(emulator, cert, alg=alg))
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()['access_token'], options={'verify_signature': False})
    assert claims['appid'] == CERT_APP_ID and claims['appidacr'] == '2' and 'Machine.Isolate' in claims['roles']


def test_v1_audience_and_login_host_accepted(emulator, cert):
    aud = f'https://login.microsoftonline.com/{TENANT_ID}/oauth2/token'
    assert redeem(emulator, make_assertion(emulator, cert, aud=aud)).status_code == 200


def _error_code(response):
    assert response.status_code == 401, response.text
    assert response.json()['error'] == 'invalid_client'
    return response.json()['error_codes'][0]


def test_unregistered_thumbprint_700027(emulator, cert):
    response = redeem(emulator, make_assertion(emulator, cert, header={'x5t': 'AAAAAAAAAAAAAAAAAAAAAAAAAAA'}))
    assert _error_code(response) == 700027
    assert 'not registered on application' in response.json()['error_description']


def test_bad_signature_700027(emulator, cert):
    other = private_key_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    response = redeem(emulator, make_assertion(emulator, cert, key=other))
    assert _error_code(response) == 700027
    assert 'signature' in response.json()['error_description']


def test_missing_thumbprint_700027(emulator, cert):
    assert _error_code(redeem(emulator, make_assertion(emulator, cert, header={}))) == 700027


def test_wrong_audience_700027(emulator, cert):
    response = redeem(emulator, make_assertion(emulator, cert, aud='https://example.com/token'))
    assert _error_code(response) == 700027 and 'audience' in response.json()['error_description']


def test_expired_and_not_yet_valid_700024(emulator, cert):
    assert _error_code(redeem(emulator, make_assertion(emulator, cert, exp_in=-3600))) == 700024
    assert _error_code(redeem(emulator, make_assertion(emulator, cert, nbf_in=3600, exp_in=7200))) == 700024


def test_issuer_must_be_client_700021(emulator, cert):
    assert _error_code(redeem(emulator, make_assertion(emulator, cert, iss=str(uuid.uuid4())))) == 700021


def test_jti_cannot_be_reused(emulator, cert):
    assertion = make_assertion(emulator, cert, jti='same-jti')
    assert redeem(emulator, assertion).status_code == 200
    response = redeem(emulator, assertion)
    assert _error_code(response) == 700027 and 'already used' in response.json()['error_description']


def test_wrong_assertion_type_900144(emulator, cert):
    response = redeem(emulator, make_assertion(emulator, cert), assertion_type='urn:other')
    assert response.status_code == 400 and response.json()['error_codes'] == [900144]


def test_no_credentials_7000218(emulator):
    response = requests.post(f'{emulator.url}/{TENANT_ID}/oauth2/v2.0/token', timeout=5, data={
        'grant_type': 'client_credentials', 'client_id': CERT_APP_ID, 'scope': f'{MDE}/.default'})
    assert _error_code(response) == 7000218


def test_runtime_app_with_certificate_pem(emulator):
    from microsoft_emulator.certs import self_signed_certificate

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert_pem = self_signed_certificate(key, 'runtime app')
    client_id = str(uuid.uuid4())
    created = admin(emulator.url, 'POST', '/apps', json={
        'tenant_id': TENANT_ID, 'client_id': client_id, 'certificate_pem': cert_pem, 'permissions': ['Machine.Scan']})
    info = created['certificates'][0]
    now = int(time.time())
    assertion = jwt.encode({'aud': f'{emulator.url}/{TENANT_ID}/oauth2/v2.0/token', 'iss': client_id,
                            'sub': client_id, 'jti': 'x', 'nbf': now, 'exp': now + 300}, key, algorithm='RS256',
                           headers={'x5t': info['x5t']})
    response = redeem(emulator, assertion, client_id=client_id)
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()['access_token'], options={'verify_signature': False})
    assert claims['roles'] == ['Machine.Scan']
