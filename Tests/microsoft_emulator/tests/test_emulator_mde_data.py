"""Defender for Endpoint (api.securitycenter.microsoft.com): alerts (fetch-style filters, ordering, paging with
ties, evidence), indicators, file/domain/IP statistics, advanced hunting, rate limits, admin API."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from microsoft_emulator.core.clock import parse_time
from microsoft_emulator.testing import MDE, access_token, admin

ALERT_KEYS = ['id', 'incidentId', 'investigationId', 'assignedTo', 'severity', 'status', 'classification',
              'determination', 'investigationState', 'detectionSource', 'detectorId', 'category', 'threatFamilyName',
              'title', 'description', 'alertCreationTime', 'firstEventTime', 'lastEventTime', 'lastUpdateTime',
              'resolvedTime', 'machineId', 'computerDnsName', 'rbacGroupName', 'aadTenantId', 'threatName',
              'mitreTechniques', 'relatedUser', 'loggedOnUsers', 'comments', 'evidence']
INDICATOR_KEYS = {'id', 'indicatorValue', 'indicatorType', 'action', 'application', 'source', 'sourceType',
                  'createdBySource', 'createdBy', 'createdByDisplayName', 'creationTimeDateTimeUtc', 'expirationTime',
                  'lastUpdateTime', 'lastUpdatedBy', 'severity', 'title', 'description', 'recommendedActions',
                  'rbacGroupNames', 'rbacGroupIds', 'generateAlert', 'externalID', 'mitreTechniques', 'category',
                  'educateUrl'}


@pytest.fixture(scope='module')
def token(emulator):
    return access_token(emulator.url, scope=f'{MDE}/.default')


@pytest.fixture
def api(emulator, emulator_reset, token):
    def call(method, path, token_=None, **kwargs):
        return requests.request(method, f'{emulator.url}{path}', timeout=30,
                                headers={'Authorization': f'Bearer {token_ or token}'}, **kwargs)
    return call


def truth(emulator):
    return admin(emulator.url, 'GET', '/mde/alerts')


def iso(dt):
    return dt.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


# ----- alerts -------------------------------------------------------------------------------------------------------

def test_alert_shape_and_evidence(api, emulator):
    body = api('GET', '/api/alerts').json()
    assert body['@odata.context'] == f'{emulator.url}/api/$metadata#Alerts'
    assert len(body['value']) == 30
    alert = body['value'][0]
    assert list(alert) == ALERT_KEYS and alert['evidence'] == []      # not expanded: empty, as Microsoft's example
    assert alert['aadTenantId'] and alert['alertCreationTime'].endswith('Z')
    expanded = api('GET', '/api/alerts', params={'$expand': 'evidence', '$top': '3'}).json()['value']
    assert all(a['evidence'] for a in expanded)
    assert {'entityType', 'evidenceCreationTime', 'sha1', 'fileName', 'accountName', 'detectionStatus'} <= set(
        expanded[0]['evidence'][0])
    assert api('GET', '/api/alerts', params={'$expand': 'machine'}).status_code == 400
    single = api('GET', f"/api/alerts/{alert['id']}", params={'$expand': 'evidence'})
    assert single.status_code == 200 and single.json()['id'] == alert['id'] and single.json()['evidence']
    assert single.json()['@odata.context'] == f'{emulator.url}/api/$metadata#Alerts/$entity'
    assert api('GET', '/api/alerts/da000_1').status_code == 404


def test_alert_filters(api, emulator):
    everything = truth(emulator)
    middle = everything[10]['alertCreationTime']
    newer = api('GET', '/api/alerts', params={'$filter': f'alertCreationTime gt {middle}'}).json()['value']
    assert [a['id'] for a in newer] == [a['id'] for a in everything if a['alertCreationTime'] > middle]
    inclusive = api('GET', '/api/alerts', params={'$filter': f"alertCreationTime ge '{middle}'"}).json()['value']
    assert len(inclusive) == len(newer) + 1
    combined = api('GET', '/api/alerts', params={
        '$filter': f"alertCreationTime ge {everything[0]['alertCreationTime']} and (status eq 'New' or status eq "
                   f"'InProgress') and severity in ('High','Medium','Low','Informational')"}).json()['value']
    assert [a['id'] for a in combined] == [a['id'] for a in everything if a['status'] in ('New', 'InProgress')]
    by_source = api('GET', '/api/alerts', params={'$filter': "detectionSource in ('WindowsDefenderAv','CustomerTI')"})
    assert by_source.json()['value']
    assert all(a['detectionSource'] in ('WindowsDefenderAv', 'CustomerTI') for a in by_source.json()['value'])
    assert api('GET', '/api/alerts', params={'$filter': 'alertCreationTime gt nonsense'}).status_code == 400


def test_alert_order_and_paging_with_ties(api, emulator):
    admin(emulator.url, 'POST', '/mde/reset')
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    made = admin(emulator.url, 'POST', '/mde/generate', json={
        'alerts': 60, 'alert_spacing_seconds': 1, 'tie_every': 5, 'tie_size': 4,
        'alert_end': end.strftime('%Y-%m-%dT%H:%M:%SZ')})
    assert made['alerts'] == 60
    since = (end - timedelta(minutes=3)).strftime('%Y-%m-%dT%H:%M:%SZ')
    expected = [a['id'] for a in truth(emulator) if a['alertCreationTime'] > since]
    assert len(expected) == 60
    times = [a['alertCreationTime'] for a in truth(emulator) if a['id'] in set(expected)]
    assert len(set(times)) < len(times)                      # ties exist
    seen, skip = [], 0
    while True:
        page = api('GET', '/api/alerts', params={'$filter': f'alertCreationTime gt {since}',
                                                 '$orderby': 'alertCreationTime asc', '$top': '7',
                                                 '$skip': str(skip)}).json()
        seen += [a['id'] for a in page['value']]
        if '@odata.nextLink' not in page:
            break
        skip += 7
    assert seen == expected
    descending = api('GET', '/api/alerts', params={'$filter': f'alertCreationTime gt {since}',
                                                   '$orderby': 'alertCreationTime desc'}).json()['value']
    created = [a['alertCreationTime'] for a in descending]
    assert created == sorted(created, reverse=True) and len(created) == 60
    assert api('GET', '/api/alerts', params={'$orderby': 'title'}).status_code == 400


def test_admin_alert_and_update(api, emulator):
    target = admin(emulator.url, 'GET', '/mde/machines')[2]
    created = requests.post(f'{emulator.url}/_emulator/mde/alerts', timeout=10, json={
        'machineId': target['id'], 'title': 'Test alert', 'severity': 'High', 'status': 'New',
        'alertCreationTime': iso(datetime.now(UTC))})
    assert created.status_code == 201
    alert = created.json()
    assert alert['computerDnsName'] == target['computerDnsName'] and alert['title'] == 'Test alert'
    newest = api('GET', '/api/alerts', params={'$orderby': 'alertCreationTime desc', '$top': '1'}).json()['value']
    assert newest[0]['id'] == alert['id']
    patched = api('PATCH', f"/api/alerts/{alert['id']}", json={
        'status': 'Resolved', 'classification': 'TruePositive', 'determination': 'Malware',
        'assignedTo': 'secop2@contoso.onmicrosoft.com', 'comment': 'done'})
    assert patched.status_code == 200
    body = patched.json()
    assert body['status'] == 'Resolved' and body['resolvedTime'] and body['comments'][-1]['comment'] == 'done'
    assert parse_time(body['lastUpdateTime']) > parse_time(alert['lastUpdateTime'])
    assert api('PATCH', f"/api/alerts/{alert['id']}", json={'status': 'Closed'}).status_code == 400
    bad = requests.post(f'{emulator.url}/_emulator/mde/alerts', json={'severity': 'Severe'}, timeout=10)
    assert bad.status_code == 400


# ----- indicators ---------------------------------------------------------------------------------------------------

def test_indicator_upsert_get_delete(api, emulator):
    seeded = api('GET', '/api/indicators').json()['value']
    assert len(seeded) == 5 and INDICATOR_KEYS <= set(seeded[0])
    body = {'indicatorValue': '198.51.100.200', 'indicatorType': 'IpAddress', 'action': 'Alert', 'title': 'Bad IP',
            'description': 'seen in phishing', 'severity': 'High',
            'expirationTime': iso(datetime.now(UTC) + timedelta(days=7)), 'recommendedActions': 'Block it'}
    created = api('POST', '/api/indicators', json=body)
    assert created.status_code == 200
    first = created.json()
    assert first['@odata.context'] == f'{emulator.url}/api/$metadata#Indicators/$entity'
    assert first['indicatorType'] == 'IpAddress' and first['severity'] == 'High' and first['generateAlert'] is True
    assert first['createdBy'].startswith('API-App:') and first['sourceType'] == 'AadApp'
    updated = api('POST', '/api/indicators', json={**body, 'action': 'AlertAndBlock', 'title': 'Bad IP v2'}).json()
    assert updated['id'] == first['id'] and updated['action'] == 'AlertAndBlock' and updated['title'] == 'Bad IP v2'
    assert updated['creationTimeDateTimeUtc'] == first['creationTimeDateTimeUtc']
    assert len(api('GET', '/api/indicators').json()['value']) == 6
    assert api('GET', f"/api/indicators/{first['id']}").json()['title'] == 'Bad IP v2'
    assert api('DELETE', f"/api/indicators/{first['id']}").status_code == 204
    assert api('DELETE', f"/api/indicators/{first['id']}").status_code == 404
    assert api('GET', f"/api/indicators/{first['id']}").status_code == 404


@pytest.mark.parametrize('changes, fragment', [
    ({'indicatorType': 'Hash'}, "indicatorType 'Hash' is not valid"),
    ({'action': 'Nuke'}, "action 'Nuke' is not valid"),
    ({'severity': 'Severe'}, "severity 'Severe' is not valid"),
    ({'expirationTime': '2001-01-01T00:00:00Z'}, 'expirationTime must be in the future'),
    ({'expirationTime': 'soon'}, "expirationTime 'soon' is not a valid date-time"),
    ({'title': ''}, 'title is required'),
    ({'indicatorValue': '10.0.0.1'}, 'not a public IP address'),
    ({'indicatorType': 'FileSha1', 'indicatorValue': 'abc'}, 'is not a valid FileSha1'),
    ({'action': 'BlockAndRemediate'}, 'only supported for file and certificate indicators'),
])
def test_indicator_validation(api, changes, fragment):
    body = {'indicatorValue': '198.51.100.201', 'indicatorType': 'IpAddress', 'action': 'Alert', 'title': 'x',
            'description': 'y', **changes}
    response = api('POST', '/api/indicators', json=body)
    assert response.status_code == 400
    assert response.json()['error']['code'] == 'InvalidRequestBody'
    assert fragment in response.json()['error']['message']


def test_indicator_import_and_filters(api):
    sha = 'c' * 64
    response = api('POST', '/api/indicators/import', json={'Indicators': [
        {'indicatorValue': sha, 'indicatorType': 'FileSha256', 'action': 'BlockAndRemediate', 'title': 'Ransomware',
         'description': 'from TI feed', 'severity': 'High'},
        {'indicatorValue': 'evil.example.net', 'indicatorType': 'DomainName', 'action': 'Warn', 'title': 'Typosquat',
         'description': 'from TI feed'},
        {'indicatorValue': 'not a hash', 'indicatorType': 'FileMd5', 'action': 'Block', 'title': 'bad',
         'description': 'bad'},
    ]})
    assert response.status_code == 200
    results = response.json()['value']
    assert [r['isFailed'] for r in results] == [False, False, True]
    assert results[0]['indicator'] == sha and results[0]['id'] and results[0]['failureReason'] is None
    assert 'is not a valid FileMd5' in results[2]['failureReason']
    by_value = api('GET', '/api/indicators', params={'$filter': f"indicatorValue eq '{sha}'"}).json()['value']
    assert [i['id'] for i in by_value] == [results[0]['id']]
    by_type = api('GET', '/api/indicators', params={'$filter': "indicatorType eq 'DomainName'"}).json()['value']
    assert {i['indicatorValue'] for i in by_type} == {'malicious-updates.example', 'evil.example.net'}
    by_title = api('GET', '/api/indicators', params={'$filter': "contains(title,'typo') or action eq 'Allowed'"})
    assert {i['title'] for i in by_title.json()['value']} == {'Typosquat', 'Approved tool'}
    paged = api('GET', '/api/indicators', params={'$top': '3', '$skip': '3'}).json()
    assert len(paged['value']) == 3 and '@odata.nextLink' in paged
    assert api('POST', '/api/indicators/import', json={'Indicators': []}).status_code == 400


# ----- statistics and files -----------------------------------------------------------------------------------------

def test_file_and_stats(api, emulator):
    alert = api('GET', '/api/alerts', params={'$top': '1', '$expand': 'evidence'}).json()['value'][0]
    sha1, sha256 = alert['evidence'][0]['sha1'], alert['evidence'][0]['sha256']
    file_info = api('GET', f'/api/files/{sha256}')
    assert file_info.status_code == 200
    body = file_info.json()
    assert body['sha1'] == sha1 and body['sha256'] == sha256 and len(body['md5']) == 32
    assert {'globalPrevalence', 'globalFirstObserved', 'size', 'isPeFile', 'signer', 'determinationType'} <= set(body)
    assert api('GET', f"/api/files/{'0' * 40}").status_code == 404
    assert api('GET', '/api/files/xyz').status_code == 400
    stats = api('GET', f'/api/files/{sha1}/stats').json()
    assert stats['@odata.context'].endswith('#microsoft.windowsDefenderATP.api.InOrgFileStats')
    assert int(stats['orgPrevalence']) >= 1 and stats['orgFirstSeen'] and stats['topFileNames']
    assert int(stats['globalPrevalence']) >= 10
    # the documented numbers (Get file statistics, Get IP statistics on Learn) next to the older string counts
    assert stats['organizationPrevalence'] == int(stats['orgPrevalence'])
    assert stats['globallyPrevalence'] == int(stats['globalPrevalence'])
    domain = api('GET', '/api/domains/malicious-updates.example/stats').json()
    assert domain['host'] == 'malicious-updates.example' and int(domain['orgPrevalence']) >= 1
    unknown = api('GET', '/api/domains/nothing.example/stats').json()
    assert unknown['orgPrevalence'] == '0' and unknown['orgFirstSeen'] is None
    ip = api('GET', '/api/ips/198.51.100.23/stats', params={'lookBackHours': '48'}).json()
    assert ip['ipAddress'] == '198.51.100.23' and int(ip['orgPrevalence']) >= 1
    assert ip['organizationPrevalence'] == int(ip['orgPrevalence']) and unknown['organizationPrevalence'] == 0
    assert api('GET', '/api/ips/999.1.1.1/stats').status_code == 400
    assert api('GET', '/api/ips/8.8.8.8/stats', params={'lookBackHours': '0'}).status_code == 400


# ----- advanced hunting ---------------------------------------------------------------------------------------------

def hunt(api, query, token_=None):
    return api('POST', '/api/advancedqueries/run', token_=token_, json={'Query': query})


def test_hunting_tables(api, emulator):
    for table in ('DeviceInfo', 'DeviceProcessEvents', 'DeviceNetworkEvents', 'DeviceFileEvents',
                  'DeviceRegistryEvents', 'DeviceLogonEvents', 'DeviceEvents', 'AlertInfo'):
        response = hunt(api, f'{table} | take 3')
        assert response.status_code == 200, (table, response.text)
        body = response.json()
        assert set(body) == {'Stats', 'Schema', 'Results'}
        assert len(body['Results']) == 3 and body['Schema'][0] == {'Name': 'Timestamp', 'Type': 'DateTime'}
    machine = admin(emulator.url, 'GET', '/mde/machines')[4]
    info = hunt(api, f"DeviceInfo | where DeviceName =~ '{machine['computerDnsName']}' | project DeviceId, "
                     f"OSPlatform").json()
    assert info['Results'] == [{'DeviceId': machine['id'], 'OSPlatform': info['Results'][0]['OSPlatform']}]
    count = hunt(api, 'AlertInfo | count').json()['Results']
    assert count == [{'Count': 30}]
    process = hunt(api, 'DeviceProcessEvents | where FileName == "powershell.exe" | order by Timestamp desc '
                        '| take 5').json()['Results']
    assert process and all(r['FileName'] == 'powershell.exe' for r in process)


def test_hunting_errors_and_added_rows(api, emulator):
    bad = hunt(api, 'DeviceInfo | extend Name = DeviceName')
    assert bad.status_code == 400 and bad.json()['error']['code'] == 'BadRequest'
    assert hunt(api, 'NoSuchTable | take 1').status_code == 400
    assert api('POST', '/api/advancedqueries/run', json={}).status_code == 400
    admin(emulator.url, 'POST', '/mde/hunting-rows', json={'table': 'DeviceLogonEvents', 'rows': [
        {'DeviceName': 'added-host', 'AccountName': 'mallory', 'ActionType': 'LogonFailed'}]})
    rows = hunt(api, "DeviceLogonEvents | where AccountName == 'mallory'").json()['Results']
    assert len(rows) == 1 and rows[0]['DeviceName'] == 'added-host'
    assert requests.post(f'{emulator.url}/_emulator/mde/hunting-rows', timeout=10,
                         json={'table': 'EmailEvents', 'rows': []}).status_code == 400


@pytest.mark.parametrize('given,read', [
    ('alertCreationTime+gt+2024-01-01T00:00:00Z', 'alertCreationTime gt 2024-01-01T00:00:00Z'),
    ("(status+eq+'New') or (status+eq+'A+eq+B')", "(status eq 'New') or (status eq 'A+eq+B')"),
    ('lastUpdateTime gt 2024-01-01T00:00:00+02:00', 'lastUpdateTime gt 2024-01-01T00:00:00+02:00'),
])
def test_plus_joined_filter_words(given, read):
    """The official fetch's '+'-joined filter words read as spaces; string literals and offsets are kept."""
    from microsoft_emulator.defender_endpoint.odata import plus_as_space
    assert plus_as_space(given) == read


def test_official_fetch_filter_with_plus(api):
    flt = ("alertCreationTime+gt+2000-01-01T00:00:00.000000Z and ((status+eq+'New') or (status+eq+'InProgress')) "
           "and ((severity+eq+'Medium') or (severity+eq+'High'))")
    response = api('GET', '/api/alerts', params={'$filter': flt, '$orderby': 'alertCreationTime asc', '$top': '50'})
    assert response.status_code == 200, response.text
    assert response.json()['value'] and all(a['severity'] in ('Medium', 'High') for a in response.json()['value'])


def test_graph_hunting_sees_the_mde_tables(api, emulator):
    """Given the tenant's Defender for Endpoint data, When the same query runs on the legacy API and on Microsoft
    Graph runHuntingQuery (ThreatHunting.Read.All), Then Graph answers the same rows in its own envelope."""
    machine = admin(emulator.url, 'GET', '/mde/machines')[2]
    admin(emulator.url, 'POST', '/mde/hunting-rows', json={'table': 'DeviceLogonEvents', 'rows': [
        {'DeviceName': 'graph-host', 'AccountName': 'eve', 'ActionType': 'LogonFailed'}]})
    graph_token = access_token(emulator.url, scope='https://graph.microsoft.com/.default')
    for query in (f"DeviceProcessEvents | where DeviceName =~ '{machine['computerDnsName']}' | order by Timestamp "
                  'desc | project Timestamp, DeviceName, FileName, SHA1',
                  "DeviceLogonEvents | where AccountName == 'eve' | project DeviceName, ActionType"):
        legacy = hunt(api, query).json()
        graph = api('POST', '/v1.0/security/runHuntingQuery', graph_token, json={'Query': query})
        assert graph.status_code == 200, graph.text
        body = graph.json()
        assert body['results'] == legacy['Results'] and body['results']
        assert body['schema'] == [{'name': c['Name'], 'type': c['Type']} for c in legacy['Schema']]
    # Graph needs ThreatHunting.Read.All; a Defender for Endpoint token is for another audience
    assert api('POST', '/v1.0/security/runHuntingQuery', json={'Query': 'DeviceInfo | take 1'}).status_code == 401


# ----- rate limits --------------------------------------------------------------------------------------------------

def test_rate_limits(api, emulator):
    admin(emulator.url, 'POST', '/rate-limits', json={'enabled': True})
    rules = admin(emulator.url, 'GET', '/rate-limits')['modules']['defender_endpoint']
    assert {(r['name'], r['calls'], r['period_seconds']) for r in rules} == {
        ('mde-minute', 100, 60), ('mde-hour', 1500, 3600), ('mde-hunting-minute', 45, 60),
        ('mde-hunting-hour', 1500, 3600)}
    for _ in range(45):
        assert hunt(api, 'DeviceInfo | take 1').status_code == 200
    throttled = hunt(api, 'DeviceInfo | take 1')
    assert throttled.status_code == 429 and int(throttled.headers['Retry-After']) >= 1
    assert throttled.json()['error']['code'] == 'TooManyRequests'
    for _ in range(100 - 45):
        assert api('GET', '/api/investigations').status_code == 200
    limited = api('GET', '/api/investigations')
    assert limited.status_code == 429 and 'Retry-After' in limited.headers
    assert 'mde-minute' in limited.json()['error']['message']
