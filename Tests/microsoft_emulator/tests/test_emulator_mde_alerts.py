"""Defender for Endpoint alert relations and CreateAlertByReference (mde_alerts), and Microsoft Graph beta
tiIndicators (graph_ti_indicators): shapes, validation like the services, permissions and ownership."""
from __future__ import annotations

import pytest
import requests

from microsoft_emulator.testing import (
    GRAPH,
    MDE,
    NO_PERMISSIONS_APP_ID,
    NO_PERMISSIONS_APP_SECRET,
    OPROXY_APP_ID,
    TENANT_ID,
    access_token,
    admin,
)

OPROXY_APP_SECRET = 'emulator-oproxy-app-secret~3f4a'  # noqa: S105 - fake, test-only
TI = '/beta/security/tiIndicators'


@pytest.fixture(scope='module')
def tokens(emulator):
    return {'mde': access_token(emulator.url, scope=f'{MDE}/.default'),
            'graph': access_token(emulator.url, scope=f'{GRAPH}/.default'),
            'graph_other': access_token(emulator.url, scope=f'{GRAPH}/.default', client_id=OPROXY_APP_ID,
                                        secret=OPROXY_APP_SECRET),
            'none': access_token(emulator.url, scope=f'{MDE}/.default', client_id=NO_PERMISSIONS_APP_ID,
                                 secret=NO_PERMISSIONS_APP_SECRET)}


@pytest.fixture
def api(emulator, emulator_reset, tokens):
    def call(method, path, token='mde', **kwargs):  # noqa: S107 - a key of the tokens fixture
        return requests.request(method, f'{emulator.url}{path}', timeout=30,
                                headers={'Authorization': f'Bearer {tokens[token]}', **kwargs.pop('headers', {})},
                                **kwargs)
    return call


def an_alert(api):
    return api('GET', '/api/alerts', params={'$expand': 'evidence'}).json()['value'][0]


# ----- Defender for Endpoint alerts ---------------------------------------------------------------------------------

def test_create_alert_by_reference(api, emulator):
    machine = admin(emulator.url, 'GET', '/mde/machines')[0]
    body = {'machineId': machine['id'], 'severity': 'High', 'title': 'From hunting', 'description': 'd',
            'recommendedAction': 'r', 'eventTime': '2024-05-01T10:00:00Z', 'reportId': '77', 'category': 'Malware'}
    res = api('POST', '/api/alerts/CreateAlertByReference', json=body)
    assert res.status_code == 200
    alert = res.json()
    assert (alert['title'], alert['status'], alert['machineId']) == ('From hunting', 'New', machine['id'])
    assert alert['firstEventTime'] == '2024-05-01T10:00:00Z' and alert['detectionSource'] == 'CustomDetection'
    assert api('GET', f"/api/alerts/{alert['id']}").json()['title'] == 'From hunting'


@pytest.mark.parametrize('change,status,text', [
    ({'title': ''}, 400, 'title'), ({'severity': 'Critical'}, 400, 'severity'),
    ({'eventTime': 'yesterday'}, 400, 'eventTime'), ({'machineId': 'nope'}, 404, 'nope')])
def test_create_alert_validation(api, emulator, change, status, text):
    machine = admin(emulator.url, 'GET', '/mde/machines')[0]
    body = {'machineId': machine['id'], 'severity': 'Low', 'title': 't', 'description': 'd', 'recommendedAction': 'r',
            'eventTime': '2024-05-01T10:00:00Z', 'reportId': '1', 'category': 'Malware', **change}
    res = api('POST', '/api/alerts/CreateAlertByReference', json=body)
    assert res.status_code == status and text in res.json()['error']['message']


def test_alert_relations_agree(api):
    """Given an alert, When its user, files, IPs and domains are read, Then each leads back to the alert."""
    alert = an_alert(api)
    user = api('GET', f"/api/alerts/{alert['id']}/user").json()
    assert user['accountName'] == alert['relatedUser']['userName'] and user['firstSeen'].endswith('Z')
    files = api('GET', f"/api/alerts/{alert['id']}/files").json()['value']
    assert files and files[0]['sha1'] == alert['evidence'][0]['sha1']
    ips = api('GET', f"/api/alerts/{alert['id']}/ips").json()['value']
    domains = api('GET', f"/api/alerts/{alert['id']}/domains").json()['value']
    for path in (f"/api/files/{files[0]['sha1']}/alerts", f"/api/ips/{ips[0]['id']}/alerts",
                 f"/api/domains/{domains[0]['host']}/alerts", f"/api/users/{user['accountName']}/alerts",
                 f"/api/machines/{alert['machineId']}/alerts"):
        assert alert['id'] in [a['id'] for a in api('GET', path).json()['value']], path


@pytest.mark.parametrize('path,status', [
    ('/api/alerts/nope/user', 404), ('/api/alerts/nope/files', 404), ('/api/ips/not-an-ip/alerts', 400),
    ('/api/files/xyz/alerts', 400), ('/api/machines/nope/alerts', 404)])
def test_alert_relation_errors(api, path, status):
    res = api('GET', path)
    assert res.status_code == status and res.json()['error']['code']


def test_alert_routes_need_permissions(api):
    alert = an_alert(api)
    assert api('GET', f"/api/alerts/{alert['id']}/user", token='none').status_code == 403
    assert api('GET', f"/api/machines/{alert['machineId']}/alerts", token='none').status_code == 403


# ----- Graph tiIndicators -------------------------------------------------------------------------------------------

def indicator(**changes):
    return {'action': 'block', 'description': 'bad file', 'expirationDateTime': '2030-01-01T00:00:00Z',
            'targetProduct': 'Microsoft Defender ATP', 'threatType': 'Malware', 'tlpLevel': 'green',
            'fileHashType': 'sha256', 'fileHashValue': 'ab' * 32, **changes}


def test_ti_create_get_update_delete(api):
    created = api('POST', TI, token='graph', json=indicator(severity=5))
    assert created.status_code == 201
    item = created.json()
    assert item['azureTenantId'] == TENANT_ID and item['isActive'] is True and item['severity'] == 5
    assert api('GET', f"{TI}/{item['id']}", token='graph').json()['fileHashValue'] == 'ab' * 32
    quiet = api('PATCH', f"{TI}/{item['id']}", token='graph', json={'description': 'quiet'})
    assert quiet.status_code == 204 and not quiet.content
    loud = api('PATCH', f"{TI}/{item['id']}", token='graph', json={'severity': 1},
               headers={'Prefer': 'return=representation'})
    assert loud.status_code == 200 and (loud.json()['description'], loud.json()['severity']) == ('quiet', 1)
    assert api('DELETE', f"{TI}/{item['id']}", token='graph').status_code == 204
    assert api('GET', f"{TI}/{item['id']}", token='graph').status_code == 404


@pytest.mark.parametrize('body,text', [
    ({k: v for k, v in indicator().items() if k != 'tlpLevel'}, 'tlpLevel'),
    (indicator(fileHashValue=None, fileHashType=None), 'observable'),
    (indicator(description='x' * 101), '100 characters'), (indicator(severity=6), 'severity'),
    (indicator(action='quarantine'), 'action'), (indicator(targetProduct='Splunk'), 'targetProduct'),
    (indicator(expirationDateTime='soon'), 'expirationDateTime'), (indicator(color='red'), 'color')])
def test_ti_create_validation(api, body, text):
    res = api('POST', TI, token='graph', json=body)
    assert res.status_code == 400 and text in res.json()['error']['message']


def test_ti_paging_and_ownership(api):
    """Given indicators of two apps, When each lists with $top=1, Then pages follow nextLink and each app sees only
    what it submitted (ThreatIndicators.ReadWrite.OwnedBy)."""
    mine = {api('POST', TI, token='graph', json=indicator(description=f'n{n}')).json()['id'] for n in range(2)}
    other = api('POST', TI, token='graph_other', json=indicator()).json()['id']
    seen, url = [], f'{TI}?$top=1'
    while url:
        body = api('GET', url, token='graph').json()
        assert len(body['value']) <= 1
        seen += [i['id'] for i in body['value']]
        link = body.get('@odata.nextLink')
        url = link.split('://', 1)[1].split('/', 1)[1] if link else None
        url = f'/{url}' if url else None
    assert mine <= set(seen) and other not in seen and len(seen) == len(set(seen))
    assert api('GET', f'{TI}/{other}', token='graph').status_code == 404
    assert api('DELETE', f'{TI}/{other}', token='graph').status_code == 404


def test_ti_needs_a_graph_token(api):
    assert api('GET', TI, token='mde').status_code == 401
    assert api('GET', TI, token='graph', params={'$top': '0'}).status_code == 400
