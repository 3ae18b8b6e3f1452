"""Unit tests for Microsoft Defender for Endpoint: argument rules, OData and KQL builders (hostile values included),
every command over HTTP (requests-mock), the response-action polling state machine, per-machine reporting,
throttling continuation, fetch (ties, paging, filters, first fetch) and authentication wiring."""
import json
import re
import urllib.parse
from pathlib import Path

import demistomock as demisto
import MicrosoftDefenderAdvancedThreatProtection as m
import pytest
from CommonServerPython import CommandResults, DemistoException, EntryType

API = 'https://api.securitycenter.microsoft.com/api'
DATA = Path(__file__).parent / 'test_data'
PARAMS = {'_auth_id': 'app-id', '_tenant_id': 'tenant-id', 'credentials': {'password': 'secret-value'},
          'self_deployed': True, 'endpoint_type': 'Worldwide'}
MACHINE_ID = '1e5bc9d7e413ddd7902c2932e418702b84d0cc07'
SHA1 = 'a' * 40


def load(name):
    return json.loads((DATA / name).read_text())


@pytest.fixture(autouse=True)
def fake_token(mocker):
    """Every API call gets a bearer token without talking to Entra."""
    mocker.patch.object(m.TokenProvider, 'get_token', return_value='token')
    mocker.patch.object(demisto, 'params', return_value=PARAMS)


@pytest.fixture
def client():
    return m.build_client(PARAMS)


def query_of(request):
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query).items()}


def action(status='Pending', action_id='act-1', machine=MACHINE_ID, kind='Isolate'):
    return {**load('machine_action.json'), 'id': action_id, 'status': status, 'machineId': machine, 'type': kind}


def context_value(result, prefix):
    """The value of the first context key starting with ``prefix`` (a one-item list is unwrapped)."""
    value = next(v for k, v in result.to_context()['EntryContext'].items() if k.startswith(prefix))
    return value[0] if isinstance(value, list) else value


# ---------------------------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------------------------

def test_choice_arg_names_argument_and_allowed_values():
    """Given a value outside the allowed set, When it is read, Then the error names the argument and the values."""
    with pytest.raises(ValueError, match=r'Invalid "isolation_type": "Partial"\. Allowed values: Full, Selective'):
        m.choice_arg({'isolation_type': 'Partial'}, 'isolation_type', ('Full', 'Selective'), required=True)
    assert m.choice_arg({'isolation_type': 'full'}, 'isolation_type', ('Full', 'Selective')) == 'Full'


@pytest.mark.parametrize('value', ['0', '-1', 'abc', '10001', '1.5'])
def test_number_arg_refuses_bad_numbers(value):
    with pytest.raises(ValueError, match='"page_size"'):
        m.number_arg({'page_size': value}, 'page_size', 50, 1, 10000)


@pytest.mark.parametrize('value,kinds', [('xyz', ('SHA1',)), ('a' * 39, ('SHA1',)), ('a' * 64, ('SHA1',))])
def test_hash_arg_refuses_wrong_hashes(value, kinds):
    with pytest.raises(ValueError, match='file_hash'):
        m.hash_arg(value, 'file_hash', kinds)


def test_ip_arg():
    assert m.ip_arg(' 10.0.0.1 ') == '10.0.0.1'
    with pytest.raises(ValueError, match='"ip"'):
        m.ip_arg("1.2.3.4') or (1 eq 1")


def test_future_time_arg_durations_and_dates():
    assert m.future_time_arg({'expiration_time': '2031-02-03T04:05:06Z'}, 'expiration_time', '14 days') == \
        '2031-02-03T04:05:06Z'
    assert m.future_time_arg({}, 'expiration_time', '14 days') > '2025'
    with pytest.raises(ValueError, match='expiration_time'):
        m.future_time_arg({'expiration_time': 'tomorrowish'}, 'expiration_time', '14 days')


def test_bad_argument_fails_before_any_call(client, requests_mock):
    """Given an invalid scan type, When the command runs, Then it fails without calling the API."""
    with pytest.raises(ValueError, match='scan_type'):
        m.run_antivirus_scan_command(client, {'machine_id': MACHINE_ID, 'comment': 'c', 'scan_type': 'Deep'})
    assert requests_mock.call_count == 0


# ---------------------------------------------------------------------------------------------------------------
# OData filters
# ---------------------------------------------------------------------------------------------------------------

def test_machines_filter_or_within_and_across():
    result = m.machines_filter({'hostname': "a.contoso.com,b'x", 'risk_score': 'high', 'health_status': 'Active'})
    assert result == ("(computerDnsName eq 'a.contoso.com' or computerDnsName eq 'b''x') and riskScore eq 'High' "
                      "and healthStatus eq 'Active'")


def test_machines_filter_rejects_bad_values():
    with pytest.raises(ValueError, match='health_status'):
        m.machines_filter({'health_status': 'Sick'})


def test_fetch_filter_maps_labels():
    config = m.FetchConfig({'fetch_status': 'New,InProgress', 'fetch_severity': 'High',
                            'fetch_detectionsource': 'EDR,Custom TI', 'first_fetch_timestamp': '3 days'})
    result = config.alert_filter('2024-05-01T10:00:00Z')
    assert result == ("alertCreationTime ge 2024-05-01T10:00:00.0000000Z and (status eq 'New' or status eq "
                      "'InProgress') and severity eq 'High' and (detectionSource eq 'WindowsDefenderAtp' or "
                      "detectionSource eq 'CustomerTI')")


def test_fetch_config_rejects_bad_values():
    with pytest.raises(ValueError, match='fetch_detectionsource'):
        m.FetchConfig({'fetch_detectionsource': 'Carrier pigeon'})
    with pytest.raises(ValueError, match='max_fetch'):
        m.FetchConfig({'max_fetch': '0'})


# ---------------------------------------------------------------------------------------------------------------
# KQL builders with hostile values
# ---------------------------------------------------------------------------------------------------------------

HOSTILE = ['a"b', 'a\\', 'x" | take 1 //', 'line\nbreak', "it's", 'tab\there', 'a\\"; DeviceEvents', '|', '""']


@pytest.mark.parametrize('value', HOSTILE)
def test_kql_string_never_breaks_out(value):
    """Given a hostile value, When it becomes a literal, Then decoding the literal gives the value back exactly and
    the literal has no unescaped quote inside."""
    literal = m.kql_string(value)
    assert literal.startswith('"') and literal.endswith('"')
    body = literal[1:-1]
    assert not re.search(r'(?<!\\)(?:\\\\)*"', body)
    assert '\n' not in literal and '\r' not in literal
    assert json.loads(literal) == value           # KQL's escapes here are a subset of JSON's


@pytest.mark.parametrize('char', ['\x00', '\x1b', '\u2028', '\x7f'])
def test_kql_string_refuses_control_characters(char):
    with pytest.raises(ValueError, match='control characters'):
        m.kql_string(f'a{char}b')


def kql_literals(query):
    """The regular string literals of a query (verbatim @"..." literals of the templates are dropped first)."""
    return re.findall(r'"((?:[^"\\]|\\.)*)"', re.sub(r'@"[^"]*"', '', query))


@pytest.mark.parametrize('kind', list(m.HUNT_TEMPLATES))
@pytest.mark.parametrize('value', HOSTILE)
def test_every_template_quotes_every_value(kind, value):
    """Given hostile values in every filter and extra argument, When each template builds its query, Then each
    value appears only inside a string literal and the query keeps its shape (no new pipe stage)."""
    templates = m.HUNT_TEMPLATES[kind]
    for purpose in templates:
        args = {name: value for name in m.FILTER_ARGS}
        args.update(query_purpose=purpose or None, process_cmd=value, username=value, query_operation='and')
        _, query = m.build_hunting_query(kind, {k: v for k, v in args.items() if v is not None})
        benign = {name: 'v' for name in m.FILTER_ARGS}
        benign.update(query_purpose=purpose or None, process_cmd='v', username='v', query_operation='and')
        _, shape = m.build_hunting_query(kind, {k: v for k, v in benign.items() if v is not None})
        assert query.count('\n') == shape.count('\n')
        assert json.dumps(value)[1:-1] in query or ',' in value
        literals = [json.loads(f'"{lit}"') for lit in kql_literals(query)]
        assert value in literals or ',' in value


def test_hunting_filter_uses_operation_and_columns():
    args = {'device_name': 'pc1,pc2', 'sha1': SHA1, 'query_operation': 'and'}
    assert m.hunting_filter(args, m.INITIATING_COLUMNS) == \
        f'(DeviceName in~ ("pc1", "pc2") and InitiatingProcessSHA1 in~ ("{SHA1}"))'


def test_hunting_query_needs_purpose_and_filter():
    with pytest.raises(ValueError, match='query_purpose'):
        m.build_hunting_query('cover-up', {'device_name': 'pc'})
    with pytest.raises(ValueError, match='at least one of'):
        m.build_hunting_query('tampering', {})
    with pytest.raises(ValueError, match='process_cmd'):
        m.build_hunting_query('persistence-evidence', {'query_purpose': 'registry_entry', 'device_name': 'pc'})


def test_hunting_query_time_range_and_limit():
    _, query = m.build_hunting_query('file-origin', {'sha1': SHA1, 'time_range': '2 days', 'limit': '10',
                                                     'page': '3'})
    assert '| where Timestamp > ago(2880m)' in query and query.endswith('| limit 30')
    with pytest.raises(ValueError, match='time_range'):
        m.build_hunting_query('file-origin', {'sha1': SHA1, 'time_range': '2 days) | evil'})


# ---------------------------------------------------------------------------------------------------------------
# Machines
# ---------------------------------------------------------------------------------------------------------------

def test_get_machines(client, requests_mock):
    route = requests_mock.get(f'{API}/machines', json={'value': [load('machine.json')]})
    result = m.get_machines_command(client, {'hostname': 'mymachine1.contoso.com', 'page_size': '10',
                                             'page_num': '3'})
    sent = query_of(route.last_request)
    assert sent == {'$filter': "computerDnsName eq 'mymachine1.contoso.com'", '$top': '10', '$skip': '20'}
    machine = result.outputs[0]
    assert machine['ID'] == MACHINE_ID and machine['IPAddresses'][1] == {
        'ipAddress': '127.0.0.1', 'type': 'SoftwareLoopback', 'operationalStatus': 'Up'}
    assert result.outputs_prefix == 'MicrosoftATP.Machine'


def test_get_machine_details_reports_each_machine(client, requests_mock):
    """Given two machines, one unknown, When details are read, Then the known one is output and the other is an
    error entry."""
    requests_mock.get(f'{API}/machines/{MACHINE_ID}', json=load('machine.json'))
    requests_mock.get(f'{API}/machines/missing', status_code=404,
                      json={'error': {'code': 'ResourceNotFound', 'message': 'Machine missing was not found'}})
    result = m.get_machine_details_command(client, {'machine_id': f'{MACHINE_ID},missing'})
    assert result[0].outputs[0]['ID'] == MACHINE_ID
    assert result[1]['Type'] == EntryType.ERROR and 'missing' in result[1]['Contents']


def test_get_machine_details_all_failed_raises(client, requests_mock):
    requests_mock.get(f'{API}/machines/missing', status_code=404, json={'error': {'code': 'ResourceNotFound',
                                                                                  'message': 'nope'}})
    with pytest.raises(DemistoException, match='missing'):
        m.get_machine_details_command(client, {'machine_id': 'missing'})


def test_get_machine_by_ip(client, requests_mock):
    requests_mock.get(re.compile(r'.*/machines/findbyip.*'), json={'value': [load('machine.json')] * 3})
    result = m.get_machine_by_ip_command(client, {'ip': '10.1.1.1', 'timestamp': '2024-05-01T12:00:00Z',
                                                  'limit': '2'})
    assert "findbyip(ip='10.1.1.1',timestamp=2024-05-01T12:00:00Z)" in urllib.parse.unquote(
        requests_mock.last_request.url)
    assert len(result.outputs) == 2
    all_of = m.get_machine_by_ip_command(client, {'ip': '10.1.1.1', 'timestamp': '2024-05-01T12:00:00Z',
                                                  'limit': '2', 'all_results': 'true'})
    assert len(all_of.outputs) == 3


def test_file_domain_user_machines(client, requests_mock):
    requests_mock.get(f'{API}/files/{SHA1}/machines', json={'value': [load('machine.json')]})
    requests_mock.get(f'{API}/domains/contoso.com/machines', json={'value': [load('machine.json')]})
    requests_mock.get(f'{API}/users/alex/machines', json={'value': [load('machine.json')]})
    files = m.get_file_related_machines_command(client, {'file_hash': SHA1})
    assert files.outputs[0]['File'] == SHA1 and files.outputs[0]['Machines'][0]['ID'] == MACHINE_ID
    domain = m.get_domain_machines_command(client, {'domain': 'contoso.com'})
    assert domain.outputs['Domain'] == 'contoso.com' and domain.outputs_prefix == 'MicrosoftATP.DomainMachine'
    user = m.get_user_machines_command(client, {'username': 'alex'})
    assert user.outputs['Username'] == 'alex' and len(user.outputs['Machines']) == 1


def test_path_segments_are_quoted(client, requests_mock):
    """Given a user name with a slash, When machines are read, Then it stays one path segment."""
    route = requests_mock.get(f'{API}/users/a%2F..%2Fb/machines', json={'value': []})
    m.get_user_machines_command(client, {'username': 'a/../b'})
    assert route.called


def test_machine_users(client, requests_mock):
    requests_mock.get(f'{API}/machines/{MACHINE_ID}/logonusers', json={'value': [
        {'id': 'contoso\\user1', 'accountName': 'user1', 'accountDomain': 'contoso', 'firstSeen': '2019-12-18T08:02:54Z',
         'lastSeen': '2020-01-06T08:01:48Z', 'logonTypes': 'Interactive', 'isDomainAdmin': True,
         'isOnlyNetworkUser': False}]})
    result = m.get_machine_users_command(client, {'machine_id': MACHINE_ID})
    assert result.outputs[0] == {'ID': 'contoso\\user1', 'AccountName': 'user1', 'AccountDomain': 'contoso',
                                 'FirstSeen': '2019-12-18T08:02:54Z', 'LastSeen': '2020-01-06T08:01:48Z',
                                 'LogonTypes': 'Interactive', 'DomainAdmin': True, 'NetworkUser': False,
                                 'MachineID': MACHINE_ID}


def test_add_remove_machine_tag(client, requests_mock):
    route = requests_mock.post(f'{API}/machines/{MACHINE_ID}/tags', json=load('machine.json'))
    m.add_remove_machine_tag_command(client, {'machine_id': MACHINE_ID, 'action': 'remove', 'tag': 'x'})
    assert route.last_request.json() == {'Value': 'x', 'Action': 'Remove'}
    with pytest.raises(ValueError, match='"action"'):
        m.add_remove_machine_tag_command(client, {'machine_id': MACHINE_ID, 'action': 'Toggle', 'tag': 'x'})


def test_endpoint_command(client, requests_mock):
    route = requests_mock.get(f'{API}/machines', json={'value': [load('machine.json')]})
    results = m.endpoint_command(client, {'hostname': 'mymachine1.contoso.com', 'ip': '172.17.230.209'})
    assert query_of(route.last_request)['$filter'] == \
        "(lastIpAddress eq '172.17.230.209' or computerDnsName eq 'mymachine1.contoso.com')"
    endpoint = context_value(results[0], 'Endpoint(')
    assert endpoint['Hostname'] == 'mymachine1.contoso.com' and endpoint['Status'] == 'Online'
    assert endpoint['MACAddress'] == '00306B23C1E8' and endpoint['Vendor'] == m.VENDOR
    with pytest.raises(ValueError, match='at least one'):
        m.endpoint_command(client, {})


# ---------------------------------------------------------------------------------------------------------------
# Response actions: bodies, per-machine reporting, polling, throttling
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('command,path,args,body', [
    (m.isolate_machine_command, 'isolate', {'isolation_type': 'Selective'},
     {'Comment': 'c', 'IsolationType': 'Selective'}),
    (m.unisolate_machine_command, 'unisolate', {}, {'Comment': 'c'}),
    (m.run_antivirus_scan_command, 'runAntiVirusScan', {'scan_type': 'Quick'}, {'Comment': 'c', 'ScanType': 'Quick'}),
    (m.restrict_app_execution_command, 'restrictCodeExecution', {}, {'Comment': 'c'}),
    (m.remove_app_restriction_command, 'unrestrictCodeExecution', {}, {'Comment': 'c'}),
    (m.collect_investigation_package_command, 'collectInvestigationPackage', {}, {'Comment': 'c'}),
    (m.offboard_machine_command, 'offboard', {}, {'Comment': 'c'}),
])
def test_action_bodies(client, requests_mock, command, path, args, body):
    route = requests_mock.post(f'{API}/machines/{MACHINE_ID}/{path}', json=action())
    result = command(client, {'machine_id': MACHINE_ID, 'comment': 'c', **args})
    assert route.last_request.json() == body
    assert result.outputs[0]['ID'] == 'act-1' and result.outputs[0]['Status'] == 'Pending'


def test_offboard_uses_its_own_prefix(client, requests_mock):
    requests_mock.post(f'{API}/machines/{MACHINE_ID}/offboard', json=action(kind='Offboard'))
    result = m.offboard_machine_command(client, {'machine_id': MACHINE_ID, 'comment': 'c'})
    assert result.outputs_prefix == 'MicrosoftATP.OffboardMachine'


def test_restrict_without_comment_uses_default(client, requests_mock):
    route = requests_mock.post(f'{API}/machines/{MACHINE_ID}/restrictCodeExecution', json=action())
    m.restrict_app_execution_command(client, {'machine_id': MACHINE_ID})
    assert route.last_request.json()['Comment']


def test_isolate_reports_each_machine(client, requests_mock):
    """Given three machines where one is refused, When isolated, Then two actions are output and one error."""
    requests_mock.post(f'{API}/machines/m1/isolate', json=action(action_id='a1', machine='m1'))
    requests_mock.post(f'{API}/machines/m2/isolate', status_code=400,
                       json={'error': {'code': 'ActiveRequestAlreadyExists', 'message': 'Action is already in progress'}})
    requests_mock.post(f'{API}/machines/m3/isolate', json=action(action_id='a3', machine='m3'))
    result = m.isolate_machine_command(client, {'machine_id': 'm1,m2,m3', 'comment': 'c', 'isolation_type': 'Full'})
    assert [o['ID'] for o in result[0].outputs] == ['a1', 'a3']
    assert result[1]['Type'] == EntryType.ERROR and 'm2' in result[1]['Contents'] and \
        'ActiveRequestAlreadyExists' in result[1]['Contents']


def test_polling_state_machine(client, requests_mock):
    """Given polling, When the action goes Pending → InProgress → Succeeded, Then the command reschedules itself
    with the action IDs until it finishes and then outputs the final status."""
    requests_mock.post(f'{API}/machines/{MACHINE_ID}/isolate', json=action())
    args = {'machine_id': MACHINE_ID, 'comment': 'c', 'isolation_type': 'Full', 'polling': 'true',
            'interval_in_seconds': '15'}
    first = m.isolate_machine_command(client, args)
    scheduled = first.scheduled_command.to_results()
    assert scheduled['PollingCommand'] == 'microsoft-atp-isolate-machine' and scheduled['NextRun'] == '15'
    assert scheduled['PollingArgs']['machine_action_id'] == 'act-1'
    requests_mock.get(f'{API}/machineactions/act-1', [{'json': action('InProgress')}, {'json': action('Succeeded')}])
    second = m.isolate_machine_command(client, scheduled['PollingArgs'])
    assert second.scheduled_command is not None
    third = m.isolate_machine_command(client, second.scheduled_command.to_results()['PollingArgs'])
    assert third.scheduled_command is None and third.outputs[0]['Status'] == 'Succeeded'
    assert requests_mock.request_history[0].method == 'POST' and \
        sum(1 for r in requests_mock.request_history if r.method == 'POST') == 1


def test_polling_keeps_earlier_failures_and_reports_failed_actions(client, requests_mock):
    requests_mock.post(f'{API}/machines/m1/runAntiVirusScan', json=action(action_id='a1', machine='m1'))
    requests_mock.post(f'{API}/machines/m2/runAntiVirusScan', status_code=404,
                       json={'error': {'code': 'ResourceNotFound', 'message': 'Machine m2 was not found'}})
    requests_mock.post(f'{API}/machines/m3/runAntiVirusScan', json=action(action_id='a3', machine='m3'))
    args = {'machine_id': 'm1,m2,m3', 'comment': 'c', 'scan_type': 'Full', 'polling': 'true'}
    first = m.run_antivirus_scan_command(client, args)
    poll_args = first.scheduled_command.to_results()['PollingArgs']
    requests_mock.get(f'{API}/machineactions/a1', json=action('Succeeded', 'a1', 'm1'))
    requests_mock.get(f'{API}/machineactions/a3', json=action('Failed', 'a3', 'm3'))
    final = m.run_antivirus_scan_command(client, poll_args)
    assert [o['Status'] for o in final[0].outputs] == ['Succeeded', 'Failed']
    assert 'm2' in final[1]['Contents'] and 'ended with status Failed' in final[1]['Contents']


def test_throttled_bulk_action_continues_with_remaining_machines(client, requests_mock, mocker):
    """Given a long Retry-After on the third machine, When isolating five, Then the command reschedules itself for
    the machines not yet started (no failed call is repeated) and the rerun finishes them."""
    mocker.patch('time.sleep')
    for n in (1, 2, 4, 5):
        requests_mock.post(f'{API}/machines/m{n}/isolate', json=action(action_id=f'a{n}', machine=f'm{n}'))
    requests_mock.post(f'{API}/machines/m3/isolate', [
        {'status_code': 429, 'headers': {'Retry-After': '45'}, 'json': {'error': {'code': 'TooManyRequests',
                                                                                   'message': 'slow down'}}},
        {'json': action(action_id='a3', machine='m3')}])
    args = {'machine_id': 'm1,m2,m3,m4,m5', 'comment': 'c', 'isolation_type': 'Full'}
    first = m.isolate_machine_command(client, args)
    polling_args = first.scheduled_command.to_results()['PollingArgs']
    assert polling_args['machine_action_id'] == 'a1,a2' and polling_args['machines_to_start'] == 'm3,m4,m5'
    assert first.scheduled_command.to_results()['NextRun'] == '45'
    requests_mock.get(re.compile(rf'{API}/machineactions/a\d'),
                      json=lambda request, _: action(action_id=request.url.rsplit('/', 1)[-1]))
    final = m.isolate_machine_command(client, polling_args)
    assert sorted(o['ID'] for o in final.outputs) == ['a1', 'a2', 'a3', 'a4', 'a5']
    posts = [r.url.rsplit('/', 2)[-2] for r in requests_mock.request_history if r.method == 'POST']
    assert posts == ['m1', 'm2', 'm3', 'm3', 'm4', 'm5']


def test_polling_throttled_status_read_waits(client, requests_mock, mocker):
    mocker.patch('time.sleep')
    requests_mock.get(f'{API}/machineactions/act-1', status_code=429, headers={'Retry-After': '120'},
                      json={'error': {'code': 'TooManyRequests', 'message': 'slow'}})
    args = {'machine_id': MACHINE_ID, 'comment': 'c', 'isolation_type': 'Full', 'polling': 'true',
            'machine_action_id': 'act-1'}
    result = m.isolate_machine_command(client, args)
    assert result.scheduled_command.to_results()['NextRun'] == '120'


def test_stop_and_quarantine_one_action_per_pair(client, requests_mock):
    sha_b = 'b' * 40
    routes = [requests_mock.post(f'{API}/machines/{mid}/stopAndQuarantineFile', json=action(kind='StopAndQuarantineFile'))
              for mid in ('m1', 'm2')]
    result = m.stop_and_quarantine_file_command(client, {'machine_id': 'm1,m2', 'file_hash': f'{SHA1},{sha_b}',
                                                         'comment': 'c'})
    assert [r.call_count for r in routes] == [2, 2]
    assert [r.json()['Sha1'] for r in routes[0].request_history] == [SHA1, sha_b]
    assert len(result.outputs) == 4
    with pytest.raises(ValueError, match='file_hash'):
        m.stop_and_quarantine_file_command(client, {'machine_id': 'm1', 'file_hash': 'zz', 'comment': 'c'})


def test_list_machine_actions(client, requests_mock):
    route = requests_mock.get(f'{API}/machineactions', json={'value': [action()]})
    result = m.list_machine_actions_details_command(client, {'status': 'succeeded', 'type': 'Isolate',
                                                             'machine_id': MACHINE_ID, 'limit': '5'})
    assert query_of(route.last_request) == {
        '$filter': f"status eq 'Succeeded' and machineId eq '{MACHINE_ID}' and type eq 'Isolate'", '$top': '5'}
    assert result.outputs[0]['ID'] == 'act-1'
    requests_mock.get(f'{API}/machineactions/act-1', json=action())
    assert m.list_machine_actions_details_command(client, {'id': 'act-1'}).outputs[0]['ID'] == 'act-1'


def test_package_sas_uri(client, requests_mock):
    requests_mock.get(f'{API}/machineactions/act-1/getPackageUri', json={'value': 'https://blob/x.zip?sig=1'})
    result = m.get_investigation_package_sas_uri_command(client, {'action_id': 'act-1'})
    assert result.outputs == {'Link': 'https://blob/x.zip?sig=1'}


def test_request_and_download_investigation_package(client, requests_mock, mocker, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                  # fileResult writes the file into the working directory
    mocker.patch.object(demisto, 'investigation', return_value={'id': '1'})
    requests_mock.post(f'{API}/machines/{MACHINE_ID}/collectInvestigationPackage',
                       json=action(kind='CollectInvestigationPackage'))
    first = m.request_and_download_investigation_package_command(client, {'machine_id': MACHINE_ID, 'comment': 'c'})
    poll_args = first.scheduled_command.to_results()['PollingArgs']
    requests_mock.get(f'{API}/machineactions/act-1', json=action('Succeeded', kind='CollectInvestigationPackage'))
    requests_mock.get(f'{API}/machineactions/act-1/getPackageUri', json={'value': 'https://blob.example/p.zip?sig=1'})
    requests_mock.get('https://blob.example/p.zip?sig=1', content=b'PK\x03\x04data')
    final = m.request_and_download_investigation_package_command(client, poll_args)
    assert final[0].outputs[0]['Status'] == 'Succeeded'
    assert final[1]['File'] == f'{MACHINE_ID}_investigation_package.zip'
    assert 'Authorization' not in requests_mock.last_request.headers


# ---------------------------------------------------------------------------------------------------------------
# Investigations and statistics
# ---------------------------------------------------------------------------------------------------------------

def test_investigations(client, requests_mock):
    item = {'id': '63017', 'startTime': '2020-01-06T14:11:34Z', 'endTime': None, 'state': 'Running',
            'machineId': MACHINE_ID, 'computerDnsName': 'mymachine1.contoso.com', 'triggeringAlertId': 'da1'}
    route = requests_mock.get(f'{API}/investigations', json={'value': [item]})
    listed = m.list_investigations_command(client, {'limit': '10', 'offset': '5'})
    assert query_of(route.last_request) == {'$top': '10', '$skip': '5'}
    assert listed.outputs[0] == {'ID': '63017', 'StartTime': '2020-01-06T14:11:34Z', 'State': 'Running',
                                 'MachineID': MACHINE_ID, 'ComputerDNSName': 'mymachine1.contoso.com',
                                 'TriggeringAlertID': 'da1'}
    started = requests_mock.post(f'{API}/machines/{MACHINE_ID}/startInvestigation', json=item)
    result = m.start_investigation_command(client, {'machine_id': MACHINE_ID, 'comment': 'go'})
    assert started.last_request.json() == {'Comment': 'go'} and result.outputs['ID'] == '63017'


def test_file_statistics(client, requests_mock):
    requests_mock.get(f'{API}/files/{SHA1}/stats', json={
        'sha1': SHA1, 'orgPrevalence': '14850', 'orgFirstSeen': '2019-12-07T13:44:16Z',
        'orgLastSeen': '2020-01-06T13:39:36.9376162Z', 'globalPrevalence': '1355899',
        'globalFirstObserved': '2011-06-20T08:25:41Z', 'globalLastObserved': '2020-01-06T13:55:39Z',
        'topFileNames': ['swconfig.dat']})
    result = m.get_file_statistics_command(client, {'file_hash': SHA1.upper()})
    assert result.outputs['Sha1'] == SHA1 and result.outputs['Statistics']['TopFileNames'] == ['swconfig.dat']
    assert result.outputs['Statistics']['OrgPrevalence'] == 14850
    context = result.to_context()['EntryContext']
    assert any(k.startswith('DBotScore') for k in context) and any(k.startswith('File(') for k in context)


def test_file_info_scores_and_per_hash_errors(client, requests_mock):
    sha256 = 'c' * 64
    requests_mock.get(f'{API}/files/{SHA1}', json={'sha1': SHA1, 'sha256': sha256, 'size': 10, 'fileType': 'PE',
                                                  'determinationType': 'Malware', 'isPeFile': True})
    requests_mock.get(f'{API}/files/{sha256}', status_code=404, json={'error': {'code': 'ResourceNotFound',
                                                                                'message': 'File not found'}})
    results = m.get_file_info_command(client, {'hash': f'{SHA1},{sha256}'})
    score = context_value(results[0], 'DBotScore')
    assert score['Score'] == 3 and results[0].outputs['IsPeFile'] is True
    assert results[1]['Type'] == EntryType.ERROR and sha256 in results[1]['Contents']


def test_domain_and_ip_statistics(client, requests_mock):
    requests_mock.get(f'{API}/domains/example.com/stats', json={'host': 'example.com', 'orgPrevalence': '4070',
                                                               'orgFirstSeen': '2019-12-07T13:44:16Z'})
    requests_mock.get(f'{API}/ips/10.0.0.1/stats', json={'ipAddress': '10.0.0.1', 'orgPrevalence': '1'})
    domain = m.get_domain_statistics_command(client, {'domain': 'example.com'})
    assert domain.outputs == {'Domain': 'example.com', 'Statistics': {'Host': 'example.com', 'OrgPrevalence': 4070,
                                                                      'OrgFirstSeen': '2019-12-07T13:44:16Z'}}
    ip = m.get_ip_statistics_command(client, {'ip': '10.0.0.1'})
    assert ip.outputs['IPAddress'] == '10.0.0.1'
    assert any(k.startswith('IP(') for k in ip.to_context()['EntryContext'])


# ---------------------------------------------------------------------------------------------------------------
# Indicators
# ---------------------------------------------------------------------------------------------------------------

def test_indicator_list_filters_and_404(client, requests_mock):
    route = requests_mock.get(f'{API}/indicators', json={'value': [load('indicator.json')]})
    results = m.sc_indicator_list_command(client, {'indicator_title': "it's", 'indicator_type': 'IpAddress',
                                                   'limit': '5'})
    assert query_of(route.last_request)['$filter'] == \
        "contains(title,'it''s') and indicatorType eq 'IpAddress'"
    assert results[0].outputs[0]['indicatorValue'] == '8.8.8.8'
    assert context_value(results[1], 'DBotScore')['Score'] == 3
    requests_mock.get(f'{API}/indicators', status_code=404, json={'error': {'code': 'NotFound', 'message': 'x'}})
    assert m.sc_indicator_list_command(client, {})[0].readable_output == 'No indicators were found.'


def test_indicator_create_update_body(client, requests_mock):
    route = requests_mock.post(f'{API}/indicators', json=load('indicator.json'))
    args = {'indicator_value': '8.8.8.8', 'indicator_type': 'IpAddress', 'action': 'block',
            'indicator_description': 'd', 'indicator_title': 't', 'severity': 'medium',
            'expiration_time': '2031-01-01T00:00:00Z', 'rbac_group_names': 'g1,g2', 'generate_alert': 'false'}
    m.sc_indicator_create_command(client, args)
    assert route.last_request.json() == {'indicatorValue': '8.8.8.8', 'indicatorType': 'IpAddress', 'action': 'Block',
                                         'title': 't', 'description': 'd', 'severity': 'Medium',
                                         'expirationTime': '2031-01-01T00:00:00Z', 'rbacGroupNames': ['g1', 'g2'],
                                         'generateAlert': False}
    m.sc_indicator_update_command(client, args)
    assert route.call_count == 2
    with pytest.raises(ValueError, match='"indicator_type"'):
        m.sc_indicator_create_command(client, {**args, 'indicator_type': 'Email'})


def test_indicator_get_and_delete(client, requests_mock):
    requests_mock.get(f'{API}/indicators/995', json=load('indicator.json'))
    route = requests_mock.delete(f'{API}/indicators/995', status_code=204)
    assert m.sc_indicator_get_by_id_command(client, {'indicator_id': '995'})[0].outputs[0]['id'] == '995'
    assert 'deleted' in m.sc_indicator_delete_command(client, {'indicator_id': '995'}).readable_output
    assert route.called


def test_indicator_batch_update(client, requests_mock):
    route = requests_mock.post(f'{API}/indicators/import', json={'value': [
        {'id': '1', 'indicator': 'x.com', 'isFailed': False, 'failureReason': None},
        {'id': None, 'indicator': 'bad', 'isFailed': True, 'failureReason': 'Invalid value'}]})
    result = m.indicator_batch_update_command(client, {'indicator_batch': json.dumps([{'indicatorValue': 'x.com'}])})
    assert route.last_request.json() == {'Indicators': [{'indicatorValue': 'x.com'}]}
    assert result.outputs[1] == {'Value': 'bad', 'IsFailed': True, 'FailureReason': 'Invalid value'}
    with pytest.raises(ValueError, match='indicator_batch'):
        m.indicator_batch_update_command(client, {'indicator_batch': '{"not": "a list"}'})


@pytest.mark.parametrize('command, name', [(m.indicator_batch_update_command, 'indicator_batch'),
                                           (m.advanced_hunting_command, 'query_batch')])
def test_json_arguments_nested_too_deep_fail_clearly(client, requests_mock, command, name):
    """Given a JSON argument nested deeper than the parser's recursion limit, When the command runs, Then the error
    names the argument (no RecursionError) and nothing is sent."""
    with pytest.raises(ValueError, match=name):
        command(client, {name: '[' * 100_000})
    assert requests_mock.call_count == 0


# ---------------------------------------------------------------------------------------------------------------
# Advanced hunting
# ---------------------------------------------------------------------------------------------------------------

def test_advanced_hunting_query_and_time_range(client, requests_mock):
    route = requests_mock.post(f'{API}/advancedqueries/run', json=load('hunting_response.json'))
    result = m.advanced_hunting_command(client, {'query': 'DeviceInfo', 'time_range': '1 day'})
    assert route.last_request.json() == {'Query': 'DeviceInfo\n| where Timestamp > ago(1440m)'}
    assert len(result.outputs) == 2 and result.outputs_prefix == 'MicrosoftATP.Hunt.Result'


def test_advanced_hunting_batch(client, requests_mock):
    requests_mock.post(f'{API}/advancedqueries/run', json=load('hunting_response.json'))
    batch = json.dumps({'queries': [{'query': 'A', 'name': 'first'}, {'query': 'B', 'name': 'second',
                                                                        'time_range': '2 hours'}]})
    result = m.advanced_hunting_command(client, {'query_batch': batch})
    assert set(result.outputs) == {'first', 'second'}
    assert requests_mock.request_history[-1].json() == {'Query': 'B\n| where Timestamp > ago(120m)'}


@pytest.mark.parametrize('args', [{}, {'query': 'A', 'query_batch': '[]'}, {'query_batch': '[{"name": "x"}]'},
                                  {'query_batch': json.dumps([{'query': 'q'}] * 11)}])
def test_advanced_hunting_bad_input(client, args):
    with pytest.raises(ValueError):
        m.advanced_hunting_command(client, args)


def test_templated_hunting_command(client, requests_mock):
    route = requests_mock.post(f'{API}/advancedqueries/run', json=load('hunting_response.json'))
    command = m.COMMANDS['microsoft-atp-advanced-hunting-cover-up']
    result = command(client, {'query_purpose': 'compromised_information', 'username': 'bob" | take 1',
                              'device_name': 'pc1', 'limit': '1', 'page': '2', 'show_query': 'true'})
    sent = route.last_request.json()['Query']
    assert 'AccountName =~ "bob\\" | take 1"' in sent
    assert result.outputs_prefix == 'MicrosoftATP.HuntCoverUp.Result'
    assert result.outputs == {'compromised_information': [load('hunting_response.json')['Results'][1]]}
    assert '### Query' in result.readable_output
    plain = m.COMMANDS['microsoft-atp-advanced-hunting-tampering'](client, {'device_id': 'd1'})
    assert isinstance(plain.outputs, list)


# ---------------------------------------------------------------------------------------------------------------
# Fetch
# ---------------------------------------------------------------------------------------------------------------

class AlertStore:
    """The alerts route with the $filter/$orderby/$top the integration sends (ties returned in shuffled order)."""

    def __init__(self, alerts):
        self.alerts = alerts
        self.calls = []

    def __call__(self, request, context):
        query = query_of(request)
        self.calls.append(query)
        since = re.search(r'alertCreationTime ge (\S+)', query['$filter']).group(1)
        wanted = [a for a in self.alerts if m.normalize_ts(a['alertCreationTime']) >= since]
        wanted.sort(key=lambda a: (m.normalize_ts(a['alertCreationTime']), -int(re.sub(r'\D', '', a['id']) or 0)))
        assert query['$orderby'] == 'alertCreationTime asc'
        return {'value': wanted[:int(query['$top'])]}


def run_fetch(client, params, last_run, alerts, requests_mock):
    store = AlertStore(alerts)
    requests_mock.get(f'{API}/alerts', json=store)
    config = m.FetchConfig({'first_fetch_timestamp': '2024-05-01T00:00:00Z', **params})
    incidents, next_run = m.fetch_incidents(client, config, last_run)
    return incidents, next_run, store


def test_fetch_ties_no_duplicates_or_misses(client, requests_mock):
    """Given 3 alerts at one time and max_fetch=2, When fetching repeatedly, Then every alert comes exactly once."""
    alerts = load('alerts.json')
    seen, last_run = [], {}
    for _ in range(5):
        incidents, last_run, _ = run_fetch(client, {'max_fetch': '2'}, last_run, alerts, requests_mock)
        seen += [json.loads(i['rawJSON'])['id'] for i in incidents]
    assert sorted(seen) == ['da1', 'da2', 'da3', 'da4', 'da5'] and len(seen) == 5
    assert last_run == {'last_alert_fetched_time': '2024-05-01T10:00:02.5000000Z', 'seen_ids': ['da5']}


def test_fetch_large_tie_progresses(client, requests_mock):
    """Given 7 alerts at one instant and max_fetch=2, When fetching, Then each run makes progress."""
    alerts = [{'id': f'x{n}', 'alertCreationTime': '2024-05-02T00:00:00Z', 'severity': 'Low'} for n in range(7)]
    seen, last_run = [], {}
    for _ in range(4):
        incidents, last_run, store = run_fetch(client, {'max_fetch': '2'}, last_run, alerts, requests_mock)
        seen += [json.loads(i['rawJSON'])['id'] for i in incidents]
    assert sorted(seen) == sorted(a['id'] for a in alerts)
    assert store.calls[-1]['$top'] == str(2 + 6)


def test_fetch_first_run_request_and_incident(client, requests_mock):
    incidents, next_run, store = run_fetch(client, {'max_fetch': '10', 'fetch_evidence': 'true',
                                                    'incidentType': 'MDE Alert'}, {}, load('alerts.json'),
                                           requests_mock)
    assert store.calls[0]['$filter'].startswith('alertCreationTime ge 2024-05-01T00:00:00.0000000Z')
    assert store.calls[0]['$expand'] == 'evidence' and store.calls[0]['$top'] == '10'
    assert incidents[0]['name'] == 'Microsoft Defender ATP Alert da1' and incidents[0]['type'] == 'MDE Alert'
    assert incidents[0]['dbotMirrorId'] == 'da1' and incidents[0]['severity'] == 3
    assert len(incidents) == 5


def test_fetch_from_official_last_run_skips_the_last_alert(client, requests_mock):
    """Given the official integration's lastRun, When fetching, Then alerts at that time are not fetched again."""
    last_run = {'last_alert_fetched_time': '2024-05-01T10:00:00.123456Z'}
    incidents, next_run, _ = run_fetch(client, {}, last_run, load('alerts.json'), requests_mock)
    assert [json.loads(i['rawJSON'])['id'] for i in incidents] == ['da4', 'da5']
    assert next_run['seen_ids'] == ['da5']


def test_fetch_empty_keeps_state(client, requests_mock):
    last_run = {'last_alert_fetched_time': '2024-06-01T00:00:00.0000000Z', 'seen_ids': ['z']}
    incidents, next_run, _ = run_fetch(client, {}, last_run, load('alerts.json'), requests_mock)
    assert incidents == [] and next_run == last_run


def test_fetch_command_hands_over_before_last_run(client, requests_mock, mocker):
    requests_mock.get(f'{API}/alerts', json={'value': load('alerts.json')[:1]})
    order = []
    mocker.patch.object(demisto, 'getLastRun', return_value={})
    mocker.patch.object(demisto, 'incidents', side_effect=lambda i: order.append('incidents'))
    mocker.patch.object(demisto, 'setLastRun', side_effect=lambda r: order.append('lastRun'))
    m.fetch_incidents_command(client, {'first_fetch_timestamp': '3 days'})
    assert order == ['incidents', 'lastRun']


# ---------------------------------------------------------------------------------------------------------------
# Authentication, parameters and dispatch
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('endpoint_type,url', [
    ('Worldwide', 'https://api.securitycenter.microsoft.com/api'),
    ('EU Geo Proximity', 'https://api-eu.securitycenter.microsoft.com/api'),
    ('US GCC', 'https://api-gcc.securitycenter.microsoft.us/api'),
    ('US GCC-High', 'https://api-gov.securitycenter.microsoft.us/api'),
    ('DoD', 'https://api-gov.securitycenter.microsoft.us/api'),
])
def test_endpoint_types(endpoint_type, url):
    client = m.build_client({**PARAMS, 'endpoint_type': endpoint_type})
    assert client.http._base_url == url


def test_custom_endpoint_needs_url_and_uses_login_url():
    with pytest.raises(ValueError, match='Server URL'):
        m.build_client({**PARAMS, 'endpoint_type': 'Custom'})
    client = m.build_client({**PARAMS, 'endpoint_type': 'Custom', 'url': 'https://emu.local/',
                             'login_url': 'https://login.emu.local'})
    assert client.http._base_url == 'https://emu.local/api'
    assert client.http.credential.cloud.login_url == 'https://login.emu.local'


def test_is_gcc_forces_gcc():
    assert 'api-gcc' in m.build_client({**PARAMS, 'is_gcc': True}).http._base_url


@pytest.mark.parametrize('params,message', [
    ({'_auth_id': '', '_tenant_id': 't', 'credentials': {'password': 'k'}}, 'ID and Token'),
    ({'_auth_id': 'a', '_tenant_id': 't', 'self_deployed': False}, 'Key parameter'),
    ({'_auth_id': 'a', '_tenant_id': 't', 'self_deployed': True}, 'certificate thumbprint'),
    ({**PARAMS, 'auth_type': 'Authorization Code'}, 'redirect URI'),
    ({**PARAMS, 'auth_type': 'Magic'}, 'auth_type'),
])
def test_parameter_checks(params, message):
    with pytest.raises((DemistoException, ValueError), match=message):
        m.build_settings(params)


def test_flows_select_credentials():
    assert m.build_client(PARAMS).http.credential.flow == 'client_credentials' or \
        type(m.build_client(PARAMS).http.credential).__name__ == 'ClientSecretCredential'
    xsoar = m.build_client({'_auth_id': 'reg@https://proxy.example', '_tenant_id': 't',
                            'credentials': {'password': 'ZW11bGF0b3Itb3Byb3h5LWFlcy1rZXktMzItYnl0ZXM='}})
    assert type(xsoar.http.credential).__name__ == 'OproxyCredential'
    assert xsoar.http.credential.proxy_url == 'https://proxy.example' and xsoar.http.credential.app_name == \
        'ms-defender-atp'
    managed = m.build_client({'auth_type': 'Azure Managed Identities'})
    assert type(managed.http.credential).__name__ == 'ManagedIdentityCredential'
    code = m.build_client({**PARAMS, 'auth_type': 'Authorization Code', 'redirect_uri': 'https://localhost/x'})
    assert type(code.http.credential).__name__ == 'AuthorizationCodeCredential'


def test_read_command_reschedules_on_long_retry_after(client, requests_mock, mocker):
    mocker.patch('time.sleep')
    requests_mock.get(f'{API}/machines', status_code=429, headers={'Retry-After': '90'},
                      json={'error': {'code': 'TooManyRequests', 'message': 'slow'}})
    result = m.run_command(client, 'microsoft-atp-get-machines', {})
    assert isinstance(result, CommandResults) and result.scheduled_command.to_results()['NextRun'] == '90'


def test_main_returns_clear_error_for_bad_argument(mocker, requests_mock):
    mocker.patch.object(demisto, 'command', return_value='microsoft-atp-isolate-machine')
    mocker.patch.object(demisto, 'args', return_value={'machine_id': 'm1', 'comment': 'c', 'isolation_type': 'x'})
    error = mocker.patch.object(m, 'return_error')
    m.main()
    assert 'Invalid "isolation_type": "x". Allowed values: Full, Selective.' in error.call_args[0][0]
    assert requests_mock.call_count == 0


def test_test_module_checks_api(mocker, requests_mock):
    route = requests_mock.get(f'{API}/alerts', json={'value': []})
    mocker.patch.object(demisto, 'command', return_value='test-module')
    results = mocker.patch.object(m, 'return_results')
    m.main()
    assert results.call_args[0][0] == 'ok' and query_of(route.last_request) == {'$top': '1'}


def test_yaml_declares_every_command():
    import yaml
    spec = yaml.safe_load((Path(__file__).parent / 'MicrosoftDefenderAdvancedThreatProtection.yml').read_text())
    names = {c['name'] for c in spec['script']['commands']}
    assert set(m.COMMANDS) | {'microsoft-atp-test', 'microsoft-atp-generate-login-url',
                              'microsoft-atp-auth-reset'} == names
