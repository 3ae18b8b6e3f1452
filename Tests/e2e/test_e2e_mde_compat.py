"""Microsoft Defender for Endpoint end to end: the arguments that make it a drop-in replacement of the official
integration (Tests/compat finds them), each run through xsoar-local against the emulator with the context checked
against the YAML."""
from __future__ import annotations

import pytest
from e2e_runtime import as_list, ok

from microsoft_emulator.testing import admin

pytestmark = pytest.mark.e2e

INTEGRATION = 'MicrosoftDefenderAdvancedThreatProtection'
P = 'microsoft-atp'


def healthy_machine(url, ca):
    return next(m for m in admin(url, 'GET', '/mde/machines', verify=ca) if not m.get('broken'))


def test_advanced_hunting_name(local_run, mde):
    """Given a query and a name, When advanced hunting runs, Then the rows are under MicrosoftATP.Hunt.Result.<name>
    and every written path is declared."""
    run = local_run(INTEGRATION)
    result = ok(run.run(run.instance('client-secret'), f'{P}-advanced-hunting', query='DeviceInfo | take 2',
                        name='devices'))
    rows = as_list(result.context['MicrosoftATP']['Hunt']['Result']['devices'])
    assert 1 <= len(rows) <= 2


def test_list_machine_actions_filters(local_run, mde):
    """Given an isolation and a scan on a machine, When the actions are listed with a raw $filter for isolations,
    Then only the isolation comes back."""
    url, ca = mde
    machine_id = healthy_machine(url, ca)['id']
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret')
    ok(run.run(instance, f'{P}-isolate-machine', machine_id=machine_id, comment='e2e', isolation_type='Selective'))
    ok(run.run(instance, f'{P}-run-antivirus-scan', machine_id=machine_id, comment='e2e', scan_type='Quick'))
    listed = ok(run.run(instance, f'{P}-list-machine-actions-details',
                        filters=f"type eq 'Isolate' and machineId eq '{machine_id}'", limit='10'))
    actions = as_list(listed.context['MicrosoftATP']['MachineAction'])
    assert actions and {a['Type'] for a in actions} == {'Isolate'}
    assert {a['MachineID'] for a in actions} == {machine_id}


def test_start_investigation_timeout(local_run, mde, e2e_emulator):
    """Given timeout, When the investigation starts normally, Then it starts; When Microsoft does not answer within
    the timeout, Then the command fails instead of waiting longer."""
    url, ca = mde
    machine_id = healthy_machine(url, ca)['id']
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret')
    started = ok(run.run(instance, f'{P}-start-investigation', machine_id=machine_id, comment='e2e', timeout='30'))
    assert started.context['MicrosoftATP']['Investigation']['MachineID'] == machine_id
    admin(url, 'POST', '/faults', verify=ca, json={'path_regex': '/startInvestigation$', 'method': 'POST',
                                                   'kind': 'hang', 'hang_seconds': 20})
    slow = run.run(instance, f'{P}-start-investigation', machine_id=machine_id, comment='e2e', timeout='2')
    assert slow.has_error and 'Traceback' not in slow.errors[0]


def test_ran_once_flag_is_accepted(local_run, mde):
    """Given the official's deprecated ran_once_flag, When a command runs with it, Then it works as without."""
    run = local_run(INTEGRATION)
    listed = ok(run.run(run.instance('client-secret'), f'{P}-get-machines', page_size='2', ran_once_flag='true'))
    assert len(as_list(listed.context['MicrosoftATP']['Machine'])) == 2


@pytest.mark.parametrize('command', ['list-machines-by-software', 'list-software-version-distribution'])
def test_software_commands_without_id(local_run, mde, command):
    """Given no id (optional, as in the official YAML), When a per-software command runs, Then the error names the
    argument and where to find a software ID."""
    run = local_run(INTEGRATION)
    result = run.run(run.instance('client-secret'), f'{P}-{command}')
    assert result.has_error and '"id"' in result.errors[0] and 'list-software' in result.errors[0]
