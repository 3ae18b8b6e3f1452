"""Microsoft 365 Defender end to end: every command through xsoar-local (unified script, fresh processes) against the
emulator, under each authentication flow and both API back ends, with the context checked against the YAML."""
from __future__ import annotations

import pytest
from e2e_runtime import ok

from microsoft_emulator.testing import SECRET_APP_ID, admin

pytestmark = pytest.mark.e2e

INTEGRATION = 'Microsoft365Defender'
LEGACY = 'Defender XDR API (legacy)'
GRAPH = 'Microsoft Graph security'
FLOWS = ['client-secret', 'certificate', 'managed-identity', 'device-code']


def instance_for(run, flow: str, backend: str):
    overrides: dict = {'api_backend': backend}
    if flow == 'device-code' and backend == GRAPH:
        # The Cortex XSOAR app holds Defender XDR API permissions only; a self-deployed public app signs in for Graph.
        overrides['creds_client_id'] = {'password': SECRET_APP_ID}
    instance = run.instance(flow, **overrides)
    if flow == 'device-code':
        result = run.run(instance, 'microsoft-365-defender-auth-start')
        assert not result.has_error, result.errors
        assert 'Authorization completed successfully' in result.entries[0]['HumanReadable']
    return instance


@pytest.mark.parametrize('backend', [LEGACY, GRAPH])
@pytest.mark.parametrize('flow', FLOWS)
def test_every_command(local_run, seeded, flow, backend):
    """Given an instance of each flow and back end, When every command runs, Then none fails and every context path
    written is declared in the YAML with the right type."""
    run = local_run(INTEGRATION)
    instance = instance_for(run, flow, backend)
    ok(run.run(instance, 'microsoft-365-defender-auth-test'))
    listed = ok(run.run(instance, 'microsoft-365-defender-incidents-list', limit='5'))
    incidents = listed.context['Microsoft365Defender']['Incident']
    assert len(incidents) == 5 and all(isinstance(i['incidentId'], int) for i in incidents)
    incident_id = str(incidents[0]['incidentId'])
    got = ok(run.run(instance, 'microsoft-365-defender-incident-get', id=incident_id))
    assert got.context['Microsoft365Defender']['Incident']['incidentId'] == int(incident_id)
    updated = ok(run.run(instance, 'microsoft-365-defender-incident-update', id=incident_id, status='InProgress',
                         classification='TruePositive', determination='Malware', tags='e2e', comment='from e2e'))
    changed = updated.context['Microsoft365Defender']['Incident']
    assert (changed['status'], changed['classification'], changed['determination'], changed['tags']) == \
        ('InProgress', 'TruePositive', 'Malware', ['e2e'])
    assert any(c['comment'] == 'from e2e' for c in changed['comments'])
    hunt = ok(run.run(instance, 'microsoft-365-defender-advanced-hunting', query='AlertInfo | take 100', limit='3'))
    assert len(hunt.context['Microsoft365Defender']['Hunt']['results']) == 3


@pytest.mark.parametrize('backend', [LEGACY, GRAPH])
def test_same_context_from_both_back_ends(local_run, seeded, backend):
    """Given the same incident, When it is read through each back end, Then the context keys and values agree."""
    run = local_run(INTEGRATION)
    url, ca = seeded
    incident_id = str(admin(url, 'GET', '/xdr/incidents', verify=ca)[0]['incidentId'])
    admin(url, 'PATCH', f'/xdr/incidents/{incident_id}', verify=ca,
          json={'classification': 'FalsePositive', 'determination': 'Clean', 'comment': 'renamed values'})
    legacy = ok(run.run(run.instance('client-secret', api_backend=LEGACY), 'microsoft-365-defender-incident-get',
                        id=incident_id)).context['Microsoft365Defender']['Incident']
    other = ok(run.run(run.instance('client-secret', api_backend=backend), 'microsoft-365-defender-incident-get',
                       id=incident_id)).context['Microsoft365Defender']['Incident']
    assert set(other) == set(legacy)
    for key in ('incidentId', 'incidentName', 'status', 'severity', 'classification', 'determination', 'tags'):
        assert other[key] == legacy[key], key
    assert len(other['alerts']) == len(legacy['alerts'])


@pytest.mark.parametrize('backend', [LEGACY, GRAPH])
def test_clear_errors(local_run, seeded, backend):
    """Given bad input, an unknown incident and invalid KQL, When the commands run, Then each gives one clear error
    entry and no traceback."""
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret', api_backend=backend)
    cases = [
        ('microsoft-365-defender-incident-update', {'id': '1', 'classification': 'FalsePositive',
                                                    'determination': 'Malware'}, 'Allowed values: NotMalicious'),
        ('microsoft-365-defender-incidents-list', {'limit': '1000'}, 'Invalid "limit"'),
        ('microsoft-365-defender-incident-get', {'id': '99999999'}, '404'),
        ('microsoft-365-defender-advanced-hunting', {'query': 'AlertInfo | wher x', 'limit': '5'}, 'rejected'),
    ]
    for command, args, expected in cases:
        result = run.run(instance, command, **args)
        assert len(result.errors) == 1 and expected in result.errors[0], (command, result.errors)
        assert 'Traceback' not in result.errors[0] and result.crash is None


def test_large_hunting_result(local_run, seeded, e2e_emulator):
    """Given a hunting table with over 20,000 rows, When all are requested, Then the context holds every row and the
    war room shows 50 with the total. (Graph hunting reads the whole tenant: the Defender for Endpoint devices'
    events come on top of the 20,000 generated ones, so the total is counted first.)"""
    url, ca = seeded
    admin(url, 'POST', '/xdr/hunting-rows', verify=ca, json={'table': 'DeviceProcessEvents', 'count': 20000})
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret', api_backend=GRAPH)
    counted = ok(run.run(instance, 'microsoft-365-defender-advanced-hunting', query='DeviceProcessEvents | count',
                         limit='1'))
    total = counted.context['Microsoft365Defender']['Hunt']['results'][0]['Count']
    assert total >= 20000
    result = ok(run.run(instance, 'microsoft-365-defender-advanced-hunting',
                        query='DeviceProcessEvents', limit='100000', timeout='120'))
    assert len(result.context['Microsoft365Defender']['Hunt']['results']) == total
    assert f'Showing the first 50 of {total} rows' in result.entries[0]['HumanReadable']


def test_device_code_auth_commands(local_run, seeded):
    """Given a device-code instance, When the user runs auth-complete by hand after signing in, then auth-reset,
    Then completion is confirmed, the reset clears the sign-in, and the next command says to run auth-start."""
    run = local_run(INTEGRATION)
    instance = instance_for(run, 'device-code', LEGACY)
    completed = ok(run.run(instance, 'microsoft-365-defender-auth-complete'))
    assert 'Authorization completed successfully' in completed.entries[0]['HumanReadable']
    reset = ok(run.run(instance, 'microsoft-365-defender-auth-reset'))
    assert 'reset successfully' in reset.entries[0]['HumanReadable']
    after = run.run(instance, 'microsoft-365-defender-incidents-list', limit='1')
    assert after.crash is None
    assert len(after.errors) == 1 and 'microsoft-365-defender-auth-start' in after.errors[0]


def test_default_xsoar_app_on_graph_names_the_fix(local_run, seeded):
    """Given the defaults of a new instance (device code with the Cortex XSOAR app, which Entra refuses a Graph token
    with AADSTS65001) on the Microsoft Graph security back end, When auth-start runs, Then it fails before any sign-in
    starts, saying to select the Defender XDR API back end or an own app, not to grant admin consent."""
    run = local_run(INTEGRATION)
    instance = run.instance('device-code', api_backend=GRAPH)
    before = len(run.token_requests())
    result = run.run(instance, 'microsoft-365-defender-auth-start')
    assert result.crash is None and len(result.errors) == 1
    assert f'set "API back end" to "{LEGACY}"' in result.errors[0] and 'consent' not in result.errors[0]
    assert len(run.token_requests()) == before
