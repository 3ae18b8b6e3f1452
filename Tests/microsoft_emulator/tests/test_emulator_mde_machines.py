"""Defender for Endpoint (api.securitycenter.microsoft.com): machines, machine actions over time, investigations,
permissions."""
from __future__ import annotations

import io
import time
import zipfile
from datetime import UTC, datetime

import pytest
import requests

from microsoft_emulator.testing import MDE, NO_PERMISSIONS_APP_ID, NO_PERMISSIONS_APP_SECRET, access_token, admin

MACHINE_KEYS = ['id', 'computerDnsName', 'firstSeen', 'lastSeen', 'osPlatform', 'osVersion', 'osProcessor', 'version',
                'lastIpAddress', 'lastExternalIpAddress', 'agentVersion', 'osBuild', 'healthStatus', 'deviceValue',
                'rbacGroupId', 'rbacGroupName', 'riskScore', 'exposureLevel', 'isAadJoined', 'aadDeviceId',
                'machineTags', 'defenderAvStatus', 'onboardingStatus', 'osArchitecture', 'managedBy',
                'managedByStatus', 'ipAddresses', 'vmMetadata']
ACTION_KEYS = ['id', 'type', 'title', 'requestor', 'requestorComment', 'status', 'machineId', 'computerDnsName',
               'creationDateTimeUtc', 'lastUpdateDateTimeUtc', 'cancellationRequestor', 'cancellationComment',
               'cancellationDateTimeUtc', 'errorHResult', 'scope', 'externalId', 'requestSource', 'relatedFileInfo',
               'commands', 'troubleshootInfo']
STEP = 0.15


@pytest.fixture(scope='module')
def token(emulator):
    return access_token(emulator.url, scope=f'{MDE}/.default')


@pytest.fixture
def api(emulator, emulator_reset, token):
    def call(method, path, token_=None, **kwargs):
        return requests.request(method, f'{emulator.url}{path}', timeout=30,
                                headers={'Authorization': f'Bearer {token_ or token}'}, **kwargs)
    return call


@pytest.fixture
def fast(emulator):
    admin(emulator.url, 'POST', '/mde/settings', json={'action_step_seconds': STEP})


@pytest.fixture
def slow(emulator):
    """Steps long enough that no action moves on by itself during a test: it moves when the test steps it."""
    admin(emulator.url, 'POST', '/mde/settings', json={'action_step_seconds': 3600})


def step(emulator, action_id, steps=1):
    return admin(emulator.url, 'POST', f'/mde/actions/{action_id}/step', json={'steps': steps})


def machines(emulator):
    return admin(emulator.url, 'GET', '/mde/machines')


def healthy(emulator):
    return next(m for m in machines(emulator) if not m['broken'])


def test_list_machines_shape(api, emulator):
    response = api('GET', '/api/machines')
    assert response.status_code == 200
    body = response.json()
    assert body['@odata.context'] == f'{emulator.url}/api/$metadata#Machines'
    assert len(body['value']) == 40 and '@odata.nextLink' not in body
    first = body['value'][0]
    assert list(first) == MACHINE_KEYS
    assert first['lastSeen'].endswith('Z') and first['ipAddresses'][0]['ipAddress'] == first['lastIpAddress']
    assert {m['osPlatform'] for m in body['value']} >= {'Windows11', 'Windows10', 'WindowsServer2022', 'Linux',
                                                       'macOS'}


@pytest.mark.parametrize('expression, check', [
    ("computerDnsName eq 'CONTOSO-WS-0000.contoso.local'", lambda m: m['computerDnsName'] ==
     'contoso-ws-0000.contoso.local'),
    ("startswith(computerDnsName,'contoso-srv')", lambda m: '-srv-' in m['computerDnsName']),
    ("healthStatus eq 'Active' and riskScore in ('High','Medium')",
     lambda m: m['healthStatus'] == 'Active' and m['riskScore'] in ('High', 'Medium')),
    ("osPlatform eq 'Linux' or osPlatform eq 'macOS'", lambda m: m['osPlatform'] in ('Linux', 'macOS')),
    ('rbacGroupId eq 2', lambda m: m['rbacGroupId'] == 2),
    ("machineTags/any(tag: tag eq 'HR')", lambda m: 'HR' in m['machineTags']),
    ('lastSeen gt 2000-01-01T00:00:00Z', lambda m: True),
    ("not (healthStatus eq 'Active')", lambda m: m['healthStatus'] != 'Active'),
    ("lastIpAddress eq '10.1.0.5'", lambda m: m['lastIpAddress'] == '10.1.0.5'),
])
def test_machine_filters(api, expression, check):
    everything = api('GET', '/api/machines').json()['value']
    expected = [m['id'] for m in everything if check(m)]
    response = api('GET', '/api/machines', params={'$filter': expression})
    assert response.status_code == 200, response.text
    assert [m['id'] for m in response.json()['value']] == expected
    assert expected or expression.startswith('machineTags')


def test_machine_filter_errors(api):
    for expression in ("colour eq 'red'", 'healthStatus eq', "healthStatus zz 'x'", 'lastSeen gt yesterday'):
        response = api('GET', '/api/machines', params={'$filter': expression})
        assert response.status_code == 400, expression
        assert response.json()['error']['code'] == 'ODataError'
    assert api('GET', '/api/machines', params={'$top': '10001'}).status_code == 400
    assert api('GET', '/api/machines', params={'$top': '-1'}).status_code == 400


def test_machine_paging(api, emulator):
    result = admin(emulator.url, 'POST', '/mde/generate', json={'machines': 2000})
    assert result['machine_count'] == 2040
    seen, url = [], '/api/machines?$top=700'
    while url:
        body = api('GET', url.replace(emulator.url, '')).json()
        seen += [m['id'] for m in body['value']]
        url = body.get('@odata.nextLink')
    assert len(seen) == len(set(seen)) == 2040
    skipped = api('GET', '/api/machines', params={'$skip': '2030'}).json()['value']
    assert [m['id'] for m in skipped] == seen[2030:]


def test_get_machine_by_id_and_name(api, emulator):
    target = machines(emulator)[3]
    by_id = api('GET', f"/api/machines/{target['id']}")
    assert by_id.status_code == 200
    assert by_id.json()['@odata.context'] == f'{emulator.url}/api/$metadata#Machines/$entity'
    by_name = api('GET', f"/api/machines/{target['computerDnsName'].upper()}")
    assert by_name.json()['id'] == target['id']
    missing = api('GET', '/api/machines/0000000000000000000000000000000000000000')
    assert missing.status_code == 404 and missing.json()['error']['code'] == 'ResourceNotFound'


def test_find_by_ip(api, emulator):
    target = machines(emulator)[5]
    stamp = datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')
    response = api('GET', f"/api/machines/findbyip(ip='{target['lastIpAddress']}',timestamp={stamp})")
    assert response.status_code == 200
    assert [m['id'] for m in response.json()['value']] == [target['id']]
    assert api('GET', f"/api/machines/findbyip(ip='10.99.99.99',timestamp={stamp})").json()['value'] == []
    old = api('GET', f"/api/machines/findbyip(ip='{target['lastIpAddress']}',timestamp=2001-01-01T00:00:00Z)")
    assert old.status_code == 400
    assert api('GET', f'/api/machines/findbyip(ip=nonsense,timestamp={stamp})').status_code == 400


def test_logon_users_and_related_machines(api, emulator):
    target = machines(emulator)[0]
    users = api('GET', f"/api/machines/{target['id']}/logonusers")
    assert users.status_code == 200
    value = users.json()['value']
    assert value and {'id', 'accountName', 'accountDomain', 'accountSid', 'firstSeen', 'lastSeen', 'logonTypes',
                      'logOnMachinesCount', 'isDomainAdmin', 'isOnlyNetworkUser'} <= set(value[0])
    name = value[0]['accountName']
    related = api('GET', f'/api/users/{name}/machines').json()['value']
    assert target['id'] in [m['id'] for m in related]
    assert all(any(u['accountName'] == name for u in api('GET', f"/api/machines/{m['id']}/logonusers").json()[
        'value']) for m in related)
    domain = api('GET', '/api/domains/malicious-updates.example/machines').json()['value']
    assert domain and all(len(m['id']) == 40 for m in domain)
    assert api('GET', '/api/domains/never-seen.example/machines').json()['value'] == []
    alert = api('GET', '/api/alerts', params={'$top': '1', '$expand': 'evidence'}).json()['value'][0]
    sha1 = alert['evidence'][0]['sha1']
    file_machines = api('GET', f'/api/files/{sha1}/machines').json()['value']
    assert file_machines


def test_tags_add_remove(api, emulator):
    target = machines(emulator)[1]['id']
    added = api('POST', f'/api/machines/{target}/tags', json={'Value': 'Quarantine zone', 'Action': 'Add'})
    assert added.status_code == 200 and 'Quarantine zone' in added.json()['machineTags']
    again = api('POST', f'/api/machines/{target}/tags', json={'Value': 'Quarantine zone', 'Action': 'Add'})
    assert again.json()['machineTags'].count('Quarantine zone') == 1
    tagged = api('GET', '/api/machines', params={'$filter': "machineTags/any(t: t eq 'quarantine zone')"})
    assert [m['id'] for m in tagged.json()['value']] == [target]
    removed = api('POST', f'/api/machines/{target}/tags', json={'Value': 'Quarantine zone', 'Action': 'Remove'})
    assert 'Quarantine zone' not in removed.json()['machineTags']
    assert api('POST', f'/api/machines/{target}/tags', json={'Value': 'x', 'Action': 'Toggle'}).status_code == 400


def wait_for(api, action_id, statuses, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api('GET', f'/api/machineactions/{action_id}').json()
        if body['status'] in statuses:
            return body
        time.sleep(0.03)
    raise AssertionError(f'action {action_id} never reached {statuses}')


def test_isolate_lifecycle(api, emulator, slow):
    target = healthy(emulator)
    response = api('POST', f"/api/machines/{target['id']}/isolate",
                   json={'Comment': 'Contain', 'IsolationType': 'Selective'})
    assert response.status_code == 201
    action = response.json()
    assert action['@odata.context'] == f'{emulator.url}/api/$metadata#MachineActions/$entity'
    assert list(action)[1:] == ACTION_KEYS
    assert action['type'] == 'Isolate' and action['scope'] == 'Selective' and action['status'] == 'Pending'
    assert action['requestor'].startswith('API-App:') and action['requestorComment'] == 'Contain'
    assert action['computerDnsName'] == target['computerDnsName']
    duplicate = api('POST', f"/api/machines/{target['id']}/isolate", json={'Comment': 'again'})
    assert duplicate.status_code == 400
    assert duplicate.json()['error']['code'] == 'ActiveRequestAlreadyExists'
    assert duplicate.json()['error']['message'] == 'Action is already in progress'
    in_progress = step(emulator, action['id'])
    assert in_progress['status'] == 'InProgress'
    assert in_progress['lastUpdateDateTimeUtc'] > action['creationDateTimeUtc']
    assert next(m for m in machines(emulator) if m['id'] == target['id'])['isolation'] is None
    done = step(emulator, action['id'])
    assert done['status'] == 'Succeeded'
    assert done['errorHResult'] == 0
    assert next(m for m in machines(emulator) if m['id'] == target['id'])['isolation'] == 'Selective'
    # isolating an isolated machine creates a new action
    assert api('POST', f"/api/machines/{target['id']}/isolate", json={'Comment': 'again'}).status_code == 201
    release = api('POST', f"/api/machines/{target['id']}/unisolate", json={'Comment': 'Release'}).json()
    assert step(emulator, release['id'], steps=2)['status'] == 'Succeeded'
    assert next(m for m in machines(emulator) if m['id'] == target['id'])['isolation'] is None


def test_every_action_type(api, emulator, fast):
    target = healthy(emulator)['id']
    bodies = {
        'runAntiVirusScan': {'Comment': 'scan', 'ScanType': 'Quick'},
        'restrictCodeExecution': {'Comment': 'restrict'},
        'stopAndQuarantineFile': {'Comment': 'stop', 'Sha1': 'A' * 40},
        'collectInvestigationPackage': {'Comment': 'collect'},
    }
    created = {}
    for path, body in bodies.items():
        response = api('POST', f'/api/machines/{target}/{path}', json=body)
        assert response.status_code == 201, (path, response.text)
        created[path] = response.json()
    assert created['runAntiVirusScan']['type'] == 'RunAntiVirusScan' and created['runAntiVirusScan']['scope'] == 'Quick'
    assert created['stopAndQuarantineFile']['relatedFileInfo'] == {'fileIdentifier': 'a' * 40,
                                                                   'fileIdentifierType': 'Sha1'}
    # other spellings clients use
    assert api('POST', f'/api/machines/{target}/StopAndQuarantineFile',
               json={'Comment': 'x', 'Sha1': 'b' * 40}).status_code == 201
    assert api('POST', f'/api/machines/{target}/stopandquarantinefile',
               json={'Comment': 'x', 'Sha1': 'b' * 40}).json()['error']['code'] == 'ActiveRequestAlreadyExists'
    for action in created.values():
        wait_for(api, action['id'], ('Succeeded',))
    assert next(m for m in machines(emulator) if m['id'] == target)['restricted'] is True
    unrestrict = api('POST', f'/api/machines/{target}/unrestrictCodeExecution', json={'Comment': 'undo'}).json()
    wait_for(api, unrestrict['id'], ('Succeeded',))
    assert next(m for m in machines(emulator) if m['id'] == target)['restricted'] is False


@pytest.mark.parametrize('path, body, fragment', [
    ('isolate', {}, 'Comment is required'),
    ('isolate', {'Comment': 'x', 'IsolationType': 'Partial'}, "IsolationType 'Partial' is not valid"),
    ('runAntiVirusScan', {'Comment': 'x'}, 'ScanType is required'),
    ('runAntiVirusScan', {'Comment': 'x', 'ScanType': 'Deep'}, "ScanType 'Deep' is not valid"),
    ('stopAndQuarantineFile', {'Comment': 'x', 'Sha1': 'nothex'}, 'Sha1 must be a valid SHA-1 hash'),
])
def test_action_validation(api, emulator, path, body, fragment):
    target = healthy(emulator)['id']
    response = api('POST', f'/api/machines/{target}/{path}', json=body)
    assert response.status_code == 400
    assert fragment in response.json()['error']['message']
    assert api('POST', f'/api/machines/{"f" * 40}/{path}', json={'Comment': 'x', 'ScanType': 'Full',
                                                                 'Sha1': 'a' * 40}).status_code == 404


def test_broken_machine_fails(api, emulator, fast):
    broken = [m for m in machines(emulator) if m['broken']]
    assert len(broken) == 3          # 13th, 26th, 39th seeded machines
    action = api('POST', f"/api/machines/{broken[0]['id']}/isolate", json={'Comment': 'x'}).json()
    failed = wait_for(api, action['id'], ('Failed',))
    assert failed['errorHResult'] != 0
    assert next(m for m in machines(emulator) if m['id'] == broken[0]['id'])['isolation'] is None
    target = healthy(emulator)['id']
    assert admin(emulator.url, 'POST', f'/mde/machines/{target}/break', json={})['broken'] is True
    scan = api('POST', f'/api/machines/{target}/runAntiVirusScan', json={'Comment': 'x', 'ScanType': 'Full'}).json()
    wait_for(api, scan['id'], ('Failed',))
    admin(emulator.url, 'POST', f'/mde/machines/{target}/break', json={'broken': False})
    scan = api('POST', f'/api/machines/{target}/runAntiVirusScan', json={'Comment': 'x', 'ScanType': 'Full'}).json()
    wait_for(api, scan['id'], ('Succeeded',))


def test_cancel(api, emulator):
    admin(emulator.url, 'POST', '/mde/settings', json={'action_step_seconds': 30})
    target = healthy(emulator)['id']
    action = api('POST', f'/api/machines/{target}/collectInvestigationPackage', json={'Comment': 'x'}).json()
    cancelled = api('POST', f"/api/machineactions/{action['id']}/cancel", json={'Comment': 'Not needed'})
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert body['status'] == 'Cancelled' and body['cancellationComment'] == 'Not needed'
    assert body['cancellationRequestor'].startswith('API-App:') and body['cancellationDateTimeUtc']
    again = api('POST', f"/api/machineactions/{action['id']}/cancel", json={'Comment': 'again'})
    assert again.status_code == 400
    # a cancelled action no longer blocks a new one
    assert api('POST', f'/api/machines/{target}/collectInvestigationPackage', json={'Comment': 'y'}).status_code == 201
    assert api('POST', '/api/machineactions/nope/cancel', json={'Comment': 'x'}).status_code == 404


def test_package_download(api, emulator, fast):
    target = healthy(emulator)['id']
    action = api('POST', f'/api/machines/{target}/collectInvestigationPackage', json={'Comment': 'x'}).json()
    early = api('GET', f"/api/machineactions/{action['id']}/getPackageUri")
    assert early.status_code == 404
    wait_for(api, action['id'], ('Succeeded',))
    for spelling in ('getPackageUri', 'GetPackageUri'):
        response = api('GET', f"/api/machineactions/{action['id']}/{spelling}")
        assert response.status_code == 200
    quoted = response.json()['value']
    assert quoted.startswith('"') and quoted.endswith('"')         # as documented: the link in literal quotes
    url = quoted[1:-1]
    assert url.startswith(f"{emulator.url}/_emulator/mde/packages/{action['id']}.zip?")
    download = requests.get(url, timeout=10)
    assert download.status_code == 200 and download.headers['content-type'] == 'application/zip'
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert 'Summary.txt' in archive.namelist()
        assert action['id'] in archive.read('Summary.txt').decode()
    scan = api('POST', f'/api/machines/{target}/runAntiVirusScan', json={'Comment': 'x', 'ScanType': 'Full'}).json()
    assert api('GET', f"/api/machineactions/{scan['id']}/getPackageUri").status_code == 400


def test_list_machine_actions(api, emulator, slow):
    ids = [m['id'] for m in machines(emulator) if not m['broken']][:3]
    created = [api('POST', f'/api/machines/{i}/isolate', json={'Comment': f'c{n}'}).json() for n, i in enumerate(ids)]
    created.append(api('POST', f'/api/machines/{ids[0]}/runAntiVirusScan',
                       json={'Comment': 'scan', 'ScanType': 'Full'}).json())
    listed = api('GET', '/api/machineactions').json()
    assert [a['id'] for a in listed['value']] == [a['id'] for a in created]
    by_machine = api('GET', '/api/machineactions', params={'$filter': f"machineId eq '{ids[0]}'"}).json()['value']
    assert {a['type'] for a in by_machine} == {'Isolate', 'RunAntiVirusScan'}
    by_type = api('GET', '/api/machineactions', params={'$filter': "type eq 'Isolate' and status eq 'Pending'"})
    assert len(by_type.json()['value']) == 3
    top = api('GET', '/api/machineactions', params={'$top': '2'}).json()
    assert len(top['value']) == 2 and '$skip=2' in top['@odata.nextLink']
    for action in created:
        step(emulator, action['id'], steps=2)
    done = api('GET', '/api/machineactions', params={'$filter': "status eq 'Succeeded'"}).json()['value']
    assert len(done) == 4
    assert api('GET', '/api/machineactions/unknown').status_code == 404
    assert len(admin(emulator.url, 'GET', '/mde/actions')) == 4


def test_offboard_needs_its_permission(api, emulator):
    target = healthy(emulator)['id']
    token = access_token(emulator.url, client_id=NO_PERMISSIONS_APP_ID, secret=NO_PERMISSIONS_APP_SECRET,
                         scope='https://api.securitycenter.microsoft.com/.default')
    refused = requests.post(f'{emulator.url}/api/machines/{target}/offboard', json={'Comment': 'bye'}, timeout=10,
                            headers={'Authorization': f'Bearer {token}'})
    assert refused.status_code == 403
    assert 'Machine.Offboard' in refused.json()['error']['message']
    assert api('POST', f'/api/machines/{target}/offboard', json={'Comment': 'bye'}).status_code == 201


def test_investigations(api, emulator, fast):
    listed = api('GET', '/api/investigations').json()
    assert len(listed['value']) == 5
    first = listed['value'][0]
    assert list(first) == ['id', 'startTime', 'endTime', 'state', 'cancelledBy', 'statusDetails',
                           'machineId', 'computerDnsName', 'triggeringAlertId']
    assert api('GET', f"/api/investigations/{first['id']}").json()['id'] == first['id']
    paged = api('GET', '/api/investigations', params={'$top': '2', '$skip': '1'}).json()
    assert [i['id'] for i in paged['value']] == [i['id'] for i in listed['value'][1:3]]
    assert api('GET', '/api/investigations/999').status_code == 404
    target = healthy(emulator)['id']
    started = api('POST', f'/api/machines/{target}/startInvestigation', json={'Comment': 'look'})
    assert started.status_code == 201
    body = started.json()
    assert body['state'] == 'Running' and body['endTime'] is None and body['machineId'] == target
    time.sleep(STEP * 2 + 0.1)
    finished = api('GET', f"/api/investigations/{body['id']}").json()
    assert finished['state'] == 'SuccessfullyRemediated' and finished['endTime']


def test_permissions_and_tokens(api, emulator):
    weak = access_token(emulator.url, client_id=NO_PERMISSIONS_APP_ID, secret=NO_PERMISSIONS_APP_SECRET,
                        scope=f'{MDE}/.default')
    target = machines(emulator)[0]['id']
    for method, path in [('GET', '/api/machines'), ('POST', f'/api/machines/{target}/isolate'),
                         ('GET', '/api/machineactions'), ('GET', '/api/alerts'), ('GET', '/api/indicators'),
                         ('POST', '/api/advancedqueries/run'), ('GET', '/api/investigations')]:
        response = api(method, path, token_=weak, json={'Comment': 'x'})
        assert response.status_code == 403, path
        assert response.json()['error']['code'] == 'Forbidden'
    graph_token = access_token(emulator.url, scope='https://graph.microsoft.com/.default')
    assert api('GET', '/api/machines', token_=graph_token).status_code == 401
    assert requests.get(f'{emulator.url}/api/machines', timeout=10).status_code == 401
    entry = [e for e in emulator.requests() if e['path'] == '/api/machines'][-1]
    assert entry['host'] == 'mde'


def test_settings_and_reset(api, emulator):
    assert admin(emulator.url, 'GET', '/mde/settings') == {'action_step_seconds': 4.0}
    admin(emulator.url, 'POST', '/mde/settings', json={'action_step_seconds': 0})
    target = healthy(emulator)['id']
    action = api('POST', f'/api/machines/{target}/restrictCodeExecution', json={'Comment': 'x'}).json()
    assert action['status'] == 'Succeeded'
    assert requests.post(f'{emulator.url}/_emulator/mde/settings', json={'bogus': 1}, timeout=10).status_code == 400
    admin(emulator.url, 'POST', '/mde/reset')
    assert admin(emulator.url, 'GET', '/mde/settings') == {'action_step_seconds': 4.0}
    assert admin(emulator.url, 'GET', '/mde/actions') == []
    assert next(m for m in machines(emulator) if m['id'] == target)['restricted'] is False
