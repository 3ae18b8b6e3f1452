"""Every official output path is written at run time: each command of the three integrations runs through xsoar-local
against the seeded emulator with arguments that make it write its full outputs, and every context path the official
YAML declares for it (Tests/compat/official, less the reasoned DROPPED list of Tests/compat/test_compat.py) must be
written by some run of that command with a meaningful value: present and not empty, and every value written there of
the type the official declares (read as loosely as the server reads types; OFFICIAL_TYPE_SLIPS lists the few paths
whose declared type the official code itself does not write). Our own declared types are checked on every run by
``ok``. Paths Microsoft fills only in a state the runs do not create are listed, each with that state, in
WRITTEN_WHEN of Tests/compat/test_compat.py; an entry whose path a run does write fails as stale.

Each scenario runs its commands and checks its own commands, so the module is deterministic and safe under
pytest-xdist (no collection across tests or workers). A meta-test fails when an official command with outputs has no
scenario, so a newly recorded official command cannot go unchecked.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from e2e_runtime import LocalRun, as_list, hunting_evidence, ok

from microsoft_emulator.defender_endpoint.seed import file_hashes
from microsoft_emulator.testing import admin
from xsoar_local.context import written_paths

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'compat'))
from test_compat import DROPPED, M365D, MDE, WRITTEN_WHEN, load_official  # noqa: E402

pytestmark = pytest.mark.e2e

MDTI = 'MicrosoftDefenderThreatIntelligence'
P = 'microsoft-atp'
T = 'msg-defender-threat-intel'
LEGACY = 'Defender XDR API (legacy)'
GRAPH = 'Microsoft Graph security'
CONTAINER = object()            # the value recorded for a path that holds written children
LR_PATH = r'C:\Users\alex\Downloads\invoice.docm'


def _number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(str(value))
    except ValueError:
        return False
    return True


OFFICIAL_TYPE_HOLDS: dict[str, Callable[[Any], bool]] = {
    'number': _number,
    'boolean': lambda v: isinstance(v, bool) or str(v).lower() in ('true', 'false'),
    'date': lambda v: isinstance(v, str | int | float) and not isinstance(v, bool),
    'string': lambda v: v is CONTAINER or isinstance(v, str | int | float | bool),
}


# Official paths whose declared type the official code itself does not write: the value the official writes is
# the reference (and ours writes the same), so the declared type is not checked there. Keyed by (integration, path).
API_BOOLEAN = 'Microsoft sends a boolean, which the official code writes as it comes; its YAML declares Number'
OFFICIAL_TYPE_SLIPS: dict[tuple[str, str], str] = {
    **{(MDE, f'MicrosoftATP.AlertFile.Files.{field}'): API_BOOLEAN for field in ('IsPeFile', 'IsValidCertificate')},
    **{(MDE, f'MicrosoftATP.AlertUser.User.{field}'): API_BOOLEAN for field in ('DomainAdmin', 'NetworkUser')},
    (MDE, 'MicrosoftATP.Indicators.severity'): 'the legacy indicator commands of the official code write the severity '
                                               'by name (Informational to High); its YAML declares Number',
}


def type_holds(value: Any, official_type: str) -> bool:
    """The value has the official declared type, read as loosely as the server reads it: numbers and booleans may
    come as their text, a String may hold any scalar, and only Number, Boolean and Date exclude an object."""
    if value is CONTAINER:
        return official_type.lower() not in ('number', 'boolean', 'date')
    check = OFFICIAL_TYPE_HOLDS.get(official_type.lower())
    return check(value) if check else True


def meaningful(value: Any) -> bool:
    """A value a playbook can use: not missing and not empty (0 and false are values)."""
    return value is CONTAINER or (value is not None and value != '' and value != [] and value != {})


@dataclass
class Recorder:
    """Runs commands of one integration and records, per command, every context path its runs wrote with the values."""

    run_: LocalRun
    instance: Any
    url: str
    ca: str
    written: dict[str, dict[str, list]] = field(default_factory=dict)

    def __call__(self, command: str, **args: str):
        """Run ``command`` to the end (every polling round recorded) and return its final round, which must succeed."""
        rounds = self.run_.run_rounds(self.instance, command, **args)
        for result in rounds:
            for entry in result.entries:
                self._record(command, entry.get('EntryContext'))
        return ok(rounds[-1])

    def _record(self, command: str, entry_context: Any) -> None:
        if not isinstance(entry_context, dict):
            return
        paths = self.written.setdefault(command, {})
        for path, value in written_paths(entry_context):
            parts = path.split('.')
            for cut in range(1, len(parts)):
                paths.setdefault('.'.join(parts[:cut]), []).append(CONTAINER)
            paths.setdefault(path, []).append(value)

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        return admin(self.url, method, path, verify=self.ca, **kwargs)


def missing_outputs(integration: str, command: str, written: dict[str, list]) -> list[str]:
    """The official output paths of ``command`` (less DROPPED) that no run wrote with a meaningful value, values not
    of the official declared type, and the WRITTEN_WHEN entries whose path a run did write (stale)."""
    missing = []
    for path, official_type in load_official(integration)['commands'][command]['outputs'].items():
        key = (integration, command, path)
        if key in DROPPED:
            continue
        values = written.get(path, [])
        found = any(meaningful(v) for v in values)
        if (integration, path) not in OFFICIAL_TYPE_SLIPS:
            wrong = [v if v is not CONTAINER else '<object>' for v in values if meaningful(v)
                     and not type_holds(v, official_type)]
            if wrong:
                missing.append(f'{path}: not of the official type {official_type}: {wrong[:2]!r}')
        if key in WRITTEN_WHEN:
            if found:
                missing.append(f'{path}: written, so its WRITTEN_WHEN entry is stale')
            continue
        if not found:
            shown = [v for v in values if v is not CONTAINER][:2]
            missing.append(f'{path} ({official_type or "no type"}): ' + (f'only {shown!r}' if values else 'never written'))
    return missing


# ---- Defender for Endpoint scenarios ----------------------------------------------------------------------------

def healthy(rec: Recorder) -> list[dict]:
    return [m for m in rec.admin('GET', '/mde/machines') if not m.get('broken')]


def mde_machines(rec: Recorder) -> None:
    target = healthy(rec)[0]
    machine_id = target['id']
    rec(f'{P}-get-machines', hostname=target['computerDnsName'])
    rec(f'{P}-get-machines', page_size='5')
    rec(f'{P}-get-machine-details', machine_id=machine_id)
    rec(f'{P}-get-machine-by-ip', ip=target['lastIpAddress'], timestamp='2 hours ago', all_results='true')
    rec('endpoint', id=machine_id)
    rec('endpoint', ip=target['lastIpAddress'])
    rec('endpoint', hostname=target['computerDnsName'])
    users = rec(f'{P}-get-machine-users', machine_id=machine_id).context['MicrosoftATP']['MachineUser']
    rec(f'{P}-add-remove-machine-tag', machine_id=machine_id, action='Add', tag='coverage')
    rec(f'{P}-get-domain-machines', domain='contoso.com')
    rec(f'{P}-get-user-machines', username=as_list(users)[0]['AccountName'])


def mde_files(rec: Recorder) -> None:
    malicious, clean = file_hashes(0), file_hashes(1)       # the seed signs the clean files only
    rec(f'{P}-get-file-statistics', file_hash=malicious[0])
    rec(f'{P}-get-file-info', hash=f'{malicious[0]},{clean[0]}')
    rec(f'{P}-get-file-info', hash=clean[1])
    rec(f'{P}-get-file-related-machines', file_hash=malicious[0])
    rec(f'{P}-get-domain-statistics', domain='contoso.com')
    rec(f'{P}-get-ip-statistics', ip='198.51.100.23')


def mde_actions(rec: Recorder) -> None:
    machine_id = healthy(rec)[0]['id']
    sha1 = file_hashes(0)[0]
    for command, args in [('run-antivirus-scan', {'scan_type': 'Quick'}), ('restrict-app-execution', {}),
                          ('remove-app-restriction', {}), ('isolate-machine', {'isolation_type': 'Selective'}),
                          ('unisolate-machine', {}), ('stop-and-quarantine-file', {'file_hash': sha1})]:
        rec(f'{P}-{command}', machine_id=machine_id, comment='coverage', polling='true', **args)
    collected = rec(f'{P}-collect-investigation-package', machine_id=machine_id, comment='coverage', polling='true')
    action_id = as_list(collected.context['MicrosoftATP']['MachineAction'])[0]['ID']
    rec(f'{P}-get-investigation-package-sas-uri', action_id=action_id)
    rec(f'{P}-request-and-download-investigation-package', machine_id=machine_id, comment='coverage')
    rec(f'{P}-list-machine-actions-details', machine_id=machine_id, limit='50')
    rec(f'{P}-list-machine-actions-details', id=action_id)
    started = rec(f'{P}-start-investigation', machine_id=machine_id, comment='coverage')
    rec(f'{P}-list-investigations', limit='50')
    rec(f'{P}-list-investigations', id=started.context['MicrosoftATP']['Investigation']['ID'])
    rec(f'{P}-offboard-machine', machine_id=healthy(rec)[1]['id'], comment='coverage', polling='true')


def mde_alerts(rec: Recorder) -> None:
    """The seeded alerts cover the states (with an incident, an investigation, a threat family, MITRE techniques);
    one is resolved with a classification and a comment first, so the related-entity lookups find a resolved one."""
    alerts = as_list(rec(f'{P}-list-alerts', limit='100').context['MicrosoftATP']['Alert'])
    target = next(a for a in alerts if a.get('IncidentID') and a.get('InvestigationID') and a.get('ThreatFamilyName'))
    alert_id, machine_id = target['ID'], target['MachineID']
    rec(f'{P}-update-alert', alert_id=alert_id, status='Resolved', assigned_to='analyst@contoso.onmicrosoft.com',
        classification='TruePositive', determination='Malware', comment='handled')
    fields = ('MitreTechniques', 'RelatedUser', 'ThreatFamilyName', 'InvestigationID')
    others = [next((a['ID'] for a in alerts if a.get(f)), None) for f in fields]
    rec(f'{P}-get-alert-by-id', alert_ids=','.join(dict.fromkeys([alert_id, *filter(None, others)])))
    user = rec(f'{P}-get-alert-related-user', id=alert_id).context['MicrosoftATP']['AlertUser']
    files = rec(f'{P}-get-alert-related-files', id=alert_id).context['MicrosoftATP']['AlertFile']
    for other in [a['ID'] for a in alerts[:10]]:
        rec(f'{P}-get-alert-related-files', id=other)
    ips = rec(f'{P}-get-alert-related-ips', id=alert_id).context['MicrosoftATP']['AlertIP']
    domains: list = []
    for candidate in [alert_id, *(a['ID'] for a in alerts)]:            # the first alert with a related domain
        domains = as_list(rec(f'{P}-get-alert-related-domains', id=candidate).context['MicrosoftATP']['AlertDomain']
                          .get('Domains') or [])
        if domains:
            break
    rec(f'{P}-get-file-alerts', file_hash=as_list(files['Files'])[0]['Sha1'])
    rec(f'{P}-get-ip-alerts', ip=as_list(ips['IPs'])[0])
    rec(f'{P}-get-domain-alerts', domain=domains[0])
    rec(f'{P}-get-user-alerts', username=user['User']['AccountName'])
    rec(f'{P}-get-machine-alerts', machine_id=machine_id)
    rec(f'{P}-create-alert', machine_id=machine_id, severity='High', title='coverage', description='raised for coverage',
        recommended_action='look', event_time='2 hours ago', report_id='4711', category='Malware')


GRAPH_COMMON = {'action': 'block', 'description': 'coverage', 'threat_type': 'Malware', 'expiration_time': '30 days',
                'severity': 'High', 'confidence': '80', 'tags': 'coverage', 'tlp_level': 'amber'}
GRAPH_FILE = {'file_compile_date_time': '2024-01-01T00:00:00Z', 'file_created_date_time': '2024-01-02T00:00:00Z',
              'file_mutex_name': 'Global\\coverage', 'file_name': 'bad.exe', 'file_packer': 'UPX',
              'file_path': r'C:\bad.exe', 'file_size': '1024', 'file_type': 'PortableExecutable'}
GRAPH_NETWORK = {'domain_name': 'bad.example', 'network_cidr_block': '203.0.113.0/24', 'network_destination_asn': '64500',
                 'network_destination_cidr_block': '198.51.100.0/24', 'network_destination_ipv4': '198.51.100.10',
                 'network_destination_ipv6': '2001:db8::10', 'network_destination_port': '443',
                 'network_ipv4': '203.0.113.7', 'network_ipv6': '2001:db8::7', 'network_port': '8443',
                 'network_protocol': '6', 'network_source_asn': '64501', 'network_source_cidr_block': '192.0.2.0/24',
                 'network_source_ipv4': '192.0.2.7', 'network_source_ipv6': '2001:db8::1', 'network_source_port': '50000',
                 'url': 'https://bad.example/x', 'user_agent': 'coverage-agent'}


def mde_graph_indicators(rec: Recorder) -> None:
    """A file indicator per hash type with every file property, and one network indicator with every network
    property; each is read, listed and updated."""
    made = []
    for hash_type, value in (('sha256', 'ab' * 32), ('sha1', 'cd' * 20), ('md5', 'ef' * 16)):
        created = rec(f'{P}-indicator-create-file', file_hash_type=hash_type, file_hash_value=value, **GRAPH_COMMON,
                      **GRAPH_FILE)
        made.append(as_list(created.context['MicrosoftATP']['Indicators'])[0]['id'])
    for observables in (GRAPH_NETWORK, {'network_ipv4': '203.0.113.8'}, {'url': 'https://bad.example/y'}):
        network = rec(f'{P}-indicator-create-network', **{**GRAPH_COMMON, 'threat_type': 'C2'}, **observables)
        made.append(as_list(network.context['MicrosoftATP']['Indicators'])[0]['id'])
    rec(f'{P}-indicator-list', limit='50')
    for indicator_id in made:
        rec(f'{P}-indicator-get-by-id', indicator_id=indicator_id)
        rec(f'{P}-indicator-update', indicator_id=indicator_id, expiration_time='30 days', severity='Low',
            description='updated')
    rec(f'{P}-indicator-delete', indicator_id=made[0])


SC_VALUES = {'FileSha1': file_hashes(0)[0], 'FileSha256': file_hashes(0)[1], 'FileMd5': file_hashes(0)[2],
             'IpAddress': '198.51.100.77', 'Url': 'https://bad.example/payload', 'DomainName': 'evil.example'}
SC_COMMON = {'action': 'Block', 'indicator_description': 'coverage', 'indicator_title': 'coverage', 'severity': 'High',
             'expiration_time': '30 days', 'indicator_application': 'app', 'recommended_actions': 'look',
             'rbac_group_names': 'all', 'generate_alert': 'true'}


def mde_sc_indicators(rec: Recorder) -> None:
    """One indicator of each type, created, updated, read and listed; a batch with an item Microsoft refuses."""
    ids = []
    for indicator_type, value in SC_VALUES.items():
        created = rec(f'{P}-sc-indicator-create', indicator_value=value, indicator_type=indicator_type, **SC_COMMON)
        ids.append(str(as_list(created.context['MicrosoftATP']['Indicators'])[0]['id']))
        rec(f'{P}-sc-indicator-update', indicator_value=value, indicator_type=indicator_type,
            **{**SC_COMMON, 'action': 'Audit', 'severity': 'Low'})
    rec(f'{P}-sc-indicator-list', limit='50')
    for indicator_id in ids:
        rec(f'{P}-sc-indicator-get-by-id', indicator_id=indicator_id)
    rec(f'{P}-indicator-batch-update', indicator_batch='[{"indicatorValue": "1.2.3.4", "indicatorType": "IpAddress", '
        '"action": "Audit", "title": "t", "description": "d"}, {"indicatorValue": "not an address", '
        '"indicatorType": "IpAddress", "action": "Audit", "title": "t", "description": "d"}]')
    rec(f'{P}-sc-indicator-delete', indicator_id=ids[0])


def mde_tvm(rec: Recorder) -> None:
    rec(f'{P}-list-software', limit='50')
    rec(f'{P}-list-machines-by-software', id='google-_-chrome')
    rec(f'{P}-list-software-version-distribution', id='google-_-chrome')
    rec(f'{P}-list-missing-kb-by-software', id='microsoft-_-windows_11')
    rec(f'{P}-list-vulnerabilities-by-software', id='google-_-chrome')
    listed = rec(f'{P}-list-vulnerabilities', limit='50')
    cve = as_list(listed.context['MicrosoftATP']['Vulnerability'])[0]['id']
    rec(f'{P}-list-machines-by-vulnerability', cve_id=cve)
    rec(f'{P}-list-vulnerabilities-by-machine', limit='100')


HUNTING_PURPOSES = {
    'lateral-movement-evidence': ('network_connections', 'smb_connections', 'credential_dumping', 'management_connection'),
    'persistence-evidence': ('scheduled_job', 'registry_entry', 'startup_folder_changes', 'new_service_created',
                             'service_updated', 'file_replaced', 'new_user', 'new_group', 'group_user_change',
                             'local_firewall_change', 'host_file_change'),
    'file-origin': (None,),
    'process-details': ('parent_process', 'grandparent_process', 'process_details', 'beaconing_evidence',
                        'powershell_execution_unsigned_files', 'process_excecution_powershell'),
    'network-connections': ('external_addresses', 'dns_query', 'encoded_commands'),
    'privilege-escalation': (None,), 'tampering': (None,),
    'cover-up': ('file_deleted', 'event_log_cleared', 'compromised_information', 'connected_devices', 'action_types',
                 'common_files'),
}


def mde_hunting(rec: Recorder) -> None:
    """Every query purpose of every templated hunting command, over telemetry holding its kind of evidence."""
    host = healthy(rec)[0]['computerDnsName']
    user = 'mallory'
    for table, rows in hunting_evidence(host, user).items():
        rec.admin('POST', '/mde/hunting-rows', json={'table': table, 'rows': rows})
    rec(f'{P}-advanced-hunting', query='DeviceInfo | take 3')
    for kind, purposes in HUNTING_PURPOSES.items():
        for purpose in purposes:
            args = {'device_name': host}
            if purpose:
                args['query_purpose'] = purpose
            if purpose == 'registry_entry':
                args['process_cmd'] = 'reg.exe'
            if purpose in ('compromised_information', 'connected_devices'):
                args['username'] = user
            rec(f'{P}-advanced-hunting-{kind}', **args)


def mde_live_response(rec: Recorder) -> None:
    machine_id = healthy(rec)[0]['id']
    got = rec(f'{P}-live-response-get-file', machine_id=machine_id, comment='coverage', path=LR_PATH)
    rec(f'{P}-live-response-result', machine_action_id=got.context['MicrosoftATP']['LiveResponseAction']['id'],
        command_index='0')
    rec(f'{P}-live-response-run-script', machine_id=machine_id, comment='coverage', scriptName='minidump.ps1',
        arguments='OfficeClickToRun')
    rec(f'{P}-live-response-put-file', machine_id=machine_id, comment='coverage', file_name='tools.zip')


# ---- Microsoft 365 Defender and Defender Threat Intelligence scenarios --------------------------------------------

def m365d_incidents(rec: Recorder) -> None:
    listed = rec('microsoft-365-defender-incidents-list', limit='50')
    incident_id = str(as_list(listed.context['Microsoft365Defender']['Incident'])[0]['incidentId'])
    rec('microsoft-365-defender-incident-update', id=incident_id, status='InProgress', classification='TruePositive',
        determination='Malware', tags='coverage', comment='coverage', assigned_to='analyst@contoso.onmicrosoft.com')
    rec('microsoft-365-defender-incident-get', id=incident_id)          # now assigned and commented
    rec('microsoft-365-defender-advanced-hunting', query='AlertInfo | take 100', limit='3')


def mdti_commands(rec: Recorder) -> None:
    rec(f'{T}-article-list', limit='3')
    rec(f'{T}-article-indicators-list', article_id='a3f1c2d4', limit='5')
    rec(f'{T}-profile-list', limit='10')
    rec(f'{T}-profile-indicators-list', intel_profile_id='example-blizzard')
    rec(f'{T}-host', host_id='fake-malicious.site')
    rec(f'{T}-host-whois', host_id='contoso.com')
    rec(f'{T}-host-whois-history', host_id='fake-malicious.site')
    rec(f'{T}-host-reputation', host_id='fake-malicious.site')


@dataclass(frozen=True)
class Scenario:
    integration: str
    run: Callable[[Recorder], None]
    commands: tuple[str, ...]              # the commands whose official outputs this scenario must write
    instance: dict[str, Any] = field(default_factory=dict)
    reset: str | None = None               # the emulator admin reset to run first


def _mde(run: Callable[[Recorder], None], *commands: str) -> Scenario:
    return Scenario(MDE, run, commands, reset='/mde/reset')


SCENARIOS: dict[str, Scenario] = {
    'mde-machines': _mde(mde_machines, f'{P}-get-machines', f'{P}-get-machine-details', f'{P}-get-machine-by-ip',
                         'endpoint', f'{P}-get-machine-users', f'{P}-add-remove-machine-tag',
                         f'{P}-get-domain-machines', f'{P}-get-user-machines'),
    'mde-files': _mde(mde_files, f'{P}-get-file-statistics', f'{P}-get-file-info', f'{P}-get-file-related-machines',
                      f'{P}-get-domain-statistics', f'{P}-get-ip-statistics'),
    'mde-actions': _mde(mde_actions, f'{P}-run-antivirus-scan', f'{P}-restrict-app-execution',
                        f'{P}-remove-app-restriction', f'{P}-isolate-machine', f'{P}-unisolate-machine',
                        f'{P}-stop-and-quarantine-file', f'{P}-collect-investigation-package',
                        f'{P}-get-investigation-package-sas-uri', f'{P}-request-and-download-investigation-package',
                        f'{P}-list-machine-actions-details', f'{P}-start-investigation', f'{P}-list-investigations',
                        f'{P}-offboard-machine'),
    'mde-alerts': _mde(mde_alerts, f'{P}-list-alerts', f'{P}-get-alert-by-id', f'{P}-get-alert-related-user',
                       f'{P}-get-alert-related-files', f'{P}-get-alert-related-ips', f'{P}-get-alert-related-domains',
                       f'{P}-get-file-alerts', f'{P}-get-ip-alerts', f'{P}-get-domain-alerts', f'{P}-get-user-alerts',
                       f'{P}-get-machine-alerts', f'{P}-create-alert', f'{P}-update-alert'),
    'mde-graph-indicators': _mde(mde_graph_indicators, f'{P}-indicator-create-file', f'{P}-indicator-create-network',
                                 f'{P}-indicator-list', f'{P}-indicator-get-by-id', f'{P}-indicator-update'),
    'mde-sc-indicators': _mde(mde_sc_indicators, f'{P}-sc-indicator-create', f'{P}-sc-indicator-update',
                              f'{P}-sc-indicator-list', f'{P}-sc-indicator-get-by-id', f'{P}-indicator-batch-update'),
    'mde-tvm': _mde(mde_tvm, f'{P}-list-software', f'{P}-list-machines-by-software',
                    f'{P}-list-software-version-distribution', f'{P}-list-missing-kb-by-software',
                    f'{P}-list-vulnerabilities-by-software', f'{P}-list-vulnerabilities',
                    f'{P}-list-machines-by-vulnerability', f'{P}-list-vulnerabilities-by-machine'),
    'mde-hunting': _mde(mde_hunting, f'{P}-advanced-hunting',
                        *(f'{P}-advanced-hunting-{kind}' for kind in HUNTING_PURPOSES)),
    'mde-live-response': _mde(mde_live_response, f'{P}-live-response-get-file', f'{P}-live-response-result',
                              f'{P}-live-response-run-script', f'{P}-live-response-put-file'),
    **{f'm365d-{name}': Scenario(M365D, m365d_incidents, (
        'microsoft-365-defender-incidents-list', 'microsoft-365-defender-incident-get',
        'microsoft-365-defender-incident-update', 'microsoft-365-defender-advanced-hunting'),
        instance={'api_backend': backend}, reset='/xdr/reset') for name, backend in (('graph', GRAPH), ('legacy', LEGACY))},
    'mdti': Scenario(MDTI, mdti_commands, tuple(f'{T}-{name}' for name in (
        'article-list', 'article-indicators-list', 'profile-list', 'profile-indicators-list', 'host', 'host-whois',
        'host-whois-history', 'host-reputation'))),
}


def test_every_official_command_with_outputs_has_a_scenario():
    """Given the recorded official interfaces, Then each command that declares an output path not on the DROPPED or
    WRITTEN_WHEN lists is checked by a scenario (a newly recorded command cannot go unchecked)."""
    checked = {(s.integration, c) for s in SCENARIOS.values() for c in s.commands}
    unchecked = []
    for integration in (MDE, M365D, MDTI):
        for command, spec in load_official(integration)['commands'].items():
            paths = [p for p in spec['outputs'] if (integration, command, p) not in DROPPED.keys() | WRITTEN_WHEN.keys()]
            if paths and (integration, command) not in checked:
                unchecked.append((integration, command))
    assert not unchecked


def test_checker_reports_missing_empty_mistyped_and_stale():
    """Given recorded runs, Then a path never written, written empty or of another type than the official one fails,
    and so does a WRITTEN_WHEN path that was written; objects count as values where the official declares none."""
    sas = f'{P}-get-investigation-package-sas-uri'
    assert missing_outputs(MDE, sas, {}) == ['MicrosoftATP.InvestigationURI.Link (String): never written']
    assert 'only' in missing_outputs(MDE, sas, {'MicrosoftATP.InvestigationURI.Link': ['']})[0]
    assert missing_outputs(MDE, sas, {'MicrosoftATP.InvestigationURI.Link': ['https://x']}) == []
    software = {f'MicrosoftATP.SoftwareVersion.{f}': [v] for f, v in (('version', '1.0'), ('installations', 'many'),
                                                                       ('vulnerabilities', 0))}
    found = missing_outputs(MDE, f'{P}-list-software-version-distribution', software)
    assert found == ["MicrosoftATP.SoftwareVersion.installations: not of the official type Number: ['many']"]
    started = {f'MicrosoftATP.Investigation.{f}': ['x'] for f in ('ID', 'StartTime', 'EndTime', 'State', 'StatusDetails',
                                                                  'MachineID', 'ComputerDNSName')}
    assert missing_outputs(MDE, f'{P}-start-investigation', started) == [
        'MicrosoftATP.Investigation.EndTime: written, so its WRITTEN_WHEN entry is stale']
    assert meaningful(False) and meaningful(0) and meaningful(CONTAINER) and not meaningful([])
    assert type_holds('3', 'Number') and not type_holds(CONTAINER, 'Date') and type_holds(CONTAINER, 'Unknown')


@pytest.mark.parametrize('name', list(SCENARIOS))
def test_official_outputs_are_written(local_run, e2e_emulator, monkeypatch, name):
    """Given the seeded emulator, When the scenario's commands run through xsoar-local, Then each command wrote every
    official output path (less DROPPED) with a meaningful value."""
    scenario = SCENARIOS[name]
    url, ca = e2e_emulator.url, str(e2e_emulator.ca_path)
    if scenario.reset:
        admin(url, 'POST', scenario.reset, verify=ca)
    if scenario.integration == MDE:
        admin(url, 'POST', '/mde/settings', verify=ca, json={'action_step_seconds': 0.05})
    run = local_run(scenario.integration)
    rec = Recorder(run, run.instance('client-secret', **scenario.instance), url, ca)
    scenario.run(rec)
    missing = {command: missing_outputs(scenario.integration, command, rec.written.get(command, {}))
               for command in scenario.commands}
    missing = {command: paths for command, paths in missing.items() if paths}
    assert not missing, '\n'.join(f'{command}:\n  ' + '\n  '.join(paths) for command, paths in missing.items())
