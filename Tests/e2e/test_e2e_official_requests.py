"""Tolerance: the official integrations' own requests are accepted by the emulator, where Microsoft accepts them.

The requests are rebuilt field by field the way the official code in demisto/content builds them (the shared
MicrosoftApiModule's token requests; Microsoft 365 Defender's, Defender for Endpoint's and Defender Threat
Intelligence's API calls: method, path, query names and body fields), and sent to the emulator over HTTPS. The
emulator is strict only where Microsoft is (see "Deliberately strict" in Tests/microsoft_emulator/README.md); these
requests work against Microsoft, so each must work here too.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from microsoft_emulator.testing import (
    SECRET_APP_ID,
    SECRET_APP_SECRET,
    SYSTEM_MI_CLIENT_ID,
    TENANT_ID,
    XSOAR_M365D_APP_ID,
    XSOAR_MDTI_APP_ID,
    admin,
)

pytestmark = pytest.mark.e2e

# The scopes as the official integrations set them (Microsoft365Defender.py, MicrosoftDefenderAdvancedThreatProtection.py,
# MicrosoftDefenderThreatIntelligence.py and MicrosoftApiModule's Scopes/Resources constants).
M365D_SCOPE = 'offline_access https://security.microsoft.com/mtp/.default'
MDE_SCOPE = 'https://securitycenter.onmicrosoft.com/windowsatpservice/.default'
GRAPH_SCOPE = 'https://graph.microsoft.com/.default'
MDTI_DEVICE_SCOPE = 'offline_access ThreatIntelligence.Read.All'
DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'


@pytest.fixture
def emu(e2e_emulator) -> Any:
    """(url, ca) of the session's HTTPS emulator, its products back to their seed."""
    url, ca = e2e_emulator.url, str(e2e_emulator.ca_path)
    admin(url, 'POST', '/mde/reset', verify=ca)
    admin(url, 'POST', '/xdr/reset', verify=ca)
    return url, ca


def post_form(emu: Any, path: str, data: dict[str, Any]) -> requests.Response:
    """``requests.post(url, data)`` as MicrosoftApiModule sends it: form-encoded, None values dropped."""
    url, ca = emu
    return requests.post(f'{url}{path}', data={k: v for k, v in data.items() if v is not None}, verify=ca, timeout=30)


def client_credentials(emu: Any, scope: str) -> requests.Response:
    """``_get_self_deployed_token_client_credentials``: client_id, client_secret, grant_type, then scope (and
    resource only when the client has one; none of the three sets one in this flow), to the v2.0 token URL."""
    return post_form(emu, f'/{TENANT_ID}/oauth2/v2.0/token', {
        'client_id': SECRET_APP_ID, 'client_secret': SECRET_APP_SECRET, 'grant_type': 'client_credentials',
        'scope': scope})


def token(response: requests.Response) -> str:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body['token_type'] == 'Bearer' and body['access_token']
    return str(body['access_token'])


def call(emu: Any, bearer: str, method: str, path: str, params: Any = None, body: Any = None) -> requests.Response:
    url, ca = emu
    return requests.request(method, f'{url}{path}', params=params, json=body, verify=ca, timeout=60,
                            headers={'Authorization': f'Bearer {bearer}'})


# ----- token requests -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize('integration,scope', [
    ('Microsoft 365 Defender', M365D_SCOPE),              # offline_access beside .default: Entra accepts it
    ('Defender for Endpoint', MDE_SCOPE),
    ('Defender for Endpoint (Graph tiIndicators)', GRAPH_SCOPE),
    ('Defender Threat Intelligence', GRAPH_SCOPE),
])
def test_official_client_credentials_token_requests(emu, integration, scope):
    """Given the client credentials request each official integration sends, Then the emulator issues a token."""
    assert token(client_credentials(emu, scope)), integration


@pytest.mark.parametrize('client_id,scope,token_path', [
    # Microsoft 365 Defender: the Cortex XSOAR app, token URL login.windows.net/organizations/oauth2/v2.0/token
    (XSOAR_M365D_APP_ID, M365D_SCOPE, '/organizations/oauth2/v2.0/token'),
    # Defender Threat Intelligence: the Cortex XSOAR app with a bare Graph permission name
    (XSOAR_MDTI_APP_ID, MDTI_DEVICE_SCOPE, '/organizations/oauth2/v2.0/token'),
])
def test_official_device_code_requests(emu, client_id, scope, token_path):
    """Given the official device code start (client_id, scope) and completion (client_id, grant_type and the code in
    the field ``code``, no per-call scope), Then the emulator answers both (sign-in approved at once here)."""
    started = post_form(emu, '/organizations/oauth2/v2.0/devicecode', {'client_id': client_id, 'scope': scope})
    assert started.status_code == 200, started.text
    device_code = started.json()['device_code']
    completed = post_form(emu, token_path, {'client_id': client_id, 'scope': None, 'grant_type': DEVICE_CODE_GRANT,
                                            'code': device_code})
    assert token(completed) and completed.json()['refresh_token']


@pytest.mark.parametrize('resource', [
    'https://api.security.microsoft.com/',                   # Microsoft 365 Defender (Resources.security)
    'https://api.securitycenter.microsoft.com',              # Defender for Endpoint (its API base)
    'https://graph.microsoft.com/',                          # Defender Threat Intelligence (Resources.graph)
])
def test_official_managed_identity_requests(emu, resource):
    """Given the official IMDS request (GET, api-version 2018-02-01, resource, client_id for a user-assigned
    identity, header Metadata: True), Then a token."""
    url, ca = emu
    response = requests.get(f'{url}/metadata/identity/oauth2/token', verify=ca, timeout=30,
                            params={'api-version': '2018-02-01', 'resource': resource,
                                    'client_id': SYSTEM_MI_CLIENT_ID}, headers={'Metadata': 'True'})
    assert token(response)


# ----- API requests -------------------------------------------------------------------------------------------------

def test_official_m365d_api_requests(emu):
    """Given a token from the official scope, When the official incident and hunting calls are sent, Then each is
    answered."""
    bearer = token(client_credentials(emu, M365D_SCOPE))
    since = (datetime.now(UTC) - timedelta(days=30)).strftime('%Y-%m-%dT%H:%M:%SZ')
    listed = call(emu, bearer, 'GET', '/api/incidents', {'$top': 100, '$filter': "status eq 'Active'", '$skip': 0})
    assert listed.status_code == 200, listed.text
    incident_id = listed.json()['value'][0]['incidentId']
    fetched = call(emu, bearer, 'GET', '/api/incidents', {'$top': 100, '$filter': f'createdTime gt {since}',
                                                          '$skip': 100})
    assert fetched.status_code == 200, fetched.text
    assert call(emu, bearer, 'GET', '/api/incidents',
                {'$filter': f'lastUpdateTime gt {since}', '$skip': 0}).status_code == 200
    assert call(emu, bearer, 'GET', f'/api/incidents/{incident_id}').status_code == 200
    hunt = call(emu, bearer, 'POST', '/api/advancedhunting/run', body={'Query': 'AlertInfo | take 5'})
    assert hunt.status_code == 200, hunt.text


def test_official_mde_api_requests(emu):
    """Given a token from the official windowsatpservice scope, When the official machine, fetch, indicator and
    hunting calls are sent, Then each is answered (the fetch filter joins terms with '+', as the official sends)."""
    bearer = token(client_credentials(emu, MDE_SCOPE))
    machines = call(emu, bearer, 'GET', '/api/machines', {'$filter': "healthStatus eq 'Active'", '$top': 50,
                                                          '$skip': 0})
    assert machines.status_code == 200, machines.text
    since = (datetime.now(UTC) - timedelta(days=30)).strftime('%Y-%m-%dT%H:%M:%S.%fZ')
    fetch_filter = (f"alertCreationTime+gt+{since} and ((status+eq+'New') or (status+eq+'InProgress')) and "
                    "((severity+eq+'Medium') or (severity+eq+'High'))")
    alerts = call(emu, bearer, 'GET', '/api/alerts', {'$filter': fetch_filter, '$orderby': 'alertCreationTime asc',
                                                      '$top': '50', '$expand': 'evidence'})
    assert alerts.status_code == 200, alerts.text
    assert alerts.json()['value'], 'the official fetch filter matched nothing'
    indicators = call(emu, bearer, 'GET', '/api/indicators', {'$top': 50, '$skip': 0})
    assert indicators.status_code in (200, 404), indicators.text          # 404: no indicators, as documented
    hunt = call(emu, bearer, 'POST', '/api/advancedqueries/run', body={'Query': 'DeviceInfo | take 3'})
    assert hunt.status_code == 200, hunt.text


def test_official_mdti_api_requests(emu):
    """Given a Graph token, When the official list call is sent as it builds it (``?$top=N&`` then its odata, which
    leaves a trailing '&' when there is none), Then it is answered."""
    url, ca = emu
    bearer = token(client_credentials(emu, GRAPH_SCOPE))
    for suffix in ('articles?$top=50&', 'intelProfiles?$top=5&', 'articles?$top=1&$select=id,title'):
        response = requests.get(f'{url}/v1.0/security/threatIntelligence/{suffix}', verify=ca, timeout=30,
                                headers={'Authorization': f'Bearer {bearer}'})
        assert response.status_code == 200, (suffix, response.text)
