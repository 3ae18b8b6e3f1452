"""Defender for Endpoint alert commands and the legacy Microsoft Graph tiIndicators commands end to end: through
xsoar-local (unified script, fresh processes, --strict context check) against the emulator over HTTPS, under several
authentication flows; bad input is a clear error, and a failed alert update changes nothing."""
from __future__ import annotations

import pytest
from e2e_runtime import as_list, ok

from microsoft_emulator.testing import admin

pytestmark = pytest.mark.e2e

INTEGRATION = 'MicrosoftDefenderAdvancedThreatProtection'
P = 'microsoft-atp'


def first(value):
    return value[0] if isinstance(value, list) else value


@pytest.fixture
def mde(e2e_emulator):
    url, ca = e2e_emulator.url, str(e2e_emulator.ca_path)
    admin(url, 'POST', '/mde/reset', verify=ca)
    return url, ca


def alert_truth(url, ca, alert_id):
    return next(a for a in admin(url, 'GET', '/mde/alerts', verify=ca) if a['id'] == alert_id)


def test_alert_commands(local_run, mde):
    """Given an alert, When every alert command runs, Then each succeeds, its context matches the YAML, and the
    related entities lead back to the alert."""
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret')
    listed = ok(run.run(instance, f'{P}-list-alerts', limit='5', creation_time='30 days'))
    alert = first(listed.context['MicrosoftATP']['Alert'])
    alert_id, machine_id = alert['ID'], alert['MachineID']
    got = ok(run.run(instance, f'{P}-get-alert-by-id', alert_ids=alert_id))
    assert first(got.context['MicrosoftATP']['Alert'])['ID'] == alert_id

    user = ok(run.run(instance, f'{P}-get-alert-related-user', id=alert_id)).context['MicrosoftATP']['AlertUser']
    files = ok(run.run(instance, f'{P}-get-alert-related-files', id=alert_id)).context['MicrosoftATP']['AlertFile']
    ips = ok(run.run(instance, f'{P}-get-alert-related-ips', id=alert_id)).context['MicrosoftATP']['AlertIP']
    domains = ok(run.run(instance, f'{P}-get-alert-related-domains', id=alert_id)).context['MicrosoftATP'][
        'AlertDomain']
    lookups = [('get-file-alerts', {'file_hash': as_list(files['Files'])[0]['Sha1']}, 'FileAlert'),
               ('get-ip-alerts', {'ip': as_list(ips['IPs'])[0]}, 'IPAlert'),               # strings, as the official
               ('get-domain-alerts', {'domain': as_list(domains['Domains'])[0]}, 'DomainAlert'),
               ('get-user-alerts', {'username': user['User']['AccountName']}, 'UserAlert')]
    for command, args, key in lookups:
        found = ok(run.run(instance, f'{P}-{command}', **args)).context['MicrosoftATP'][key]
        assert alert_id in [a['ID'] for a in as_list(found['Alerts'])], command
    machine = ok(run.run(instance, f'{P}-get-machine-alerts', machine_id=machine_id))
    assert alert_id in [a['ID'] for a in as_list(machine.context['MicrosoftATP']['MachineAlerts'])]


def test_create_and_update_alert(local_run, mde):
    """Given a machine, When an alert is created and then updated, Then the emulator holds the new alert with every
    change applied and the comment added."""
    url, ca = mde
    machine_id = admin(url, 'GET', '/mde/machines', verify=ca)[0]['id']
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret')
    created = ok(run.run(instance, f'{P}-create-alert', machine_id=machine_id, severity='High', title='e2e alert',
                         description='raised by e2e', recommended_action='look', event_time='2 hours ago',
                         report_id='4711', category='Malware'))
    alert_id = first(created.context['MicrosoftATP']['Alert'])['ID']
    assert alert_truth(url, ca, alert_id)['severity'] == 'High'
    updated = ok(run.run(instance, f'{P}-update-alert', alert_id=alert_id, status='Resolved',
                         assigned_to='analyst@contoso.onmicrosoft.com', classification='TruePositive',
                         determination='Malware', comment='handled'))
    row = first(updated.context['MicrosoftATP']['Alert'])
    assert (row['Status'], row['Classification'], row['Determination']) == ('Resolved', 'TruePositive', 'Malware')
    assert as_list(row['Comments'])[-1]['Comment'] == 'handled'
    assert alert_truth(url, ca, alert_id)['status'] == 'Resolved'


def test_failed_update_changes_nothing(local_run, mde, e2e_emulator):
    """Given an invalid value or a server failure, When an alert update runs, Then it is an error and the alert keeps
    its status: bad values never reach the API, and the one PATCH is all-or-nothing."""
    url, ca = mde
    alert = next(a for a in admin(url, 'GET', '/mde/alerts', verify=ca) if a['status'] == 'New')
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret')
    run.clear_requests()
    bad = run.run(instance, f'{P}-update-alert', alert_id=alert['id'], status='Resolved', determination='Bogus')
    assert bad.has_error and 'determination' in bad.errors[0] and 'Traceback' not in bad.errors[0]
    assert not [r for r in run.requests(('mde',)) if r['method'] == 'PATCH']
    e2e_emulator.add_fault(path_regex=r'^/api/alerts/[^/]+$', method='PATCH', kind='status', status=500, count=1)
    failed = run.run(instance, f'{P}-update-alert', alert_id=alert['id'], status='Resolved', comment='not applied')
    assert failed.has_error and 'Traceback' not in failed.errors[0]
    assert alert_truth(url, ca, alert['id'])['status'] == 'New'
    missing = run.run(instance, f'{P}-update-alert', alert_id='da-missing', status='Resolved')
    assert missing.has_error and 'was not found' in missing.errors[0]


@pytest.mark.parametrize('flow', ['certificate', 'managed-identity', 'xsoar-app'])
def test_alert_reads_under_other_flows(local_run, mde, flow):
    run = local_run(INTEGRATION)
    instance = run.instance(flow)
    listed = ok(run.run(instance, f'{P}-list-alerts', limit='2', severity='High'))
    alert_id = first(listed.context['MicrosoftATP']['Alert'])['ID']
    ok(run.run(instance, f'{P}-get-alert-by-id', alert_ids=alert_id))


@pytest.mark.parametrize('flow', ['client-secret', 'xsoar-app'])
def test_graph_indicator_lifecycle(local_run, mde, flow):
    """Given an app holding ThreatIndicators.ReadWrite.OwnedBy, When indicators are created, listed across pages,
    read, updated and deleted, Then each call goes to Graph with a Graph token and the context matches the YAML."""
    run = local_run(INTEGRATION)
    instance = run.instance(flow)
    made = []
    file_ind = ok(run.run(instance, f'{P}-indicator-create-file', action='block', description='e2e file',
                          threat_type='Malware', file_hash_type='sha256', file_hash_value='ab' * 32,
                          file_name='bad.exe', severity='High'))
    made.append(first(file_ind.context['MicrosoftATP']['Indicators'])['id'])
    assert file_ind.context['File']
    for n in range(2):
        net = ok(run.run(instance, f'{P}-indicator-create-network', action='alert', description=f'e2e net {n}',
                         threat_type='C2', network_destination_ipv4=f'198.51.100.{n + 10}', tlp_level='amber'))
        made.append(first(net.context['MicrosoftATP']['Indicators'])['id'])
    run.clear_requests()
    listed = ok(run.run(instance, f'{P}-indicator-list', limit='50', page_size='1'))
    rows = as_list(listed.context['MicrosoftATP']['Indicators'])
    assert set(made) <= {r['id'] for r in rows}
    assert all(r['targetProduct'] == 'Microsoft Defender ATP' for r in rows)
    graph_calls = [r for r in run.requests(('graph',)) if r['path'].endswith('/tiIndicators')]
    assert len(graph_calls) >= 3                    # one per page of one
    got = ok(run.run(instance, f'{P}-indicator-get-by-id', indicator_id=made[0]))
    assert first(got.context['MicrosoftATP']['Indicators'])['severity'] == 'High'      # by name, as the official
    updated = ok(run.run(instance, f'{P}-indicator-update', indicator_id=made[1], expiration_time='30 days',
                         severity='Low', description='updated'))
    assert first(updated.context['MicrosoftATP']['Indicators'])['description'] == 'updated'
    for indicator_id in made:
        ok(run.run(instance, f'{P}-indicator-delete', indicator_id=indicator_id))
    gone = run.run(instance, f'{P}-indicator-get-by-id', indicator_id=made[0])
    assert gone.has_error and 'not found' in gone.errors[0].lower()


def test_graph_indicators_need_the_graph_permission(local_run, mde):
    """Given the certificate app, which lacks ThreatIndicators.ReadWrite.OwnedBy, When indicators are listed, Then
    Graph's 403 names the permission (the token was a valid Graph token)."""
    run = local_run(INTEGRATION)
    result = run.run(run.instance('certificate'), f'{P}-indicator-list')
    assert result.has_error and 'ThreatIndicators.ReadWrite.OwnedBy' in result.errors[0]


@pytest.mark.parametrize('command,args,message', [
    ('update-alert', {'alert_id': 'x'}, 'Nothing to update'),
    ('update-alert', {'alert_id': 'x', 'classification': 'Benign'}, 'classification'),
    ('create-alert', {'machine_id': 'm', 'severity': 'Severe', 'title': 't', 'description': 'd',
                      'recommended_action': 'r', 'event_time': '2024-01-01T00:00:00Z', 'report_id': '1',
                      'category': 'Malware'}, 'severity'),
    ('list-alerts', {'creation_time': 'lately'}, 'creation_time'),
    ('get-file-alerts', {'file_hash': 'nothex'}, 'file_hash'),
    ('get-ip-alerts', {'ip': '300.1.1.1'}, '"ip"'),
    ('indicator-create-file', {'action': 'block', 'description': 'd', 'threat_type': 'Malware'}, 'observable'),
    ('indicator-create-network', {'action': 'block', 'description': 'x' * 101, 'threat_type': 'C2',
                                  'url': 'https://bad.example'}, 'description'),
    ('indicator-update', {'indicator_id': 'x', 'expiration_time': 'soonish'}, 'expiration_time'),
])
def test_bad_input_is_a_clear_error(local_run, mde, command, args, message):
    run = local_run(INTEGRATION)
    run.clear_requests()
    result = run.run(run.instance('client-secret'), f'{P}-{command}', **args)
    assert result.has_error and message in result.errors[0] and 'Traceback' not in result.errors[0]
    assert not run.requests(('mde', 'graph'))
