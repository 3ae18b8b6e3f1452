"""Microsoft 365 Defender advanced hunting on the Defender XDR back end after Microsoft retires
/api/advancedhunting/run: through xsoar-local against the emulator, on Microsoft Graph runHuntingQuery and on the
legacy API with the same context; Automatic falls back to the legacy API when Graph refuses, remembers the refusal,
and names the Graph permission to add when nothing can stand in."""
from __future__ import annotations

import pytest
from e2e_runtime import ok

pytestmark = pytest.mark.e2e

INTEGRATION = 'Microsoft365Defender'
P = 'microsoft-365-defender'
BACKEND_LEGACY = 'Defender XDR API (legacy)'
GRAPH, LEGACY = 'Microsoft Graph', 'Legacy Defender XDR'
GRAPH_PATH, LEGACY_PATH = '/v1.0/security/runHuntingQuery', '/api/advancedhunting/run'
QUERY = 'AlertInfo | order by AlertId asc | project AlertId, Title, Severity'
# What Graph answers an app without ThreatHunting.Read.All (Microsoft's 403 error envelope).
GRAPH_403 = {'error': {'code': 'Forbidden', 'message': "Missing role permissions on the request. API requires one of "
                       "'ThreatHunting.Read.All'."}}


def hunting_paths(run) -> list[str]:
    return [e['path'] for e in run.requests() if e['path'] in (GRAPH_PATH, LEGACY_PATH)]


def legacy_instance(run, **overrides):
    return run.instance('client-secret', api_backend=BACKEND_LEGACY, **overrides)


def refuse_graph_hunting(emulator) -> None:
    emulator.add_fault(path_prefix=GRAPH_PATH, status=403, count='always', body=GRAPH_403,
                       headers={'Content-Type': 'application/json'})


def test_same_context_on_graph_and_legacy(local_run, seeded):
    """Given the Defender XDR back end, When the same hunting query runs with "Advanced hunting API" Microsoft Graph
    and Legacy Defender XDR, Then each calls only its API and both write the same context."""
    run = local_run(INTEGRATION)
    run.clear_requests()
    on_graph = ok(run.run(legacy_instance(run, hunting_api=GRAPH), f'{P}-advanced-hunting', query=QUERY, limit='5'))
    assert hunting_paths(run) == [GRAPH_PATH]
    run.clear_requests()
    on_legacy = ok(run.run(legacy_instance(run, hunting_api=LEGACY), f'{P}-advanced-hunting', query=QUERY, limit='5'))
    assert hunting_paths(run) == [LEGACY_PATH]
    assert on_graph.context == on_legacy.context
    assert len(on_graph.context['Microsoft365Defender']['Hunt']['results']) == 5


def test_automatic_uses_graph(local_run, seeded):
    run = local_run(INTEGRATION)
    run.clear_requests()
    ok(run.run(legacy_instance(run), f'{P}-advanced-hunting', query=QUERY, limit='2', timespan='7 days'))
    assert hunting_paths(run) == [GRAPH_PATH]


def test_automatic_falls_back_and_remembers_the_refusal(local_run, seeded, e2e_emulator):
    """Given Graph refusing hunting (403), When two queries run on Automatic, Then the first asks Graph and the
    legacy API and writes the context Graph would have given; the second (a new process) asks only the legacy API."""
    run = local_run(INTEGRATION)
    expected = ok(run.run(legacy_instance(run, hunting_api=GRAPH), f'{P}-advanced-hunting', query=QUERY, limit='3'))
    refuse_graph_hunting(e2e_emulator)
    instance = legacy_instance(run)
    run.clear_requests()
    first = ok(run.run(instance, f'{P}-advanced-hunting', query=QUERY, limit='3'))
    assert hunting_paths(run) == [GRAPH_PATH, LEGACY_PATH]
    assert first.context == expected.context
    run.clear_requests()
    ok(run.run(instance, f'{P}-advanced-hunting', query=QUERY, limit='3'))
    assert hunting_paths(run) == [LEGACY_PATH]


def test_graph_refusal_names_the_permission(local_run, seeded, e2e_emulator):
    refuse_graph_hunting(e2e_emulator)
    run = local_run(INTEGRATION)
    run.clear_requests()
    failed = run.run(legacy_instance(run, hunting_api=GRAPH), f'{P}-advanced-hunting', query=QUERY)
    assert failed.has_error
    message = ' '.join(str(e) for e in failed.errors)
    assert 'ThreatHunting.Read.All' in message and 'Traceback' not in message
    assert hunting_paths(run) == [GRAPH_PATH]


def test_automatic_after_the_legacy_api_is_gone(local_run, seeded, e2e_emulator):
    refuse_graph_hunting(e2e_emulator)
    e2e_emulator.add_fault(path_prefix=LEGACY_PATH, status=404, count='always')
    run = local_run(INTEGRATION)
    failed = run.run(legacy_instance(run), f'{P}-advanced-hunting', query=QUERY)
    assert failed.has_error
    message = ' '.join(str(e) for e in failed.errors)
    assert 'ThreatHunting.Read.All' in message and 'HTTP 404' in message


def test_xsoar_app_hunts_on_the_legacy_api(local_run, seeded):
    """Given the Cortex XSOAR app on device code (Defender XDR permissions only), When hunting on Automatic, Then
    only the legacy API is asked: no Graph token request that Entra would refuse."""
    run = local_run(INTEGRATION)
    instance = run.instance('device-code')
    assert not run.run(instance, f'{P}-auth-start').has_error
    run.clear_requests()
    ok(run.run(instance, f'{P}-advanced-hunting', query=QUERY, limit='2'))
    assert hunting_paths(run) == [LEGACY_PATH]
