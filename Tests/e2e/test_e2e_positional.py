"""Positional arguments end to end: war-room lines written the official way (``!command <value> name=value``, the
value binding to the command's YAML default argument) run through xsoar-local against the emulator and give the same
context as the named form; a bare value a command cannot bind is a clear error before anything runs."""
from __future__ import annotations

import pytest
from e2e_runtime import as_list, ok

from microsoft_emulator.defender_endpoint.seed import file_hashes
from microsoft_emulator.testing import admin

pytestmark = pytest.mark.e2e

MDE = 'MicrosoftDefenderAdvancedThreatProtection'
P = 'microsoft-atp'


@pytest.fixture
def target(mde) -> dict:
    url, ca = mde
    return next(m for m in admin(url, 'GET', '/mde/machines', verify=ca) if not m.get('broken'))


def test_mde_positional_forms(local_run, target):
    """Given official positional lines, When they run, Then each value reached its default argument: the machine is
    isolated, its details, the file and the endpoint are the ones named, as with name=value."""
    run = local_run(MDE)
    instance = run.instance('client-secret')
    machine_id = target['id']
    isolated = ok(run.run_line(instance, f'!{P}-isolate-machine {machine_id} isolation_type=Full comment=x'))
    action = as_list(isolated.context['MicrosoftATP']['MachineAction'])[0]
    assert (action['MachineID'], action['Type']) == (machine_id, 'Isolate')
    details = ok(run.run_line(instance, f'!{P}-get-machine-details {machine_id}'))
    named = ok(run.run(instance, f'{P}-get-machine-details', machine_id=machine_id))
    assert details.context == named.context
    assert as_list(details.context['MicrosoftATP']['Machine'])[0]['ID'] == machine_id
    sha1 = file_hashes(0)[0]
    info = ok(run.run_line(instance, f'!{P}-get-file-info {sha1}'))
    assert as_list(info.context['MicrosoftATP']['File'])[0]['Sha1'] == sha1
    endpoint = ok(run.run_line(instance, f'!endpoint {target["lastIpAddress"]}'))
    assert machine_id in {e['ID'] for e in as_list(endpoint.context['Endpoint'])}


def test_mdti_positional_reputation(local_run):
    """Given `!ip <address>` and `!domain <name>` (Defender Threat Intelligence's default arguments), When they run,
    Then the reputation is for that indicator."""
    run = local_run('MicrosoftDefenderThreatIntelligence')
    instance = run.instance('client-secret')
    ip = ok(run.run_line(instance, '!ip 203.0.113.66'))
    assert as_list(ip.context['IP'])[0]['Address'] == '203.0.113.66'
    domain = ok(run.run_line(instance, '!domain fake-malicious.site'))
    assert as_list(domain.context['Domain'])[0]['Name'] == 'fake-malicious.site'


@pytest.mark.parametrize('integration, line, message', [
    ('Microsoft365Defender', '!microsoft-365-defender-incident-get 5', 'has no default argument'),
    (MDE, f'!{P}-isolate-machine 1 2 comment=x', 'takes one value without a name'),
    (MDE, f'!{P}-get-machine-details 1 machine_id=2', 'also given by name'),
])
def test_unbindable_bare_values_are_clear_errors(local_run, integration, line, message):
    """Given a bare value the command cannot bind (Microsoft 365 Defender has no default arguments, as the official),
    When the line is read, Then the error names the command and the rule, and no request is made."""
    run = local_run(integration)
    run.clear_requests()
    with pytest.raises(ValueError, match=message):
        run.run_line(run.instance('client-secret'), line)
    assert not run.requests()
