"""Microsoft Defender for Endpoint end to end: the context paths a playbook written for the official integration reads
hold the values the official integration puts there (OSVersion from the machine's `version`, Endpoint as the official
derives it, file and IP statistics with the official keys, whole API records for software and live response)."""
from __future__ import annotations

import pytest
from e2e_runtime import as_list, ok

from microsoft_emulator.defender_endpoint.seed import PLATFORMS
from microsoft_emulator.testing import admin

pytestmark = pytest.mark.e2e

INTEGRATION = 'MicrosoftDefenderAdvancedThreatProtection'
P = 'microsoft-atp'
VERSIONS = {platform[4] for platform in PLATFORMS}           # the machines' `version` values (22H2, 1809 ...)
STATUS = {'Active': 'Online', 'Inactive': 'Offline', 'ImpairedCommunication': 'Online', 'NoSensorData': 'Online'}


@pytest.fixture
def run_mde(local_run):
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret')
    return lambda command, **args: ok(run.run(instance, command, **args))


def test_machine_os_version_and_endpoint(run_mde, mde):
    """Given the machines, When machines are read by every machine command, Then MicrosoftATP.Machine.OSVersion is the
    API's `version` and Endpoint holds the official OS version, status and MAC address."""
    machines = as_list(run_mde(f'{P}-get-machines', page_size='20').context['MicrosoftATP']['Machine'])
    windows = next(m for m in machines if m['OSPlatform'].startswith('Windows'))
    assert {m['OSVersion'] for m in machines} <= VERSIONS
    details = run_mde(f'{P}-get-machine-details', machine_id=windows['ID']).context['MicrosoftATP']['Machine']
    assert as_list(details)[0]['OSVersion'] == windows['OSVersion']
    found = run_mde('endpoint', id=windows['ID']).context
    endpoint = as_list(found['Endpoint'])[0]
    assert endpoint['OSVersion'] == f"{windows['OSVersion']} {windows['OSProcessor']} bit"
    assert endpoint.get('Status') == STATUS.get(windows['HealthStatus'])
    interface = next(a for a in windows['IPAddresses'] if a['ipAddress'] == windows['LastIPAddress'])
    assert endpoint['MACAddress'] == interface['macAddress'] == as_list(found['MicrosoftATP']['Machine'])[0]['MACAddress']
    assert 'IsIsolated' not in endpoint                       # neither integration can tell from the machine resource
    by_ip = run_mde(f'{P}-get-machine-by-ip', ip=windows['LastIPAddress'], timestamp='2 hours ago').context
    assert any(e['ID'] == windows['ID'] and e['OSVersion'] == endpoint['OSVersion'] for e in as_list(by_ip['Endpoint']))
    domain = run_mde(f'{P}-get-domain-machines', domain='contoso.com').context['MicrosoftATP']['DomainMachine']
    user = run_mde(f'{P}-get-user-machines', username='alex').context['MicrosoftATP']['UserMachine']
    for holder in (domain, user):
        assert {m['OSVersion'] for m in as_list(holder['Machines'])} <= VERSIONS


def test_file_and_ip_statistics(run_mde, mde):
    """Given a file seen in the tenant, When its statistics are read, Then the official Statistics keys and the File
    prevalence fields hold the service's values."""
    rows = run_mde(f'{P}-advanced-hunting', query='DeviceFileEvents | take 5').context['MicrosoftATP']['Hunt']['Result']
    sha1 = next((r['SHA1'] for r in as_list(rows) if r.get('SHA1')), None)
    if not sha1:
        pytest.skip('the emulator has no file events with a SHA1')
    context = run_mde(f'{P}-get-file-statistics', file_hash=sha1).context
    stats = context['MicrosoftATP']['FileStatistics']['Statistics']
    assert stats['OrganizationPrevalence'] == int(stats['OrgPrevalence']) >= 1
    assert stats['GloballyPrevalence'] == int(stats['GlobalPrevalence'])
    file = next(f for f in as_list(context['File']) if f.get('SHA1') == sha1)
    assert file['OrganizationPrevalence'] == stats['OrganizationPrevalence']
    assert file['GlobalPrevalence'] == stats['GloballyPrevalence']
    assert file['OrganizationFirstSeen'] == stats['OrgFirstSeen'] and file['OrganizationLastSeen'] == stats['OrgLastSeen']
    assert file['FirstSeenBySource'] == stats['GlobalFirstObserved']
    assert file['LastSeenBySource'] == stats['GlobalLastObserved']
    ip = run_mde(f'{P}-get-ip-statistics', ip='198.51.100.23').context['MicrosoftATP']['IPStatistics']
    assert ip['IPAddress'] == ip['Statistics']['IPAddress'] == '198.51.100.23'
    assert ip['Statistics']['OrganizationPrevalence'] == int(ip['Statistics']['OrgPrevalence']) >= 1


def test_software_and_live_response_records_are_whole(run_mde, mde):
    """Given software and a finished live response action, When they are read, Then every field Microsoft sends is
    in the context (the official integration writes these records as they come)."""
    software = as_list(run_mde(f'{P}-list-software', limit='5').context['MicrosoftATP']['Software'])
    assert all({'id', 'name', 'vendor', 'weaknesses', 'exposedMachines', 'impactScore'} <= set(s) for s in software)
    url, ca = mde
    target = next(m['id'] for m in admin(url, 'GET', '/mde/machines', verify=ca) if not m['broken'])
    action = run_mde(f'{P}-live-response-put-file', machine_id=target, comment='e2e',
                     file_name='tools.zip').context['MicrosoftATP']['LiveResponseAction']
    assert action['requestSource'] and action['status'] == 'Succeeded'
    assert action['commands'][0]['command']['type'] == 'PutFile'
