"""Defender for Endpoint advanced hunting after the retirement of its hunting API: every hunting command through
xsoar-local against the emulator on Microsoft Graph runHuntingQuery and on the legacy /api/advancedqueries/run, with
the same context on both; Automatic falls back to the legacy API for an app without the Graph permission, and says
which permission to add when it cannot."""
from __future__ import annotations

from typing import Any

import pytest
from e2e_runtime import hunting_evidence, ok

from microsoft_emulator.testing import admin

pytestmark = pytest.mark.e2e

INTEGRATION = 'MicrosoftDefenderAdvancedThreatProtection'
P = 'microsoft-atp'
GRAPH, LEGACY = 'Microsoft Graph', 'Legacy Defender for Endpoint'
GRAPH_PATH, LEGACY_PATH = '/v1.0/security/runHuntingQuery', '/api/advancedqueries/run'
USER = 'mallory'

# One call of every hunting command: its arguments (the device's name is added) and the evidence it finds.
CALLS: list[tuple[str, dict[str, str]]] = [
    ('advanced-hunting-lateral-movement-evidence', {'query_purpose': 'network_connections'}),
    ('advanced-hunting-lateral-movement-evidence', {'query_purpose': 'smb_connections'}),
    ('advanced-hunting-lateral-movement-evidence', {'query_purpose': 'credential_dumping'}),
    ('advanced-hunting-persistence-evidence', {'query_purpose': 'scheduled_job'}),
    ('advanced-hunting-persistence-evidence', {'query_purpose': 'registry_entry', 'process_cmd': 'reg.exe'}),
    ('advanced-hunting-persistence-evidence', {'query_purpose': 'new_user'}),
    ('advanced-hunting-file-origin', {}),
    ('advanced-hunting-process-details', {'query_purpose': 'parent_process'}),
    ('advanced-hunting-network-connections', {'query_purpose': 'external_addresses'}),
    ('advanced-hunting-privilege-escalation', {}),
    ('advanced-hunting-tampering', {}),
    ('advanced-hunting-cover-up', {'query_purpose': 'file_deleted'}),
    ('advanced-hunting-cover-up', {'query_purpose': 'compromised_information', 'username': USER}),
]


@pytest.fixture
def host(mde) -> str:
    """A Defender for Endpoint device with telemetry every hunting call finds."""
    url, ca = mde
    name = next(m for m in admin(url, 'GET', '/mde/machines', verify=ca) if not m.get('broken'))['computerDnsName']
    for table, rows in hunting_evidence(name, USER).items():
        admin(url, 'POST', '/mde/hunting-rows', verify=ca, json={'table': table, 'rows': rows})
    return str(name)


def hunting_paths(run) -> list[str]:
    return [e['path'] for e in run.requests(('graph', 'mde')) if e['path'] in (GRAPH_PATH, LEGACY_PATH)]


def run_all(run, instance, host: str) -> list[dict[str, Any]]:
    """The context of every hunting command, in order."""
    contexts = [ok(run.run(instance, f'{P}-advanced-hunting', name='device',
                           query=f'DeviceProcessEvents | where DeviceName =~ "{host}" | order by FileName asc '
                                 '| project DeviceName, FileName, ProcessCommandLine')).context]
    contexts.append(ok(run.run(instance, f'{P}-advanced-hunting', query_batch='{"queries": [{"name": "logons", '
                               f'"query": "DeviceLogonEvents | where AccountName == \\"{USER}\\" | project '
                               'DeviceName, AccountName"}]}')).context)
    for command, args in CALLS:
        contexts.append(ok(run.run(instance, f'{P}-{command}', device_name=host, **args)).context)
    return contexts


def test_same_context_on_graph_and_legacy(local_run, host):
    """Given a device with telemetry, When every hunting command runs on Microsoft Graph and on the legacy API, Then
    each writes the same context on both, the Graph run calls only Graph and the legacy run only the legacy API."""
    run = local_run(INTEGRATION)
    run.clear_requests()
    on_graph = run_all(run, run.instance('client-secret', hunting_api=GRAPH), host)
    assert set(hunting_paths(run)) == {GRAPH_PATH}
    run.clear_requests()
    on_legacy = run_all(run, run.instance('client-secret', hunting_api=LEGACY), host)
    assert set(hunting_paths(run)) == {LEGACY_PATH}
    assert on_graph == on_legacy
    found = on_graph[0]['MicrosoftATP']['Hunt']['Result']['device']
    assert {r['FileName'] for r in found} >= {'procdump.exe', 'schtasks.exe'}
    empty = [call for call, context in zip(['query', 'batch', *CALLS], on_graph, strict=True) if not context]
    assert not empty, f'found nothing: {empty}'


def test_automatic_uses_graph(local_run, host):
    run = local_run(INTEGRATION)
    run.clear_requests()
    ok(run.run(run.instance('client-secret'), f'{P}-advanced-hunting-file-origin', device_name=host))
    assert hunting_paths(run) == [GRAPH_PATH]


def test_automatic_falls_back_for_an_app_without_the_graph_permission(local_run, host):
    """Given the Cortex XSOAR app, which holds the Defender for Endpoint hunting permission but not
    ThreatHunting.Read.All, When hunting runs on Automatic, Then Graph refuses (403) and the legacy API answers with
    the context Graph would have given."""
    run = local_run(INTEGRATION)
    run.clear_requests()
    query = f'DeviceFileEvents | where DeviceName =~ "{host}" | project DeviceName, FileName, ActionType'
    fell_back = ok(run.run(run.instance('xsoar-app'), f'{P}-advanced-hunting', query=query))
    assert hunting_paths(run) == [GRAPH_PATH, LEGACY_PATH]
    statuses = [e['status'] for e in run.requests(('graph',)) if e['path'] == GRAPH_PATH]
    assert statuses == [403]
    on_graph = ok(run.run(run.instance('client-secret', hunting_api=GRAPH), f'{P}-advanced-hunting', query=query))
    assert fell_back.context == on_graph.context


def test_graph_refusal_names_the_permission(local_run, host):
    """Given an app without ThreatHunting.Read.All, When hunting runs on Microsoft Graph only, Then the error names
    the permission to add, and nothing else is called."""
    run = local_run(INTEGRATION)
    run.clear_requests()
    failed = run.run(run.instance('xsoar-app', hunting_api=GRAPH), f'{P}-advanced-hunting-tampering', device_name=host)
    assert failed.has_error
    message = ' '.join(str(e) for e in failed.errors)
    assert 'ThreatHunting.Read.All' in message and 'Microsoft Graph' in message and 'Traceback' not in message
    assert hunting_paths(run) == [GRAPH_PATH]


def test_automatic_after_the_legacy_api_is_gone(local_run, host, e2e_emulator):
    """Given an app without the Graph permission and a legacy API that Microsoft no longer serves (404), When hunting
    runs on Automatic, Then the error names the Graph permission to add."""
    e2e_emulator.add_fault(path_prefix=LEGACY_PATH, status=404, count='always')
    run = local_run(INTEGRATION)
    failed = run.run(run.instance('xsoar-app'), f'{P}-advanced-hunting', query='DeviceInfo | take 1')
    assert failed.has_error
    message = ' '.join(str(e) for e in failed.errors)
    assert 'ThreatHunting.Read.All' in message and 'HTTP 404' in message


def test_automatic_remembers_the_graph_refusal(local_run, host):
    """Given the Cortex XSOAR app (no ThreatHunting.Read.All), When two hunting commands run on Automatic, Then only
    the first pays Graph's 403: the second (a new process) goes straight to the legacy API."""
    run = local_run(INTEGRATION)
    instance = run.instance('xsoar-app')
    ok(run.run(instance, f'{P}-advanced-hunting-file-origin', device_name=host))
    run.clear_requests()
    ok(run.run(instance, f'{P}-advanced-hunting-tampering', device_name=host))
    assert hunting_paths(run) == [LEGACY_PATH]
