"""Microsoft Defender for Endpoint end to end: every command through xsoar-local (unified script, fresh processes)
against the emulator, under each authentication flow, with the context checked against the YAML; response actions
polled to completion and reported per machine."""
from __future__ import annotations

import pytest
from auth_e2e import consent
from e2e_runtime import ok

from microsoft_emulator.testing import admin

pytestmark = pytest.mark.e2e

INTEGRATION = 'MicrosoftDefenderAdvancedThreatProtection'
P = 'microsoft-atp'
FLOWS = ['client-secret', 'certificate', 'managed-identity', 'xsoar-app']


def first(value):
    """A context value that holds one object or a list of them, as the first object."""
    return value[0] if isinstance(value, list) else value


def machines(url, ca):
    return admin(url, 'GET', '/mde/machines', verify=ca)


@pytest.mark.parametrize('flow', FLOWS)
def test_machines_under_every_flow(local_run, mde, flow):
    """Given an instance of each flow, When machine commands run, Then none fails and the context matches the YAML."""
    run = local_run(INTEGRATION)
    instance = run.instance(flow)
    listed = ok(run.run(instance, f'{P}-get-machines', page_size='3'))
    found = listed.context['MicrosoftATP']['Machine']
    assert len(found) == 3
    machine_id = found[0]['ID']
    ok(run.run(instance, f'{P}-get-machine-details', machine_id=machine_id))
    ok(run.run(instance, 'endpoint', id=machine_id))


def test_auth_code_flow(local_run, mde):
    """Given the authorization code flow, When the user signs in through the login URL, Then microsoft-atp-test and
    the commands work."""
    run = local_run(INTEGRATION)
    instance = run.instance('auth-code')
    shown = ok(run.run(instance, f'{P}-generate-login-url'))
    url = shown.entries[0]['HumanReadable'].split('[login URL](', 1)[1].split(')', 1)[0]
    redirect = consent(run, url)
    instance = run.instance('auth-code', auth_code={'password': redirect})
    ok(run.run(instance, f'{P}-test'))
    ok(run.run(instance, f'{P}-get-machines', page_size='1'))
    ok(run.run(instance, f'{P}-auth-reset'))


def test_every_command(local_run, mde):
    """Given the client secret instance, When every command runs, Then none fails and every path written is declared."""
    url, ca = mde
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret')
    truth = machines(url, ca)
    target = truth[0]
    machine_id, host = target['id'], target['computerDnsName']
    ok(run.run(instance, f'{P}-get-machines', hostname=host))
    ok(run.run(instance, f'{P}-get-machine-by-ip', ip=target['lastIpAddress'], timestamp='2 hours ago',
               all_results='true'))
    ok(run.run(instance, f'{P}-get-machine-users', machine_id=machine_id))
    ok(run.run(instance, f'{P}-add-remove-machine-tag', machine_id=machine_id, action='Add', tag='e2e'))
    ok(run.run(instance, f'{P}-add-remove-machine-tag', machine_id=machine_id, action='Remove', tag='e2e'))
    ok(run.run(instance, 'endpoint', hostname=host))
    for command, args in [
        ('run-antivirus-scan', {'scan_type': 'Quick'}), ('restrict-app-execution', {}),
        ('remove-app-restriction', {}), ('isolate-machine', {'isolation_type': 'Selective'}),
        ('unisolate-machine', {}),
    ]:
        done = ok(run.run(instance, f'{P}-{command}', machine_id=machine_id, comment='e2e', polling='true', **args))
        assert first(done.context['MicrosoftATP']['MachineAction'])['Status'] == 'Succeeded', command
    collected = ok(run.run(instance, f'{P}-collect-investigation-package', machine_id=machine_id, comment='e2e',
                           polling='true'))
    action_id = first(collected.context['MicrosoftATP']['MachineAction'])['ID']
    sas = ok(run.run(instance, f'{P}-get-investigation-package-sas-uri', action_id=action_id))
    assert sas.context['MicrosoftATP']['InvestigationURI']['Link'].startswith('https://')
    downloaded = ok(run.run(instance, f'{P}-request-and-download-investigation-package', machine_id=machine_id,
                            comment='e2e'))
    assert downloaded.files
    ok(run.run(instance, f'{P}-list-machine-actions-details', machine_id=machine_id, limit='5'))
    ok(run.run(instance, f'{P}-list-machine-actions-details', id=action_id))
    started = ok(run.run(instance, f'{P}-start-investigation', machine_id=machine_id, comment='e2e'))
    investigation_id = started.context['MicrosoftATP']['Investigation']['ID']
    ok(run.run(instance, f'{P}-list-investigations', limit='5'))
    ok(run.run(instance, f'{P}-list-investigations', id=investigation_id))
    ok(run.run(instance, f'{P}-get-domain-statistics', domain='contoso.com'))
    ok(run.run(instance, f'{P}-get-ip-statistics', ip=target['lastIpAddress']))
    ok(run.run(instance, f'{P}-get-domain-machines', domain='contoso.com'))
    ok(run.run(instance, f'{P}-get-user-machines', username='alex'))
    created = ok(run.run(instance, f'{P}-sc-indicator-create', indicator_value='evil.example', indicator_type='DomainName',
                         action='Block', indicator_description='e2e', indicator_title='e2e domain', severity='High'))
    saved = created.context['MicrosoftATP']['Indicators']
    indicator_id = str((saved[0] if isinstance(saved, list) else saved)['id'])
    ok(run.run(instance, f'{P}-sc-indicator-update', indicator_value='evil.example', indicator_type='DomainName',
               action='Audit', indicator_description='e2e 2', indicator_title='e2e domain'))
    ok(run.run(instance, f'{P}-sc-indicator-list', indicator_type='DomainName'))
    ok(run.run(instance, f'{P}-sc-indicator-get-by-id', indicator_id=indicator_id))
    ok(run.run(instance, f'{P}-indicator-batch-update', indicator_batch='[{"indicatorValue": "1.2.3.4", '
               '"indicatorType": "IpAddress", "action": "Audit", "title": "t", "description": "d"}]'))
    ok(run.run(instance, f'{P}-sc-indicator-delete', indicator_id=indicator_id))
    ok(run.run(instance, f'{P}-advanced-hunting', query='DeviceInfo | take 3'))
    ok(run.run(instance, f'{P}-advanced-hunting',
               query_batch='{"queries": [{"query": "DeviceInfo | take 2", "name": "devices"}]}'))


@pytest.mark.parametrize('kind,purpose', [
    ('lateral-movement-evidence', 'network_connections'), ('persistence-evidence', 'new_user'), ('file-origin', None),
    ('process-details', 'process_details'), ('network-connections', 'external_addresses'),
    ('privilege-escalation', None), ('tampering', None), ('cover-up', 'file_deleted')])
def test_templated_hunting(local_run, mde, kind, purpose):
    """Given a hostile device name next to a real one, When each template runs, Then the query is valid KQL."""
    url, ca = mde
    host = machines(url, ca)[0]['computerDnsName']
    run = local_run(INTEGRATION)
    args = {'device_name': f'{host},x" | take 1', 'show_query': 'true'}
    if purpose:
        args['query_purpose'] = purpose
    ok(run.run(run.instance('client-secret'), f'{P}-advanced-hunting-{kind}', **args))


def test_file_commands(local_run, mde):
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret')
    hunt = ok(run.run(instance, f'{P}-advanced-hunting', query='DeviceFileEvents | take 1'))
    rows = hunt.context['MicrosoftATP']['Hunt']['Result']
    sha1 = rows[0].get('SHA1') if rows else None
    if not sha1:
        pytest.skip('the emulator has no file events with a SHA1')
    ok(run.run(instance, f'{P}-get-file-statistics', file_hash=sha1))
    ok(run.run(instance, f'{P}-get-file-info', hash=sha1))
    ok(run.run(instance, f'{P}-get-file-related-machines', file_hash=sha1))
    machine_id = machines(*mde)[0]['id']
    done = ok(run.run(instance, f'{P}-stop-and-quarantine-file', machine_id=machine_id, file_hash=sha1,
                      comment='e2e', polling='true'))
    assert first(done.context['MicrosoftATP']['MachineAction'])['Status'] == 'Succeeded'


def test_multi_machine_action_reports_each_machine(local_run, mde):
    """Given three machines, one broken, When isolating all of them with polling, Then two succeed and the broken
    one is reported on its own without hiding the others."""
    url, ca = mde
    ids = [m['id'] for m in machines(url, ca)[:3]]
    admin(url, 'POST', f'/mde/machines/{ids[1]}/break', verify=ca, json={'broken': True})
    run = local_run(INTEGRATION)
    result = run.run(run.instance('client-secret'), f'{P}-isolate-machine', machine_id=','.join(ids), comment='e2e',
                     isolation_type='Full', polling='true')
    assert result.problems == [], result.problems
    actions = result.context['MicrosoftATP']['MachineAction']
    by_machine = {a['MachineID']: a['Status'] for a in actions}
    assert by_machine[ids[0]] == 'Succeeded' and by_machine[ids[2]] == 'Succeeded'
    assert any(ids[1] in e for e in result.errors)


def test_bulk_action_stays_inside_rate_limits(local_run, mde, e2e_emulator):
    """Given a long throttling answer in the middle of a bulk scan, When the command runs, Then it continues with
    the remaining machines after the wait and every machine is scanned exactly once."""
    url, ca = mde
    admin(url, 'POST', '/mde/generate', verify=ca, json={'machines': 12})
    ids = [m['id'] for m in machines(url, ca)[:12]]
    e2e_emulator.add_fault(path_regex=r'/api/machines/[^/]+/runAntiVirusScan$', kind='status', status=429,
                           retry_after=30, count=1)
    run = local_run(INTEGRATION)
    result = ok(run.run(run.instance('client-secret'), f'{P}-run-antivirus-scan', machine_id=','.join(ids),
                        comment='e2e', scan_type='Quick', polling='true'))
    actions = result.context['MicrosoftATP']['MachineAction']
    assert sorted(a['MachineID'] for a in actions) == sorted(ids)
    assert all(a['Status'] == 'Succeeded' for a in actions)


@pytest.mark.parametrize('command,args,message', [
    ('isolate-machine', {'machine_id': 'x', 'comment': 'c', 'isolation_type': 'Partial'}, 'isolation_type'),
    ('get-machines', {'health_status': 'Sick'}, 'health_status'),
    ('get-file-statistics', {'file_hash': 'nothex'}, 'file_hash'),
    ('advanced-hunting-cover-up', {'device_name': 'pc', 'query_purpose': 'nope'}, 'query_purpose'),
])
def test_bad_input_is_a_clear_error(local_run, mde, command, args, message):
    run = local_run(INTEGRATION)
    result = run.run(run.instance('client-secret'), f'{P}-{command}', **args)
    assert result.has_error and message in result.errors[0] and 'Traceback' not in result.errors[0]


def test_offboard_machine_polls_to_completion(local_run, mde):
    """Given a healthy machine, When it is offboarded with polling, Then the action completes and the emulator's
    ground truth shows the machine offboarded."""
    url, ca = mde
    target = next(m for m in machines(url, ca) if not m.get('broken'))
    run = local_run(INTEGRATION)
    result = ok(run.run(run.instance('client-secret'), f'{P}-offboard-machine', machine_id=target['id'],
                        comment='Decommissioned', polling='true'))
    assert result.context
    state = {m['id']: m for m in machines(url, ca)}[target['id']]
    assert state['onboardingStatus'] != 'Onboarded'


def test_investigation_package_link_as_documented(local_run, mde):
    """Given Microsoft's documented GetPackageUri answer (the link inside literal double quotes), When the link is
    asked for and the package downloaded, Then the context holds a clean https link and the file is the package."""
    url, ca = mde
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret')
    machine_id = machines(url, ca)[0]['id']
    collected = ok(run.run(instance, f'{P}-collect-investigation-package', machine_id=machine_id, comment='e2e',
                           polling='true'))
    action_id = first(collected.context['MicrosoftATP']['MachineAction'])['ID']
    link = ok(run.run(instance, f'{P}-get-investigation-package-sas-uri',
                      action_id=action_id)).context['MicrosoftATP']['InvestigationURI']['Link']
    assert link.startswith('https://') and '"' not in link and f'{action_id}.zip?' in link
    downloaded = ok(run.run(instance, f'{P}-request-and-download-investigation-package', machine_id=machine_id,
                            comment='e2e'))
    (path,) = downloaded.files.values()
    assert path.read_bytes().startswith(b'PK')                        # the zip the link points at
