"""Every playbook of the three packs, run to completion with ``xsoar-local playbook run`` against the emulator.

Each case starts the CLI the way a user does (``--json``, polling and loop waits scaled down), on its own state home,
and checks what the playbook leaves behind twice: its declared outputs, and the emulator's ground truth (machines
isolated, alerts resolved, indicators created). Helper sub-playbooks run inside their parents; the last test checks
that the cases reach every playbook of the packs.

Where a task is allowed to fail (``continueonerror``), the case names the failures it expects and why; any other
failed task fails the case. The expected ones are gaps of the emulator, not of the playbooks: its hunting tables
lack some of Microsoft's columns and tables, and its KQL has no ``join``.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from e2e_runtime import as_list

from microsoft_emulator.defender_endpoint.seed import file_hashes
from microsoft_emulator.testing import admin
from xsoar_local.emulator import emulator_env

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name('xsoar-local')


class Runner:
    """Runs playbooks and single commands through the xsoar-local CLI, on one state home, against one emulator."""

    def __init__(self, server, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        home = tmp_path / 'home'
        self.env = {**os.environ, **emulator_env(home, url=server.url, ca=str(server.ca_path)),
                    'XSOAR_LOCAL_HOME': str(home)}

    def argv(self, name: str, incident: dict | None, inputs: dict[str, str]) -> list[str]:
        argv = [str(CLI), 'playbook', 'run', name, '--json', '--time-scale', '0.01']
        if incident is not None:
            path = self.tmp_path / 'incident.json'
            path.write_text(json.dumps(incident))
            argv += ['--incident', str(path)]
        for key, value in inputs.items():
            argv += ['--input', f'{key.replace("__", " ")}={value}']
        return argv

    def __call__(self, name: str, incident: dict | None = None, **inputs: str) -> dict:
        """``--json`` result of ``xsoar-local playbook run``; inputs with a space in their key use ``__``."""
        done = subprocess.run(self.argv(name, incident, inputs), env=self.env, capture_output=True, text=True,
                              timeout=600, check=False)
        return self.result(done.stdout, done.stderr)

    def start(self, name: str, **inputs: str) -> subprocess.Popen:
        return subprocess.Popen(self.argv(name, None, inputs), env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    @staticmethod
    def result(stdout: str, stderr: str) -> dict:
        assert stdout, stderr
        result = json.loads(stdout)
        assert result['state'] == 'completed', (result['error'], stderr[-2000:])
        assert result['undeclared_outputs'] == []         # every path a command wrote is in its YAML
        return result

    def command(self, integration: str, command: str, *args: str) -> dict:
        """The context one command leaves (``xsoar-local run --json``)."""
        done = subprocess.run([str(CLI), 'run', integration, command, *args, '--json'], env=self.env,
                              capture_output=True, text=True, timeout=120, check=True)
        return json.loads(done.stdout)['context']


@pytest.fixture
def playbook(e2e_emulator, tmp_path) -> Runner:
    return Runner(e2e_emulator, tmp_path)


@pytest.fixture
def mde(e2e_emulator) -> Iterator[tuple[str, str]]:
    """The Defender for Endpoint store back to its seed, machine actions a step every 50 ms; the worker's setting is
    restored afterwards for the next module: (emulator URL, CA)."""
    url, ca = e2e_emulator.url, str(e2e_emulator.ca_path)
    before = admin(url, 'GET', '/mde/settings', verify=ca)
    admin(url, 'POST', '/mde/reset', verify=ca)
    admin(url, 'POST', '/mde/settings', verify=ca, json={'action_step_seconds': 0.05})
    yield url, ca
    admin(url, 'POST', '/mde/settings', verify=ca, json=before)


def failures(result: dict) -> dict[tuple[str, str], str]:
    """(playbook, task name) → detail, for every task that failed and was continued."""
    return {(t['playbook'], t['name']): t['detail'] for t in result['tasks'] if t['state'] != 'completed'}


def no_failures(result: dict) -> dict:
    assert not failures(result), failures(result)
    return result


def machines(mde) -> list[dict]:
    url, ca = mde
    return admin(url, 'GET', '/mde/machines', verify=ca)


def machine(mde, health: str = 'Active') -> dict:
    return next(m for m in machines(mde) if m['healthStatus'] == health and not m['broken'])


def truth(mde, machine_id: str) -> dict:
    return next(m for m in machines(mde) if m['id'] == machine_id)


def file_entries(result: dict) -> list[str]:
    return [e['File'] for e in result['war_room'] if isinstance(e, dict) and e.get('Type') == 3]


# ---- Defender for Endpoint: machine actions ---------------------------------------------------------------------

def test_isolate_endpoint(playbook, mde):
    """Given an active machine, an inactive one, an unknown ID and an unknown IP, When the isolate playbook runs,
    Then it isolates the active machine only, waits for the action, and sorts the rest into the official lists."""
    active, inactive = machine(mde), machine(mde, 'Inactive')
    result = no_failures(playbook('Microsoft Defender For Endpoint - Isolate Endpoint',
                                  Device_id=f'{active["id"]}, {inactive["id"]}, 0000', Device_IP='10.250.0.9',
                                  Isolation_type='Selective'))
    out = result['outputs']
    assert out['MicrosoftATP.IsolateList'] == [active['id']]
    assert out['MicrosoftATP.NonIsolateList'] == [inactive['id']]
    assert out['MicrosoftATP.IncorrectIDs'] == ['0000'] and out['MicrosoftATP.IncorrectIPs'] == ['10.250.0.9']
    assert out['MicrosoftATP.MachineAction.Status'] == 'Succeeded'
    assert truth(mde, active['id'])['isolation'] == 'Selective' and not truth(mde, inactive['id'])['isolation']


def test_unisolate_endpoint_by_host_name(playbook, mde):
    """Given an isolated machine named by its host name, When the unisolate playbook runs, Then it is released."""
    target = machine(mde)
    playbook('Microsoft Defender For Endpoint - Isolate Endpoint', Device_id=target['id'])
    assert truth(mde, target['id'])['isolation']
    result = no_failures(playbook('Microsoft Defender For Endpoint - Unisolate Endpoint',
                                  Hostname=target['computerDnsName']))
    assert result['outputs']['MicrosoftATP.UnisolateList'] == [target['id']]
    assert result['outputs']['MicrosoftATP.IncorrectHostnames'] is None
    assert not truth(mde, target['id'])['isolation']


def test_get_machine_action_status_waits_for_the_action(playbook, mde, e2e_emulator):
    """Given a scan that stays Pending until the test steps it, When the status playbook runs, Then it reads the
    action again and again (the loop) until it is final, and returns it with the official output paths.

    No clock decides the outcome: the machine action only advances when the test steps it, which it does once the
    loop has read the action twice."""
    url, ca = mde
    admin(url, 'POST', '/mde/settings', verify=ca, json={'action_step_seconds': 86400})
    context = playbook.command('MicrosoftDefenderAdvancedThreatProtection', 'microsoft-atp-run-antivirus-scan',
                               f'machine_id={machine(mde)["id"]}', 'comment=e2e', 'scan_type=Quick')
    action_id = as_list(context['MicrosoftATP']['MachineAction'])[0]['ID']
    e2e_emulator.log.clear()
    process = playbook.start('Microsoft Defender Advanced Threat Protection Get Machine Action Status',
                             machine_action_id=action_id)
    try:
        while len([e for e in e2e_emulator.requests() if e['method'] == 'GET' and e['path'].endswith(action_id)]) < 3:
            assert process.poll() is None, 'the playbook ended before the action was final'
            time.sleep(0.05)
        admin(url, 'POST', f'/mde/actions/{action_id}/step', verify=ca, json={'steps': 2})
        stdout, stderr = process.communicate(timeout=600)
    finally:
        process.kill()
    result = Runner.result(stdout, stderr)
    assert not failures(result)
    reads = [t for t in result['tasks'] if t['playbook'] == 'MDE - Check Machine Action' and t['kind'] == 'regular']
    assert len(reads) >= 2                                # the loop ran until the action was final
    out = result['outputs']
    assert as_list(out['MicrosoftATP.MachineAction.ID'])[-1] == action_id
    assert as_list(out['MicrosoftATP.MachineAction.Status'])[-1] == 'Succeeded'
    assert as_list(out['MicrosoftATP.MachineAction.Type'])[-1] == 'RunAntiVirusScan'


def test_collect_investigation_package(playbook, mde):
    """Given a machine ID, When the collection playbook runs, Then the package is collected and downloaded."""
    target = machine(mde)
    result = no_failures(playbook('Microsoft Defender For Endpoint - Collect investigation package',
                                  MachineIDs=target['id']))
    action = as_list(result['outputs']['MicrosoftATP.MachineAction'])[-1]
    assert action['Type'] == 'CollectInvestigationPackage' and action['Status'] == 'Succeeded'
    assert file_entries(result)


def test_collect_investigation_package_from_two_machines(playbook, mde):
    """Given two machine IDs, When the collection playbook runs, Then each machine gets its own collection (the
    command takes one machine) and both packages are downloaded."""
    url, ca = mde
    targets = [m['id'] for m in machines(mde) if m['healthStatus'] == 'Active' and not m['broken']][:2]
    result = no_failures(playbook('Microsoft Defender For Endpoint - Collect investigation package',
                                  MachineIDs=','.join(targets)))
    collected = {a['machineId'] for a in admin(url, 'GET', '/mde/actions', verify=ca)
                 if a['type'] == 'CollectInvestigationPackage'}
    assert set(targets) <= collected
    assert len(file_entries(result)) == 2


def test_collect_investigation_package_without_approval_only_reports(playbook, mde):
    """Given AutoCollectinvestigationPackege False, When the playbook runs, Then nothing is collected."""
    url, ca = mde
    before = len(admin(url, 'GET', '/mde/actions', verify=ca))
    result = no_failures(playbook('Microsoft Defender For Endpoint - Collect investigation package',
                                  MachineIDs=machine(mde)['id'], AutoCollectinvestigationPackege='False'))
    assert len(admin(url, 'GET', '/mde/actions', verify=ca)) == before and not file_entries(result)


def test_retrieve_file(playbook, mde):
    """Given two paths and a machine, When the retrieve playbook runs, Then one live response collects each file."""
    target = machine(mde)
    result = no_failures(playbook('MDE - Retrieve File', MachineID=target['id'],
                                  paths='C:\\Windows\\Temp\\a.txt,C:\\Windows\\Temp\\b.txt'))
    assert len(file_entries(result)) == 2
    assert set(as_list(result['outputs']['MicrosoftATP.LiveResponseAction.status'])) == {'Succeeded'}


# ---- Defender for Endpoint: indicators and hunting --------------------------------------------------------------

def indicator_values(playbook_result: dict) -> set[str]:
    return set(as_list(playbook_result['outputs']['MicrosoftATP.Indicators.indicatorValue']))


def test_block_file_sorts_hashes(playbook, mde):
    """Given an MD5, a SHA1, a SHA256 and a value that is no hash, When Block File runs, Then each hash gets a block
    indicator of its type and the other value is ignored."""
    md5, sha1, sha256 = 'a' * 32, 'b' * 40, 'c' * 64
    result = no_failures(playbook('MDE - Block File', Hash=f'{md5},{sha1}, {sha256},not-a-hash',
                                  IndicatorTitle='e2e block', GenerateAlert='false'))
    assert indicator_values(result) == {md5, sha1, sha256}
    indicators = as_list(playbook.command('MicrosoftDefenderAdvancedThreatProtection', 'microsoft-atp-sc-indicator-list',
                                          'limit=200')['MicrosoftATP']['Indicators'])
    blocked = {i['indicatorValue']: i for i in indicators if i['indicatorValue'] in (md5, sha1, sha256)}
    assert {i['indicatorType'] for i in blocked.values()} == {'FileMd5', 'FileSha1', 'FileSha256'}
    assert {(i['action'], i['title'], i['generateAlert']) for i in blocked.values()} == {('Block', 'e2e block', False)}


def test_search_and_block_software(playbook, mde):
    """Given a program that ran on the machines, When Search And Block Software runs, Then each SHA256 it ran with
    is blocked."""
    result = no_failures(playbook('MDE - Search And Block Software', Filename='powershell.exe', TimeFrame='30 days',
                                  Indicator__Expiration='7 days'))
    values = indicator_values(result)
    assert values and all(len(v) == 64 for v in values)


def test_search_and_block_software_nothing_found(playbook, mde):
    """Given a program that never ran, When the playbook runs, Then nothing is blocked and the War Room says so."""
    result = no_failures(playbook('MDE - Search And Block Software', Filename='never-ran.exe'))
    assert not indicator_values(result) - {None}
    assert any('never-ran.exe' in str(e.get('Contents')) for e in result['war_room'] if isinstance(e, dict))


def test_host_advanced_hunting_by_machine(playbook, mde):
    """Given a machine and a file name, When Host Advanced Hunting runs, Then every hunting query runs."""
    target = machine(mde)
    no_failures(playbook('MDE - Host Advanced Hunting', incident={'id': '7', 'name': 'hunt'},
                         DeviceID=target['id'], DeviceName=target['computerDnsName'].split('.')[0]))


def test_host_advanced_hunting_by_file_hash(playbook, mde):
    """Given a known file's SHA1, When Host Advanced Hunting runs, Then the file details are read and every query of
    its sub-playbooks that takes a file runs (the ones that need a machine are skipped)."""
    sha1, _, _ = file_hashes(0)
    result = no_failures(playbook('MDE - Host Advanced Hunting', incident={'id': '7', 'name': 'hunt'},
                                  FileSha1=sha1))
    assert as_list(result['outputs']['MicrosoftATP.File'])[0]['Sha1'] == sha1
    ran = {t['name'] for t in result['tasks']}
    assert {'Connections of the file to public addresses', 'Processes of the file'} <= ran
    assert 'Scheduled tasks created' not in ran


# ---- Defender for Endpoint: incident handling -------------------------------------------------------------------

def mde_incident(mde) -> dict:
    url, ca = mde
    alert = next(a for a in admin(url, 'GET', '/mde/alerts', verify=ca) if a['status'] == 'New')
    return {'id': '42', 'name': 'Malware on a machine', 'alertid': alert['id'], 'deviceid': alert['machineId'],
            'filesha256': 'd' * 64, 'filesha1': 'e' * 40, 'filepath': 'C:\\Users\\Public\\payload.exe'}


def alert_truth(mde, alert_id: str) -> dict:
    url, ca = mde
    return next(a for a in admin(url, 'GET', '/mde/alerts', verify=ca) if a['id'] == alert_id)


def test_true_positive_incident_handling(playbook, mde):
    """Given a confirmed malware incident, When the true positive playbook runs with AutoIsolation, Then the alert is
    resolved, the SHA256 blocked, the SHA1 quarantined, the machine isolated and the incident closed."""
    incident = mde_incident(mde)
    result = no_failures(playbook('MDE - True Positive Incident Handling', incident=incident, AutoIsolation='True',
                                  Reason='Malware'))
    assert alert_truth(mde, incident['alertid'])['status'] == 'Resolved'
    assert truth(mde, incident['deviceid'])['isolation'] == 'Full'
    assert result['incident']['closeReason'] == 'Malware'
    assert 'd' * 64 in {i['indicatorValue'] for i in as_list(result['context']['MicrosoftATP']['Indicators'])}
    names = {t['name'] for t in result['tasks']}
    assert {'Stop and quarantine the files', 'Microsoft Defender For Endpoint - Isolate Endpoint'} <= names
    # The official inputs this playbook does not act on are listed, with their values, for the analyst.
    notes = [str(e.get('Contents')) for e in result['war_room'] if isinstance(e, dict)]
    assert any('does not act on' in n and 'BlockTag=BlockTag' in n for n in notes), notes


def test_false_positive_incident_handling(playbook, mde):
    """Given an isolated machine whose incident was benign, When the false positive playbook runs with
    AutoUnisolation, Then the alert is resolved, the SHA256 allowed, the machine released and the incident closed."""
    incident = mde_incident(mde)
    playbook('Microsoft Defender For Endpoint - Isolate Endpoint', Device_id=incident['deviceid'])
    result = no_failures(playbook('MDE - False Positive Incident Handling', incident=incident,
                                  AutoUnisolation='True', Reason='SecurityTesting'))
    assert alert_truth(mde, incident['alertid'])['status'] == 'Resolved'
    assert not truth(mde, incident['deviceid'])['isolation']
    indicators = as_list(result['context']['MicrosoftATP']['Indicators'])
    assert any(i['indicatorValue'] == 'd' * 64 and i['action'] == 'Allowed' for i in indicators)
    assert result['incident']['closeReason'] == 'SecurityTesting'


def test_malware_investigation_and_response(playbook, mde):
    """Given a malware incident and every activity switched on, When the investigation playbook runs, Then it hunts,
    collects the file and the investigation package, scans, starts an automated investigation and isolates."""
    incident = mde_incident(mde)
    del incident['filesha256'], incident['filesha1']
    result = no_failures(playbook('MDE Malware - Investigation and Response', incident=incident, AutoAVScan='True',
                                  AutoCollectinvestigationPackege='True', AutoAutomatedInvestigation='True',
                                  AutoIsolation='True'))
    ran = {t['playbook'] for t in result['tasks']}
    assert {'MDE - Host Advanced Hunting', 'MDE - Retrieve File',
            'Microsoft Defender For Endpoint - Collect investigation package',
            'Microsoft Defender For Endpoint - Isolate Endpoint'} <= ran
    url, ca = mde
    types = {a['type'] for a in admin(url, 'GET', '/mde/actions', verify=ca) if a['machineId'] == incident['deviceid']}
    assert {'RunAntiVirusScan', 'CollectInvestigationPackage', 'LiveResponse', 'Isolate'} <= types
    assert truth(mde, incident['deviceid'])['isolation']


# ---- Microsoft 365 Defender -------------------------------------------------------------------------------------

def hunt(seeded, tmp_path, query: str) -> list[dict]:
    """The rows of one advanced hunting query, read with the integration itself."""
    url, ca = seeded
    env = {**os.environ, **emulator_env(tmp_path / 'probe', url=url, ca=ca)}
    done = subprocess.run([str(CLI), 'run', 'Microsoft365Defender', 'microsoft-365-defender-advanced-hunting',
                           f'query={query}', '--json'], env=env, capture_output=True, text=True, timeout=120,
                          check=True)
    return as_list(json.loads(done.stdout)['context']['Microsoft365Defender']['Hunt']['results'])


@pytest.fixture
def email_ips(seeded, tmp_path) -> list[str]:
    """Two sender IPs of the seeded EmailEvents table."""
    return [row['SenderIPv4'] for row in hunt(seeded, tmp_path, 'EmailEvents | distinct SenderIPv4 | take 2')]


@pytest.fixture
def email_facts(seeded, tmp_path) -> dict[str, str]:
    """A linked domain, an attachment hash, a clicked domain and a clicked message of the seeded email tables."""
    link = hunt(seeded, tmp_path, 'EmailUrlInfo | where UrlLocation == "Body" | take 1')[0]
    attachment = hunt(seeded, tmp_path, 'EmailAttachmentInfo | take 1')[0]
    click = hunt(seeded, tmp_path, 'UrlClickEvents | take 1')[0]
    message = hunt(seeded, tmp_path, f'EmailEvents | where NetworkMessageId == "{click["NetworkMessageId"]}"')[0]
    return {'domain': link['UrlDomain'], 'sha256': attachment['SHA256'],
            'clicked_domain': click['Url'].removeprefix('https://').split('/')[0],
            'clicked_message': message['InternetMessageId']}


def retrieved(result: dict) -> list[dict]:
    return as_list(result['outputs']['Microsoft365Defender.RetrievedEmails'])


def test_emails_indicators_hunt_by_sender_ip(playbook, email_ips):
    """Given two sender IPs, When Emails Indicators Hunt runs, Then every email sent from them is retrieved once."""
    result = no_failures(playbook('Microsoft 365 Defender - Emails Indicators Hunt', IPAddress=','.join(email_ips)))
    emails = retrieved(result)
    assert emails and {e['SenderIPv4'] for e in emails} <= set(email_ips)
    assert len({e['NetworkMessageId'] for e in emails}) == len(emails)


def test_emails_indicators_hunt_by_domain_and_attachment(playbook, email_facts):
    """Given a linked domain and an attachment hash, When Emails Indicators Hunt runs, Then the emails linking to the
    domain (with their URL) and those carrying the attachment (with its SHA256) are retrieved, joined with their
    message's fields."""
    result = no_failures(playbook('Microsoft 365 Defender - Emails Indicators Hunt', URLDomain=email_facts['domain'],
                                  SHA256=email_facts['sha256']))
    emails = retrieved(result)
    assert any(email_facts['domain'] in str(e.get('Url')) for e in emails)
    assert any(e.get('SHA256') == email_facts['sha256'] for e in emails)
    assert all(e.get('InternetMessageId') and e.get('Subject') for e in emails)


def test_indicators_hunt_runs_the_emails_hunt(playbook, email_ips, email_facts):
    """Given an IP, a domain and a hash, When the official name "Indicators Hunt" is called, Then the emails hunt runs
    with its inputs and its results come back in RetrievedEmails."""
    result = no_failures(playbook('Microsoft 365 Defender - Indicators Hunt', IPAddress=email_ips[0],
                                  URLDomain=email_facts['domain'], SHA256=email_facts['sha256']))
    emails = retrieved(result)
    assert email_ips[0] in {e['SenderIPv4'] for e in emails}
    assert any(e.get('SHA256') == email_facts['sha256'] for e in emails)
    assert 'Microsoft 365 Defender - Emails Indicators Hunt' in {t['name'] for t in result['tasks']}


def test_get_email_url_clicks(playbook, email_facts):
    """Given a clicked domain, When Get Email URL Clicks runs, Then the clicks on it are retrieved with their email's
    fields and the click time."""
    result = no_failures(playbook('Microsoft 365 Defender - Get Email URL Clicks',
                                  URLDomain=email_facts['clicked_domain']))
    clicks = retrieved(result)
    assert clicks and all(email_facts['clicked_domain'] in c['Url'] and c['ClickTimestamp'] for c in clicks)
    assert all(c.get('InternetMessageId') for c in clicks)


def test_threat_hunting_generic(playbook, email_ips, email_facts):
    """Given an IP, a domain, a hash and a message ID, When Threat Hunting Generic runs, Then both sub-playbooks run
    every query and the results of each end up in RetrievedEmails."""
    result = no_failures(playbook('Microsoft 365 Defender - Threat Hunting Generic', IPAddress=email_ips[0],
                                  URLDomain=email_facts['domain'], SHA256=email_facts['sha256'],
                                  MessageID=email_facts['clicked_message']))
    emails = retrieved(result)
    assert email_ips[0] in {e['SenderIPv4'] for e in emails}
    assert any(e.get('SHA256') == email_facts['sha256'] for e in emails)
    assert any(e.get('InternetMessageId') == email_facts['clicked_message'] and e.get('ClickTimestamp')
               for e in emails)


# ---- Defender Threat Intelligence -------------------------------------------------------------------------------

def test_enrich_hosts(playbook, e2e_emulator):
    """Given two hosts, When Enrich Hosts runs, Then each is enriched with its details, reputation and WHOIS."""
    result = no_failures(playbook('Microsoft Defender Threat Intelligence - Enrich Hosts',
                                  Host='contoso.com, phish-login-contoso.com'))
    out = result['outputs']
    assert set(as_list(out['MSGDefenderThreatIntel.Host.id'])) == {'contoso.com', 'phish-login-contoso.com'}
    assert set(as_list(out['MSGDefenderThreatIntel.HostReputation.classification'])) == {'neutral', 'malicious'}
    assert len(as_list(out['MSGDefenderThreatIntel.Whois.registrar'])) == 2


# ---- coverage ---------------------------------------------------------------------------------------------------

def test_every_pack_playbook_runs_here():
    """Given the playbooks the cases above and those of the other ``test_e2e_pack_playbooks*.py`` files run (and the
    sub-playbooks those call), Then every playbook of the packs is among them."""
    library = {pb['name']: pb for pb in (yaml.safe_load(p.read_text()) for p in ROOT.glob('Packs/*/Playbooks/*.yml'))}
    cases = ''.join(p.read_text() for p in sorted(Path(__file__).parent.glob('test_e2e_pack_playbooks*.py')))
    constants = dict(re.findall(r"^([A-Z_]+) = '([^']+)'$", cases, re.MULTILINE))
    todo = re.findall(r"playbook(?:\.start)?\(\s*'([^']+)'", cases)
    todo += [constants[name] for name in re.findall(r"playbook(?:\.start)?\(\s*([A-Z_]+)\b", cases)]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [t['task']['playbookName'] for t in library[name]['tasks'].values() if t['type'] == 'playbook']
    assert set(library) <= seen, sorted(set(library) - seen)
