"""Unit tests for Microsoft Defender for Endpoint: argument rules, OData and KQL builders (hostile values included),
every command over HTTP (requests-mock), the response-action polling state machine, per-machine reporting,
throttling continuation, fetch (ties, paging, filters, first fetch) and authentication wiring."""
import json
import re
import time
import urllib.parse
from pathlib import Path

import demistomock as demisto
import MicrosoftApiModule
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
    demisto.setIntegrationContext({})      # the token cache and remembered Graph refusals start empty


@pytest.fixture
def client():
    return m.build_client(PARAMS)


@pytest.fixture
def legacy(mocker):
    """A client whose instance chose the legacy Defender for Endpoint hunting API."""
    params = {**PARAMS, 'hunting_api': 'Legacy Defender for Endpoint'}
    mocker.patch.object(demisto, 'params', return_value=params)
    return m.build_client(params)


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
    assert len(result) == 2                      # one result per machine, each with Endpoint, as the official
    assert result[0].outputs['MACAddress'] == '00306B23C1E8'
    assert result[0].indicator.to_context()[m.Common.Endpoint.CONTEXT_PATH]['OSVersion'] == '1709 x64 bit'
    all_of = m.get_machine_by_ip_command(client, {'ip': '10.1.1.1', 'timestamp': '2024-05-01T12:00:00Z',
                                                  'limit': '2', 'all_results': 'true'})
    assert len(all_of) == 3


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


def test_polling_action_answered_without_id_is_an_error(client, requests_mock):
    """Given polling and an answer to the action request that carries no action ID (an empty body), When the action
    is requested, Then the command fails naming the machine instead of returning nothing."""
    requests_mock.post(f'{API}/machines/{MACHINE_ID}/collectInvestigationPackage', text='')
    with pytest.raises(DemistoException, match=f'{MACHINE_ID}: the answer .* carried no machine action ID'):
        m.request_and_download_investigation_package_command(client, {'machine_id': MACHINE_ID, 'comment': 'c'})


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


def test_package_sas_uri_documented_example_is_unquoted(client, requests_mock):
    """Given Microsoft's documented GetPackageUri answer (the link inside literal double quotes), When the link is
    read, Then the context holds the bare https link."""
    documented = load('package_sas_uri_docs.json')
    requests_mock.get(f'{API}/machineactions/act-1/getPackageUri', json=documented)
    link = m.get_investigation_package_sas_uri_command(client, {'action_id': 'act-1'}).outputs['Link']
    assert documented['value'].startswith('"') and link == documented['value'][1:-1]
    assert link.startswith('https://userrequests-us.securitycenter.windows.com:443/safedownload/')


@pytest.mark.parametrize('value,expected', [
    ('https://blob/x.zip?sig=1', 'https://blob/x.zip?sig=1'),
    ('"https://blob/x.zip?sig=1"', 'https://blob/x.zip?sig=1'),
    (' "http://blob/x.zip" ', 'http://blob/x.zip'),
    ("'https://blob/x.zip'", 'https://blob/x.zip'),
])
def test_sas_link_strips_quotes(value, expected):
    assert m.sas_link(value, 'package') == expected


@pytest.mark.parametrize('value', [None, '', '""', '"ftp://blob/x.zip"', 'blob/x.zip', '"https://blob/x.zip',
                                   'https://', 'https://blob/x y.zip', 'javascript:alert(1)'])
def test_sas_link_refuses_what_is_not_a_link(value):
    """Given a value that is not an http(s) link even without its quotes, Then a clear error, without the value."""
    with pytest.raises(DemistoException, match='did not return a usable download link for the package') as error:
        m.sas_link(value, 'package')
    assert 'blob' not in str(error.value)


def test_package_sas_uri_not_a_link_is_a_clear_error(client, requests_mock):
    requests_mock.get(f'{API}/machineactions/act-1/getPackageUri', json={'value': '"not a link"'})
    with pytest.raises(DemistoException, match='investigation package of machine action act-1'):
        m.get_investigation_package_sas_uri_command(client, {'action_id': 'act-1'})


def test_request_and_download_investigation_package_documented_quotes(client, requests_mock, mocker, tmp_path,
                                                                     monkeypatch):
    """Given the documented quoted link, When the finished collection is downloaded, Then the bare link is fetched."""
    monkeypatch.chdir(tmp_path)
    mocker.patch.object(demisto, 'investigation', return_value={'id': '1'})
    requests_mock.post(f'{API}/machines/{MACHINE_ID}/collectInvestigationPackage',
                       json=action('Succeeded', kind='CollectInvestigationPackage'))
    requests_mock.get(f'{API}/machineactions/act-1', json=action('Succeeded', kind='CollectInvestigationPackage'))
    requests_mock.get(f'{API}/machineactions/act-1/getPackageUri', json={'value': '"https://blob.example/p.zip?sig=1"'})
    download = requests_mock.get('https://blob.example/p.zip?sig=1', content=b'PK\x03\x04data')
    result = m.request_and_download_investigation_package_command(client, {'machine_id': MACHINE_ID, 'comment': 'c'})
    results = result if isinstance(result, list) else [result]
    if results[0].scheduled_command is not None:
        results = m.request_and_download_investigation_package_command(
            client, results[0].scheduled_command.to_results()['PollingArgs'])
    assert download.called and results[1]['File'] == 'Response Result.gz'


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
    assert final[1]['File'] == 'Response Result.gz'                      # the official name
    assert final[0].outputs[0]['status'] == 'Succeeded' and final[0].outputs[0]['id'] == 'act-1'  # as sent too
    assert 'Authorization' not in requests_mock.last_request.headers


# ---------------------------------------------------------------------------------------------------------------
# Investigations and statistics
# ---------------------------------------------------------------------------------------------------------------

def test_investigations(client, requests_mock):
    """Given Microsoft's investigation (its state in investigationState), When listed or started, Then the state is
    in InvestigationState and State."""
    item = {'id': '63017', 'startTime': '2020-01-06T14:11:34Z', 'endTime': None, 'investigationState': 'Running',
            'machineId': MACHINE_ID, 'computerDnsName': 'mymachine1.contoso.com', 'triggeringAlertId': 'da1'}
    route = requests_mock.get(f'{API}/investigations', json={'value': [item]})
    listed = m.list_investigations_command(client, {'limit': '10', 'offset': '5'})
    assert query_of(route.last_request) == {'$top': '10', '$skip': '5'}
    assert listed.outputs[0] == {'ID': '63017', 'StartTime': '2020-01-06T14:11:34Z', 'State': 'Running',
                                 'InvestigationState': 'Running', 'MachineID': MACHINE_ID,
                                 'ComputerDNSName': 'mymachine1.contoso.com',
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
    assert result.outputs['Statistics']['OrgPrevalence'] == '14850'      # as sent, like the official
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
    assert domain.outputs == {'Domain': 'example.com', 'Statistics': {'Host': 'example.com', 'OrgPrevalence': '4070',
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
    assert context_value(results[1], 'DBotScore')['Score'] == 0        # as the official: no verdict from an indicator's action
    requests_mock.get(f'{API}/indicators', status_code=404, json={'error': {'code': 'NotFound', 'message': 'x'}})
    assert m.sc_indicator_list_command(client, {})[0].readable_output == 'No indicators were found.'


def test_unicode_domain_is_sent_as_punycode(client, requests_mock):
    """Given an internationalized domain, When its statistics, machines and alerts are asked for, Then Microsoft is
    asked for the IDNA (punycode) name and the outputs keep the name as given."""
    requests_mock.get(f'{API}/domains/xn--bcher-kva.example/stats', json={'host': 'xn--bcher-kva.example',
                                                                          'orgPrevalence': '3'})
    requests_mock.get(f'{API}/domains/xn--bcher-kva.example/machines', json={'value': []})
    requests_mock.get(f'{API}/domains/xn--bcher-kva.example/alerts', json={'value': []})
    stats = m.get_domain_statistics_command(client, {'domain': 'bücher.example'})
    assert stats.outputs['Domain'] == 'bücher.example' and stats.indicator.domain == 'bücher.example'
    assert m.get_domain_machines_command(client, {'domain': 'bücher.example'}).outputs['Domain'] == 'bücher.example'
    assert m.get_domain_alerts_command(client, {'domain': 'bücher.example'}).outputs['Domain'] == 'bücher.example'
    with pytest.raises(ValueError, match='"domain"'):
        m.get_domain_statistics_command(client, {'domain': '☃.example'})


def test_trailing_comma_adds_no_empty_tag_or_group(client, requests_mock):
    """Given tags= and rbac_group_names= with a trailing comma (and a doubled one), When indicators are created,
    Then no empty tag or group is sent."""
    ti = requests_mock.post(TI_URL, json=load('ti_indicator.json'), status_code=201)
    m.indicator_create_file_command(client, {
        'action': 'Block', 'description': 'd', 'threat_type': 'malware', 'expiration_time': '2031-01-01T00:00:00Z',
        'file_hash_type': 'sha1', 'file_hash_value': 'A' * 40, 'tags': 'a,,b,'})
    assert ti.last_request.json()['tags'] == ['a', 'b']
    sc = requests_mock.post(f'{API}/indicators', json=load('indicator.json'))
    m.sc_indicator_create_command(client, {
        'indicator_value': '8.8.8.8', 'indicator_type': 'IpAddress', 'action': 'block', 'indicator_description': 'd',
        'indicator_title': 't', 'expiration_time': '2031-01-01T00:00:00Z', 'rbac_group_names': 'g1,'})
    assert sc.last_request.json()['rbacGroupNames'] == ['g1']


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

def test_advanced_hunting_query_and_time_range(legacy, requests_mock):
    route = requests_mock.post(f'{API}/advancedqueries/run', json=load('hunting_response.json'))
    result = m.advanced_hunting_command(legacy, {'query': 'DeviceInfo', 'time_range': '1 day'})
    assert route.last_request.json() == {'Query': 'DeviceInfo\n| where Timestamp > ago(1440m)'}
    assert len(result.outputs) == 2 and result.outputs_prefix == 'MicrosoftATP.Hunt.Result'


def test_advanced_hunting_batch(legacy, requests_mock):
    requests_mock.post(f'{API}/advancedqueries/run', json=load('hunting_response.json'))
    batch = json.dumps({'queries': [{'query': 'A', 'name': 'first'}, {'query': 'B', 'name': 'second',
                                                                        'time_range': '2 hours'}]})
    result = m.advanced_hunting_command(legacy, {'query_batch': batch})
    assert set(result.outputs) == {'first', 'second'}
    assert requests_mock.request_history[-1].json() == {'Query': 'B\n| where Timestamp > ago(120m)'}


GRAPH_HUNT = 'https://graph.microsoft.com/v1.0/security/runHuntingQuery'


def graph_403():
    return {'status_code': 403, 'json': {'error': {'code': 'Forbidden', 'message': 'Missing role permissions on the '
                                                   'request. API requires one of \'ThreatHunting.Read.All\'.'}}}


def test_advanced_hunting_on_graph_by_default(client, requests_mock):
    """Given the default instance (Automatic) and Microsoft's documented Graph answer, When a query runs, Then it goes
    to Graph runHuntingQuery with Query and Timespan, with a Graph token, and the rows are the context."""
    documented = load('graph_hunting_docs.json')
    route = requests_mock.post(GRAPH_HUNT, json=documented)
    legacy = requests_mock.post(f'{API}/advancedqueries/run', json=load('hunting_response.json'))
    result = m.advanced_hunting_command(client, {'query': 'DeviceProcessEvents | limit 2'})
    assert route.last_request.json() == {'Query': 'DeviceProcessEvents | limit 2', 'Timespan': 'P30D'}
    assert result.outputs == documented['results'] and not legacy.called
    assert m.TokenProvider.get_token.call_args_list[-1].args[0] == 'https://graph.microsoft.com/.default'


def test_graph_and_legacy_give_the_same_context(client, legacy, requests_mock, mocker):
    """Given the same rows from both APIs, Then every hunting command writes the same context on either."""
    rows = load('hunting_response.json')
    requests_mock.post(GRAPH_HUNT, json={'schema': [{'name': c['Name'], 'type': c['Type']} for c in rows['Schema']],
                                         'results': rows['Results']})
    requests_mock.post(f'{API}/advancedqueries/run', json=rows)
    args = {'query_purpose': 'compromised_information', 'username': 'bob', 'device_name': 'pc1'}
    for run in (lambda c: m.advanced_hunting_command(c, {'query': 'DeviceInfo', 'name': 'n'}),
                lambda c: m.COMMANDS['microsoft-atp-advanced-hunting-cover-up'](c, args)):
        assert run(client).to_context() == run(legacy).to_context()


def test_automatic_falls_back_to_legacy_when_graph_refuses(client, requests_mock):
    """Given an app without the Graph permission (403), When a query runs on Automatic, Then the legacy API answers."""
    requests_mock.post(GRAPH_HUNT, **graph_403())
    route = requests_mock.post(f'{API}/advancedqueries/run', json=load('hunting_response.json'))
    result = m.advanced_hunting_command(client, {'query': 'DeviceInfo'})
    assert route.last_request.json() == {'Query': 'DeviceInfo'} and len(result.outputs) == 2


def test_automatic_remembers_the_graph_refusal_for_an_hour(client, requests_mock, mocker):
    """Given an app without the Graph permission, When hunting runs twice on Automatic, Then only the first asks Graph
    (and pays its 403); the second goes straight to the legacy API; after an hour Graph is asked again."""
    graph = requests_mock.post(GRAPH_HUNT, **graph_403())
    legacy = requests_mock.post(f'{API}/advancedqueries/run', json=load('hunting_response.json'))
    m.advanced_hunting_command(client, {'query': 'DeviceInfo'})
    m.advanced_hunting_command(m.build_client(PARAMS), {'query': 'DeviceInfo'})
    assert (graph.call_count, legacy.call_count) == (1, 2)
    mocker.patch.object(MicrosoftApiModule, '_now', return_value=time.time() + m.GRAPH_REFUSAL_TTL + 1)
    m.advanced_hunting_command(client, {'query': 'DeviceInfo'})
    assert (graph.call_count, legacy.call_count) == (2, 3)


def test_graph_choice_asks_graph_despite_a_remembered_refusal(client, requests_mock, mocker):
    requests_mock.post(GRAPH_HUNT, **graph_403())
    requests_mock.post(f'{API}/advancedqueries/run', json=load('hunting_response.json'))
    m.advanced_hunting_command(client, {'query': 'DeviceInfo'})
    params = {**PARAMS, 'hunting_api': 'Microsoft Graph'}
    mocker.patch.object(demisto, 'params', return_value=params)
    graph = requests_mock.post(GRAPH_HUNT, json={'schema': [], 'results': []})
    m.advanced_hunting_command(m.build_client(params), {'query': 'DeviceInfo'})
    assert graph.called


@pytest.mark.parametrize('legacy_status', [403, 404, 410])
def test_automatic_names_the_permission_when_no_fallback(client, requests_mock, legacy_status):
    """Given Graph 403 and a legacy API that refuses too or is gone, Then the error names ThreatHunting.Read.All."""
    requests_mock.post(GRAPH_HUNT, **graph_403())
    requests_mock.post(f'{API}/advancedqueries/run', status_code=legacy_status,
                       json={'error': {'code': 'Gone', 'message': 'x'}})
    with pytest.raises(DemistoException, match=r'Microsoft Graph permission ThreatHunting\.Read\.All') as error:
        m.advanced_hunting_command(client, {'query': 'DeviceInfo'})
    assert f'HTTP {legacy_status}' in str(error.value)


def test_graph_choice_never_falls_back(mocker, requests_mock):
    params = {**PARAMS, 'hunting_api': 'Microsoft Graph'}
    mocker.patch.object(demisto, 'params', return_value=params)
    requests_mock.post(GRAPH_HUNT, **graph_403())
    legacy = requests_mock.post(f'{API}/advancedqueries/run', json=load('hunting_response.json'))
    with pytest.raises(DemistoException, match='ThreatHunting.Read.All') as error:
        m.advanced_hunting_command(m.build_client(params), {'query': 'DeviceInfo'})
    assert not legacy.called and 'refused the query too' not in str(error.value)


def test_graph_errors_other_than_403_are_not_hidden(client, requests_mock):
    """Given a query Graph rejects (400), Then Microsoft's message is shown and the legacy API is not asked."""
    requests_mock.post(GRAPH_HUNT, status_code=400, json={'error': {'code': 'BadRequest',
                                                                    'message': "Query could not be parsed at 'wher'"}})
    legacy = requests_mock.post(f'{API}/advancedqueries/run', json=load('hunting_response.json'))
    with pytest.raises(DemistoException, match="could not be parsed at 'wher'"):
        m.advanced_hunting_command(client, {'query': 'DeviceInfo | wher x'})
    assert not legacy.called


@pytest.mark.parametrize('endpoint_type,graph', [('US GCC-High', 'https://graph.microsoft.us'),
                                                 ('DoD', 'https://dod-graph.microsoft.us')])
def test_graph_hunting_uses_the_clouds_graph(mocker, requests_mock, endpoint_type, graph):
    params = {**PARAMS, 'endpoint_type': endpoint_type}
    mocker.patch.object(demisto, 'params', return_value=params)
    route = requests_mock.post(f'{graph}/v1.0/security/runHuntingQuery', json={'schema': [], 'results': []})
    m.advanced_hunting_command(m.build_client(params), {'query': 'DeviceInfo'})
    assert route.called
    assert m.TokenProvider.get_token.call_args_list[-1].args[0] == f'{graph}/.default'


def test_hunting_api_parameter_is_checked():
    assert m.hunting_api_param({}) == 'Automatic'
    assert m.hunting_api_param({'hunting_api': 'legacy defender for endpoint'}) == 'Legacy Defender for Endpoint'
    with pytest.raises(DemistoException, match='"Advanced hunting API"'):
        m.hunting_api_param({'hunting_api': 'Sentinel'})


@pytest.mark.parametrize('args', [{}, {'query': 'A', 'query_batch': '[]'}, {'query_batch': '[{"name": "x"}]'},
                                  {'query_batch': json.dumps([{'query': 'q'}] * 11)}])
def test_advanced_hunting_bad_input(client, args):
    with pytest.raises(ValueError):
        m.advanced_hunting_command(client, args)


def test_templated_hunting_command(legacy, requests_mock):
    route = requests_mock.post(f'{API}/advancedqueries/run', json=load('hunting_response.json'))
    command = m.COMMANDS['microsoft-atp-advanced-hunting-cover-up']
    result = command(legacy, {'query_purpose': 'compromised_information', 'username': 'bob" | take 1',
                              'device_name': 'pc1', 'limit': '1', 'page': '2', 'show_query': 'true'})
    sent = route.last_request.json()['Query']
    assert 'AccountName =~ "bob\\" | take 1"' in sent
    assert result.outputs_prefix == 'MicrosoftATP.HuntCoverUp.Result'
    assert result.outputs == {'compromised_information': [load('hunting_response.json')['Results'][1]]}
    assert '### Query' in result.readable_output
    plain = m.COMMANDS['microsoft-atp-advanced-hunting-tampering'](legacy, {'device_id': 'd1'})
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
    ('api.security.microsoft.com', 'https://api.security.microsoft.com/api'),
    ('us.api.security.microsoft.com', 'https://us.api.security.microsoft.com/api'),
    ('aea.api.security.microsoft.com', 'https://aea.api.security.microsoft.com/api'),
])
def test_endpoint_types(endpoint_type, url):
    client = m.build_client({**PARAMS, 'endpoint_type': endpoint_type})
    assert client.http._base_url == url


@pytest.mark.parametrize('host', m.SECURITY_API_HOSTS)
def test_security_api_hosts_keep_the_defender_for_endpoint_token_and_worldwide_graph(host, requests_mock):
    """Given an endpoint type naming a documented api.security.microsoft.com host, Then the API goes to that host
    with a token of the Defender for Endpoint audience (Learn: other audiences get 403), and Graph hunting to the
    worldwide Graph."""
    params = {**PARAMS, 'endpoint_type': host}
    client = m.build_client(params)
    assert client.http._base_url == f'https://{host}/api'
    assert client.http.scope == 'https://api.securitycenter.microsoft.com/.default'
    assert m.graph_target(params, client.http.credential.flow)[0] == 'https://graph.microsoft.com'
    assert host in m.MDE_SECURITY_HOSTS


def test_endpoint_type_options_match_the_yaml():
    import yaml
    spec = yaml.safe_load((Path(__file__).parent / 'MicrosoftDefenderAdvancedThreatProtection.yml').read_text())
    param = next(p for p in spec['configuration'] if p['name'] == 'endpoint_type')
    assert tuple(param['options']) == m.ENDPOINT_TYPES


def test_custom_endpoint_needs_url_and_uses_login_url():
    with pytest.raises(ValueError, match='Server URL'):
        m.build_client({**PARAMS, 'endpoint_type': 'Custom'})
    client = m.build_client({**PARAMS, 'endpoint_type': 'Custom', 'url': 'https://emu.local/',
                             'login_url': 'https://login.emu.local'})
    assert client.http._base_url == 'https://emu.local/api'
    assert client.http.credential.cloud.login_url == 'https://login.emu.local'


@pytest.mark.parametrize('params, named', [
    ({'endpoint_type': 'Custom', 'url': 'ftp://gw.example.com'}, '"Server URL" parameter (url)'),
    ({'url': 'api.securitycenter.microsoft.com'}, '"Server URL" parameter (url)'),
    ({'endpoint_type': 'Custom', 'url': 'https://gw.example.com', 'login_url': 'login.example.com/'},
     '"Login URL (Custom endpoint type)" parameter (login_url)')])
def test_url_parameters_are_checked_by_name(params, named):
    """Given a URL parameter that is not an https:// URL with a host, When the client is built, Then the error
    names that parameter and what it takes (not "(InvalidSchema)" or "Could not reach  ..." at the first call)."""
    with pytest.raises(ValueError, match=re.escape(named) + '.*https:// URL with a host name'):
        m.build_client({**PARAMS, **params})


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


@pytest.mark.parametrize('command', ['microsoft-atp-generate-login-url', 'microsoft-atp-auth-reset', 'test-module'])
def test_auth_code_messages_name_commands_that_exist(mocker, command):
    """Given the authorization code flow, When generate-login-url, auth-reset or the Test button runs, Then every
    !command the message tells the user to run is a command of this integration (microsoft-atp-test, not the
    microsoft-atp-auth-test the other integrations have)."""
    import yaml
    spec = yaml.safe_load((Path(__file__).parent / 'MicrosoftDefenderAdvancedThreatProtection.yml').read_text())
    names = {c['name'] for c in spec['script']['commands']}
    mocker.patch.object(demisto, 'params', return_value={**PARAMS, 'auth_type': 'Authorization Code',
                                                         'redirect_uri': 'https://localhost/x'})
    mocker.patch.object(demisto, 'command', return_value=command)
    results = mocker.patch.object(m, 'return_results')
    error = mocker.patch.object(m, 'return_error')
    m.main()
    text = error.call_args[0][0] if error.called else results.call_args[0][0].readable_output
    mentioned = set(re.findall(r'!([a-z0-9]+(?:-[a-z0-9]+)+)', text))
    assert mentioned and 'microsoft-atp-test' in mentioned and mentioned <= names


def test_yaml_declares_every_command():
    import yaml
    spec = yaml.safe_load((Path(__file__).parent / 'MicrosoftDefenderAdvancedThreatProtection.yml').read_text())
    names = {c['name'] for c in spec['script']['commands']}
    assert set(m.COMMANDS) | {'microsoft-atp-test', 'microsoft-atp-generate-login-url',
                              'microsoft-atp-auth-reset'} == names


# ---------------------------------------------------------------------------------------------------------------
# Vulnerability management (TVM): software, vulnerabilities, missing KBs, per-machine views
# ---------------------------------------------------------------------------------------------------------------

def first_item(value):
    return value[0] if isinstance(value, list) else value


def test_list_software_builds_or_groups_and_pages(client, requests_mock):
    """Given IDs, names and vendors, When list-software runs, Then each argument is an OR group, the groups are
    ANDed, paging maps to $top/$skip and the rows land under MicrosoftATP.Software."""
    route = requests_mock.get(f'{API}/Software', json=load('tvm_software.json'))
    result = m.list_software_command(client, {'id': 'google-_-chrome,mozilla-_-firefox', 'vendor': 'google',
                                              'limit': '10', 'offset': '20'})
    query = query_of(route.last_request)
    assert query['$filter'] == ("(id eq 'google-_-chrome' or id eq 'mozilla-_-firefox') and vendor eq 'google'")
    assert (query['$top'], query['$skip']) == ('10', '20')
    assert result.outputs_prefix == 'MicrosoftATP.Software' and result.outputs[0]['impactScore'] == 1.449
    assert result.outputs[1]['publicExploit'] is False and result.outputs[1]['exposedMachines'] == 0


def test_list_software_without_filters_and_nothing_found(client, requests_mock):
    """Given no filter, When the inventory is empty, Then no $filter is sent and the entry says nothing was found."""
    route = requests_mock.get(f'{API}/Software', json={'value': []})
    result = m.list_software_command(client, {})
    assert query_of(route.last_request) == {'$top': '50'}
    assert result.outputs is None and 'nothing was found' in result.readable_output


def test_software_values_with_quotes_stay_inside_the_literal(client, requests_mock):
    """Given a name holding a quote and an OData operator, When list-software runs, Then the quote is doubled, so the
    whole text stays one string literal and adds no clause."""
    route = requests_mock.get(f'{API}/Software', json={'value': []})
    m.list_software_command(client, {'name': "x' or name ne 'y"})
    assert query_of(route.last_request)['$filter'] == "(name eq 'x'' or name ne ''y')"


@pytest.mark.parametrize('command,part,prefix,key', [
    (m.list_machines_by_software_command, 'machineReferences', 'MicrosoftATP.SoftwareMachine', 'computerDnsName'),
    (m.list_software_version_distribution_command, 'distributions', 'MicrosoftATP.SoftwareVersion', 'version'),
    (m.list_missing_kb_by_software_command, 'getmissingkbs', 'MicrosoftATP.SoftwareKB', 'machineMissedOn'),
])
def test_software_sub_resources(client, requests_mock, command, part, prefix, key):
    """Given a software ID, When a by-software command runs, Then it reads /Software/{id}/<part> (ID escaped as one
    path segment) and every row carries the queried softwareId."""
    data = {'machineReferences': 'tvm_machine_refs.json', 'distributions': 'tvm_distributions.json',
            'getmissingkbs': 'tvm_kbs.json'}[part]
    route = requests_mock.get(f"{API}/Software/contoso-_-admin%27s_toolkit/{part}", json=load(data))
    result = command(client, {'id': "contoso-_-admin's_toolkit"})
    assert route.called and result.outputs_prefix == prefix
    assert all(row['softwareId'] == "contoso-_-admin's_toolkit" and key in row for row in result.outputs)


def test_missing_kb_uses_the_correct_prefix(client, requests_mock):
    """Given missing KBs, When list-missing-kb-by-software runs, Then the prefix is MicrosoftATP.SoftwareKB (not the
    official YAML's misspelled MicMicrosoftATP)."""
    requests_mock.get(f'{API}/Software/microsoft-_-windows_11/getmissingkbs', json=load('tvm_kbs.json'))
    result = m.list_missing_kb_by_software_command(client, {'id': 'microsoft-_-windows_11'})
    assert list(result.to_context()['EntryContext'])[0].startswith('MicrosoftATP.SoftwareKB')
    assert result.outputs[0]['productsNames'] == ['windows_11']


@pytest.mark.parametrize('command', [m.list_machines_by_software_command, m.list_software_version_distribution_command,
                                     m.list_missing_kb_by_software_command])
def test_software_commands_need_an_id(client, command):
    """Given no software ID (optional in the official YAML), When a by-software command runs, Then the error names
    "id" and says where to find one, before any request."""
    with pytest.raises(ValueError, match=r'Missing (required )?argument "id"'):
        command(client, {'id': ' '})


def test_vulnerabilities_by_software_adds_cve_indicators(client, requests_mock):
    """Given vulnerabilities of a software, When the command runs, Then they are under MicrosoftATP.SoftwareCVE and
    each CVE becomes a standard CVE indicator; a pipe in a description stays inside its table cell."""
    requests_mock.get(f'{API}/Software/google-_-chrome/vulnerabilities', json=load('tvm_vulnerabilities.json'))
    results = m.list_vulnerabilities_by_software_command(client, {'id': 'google-_-chrome'})
    table, *indicators = results
    assert table.outputs_prefix == 'MicrosoftATP.SoftwareCVE' and len(table.outputs) == 2
    assert 'cvssVector' not in table.outputs[1] and 'exploitTypes' not in table.outputs[1]
    assert '\\|' in table.readable_output
    cve = indicators[0].to_context()['EntryContext']
    cve_row = first_item(next(v for k, v in cve.items() if k.startswith('CVE(')))
    assert cve_row['ID'] == 'CVE-2024-4671' and cve_row['CVSS']['Score'] == 9.6
    assert cve_row['Published'] == '2024-05-14T00:00:00Z'


def test_machine_vulnerabilities_filter_every_argument():
    """Given every filter argument, When the $filter is built, Then each is an OR group and software IDs become
    vendor and product pairs."""
    text = m.machine_vulnerabilities_filter({
        'machine_id': 'm1,m2', 'software_id': 'google-_-chrome,microsoft-_-office', 'cve_id': 'cve-2024-4671',
        'product_name': 'chrome', 'product_version': '124.0', 'product_vendor': 'google', 'severity': 'high,critical'})
    assert text == ("(machineId eq 'm1' or machineId eq 'm2') and "
                    "((productVendor eq 'google' and productName eq 'chrome') or "
                    "(productVendor eq 'microsoft' and productName eq 'office')) and cveId eq 'CVE-2024-4671' and "
                    "productName eq 'chrome' and productVersion eq '124.0' and productVendor eq 'google' and "
                    "(severity eq 'High' or severity eq 'Critical')")


@pytest.mark.parametrize('args,message', [
    ({'software_id': 'chrome'}, 'Invalid "software_id": "chrome"'),
    ({'cve_id': 'log4shell'}, 'Invalid "cve_id": "log4shell"'),
    ({'severity': 'Urgent'}, 'Invalid "severity": "Urgent". Allowed values: Low, Medium, High, Critical.'),
    ({'limit': '0'}, 'Invalid "limit": "0"'),
    ({'offset': '-1'}, 'Invalid "offset": "-1"'),
])
def test_vulnerabilities_by_machine_bad_input(client, requests_mock, args, message):
    """Given a bad argument, When list-vulnerabilities-by-machine runs, Then the error names it and no call is made."""
    with pytest.raises(ValueError, match=re.escape(message)):
        m.list_vulnerabilities_by_machine_command(client, args)
    assert requests_mock.call_count == 0


def test_vulnerabilities_by_machine(client, requests_mock):
    """Given findings, When list-vulnerabilities-by-machine runs with the default paging, Then $top is 25 and the
    rows are under MicrosoftATP.MachineCVE without empty fields."""
    route = requests_mock.get(f'{API}/vulnerabilities/machinesVulnerabilities', json=load('tvm_findings.json'))
    result, *cves = m.list_vulnerabilities_by_machine_command(client, {'machine_id': MACHINE_ID})
    assert cves and all(c.indicator for c in cves)
    assert query_of(route.last_request) == {'$filter': f"machineId eq '{MACHINE_ID}'", '$top': '25'}
    assert result.outputs_prefix == 'MicrosoftATP.MachineCVE'
    assert result.outputs[0]['fixingKbId'] == '5040442' and 'fixingKbId' not in result.outputs[1]


def test_list_vulnerabilities_filter_every_argument():
    """Given every filter, When the $filter is built, Then dates are UTC literals, cvss a number, texts escaped."""
    text = m.vulnerabilities_filter({
        'id': 'CVE-2024-4671,CVE-2024-6772', 'name_equal': 'CVE-2024-4671', 'name_contains': "o'x",
        'description_contains': 'sandbox', 'published_on': '2024-05-01', 'updated_on': '2024-07-01T10:00:00+02:00',
        'cvss': '7.5', 'severity': 'critical'})
    assert text == ("(id eq 'CVE-2024-4671' or id eq 'CVE-2024-6772') and name eq 'CVE-2024-4671' and "
                    "contains(name,'o''x') and contains(description,'sandbox') and "
                    "publishedOn ge 2024-05-01T00:00:00Z and updatedOn ge 2024-07-01T08:00:00Z and cvssV3 ge 7.5 and "
                    "severity eq 'Critical'")


@pytest.mark.parametrize('args,message', [
    ({'cvss': '11'}, 'Invalid "cvss": "11". Provide a CVSS v3 score from 0 to 10.'),
    ({'cvss': 'high'}, 'Invalid "cvss": "high"'),
    ({'cvss': 'nan'}, 'Invalid "cvss": "nan"'),
    ({'published_on': 'someday'}, 'Invalid "published_on": "someday"'),
    ({'updated_on': '2024-13-45'}, 'Invalid "updated_on": "2024-13-45"'),
    ({'id': 'CVE-24'}, 'Invalid "id": "CVE-24"'),
    ({'severity': 'Severe'}, 'Invalid "severity": "Severe"'),
])
def test_list_vulnerabilities_bad_input(client, requests_mock, args, message):
    """Given a bad filter value, When list-vulnerabilities runs, Then the error names the argument and nothing is
    requested."""
    with pytest.raises(ValueError, match=re.escape(message)):
        m.list_vulnerabilities_command(client, args)
    assert requests_mock.call_count == 0


def test_list_vulnerabilities(client, requests_mock):
    """Given vulnerabilities, When list-vulnerabilities runs, Then they are under MicrosoftATP.Vulnerability with one
    CVE indicator each."""
    route = requests_mock.get(f'{API}/vulnerabilities', json=load('tvm_vulnerabilities.json'))
    results = m.list_vulnerabilities_command(client, {'severity': 'Critical', 'limit': '5', 'offset': '5'})
    assert query_of(route.last_request) == {'$filter': "severity eq 'Critical'", '$top': '5', '$skip': '5'}
    assert results[0].outputs_prefix == 'MicrosoftATP.Vulnerability' and len(results) == 3
    assert results[0].outputs[0]['exploitTypes'] == ['RemoteCodeExecution']


def test_machines_by_vulnerability_groups_cves_per_machine(client, requests_mock):
    """Given two CVEs sharing a machine, When list-machines-by-vulnerability runs, Then each machine appears once
    with every requested CVE it is exposed to."""
    refs = load('tvm_machine_refs.json')
    requests_mock.get(f'{API}/vulnerabilities/CVE-2024-4671/machineReferences', json=refs)
    requests_mock.get(f'{API}/vulnerabilities/CVE-2024-6772/machineReferences', json={'value': refs['value'][:1]})
    result = m.list_machines_by_vulnerability_command(client, {'cve_id': 'cve-2024-4671,CVE-2024-6772'})
    assert result.outputs_prefix == 'MicrosoftATP.CveMachine'
    assert result.outputs[0] == {'ID': MACHINE_ID, 'ComputerDNSName': 'contoso-ws-0000.contoso.local',
                                 'OSPlatform': 'Windows11', 'RBACGroupID': 1, 'RBACGroupName': 'Workstations',
                                 'CVE': ['CVE-2024-4671', 'CVE-2024-6772']}
    assert result.outputs[1]['CVE'] == ['CVE-2024-4671']


def test_machines_by_vulnerability_reports_unknown_cves(client, requests_mock):
    """Given one known and one unknown CVE, When the command runs, Then the found machines are returned and the
    unknown CVE is an error entry; when all are unknown, the command fails."""
    requests_mock.get(f'{API}/vulnerabilities/CVE-2024-4671/machineReferences', json=load('tvm_machine_refs.json'))
    requests_mock.get(f'{API}/vulnerabilities/CVE-2099-0001/machineReferences', status_code=404,
                      json={'error': {'code': 'ResourceNotFound', 'message': 'Vulnerability CVE-2099-0001 was not found'}})
    result, error = m.list_machines_by_vulnerability_command(client, {'cve_id': 'CVE-2024-4671,CVE-2099-0001'})
    assert len(result.outputs) == 2 and error['Type'] == EntryType.ERROR and 'CVE-2099-0001' in error['Contents']
    with pytest.raises(DemistoException, match='CVE-2099-0001'):
        m.list_machines_by_vulnerability_command(client, {'cve_id': 'CVE-2099-0001'})


def test_machines_by_vulnerability_needs_valid_cves(client, requests_mock):
    """Given no CVE or a malformed one, When the command runs, Then the error names "cve_id"."""
    with pytest.raises(ValueError, match='Missing required argument "cve_id"'):
        m.list_machines_by_vulnerability_command(client, {})
    with pytest.raises(ValueError, match='Invalid "cve_id": "CVE-1"'):
        m.list_machines_by_vulnerability_command(client, {'cve_id': 'CVE-2024-4671,CVE-1'})
    assert requests_mock.call_count == 0


def test_machines_by_vulnerability_none_exposed(client, requests_mock):
    """Given a CVE no machine is exposed to, When the command runs, Then it says so and writes no context."""
    requests_mock.get(f'{API}/vulnerabilities/CVE-2024-4671/machineReferences', json={'value': []})
    result = m.list_machines_by_vulnerability_command(client, {'cve_id': 'CVE-2024-4671'})
    assert result.outputs is None and result.readable_output == 'No machines are exposed to CVE-2024-4671.'


def test_get_machine_software(client, requests_mock):
    """Given a machine, When get-machine-software runs, Then /machines/{id}/software rows carry the machineId."""
    requests_mock.get(f'{API}/machines/{MACHINE_ID}/software', json=load('tvm_software.json'))
    result = m.get_machine_software_command(client, {'machine_id': MACHINE_ID})
    assert result.outputs_prefix == 'MicrosoftATP.MachineSoftware' and result.outputs_key_field == ['id', 'machineId']
    assert {r['machineId'] for r in result.outputs} == {MACHINE_ID}


def test_get_machine_missing_kbs(client, requests_mock):
    """Given a machine, When get-machine-missing-kbs runs, Then its KBs are under MicrosoftATP.MachineMissingKB."""
    requests_mock.get(f'{API}/machines/{MACHINE_ID}/getmissingkbs', json=load('tvm_kbs.json'))
    result = m.get_machine_missing_kbs_command(client, {'machine_id': MACHINE_ID})
    assert result.outputs_prefix == 'MicrosoftATP.MachineMissingKB' and result.outputs[0]['id'] == '5040442'


def test_get_machine_vulnerabilities(client, requests_mock):
    """Given a machine, When get-machine-vulnerabilities runs, Then the CVEs are under
    MicrosoftATP.MachineVulnerability and as CVE indicators."""
    requests_mock.get(f'{API}/machines/{MACHINE_ID}/vulnerabilities', json=load('tvm_vulnerabilities.json'))
    table, *indicators = m.get_machine_vulnerabilities_command(client, {'machine_id': MACHINE_ID})
    assert table.outputs_prefix == 'MicrosoftATP.MachineVulnerability' and len(indicators) == 2
    assert table.outputs[0]['machineId'] == MACHINE_ID


def test_get_machine_commands_need_machine_id(client, requests_mock):
    """Given no machine ID, When a per-machine TVM command runs, Then the error names "machine_id"."""
    for command in (m.get_machine_software_command, m.get_machine_missing_kbs_command,
                    m.get_machine_vulnerabilities_command):
        with pytest.raises(ValueError, match='Missing required argument "machine_id"'):
            command(client, {'machine_id': ' '})
    assert requests_mock.call_count == 0


def test_machine_not_found_is_a_clear_error(client, requests_mock):
    """Given an unknown machine, When get-machine-software runs, Then Microsoft's 404 message is raised."""
    requests_mock.get(f'{API}/machines/nope/software', status_code=404,
                      json={'error': {'code': 'ResourceNotFound', 'message': 'Machine nope was not found'}})
    with pytest.raises(Exception, match='Machine nope was not found'):
        m.get_machine_software_command(client, {'machine_id': 'nope'})
# Live response
# ---------------------------------------------------------------------------------------------------------------

LR_ID = '5e6f7a8b-1c2d-4e3f-9a0b-c1d2e3f4a5b6'
LR_LINK = f'{API}/machineactions/{LR_ID}/GetLiveResponseResultDownloadLink(index=0)'
SAS = 'https://store.blob.example/results/response.gz?sv=2020-08-04&sig=abc'
SCRIPT_JSON = {'script_name': 'minidump.ps1', 'exit_code': 0, 'script_output': 'dumped', 'script_errors': ''}


def live_action(status='Pending', command='GetFile', command_status=None, errors=None, **fields):
    """The live response action of test_data, with the given status and one command of the given type."""
    body = load('live_response_action.json')
    done = {'Succeeded': 'Completed', 'Failed': 'Failed', 'Cancelled': 'Cancelled'}.get(status, 'Created')
    body['commands'][0].update(commandStatus=command_status or done, errors=errors or [])
    body['commands'][0]['command']['type'] = command
    return {**body, 'status': status, **fields}


@pytest.fixture
def files(mocker, tmp_path, monkeypatch):
    """fileResult writes into the working directory."""
    monkeypatch.chdir(tmp_path)
    mocker.patch.object(demisto, 'investigation', return_value={'id': '1'})
    return tmp_path


def poll_args(result):
    return result.scheduled_command.to_results()['PollingArgs']


@pytest.mark.parametrize('command,args,body', [
    (m.live_response_get_file_command, {'path': r'C:\Temp\a.exe'},
     [{'type': 'GetFile', 'params': [{'key': 'Path', 'value': r'C:\Temp\a.exe'}]}]),
    (m.live_response_run_script_command, {'scriptName': 'minidump.ps1', 'arguments': 'OfficeClickToRun'},
     [{'type': 'RunScript', 'params': [{'key': 'ScriptName', 'value': 'minidump.ps1'},
                                       {'key': 'Args', 'value': 'OfficeClickToRun'}]}]),
    (m.live_response_run_script_command, {'scriptName': 'minidump.ps1'},
     [{'type': 'RunScript', 'params': [{'key': 'ScriptName', 'value': 'minidump.ps1'}]}]),
    (m.live_response_put_file_command, {'file_name': 'tools.zip'},
     [{'type': 'PutFile', 'params': [{'key': 'FileName', 'value': 'tools.zip'}]}]),
])
def test_live_response_request_bodies(client, requests_mock, command, args, body):
    """Given each live response command, When it starts, Then it posts Microsoft's Commands/Comment body once and
    schedules the first status check with the action ID."""
    route = requests_mock.post(f'{API}/machines/{MACHINE_ID}/runliveresponse', json=live_action())
    first = command(client, {'machine_id': MACHINE_ID, 'comment': 'why', 'interval_in_seconds': '20', **args})
    assert route.last_request.json() == {'Commands': body, 'Comment': 'why'}
    scheduled = first.scheduled_command.to_results()
    assert scheduled['NextRun'] == '20' and scheduled['PollingArgs']['machine_action_id'] == LR_ID
    assert scheduled['PollingArgs']['polling_elapsed'] == '0'
    assert int(scheduled['Timeout']) > 600           # the scheduler's timeout comes after ours


def test_live_response_get_file_polls_then_downloads_without_token(client, requests_mock, files):
    """Given a GetFile action going Pending → InProgress → Succeeded, When the rounds run, Then the last one fetches
    the result link, downloads it without the bearer token and returns the action context and the file."""
    requests_mock.post(f'{API}/machines/{MACHINE_ID}/runliveresponse', json=live_action())
    requests_mock.get(f'{API}/machineactions/{LR_ID}', [{'json': live_action('InProgress')},
                                                        {'json': live_action('Succeeded')}])
    link = requests_mock.get(LR_LINK, json={'value': SAS})
    blob = requests_mock.get(SAS, content=b'\x1f\x8bgzipped')
    first = m.live_response_get_file_command(client, {'machine_id': MACHINE_ID, 'comment': 'c', 'path': 'C:\\a'})
    second = m.live_response_get_file_command(client, poll_args(first))
    assert poll_args(second)['polling_elapsed'] == '10' and 'InProgress' in second.readable_output
    final = m.live_response_get_file_command(client, poll_args(second))
    assert link.call_count == 1 and 'Authorization' not in blob.last_request.headers
    context = context_value(final[0], 'MicrosoftATP.LiveResponseAction')
    assert context['id'] == LR_ID and context['status'] == 'Succeeded'
    assert context['commands'][0]['commandStatus'] == 'Completed' and 'errors' not in context['commands'][0]
    assert final[1]['File'] == 'Response Result.gz'
    assert (files / f"1_{final[1]['FileID']}").read_bytes() == b'\x1f\x8bgzipped'
    assert SAS not in json.dumps(final[0].to_context())


def test_live_response_run_script_parses_output(client, requests_mock, files):
    requests_mock.get(f'{API}/machineactions/{LR_ID}', json=live_action('Succeeded', 'RunScript'))
    requests_mock.get(LR_LINK, json={'value': SAS})
    requests_mock.get(SAS, json=SCRIPT_JSON)
    final = m.live_response_run_script_command(client, {'machine_action_id': LR_ID})
    context = context_value(final[0], 'MicrosoftATP.LiveResponseAction')
    assert {k: context[k] for k in SCRIPT_JSON} == SCRIPT_JSON
    assert final[1]['File'] == 'Response Result' and 'dumped' in final[0].readable_output


def test_live_response_run_script_with_unexpected_output(client, requests_mock, files):
    requests_mock.get(f'{API}/machineactions/{LR_ID}', json=live_action('Succeeded', 'RunScript'))
    requests_mock.get(LR_LINK, json={'value': SAS})
    requests_mock.get(SAS, content=b'plain text')
    final = m.live_response_run_script_command(client, {'machine_action_id': LR_ID})
    assert 'script_name' not in context_value(final[0], 'MicrosoftATP.LiveResponseAction')
    assert 'not the expected JSON' in final[0].readable_output and final[1]['File'] == 'Response Result'


def test_live_response_put_file_returns_the_action(client, requests_mock):
    requests_mock.get(f'{API}/machineactions/{LR_ID}', json=live_action('Succeeded', 'PutFile'))
    final = m.live_response_put_file_command(client, {'machine_action_id': LR_ID})
    assert isinstance(final, CommandResults) and final.outputs['status'] == 'Succeeded'
    assert requests_mock.call_count == 1


def test_live_response_without_polling_returns_the_started_action(client, requests_mock):
    requests_mock.post(f'{API}/machines/{MACHINE_ID}/runliveresponse', json=live_action())
    result = m.live_response_put_file_command(client, {'machine_id': MACHINE_ID, 'comment': 'c',
                                                       'file_name': 'tools.zip', 'polling': 'false'})
    assert result.scheduled_command is None and result.outputs['status'] == 'Pending'


def test_live_response_active_request_is_a_clear_error(client, requests_mock):
    """Given a live response already running on the machine, When another starts, Then the error says so and
    how to get out of it, without Microsoft's raw text."""
    requests_mock.post(f'{API}/machines/{MACHINE_ID}/runliveresponse', status_code=400, json={
        'error': {'code': 'ActiveRequestAlreadyExists', 'message': 'Action is already in progress'}})
    with pytest.raises(DemistoException, match='already running on machine') as raised:
        m.live_response_get_file_command(client, {'machine_id': MACHINE_ID, 'comment': 'c', 'path': 'C:\\a'})
    assert 'live-response-cancel-action' in str(raised.value)


@pytest.mark.parametrize('status,body,match', [
    (400, {'error': {'code': 'InvalidRequestBody', 'message': 'Comment is required'}}, 'Comment is required'),
    (404, {'error': {'code': 'ResourceNotFound', 'message': 'Machine x was not found'}}, 'was not found in Defender'),
])
def test_live_response_other_start_errors(client, requests_mock, status, body, match):
    requests_mock.post(f'{API}/machines/{MACHINE_ID}/runliveresponse', status_code=status, json=body)
    with pytest.raises(DemistoException, match=match):
        m.live_response_put_file_command(client, {'machine_id': MACHINE_ID, 'comment': 'c', 'file_name': 'f'})


@pytest.mark.parametrize('args,name', [
    ({'comment': 'c', 'path': 'p'}, 'machine_id'), ({'machine_id': 'm', 'path': 'p'}, 'comment'),
    ({'machine_id': 'm', 'comment': 'c'}, 'path'),
    ({'machine_id': 'm', 'comment': 'c', 'path': 'p', 'timeout_in_seconds': 'soon'}, 'timeout_in_seconds'),
    ({'machine_id': 'm', 'comment': 'c', 'path': 'p', 'polling': 'maybe'}, 'polling'),
])
def test_live_response_bad_input_before_any_call(client, requests_mock, args, name):
    with pytest.raises(ValueError, match=f'"{name}"'):
        m.live_response_get_file_command(client, args)
    assert requests_mock.call_count == 0


def test_live_response_throttled_start_and_poll_reschedule(client, requests_mock, mocker):
    """Given long Retry-After answers, When starting and when polling, Then both rounds reschedule (the start
    without an action ID, the poll counting the wait)."""
    mocker.patch('time.sleep')
    throttled = {'status_code': 429, 'headers': {'Retry-After': '90'},
                 'json': {'error': {'code': 'TooManyRequests', 'message': 'slow'}}}
    requests_mock.post(f'{API}/machines/{MACHINE_ID}/runliveresponse', **throttled)
    start = m.live_response_get_file_command(client, {'machine_id': MACHINE_ID, 'comment': 'c', 'path': 'C:\\a'})
    assert start.scheduled_command.to_results()['NextRun'] == '90' and 'machine_action_id' not in poll_args(start)
    requests_mock.get(f'{API}/machineactions/{LR_ID}', **throttled)
    poll = m.live_response_get_file_command(client, {'machine_action_id': LR_ID, 'polling_elapsed': '20'})
    assert poll.scheduled_command.to_results()['NextRun'] == '90' and poll_args(poll)['polling_elapsed'] == '110'



def test_live_response_throttling_counts_towards_the_timeout(client, requests_mock, mocker):
    """Given Microsoft throttling every request, When the waits add up past timeout_in_seconds, Then the start and the
    status reads end with a clear error instead of rescheduling for ever; a start says it will run again."""
    mocker.patch('time.sleep')
    throttled = {'status_code': 429, 'headers': {'Retry-After': '90'},
                 'json': {'error': {'code': 'TooManyRequests', 'message': 'slow'}}}
    requests_mock.post(f'{API}/machines/{MACHINE_ID}/runliveresponse', **throttled)
    args = {'machine_id': MACHINE_ID, 'comment': 'c', 'path': 'C:\a', 'timeout_in_seconds': '120'}
    first = m.live_response_get_file_command(client, args)
    assert 'will run again automatically' in first.readable_output and poll_args(first)['polling_elapsed'] == '90'
    with pytest.raises(m.RetryAfterError):
        m.live_response_get_file_command(client, args | {'polling_elapsed': '300'})
    requests_mock.get(f'{API}/machineactions/{LR_ID}', **throttled)
    with pytest.raises(DemistoException, match='kept throttling'):
        m.live_response_get_file_command(client, {'machine_action_id': LR_ID, 'polling_elapsed': '700'})

@pytest.mark.parametrize('action_body,match', [
    (live_action('Cancelled', cancellationRequestor='lead@fabrikam.com', cancellationComment='wrong host'),
     'was cancelled by lead@fabrikam.com: "wrong host"'),
    (live_action('Failed', errors=['Access is denied.']), r'failed\. command 0 \(GetFile\) failed: Access is denied\.'),
    (live_action('Failed', command_status='Created', errorHResult=-2147467259), 'errorHResult -2147467259'),
    (live_action('TimeOut', command_status='InProgress'), 'timed out on the device'),
    (live_action('InProgress', command_status='Failed', errors=['Disk full']), 'Disk full'),
])
def test_live_response_failures_are_clear_errors(client, requests_mock, action_body, match):
    requests_mock.get(f'{API}/machineactions/{LR_ID}', json=action_body)
    with pytest.raises(DemistoException, match=match):
        m.live_response_get_file_command(client, {'machine_action_id': LR_ID})


def test_live_response_poll_timeout_names_the_action(client, requests_mock):
    """Given an action still running when the next wait would pass the timeout, When polling, Then a clear error
    names the action and the commands to get its result later or cancel it."""
    requests_mock.get(f'{API}/machineactions/{LR_ID}', json=live_action('InProgress'))
    args = {'machine_action_id': LR_ID, 'polling_elapsed': '30', 'timeout_in_seconds': '30'}
    with pytest.raises(DemistoException, match='still InProgress after 30 seconds') as raised:
        m.live_response_get_file_command(client, args)
    assert f'live-response-result machine_action_id={LR_ID}' in str(raised.value)
    assert m.live_response_get_file_command(client, {**args, 'polling_elapsed': '20'}).scheduled_command


def test_live_response_result_downloads_gzip_and_script_output(client, requests_mock, files):
    requests_mock.get(LR_LINK, json={'value': SAS})
    requests_mock.get(SAS, [{'content': b'\x1f\x8bdata'}, {'json': SCRIPT_JSON}])
    gz = m.live_response_result_command(client, {'machine_action_id': LR_ID})
    assert gz[0].outputs == {'MachineActionID': LR_ID, 'CommandIndex': 0, 'FileName': 'Response Result.gz'}
    script = m.live_response_result_command(client, {'machine_action_id': LR_ID, 'command_index': '0'})
    assert script[0].outputs['exit_code'] == 0 and script[1]['File'] == 'Response Result'
    assert 'Authorization' not in requests_mock.last_request.headers


@pytest.mark.parametrize('action_response,match', [
    ({'status_code': 404, 'json': {'error': {'code': 'ResourceNotFound', 'message': 'no'}}},
     f'Machine action {LR_ID} was not found'),
    ({'json': live_action('InProgress', command_status='InProgress')}, 'is InProgress: its result is not available'),
    ({'json': live_action('Failed', errors=['Access is denied.'])}, 'Access is denied.'),
])
def test_live_response_result_explains_a_missing_result(client, requests_mock, action_response, match):
    requests_mock.get(LR_LINK, status_code=404, json={'error': {'code': 'ResourceNotFound', 'message': 'x'}})
    requests_mock.get(f'{API}/machineactions/{LR_ID}', **action_response)
    with pytest.raises(DemistoException, match=match):
        m.live_response_result_command(client, {'machine_action_id': LR_ID})


def test_live_response_result_bad_index(client, requests_mock):
    with pytest.raises(ValueError, match='"command_index"'):
        m.live_response_result_command(client, {'machine_action_id': LR_ID, 'command_index': '-1'})
    assert requests_mock.call_count == 0


def test_live_response_download_failure(client, requests_mock):
    requests_mock.get(LR_LINK, json={'value': SAS})
    requests_mock.get(SAS, status_code=403, text='<Error><Code>AuthenticationFailed</Code></Error>')
    with pytest.raises(DemistoException, match='failed with HTTP 403') as raised:
        m.live_response_result_command(client, {'machine_action_id': LR_ID})
    assert 'sig=' not in str(raised.value)
    requests_mock.get(SAS, exc=m.requests.exceptions.ConnectionError(f'Max retries exceeded with url: {SAS}'))
    with pytest.raises(DemistoException, match=r'failed \(ConnectionError\)') as raised:
        m.live_response_result_command(client, {'machine_action_id': LR_ID})
    assert 'sig=' not in str(raised.value) and raised.value.__cause__ is None


def test_live_response_cancel_action(client, requests_mock):
    route = requests_mock.post(f'{API}/machineactions/{LR_ID}/cancel', json=live_action(
        'Cancelled', cancellationRequestor='me', cancellationComment='stop'))
    result = m.live_response_cancel_action_command(client, {'machine_action_id': LR_ID, 'comment': 'stop'})
    assert route.last_request.json() == {'Comment': 'stop'} and 'was cancelled' in result.readable_output
    assert result.outputs is None
    requests_mock.post(f'{API}/machineactions/nope/cancel', status_code=404,
                       json={'error': {'code': 'ResourceNotFound', 'message': 'Machine action nope was not found'}})
    with pytest.raises(DemistoException, match='nothing to cancel'):
        m.live_response_cancel_action_command(client, {'machine_action_id': 'nope', 'comment': 'stop'})


def test_live_response_helpers():
    assert m.api_error_code(DemistoException('no response')) == ''
    assert m.result_file_name(b'\x1f\x8b...') == 'Response Result.gz'
    assert m.result_file_name(json.dumps(SCRIPT_JSON).encode()) == 'Response Result'
    assert m.result_file_name(b'[1, 2]') == 'Response Result'
    two = {'commands': [{'index': 0, 'command': {'type': 'PutFile'}}, {'index': 1, 'command': {'type': 'RunScript'}}]}
    assert m.command_index(two, 'RunScript') == 1 and m.command_index(two, 'GetFile') == 0
    assert m.live_failure(live_action('Succeeded')) is None
# Alerts and legacy Graph tiIndicators
# ---------------------------------------------------------------------------------------------------------------

ALERT_ID = 'da637000000000000001_123456'
TI_URL = 'https://graph.microsoft.com/beta/security/tiIndicators'


def test_alert_context_maps_official_names():
    """Given a Microsoft alert, When it is mapped, Then the official PascalCase names hold its values."""
    row = m.alert_context(load('alert_full.json'))
    assert row['ID'] == ALERT_ID and row['IncidentID'] == 42 and row['MachineID'] == MACHINE_ID
    assert row['RelatedUser'] == {'userName': 'user1', 'domainName': 'CONTOSO', 'UserName': 'user1', 'DomainName': 'CONTOSO'}
    assert row['Comments'] == [{'Comment': 'Looking', 'CreatedBy': 'analyst@contoso.com',
                                'CreatedTime': '2024-05-01T10:01:00Z'}]
    assert 'Classification' not in row and 'Evidence' not in row


def test_list_alerts_builds_filter(client, requests_mock):
    """Given severity, status, category and a period, When alerts are listed, Then all four are ANDed and escaped."""
    route = requests_mock.get(f'{API}/alerts', json={'value': [load('alert_full.json')]})
    result = m.list_alerts_command(client, {'severity': 'high', 'status': 'New', 'category': "O'Brien",
                                            'creation_time': '2 days', 'limit': '5'})
    query = query_of(route.last_request)
    assert query['$top'] == '5' and query['$expand'] == 'evidence'          # the official lists them with evidence
    assert query['$filter'].startswith("severity eq 'High' and status eq 'New' and category eq 'O''Brien' and "
                                       'alertCreationTime ge ')
    assert context_value(result, 'MicrosoftATP.Alert')['ID'] == ALERT_ID


def test_list_alerts_without_filters(client, requests_mock):
    route = requests_mock.get(f'{API}/alerts', json={'value': []})
    m.list_alerts_command(client, {})
    assert '$filter' not in query_of(route.last_request) and query_of(route.last_request)['$top'] == '50'


@pytest.mark.parametrize('args,message', [
    ({'severity': 'Critical'}, '"severity"'), ({'status': 'Closed'}, '"status"'),
    ({'creation_time': 'yesterday'}, '"creation_time"'), ({'limit': '0'}, '"limit"')])
def test_list_alerts_refuses_bad_arguments(client, requests_mock, args, message):
    with pytest.raises(ValueError, match=message):
        m.list_alerts_command(client, args)
    assert requests_mock.call_count == 0


def test_update_alert_sends_one_patch(client, requests_mock):
    """Given every field, When the alert is updated, Then one PATCH carries all changes and the comment."""
    route = requests_mock.patch(f'{API}/alerts/{ALERT_ID}', json=load('alert_full.json'))
    result = m.update_alert_command(client, {'alert_id': ALERT_ID, 'status': 'resolved', 'assigned_to': 'a@b.com',
                                             'classification': 'TruePositive', 'determination': 'malware',
                                             'comment': 'done'})
    assert route.call_count == 1
    assert route.last_request.json() == {'status': 'Resolved', 'assignedTo': 'a@b.com',
                                         'classification': 'TruePositive', 'determination': 'Malware',
                                         'comment': 'done'}
    assert context_value(result, 'MicrosoftATP.Alert')['ID'] == ALERT_ID


@pytest.mark.parametrize('args,message', [
    ({}, 'Nothing to update'), ({'comment': '  '}, 'Nothing to update'),
    ({'status': 'Done'}, '"status"'), ({'classification': 'Benign'}, '"classification"'),
    ({'determination': 'Apt2', 'comment': 'x'}, '"determination"')])
def test_update_alert_validates_before_calling(client, requests_mock, args, message):
    """Given nothing to change or a bad value, When the update runs, Then nothing is sent."""
    with pytest.raises(ValueError, match=message):
        m.update_alert_command(client, {'alert_id': ALERT_ID, **args})
    assert requests_mock.call_count == 0


def test_create_alert_body(client, requests_mock):
    route = requests_mock.post(f'{API}/alerts/CreateAlertByReference', json=load('alert_full.json'))
    args = {'machine_id': MACHINE_ID, 'severity': 'high', 'title': 't', 'description': 'd', 'recommended_action': 'r',
            'event_time': '2024-05-01T09:58:00Z', 'report_id': '1234', 'category': 'malware'}
    result = m.create_alert_command(client, args)
    assert route.last_request.json() == {'machineId': MACHINE_ID, 'severity': 'High', 'title': 't', 'description': 'd',
                                         'recommendedAction': 'r', 'eventTime': '2024-05-01T09:58:00.000000Z',
                                         'reportId': '1234', 'category': 'Malware'}
    assert context_value(result, 'MicrosoftATP.Alert')['Title'] == 'Suspicious PowerShell'


@pytest.mark.parametrize('change,message', [({'severity': 'Informational'}, '"severity"'),
                                            ({'category': 'Nope'}, '"category"'), ({'report_id': ''}, '"report_id"'),
                                            ({'event_time': 'not a time'}, 'event_time')])
def test_create_alert_refuses_bad_arguments(client, requests_mock, change, message):
    args = {'machine_id': MACHINE_ID, 'severity': 'High', 'title': 't', 'description': 'd', 'recommended_action': 'r',
            'event_time': '2024-05-01T09:58:00Z', 'report_id': '1', 'category': 'Malware', **change}
    with pytest.raises((ValueError, DemistoException), match=message):
        m.create_alert_command(client, args)
    assert requests_mock.call_count == 0


def test_get_alert_by_id_reports_failures_per_alert(client, requests_mock):
    """Given one known and one unknown ID, When both are read, Then the alert is output and the miss reported."""
    requests_mock.get(f'{API}/alerts/{ALERT_ID}', json=load('alert_full.json'))
    requests_mock.get(f'{API}/alerts/nope', status_code=404,
                      json={'error': {'code': 'ResourceNotFound', 'message': 'Alert nope was not found'}})
    result, error = m.get_alert_by_id_command(client, {'alert_ids': f'{ALERT_ID},nope'})
    assert context_value(result, 'MicrosoftATP.Alert')['ID'] == ALERT_ID
    assert error['Type'] == EntryType.ERROR and 'nope' in error['Contents']
    with pytest.raises(DemistoException, match='Failed for 1 alert'):
        m.get_alert_by_id_command(client, {'alert_ids': 'nope'})


def test_alert_related_user(client, requests_mock):
    requests_mock.get(f'{API}/alerts/{ALERT_ID}/user', json=load('alert_entities.json')['user'])
    out = context_value(m.get_alert_related_user_command(client, {'id': ALERT_ID}), 'MicrosoftATP.AlertUser')
    assert out['AlertID'] == ALERT_ID
    assert out['User'] == {'ID': 'contoso\\user1', 'AccountName': 'user1', 'AccountDomain': 'contoso',
                           'AccountSID': 'S-1-5-21-1', 'FirstSeen': '2024-01-01T00:00:00Z',
                           'LastSeen': '2024-05-01T00:00:00Z', 'MostPrevalentMachineID': 'm1',
                           'LeastPrevalentMachineID': 'm2', 'LogonTypes': 'Network', 'LogonCount': 3,
                           'DomainAdmin': False, 'NetworkUser': True}


def test_alert_related_files_window(client, requests_mock):
    """Given two files, When offset 1 is asked, Then only the second is output."""
    requests_mock.get(f'{API}/alerts/{ALERT_ID}/files', json={'value': load('alert_entities.json')['files']})
    out = context_value(m.get_alert_related_files_command(client, {'id': ALERT_ID, 'limit': '1', 'offset': '1'}),
                        'MicrosoftATP.AlertFile')
    assert out['Files'] == [{'Sha1': 'd' * 40, 'Size': 10, 'SizeInBytes': 10}]
    out = context_value(m.get_alert_related_files_command(client, {'id': ALERT_ID}), 'MicrosoftATP.AlertFile')
    assert out['Files'][0]['GlobalPrevalence'] == '1200' and len(out['Files']) == 2     # as sent


def test_alert_related_ips_and_domains(client, requests_mock):
    entities = load('alert_entities.json')
    requests_mock.get(f'{API}/alerts/{ALERT_ID}/ips', json={'value': entities['ips']})
    requests_mock.get(f'{API}/alerts/{ALERT_ID}/domains', json={'value': entities['domains']})
    ips = context_value(m.get_alert_related_ips_command(client, {'id': ALERT_ID}), 'MicrosoftATP.AlertIP')
    assert ips == {'AlertID': ALERT_ID, 'IPs': ['198.51.100.7', '203.0.113.9']}      # strings, as the official
    domains = context_value(m.get_alert_related_domains_command(client, {'id': ALERT_ID, 'limit': '1'}),
                            'MicrosoftATP.AlertDomain')
    assert domains == {'AlertID': ALERT_ID, 'Domains': ['bad.example']}


def test_alert_id_cannot_change_the_path(client, requests_mock):
    requests_mock.get(f'{API}/alerts/a%2F..%2Fmachines/user', json={})
    m.get_alert_related_user_command(client, {'id': 'a/../machines'})
    assert requests_mock.last_request.path == '/api/alerts/a%2f..%2fmachines/user'


@pytest.mark.parametrize('command,args,path,prefix,key,value', [
    (m.get_domain_alerts_command, {'domain': 'bad.example'}, 'domains/bad.example', 'DomainAlert', 'Domain',
     'bad.example'),
    (m.get_file_alerts_command, {'file_hash': SHA1.upper()}, f'files/{SHA1}', 'FileAlert', 'Sha1', SHA1),
    (m.get_ip_alerts_command, {'ip': '10.0.0.1'}, 'ips/10.0.0.1', 'IPAlert', 'IPAddress', '10.0.0.1'),
    (m.get_user_alerts_command, {'username': 'user1'}, 'users/user1', 'UserAlert', 'Username', 'user1')])
def test_entity_alerts(client, requests_mock, command, args, path, prefix, key, value):
    """Given an entity, When its alerts are read, Then the entity and the alerts are output together."""
    requests_mock.get(f'{API}/{path}/alerts', json={'value': [load('alert_full.json')]})
    out = context_value(command(client, args), f'MicrosoftATP.{prefix}')
    assert out[key] == value and out['Alerts'][0]['ID'] == ALERT_ID


@pytest.mark.parametrize('command,args,message', [
    (m.get_file_alerts_command, {'file_hash': 'a' * 64}, 'file_hash'), (m.get_ip_alerts_command, {'ip': 'x'}, '"ip"'),
    (m.get_user_alerts_command, {'username': 'user1@contoso.com'}, '"username"'),
    (m.get_domain_alerts_command, {}, '"domain"')])
def test_entity_alerts_refuse_bad_values(client, requests_mock, command, args, message):
    with pytest.raises(ValueError, match=message):
        command(client, args)
    assert requests_mock.call_count == 0


def test_machine_alerts(client, requests_mock):
    requests_mock.get(f'{API}/machines/{MACHINE_ID}/alerts', json={'value': [load('alert_full.json')]})
    result = m.get_machine_alerts_command(client, {'machine_id': MACHINE_ID})
    assert context_value(result, 'MicrosoftATP.MachineAlerts')['MachineID'] == MACHINE_ID


def test_graph_ti_target_per_cloud_and_flow():
    """Given clouds and flows, When the tiIndicators target is chosen, Then host and scope follow Graph's tables."""
    assert m.graph_ti_target(PARAMS, 'client_credentials') == (TI_URL, 'https://graph.microsoft.com/.default')
    assert m.graph_ti_target({'endpoint_type': 'US GCC-High'}, 'client_credentials') == (
        'https://graph.microsoft.us/beta/security/tiIndicators', 'https://graph.microsoft.us/.default')
    url, scope = m.graph_ti_target({'endpoint_type': 'Custom', 'url': 'https://gw.example:8443/mde/'}, 'oproxy')
    assert (url, scope) == ('https://gw.example:8443/beta/security/tiIndicators', 'graph')


def test_indicator_list_filters_product_and_pages(client, requests_mock):
    """Given two pages with a Sentinel indicator, When listing, Then only Defender ones are kept across pages."""
    token = m.TokenProvider.get_token
    item = load('ti_indicator.json')
    second = f'{TI_URL}?$top=2&$skip=2'
    requests_mock.get(TI_URL, [
        {'json': {'value': [item, {**item, 'id': 'ti-2', 'targetProduct': 'Azure Sentinel'}],
                  '@odata.nextLink': second}},
        {'json': {'value': [{**item, 'id': 'ti-3'}]}}])
    results = m.indicator_list_command(client, {'limit': '5', 'page_size': '2'})
    rows = results[0].outputs
    assert [r['id'] for r in rows] == ['ti-1', 'ti-3'] and 'confidence' not in rows[0]
    assert requests_mock.request_history[0].qs == {'$top': ['2']}
    assert token.call_args[0][0] == 'https://graph.microsoft.com/.default'
    assert results[1].indicator.sha1 == 'a' * 40


def test_indicator_list_stops_at_limit_and_refuses_foreign_links(client, requests_mock):
    item = load('ti_indicator.json')
    requests_mock.get(TI_URL, json={'value': [item, {**item, 'id': 'ti-2'}], '@odata.nextLink': f'{TI_URL}?$skip=2'})
    assert [r['id'] for r in m.indicator_list_command(client, {'limit': '1'})[0].outputs] == ['ti-1']
    requests_mock.get(TI_URL, json={'value': [], '@odata.nextLink': 'https://evil.example/steal'})
    with pytest.raises(DemistoException, match='another origin'):
        m.indicator_list_command(client, {})
    requests_mock.get(TI_URL, json={'value': []})
    assert m.indicator_list_command(client, {})[0].readable_output == 'No indicators were found.'


def test_indicator_get_by_id(client, requests_mock):
    requests_mock.get(f'{TI_URL}/ti-1', json={**load('ti_indicator.json'), '@odata.context': 'x'})
    results = m.indicator_get_by_id_command(client, {'indicator_id': 'ti-1'})
    assert '@odata.context' not in results[0].outputs[0]
    assert results[1].indicator.dbot_score.score == m.Common.DBotScore.NONE


def test_indicator_create_file_body(client, requests_mock):
    """Given file arguments, When the indicator is created, Then Graph gets its required fields and severity as 0-5."""
    route = requests_mock.post(TI_URL, json=load('ti_indicator.json'), status_code=201)
    m.indicator_create_file_command(client, {
        'action': 'Block', 'description': 'd', 'threat_type': 'malware', 'expiration_time': '2031-01-01T00:00:00Z',
        'file_hash_type': 'sha1', 'file_hash_value': 'A' * 40, 'file_name': 'x.exe', 'severity': 'High',
        'confidence': '90', 'tags': 'a,b', 'file_size': '12', 'file_created_date_time': '2024-01-02T03:04:05Z'})
    assert route.last_request.json() == {
        'action': 'block', 'description': 'd', 'expirationDateTime': '2031-01-01T00:00:00Z', 'threatType': 'Malware',
        'tlpLevel': 'unknown', 'targetProduct': 'Microsoft Defender ATP', 'severity': 4, 'confidence': 90,
        'tags': ['a', 'b'], 'fileHashType': 'sha1', 'fileHashValue': 'a' * 40, 'fileName': 'x.exe', 'fileSize': 12,
        'fileCreatedDateTime': '2024-01-02T03:04:05Z'}


@pytest.mark.parametrize('args,message', [
    ({}, 'needs an observable'), ({'file_hash_value': 'abc', 'file_hash_type': 'sha1'}, 'file_hash_value'),
    ({'file_hash_value': 'a' * 40}, 'file_hash_type'), ({'file_name': 'x', 'description': 'd' * 101}, 'at most 100'),
    ({'file_name': 'x', 'action': 'quarantine'}, '"action"'), ({'file_name': 'x', 'confidence': '101'}, 'confidence'),
    ({'file_name': 'x', 'severity': 'Critical'}, '"severity"'), ({'file_name': 'x', 'tlp_level': 'blue'}, 'tlp_level')])
def test_indicator_create_file_refuses_bad_input(client, requests_mock, args, message):
    base = {'action': 'block', 'description': 'd', 'threat_type': 'Malware'}
    with pytest.raises(ValueError, match=message):
        m.indicator_create_file_command(client, {**base, **args})
    assert requests_mock.call_count == 0


def test_indicator_create_network_body(client, requests_mock):
    route = requests_mock.post(TI_URL, json={**load('ti_indicator.json'), 'fileHashValue': None,
                                             'networkIPv4': '198.51.100.7'}, status_code=201)
    results = m.indicator_create_network_command(client, {
        'action': 'alert', 'description': 'd', 'threat_type': 'C2', 'network_destination_ipv4': '198.51.100.7',
        'network_destination_port': '443', 'network_cidr_block': '10.0.0.5/24', 'domain_name': 'bad.example'})
    body = route.last_request.json()
    assert body['networkDestinationIPv4'] == '198.51.100.7' and body['networkDestinationPort'] == 443
    assert body['networkCidrBlock'] == '10.0.0.0/24' and body['domainName'] == 'bad.example'
    assert body['severity'] == 3 and body['expirationDateTime'] > '2025'
    assert results[1].indicator.ip == '198.51.100.7'


@pytest.mark.parametrize('args,message', [
    ({}, 'needs an observable'), ({'network_ipv4': '::1'}, 'network_ipv4'), ({'network_ipv6': '1.2.3.4'}, 'IPv6'),
    ({'network_cidr_block': 'x/99'}, 'network_cidr_block'), ({'url': 'u', 'network_port': '70000'}, 'network_port')])
def test_indicator_create_network_refuses_bad_input(client, requests_mock, args, message):
    with pytest.raises(ValueError, match=message):
        m.indicator_create_network_command(client, {'action': 'block', 'description': 'd', 'threat_type': 'C2', **args})
    assert requests_mock.call_count == 0


def test_indicator_update_asks_for_representation(client, requests_mock):
    route = requests_mock.patch(f'{TI_URL}/ti-1', json=load('ti_indicator.json'))
    m.indicator_update_command(client, {'indicator_id': 'ti-1', 'expiration_time': '2031-01-01T00:00:00Z',
                                        'severity': 'Low'})
    assert route.last_request.headers['Prefer'] == 'return=representation'
    assert route.last_request.json() == {'expirationDateTime': '2031-01-01T00:00:00Z', 'severity': 1}
    with pytest.raises(ValueError, match='"expiration_time"'):
        m.indicator_update_command(client, {'indicator_id': 'ti-1'})


def test_indicator_delete(client, requests_mock):
    route = requests_mock.delete(f'{TI_URL}/ti-1', status_code=204)
    assert m.indicator_delete_command(client, {'indicator_id': 'ti-1'}).readable_output == 'Indicator ti-1 was deleted.'
    assert route.call_count == 1


@pytest.mark.parametrize('item,kind,value', [
    ({'action': 'allow', 'domainName': 'd.example'}, 'Domain', 'd.example'),
    ({'action': 'alert', 'url': 'https://u.example/x'}, 'URL', 'https://u.example/x'),
    ({'action': 'block', 'networkSourceIPv6': '2001:db8::1'}, 'IP', '2001:db8::1'),
    ({'action': 'block', 'fileHashType': 'lsHash', 'fileHashValue': 'x'}, None, None)])
def test_ti_standard_indicator(item, kind, value):
    indicator = m.ti_standard_indicator(item)
    if kind is None:
        assert indicator is None
    else:
        assert type(indicator).__name__ == kind
        assert value in (getattr(indicator, 'domain', None), getattr(indicator, 'url', None),
                         getattr(indicator, 'ip', None))


def test_indicator_update_reads_back_when_graph_sends_no_body(client, requests_mock):
    """Given a Graph that ignores the Prefer header (204), When an indicator is updated, Then it is read back once."""
    requests_mock.patch(f'{TI_URL}/ti-1', status_code=204)
    read = requests_mock.get(f'{TI_URL}/ti-1', json=load('ti_indicator.json'))
    results = m.indicator_update_command(client, {'indicator_id': 'ti-1', 'expiration_time': '3 days'})
    assert read.call_count == 1 and results[0].outputs[0]['id'] == 'ti-1'


def test_get_alert_by_id_lets_throttling_reschedule(client, requests_mock, mocker):
    """Given a long Retry-After, When alerts are read, Then the command is rescheduled instead of reporting misses."""
    mocker.patch('time.sleep')
    requests_mock.get(f'{API}/alerts/{ALERT_ID}', status_code=429, headers={'Retry-After': '120'},
                      json={'error': {'code': 'TooManyRequests', 'message': 'slow down'}})
    result = m.run_command(client, 'microsoft-atp-get-alert-by-id', {'alert_ids': ALERT_ID})
    assert result.scheduled_command.to_results()['NextRun'] == '120'


def test_update_alert_accepts_the_older_values_playbooks_send(client, requests_mock):
    """Given the older classification/determination values of the official pack (Unknown, NotAvailable),
    When update-alert runs, Then they are sent as given rather than refused."""
    requests_mock.patch(f'{API}/alerts/a1', json={'id': 'a1', 'classification': 'Unknown',
                                                   'determination': 'NotAvailable'})
    m.update_alert_command(client, {'alert_id': 'a1', 'classification': 'Unknown', 'determination': 'NotAvailable'})
    assert requests_mock.last_request.json() == {'classification': 'Unknown', 'determination': 'NotAvailable'}


# ---------------------------------------------------------------------------------------------------------------
# Arguments of the official interface (drop-in parity: Tests/compat)
# ---------------------------------------------------------------------------------------------------------------

def test_advanced_hunting_name_writes_rows_under_the_name(legacy, requests_mock):
    """Given a query and a name, When advanced hunting runs, Then the rows are written under
    MicrosoftATP.Hunt.Result.<name>, as the official integration does."""
    requests_mock.post(f'{API}/advancedqueries/run', json=load('hunting_response.json'))
    result = m.advanced_hunting_command(legacy, {'query': 'DeviceInfo', 'name': 'devices'})
    context = result.to_context()['EntryContext']
    assert context['MicrosoftATP.Hunt.Result'] == {'devices': load('hunting_response.json')['Results']}
    assert 'Hunt results: devices' in result.readable_output


@pytest.mark.parametrize('args, match', [
    ({'query': 'A', 'name': 'a.b'}, 'Invalid "name"'),
    ({'query': 'A', 'name': 'x' * 101}, 'Invalid "name"'),
    ({'query_batch': '[{"query": "q", "name": "n"}]', 'name': 'n'}, 'each query has its own "name"'),
])
def test_advanced_hunting_name_bad_input(client, args, match):
    """Given a name that cannot be a context key, or a name with query_batch, Then the error names "name"."""
    with pytest.raises(ValueError, match=match):
        m.advanced_hunting_command(client, args)


def test_list_machine_actions_raw_filters_replace_the_other_filters(client, requests_mock):
    """Given filters (the official's raw OData $filter), When machine actions are listed, Then $filter is exactly
    that text and the per-argument filters are not added."""
    route = requests_mock.get(f'{API}/machineactions', json={'value': [action()]})
    raw = "status eq 'Failed' and type eq 'Isolate'"
    result = m.list_machine_actions_details_command(client, {'filters': raw, 'status': 'Succeeded', 'limit': '3'})
    assert query_of(route.last_request) == {'$filter': raw, '$top': '3'}
    assert result.outputs[0]['ID'] == 'act-1'


def test_list_machine_actions_id_wins_over_filters(client, requests_mock):
    """Given an action ID and filters, Then the action is read by its ID (filters are for listing)."""
    requests_mock.get(f'{API}/machineactions/act-1', json=action())
    assert m.list_machine_actions_details_command(client, {'id': 'act-1', 'filters': 'x'}).outputs[0]['ID'] == 'act-1'


def test_start_investigation_timeout_bounds_the_request(client, mocker):
    """Given timeout, When an investigation starts, Then the request is made with that timeout (default 50 s)."""
    request = mocker.patch.object(client.http, 'http_request', return_value={'id': '1', 'investigationState': 'Running'})
    m.start_investigation_command(client, {'machine_id': MACHINE_ID, 'comment': 'go', 'timeout': '5'})
    assert request.call_args.kwargs['timeout'] == 5
    m.start_investigation_command(client, {'machine_id': MACHINE_ID, 'comment': 'go'})
    assert request.call_args.kwargs['timeout'] == 50
    with pytest.raises(ValueError, match='Invalid "timeout"'):
        m.start_investigation_command(client, {'machine_id': MACHINE_ID, 'comment': 'go', 'timeout': '0'})


def test_smb_connections_threshold_only_when_given():
    """Given no remote_ip_count, Then every process is reported (no RemoteIPCount threshold, as the official);
    given one, Then the rows are limited to processes reaching it."""
    _, plain = m.build_hunting_query('lateral-movement-evidence', {'query_purpose': 'smb_connections',
                                                                   'device_name': 'pc1'})
    assert 'RemoteIPCount = dcount(RemoteIP)' in plain and 'where RemoteIPCount' not in plain
    _, limited = m.build_hunting_query('lateral-movement-evidence', {'query_purpose': 'smb_connections',
                                                                     'device_name': 'pc1', 'remote_ip_count': '5'})
    assert '| where RemoteIPCount >= 5' in limited


def test_ran_once_flag_is_accepted_and_ignored(client, requests_mock):
    """Given the official's deprecated ran_once_flag, When a command runs, Then it makes no difference."""
    route = requests_mock.get(f'{API}/machineactions', json={'value': [action()]})
    m.list_machine_actions_details_command(client, {'limit': '1', 'ran_once_flag': 'true'})
    assert query_of(route.last_request) == {'$top': '1'}
# ---- value parity with the official integration -------------------------------------------------------------------

def test_machine_os_version_is_the_api_version():
    """machine.json is Microsoft's documented machine: OSVersion is `version` (1709), as the official writes it."""
    machine = load('machine.json')
    context = m.machine_context({**machine, 'osVersion': 'Ubuntu 22.04'})
    assert context['OSVersion'] == '1709'
    assert context['IsAADJoined'] is True
    assert context['IPAddresses'][0] == {'ipAddress': '172.17.230.209', 'macAddress': '00306B23C1E8',
                                         'type': 'Ethernet', 'operationalStatus': 'Up'}


def test_machine_outputs_of_every_machine_command_use_version(client, requests_mock):
    machine = {**load('machine.json'), 'osVersion': 'other'}
    requests_mock.get(f'{API}/files/{SHA1}/machines', json={'value': [machine]})
    requests_mock.get(f'{API}/domains/contoso.com/machines', json={'value': [machine]})
    requests_mock.get(f'{API}/users/alex/machines', json={'value': [machine]})
    file_result = m.get_file_related_machines_command(client, {'file_hash': SHA1})
    domain_result = m.get_domain_machines_command(client, {'domain': 'contoso.com'})
    user_result = m.get_user_machines_command(client, {'username': 'alex'})
    assert file_result.outputs[0]['Machines'][0]['OSVersion'] == '1709'
    assert domain_result.outputs['Machines'][0]['OSVersion'] == '1709'
    assert user_result.outputs['Machines'][0]['OSVersion'] == '1709'


@pytest.mark.parametrize('health, status', [('Active', 'Online'), ('Inactive', 'Offline'),
                                            ('ImpairedCommunication', 'Online'), ('NoSensorData', 'Online'),
                                            ('Unknown', None)])
def test_endpoint_like_the_official(client, requests_mock, health, status):
    requests_mock.get(f'{API}/machines', json={'value': [{**load('machine.json'), 'healthStatus': health}]})
    [result] = m.endpoint_command(client, {'hostname': 'mymachine1.contoso.com'})
    endpoint = result.indicator.to_context()[m.Common.Endpoint.CONTEXT_PATH]
    assert endpoint['OSVersion'] == '1709 x64 bit'
    assert endpoint['MACAddress'] == '00306B23C1E8'             # the interface that holds lastIpAddress
    assert endpoint['Vendor'] == 'Microsoft Defender ATP'
    assert endpoint.get('Status') == status
    assert 'IsIsolated' not in endpoint                          # the machine resource does not tell
    assert result.outputs['MACAddress'] == '00306B23C1E8'


def test_file_statistics_documented_example(client, requests_mock):
    body = load('file_stats_docs.json')
    requests_mock.get(f'{API}/files/{body["sha1"]}/stats', json=body)
    result = m.get_file_statistics_command(client, {'file_hash': body['sha1']})
    assert result.outputs == {'Sha1': body['sha1'], 'Statistics': {
        'OrganizationPrevalence': 14850, 'OrgFirstSeen': '2019-12-07T13:44:16Z', 'OrgLastSeen': '2020-01-06T13:39:36Z',
        'GloballyPrevalence': 705012, 'GlobalFirstObserved': '2015-03-19T12:20:07.3432441Z',
        'GlobalLastObserved': '2020-01-06T13:39:36Z', 'TopFileNames': ['MREC.exe']}}
    file = result.indicator.to_context()[m.Common.File.CONTEXT_PATH]
    assert file['SHA1'] == body['sha1']
    assert file['OrganizationPrevalence'] == 14850
    assert file['GlobalPrevalence'] == 705012
    assert file['OrganizationFirstSeen'] == '2019-12-07T13:44:16Z'
    assert file['OrganizationLastSeen'] == '2020-01-06T13:39:36Z'
    assert file['FirstSeenBySource'] == '2015-03-19T12:20:07.3432441Z'
    assert file['LastSeenBySource'] == '2020-01-06T13:39:36Z'


def test_file_statistics_legacy_string_counts_kept_as_sent(client, requests_mock):
    body = {**load('file_stats_docs.json'), 'orgPrevalence': '14850', 'globalPrevalence': '705012'}
    requests_mock.get(f'{API}/files/{body["sha1"]}/stats', json=body)
    stats = m.get_file_statistics_command(client, {'file_hash': body['sha1']}).outputs['Statistics']
    assert stats['OrgPrevalence'] == '14850' and stats['GlobalPrevalence'] == '705012'
    assert stats['OrganizationPrevalence'] == 14850 and stats['GloballyPrevalence'] == 705012


def test_ip_statistics_documented_example(client, requests_mock):
    body = load('ip_stats_docs.json')
    requests_mock.get(f'{API}/ips/10.209.67.177/stats', json=body)
    result = m.get_ip_statistics_command(client, {'ip': '10.209.67.177'})
    assert result.outputs == {'IPAddress': '10.209.67.177', 'Statistics': {
        'IPAddress': '10.209.67.177', 'OrgFirstSeen': '2017-07-30T13:36:06Z', 'OrgLastSeen': '2017-08-29T13:32:59Z',
        'OrganizationPrevalence': 63515}}
    requests_mock.get(f'{API}/ips/10.209.67.177/stats', json={**body, 'orgPrevalence': '1'})
    assert m.get_ip_statistics_command(client, {'ip': '10.209.67.177'}).outputs['Statistics']['OrgPrevalence'] == '1'


def test_domain_statistics_official_keys(client, requests_mock):
    requests_mock.get(f'{API}/domains/example.com/stats', json={
        'host': 'example.com', 'orgPrevalence': '4070', 'organizationPrevalence': 4070,
        'orgFirstSeen': '2017-07-30T13:23:48Z', 'orgLastSeen': '2017-08-29T13:09:05Z'})
    stats = m.get_domain_statistics_command(client, {'domain': 'example.com'}).outputs['Statistics']
    assert stats == {'Host': 'example.com', 'OrgPrevalence': '4070', 'OrganizationPrevalence': 4070,
                     'OrgFirstSeen': '2017-07-30T13:23:48Z', 'OrgLastSeen': '2017-08-29T13:09:05Z'}


def test_list_software_keeps_every_api_field(client, requests_mock):
    item = {'id': 'microsoft-_-edge', 'name': 'edge', 'vendor': 'microsoft', 'weaknesses': 3, 'publicExploit': False,
            'activeAlert': False, 'exposedMachines': 4, 'installedMachines': 10, 'impactScore': 1.5,
            'isNormalized': True, 'category': 'Application', 'distributions': [{'version': '120.0'}]}
    requests_mock.get(f'{API}/Software', json={'@odata.context': 'x', 'value': [item]})
    result = m.list_software_command(client, {})
    assert result.outputs == [item]


def test_live_response_action_keeps_every_api_field():
    action = load('live_response_action.json')
    action.update(scope='Full', externalId='ext-1', relatedFileInfo={'fileIdentifier': 'abc'},
                  troubleshootInfo='details')
    context = m.live_action_context(action)
    for key in ('scope', 'externalId', 'requestSource', 'relatedFileInfo', 'troubleshootInfo'):
        assert context[key] == action[key]
    assert context['commands'][0]['command']['type'] == 'GetFile'


def test_file_info_values_as_sent(client, requests_mock):
    requests_mock.get(f'{API}/files/{SHA1}', json={'sha1': SHA1, 'size': 22139496, 'globalPrevalence': 180022,
                                                    'md5': 'a' * 32})
    [result] = m.get_file_info_command(client, {'hash': SHA1})
    assert result.outputs['Size'] == 22139496 and result.outputs['SizeInBytes'] == 22139496
    assert result.outputs['GlobalPrevalence'] == 180022 and result.outputs['MD5'] == 'a' * 32
    assert result.indicator.to_context()[m.Common.File.CONTEXT_PATH]['MD5'] == 'a' * 32


def test_alert_related_user_and_update_comment_like_the_official(client, requests_mock):
    alert = {**load('alert_full.json'), 'relatedUser': {'userName': 'alex', 'domainName': 'CONTOSO'}}
    requests_mock.patch(f'{API}/alerts/{ALERT_ID}', json=alert)
    result = m.update_alert_command(client, {'alert_id': ALERT_ID, 'comment': 'checked'})
    assert result.outputs['Comment'] == 'checked'
    assert result.outputs['RelatedUser'] == {'userName': 'alex', 'domainName': 'CONTOSO', 'UserName': 'alex',
                                             'DomainName': 'CONTOSO'}


def test_file_statistics_dbot_vendor_is_the_official_name(client, requests_mock):
    body = load('file_stats_docs.json')
    requests_mock.get(f'{API}/files/{body["sha1"]}/stats', json=body)
    context = m.get_file_statistics_command(client, {'file_hash': body['sha1']}).to_context()['EntryContext']
    score = next(v for k, v in context.items() if k.startswith('DBotScore'))
    assert (score[0] if isinstance(score, list) else score)['Vendor'] == 'Microsoft Defender ATP'


def test_machine_users_carry_the_official_user_fields(client, requests_mock):
    requests_mock.get(f'{API}/machines/{MACHINE_ID}/logonusers', json={'value': [{
        'id': 'contoso\\user1', 'accountName': 'user1', 'accountDomain': 'contoso', 'accountSid': 'S-1-5-21-1',
        'firstSeen': '2019-12-18T08:02:54Z', 'lastSeen': '2020-01-06T08:01:48Z', 'mostPrevalentMachineId': 'm1',
        'leastPrevalentMachineId': 'm2', 'logonTypes': 'Interactive', 'logOnMachinesCount': 8,
        'isDomainAdmin': True, 'isOnlyNetworkUser': False}]})
    [user] = m.get_machine_users_command(client, {'machine_id': MACHINE_ID}).outputs
    assert user['AccountSID'] == 'S-1-5-21-1' and user['LogonCount'] == 8 and user['MachineID'] == MACHINE_ID
    assert user['MostPrevalentMachineID'] == 'm1' and user['LeastPrevalentMachineID'] == 'm2'
    assert user['DomainAdmin'] is True and user['NetworkUser'] is False


def test_graph_indicator_severity_by_name_like_the_official():
    assert m.ti_row({'id': '1', 'severity': 3})['severity'] == 'MediumHigh'
    assert m.ti_row({'id': '1', 'severity': 5})['severity'] == 'Informational'
    assert m.ti_row({'id': '1', 'severity': 0})['severity'] == 'Informational'


def test_vulnerabilities_by_machine_write_cve_indicators(client, requests_mock):
    requests_mock.get(f'{API}/vulnerabilities/machinesVulnerabilities', json={'value': [
        {'id': 'f1', 'cveId': 'CVE-2024-1111', 'machineId': MACHINE_ID},
        {'id': 'f2', 'cveId': 'CVE-2024-1111', 'machineId': 'other'}]})
    results = m.list_vulnerabilities_by_machine_command(client, {})
    assert len(results[0].outputs) == 2
    assert [r.indicator.id for r in results[1:]] == ['CVE-2024-1111']


def test_single_hunting_result_report_id_is_a_string_like_the_official(legacy, requests_mock):
    requests_mock.post(f'{API}/advancedqueries/run', json={'Schema': [], 'Results': [{'ReportId': 1234, 'A': 1}]})
    assert m.advanced_hunting_command(legacy, {'query': 'DeviceInfo | take 1'}).outputs == [{'ReportId': '1234', 'A': 1}]


def test_ti_file_indicator_carries_size_and_path_like_the_official():
    """Given a legacy tiIndicator with a file hash, size and path, Then File.Size and File.Path are written (declared
    by the official integration), beside the hash and name."""
    indicator = m.ti_standard_indicator({'fileHashType': 'sha256', 'fileHashValue': 'b' * 64, 'fileName': 'x.exe',
                                         'fileSize': 1024, 'filePath': 'C:\\Temp\\x.exe'})
    context = indicator.to_context()
    file = next(v for k, v in context.items() if k.startswith('File('))
    assert file['Size'] == 1024 and file['Path'] == 'C:\\Temp\\x.exe' and file['SHA256'] == 'b' * 64


def test_list_argument_with_json_objects_names_the_argument(client):
    """Given an argument that argToList reads as JSON objects, When endpoint runs, Then the error names the argument."""
    with pytest.raises(ValueError, match='"ip" takes a comma-separated list'):
        m.endpoint_command(client, {'ip': '[{"indicatorValue": null}]'})


@pytest.mark.parametrize('item,path,value', [
    ({'domainName': 'bad.example', 'networkIPv4': '203.0.113.7', 'url': 'https://bad.example/x'}, 'Domain', 'bad.example'),
    ({'networkIPv4': '203.0.113.7', 'url': 'https://bad.example/x'}, 'IP', '203.0.113.7'),
    ({'networkDestinationIPv4': '198.51.100.10'}, 'IP', '198.51.100.10'),
    ({'url': 'https://bad.example/x'}, 'URL', 'https://bad.example/x'),
])
def test_graph_indicator_standard_output_order(item, path, value):
    """Given a network indicator with several observables, When its standard output is built, Then it is one object in
    the official order: the domain, else an IP address, else the URL."""
    indicator = m.ti_standard_indicator(item)
    context = indicator.to_context()
    key = next(k for k in context if k.startswith(f'{path}('))
    assert list(context[key].values())[0] == value


# ---------------------------------------------------------------------------------------------------------------
# Retired Microsoft APIs: a clear error naming the command to use instead
# ---------------------------------------------------------------------------------------------------------------

GRAPH_SEGMENT_GONE = {'error': {'code': 'BadRequest', 'message': "Resource not found for the segment 'tiIndicators'."}}


@pytest.mark.parametrize('command,args,replacement', [
    ('microsoft-atp-indicator-list', {}, 'microsoft-atp-sc-indicator-list'),
    ('microsoft-atp-indicator-get-by-id', {'indicator_id': 'i1'}, 'microsoft-atp-sc-indicator-get-by-id'),
    ('microsoft-atp-indicator-delete', {'indicator_id': 'i1'}, 'microsoft-atp-sc-indicator-delete'),
])
def test_removed_ti_indicators_name_the_replacement(client, requests_mock, command, args, replacement):
    """Given Graph answering that tiIndicators no longer exists, When a legacy indicator command runs, Then the error
    says the API is gone and names the Defender for Endpoint indicator command to use."""
    matcher = re.compile(re.escape(TI_URL))
    for method in ('get', 'delete', 'post', 'patch'):
        getattr(requests_mock, method)(matcher, status_code=400, json=GRAPH_SEGMENT_GONE)
    with pytest.raises(DemistoException, match=rf'no longer serves its API.*Use !{replacement} instead') as error:
        m.run_command(client, command, args)
    assert 'HTTP 400' in str(error.value) and 'tiIndicators' in str(error.value)


@pytest.mark.parametrize('status,body', [(410, {}), (405, {'error': {'code': 'MethodNotAllowed',
                                                                      'message': 'This operation is no longer supported'}})])
def test_start_investigation_after_manual_triggering_ended(client, requests_mock, status, body):
    requests_mock.post(f'{API}/machines/{MACHINE_ID}/startInvestigation', status_code=status, json=body)
    with pytest.raises(DemistoException, match=r'1 September 2026.*Use !microsoft-atp-list-investigations instead'):
        m.run_command(client, 'microsoft-atp-start-investigation', {'machine_id': MACHINE_ID, 'comment': 'c'})


def test_other_errors_of_retired_commands_are_unchanged(client, requests_mock):
    """Given a machine that does not exist (404 ResourceNotFound), Then Microsoft's own error is kept."""
    requests_mock.post(f'{API}/machines/{MACHINE_ID}/startInvestigation', status_code=404,
                       json={'error': {'code': 'ResourceNotFound', 'message': 'Machine was not found'}})
    with pytest.raises(DemistoException, match='Machine was not found') as error:
        m.run_command(client, 'microsoft-atp-start-investigation', {'machine_id': MACHINE_ID, 'comment': 'c'})
    assert 'no longer serves' not in str(error.value)
