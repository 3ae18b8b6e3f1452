"""The Defender XDR API (api.security.microsoft.com): /api/incidents list/get/update, OData rules, permissions, rate
limits."""
from __future__ import annotations

import pytest
import requests

from microsoft_emulator.testing import (
    GRAPH,
    M365D,
    NO_PERMISSIONS_APP_ID,
    NO_PERMISSIONS_APP_SECRET,
    SECRET_APP_ID,
    access_token,
    admin,
)

INCIDENT_KEYS = ['incidentId', 'incidentUri', 'redirectIncidentId', 'incidentName', 'createdTime', 'lastUpdateTime', 'assignedTo',
                 'classification', 'determination', 'status', 'severity', 'tags', 'comments', 'alerts']
ALERT_KEYS = ['alertId', 'providerAlertId', 'incidentId', 'serviceSource', 'creationTime', 'lastUpdatedTime', 'resolvedTime',
              'firstActivity', 'lastActivity', 'title', 'description', 'category', 'status', 'severity',
              'investigationId', 'investigationState', 'classification', 'determination', 'detectionSource',
              'detectorId', 'assignedTo', 'actorName', 'threatFamilyName', 'mitreTechniques', 'devices', 'entities', 'mailboxes']
ENTITY_KEYS = ['entityType', 'sha1', 'sha256', 'fileName', 'filePath', 'processId', 'processCommandLine',
               'processCreationTime', 'parentProcessId', 'parentProcessCreationTime', 'ipAddress', 'url', 'accountName',
               'domainName', 'userSid', 'aadUserId', 'userPrincipalName', 'mailboxDisplayName', 'mailboxAddress',
               'clusterBy', 'sender', 'recipient', 'subject', 'deliveryAction', 'securityGroupId', 'securityGroupName',
               'registryHive', 'registryKey', 'registryValueType', 'registryValue', 'deviceId',
               'evidenceCreationTime', 'verdict', 'remediationStatus']
DEVICE_KEYS = ['mdatpDeviceId', 'aadDeviceId', 'deviceDnsName', 'osPlatform', 'version', 'osProcessor', 'osBuild',
               'healthStatus', 'riskScore', 'rbacGroupName', 'rbacGroupId', 'firstSeen']


@pytest.fixture(scope='module')
def token(emulator):
    return access_token(emulator.url, scope=f'{M365D}/.default')


@pytest.fixture
def api(emulator, emulator_reset, token):
    def call(method, path, token_=None, **kwargs):
        headers = {'Authorization': f'Bearer {token_ or token}'}
        return requests.request(method, f'{emulator.url}{path}', headers=headers, timeout=30, **kwargs)
    return call


def truth(emulator):
    return admin(emulator.url, 'GET', '/xdr/incidents')


def ids(response):
    return [i['incidentId'] for i in response.json()['value']]


def test_list_default_seed_shape(api, emulator):
    response = api('GET', '/api/incidents')
    assert response.status_code == 200
    body = response.json()
    assert body['@odata.context'] == f'{emulator.url}/api/$metadata#Incidents'
    assert '@odata.nextLink' not in body
    assert len(body['value']) == 25
    incident = body['value'][0]
    assert list(incident) == INCIDENT_KEYS
    assert isinstance(incident['incidentId'], int)
    assert incident['createdTime'].endswith('Z') and 'T' in incident['createdTime']
    alerts = [a for i in body['value'] for a in i['alerts']]
    assert all(list(a) == ALERT_KEYS for a in alerts)
    assert all(1 <= len(i['alerts']) <= 3 for i in body['value'])
    entities = [e for a in alerts for e in a['entities']]
    assert entities and all(list(e) == ENTITY_KEYS for e in entities)
    devices = [d for a in alerts for d in a['devices']]
    assert devices and all(list(d) == DEVICE_KEYS for d in devices)
    assert any(a['mailboxes'] for a in alerts)
    assert {i['status'] for i in body['value']} <= {'Active', 'InProgress', 'Resolved', 'Redirected'}
    assert {i['severity'] for i in body['value']} <= {'UnSpecified', 'Informational', 'Low', 'Medium', 'High'}
    assert all(a['incidentId'] == i['incidentId'] for i in body['value'] for a in i['alerts'])


def test_newest_first(api, emulator):
    created = [i['createdTime'] for i in api('GET', '/api/incidents').json()['value']]
    assert created == sorted(created, reverse=True)
    assert ids(api('GET', '/api/incidents'))[0] == max(t['incidentId'] for t in truth(emulator))


def test_paging_with_top_skip_and_next_link(api, emulator):
    first = api('GET', '/api/incidents?$top=10')
    body = first.json()
    assert len(body['value']) == 10
    assert body['@odata.nextLink'] == f'{emulator.url}/api/incidents?$top=10&$skip=10'
    seen = ids(first)
    url = body['@odata.nextLink']
    while url:
        page = api('GET', url[len(emulator.url):])
        seen += ids(page)
        url = page.json().get('@odata.nextLink')
    assert sorted(seen) == sorted(t['incidentId'] for t in truth(emulator))
    assert ids(api('GET', '/api/incidents?$top=5&$skip=23')) == seen[23:25]
    assert api('GET', '/api/incidents?$skip=100').json()['value'] == []
    assert api('GET', '/api/incidents?$top=0').json()['value'] == []


def test_filter_on_times(api, emulator):
    ground = truth(emulator)
    pivot = ground[10]['lastUpdateTime']
    response = api('GET', f'/api/incidents?$filter=lastUpdateTime ge {pivot}')
    assert response.status_code == 200
    assert sorted(ids(response)) == sorted(t['incidentId'] for t in ground if t['lastUpdateTime'] >= pivot)
    assert sorted(ids(api('GET', f'/api/incidents?$filter=lastUpdateTime gt {pivot}'))) == \
        sorted(t['incidentId'] for t in ground if t['lastUpdateTime'] > pivot)
    low, high = ground[5]['createdTime'], ground[8]['createdTime']
    response = api('GET', f"/api/incidents?$filter=createdTime ge {low} and createdTime lt '{high}'")
    assert sorted(ids(response)) == [t['incidentId'] for t in ground[5:8]]
    assert ids(api('GET', f'/api/incidents?$filter=createdTime le {low}')) == \
        [t['incidentId'] for t in ground[:6]][::-1]


def test_filter_on_status_and_assigned_to(api, emulator):
    everything = api('GET', '/api/incidents').json()['value']
    active = api('GET', "/api/incidents?$filter=status eq 'Active'")
    assert sorted(ids(active)) == sorted(i['incidentId'] for i in everything if i['status'] == 'Active')
    lowercase = api('GET', "/api/incidents?$filter=status eq 'active'")
    assert ids(lowercase) == ids(active)
    owner = next(i['assignedTo'] for i in everything if i['assignedTo'])
    mine = api('GET', f"/api/incidents?$filter=assignedTo eq '{owner.upper()}'")
    assert sorted(ids(mine)) == sorted(i['incidentId'] for i in everything if i['assignedTo'] == owner)
    either = api('GET', "/api/incidents?$filter=status eq 'Resolved' or status eq 'InProgress'")
    assert sorted(ids(either)) == sorted(i['incidentId'] for i in everything
                                         if i['status'] in ('Resolved', 'InProgress'))
    pivot = everything[12]['lastUpdateTime']
    combined = api('GET', f"/api/incidents?$filter=(status eq 'Active') and lastUpdateTime ge {pivot}")
    assert sorted(ids(combined)) == sorted(i['incidentId'] for i in everything
                                           if i['status'] == 'Active' and i['lastUpdateTime'] >= pivot)


@pytest.mark.parametrize(('query', 'fragment'), [
    ('$top=101', "The limit of '100' for Top query has been exceeded. The value from the incoming request is '101'."),
    ('$top=abc', "Invalid value 'abc' for $top query option"),
    ('$skip=-1', "Invalid value '-1' for $skip query option"),
    ('$orderby=createdTime desc', "Query option '$orderby' is not allowed."),
    ('$select=incidentId', "Query option '$select' is not allowed."),
    ("$filter=severity eq 'High'", "The property 'severity' cannot be used in the $filter query option."),
    ("$filter=colour eq 'red'", "Could not find a property named 'colour' on type 'Incident'."),
    ('$filter=createdTime ge yesterday', "The DateTimeOffset text 'yesterday' should be in format"),
    ("$filter=status eq 'Open'", "The string 'Open' is not a valid enumerated type constant"),
    ("$filter=status gt 'Active'", "The operator 'gt' is not supported for the property 'status'."),
    ('$filter=createdTime ge', 'Syntax error'),
])
def test_odata_errors(api, query, fragment):
    response = api('GET', f'/api/incidents?{query}')
    assert response.status_code == 400
    error = response.json()['error']
    assert error['code'] == 'ODataError'
    assert error['message'].startswith('Invalid OData URI query - ')
    assert fragment in error['message']
    assert error['target']


def test_get_incident(api, emulator):
    wanted = truth(emulator)[3]['incidentId']
    response = api('GET', f'/api/incidents/{wanted}')
    assert response.status_code == 200
    body = response.json()
    assert body['@odata.context'] == f'{emulator.url}/api/$metadata#Incidents/$entity'
    assert body['incidentId'] == wanted and list(body)[1:] == INCIDENT_KEYS
    missing = api('GET', '/api/incidents/999999')
    assert missing.status_code == 404
    assert missing.json()['error']['code'] == 'ResourceNotFound'
    assert missing.json()['error']['message'] == 'Incident 999999 was not found'
    assert api('GET', '/api/incidents/abc').status_code == 400


def _fresh_incident(emulator, **fields):
    spec = {'status': 'Active', 'classification': 'Unknown', 'determination': 'NotAvailable', 'alerts': 2,
            'createdTime': '2026-01-01T10:00:00.123Z', **fields}
    return admin(emulator.url, 'POST', '/xdr/incidents', json=spec)['incidentId']


def test_update_persists_and_bumps_last_update(api, emulator):
    incident_id = _fresh_incident(emulator)
    before = api('GET', f'/api/incidents/{incident_id}').json()
    response = api('PATCH', f'/api/incidents/{incident_id}', json={
        'status': 'Resolved', 'assignedTo': 'secop2@contoso.com', 'classification': 'TruePositive',
        'determination': 'Malware', 'tags': ["Yossi's playground", "Don't mess with the Zohan"],
        'comment': 'pen testing'})
    assert response.status_code == 200
    body = response.json()
    assert (body['status'], body['assignedTo'], body['classification'], body['determination']) == \
        ('Resolved', 'secop2@contoso.com', 'TruePositive', 'Malware')
    assert body['tags'] == ["Yossi's playground", "Don't mess with the Zohan"]
    assert body['comments'][-1]['comment'] == 'pen testing'
    assert body['comments'][-1]['createdBy'] == f'API-App:{SECRET_APP_ID}'
    assert body['lastUpdateTime'] > before['lastUpdateTime']
    assert all(a['status'] == 'Resolved' and a['resolvedTime'] and a['assignedTo'] == 'secop2@contoso.com'
               and a['classification'] == 'TruePositive' for a in body['alerts'])
    assert api('GET', f'/api/incidents/{incident_id}').json() == body | {
        '@odata.context': f'{emulator.url}/api/$metadata#Incidents/$entity'}
    assert next(t for t in truth(emulator) if t['incidentId'] == incident_id)['status'] == 'Resolved'


def test_update_determination_rules(api, emulator):
    incident_id = _fresh_incident(emulator)

    def patch(body):
        return api('PATCH', f'/api/incidents/{incident_id}', json=body)

    refused = patch({'determination': 'Malware'})           # classification is still Unknown
    assert refused.status_code == 400 and refused.json()['error']['code'] == 'InvalidInput'
    assert "cannot be set when the classification is 'Unknown'" in refused.json()['error']['message']
    assert patch({'classification': 'FalsePositive', 'determination': 'Malware'}).status_code == 400
    assert patch({'classification': 'TruePositive', 'determination': 'Apt'}).status_code == 400     # deprecated
    accepted = patch({'classification': 'TruePositive', 'determination': 'CompromisedAccount'})
    assert accepted.status_code == 200 and accepted.json()['determination'] == 'CompromisedUser'
    # changing the classification drops a determination that no longer fits
    changed = patch({'classification': 'InformationalExpectedActivity'})
    assert changed.json()['classification'] == 'InformationalExpectedActivity'
    assert changed.json()['determination'] == 'NotAvailable'
    assert patch({'determination': 'SecurityTesting'}).json()['determination'] == 'SecurityTesting'
    assert patch({'classification': 'FalsePositive', 'determination': 'NoEnoughDataToValidate'}).json()[
        'determination'] == 'InsufficientData'


@pytest.mark.parametrize(('body', 'code', 'fragment'), [
    ({'status': 'Closed'}, 'InvalidInput', "status 'Closed' is not valid. Valid values are: Active, InProgress, "
                                           'Resolved, Redirected.'),
    ({'classification': 'Benign'}, 'InvalidInput', "classification 'Benign' is not valid"),
    ({'determination': 'Nonsense'}, 'InvalidInput', "determination 'Nonsense' is not valid"),
    ({'tags': 'one'}, 'InvalidInput', 'tags must be a list of strings'),
    ({'assignedTo': 5}, 'InvalidInput', 'assignedTo must be a string'),
    ({'comment': ['x']}, 'InvalidInput', 'comment must be a string'),
    ([1, 2], 'InvalidRequestBody', 'Request body is incorrect'),
])
def test_update_validation(api, emulator, body, code, fragment):
    incident_id = truth(emulator)[0]['incidentId']
    before = api('GET', f'/api/incidents/{incident_id}').json()
    response = api('PATCH', f'/api/incidents/{incident_id}', json=body)
    assert response.status_code == 400
    assert response.json()['error']['code'] == code and fragment in response.json()['error']['message']
    assert api('GET', f'/api/incidents/{incident_id}').json() == before


def test_update_unknown_incident(api):
    assert api('PATCH', '/api/incidents/999999', json={'status': 'Active'}).status_code == 404
    assert api('PATCH', '/api/incidents/x', json={'status': 'Active'}).status_code == 400


def test_update_without_changes_keeps_last_update(api, emulator):
    incident_id = truth(emulator)[0]['incidentId']
    before = api('GET', f'/api/incidents/{incident_id}').json()
    after = api('PATCH', f'/api/incidents/{incident_id}', json={})
    assert after.status_code == 200 and after.json()['lastUpdateTime'] == before['lastUpdateTime']


def test_delegated_comment_author(api, emulator):
    incident_id = truth(emulator)[0]['incidentId']
    minted = admin(emulator.url, 'POST', '/tokens/mint', json={'resource': M365D, 'scp': 'Incident.ReadWrite'})
    response = api('PATCH', f'/api/incidents/{incident_id}', minted['access_token'], json={'comment': 'from a user'})
    assert response.status_code == 200
    assert response.json()['comments'][-1]['comment'] == 'from a user'


def test_permissions(api, emulator):
    nothing = access_token(emulator.url, client_id=NO_PERMISSIONS_APP_ID, secret=NO_PERMISSIONS_APP_SECRET,
                           scope=f'{M365D}/.default')
    denied = api('GET', '/api/incidents', nothing)
    assert denied.status_code == 403 and denied.json()['error']['code'] == 'Forbidden'
    assert 'Incident.Read.All' in denied.json()['error']['message']
    reader = admin(emulator.url, 'POST', '/tokens/mint', json={'resource': M365D, 'roles': ['Incident.Read.All']})
    incident_id = truth(emulator)[0]['incidentId']
    assert api('GET', f'/api/incidents/{incident_id}', reader['access_token']).status_code == 200
    forbidden = api('PATCH', f'/api/incidents/{incident_id}', reader['access_token'], json={'status': 'Resolved'})
    assert forbidden.status_code == 403 and 'Incident.ReadWrite.All' in forbidden.json()['error']['message']
    delegated = admin(emulator.url, 'POST', '/tokens/mint', json={'resource': M365D, 'scp': 'Incident.Read'})
    assert api('GET', '/api/incidents?$top=1', delegated['access_token']).status_code == 200
    graph_token = access_token(emulator.url, scope=f'{GRAPH}/.default')
    wrong = api('GET', '/api/incidents', graph_token)
    assert wrong.status_code == 401 and wrong.json()['error']['code'] == 'Unauthorized'
    assert api('GET', '/api/incidents', 'not-a-token').status_code == 401


def test_logged_as_m365d(api, emulator):
    api('GET', '/api/incidents?$top=1')
    entry = emulator.requests(path='/api/incidents')[-1]
    assert entry['host'] == 'm365d' and entry['status'] == 200 and entry['client_id'] == SECRET_APP_ID


def test_rate_limit_50_per_minute(api, emulator):
    admin(emulator.url, 'POST', '/rate-limits', json={'enabled': True})
    statuses = [api('GET', '/api/incidents?$top=1').status_code for _ in range(51)]
    assert statuses[:50] == [200] * 50 and statuses[50] == 429
    throttled = api('GET', '/api/incidents/1001')
    assert throttled.status_code == 429 and throttled.json()['error']['code'] == 'TooManyRequests'
    assert 1 <= int(throttled.headers['Retry-After']) <= 60
    assert emulator.requests(path='/api/incidents/1001')[-1]['rate_limited'] == 'm365d-incidents-minute'
    # advanced hunting has its own budget
    hunting = api('POST', '/api/advancedhunting/run', json={'Query': 'DeviceInfo | take 1'})
    assert hunting.status_code == 200


def test_rate_limit_rules_listed(emulator, emulator_reset):
    modules = admin(emulator.url, 'GET', '/rate-limits')['modules']
    assert [r['name'] for r in modules['defender_xdr']] == ['m365d-incidents-minute', 'm365d-incidents-hour',
                                                            'm365d-hunting-minute']
    assert [(r['name'], r['calls']) for r in modules['graph_security']] == [('graph-security-minute', 150)]
