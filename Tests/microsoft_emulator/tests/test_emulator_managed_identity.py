"""Managed identities: Azure IMDS and the App Service identity endpoint."""
from __future__ import annotations

import jwt
import pytest
import requests

from microsoft_emulator.testing import (
    APP_SERVICE_IDENTITY_HEADER,
    GRAPH,
    M365D,
    SYSTEM_MI_CLIENT_ID,
    TENANT_ID,
    USER_MI_CLIENT_ID,
)

pytestmark = pytest.mark.usefixtures('emulator_reset')


def imds(emulator, headers=None, **params):
    query = {'api-version': '2018-02-01'} | params
    return requests.get(f'{emulator.url}/metadata/identity/oauth2/token', params=query, timeout=5,
                        headers={'Metadata': 'true'} if headers is None else headers)


def test_system_assigned(emulator):
    response = imds(emulator, resource=f'{M365D}/')
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {'access_token', 'refresh_token', 'client_id', 'expires_in', 'expires_on', 'ext_expires_in', 'not_before',
                         'resource', 'token_type'}
    assert all(isinstance(body[k], str) for k in ('expires_in', 'expires_on', 'ext_expires_in', 'not_before'))
    assert body['resource'] == f'{M365D}/' and body['client_id'] == SYSTEM_MI_CLIENT_ID
    claims = jwt.decode(body['access_token'], options={'verify_signature': False})
    assert claims['aud'] == M365D and claims['tid'] == TENANT_ID and claims['appid'] == SYSTEM_MI_CLIENT_ID
    assert set(claims['roles']) == {'AdvancedHunting.Read.All', 'Incident.ReadWrite.All'}
    assert int(body['expires_in']) == 86399


def test_user_assigned_by_client_id(emulator):
    response = imds(emulator, resource=GRAPH, client_id=USER_MI_CLIENT_ID)
    claims = jwt.decode(response.json()['access_token'], options={'verify_signature': False})
    assert claims['appid'] == USER_MI_CLIENT_ID and claims['roles'] == ['ThreatIntelligence.Read.All']
    assert 'xms_mirid' in claims


def test_metadata_header_required(emulator):
    response = imds(emulator, headers={}, resource=GRAPH)
    assert response.status_code == 400
    assert response.json() == {'error': 'invalid_request', 'error_description': 'Required metadata header not specified'}


def test_unknown_identity(emulator):
    response = imds(emulator, resource=GRAPH, client_id='00000000-0000-4000-8000-000000000000')
    assert response.status_code == 400
    assert response.json() == {'error': 'invalid_request', 'error_description': 'Identity not found'}


def test_unknown_resource(emulator):
    response = imds(emulator, resource='https://nope.example/')
    assert response.status_code == 400 and response.json()['error'] == 'invalid_resource'
    assert 'AADSTS500011' in response.json()['error_description']


def test_missing_resource_and_api_version(emulator):
    assert imds(emulator).json()['error_description'] == 'Required audience parameter not specified'
    response = requests.get(f'{emulator.url}/metadata/identity/oauth2/token', params={'resource': GRAPH},
                            headers={'Metadata': 'true'}, timeout=5)
    assert response.status_code == 400 and 'api-version' in response.json()['error_description']


def app_service(emulator, header=APP_SERVICE_IDENTITY_HEADER, **params):
    query = {'api-version': '2019-08-01', 'resource': GRAPH} | params
    return requests.get(f'{emulator.url}/msi/token', params=query, headers={'X-IDENTITY-HEADER': header}, timeout=5)


def test_app_service_endpoint(emulator):
    response = app_service(emulator, client_id=USER_MI_CLIENT_ID)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body['token_type'] == 'Bearer' and body['client_id'] == USER_MI_CLIENT_ID and body['expires_on'].isdigit()
    assert app_service(emulator).json()['client_id'] == SYSTEM_MI_CLIENT_ID


def test_app_service_requires_identity_header(emulator):
    response = app_service(emulator, header='wrong')
    assert response.status_code == 401 and response.json()['statusCode'] == 401


def test_app_service_api_version(emulator):
    assert app_service(emulator, **{'api-version': '2017-09-01'}).status_code == 400


def test_log_marks_managed_identity_hosts(emulator):
    imds(emulator, resource=GRAPH)
    app_service(emulator)
    log = requests.get(f'{emulator.url}/_emulator/requests', timeout=5).json()
    assert [(e['host'], e['client_id']) for e in log] == [('imds', SYSTEM_MI_CLIENT_ID),
                                                          ('appservice', SYSTEM_MI_CLIENT_ID)]
