"""Unit tests for Microsoft 365 Defender: argument rules, KQL handling, Graph normalisation, both back ends over
HTTP (requests-mock), fetch (windows, ties, paging, limits, timeouts), mirroring and authentication wiring."""
import json
import re
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import demistomock as demisto
import Microsoft365Defender as m
import MicrosoftApiModule
import pytest
from CommonServerPython import DemistoException, IncidentStatus

XDR = 'https://api.security.microsoft.com'
GRAPH = 'https://graph.microsoft.com'
DATA = Path(__file__).parent / 'test_data'
BASE_PARAMS = {'creds_client_id': {'password': 'app-id'}, 'creds_tenant_id': {'password': 'tenant-id'},
               'client_credentials': True, 'credentials': {'password': 'secret-value'},
               'base_url': XDR, 'first_fetch': '3 days', 'max_fetch': '10', 'fetch_timeout': '30'}


def load(name):
    return json.loads((DATA / name).read_text())


@pytest.fixture(autouse=True)
def fake_token(mocker):
    """Every API call gets a bearer token without talking to Entra."""
    mocker.patch.object(m.TokenProvider, 'get_token', return_value='token')
    demisto.setIntegrationContext({})      # the token cache and remembered Graph refusals start empty


def make_api(backend=m.BACKEND_LEGACY, **params):
    return m.build_api({**BASE_PARAMS, 'api_backend': backend, **params})


# ---------------------------------------------------------------------------------------------------------------
# A small in-memory Microsoft: the Defender XDR and Graph incident routes with $filter/$top/$skip
# ---------------------------------------------------------------------------------------------------------------

def legacy_to_graph(incident):
    graph_enums = m.GRAPH_ENUMS
    return {'id': str(incident['incidentId']), 'displayName': incident['incidentName'],
            'createdDateTime': incident['createdTime'], 'lastUpdateDateTime': incident['lastUpdateTime'],
            'assignedTo': incident.get('assignedTo'), 'status': graph_enums['status'][incident['status']],
            'severity': graph_enums['severity'][incident['severity']],
            'classification': graph_enums['classification'][incident['classification']],
            'determination': graph_enums['determination'][incident['determination']],
            'customTags': incident.get('tags', []), 'comments': [], 'alerts': []}


_CLAUSE = re.compile(r"(\w+) (eq|ne|gt|ge|lt|le) ('(?:[^']|'')*'|\S+)")


def matches(item, filter_, graph):
    for field, op, literal in _CLAUSE.findall(filter_ or ''):
        value = item.get(field)
        if literal.startswith("'"):
            wanted = literal[1:-1].replace("''", "'")
        else:
            wanted, value = m.normalize_ts(literal), m.normalize_ts(value)
        result = {'eq': value == wanted, 'ne': value != wanted, 'gt': value > wanted, 'ge': value >= wanted,
                  'lt': value < wanted, 'le': value <= wanted}[op]
        if not result:
            return False
    return True


class FakeDefender:
    """Incidents kept in the Defender XDR shape; the Graph routes answer in Graph's shape with @odata.nextLink."""

    def __init__(self, requests_mock, incidents=(), graph_page=50):
        self.incidents = list(incidents)
        self.graph_page = graph_page
        self.list_calls = []
        requests_mock.get(f'{XDR}/api/incidents', json=self.legacy_list)
        requests_mock.get(f'{GRAPH}/v1.0/security/incidents', json=self.graph_list)

    def _select(self, request, graph):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
        self.list_calls.append(query)
        items = [legacy_to_graph(i) if graph else i for i in self.incidents]
        created = 'createdDateTime' if graph else 'createdTime'
        items = [i for i in items if matches(i, query.get('$filter', [''])[0], graph)]
        items.sort(key=lambda i: m.normalize_ts(i[created]), reverse=True)
        skip = int(query.get('$skip', ['0'])[0])
        top = int(query.get('$top', ['100'])[0])
        return items, skip, top

    def legacy_list(self, request, context):
        items, skip, top = self._select(request, graph=False)
        size = min(top, 100)
        body = {'value': items[skip:skip + size]}
        if skip + size < len(items):
            body['@odata.nextLink'] = f'{XDR}/api/incidents?$skip={skip + size}'
        return body

    def graph_list(self, request, context):
        items, skip, top = self._select(request, graph=True)
        size = min(top, self.graph_page)
        body = {'value': items[skip:skip + size]}
        if urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query).get('$count') == ['true']:
            body['@odata.count'] = len(items)
        if skip + size < len(items):
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
            query['$skip'] = [str(skip + size)]
            body['@odata.nextLink'] = f'{GRAPH}/v1.0/security/incidents?{urllib.parse.urlencode(query, doseq=True)}'
        return body


def incident(incident_id, created, **extra):
    return {'incidentId': incident_id, 'incidentName': f'Incident {incident_id}', 'createdTime': created,
            'lastUpdateTime': created, 'assignedTo': None, 'classification': 'Unknown',
            'determination': 'NotAvailable', 'status': 'Active', 'severity': 'Medium', 'tags': [], 'comments': [],
            'alerts': [], **extra}


# ---------------------------------------------------------------------------------------------------------------
# Small helpers and argument rules
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('raw, expected', [
    ('2020-09-06T14:46:57.0733333Z', '2020-09-06T14:46:57.0733333Z'),
    ('2020-09-06T14:46:57.29Z', '2020-09-06T14:46:57.2900000Z'),
    ('2020-09-06T14:46:57Z', '2020-09-06T14:46:57.0000000Z'),
    ('2020-09-06T16:46:57.5+02:00', '2020-09-06T14:46:57.5000000Z'),
])
def test_normalize_ts(raw, expected):
    """Given Microsoft timestamps with 0-7 fractional digits or an offset, When normalised, Then they are UTC with
    seven digits (string order equals time order)."""
    assert m.normalize_ts(raw) == expected


@pytest.mark.parametrize('classification, determination, expected', [
    ('TruePositive', None, 'Other'),
    ('TruePositive', 'Phishing', 'Phishing'),
    ('TruePositive', 'compromisedaccount', 'CompromisedAccount'),
    ('InformationalExpectedActivity', 'SecurityTesting', 'SecurityTesting'),
    ('FalsePositive', 'NotMalicious', 'NotMalicious'),
    ('FalsePositive', None, 'Other'),
    ('Unknown', None, 'NotAvailable'),
    ('Unknown', 'NotAvailable', 'NotAvailable'),
    (None, None, None),
])
def test_determination_value_valid_pairs(classification, determination, expected):
    """Given a classification and an optional determination, When checked, Then the value to send is returned
    (the classification's default when no determination is given)."""
    assert m.determination_value(classification, determination) == expected


@pytest.mark.parametrize('classification, determination, message', [
    ('FalsePositive', 'Malware', 'Allowed values: NotMalicious, NoEnoughDataToValidate, Other'),
    ('Unknown', 'Other', 'Allowed values: NotAvailable'),
    ('InformationalExpectedActivity', 'Phishing', 'SecurityTesting, LineOfBusinessApplication'),
    (None, 'Malware', '"determination" needs a "classification"'),
])
def test_determination_value_bad_pairs(classification, determination, message):
    """Given a determination that does not belong to the classification, When checked, Then the error names the
    argument and lists the allowed values."""
    with pytest.raises(ValueError, match=re.escape(message)):
        m.determination_value(classification, determination)


def test_choice_and_number_arguments():
    """Given bad status/limit values, When parsed, Then the errors name the argument and what is allowed."""
    with pytest.raises(ValueError, match='Invalid "status": "Open". Allowed values: Active, InProgress'):
        m.choice_arg({'status': 'Open'}, 'status', m.STATUSES)
    assert m.choice_arg({'status': 'resolved'}, 'status', m.STATUSES) == 'Resolved'
    with pytest.raises(ValueError, match='Invalid "limit": "500". Provide a whole number from 1 to 100'):
        m.number_arg({'limit': '500'}, 'limit', 100, 1, 100)
    with pytest.raises(ValueError, match='Invalid "id"'):
        m.incident_id_arg('abc')


# ---------------------------------------------------------------------------------------------------------------
# KQL
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('query, limit, expected', [
    ('DeviceProcessEvents', 50, 'DeviceProcessEvents | limit 50'),
    ('DeviceProcessEvents | take 10', 50, 'DeviceProcessEvents | limit 50 '),
    ('DeviceProcessEvents | limit 10', 5, 'DeviceProcessEvents | limit 5 '),
    ('T | take 5 | project A', 50, 'T | take 5 | project A | limit 50'),
    ('T | where A == "x || y"', 10, 'T | where A == "x || y" | limit 10'),
    ("T | where A has 'a|b' | take 3", 10, "T | where A has 'a|b' | limit 10 "),
    ('T | where A == @"c:\\x|""y""" ', 10, 'T | where A == @"c:\\x|""y""" | limit 10'),
    ('T | join (U | take 5) on Id', 10, 'T | join (U | take 5) on Id | limit 10'),
    ('let x = T | take 5;\nx | count', 10, 'let x = T | take 5;\nx | count | limit 10'),
    ('let x = 1;\nT | where A > x;', 7, 'let x = 1;\nT | where A > x | limit 7;'),
    ('T // newest | first', 10, 'T // newest | first\n| limit 10'),
    ('T | take 10', -1, 'T | take 10'),
])
def test_apply_hunting_limit(query, limit, expected):
    """Given KQL with pipes in strings, sub-queries, statements and comments, When the limit is applied, Then only
    the final top-level stage is rewritten or a limit stage is appended (-1 leaves the query alone)."""
    assert m.apply_hunting_limit(query, limit) == expected


@pytest.mark.parametrize('value, expected', [
    ('P7D', 'P7D'), ('pt12h', 'PT12H'), ('7 days', 'P7D'), ('12 hours', 'PT12H'), ('1 day 12 hours', 'P1DT12H'),
    ('30 minutes', 'PT30M'), ('2 weeks', 'P2W'), ('3 months', 'P3M'),
    ('2024-02-01T08:00:00Z', '2024-02-01T08:00:00Z'),
    ('2024-02-01T08:00:00Z/2024-02-15T08:00:00Z', '2024-02-01T08:00:00Z/2024-02-15T08:00:00Z'),
    ('P30D/2024-02-15T08:00:00Z', 'P30D/2024-02-15T08:00:00Z'), ('', None),
])
def test_parse_timespan(value, expected):
    """Given durations, phrases, dates or intervals, When parsed, Then Microsoft's Timespan syntax is returned."""
    assert m.parse_timespan(value) == expected


@pytest.mark.parametrize('value', ['seven days', 'P', '7 dayz', 'P7D/P3D', '2024-13-45'])
def test_parse_timespan_invalid(value):
    """Given a timespan that is none of the accepted forms, When parsed, Then the error names the argument."""
    with pytest.raises(ValueError, match='Invalid "timespan"'):
        m.parse_timespan(value)


# ---------------------------------------------------------------------------------------------------------------
# Graph -> Defender XDR normalisation
# ---------------------------------------------------------------------------------------------------------------

def test_graph_incident_to_legacy():
    """Given a Graph incident with alerts and evidence, When normalised, Then it has the Defender XDR field names,
    PascalCase enums, an integer ID, tags, comments, devices and entities."""
    result = m.graph_incident_to_legacy(load('graph_incident.json'))
    legacy_keys = set(load('legacy_incident.json'))
    assert set(result) == legacy_keys | {'incidentUri'}   # the Defender XDR API sends incidentUri too (not in its example)
    assert result['incidentId'] == 2972395
    assert (result['status'], result['severity'], result['classification'], result['determination']) == \
        ('InProgress', 'Medium', 'TruePositive', 'CompromisedUser')
    assert result['tags'] == ['Demo']
    assert result['comments'] == [{'comment': 'Demo incident', 'createdBy': 'DavidS@contoso.onmicrosoft.com',
                                   'createdTime': '2021-09-30T12:07:37.2756993Z'}]
    alert = result['alerts'][0]
    assert alert['alertId'] == 'da637551227677560813_-961444813' and alert['incidentId'] == 2972395
    assert alert['serviceSource'] == 'MicrosoftDefenderForEndpoint' and alert['status'] == 'New'
    assert alert['devices'][0]['deviceDnsName'] == 'tempDns' and alert['devices'][0]['riskScore'] == 'Medium'
    kinds = [e['entityType'] for e in alert['entities']]
    assert kinds == ['File', 'User', 'Ip', 'Url', 'Mailbox', 'CloudApplication']
    assert alert['entities'][0]['sha1'].startswith('5f1e8ace') and alert['entities'][0]['deviceId']


def test_documented_graph_list_with_alerts_maps_to_the_legacy_shape(requests_mock):
    """Given Microsoft's documented answer to GET /security/incidents?$expand=alerts, When listed on the Graph back
    end, Then the context has the Defender XDR names and values: incidentUri, legacy source names, alert
    classification null while unset, devices with mdatpDeviceId and rbacGroupId, every entity field with a verdict."""
    requests_mock.get(f'{GRAPH}/v1.0/security/incidents', json=load('graph_list_incidents_expand_alerts.json'))
    incident = m.incidents_list_command(make_api(m.BACKEND_GRAPH), {'limit': '10'}).outputs[0]
    assert incident['incidentUri'] == 'https://security.microsoft.com/incidents/2972395?tid=12f988bf-16f1-11af-11ab-' \
                                      '1d7cd011db47'
    assert (incident['incidentId'], incident['tags'], incident['determination']) == (2972395, ['Demo'],
                                                                                     'MultiStagedAttack')
    alert = incident['alerts'][0]
    assert (alert['serviceSource'], alert['detectionSource'], alert['status'], alert['severity']) == \
        ('MicrosoftDefenderForEndpoint', 'WindowsDefenderAv', 'New', 'Low')
    assert alert['classification'] is None and alert['determination'] is None
    assert alert['detectorId'] == 'e0da400f-affd-43ef-b1d5-afc2eb6f2756' and alert['incidentId'] == 28282
    device = alert['devices'][0]
    assert set(device) == set(m.LEGACY_DEVICE_FIELDS) | {'tags'}
    assert (device['mdatpDeviceId'], device['rbacGroupId'], device['rbacGroupName'], device['healthStatus'],
            device['riskScore'], device['osBuild'], device['tags']) == \
        ('73e7e2de709dff64ef64b1d0c30e67fab63279db', 75, 'UnassignedGroup', 'Active', 'Medium', 22424, ['Test Machine'])
    assert [e['entityType'] for e in alert['entities']] == ['File', 'Process', 'Registry']
    assert all(list(e) == list(m.LEGACY_ENTITY_FIELDS) for e in alert['entities'])
    file_, process, registry = alert['entities']
    assert (file_['sha1'], file_['fileName'], file_['deviceId'], file_['verdict'], file_['remediationStatus'],
            file_['evidenceCreationTime']) == ('5f1e8acedc065031aad553b710838eb366cfee9a', 'MsSense.exe',
                                               '73e7e2de709dff64ef64b1d0c30e67fab63279db', 'Unknown', 'None',
                                               '2021-04-27T12:19:27.7211305Z')
    assert (process['processId'], process['parentProcessId'], process['processCreationTime']) == \
        (4780, 668, '2021-08-12T12:43:19.0772577Z')
    assert registry['registryHive'] == 'HKEY_LOCAL_MACHINE' and registry['registryKey'].endswith('SENSEAUDITLOGGER')


def test_documented_mailbox_evidence_maps_to_a_mailbox_entity():
    """Given mailboxEvidence as Microsoft documents it, When normalised, Then it is a 'Mailbox' entity with the
    address, display name and user fields the official integration and its mapper read."""
    evidence = load('graph_mailbox_evidence.json')
    entity = m.graph_entity_to_legacy('mailbox', evidence)
    assert (entity['entityType'], entity['mailboxAddress'], entity['mailboxDisplayName'], entity['userPrincipalName'],
            entity['accountName'], entity['aadUserId'], entity['verdict']) == \
        ('Mailbox', 'testUser3@contoso.com', 'Test User3', 'testUser3@contoso.com', 'testUser3',
         'fc8f7484-f813-4db2-afab-bc1507913fb6', 'Suspicious')
    message = m.graph_entity_to_legacy('analyzedMessage', {
        'p1Sender': {'emailAddress': 'user.abc@mail.contoso.co.in'}, 'recipientEmailAddress': 'testUser2@contoso.com',
        'subject': '[EXTERNAL] Attention', 'deliveryAction': 'delivered'})
    assert (message['entityType'], message['sender'], message['recipient'], message['subject'],
            message['deliveryAction']) == ('MailMessage', 'user.abc@mail.contoso.co.in', 'testUser2@contoso.com',
                                           '[EXTERNAL] Attention', 'Delivered')


def test_incident_metadata_has_the_official_meaning():
    """Given a Defender XDR incident with repeated categories, users, a device with tags and mailboxes (both
    spellings of the type), When the fetched-incident metadata is built, Then it is what the official integration
    writes: categories counted, user domain names, New/Active alerts active, tags comma-joined, mailboxes once."""
    mailbox = {'entityType': 'Mailbox', 'mailboxAddress': 'a@contoso.com', 'mailboxDisplayName': 'A'}
    alerts = [
        {'category': 'InitialAccess', 'status': 'New', 'serviceSource': 'MicrosoftDefenderForOffice365',
         'detectionSource': 'OfficeATP', 'firstActivity': '2024-01-02T00:00:00Z', 'lastActivity': '2024-01-03T00:00:00Z',
         'devices': [], 'entities': [mailbox, {'entityType': 'User', 'domainName': 'contoso', 'userPrincipalName': 'a@c'}]},
        {'category': 'InitialAccess', 'status': 'InProgress', 'serviceSource': 'MicrosoftDefenderForEndpoint',
         'detectionSource': 'WindowsDefenderAv', 'firstActivity': '2024-01-01T00:00:00Z',
         'lastActivity': '2024-01-04T00:00:00Z',
         'devices': [{'deviceDnsName': 'pc1', 'riskScore': 'High', 'tags': ['t1', 't2']}],
         'entities': [{**mailbox, 'entityType': 'MailBox'}, {'entityType': 'MailBox', 'mailboxAddress': 'b@contoso.com',
                                                             'mailboxDisplayName': 'B'}]},
    ]
    metadata = m.incident_metadata({'alerts': alerts, 'comments': [{'comment': 'c'}]})
    assert metadata['Categories'] == ['InitialAccess', 'InitialAccess']
    assert metadata['Impacted entities'] == ['contoso']
    assert metadata['Active alerts'] == '1 / 2'
    assert metadata['Devices'] == [{'device name': 'pc1', 'risk level': 'High', 'tags': 't1,t2'}]
    assert metadata['Mailboxes'] == [{'Mailbox': 'a@contoso.com', 'Display Name': 'A'},
                                     {'Mailbox': 'b@contoso.com', 'Display Name': 'B'}]
    assert (metadata['First activity'], metadata['Last activity']) == ('2024-01-01T00:00:00Z', '2024-01-04T00:00:00Z')
    assert metadata['comments'] == [{'comment': 'c'}]
    assert m.incident_metadata({'alerts': []})['First activity'] == ''


@pytest.mark.parametrize('odata, sent_top, pages', [('{"$top":"3"}', '3', 1), ('{"$top":"80"}', '50', 2),
                                                   ('{"$filter":"status eq \'Active\'"}', None, 2)])
def test_incidents_list_odata_top_on_graph(requests_mock, odata, sent_top, pages):
    """Given a raw OData query, When listed on Graph, Then $top incidents come back (Graph's 50-per-page limit is
    paged over), or one Defender XDR page (100) without $top, never every incident."""
    base = datetime(2024, 1, 1, tzinfo=UTC)
    fake = FakeDefender(requests_mock, [incident(i, m.datetime_to_ts(base + timedelta(minutes=i)))
                                        for i in range(1, 301)], graph_page=50)
    result = m.incidents_list_command(make_api(m.BACKEND_GRAPH), {'odata': odata})
    expected = {'3': 3, '50': 80}.get(sent_top, 100)
    assert len(result.outputs) == expected
    assert len(fake.list_calls) == pages and fake.list_calls[0].get('$top', [None])[0] == sent_top


def test_incidents_list_odata_bad_top():
    """Given a $top that is not a number, When listed on Graph, Then the error names the argument."""
    with pytest.raises(ValueError, match='Invalid "odata"'):
        m.incidents_list_command(make_api(m.BACKEND_GRAPH), {'odata': '{"$top":"x"}'})


def test_legacy_filter_to_graph():
    """Given a $filter in the Defender XDR vocabulary, When translated, Then Graph field names and values are used."""
    assert m.legacy_filter_to_graph("status eq 'Active' and lastUpdateTime gt 2024-01-01T00:00:00Z") == \
        "status eq 'active' and lastUpdateDateTime gt 2024-01-01T00:00:00Z"


# ---------------------------------------------------------------------------------------------------------------
# Commands over both back ends
# ---------------------------------------------------------------------------------------------------------------

def test_incidents_list_legacy(requests_mock):
    """Given status, assignee, limit and offset, When listing with the Defender XDR API, Then $filter/$top/$skip are
    sent and the incidents go to Microsoft365Defender.Incident keyed by incidentId."""
    route = requests_mock.get(f'{XDR}/api/incidents', json={'value': [load('legacy_incident.json')]})
    result = m.incidents_list_command(make_api(), {'status': 'Active', 'assigned_to': "o'neil@contoso.com",
                                                   'limit': '5', 'offset': '10'})
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(route.last_request.url).query)
    assert query['$filter'] == ["status eq 'Active' and assignedTo eq 'o''neil@contoso.com'"]
    assert query['$top'] == ['5'] and query['$skip'] == ['10']
    assert result.outputs_prefix == 'Microsoft365Defender.Incident' and result.outputs_key_field == 'incidentId'
    assert result.outputs[0]['incidentId'] == 924565
    assert 'Ransomware activity' in result.readable_output and 'Impact' in result.readable_output


def test_incidents_list_graph_same_shape(requests_mock):
    """Given the Graph back end, When listing, Then alerts are expanded, enums translated in $filter, and the outputs
    have exactly the Defender XDR keys."""
    route = requests_mock.get(f'{GRAPH}/v1.0/security/incidents', json={'value': [load('graph_incident.json')]})
    result = m.incidents_list_command(make_api(m.BACKEND_GRAPH), {'status': 'InProgress', 'limit': '100'})
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(route.last_request.url).query)
    assert query['$filter'] == ["status eq 'inProgress'"] and query['$expand'] == ['alerts']
    assert set(result.outputs[0]) - {'incidentUri'} == set(load('legacy_incident.json'))


def test_incidents_list_graph_follows_next_link(requests_mock):
    """Given more incidents than one Graph page, When listing with a limit, Then @odata.nextLink is followed until
    the limit is reached."""
    base = datetime(2024, 1, 1, tzinfo=UTC)
    FakeDefender(requests_mock, [incident(i, m.datetime_to_ts(base + timedelta(minutes=i))) for i in range(1, 121)],
                 graph_page=50)
    result = m.incidents_list_command(make_api(m.BACKEND_GRAPH), {'limit': '100'})
    assert [i['incidentId'] for i in result.outputs] == list(range(120, 20, -1))


def test_incidents_list_odata_replaces_params(requests_mock):
    """Given an odata JSON object, When listing, Then it is sent instead of the other arguments."""
    route = requests_mock.get(f'{XDR}/api/incidents', json={'value': []})
    result = m.incidents_list_command(make_api(), {'status': 'Active', 'limit': '5',
                                                   'odata': '{"$filter":"lastUpdateTime gt 2024-01-01T00:00:00Z"}'})
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(route.last_request.url).query)
    assert query == {'$filter': ['lastUpdateTime gt 2024-01-01T00:00:00Z']}
    assert result.readable_output == 'No incidents found.'


@pytest.mark.parametrize('args, message', [
    ({'odata': 'not json'}, 'Invalid "odata"'),
    ({'odata': '{"filter": "x"}'}, 'Invalid "odata"'),
    ({'limit': '0'}, 'Invalid "limit"'),
    ({'status': 'Closed'}, 'Invalid "status"'),
    ({'timeout': 'soon'}, 'Invalid "timeout"'),
])
def test_incidents_list_bad_input_sends_nothing(requests_mock, args, message):
    """Given invalid arguments, When listing, Then a clear error is raised before any request."""
    route = requests_mock.get(f'{XDR}/api/incidents', json={'value': []})
    with pytest.raises(ValueError, match=message):
        m.incidents_list_command(make_api(), args)
    assert not route.called


@pytest.mark.parametrize('backend, url, body', [
    (m.BACKEND_LEGACY, f'{XDR}/api/incidents/924565', 'legacy_incident.json'),
    (m.BACKEND_GRAPH, f'{GRAPH}/v1.0/security/incidents/924565', 'graph_incident.json'),
])
def test_incident_get(requests_mock, backend, url, body):
    """Given an incident ID, When getting it from either back end, Then one incident in the Defender XDR shape is
    written to the context."""
    requests_mock.get(url, json=load(body))
    result = m.incident_get_command(make_api(backend), {'id': '924565'})
    assert set(result.outputs) - {'incidentUri'} == set(load('legacy_incident.json'))
    assert result.readable_output.startswith('### Incident 924565:')


def test_incident_update_legacy(requests_mock):
    """Given all update arguments including an empty assigned_to, When updating with the Defender XDR API, Then one
    PATCH carries the fields, the comment and an empty owner."""
    route = requests_mock.patch(f'{XDR}/api/incidents/924565', json=load('legacy_incident.json'))
    result = m.incident_update_command(make_api(), {
        'id': '924565', 'status': 'Resolved', 'assigned_to': '', 'classification': 'TruePositive',
        'determination': 'Malware', 'tags': 'a,b', 'comment': 'done'})
    assert route.last_request.json() == {'status': 'Resolved', 'classification': 'TruePositive',
                                         'determination': 'Malware', 'assignedTo': '', 'tags': ['a', 'b'],
                                         'comment': 'done'}
    assert result.outputs['incidentId'] == 924565


def test_incident_update_graph(requests_mock):
    """Given an update with a comment on the Graph back end, When updating, Then the fields are PATCHed in Graph's
    spelling, the comment is POSTed to /comments, and the updated incident is read back."""
    patch = requests_mock.patch(f'{GRAPH}/v1.0/security/incidents/2972395', json={})
    post = requests_mock.post(f'{GRAPH}/v1.0/security/incidents/2972395/comments', json={'value': []})
    requests_mock.get(f'{GRAPH}/v1.0/security/incidents/2972395', json=load('graph_incident.json'))
    result = m.incident_update_command(make_api(m.BACKEND_GRAPH), {
        'id': '2972395', 'status': 'InProgress', 'assigned_to': '', 'classification': 'FalsePositive',
        'determination': 'NotMalicious', 'tags': 'x', 'comment': 'looked at it'})
    assert patch.last_request.json() == {'status': 'inProgress', 'classification': 'falsePositive',
                                         'determination': 'clean', 'assignedTo': None, 'customTags': ['x']}
    assert post.last_request.json() == {'@odata.type': 'microsoft.graph.security.alertComment',
                                        'comment': 'looked at it'}
    assert result.outputs['determination'] == 'CompromisedUser'


@pytest.mark.parametrize('args, message', [
    ({'id': '1', 'classification': 'FalsePositive', 'determination': 'Malware'}, 'Allowed values: NotMalicious'),
    ({'id': '1', 'determination': 'Malware'}, 'needs a "classification"'),
    ({'id': '1', 'classification': 'Bad'}, 'Invalid "classification"'),
    ({'id': 'x', 'status': 'Active'}, 'Invalid "id"'),
    ({'id': '1'}, 'Nothing to update'),
])
def test_incident_update_rejects_before_writing(requests_mock, args, message):
    """Given invalid update arguments, When updating, Then a clear error is raised and nothing is written."""
    route = requests_mock.patch(f'{XDR}/api/incidents/1', json={})
    with pytest.raises(ValueError, match=message):
        m.incident_update_command(make_api(), args)
    assert not route.called


def test_advanced_hunting_legacy(requests_mock):
    """Given a query and a limit, When hunting with the Defender XDR API, Then the rewritten query is POSTed and the
    rows go to Microsoft365Defender.Hunt keyed by query."""
    route = requests_mock.post(f'{XDR}/api/advancedhunting/run', json=load('legacy_hunting_response.json'))
    result = m.advanced_hunting_command(make_api(hunting_api=m.HUNT_LEGACY),
                                        {'query': 'DeviceProcessEvents | take 2', 'limit': '10'})
    assert route.last_request.json() == {'Query': 'DeviceProcessEvents | limit 10 '}
    assert result.outputs_prefix == 'Microsoft365Defender.Hunt' and result.outputs_key_field == 'query'
    assert result.outputs['query'] == 'DeviceProcessEvents | take 2' and len(result.outputs['results']) == 2
    assert 'Timestamp' in result.readable_output and 'conhost.exe' in result.readable_output


def test_advanced_hunting_graph_with_timespan(requests_mock):
    """Given a timespan phrase, When hunting with Graph, Then Timespan is sent as an ISO 8601 duration."""
    route = requests_mock.post(f'{GRAPH}/v1.0/security/runHuntingQuery', json=load('graph_hunting_response.json'))
    result = m.advanced_hunting_command(make_api(m.BACKEND_GRAPH), {'query': 'T', 'limit': '-1',
                                                                     'timespan': '7 days'})
    assert route.last_request.json() == {'Query': 'T', 'Timespan': 'P7D'}
    assert len(result.outputs['results']) == 2


def test_advanced_hunting_many_rows(requests_mock):
    """Given 120 result rows, When hunting, Then the war room shows 50 and says so, and the context holds all."""
    rows = [{'Id': i} for i in range(120)]
    requests_mock.post(f'{XDR}/api/advancedhunting/run', json={'Results': rows, 'Schema': []})
    result = m.advanced_hunting_command(make_api(hunting_api=m.HUNT_LEGACY), {'query': 'T', 'limit': '1000'})
    assert len(result.outputs['results']) == 120
    assert 'Showing the first 50 of 120 rows' in result.readable_output
    assert result.readable_output.count('\n| ') == 50


def test_advanced_hunting_invalid_kql(requests_mock):
    """Given KQL Microsoft cannot parse, When hunting, Then Microsoft's message is the error."""
    requests_mock.post(f'{GRAPH}/v1.0/security/runHuntingQuery', status_code=400, json=load('graph_hunting_error.json'))
    with pytest.raises(DemistoException, match="rejected: BadRequest: Query could not be parsed at 'wher'"):
        m.advanced_hunting_command(make_api(m.BACKEND_GRAPH), {'query': 'T | wher x', 'limit': '5'})


@pytest.mark.parametrize('args, message', [
    ({'query': 'T', 'limit': '100001'}, 'Invalid "limit"'),
    ({'query': 'T', 'limit': '0'}, 'Invalid "limit"'),
    ({'query': 'T', 'timespan': 'forever'}, 'Invalid "timespan"'),
    ({'query': ' '}, 'Missing "query"'),
    ({'query': 'T', 'timespan': 'P7D'}, 'needs advanced hunting on Microsoft Graph'),
])
def test_advanced_hunting_bad_input(requests_mock, args, message):
    """Given invalid hunting arguments (or a timespan on the Defender XDR hunting API), When hunting, Then a clear
    error is raised and no query runs."""
    route = requests_mock.post(f'{XDR}/api/advancedhunting/run', json={})
    with pytest.raises(ValueError, match=message):
        m.advanced_hunting_command(make_api(hunting_api=m.HUNT_LEGACY), args)
    assert not route.called


# ---- advanced hunting on the Defender XDR back end after Microsoft retires /api/advancedhunting/run ----
LEGACY_HUNT = f'{XDR}/api/advancedhunting/run'
GRAPH_HUNT = f'{GRAPH}/v1.0/security/runHuntingQuery'


def graph_403():
    return {'status_code': 403, 'json': {'error': {'code': 'Forbidden', 'message': 'Missing role permissions on the '
                                                   "request. API requires one of 'ThreatHunting.Read.All'."}}}


def graph_rows():
    legacy = load('legacy_hunting_response.json')
    return {'schema': [{'name': c['Name'], 'type': c['Type']} for c in legacy['Schema']], 'results': legacy['Results']}


def test_legacy_back_end_hunts_on_graph_by_default(requests_mock):
    """Given the Defender XDR back end with the default "Advanced hunting API" (Automatic), When a query runs, Then
    it goes to Graph runHuntingQuery (with the legacy API's 30 days) with a Graph token, and the context is what the
    legacy API gives for the same rows."""
    graph = requests_mock.post(GRAPH_HUNT, json=graph_rows())
    legacy = requests_mock.post(LEGACY_HUNT, json=load('legacy_hunting_response.json'))
    args = {'query': 'DeviceProcessEvents | take 2', 'limit': '10'}
    on_graph = m.advanced_hunting_command(make_api(), args)
    assert graph.last_request.json() == {'Query': 'DeviceProcessEvents | limit 10 ', 'Timespan': 'P30D'}
    assert not legacy.called
    assert m.TokenProvider.get_token.call_args_list[-1].args[0] == f'{GRAPH}/.default'
    on_legacy = m.advanced_hunting_command(make_api(hunting_api=m.HUNT_LEGACY), args)
    assert on_graph.to_context() == on_legacy.to_context()


def test_legacy_back_end_timespan_goes_to_graph(requests_mock):
    route = requests_mock.post(GRAPH_HUNT, json=graph_rows())
    m.advanced_hunting_command(make_api(), {'query': 'T', 'limit': '-1', 'timespan': '7 days'})
    assert route.last_request.json() == {'Query': 'T', 'Timespan': 'P7D'}


def test_automatic_falls_back_and_remembers_the_refusal(requests_mock, mocker):
    """Given an app without ThreatHunting.Read.All, When two queries run on Automatic, Then the first asks Graph
    (403) and the Defender XDR API, the second only the Defender XDR API; an hour later Graph is asked again."""
    graph = requests_mock.post(GRAPH_HUNT, **graph_403())
    legacy = requests_mock.post(LEGACY_HUNT, json=load('legacy_hunting_response.json'))
    first = m.advanced_hunting_command(make_api(), {'query': 'T'})
    assert (graph.call_count, legacy.call_count) == (1, 1) and len(first.outputs['results']) == 2
    m.advanced_hunting_command(make_api(), {'query': 'T'})
    assert (graph.call_count, legacy.call_count) == (1, 2)
    later = time.time() + m.GRAPH_REFUSAL_TTL + 1
    mocker.patch.object(MicrosoftApiModule, '_now', return_value=later)
    m.advanced_hunting_command(make_api(), {'query': 'T'})
    assert (graph.call_count, legacy.call_count) == (2, 3)


def test_graph_choice_ignores_a_remembered_refusal(requests_mock):
    requests_mock.post(GRAPH_HUNT, **graph_403())
    requests_mock.post(LEGACY_HUNT, json=load('legacy_hunting_response.json'))
    m.advanced_hunting_command(make_api(), {'query': 'T'})
    graph = requests_mock.post(GRAPH_HUNT, json=graph_rows())
    m.advanced_hunting_command(make_api(hunting_api=m.HUNT_GRAPH), {'query': 'T'})
    assert graph.called


def test_graph_choice_names_the_permission(requests_mock):
    requests_mock.post(GRAPH_HUNT, **graph_403())
    legacy = requests_mock.post(LEGACY_HUNT, json={})
    with pytest.raises(DemistoException, match=r'Microsoft Graph permission ThreatHunting\.Read\.All') as error:
        m.advanced_hunting_command(make_api(hunting_api=m.HUNT_GRAPH), {'query': 'T'})
    assert not legacy.called and 'refused the query too' not in str(error.value)


@pytest.mark.parametrize('legacy_status', [403, 404, 410])
def test_automatic_names_the_permission_when_no_fallback(requests_mock, legacy_status):
    """Given Graph 403 and a Defender XDR hunting API that refuses too or is gone, Then the error names the Graph
    permission and the legacy status."""
    requests_mock.post(GRAPH_HUNT, **graph_403())
    requests_mock.post(LEGACY_HUNT, status_code=legacy_status, json={'error': {'code': 'Gone', 'message': 'x'}})
    with pytest.raises(DemistoException, match='ThreatHunting.Read.All') as error:
        m.advanced_hunting_command(make_api(), {'query': 'T'})
    assert f'HTTP {legacy_status}' in str(error.value)


def test_automatic_falls_back_when_the_api_url_serves_no_graph(requests_mock):
    """Given a Custom cloud whose API URL is a Defender XDR host (Graph's path answers 404), When hunting on
    Automatic, Then the Defender XDR API answers; on "Microsoft Graph" the 404 is the error."""
    custom = {'azure_cloud': 'Custom', 'api_url': 'https://xdr.gateway.example', 'login_url': 'https://login.example'}
    requests_mock.post('https://xdr.gateway.example/v1.0/security/runHuntingQuery', status_code=404,
                       json={'error': {'code': 'NotFound', 'message': 'Resource not found'}})
    legacy = requests_mock.post('https://xdr.gateway.example/api/advancedhunting/run',
                                json=load('legacy_hunting_response.json'))
    result = m.advanced_hunting_command(make_api(**custom), {'query': 'T'})
    assert legacy.called and len(result.outputs['results']) == 2
    with pytest.raises(DemistoException, match='Resource not found'):
        m.advanced_hunting_command(make_api(hunting_api=m.HUNT_GRAPH, **custom), {'query': 'T'})


def test_graph_errors_other_than_refusals_do_not_fall_back(requests_mock):
    requests_mock.post(GRAPH_HUNT, status_code=400, json=load('graph_hunting_error.json'))
    legacy = requests_mock.post(LEGACY_HUNT, json={})
    with pytest.raises(DemistoException, match="could not be parsed at 'wher'"):
        m.advanced_hunting_command(make_api(), {'query': 'T | wher x'})
    assert not legacy.called and not m.GraphRefusalMemo(make_api().http.tokens, 'hunting').active()


def test_graph_back_end_refusal_names_the_permission(requests_mock):
    requests_mock.post(GRAPH_HUNT, **graph_403())
    with pytest.raises(DemistoException, match='ThreatHunting.Read.All'):
        m.advanced_hunting_command(make_api(m.BACKEND_GRAPH), {'query': 'T'})


def test_xsoar_app_hunts_on_the_legacy_api_without_asking_graph(requests_mock):
    """Given the Cortex XSOAR app (device code), which Entra never gives a Graph token, When hunting on Automatic,
    Then only the Defender XDR API is asked; on "Microsoft Graph" the error says what to change."""
    params = {'creds_client_id': {'password': m.XSOAR_APP_ID}, 'client_credentials': False}
    graph = requests_mock.post(GRAPH_HUNT, json=graph_rows())
    legacy = requests_mock.post(LEGACY_HUNT, json=load('legacy_hunting_response.json'))
    m.advanced_hunting_command(make_api(**params), {'query': 'T'})
    assert legacy.called and not graph.called
    with pytest.raises(DemistoException, match='Advanced hunting API'):
        m.advanced_hunting_command(make_api(hunting_api=m.HUNT_GRAPH, **params), {'query': 'T'})
    assert not graph.called


def test_hunting_api_parameter_is_checked():
    assert m.hunting_api_param({}) == m.HUNT_AUTO
    assert m.hunting_api_param({'hunting_api': 'legacy defender xdr'}) == m.HUNT_LEGACY
    with pytest.raises(ValueError, match='"Advanced hunting API"'):
        make_api(hunting_api='Sentinel')


# ---------------------------------------------------------------------------------------------------------------
# fetch-incidents
# ---------------------------------------------------------------------------------------------------------------

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def fetch_all(api, params, last_run=None, cycles=50, now=NOW):
    """Run fetch cycles until one returns nothing; returns (IDs in creation order, lastRun values)."""
    config = m.FetchConfig({**BASE_PARAMS, **params})
    ids, runs = [], []
    last_run = last_run or {'checkpoint': m.datetime_to_ts(now - timedelta(days=3))}
    for _ in range(cycles):
        incidents, last_run = m.fetch_incidents(api, config, last_run, now=now)
        runs.append(last_run)
        if not incidents:
            break
        ids += [json.loads(i['rawJSON'])['incidentId'] for i in incidents]
    return ids, runs


def backlog(count, start=NOW - timedelta(days=2), spacing=timedelta(seconds=7), tie_every=5, tie_size=3):
    """Incidents with ties: every ``tie_every``-th timestamp is shared by ``tie_size`` incidents."""
    items, moment, next_id = [], start, 1
    for index in range(count):
        size = tie_size if tie_every and index % tie_every == 0 else 1
        for _ in range(size):
            items.append(incident(next_id, m.datetime_to_ts(moment)))
            next_id += 1
        moment += spacing
    return items


@pytest.mark.parametrize('backend', [m.BACKEND_LEGACY, m.BACKEND_GRAPH])
def test_fetch_backlog_with_ties_no_miss_no_duplicate(requests_mock, backend):
    """Given a backlog of ~350 incidents with many ties and max_fetch 25, When fetching repeatedly, Then every
    incident is fetched exactly once, in creation order, and lastRun stays small."""
    incidents = backlog(250)
    FakeDefender(requests_mock, incidents)
    ids, runs = fetch_all(make_api(backend), {'max_fetch': '25'})
    assert ids == [i['incidentId'] for i in incidents]
    assert all(len(json.dumps(r)) < 400 for r in runs)


def test_fetch_ties_split_across_runs(requests_mock):
    """Given five incidents sharing one createdTime and max_fetch 2, When fetching, Then they arrive 2+2+1, and the
    checkpoint keeps the IDs already fetched at that time."""
    moment = '2024-05-01T10:00:00.1234567Z'
    FakeDefender(requests_mock, [incident(i, moment) for i in (5, 3, 1, 4, 2)])
    api, config = make_api(), m.FetchConfig({**BASE_PARAMS, 'max_fetch': '2'})
    first, run1 = m.fetch_incidents(api, config, {'checkpoint': '2024-05-01T00:00:00Z'}, now=NOW)
    assert [json.loads(i['rawJSON'])['incidentId'] for i in first] == [1, 2]
    assert run1['checkpoint'] == moment and run1['seen_ids'] == [1, 2]
    second, run2 = m.fetch_incidents(api, config, run1, now=NOW)
    third, run3 = m.fetch_incidents(api, config, run2, now=NOW)
    fourth, _ = m.fetch_incidents(api, config, run3, now=NOW)
    assert [json.loads(i['rawJSON'])['incidentId'] for i in second + third] == [3, 4, 5]
    assert fourth == [] and m.normalize_ts(run3['checkpoint']) >= moment     # at the ties or past their window


def test_fetch_new_incidents_between_runs(requests_mock):
    """Given a fetched tenant, When new incidents arrive (one sharing the checkpoint time), Then only they are
    fetched next."""
    fake = FakeDefender(requests_mock, backlog(10, tie_every=0))
    api = make_api()
    ids, runs = fetch_all(api, {'max_fetch': '50'})
    last = fake.incidents[-1]['createdTime']
    fake.incidents += [incident(100, last), incident(101, m.datetime_to_ts(NOW - timedelta(minutes=1)))]
    more, _ = fetch_all(api, {'max_fetch': '50'}, last_run=runs[-1])
    assert ids == list(range(1, 11)) and more == [100, 101]


def test_fetch_dense_window_is_paged(requests_mock):
    """Given 250 incidents inside one second (no window can hold a page), When fetching with max_fetch 1000, Then
    the window is paged whole and nothing is lost."""
    start = NOW - timedelta(hours=1)
    FakeDefender(requests_mock, [incident(i, m.datetime_to_ts(start + timedelta(microseconds=i * 100)))
                                 for i in range(1, 251)])
    ids, _ = fetch_all(make_api(), {'max_fetch': '1000'})
    assert ids == list(range(1, 251))


@pytest.mark.parametrize('backend, page', [(m.BACKEND_LEGACY, 100), (m.BACKEND_GRAPH, 50)])
def test_fetch_reads_each_page_about_once(requests_mock, backend, page):
    """Given a backlog of 2,240 incidents with ties from the first fetch time on, When fetched with max_fetch 500,
    Then every incident comes once and the list requests stay within ceil(N / page size) + cycles: windows are
    sized from the observed density and paged with $skip instead of being probed and halved."""
    incidents = backlog(1600, start=NOW - timedelta(days=3, seconds=-30), spacing=timedelta(seconds=40))
    fake = FakeDefender(requests_mock, incidents)
    ids, runs = fetch_all(make_api(backend), {'max_fetch': '500'})
    assert sorted(ids) == [i['incidentId'] for i in incidents] and len(ids) == len(set(ids))
    assert len(fake.list_calls) <= -(-len(incidents) // page) + len(runs)
    assert runs[-1]['window'] == 0                   # caught up: the next cycle reads up to its own now at once


def test_fetch_graph_reads_the_oldest_pages_of_a_counted_window(requests_mock):
    """Given 2,240 incidents that start a day after the first fetch time (a long quiet gap first), When fetched with
    max_fetch 500 on Graph, Then $count tells how many the window holds and only its last pages are read: every
    incident once, oldest first, within ceil(N / 50) + cycles requests and no gap search."""
    incidents = backlog(1600, start=NOW - timedelta(days=2), spacing=timedelta(seconds=40))
    fake = FakeDefender(requests_mock, incidents)
    ids, runs = fetch_all(make_api(m.BACKEND_GRAPH), {'max_fetch': '500'})
    assert ids == [i['incidentId'] for i in incidents]
    assert len(fake.list_calls) <= -(-len(incidents) // 50) + len(runs)
    first = fake.list_calls[0]
    assert first['$count'] == ['true'] and fake.list_calls[1]['$skip'] == [str(len(incidents) - 490)]


def test_fetch_first_run_and_incident_shape(requests_mock, mocker):
    """Given incidents older and newer than first_fetch, When fetching for the first time, Then only the newer ones
    come, shaped with name, occurred, severity, dbotMirrorId and mirror fields in rawJSON."""
    mocker.patch.object(demisto, 'integrationInstance', return_value='m365d_instance')
    FakeDefender(requests_mock, [incident(1, '2024-04-20T00:00:00Z'),
                                 incident(2, '2024-04-30T00:00:00Z', severity='High')])
    config = m.FetchConfig({**BASE_PARAMS, 'first_fetch': '3 days', 'mirror_direction': 'Incoming And Outgoing'})
    mocker.patch.object(m, 'date_arg', return_value=NOW - timedelta(days=3))
    incidents, next_run = m.fetch_incidents(make_api(), config, {}, now=NOW)
    assert len(incidents) == 1
    fetched = incidents[0]
    raw = json.loads(fetched['rawJSON'])
    assert fetched['name'] == 'Microsoft 365 Defender 2' and fetched['occurred'] == '2024-04-30T00:00:00Z'
    assert fetched['dbotMirrorId'] == '2' and fetched['severity'] == 3
    assert raw['mirror_direction'] == 'Both' and raw['mirror_instance'] == 'm365d_instance'
    assert raw['mirror_tags'] == ['CommentToMicrosoft365Defender'] and 'Active alerts' in raw
    assert next_run['checkpoint'] == '2024-04-30T00:00:00.0000000Z' and next_run['seen_ids'] == [2]


# What the official incoming mapper (Microsoft 365 Defender - Incoming Mapper) reads from a fetched incident.
MAPPER_ROOTS = ('assignedTo', 'determination', 'comments', 'Active alerts', 'alerts', 'Categories', 'classification',
                'Devices', 'incidentName', 'First activity', 'incidentId', 'Last activity', 'Mailboxes', 'status', 'tags',
                'Impacted entities', 'incidentUri', 'severity', 'mirror_direction', 'mirror_instance', 'mirror_tags')


def test_fetched_graph_incident_has_what_the_official_mapper_reads(requests_mock, mocker):
    """Given Microsoft's documented Graph incident with alerts, When fetched on the Graph back end, Then the raw
    incident has every root the official incoming mapper reads, in its shapes: alerts[0].investigationState and
    alerts[0].entities[0].verdict exist, Devices tags are one text, Categories a list per alert."""
    mocker.patch.object(demisto, 'integrationInstance', return_value='m365d_instance')
    body = load('graph_list_incidents_expand_alerts.json')
    requests_mock.get(f'{GRAPH}/v1.0/security/incidents', json={'value': body['value'], '@odata.count': 1})
    config = m.FetchConfig({**BASE_PARAMS, 'first_fetch': '2021-08-01T00:00:00Z'})
    incidents, _ = m.fetch_incidents(make_api(m.BACKEND_GRAPH), config, {}, now=NOW)
    raw = json.loads(incidents[0]['rawJSON'])
    assert all(root in raw for root in MAPPER_ROOTS), [r for r in MAPPER_ROOTS if r not in raw]
    assert 'investigationState' in raw['alerts'][0] and raw['alerts'][0]['entities'][0]['verdict'] == 'Unknown'
    assert raw['incidentUri'].startswith('https://security.microsoft.com/incidents/2972395')
    assert raw['Devices'] == [{'device name': 'tempDns', 'risk level': 'Medium', 'tags': 'Test Machine'}]
    assert raw['Categories'] == ['DefenseEvasion'] and raw['Active alerts'] == '1 / 1'
    assert raw['Mailboxes'] == [] and raw['Impacted entities'] == []
    assert raw['Service sources'] == ['MicrosoftDefenderForEndpoint'] and raw['Detection sources'] == ['WindowsDefenderAv']


def test_fetch_timeout_returns_partial_progress(requests_mock, mocker):
    """Given a deadline that expires after the first window, When fetching, Then the incidents found so far are
    returned with a consistent lastRun (the next run continues after them)."""
    FakeDefender(requests_mock, backlog(30, tie_every=0))
    calls = iter([False, True, True, True])
    mocker.patch.object(m.Deadline, 'expired', side_effect=lambda: next(calls))
    config = m.FetchConfig({**BASE_PARAMS, 'max_fetch': '100'})
    last_run = {'checkpoint': '2024-04-29T12:00:00Z', 'seen_ids': [], 'window': 70}
    incidents, next_run = m.fetch_incidents(make_api(), config, last_run, now=NOW)
    ids = [json.loads(i['rawJSON'])['incidentId'] for i in incidents]
    assert ids == list(range(1, len(ids) + 1)) and 0 < len(ids) < 30
    mocker.patch.object(m.Deadline, 'expired', return_value=False)
    rest, _ = fetch_all(make_api(), {'max_fetch': '100'}, last_run=next_run)
    assert ids + rest == list(range(1, 31))


def test_fetch_timeout_without_progress_raises(requests_mock, mocker):
    """Given a deadline that is already over, When fetching, Then a clear timeout error is raised."""
    FakeDefender(requests_mock, backlog(3))
    mocker.patch.object(m.Deadline, 'expired', return_value=True)
    with pytest.raises(DemistoException, match='Fetch incidents timed out'):
        m.fetch_incidents(make_api(), m.FetchConfig(BASE_PARAMS), {}, now=NOW)


def test_fetch_api_error_without_progress_raises(requests_mock):
    """Given the API failing on the first request, When fetching, Then the error propagates (lastRun unchanged)."""
    requests_mock.get(f'{XDR}/api/incidents', status_code=403, json={'error': {'code': 'Forbidden', 'message': 'no'}})
    with pytest.raises(DemistoException, match='Forbidden'):
        m.fetch_incidents(make_api(), m.FetchConfig(BASE_PARAMS), {}, now=NOW)


def test_fetch_command_hands_over_before_saving_last_run(requests_mock, mocker):
    """Given a fetch run, When it finishes, Then demisto.incidents is called before demisto.setLastRun."""
    FakeDefender(requests_mock, backlog(2, tie_every=0))
    order = []
    mocker.patch.object(demisto, 'getLastRun', return_value={})
    mocker.patch.object(demisto, 'incidents', side_effect=lambda x: order.append('incidents'))
    mocker.patch.object(demisto, 'setLastRun', side_effect=lambda x: order.append('lastRun'))
    m.fetch_incidents_command(make_api(), {**BASE_PARAMS})
    assert order == ['incidents', 'lastRun']


def test_fetch_migrates_official_last_run(requests_mock):
    """Given lastRun from the official integration (last_run + incidents_queue), When fetching, Then queued incidents
    are fetched again from the first queued time and nothing older."""
    FakeDefender(requests_mock, [incident(1, '2024-04-30T00:00:00Z'), incident(2, '2024-04-30T01:00:00Z')])
    old = {'last_run': '2024-04-30T01:00:00Z', 'incidents_queue': [{'occurred': '2024-04-30T01:00:00Z'}]}
    ids, _ = fetch_all(make_api(), {}, last_run=old)
    assert ids == [2]
    ids, _ = fetch_all(make_api(), {}, last_run={'last_run': '2024-04-30T00:00:00Z'})
    assert ids == [2]


@pytest.mark.parametrize('params, message', [
    ({'max_fetch': '0'}, 'Invalid "max_fetch"'),
    ({'first_fetch': 'yesterday-ish'}, 'Invalid "first_fetch"'),
    ({'fetch_timeout': '-5'}, 'Invalid "fetch_timeout"'),
])
def test_fetch_config_invalid(params, message):
    """Given invalid fetch parameters, When the fetch settings are read, Then the error names the parameter."""
    with pytest.raises(ValueError, match=message):
        m.FetchConfig({**BASE_PARAMS, **params})


# ---------------------------------------------------------------------------------------------------------------
# Mirroring
# ---------------------------------------------------------------------------------------------------------------

def test_get_modified_remote_data(requests_mock):
    """Given incidents updated before and after lastUpdate, When asked for modified IDs, Then only the later ones
    come back, as strings."""
    FakeDefender(requests_mock, [incident(1, '2024-04-01T00:00:00Z'), incident(2, '2024-04-30T00:00:00Z')])
    result = m.get_modified_remote_data_command(make_api(), {'lastUpdate': '2024-04-15T00:00:00Z'})
    assert result.modified_incident_ids == ['2']


def test_mirroring_commands_without_their_arguments_fail_clearly(requests_mock):
    """Given get-remote-data / get-modified-remote-data run by hand without their arguments, When they run, Then
    the error names the missing argument instead of a KeyError, and get-remote-data works without lastUpdate."""
    with pytest.raises(ValueError, match='"lastUpdate"'):
        m.get_modified_remote_data_command(make_api(), {})
    with pytest.raises(ValueError, match='"id"'):
        m.get_remote_data_command(make_api(), {}, {})
    requests_mock.get(f'{XDR}/api/incidents/7', json=_remote_incident())
    assert m.get_remote_data_command(make_api(), {'id': '7'}, {}).mirrored_object['in_mirror_error'] == ''


def _remote_incident(status='Active', classification='Unknown', comments=()):
    return incident(7, '2024-04-01T00:00:00Z', status=status, classification=classification,
                    comments=list(comments))


@pytest.mark.parametrize('status, classification, expected', [
    ('Resolved', 'FalsePositive', {'dbotIncidentClose': True, 'closeReason': 'False Positive'}),
    ('Resolved', 'TruePositive', {'dbotIncidentClose': True, 'closeReason': 'Resolved'}),
    ('Resolved', 'Unknown', {'dbotIncidentClose': True, 'closeReason': 'Other'}),
    ('Active', 'Unknown', {'dbotIncidentReopen': True}),
])
def test_get_remote_data_close_and_reopen(requests_mock, status, classification, expected):
    """Given close_incident on, When a mirrored incident is resolved or active, Then a close (with the reason from
    the classification) or reopen entry is returned."""
    requests_mock.get(f'{XDR}/api/incidents/7', json=_remote_incident(status, classification))
    result = m.get_remote_data_command(make_api(), {'id': '7', 'lastUpdate': '2024-04-02T00:00:00Z'},
                                       {'close_incident': 'true'})
    contents = result.entries[-1]['Contents']
    assert {k: contents[k] for k in expected} == expected
    assert result.mirrored_object['incidentId'] == 7 and result.mirrored_object['in_mirror_error'] == ''


def test_get_remote_data_comments(requests_mock):
    """Given comments before and after lastUpdate and one mirrored from XSOAR, When getting remote data, Then only
    the newer Microsoft comment becomes a tagged note entry; nothing closes without close_incident."""
    comments = [{'comment': 'old', 'createdBy': 'a', 'createdTime': '2024-04-01T00:00:00Z'},
                {'comment': 'new one', 'createdBy': 'b', 'createdTime': '2024-04-03T00:00:00Z'},
                {'comment': f'(admin): mine\n\n{m.MIRROR_MARKER}', 'createdBy': 'c', 'createdTime': '2024-04-03T00:00:00Z'}]
    requests_mock.get(f'{XDR}/api/incidents/7', json=_remote_incident(comments=comments))
    result = m.get_remote_data_command(make_api(), {'id': '7', 'lastUpdate': '2024-04-02T00:00:00Z'},
                                       {'comment_tag_from_microsoft365defender': 'FromM365D'})
    assert len(result.entries) == 1
    assert result.entries[0]['Tags'] == ['FromM365D'] and result.entries[0]['Contents'].startswith('new one')


def test_get_remote_data_error_is_reported_in_field(requests_mock):
    """Given the API failing, When getting remote data, Then the error is reported in in_mirror_error."""
    requests_mock.get(f'{XDR}/api/incidents/7', status_code=404, json={'error': {'code': 'NotFound', 'message': 'x'}})
    result = m.get_remote_data_command(make_api(), {'id': '7', 'lastUpdate': '0'}, {})
    assert 'NotFound' in result.mirrored_object['in_mirror_error'] and result.entries == []


def test_get_mapping_fields():
    """Given the integration, When asked for mapping fields, Then the outgoing fields are listed under the type."""
    mapping = m.get_mapping_fields_command().extract_mapping()
    assert set(mapping['Microsoft 365 Defender Incident']) == {'status', 'assignedTo', 'classification',
                                                              'determination', 'tags', 'comment'}


def _update_args(delta, status=IncidentStatus.ACTIVE, entries=(), changed=True, data=None):
    return {'remoteId': '7', 'delta': delta, 'status': status, 'incidentChanged': changed, 'data': data or {},
            'entries': list(entries)}


@pytest.mark.parametrize('delta, status, close_out, expected', [
    ({'closeReason': 'False Positive'}, IncidentStatus.DONE, True,
     {'status': 'Resolved', 'classification': 'FalsePositive', 'determination': 'Other'}),
    ({'closeReason': 'Duplicate'}, IncidentStatus.DONE, True,
     {'status': 'Resolved', 'classification': 'Unknown', 'determination': 'NotAvailable'}),
    ({'closeReason': 'Resolved'}, IncidentStatus.DONE, True, {'status': 'Resolved'}),
    ({'closeReason': '', 'closingUserId': ''}, IncidentStatus.ACTIVE, True, {'status': 'Active'}),
    ({'closeReason': 'Duplicate'}, IncidentStatus.DONE, False, None),
    ({'assignedTo': '', 'tags': 'a,b'}, IncidentStatus.ACTIVE, False, {'assignedTo': '', 'tags': ['a', 'b']}),
])
def test_update_remote_system_fields(requests_mock, delta, status, close_out, expected):
    """Given XSOAR changes (closing, reopening, owner, tags), When mirroring out, Then the PATCH holds exactly the
    mapped fields, and closing is sent only with close_out."""
    route = requests_mock.patch(f'{XDR}/api/incidents/7', json=_remote_incident())
    result = m.update_remote_system_command(make_api(), _update_args(delta, status), {'close_out': close_out})
    assert result == '7'
    assert (route.last_request.json() if route.called else None) == expected


def test_update_remote_system_string_arguments(requests_mock):
    """Given delta, data and entries as JSON strings, incidentChanged and status as strings (a command line's
    update-remote-system), When mirroring out, Then the PATCH is the one the server's objects would give."""
    route = requests_mock.patch(f'{XDR}/api/incidents/7', json=_remote_incident())
    args = {'remoteId': '7', 'delta': '{"closeReason": "False Positive"}', 'status': '2', 'incidentChanged': 'true',
            'data': '{}', 'entries': '[]'}
    assert m.update_remote_system_command(make_api(), args, {'close_out': True}) == '7'
    assert route.last_request.json() == {'status': 'Resolved', 'classification': 'FalsePositive',
                                         'determination': 'Other'}
    unchanged = {'remoteId': '7', 'delta': '{"status": "Resolved"}', 'incidentChanged': 'false'}
    assert m.update_remote_system_command(make_api(), unchanged, {}) == '7' and route.call_count == 1


@pytest.mark.parametrize('name, value', [('delta', 'status=Resolved'), ('delta', '["status"]'), ('data', '5'),
                                         ('entries', '{"contents": "x"}'), ('entries', '["x"]')])
def test_update_remote_system_bad_argument_is_named(requests_mock, name, value):
    """Given a delta/data/entries that is not the JSON shape the command takes, When mirroring out (inside the guard
    main() uses), Then the error names the argument and the shape — it is not blamed on Microsoft's answer — and
    nothing is sent."""
    route = requests_mock.patch(f'{XDR}/api/incidents/7', json=_remote_incident())
    args = {'remoteId': '7', 'incidentChanged': True, 'delta': {}} | {name: value}
    with pytest.raises(ValueError, match=f'Invalid "{name}"') as caught, m.response_shape_guard():
        m.update_remote_system_command(make_api(), args, {})
    assert not isinstance(caught.value, m.UnexpectedResponseError)
    assert not route.called


def test_update_remote_system_comments_carry_marker(requests_mock):
    """Given a tagged entry and an HTML entry, When mirroring out, Then each becomes a comment with the user and the
    marker (so it is not mirrored back)."""
    route = requests_mock.patch(f'{XDR}/api/incidents/7', json=_remote_incident())
    entries = [{'contents': 'hello', 'user': 'admin', 'tags': ['CommentToMicrosoft365Defender']},
               {'contents': '<b>x</b>', 'user': 'bob', 'format': 'html', 'tags': ['other']},
               {'contents': 'no tags', 'user': 'eve'}]
    m.update_remote_system_command(make_api(), _update_args({}, entries=entries, changed=False), {})
    bodies = [r.json() for r in route.request_history]
    assert bodies == [{'comment': f'(admin): hello\n\n{m.MIRROR_MARKER}'},
                      {'comment': f'(eve): no tags\n\n{m.MIRROR_MARKER}'}]


def test_update_remote_system_graph_comment(requests_mock):
    """Given the Graph back end, When mirroring a comment out, Then it is POSTed to the incident's comments."""
    post = requests_mock.post(f'{GRAPH}/v1.0/security/incidents/7/comments', json={'value': []})
    requests_mock.get(f'{GRAPH}/v1.0/security/incidents/7', json=legacy_to_graph(_remote_incident()))
    m.update_remote_system_command(make_api(m.BACKEND_GRAPH),
                                   _update_args({}, entries=[{'contents': 'hi', 'user': 'u'}], changed=False), {})
    assert post.last_request.json()['comment'] == f'(u): hi\n\n{m.MIRROR_MARKER}'


# ---------------------------------------------------------------------------------------------------------------
# Parameters, authentication and main
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('params, named', [
    ({'base_url': 'ftp://api.security.microsoft.com'}, '"Endpoint URI" parameter (base_url)'),
    ({'azure_cloud': 'Custom', 'api_url': 'graph.example.com', 'login_url': 'https://login.example.com'},
     '"API URL (Custom cloud)" parameter (api_url)'),
    ({'azure_cloud': 'Custom', 'api_url': 'https://graph.example.com', 'login_url': 'https://'},
     '"Login URL (Custom cloud)" parameter (login_url)')])
def test_url_parameters_are_checked_by_name(params, named):
    """Given a URL parameter that is not an https:// URL with a host, When the API is built, Then the error names
    that parameter and what it takes (not "(InvalidSchema)" or "Could not reach  ..." at the first call)."""
    with pytest.raises(ValueError, match=re.escape(named) + '.*https:// URL with a host name'):
        make_api(**params)


def test_build_api_resolution_order():
    """Given both the new credential parameters and the deprecated ones, When building the client, Then the new
    ones win, and the deprecated ones are the fallback."""
    api = m.build_api({'creds_client_id': {'password': 'new-app'}, 'app_id': 'old-app',
                       'creds_tenant_id': {'password': 'new-tenant'}, 'tenant_id': 'old-tenant',
                       'client_credentials': True, 'enc_key': 'old-secret', 'credentials': {'password': 'new-secret'}})
    credential = api.http.credential
    assert (credential.client_id, credential.tenant_id) == ('new-app', 'new-tenant')
    assert credential.client_auth.secret == 'old-secret'     # the official order: enc_key, then credentials
    legacy = m.build_api({'app_id': 'old-app', 'tenant_id': 'old-tenant', 'client_credentials': True,
                          'credentials': {'password': 's'}})
    assert legacy.http.credential.client_id == 'old-app' and isinstance(legacy, m.LegacyApi)


def test_build_api_device_code_defaults_to_xsoar_app():
    """Given no application ID and client credentials off, When building the client, Then the device code flow
    uses the Cortex XSOAR application and the organizations tenant."""
    api = m.build_api({'_app_id': m.XSOAR_APP_ID, 'api_backend': m.BACKEND_LEGACY})
    assert api.http.credential.flow == 'device_code' and api.http.credential.client_id == m.XSOAR_APP_ID
    assert api.http.credential.tenant_id == 'organizations'
    assert api.http.scope == 'https://api.security.microsoft.com/.default'


def test_build_api_missing_app_id():
    """Given neither an application ID nor managed identities, When building the client, Then it says so."""
    with pytest.raises(DemistoException, match='Application ID must be provided'):
        m.build_api({'client_credentials': True})


@pytest.mark.parametrize('params, base_url, scope', [
    ({'api_backend': m.BACKEND_GRAPH}, 'https://graph.microsoft.com', 'https://graph.microsoft.com/.default'),
    ({'api_backend': m.BACKEND_LEGACY, 'base_url': 'https://api-eu.security.microsoft.com'},
     'https://api-eu.security.microsoft.com', 'https://api.security.microsoft.com/.default'),
    ({'api_backend': m.BACKEND_GRAPH, 'azure_cloud': 'US GCC-High'}, 'https://graph.microsoft.us',
     'https://graph.microsoft.us/.default'),
    ({'api_backend': m.BACKEND_LEGACY, 'azure_cloud': 'US GCC-High'}, 'https://api-gov.security.microsoft.us',
     'https://api-gov.security.microsoft.us/.default'),
    ({'api_backend': m.BACKEND_LEGACY, 'azure_cloud': 'Custom', 'api_url': 'https://127.0.0.1:8443',
      'login_url': 'https://127.0.0.1:8443'}, 'https://127.0.0.1:8443', 'https://api.security.microsoft.com/.default'),
])
def test_build_api_clouds(params, base_url, scope):
    """Given a back end and a cloud, When building the client, Then the API host and token scope match."""
    api = m.build_api({**BASE_PARAMS, **params})
    assert api.http._base_url == base_url and api.http.scope == scope


def test_test_module_client_credentials(requests_mock):
    """Given client credentials and fetching on, When testing, Then a token and one incident call are made."""
    route = requests_mock.get(f'{XDR}/api/incidents', json={'value': []})
    assert m.test_module(make_api(), {**BASE_PARAMS, 'isFetch': True}) == 'ok'
    assert route.called


def test_test_module_device_code_explains():
    """Given the device code flow, When testing, Then the message says to run auth-start."""
    with pytest.raises(DemistoException, match='microsoft-365-defender-auth-start'):
        m.test_module(m.build_api({'_app_id': m.XSOAR_APP_ID}), {})


@pytest.mark.parametrize('client_id', ['', 'user-assigned-id'])
def test_test_module_managed_identity(requests_mock, mocker, client_id):
    """Given managed identities (system or user-assigned), When a token is requested, Then IMDS is asked for the
    back end's resource, with the client ID only for a user-assigned identity."""
    mocker.stopall()
    imds = requests_mock.get('http://169.254.169.254/metadata/identity/oauth2/token',
                             json={'access_token': 'mi-token-value', 'expires_in': '3600'})
    requests_mock.get(f'{GRAPH}/v1.0/security/incidents', json={'value': []})
    params = {'use_managed_identities': True, 'managed_identities_client_id': {'password': client_id},
              'api_backend': m.BACKEND_GRAPH}
    assert m.test_module(m.build_api(params), params) == 'ok'
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(imds.last_request.url).query)
    assert query['resource'][0].rstrip('/') == 'https://graph.microsoft.com'
    assert query.get('client_id') == ([client_id] if client_id else None)


def test_refresh_token_in_app_id_is_seeded():
    """Given app_id written as id@refresh_token (device code), When building the client, Then the ID is used and the
    refresh token is kept in the token cache."""
    api = m.build_api({'app_id': 'the-app@refresh-token-value'})
    assert api.http.credential.client_id == 'the-app'
    assert api.http.tokens.read_account().get('refresh_token') == 'refresh-token-value'


def test_main_bad_argument_gives_clear_error(mocker):
    """Given an invalid argument, When main runs the command, Then one error entry names the argument (no
    traceback)."""
    mocker.patch.object(demisto, 'params', return_value={**BASE_PARAMS, 'api_backend': m.BACKEND_LEGACY})
    mocker.patch.object(demisto, 'args', return_value={'id': '1', 'classification': 'Nope'})
    mocker.patch.object(demisto, 'command', return_value='microsoft-365-defender-incident-update')
    results = mocker.patch.object(demisto, 'results')
    mocker.patch.object(demisto, 'info')
    with pytest.raises(SystemExit):
        m.main()
    entry = results.call_args[0][0]
    assert entry['Type'] == 4 and 'Invalid "classification": "Nope"' in entry['Contents']
    assert 'Traceback' not in entry['Contents']


def test_main_dispatches_mapping_fields(mocker):
    """Given get-mapping-fields, When main runs, Then the mapping is returned."""
    mocker.patch.object(demisto, 'params', return_value=BASE_PARAMS)
    mocker.patch.object(demisto, 'args', return_value={})
    mocker.patch.object(demisto, 'command', return_value='get-mapping-fields')
    results = mocker.patch.object(demisto, 'results')
    m.main()
    assert 'Microsoft 365 Defender Incident' in results.call_args[0][0]


def test_xsoar_app_on_graph_says_which_setting_to_change(mocker, requests_mock):
    """Given a new instance's defaults (device code, the Cortex XSOAR application, the Microsoft Graph security back
    end, which that application has no permissions for), When auth-start runs, Then nothing is sent to Microsoft and
    the error names the two settings that work instead of asking for admin consent."""
    mocker.patch.object(demisto, 'params', return_value={'_app_id': m.XSOAR_APP_ID, 'api_backend': m.BACKEND_GRAPH})
    mocker.patch.object(demisto, 'command', return_value='microsoft-365-defender-auth-start')
    error = mocker.patch.object(m, 'return_error')
    m.main()
    message = error.call_args[0][0]
    assert f'set "API back end" to "{m.BACKEND_LEGACY}"' in message and '"ID or Client ID"' in message
    assert 'consent' not in message and requests_mock.call_count == 0
    assert m.build_api({'_app_id': m.XSOAR_APP_ID, 'api_backend': m.BACKEND_LEGACY}).http.credential.flow == \
        'device_code'
    assert m.build_api({'_app_id': m.XSOAR_APP_ID, 'creds_client_id': {'password': 'own-app'},
                        'api_backend': m.BACKEND_GRAPH}).http.credential.client_id == 'own-app'
