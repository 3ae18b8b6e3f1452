"""Drop-in compatibility suite: our integration YAMLs against the official integrations' recorded interface.

`Tests/compat/official/<Integration>.json` records, from the newest official YAML in demisto/content (repository,
path and commit in each file's ``source``), every command's name, deprecated and execution flags, every argument's
required / default-argument / isArray / deprecated flags, predefined values and defaultValue, and every output's
context path and type. Interface facts only: no descriptions.

A difference is *breaking* when a playbook, a task or a war-room line written for the official integration would
stop working or change meaning with ours:

- a command, an argument or a predefined value the official has and we do not;
- an argument we require that the official leaves optional;
- a lost default-argument flag (``!cmd value`` stops binding to the argument) or ``isArray`` (lists stop splitting);
- a lost ``execution: true`` (the server stops asking for confirmation of a potentially harmful action);
- a different defaultValue (a task relying on the default gets another behaviour);
- an output path the official declares and we neither declare nor list below with a reason.

Everything else (our extra commands, arguments and outputs, type spellings, deprecation we have not followed) is
reported for information only. Run ``python Tests/compat/test_compat.py`` for the full report.

The runtime half is ``Tests/e2e/test_e2e_output_coverage.py``: every command runs against the seeded emulator and
each official output path (less DROPPED) must be written with a value of the official type, unless WRITTEN_WHEN
names the state in which Microsoft alone fills it.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL = Path(__file__).resolve().parent / 'official'

MDE = 'MicrosoftDefenderAdvancedThreatProtection'
M365D = 'Microsoft365Defender'
INDICATOR_COMMANDS = ('microsoft-atp-indicator-list', 'microsoft-atp-indicator-get-by-id', 'microsoft-atp-indicator-update',
                      'microsoft-atp-indicator-create-file')
MACHINE_IP_COMMANDS = ('microsoft-atp-get-machine-by-ip', 'endpoint')
KB_FIELDS = ('id', 'name', 'osBuild', 'productsNames', 'url', 'machineMissedOn', 'cveAddressed')

# Output paths the official YAML declares that we deliberately do not declare: typos of the official YAML that its
# code never writes (we declare the path the code does write), or paths no official code writes. Keyed by
# (integration, command, path), one line of reason each.
DROPPED: dict[tuple[str, str, str], str] = {
    **{(MDE, 'microsoft-atp-list-missing-kb-by-software', f'MicMicrosoftATP.SoftwareKB.{field}'):
       'official YAML typo of the prefix; we write and declare MicrosoftATP.SoftwareKB.' + field for field in KB_FIELDS},
    (MDE, 'microsoft-atp-get-file-related-machines', 'MicrosoftATP.FileMachine.Machines.HelathStatus'):
        'official YAML typo; we write and declare MicrosoftATP.FileMachine.Machines.HealthStatus',
    (MDE, 'microsoft-atp-get-file-related-machines', 'MicrosoftATP.Machine.OSProcessor'):
        'official YAML slip (wrong prefix in a FileMachine list); we declare MicrosoftATP.FileMachine.Machines.OSProcessor',
    (MDE, 'microsoft-atp-get-user-machines', 'MicrosoftATP.v.Machines.LastIPAddress'):
        'official YAML typo; we write and declare MicrosoftATP.UserMachine.Machines.LastIPAddress',
    **{(MDE, command, 'MicrosoftATP.Machine.IPAddresses.MACAddress'):
       'official YAML spelling; the ipAddresses entries carry macAddress (as its siblings ipAddress, type, '
       'operationalStatus keep the API case), which we declare' for command in MACHINE_IP_COMMANDS},
    **{(MDE, command, path): 'never written by the official code: its File indicator for a Graph tiIndicator takes '
       'name, size, path and the MD5/SHA1/SHA256 hash only' for command in INDICATOR_COMMANDS
       for path in ('File.SHA512', 'File.Type')},
    (M365D, 'microsoft-365-defender-advanced-hunting', 'Microsoft365Defender.Hunt.results.'):
        'official YAML typo (trailing dot); we declare Microsoft365Defender.Hunt.results',
    **{(MDE, 'microsoft-atp-get-machine-details', f'MicrosoftATP.Machine.NetworkInterfaces.{field}'):
       'never in the official context: its code builds the network interfaces for the war-room table only and writes '
       "the API's ipAddresses as IPAddresses, which we write too" for field in ('MACAddress', 'IPAddresses', 'Type', 'Status')},
    (MDE, 'microsoft-atp-live-response-result', 'MicrosoftATP.LiveResponseAction'):
        'official YAML slip, never written by its code (read at 0115b0b0eecae3339ba373b57aa38eab1f189052, the newest '
        'stored): the command writes MicrosoftATP.LiveResponseResult, the script result fields (which we write too) or, '
        'for a file, {value: download link}, a bearer SAS link we never write (we attach the file; README)',
    (MDE, 'microsoft-atp-get-alert-related-ips', 'MicrosoftATP.AlertIP.IPs.IpAddress'):
        'never written by the official code: IPs is a list of address strings (the API items\' id), which we write too',
    (MDE, 'microsoft-atp-get-alert-related-domains', 'MicrosoftATP.AlertDomain.Domains.Domain'):
        'never written by the official code: Domains is a list of host name strings (the API items\' host), as ours',
    (MDE, 'microsoft-atp-indicator-create-network', 'File.Name'):
        'never written by the official code: a network indicator gives a Domain, IP or URL standard output, no File',
    **{(MDE, 'microsoft-atp-offboard-machine', f'MicrosoftATP.OffboardMachine.{field}'):
       'never written by the official code: it writes the PascalCase action fields only, and these have none'
       for field in ('cancellationDateTimeUtc', 'troubleshootInfo')},
}

# Output paths both integrations declare that hold a value only in a state the runtime coverage runs
# (Tests/e2e/test_e2e_output_coverage.py) do not create: the official code writes them from Microsoft's record, where
# Microsoft fills them only then, and ours writes them the same way. Keyed like DROPPED; each reason names the state.
# The coverage test fails on an entry whose path its runs do write (the entry is then stale).
ACTION_COMMANDS = tuple(f'microsoft-atp-{name}' for name in (
    'run-antivirus-scan', 'restrict-app-execution', 'remove-app-restriction', 'isolate-machine', 'unisolate-machine',
    'collect-investigation-package'))
NO_FILE = "Microsoft fills an action's relatedFileInfo only for stop-and-quarantine (which writes it)"
NO_SCOPE = 'Microsoft sets scope only for isolation (Full or Selective) and antivirus scans (Quick or Full)'
ENDS_IN_ERROR = ', for which the command ends in an error (as the official), so it is empty whenever it is written'
LIVE_RESPONSE_NULLS = {
    'cancellationRequestor': 'a cancelled action' + ENDS_IN_ERROR, 'cancellationComment': 'a cancelled action' +
    ENDS_IN_ERROR, 'cancellationDateTimeUtc': 'a cancelled action' + ENDS_IN_ERROR,
    'commands.errors': 'a failed command' + ENDS_IN_ERROR, 'troubleshootInfo': 'a failed action' + ENDS_IN_ERROR,
    'scope': 'an isolation or a scan', 'relatedFileInfo': 'a stop-and-quarantine action',
    'externalId': 'an action whose requester gave an external ID (the official commands send none)'}
GRAPH_INDICATOR_COMMANDS = ('microsoft-atp-indicator-create-file', 'microsoft-atp-indicator-create-network',
                            'microsoft-atp-indicator-list', 'microsoft-atp-indicator-get-by-id',
                            'microsoft-atp-indicator-update')
GRAPH_NETWORK_FIELDS = ('domainName', 'url', 'userAgent', 'networkCidrBlock', 'networkIPv4', 'networkIPv6', 'networkPort',
                        'networkProtocol', *(f'network{side}{field}' for side in ('Source', 'Destination')
                                             for field in ('Asn', 'CidrBlock', 'IPv4', 'IPv6', 'Port')))
GRAPH_FILE_FIELDS = tuple(f'file{field}' for field in ('CompileDateTime', 'CreatedDateTime', 'HashType', 'HashValue',
                                                        'MutexName', 'Name', 'Packer', 'Path', 'Size', 'Type'))
WRITTEN_WHEN: dict[tuple[str, str, str], str] = {
    **{(MDE, command, f'MicrosoftATP.MachineAction.RelatedFileInfo.{field}'): NO_FILE
       for command in ACTION_COMMANDS for field in ('FileIdentifier', 'FileIdentifierType')},
    **{(MDE, f'microsoft-atp-{name}', 'MicrosoftATP.MachineAction.Scope'): NO_SCOPE
       for name in ('restrict-app-execution', 'remove-app-restriction', 'unisolate-machine', 'stop-and-quarantine-file',
                    'collect-investigation-package')},
    (MDE, 'microsoft-atp-offboard-machine', 'MicrosoftATP.OffboardMachine.Scope'): NO_SCOPE,
    (MDE, 'microsoft-atp-offboard-machine', 'MicrosoftATP.OffboardMachine.RelatedFileInfo'): NO_FILE,
    **{(MDE, 'microsoft-atp-start-investigation', f'MicrosoftATP.Investigation.{field}'):
       'an investigation that has just started has not ended, was not cancelled and was not triggered by an alert '
       '(list-investigations writes these for the seeded ones)' for field in ('EndTime', 'CancelledBy', 'TriggeringAlertID')},
    (MDE, 'microsoft-atp-get-alert-by-id', 'MicrosoftATP.Alert.Evidence'):
        "Microsoft sends an alert's evidence when the request expands it; list-alerts does, as the official, a single "
        'alert read does not',
    **{(MDE, 'microsoft-atp-create-alert', f'MicrosoftATP.Alert.{field}'):
       'a newly created alert has no incident, investigation, assignee, classification, determination, threat family, '
       'resolution or comment yet' for field in ('IncidentID', 'InvestigationID', 'AssignedTo', 'Classification',
                                                   'Determination', 'ThreatFamilyName', 'ResolvedTime', 'Comments.Comment',
                                                   'Comments.CreatedBy', 'Comments.CreatedTime')},
    **{(MDE, 'microsoft-atp-list-software', f'MicrosoftATP.Software.{field}'):
       "not in Microsoft's documented software resource; the official writes the record as sent and so do we, so a "
       'value appears when the service sends one' for field in ('installedMachines', 'isNormalized', 'category',
                                                                  'distributions')},
    **{(MDE, command, f'MicrosoftATP.LiveResponseAction.{field}'): f'Microsoft fills it only for {state}'
       for command in ('microsoft-atp-live-response-get-file', 'microsoft-atp-live-response-put-file')
       for field, state in LIVE_RESPONSE_NULLS.items()},
    (MDE, 'microsoft-atp-live-response-run-script', 'MicrosoftATP.LiveResponseAction.script_errors'):
        'empty unless the script writes to its error output',
    **{(MDE, command, f'MicrosoftATP.Indicators.{field}'):
       'set only by other Microsoft Graph clients: no official command argument sends it'
       for command in GRAPH_INDICATOR_COMMANDS
       for field in ('additionalInformation', 'externalId', 'knownFalsePositives', 'vendorInformation')},
    **{(MDE, 'microsoft-atp-indicator-create-file', f'MicrosoftATP.Indicators.{field}'):
       'a file indicator has no network observable (create-network writes these)' for field in GRAPH_NETWORK_FIELDS},
    **{(MDE, 'microsoft-atp-indicator-create-network', f'MicrosoftATP.Indicators.{field}'):
       'a network indicator has no file observable (create-file writes these)' for field in GRAPH_FILE_FIELDS},
    **{(MDE, command, f'MicrosoftATP.Indicators.{field}'):
       'set in the Microsoft Defender portal: no official command argument sends it'
       for command in ('microsoft-atp-sc-indicator-create', 'microsoft-atp-sc-indicator-update',
                       'microsoft-atp-sc-indicator-list', 'microsoft-atp-sc-indicator-get-by-id')
       for field in ('mitreTechniques', 'historicalDetection')},
    **{(M365D, command, 'Microsoft365Defender.Incident.redirectIncidentId'):
       'set only on an incident Microsoft merged into another' for command in (
           'microsoft-365-defender-incidents-list', 'microsoft-365-defender-incident-get',
           'microsoft-365-defender-incident-update')},
}

# Output paths the official declares and our code does not write yet: the value needs runtime work. Empty: the runtime
# value parity work wrote and declared every one (test_allow_lists_are_current fails on an entry whose path is
# declared, so an entry cannot outlive its work). Keyed like DROPPED.
PENDING_RUNTIME_PARITY: dict[tuple[str, str, str], str] = {}

# A defaultValue we declare where the official declares none, accepted because the official code applies the same
# default or the official call cannot work without a value. Keyed by (integration, command, argument) ->
# (official default, ours, reason). An argument the official requires needs no entry: every call passes it.
POLL_DEFAULTS = "the official's description gives the same default (10 s interval, 600 s timeout) applied by its code"
ACCEPTED_DEFAULTS: dict[tuple[str, str, str], tuple[str | None, str | None, str]] = {
    **{(MDE, command, arg): (None, value, POLL_DEFAULTS)
       for command in ('microsoft-atp-live-response-get-file', 'microsoft-atp-live-response-put-file',
                       'microsoft-atp-live-response-run-script',
                       'microsoft-atp-request-and-download-investigation-package')
       for arg, value in (('interval_in_seconds', '10'), ('timeout_in_seconds', '600'))},
    **{(MDE, command, 'tlp_level'): (None, 'unknown', 'the official sends no tlpLevel, which the Graph tiIndicator '
       'API requires, so its call fails; unknown is the neutral TLP value')
       for command in ('microsoft-atp-indicator-create-file', 'microsoft-atp-indicator-create-network')},
    (MDE, 'microsoft-atp-sc-indicator-list', 'skip'): (None, '0', 'skipping 0 indicators is not skipping'),
    **{(MDE, command, 'generate_alert'): (None, 'true', 'our code sends generateAlert=true when absent; the '
       'official code stored for this suite predates the argument, so its default is unverified (see the README)')
       for command in ('microsoft-atp-sc-indicator-create', 'microsoft-atp-sc-indicator-update')},
}


@dataclass(frozen=True)
class Difference:
    integration: str
    command: str
    kind: str
    detail: str
    breaking: bool

    def __str__(self) -> str:
        return f'{"BREAKING" if self.breaking else "info    "}  {self.command}: {self.kind}: {self.detail}'


def official_integrations() -> list[str]:
    return sorted(p.stem for p in OFFICIAL.glob('*.json'))


@cache
def load_official(integration: str) -> dict:
    return json.loads((OFFICIAL / f'{integration}.json').read_text())


@cache
def load_ours(integration: str) -> dict[str, dict]:
    """Our commands by name, arguments and outputs by name, from Packs/*/Integrations/<integration>/<integration>.yml."""
    matches = list(ROOT.glob(f'Packs/*/Integrations/{integration}/{integration}.yml'))
    assert len(matches) == 1, f'expected one YAML for {integration}, found {matches}'
    data = yaml.safe_load(matches[0].read_text())
    commands = {}
    for command in data['script']['commands']:
        commands[command['name']] = {
            'deprecated': bool(command.get('deprecated')),
            'execution': bool(command.get('execution')),
            'arguments': {a['name']: a for a in command.get('arguments') or []},
            'outputs': {o['contextPath']: o.get('type', '') for o in command.get('outputs') or []},
        }
    return commands


def _default(value) -> str | None:
    """YAML defaultValue as the server sees it: a string, or None when absent or empty."""
    if value is None or value == '':
        return None
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def compare_argument(integration: str, command: str, name: str, official: dict, ours: dict | None) -> list[Difference]:
    def diff(kind: str, detail: str, breaking: bool = True) -> Difference:
        return Difference(integration, command, kind, f'{name}: {detail}', breaking)

    if ours is None:
        return [diff('missing argument', 'not declared')]
    found = []
    if ours.get('required') and not official.get('required'):
        found.append(diff('argument now required', 'optional in the official'))
    if official.get('default') and not ours.get('default'):
        found.append(diff('lost default-argument flag', '`!cmd value` no longer binds to it'))
    if official.get('isArray') and not ours.get('isArray'):
        found.append(diff('lost isArray', 'a list is no longer split'))
    missing_values = [v for v in official.get('predefined', []) if v not in (ours.get('predefined') or [])]
    if missing_values:
        found.append(diff('missing predefined values', ', '.join(missing_values)))
    theirs_default, our_default = _default(official.get('defaultValue')), _default(ours.get('defaultValue'))
    if theirs_default != our_default and not official.get('required'):
        equivalent = ACCEPTED_DEFAULTS.get((integration, command, name))
        accepted = equivalent is not None and equivalent[:2] == (theirs_default, our_default)
        found.append(diff('different defaultValue', f'official {theirs_default!r}, ours {our_default!r}'
                          + (f' (accepted: {equivalent[2]})' if accepted else ''), breaking=not accepted))
    return found


def compare_command(integration: str, name: str, official: dict, ours: dict | None) -> list[Difference]:
    if ours is None:
        return [Difference(integration, name, 'missing command', 'not declared', True)]
    found = []
    if official.get('execution') and not ours['execution']:
        found.append(Difference(integration, name, 'lost execution flag', 'official asks for confirmation', True))
    if official.get('deprecated') and not ours['deprecated']:
        found.append(Difference(integration, name, 'not deprecated', 'deprecated in the official', False))
    for arg_name, arg in official['arguments'].items():
        found += compare_argument(integration, name, arg_name, arg, ours['arguments'].get(arg_name))
    for path, official_type in official['outputs'].items():
        key = (integration, name, path)
        if path in ours['outputs']:
            our_type = ours['outputs'][path]
            if official_type and our_type and official_type.lower() != our_type.lower():
                found.append(Difference(integration, name, 'output type', f'{path}: official {official_type}, '
                                        f'ours {our_type}', False))
        elif key in DROPPED:
            found.append(Difference(integration, name, 'output dropped', f'{path} ({DROPPED[key]})', False))
        elif key in PENDING_RUNTIME_PARITY:
            found.append(Difference(integration, name, 'output pending runtime parity',
                                    f'{path} ({PENDING_RUNTIME_PARITY[key]})', False))
        else:
            found.append(Difference(integration, name, 'missing output', path, True))
    return found


def compare(integration: str) -> list[Difference]:
    official = load_official(integration)['commands']
    ours = load_ours(integration)
    found = []
    for name, command in official.items():
        found += compare_command(integration, name, command, ours.get(name))
    for name in sorted(set(ours) - set(official)):
        found.append(Difference(integration, name, 'extra command', 'not in the official', False))
    return found


def report(differences: list[Difference]) -> str:
    breaking = [d for d in differences if d.breaking]
    lines = [f'{len(breaking)} breaking difference(s), {len(differences) - len(breaking)} informational']
    lines += [str(d) for d in sorted(differences, key=lambda d: (not d.breaking, d.command, d.kind, d.detail))]
    return '\n'.join(lines)


@pytest.mark.parametrize('integration', official_integrations())
def test_drop_in_interface(integration):
    """Given the official integration's recorded interface, When our YAML is compared with it, Then there is no
    breaking difference (the message lists every difference, breaking ones first)."""
    differences = compare(integration)
    assert not [d for d in differences if d.breaking], f'{integration}: ' + report(differences)


@pytest.mark.parametrize('integration', official_integrations())
def test_recorded_source(integration):
    """Given a recorded interface, Then it names the official repository, path and commit it was read from."""
    source = load_official(integration)['source']
    assert source['repo'] == 'demisto/content'
    assert source['path'].endswith(f'{integration}.yml')
    assert len(source['commit']) == 40


def test_allow_lists_are_current():
    """Given the allow-lists, Then every DROPPED or pending entry names an official output that we still do not
    declare, every WRITTEN_WHEN entry one that we declare (stale entries hide nothing and must go), and each has a
    reason."""
    stale = []
    for (integration, command, path), reason in WRITTEN_WHEN.items():
        assert reason.strip(), (integration, command, path)
        if path not in load_official(integration)['commands'][command]['outputs'] or \
                path not in load_ours(integration)[command]['outputs']:
            stale.append((integration, command, path))          # not an official path we declare: DROPPED's case
    for table in (DROPPED, PENDING_RUNTIME_PARITY):
        for (integration, command, path), reason in table.items():
            official = load_official(integration)['commands']
            ours = load_ours(integration)
            assert reason.strip(), (integration, command, path)
            if path not in official.get(command, {}).get('outputs', {}) or path in ours.get(command, {}).get('outputs', {}):
                stale.append((integration, command, path))
    for (integration, command, arg), (theirs, mine, reason) in ACCEPTED_DEFAULTS.items():
        official = load_official(integration)['commands'][command]['arguments'][arg]
        ours = load_ours(integration)[command]['arguments'][arg]
        assert reason.strip(), (integration, command, arg)
        if (_default(official.get('defaultValue')), _default(ours.get('defaultValue'))) != (theirs, mine):
            stale.append((integration, command, arg))
    assert not stale, f'allow-list entries to remove: {stale}'



def test_checker_flags_every_kind_of_breaking_difference():
    """Given a command whose copy lost each interface fact in turn, When it is compared, Then each loss is breaking
    and named; extras on our side are not."""
    official = {'execution': True, 'arguments': {
        'machine_id': {'required': False, 'default': True, 'isArray': True},
        'kind': {'predefined': ['Full', 'Selective'], 'defaultValue': 'Full'},
        'ran_once_flag': {'deprecated': True}}, 'outputs': {'X.ID': 'String', 'X.Name': 'String'}}
    ours = {'execution': False, 'deprecated': False, 'arguments': {
        'machine_id': {'name': 'machine_id', 'required': True},
        'kind': {'name': 'kind', 'predefined': ['Full'], 'defaultValue': 'Selective'},
        'extra': {'name': 'extra'}}, 'outputs': {'X.ID': 'String', 'X.Extra': 'String'}}
    found = compare_command('Fake', 'fake-command', official, ours)
    assert {d.kind for d in found if d.breaking} == {
        'lost execution flag', 'argument now required', 'lost default-argument flag', 'lost isArray',
        'missing predefined values', 'different defaultValue', 'missing argument', 'missing output'}
    assert 'missing output' in report(found) and 'X.Name' in report(found)
    assert compare_command('Fake', 'gone', official, None)[0].kind == 'missing command'


def test_checker_ignores_a_default_where_the_official_requires_the_argument():
    """Given an argument the official requires, Then our defaultValue for it breaks nothing: every call passes it."""
    official = {'arguments': {'expiration_time': {'required': True}}, 'outputs': {}}
    ours = {'execution': False, 'deprecated': False, 'outputs': {},
            'arguments': {'expiration_time': {'name': 'expiration_time', 'defaultValue': '14 days'}}}
    assert compare_command('Fake', 'fake-command', official, ours) == []

if __name__ == '__main__':
    names = sys.argv[1:] or official_integrations()
    for integration_name in names:
        sys.stdout.write(f'== {integration_name}\n{report(compare(integration_name))}\n\n')
