"""Deterministic data for the Defender for Endpoint store: machines (names, IPs, OS, tags, logged-on users), the
files/domains/IPs observed on them, alerts with evidence, indicators, investigations, and the advanced hunting rows
derived from all of it.

Everything is a pure function of an index (and the anchor time), so the same seed always yields the same data.
Seeded machines whose index is 12 modulo 13 (the 13th, 26th, 39th...) are *broken*: their machine actions fail.
"""
from __future__ import annotations

from typing import Any

from ..core.clock import TICKS_PER_SECOND, now_ticks
from ..core.directory import USERS
from ..core.ids import guid, hex_digest, mix
from .store import Investigation, Machine, MdeStore, Observation

DEFAULT_MACHINES = 40
DEFAULT_ALERTS = 30
MAX_GENERATE = 100_000
DOMAIN = 'contoso.local'
AAD_DOMAIN = 'contoso.onmicrosoft.com'
BROKEN_EVERY = 13
DAY = 86400 * TICKS_PER_SECOND
MINUTE = 60 * TICKS_PER_SECOND

# (osPlatform, osVersion, osBuild, osProcessor, version, osArchitecture, name prefix)
PLATFORMS = [
    ('Windows11', None, 22631, 'x64', '23H2', '64-bit', 'ws'),
    ('Windows10', None, 19045, 'x64', '22H2', '64-bit', 'ws'),
    ('WindowsServer2022', None, 20348, 'x64', '21H2', '64-bit', 'srv'),
    ('Windows11', None, 22621, 'x64', '22H2', '64-bit', 'lt'),
    ('WindowsServer2019', None, 17763, 'x64', '1809', '64-bit', 'srv'),
    ('Windows10', None, 19044, 'x64', '21H2', '64-bit', 'lt'),
    ('Linux', 'Ubuntu 22.04', None, 'x64', '22.04', '64-bit', 'lnx'),
    ('macOS', '14.5', None, 'arm64', '14.5', '64-bit', 'mac'),
]
RBAC_GROUPS = [(1, 'Workstations'), (2, 'Servers'), (3, 'Executives'), (4, 'Linux fleet')]
TAG_POOL = ['Finance', 'HR', 'VIP', 'Lab', 'PCI', 'Remote']
HEALTH = ['Active'] * 7 + ['Inactive', 'ImpairedCommunication', 'NoSensorData']
RISK = ['None', 'Informational', 'Low', 'Low', 'Medium', 'Medium', 'High']
EXPOSURE = ['Low', 'Medium', 'Medium', 'High', 'None']

FILE_NAMES = [('mimikatz.exe', 'C:\\Users\\Public'), ('invoice_2026.docm', 'C:\\Users\\alex\\Downloads'),
              ('svch0st.exe', 'C:\\ProgramData'), ('payload.dll', 'C:\\Windows\\Temp'),
              ('update.ps1', 'C:\\Windows\\Temp'), ('rclone.exe', 'C:\\Tools'), ('psexec.exe', 'C:\\Tools'),
              ('cobalt.bin', 'C:\\Users\\Public\\Music'), ('setup_x64.msi', 'C:\\Users\\alex\\Downloads'),
              ('chrome_installer.exe', 'C:\\Users\\megan\\Downloads'), ('ransom_note.txt', 'C:\\Users\\Public'),
              ('lsass.dmp', 'C:\\Windows\\Temp')]
DOMAINS = ['malicious-updates.example', 'login-micros0ft.example', 'cdn.badcdn.example', 'paste.evil.example',
           'contoso.com', 'download.windowsupdate.com', 'tracker.adnet.example', 'c2.darkhost.example']
EXTERNAL_IPS = ['198.51.100.23', '198.51.100.77', '203.0.113.45', '203.0.113.200', '192.0.2.10', '192.0.2.99',
                '8.8.8.8', '1.1.1.1']

# (title, category, detectionSource, severity, threatFamilyName, mitreTechniques, detectorId seed)
ALERT_TEMPLATES = [
    ('Suspicious PowerShell command line', 'Execution', 'WindowsDefenderAtp', 'Medium', None, ['T1059.001']),
    ("'Mimikatz' credential theft tool", 'CredentialAccess', 'WindowsDefenderAv', 'High', 'Mimikatz', ['T1003.001']),
    ('Ransomware behavior detected in the file system', 'Ransomware', 'WindowsDefenderAtp', 'High', 'Ryuk',
     ['T1486']),
    ('Suspicious connection blocked by network protection', 'CommandAndControl', 'WindowsDefenderSmartScreen', 'Low',
     None, ['T1071.001']),
    ('An active Cobalt Strike malware was detected', 'Malware', 'WindowsDefenderAv', 'High', 'CobaltStrike',
     ['T1055', 'T1105']),
    ('Custom TI indicator matched: known-bad file', 'SuspiciousActivity', 'CustomerTI', 'Medium', None, []),
    ('Lateral movement using PsExec', 'LateralMovement', 'WindowsDefenderAtp', 'Medium', None, ['T1021.002',
                                                                                             'T1569.002']),
    ('Suspicious scheduled task', 'Persistence', 'CustomDetection', 'Low', None, ['T1053.005']),
    ('Potentially unwanted application', 'UnwantedSoftware', 'WindowsDefenderAv', 'Informational', 'Bundler', []),
    ('Automated investigation: malicious file remediated', 'Malware', 'AutomatedInvestigation', 'Medium', None,
     ['T1204.002']),
]
STATUSES = ['New', 'New', 'New', 'InProgress', 'Resolved']


def machine_id(i: int) -> str:
    return hex_digest(f'mde-machine{i}', 40)


def make_machine(i: int, anchor: int) -> Machine:
    h = mix(i + 7)
    platform, os_version, build, processor, version, arch, prefix = PLATFORMS[i % len(PLATFORMS)]
    group_id, group_name = RBAC_GROUPS[3] if prefix in ('lnx', 'mac') else RBAC_GROUPS[1] if prefix == 'srv' \
        else RBAC_GROUPS[2] if i % 9 == 4 else RBAC_GROUPS[0]
    tags = [TAG_POOL[(h >> 8) % len(TAG_POOL)]] if h % 3 == 0 else []
    if h % 7 == 0:
        tags.append(TAG_POOL[(h >> 16) % len(TAG_POOL)])
    first_seen = anchor - (30 + (h >> 4) % 300) * DAY
    last_seen = anchor - ((h >> 12) % 240) * MINUTE
    users = []
    for k in range(1 + (h >> 20) % 3):
        user = USERS[(i + k * 7) % len(USERS)]
        users.append({
            'id': f'{DOMAIN.split(".")[0]}\\{user.account_name}', 'accountName': user.account_name,
            'accountDomain': DOMAIN.split('.')[0], 'accountSid': user.sid, 'firstSeen': first_seen + k * DAY,
            'lastSeen': last_seen - k * MINUTE * 17, 'mostPrevalentMachineId': None,
            'leastPrevalentMachineId': None, 'logonTypes': 'Interactive' if k == 0 else 'Network',
            'logOnMachinesCount': 1 + (h >> (24 + k)) % 4, 'isDomainAdmin': user.account_name.startswith('adele'),
            'isOnlyNetworkUser': k > 0 and (h >> 30) % 2 == 0,
        })
    return Machine(
        id=machine_id(i), computer_dns_name=f'contoso-{prefix}-{i:04d}.{DOMAIN}', first_seen=first_seen,
        last_seen=last_seen, os_platform=platform, os_version=os_version, os_processor=processor, version=version,
        os_build=build, last_ip=f'10.{1 + i // 64000}.{(i // 250) % 256}.{i % 250 + 2}',
        last_external_ip=f'203.0.113.{i % 250 + 1}', agent_version=f'10.8{i % 10}{(h >> 3) % 10}.{build or 0}.1000',
        health_status=HEALTH[(h >> 5) % len(HEALTH)] if i % BROKEN_EVERY != BROKEN_EVERY - 1 else 'Active',
        rbac_group_id=group_id, rbac_group_name=group_name, risk_score=RISK[(h >> 9) % len(RISK)],
        exposure_level=EXPOSURE[(h >> 11) % len(EXPOSURE)],
        aad_device_id=guid(f'mde-aad{i}') if prefix in ('ws', 'lt') else None, os_architecture=arch,
        mac_address=hex_digest(f'mac{i}', 12).upper(), tags=tags, logon_users=users,
        broken=i % BROKEN_EVERY == BROKEN_EVERY - 1)


def file_hashes(n: int) -> tuple[str, str, str]:
    return hex_digest(f'mde-file{n}-sha1', 40), hex_digest(f'mde-file{n}-sha256', 64), hex_digest(f'mde-file{n}-md5', 32)


def _observe(store: MdeStore, anchor: int) -> None:
    """The files, domains and IPs seen on the machines (a deterministic subset each)."""
    ids = list(store.machines)
    store.files.clear()
    store.domains.clear()
    store.ips.clear()
    if not ids:
        return
    for n, (name, folder) in enumerate(FILE_NAMES):
        sha1, sha256, md5 = file_hashes(n)
        count = 1 + n % 4
        seen_on = [ids[(n * 5 + k * 3) % len(ids)] for k in range(min(count, len(ids)))]
        h = mix(n + 101)
        malicious = n in (0, 2, 3, 7, 10, 11)
        info = {
            'sha1': sha1, 'sha256': sha256, 'md5': md5, 'globalPrevalence': 10 + h % 2_000_000,
            'globalFirstObserved': anchor - (400 + n * 11) * DAY, 'globalLastObserved': anchor - (n % 5) * DAY,
            'size': 10_000 + (h >> 8) % 5_000_000, 'fileType': None if name.endswith('.txt') else 'PortableExecutable'
            if name.endswith(('.exe', '.dll')) else None, 'isPeFile': name.endswith(('.exe', '.dll')),
            'filePublisher': None if malicious else 'Contoso Ltd.', 'fileProductName': None if malicious else
            name.split('.')[0], 'signer': None if malicious else 'Contoso Ltd.',
            'issuer': None if malicious else 'Contoso Code Signing CA', 'signerHash': None if malicious else
            hex_digest(f'signer{n}', 40), 'isValidCertificate': not malicious,
            'determinationType': 'Malware' if malicious else 'Clean',
            'determinationValue': f'Trojan:Win32/{name.split(".")[0].capitalize()}!ml' if malicious else '',
            'topFileNames': [name] + ([name.upper()] if n % 2 else []), 'fileName': name, 'folder': folder,
        }
        observation = Observation(sha1, seen_on, anchor - (20 + n) * DAY, anchor - n * MINUTE * 37, info)
        for key in (sha1, sha256, md5):
            store.files[key] = observation
    for n, domain in enumerate(DOMAINS):
        seen_on = [ids[(n * 7 + k) % len(ids)] for k in range(min(1 + n % 3, len(ids)))]
        store.domains[domain] = Observation(domain, seen_on, anchor - (10 + n) * DAY, anchor - n * MINUTE * 11)
    for n, ip in enumerate(EXTERNAL_IPS):
        seen_on = [ids[(n * 11 + k) % len(ids)] for k in range(min(1 + n % 4, len(ids)))]
        store.ips[ip] = Observation(ip, seen_on, anchor - (5 + n) * DAY, anchor - n * MINUTE * 13)


def alert_id(n: int) -> str:
    return f'da{638_400_000_000_000_000 + n * 1_000_003:018d}_{-(mix(n) % 2_000_000_000)}'


def make_alert(n: int, machine: Machine, created: int, store: MdeStore) -> dict[str, Any]:
    h = mix(n + 5000)
    title, category, source, severity, family, techniques = ALERT_TEMPLATES[h % len(ALERT_TEMPLATES)]
    status = STATUSES[(h >> 8) % len(STATUSES)]
    user = machine.logon_users[0] if machine.logon_users else None
    file_n = (h >> 16) % len(FILE_NAMES)
    sha1, sha256, _ = file_hashes(file_n)
    file_name, folder = FILE_NAMES[file_n]
    first_event = created - (1 + (h >> 20) % 50) * MINUTE
    resolved = created + 3 * 3600 * TICKS_PER_SECOND if status == 'Resolved' else None
    investigation_id = 1000 + n if source in ('WindowsDefenderAtp', 'AutomatedInvestigation') else None
    evidence = [
        {'entityType': 'File', 'evidenceCreationTime': created, 'sha1': sha1, 'sha256': sha256, 'fileName': file_name,
         'filePath': folder, 'processId': None, 'processCommandLine': None, 'processCreationTime': None,
         'parentProcessId': None, 'parentProcessCreationTime': None, 'parentProcessFileName': None,
         'parentProcessFilePath': None, 'ipAddress': None, 'url': None, 'registryKey': None, 'registryHive': None,
         'registryValueType': None, 'registryValue': None, 'registryValueName': None, 'accountName': None,
         'domainName': None, 'userSid': None, 'aadUserId': None, 'userPrincipalName': None,
         'detectionStatus': 'Detected' if status != 'Resolved' else 'Prevented'},
        {'entityType': 'Process', 'evidenceCreationTime': created, 'sha1': sha1, 'sha256': sha256,
         'fileName': file_name, 'filePath': folder, 'processId': 1000 + h % 60000,
         'processCommandLine': f'"{file_name}" /q', 'processCreationTime': first_event,
         'parentProcessId': 500 + (h >> 4) % 5000, 'parentProcessCreationTime': first_event - MINUTE,
         'parentProcessFileName': 'explorer.exe', 'parentProcessFilePath': 'C:\\Windows', 'ipAddress': None,
         'url': None, 'registryKey': None, 'registryHive': None, 'registryValueType': None, 'registryValue': None,
         'registryValueName': None, 'accountName': user['accountName'] if user else None,
         'domainName': user['accountDomain'] if user else None, 'userSid': user['accountSid'] if user else None,
         'aadUserId': None, 'userPrincipalName': f"{user['accountName']}@{AAD_DOMAIN}" if user else None,
         'detectionStatus': 'Detected'},
    ]
    if user:
        evidence.append({**{k: None for k in evidence[0]}, 'entityType': 'User', 'evidenceCreationTime': created,
                         'accountName': user['accountName'], 'domainName': user['accountDomain'],
                         'userSid': user['accountSid'], 'aadUserId': guid(f"aad-{user['accountName']}"),
                         'userPrincipalName': f"{user['accountName']}@{AAD_DOMAIN}"})
    return {
        'id': alert_id(n), 'incidentId': 5000 + n // 2, 'investigationId': investigation_id,
        'assignedTo': None if status == 'New' else f'secop{1 + h % 3}@{AAD_DOMAIN}', 'severity': severity,
        'status': status, 'classification': 'TruePositive' if status == 'Resolved' else None,
        'determination': 'Malware' if status == 'Resolved' else None,
        'investigationState': 'SuccessfullyRemediated' if investigation_id and status == 'Resolved' else
        'Running' if investigation_id else 'UnsupportedAlertType',
        'detectionSource': source, 'detectorId': guid(f'detector-{title}'), 'category': category,
        'threatFamilyName': family, 'title': title,
        'description': f'{title} was observed on {machine.computer_dns_name}.',
        'alertCreationTime': created, 'firstEventTime': first_event, 'lastEventTime': created - MINUTE,
        'lastUpdateTime': resolved or created, 'resolvedTime': resolved, 'machineId': machine.id,
        'computerDnsName': machine.computer_dns_name, 'rbacGroupName': machine.rbac_group_name,
        'aadTenantId': store.tenant_id, 'threatName': f'Trojan:Win32/{family}' if family else None,
        'mitreTechniques': list(techniques),
        'relatedUser': {'userName': user['accountName'], 'domainName': user['accountDomain'].upper()} if user
        else None,
        'loggedOnUsers': [{'accountName': u['accountName'], 'domainName': u['accountDomain'].upper()}
                          for u in machine.logon_users],
        'comments': [{'comment': 'Looking into it', 'createdBy': f'secop1@{AAD_DOMAIN}', 'createdTime': created + MINUTE}]
        if status == 'InProgress' else [],
        'evidence': evidence,
    }


def add_machines(store: MdeStore, count: int) -> tuple[int, int]:
    if not 0 <= count <= MAX_GENERATE:
        raise ValueError(f'machines must be between 0 and {MAX_GENERATE}')
    with store.lock:
        first = len(store.machines)
        while machine_id(first) in store.machines:
            first += 1
        for i in range(first, first + count):
            store.add_machine(make_machine(i, store.hunting_anchor))
        _observe(store, store.hunting_anchor)
        store.bump()
        return first, first + count - 1


def add_alerts(store: MdeStore, count: int, *, end: int | None = None, spacing_seconds: float = 600,
               tie_every: int = 0, tie_size: int = 0) -> list[str]:
    """``count`` alerts on the existing machines, created ``spacing_seconds`` apart and ending at ``end`` (default:
    now), oldest first. With ``tie_every``/``tie_size``: every ``tie_every``-th alert starts a run of ``tie_size``
    alerts created at the same instant."""
    if not 0 <= count <= MAX_GENERATE:
        raise ValueError(f'alerts must be between 0 and {MAX_GENERATE}')
    with store.lock:
        machines = list(store.machines.values())
        if not machines and count:
            raise ValueError('there are no machines to raise alerts on')
        end = (now_ticks() if end is None else end) // 10_000 * 10_000      # millisecond precision
        spacing = int(spacing_seconds * TICKS_PER_SECOND)
        base = len(store.alerts)
        while alert_id(base) in store.alerts:
            base += 1
        times: list[int] = []
        run = 0
        for k in range(count):
            if run > 0:
                times.append(times[-1])
                run -= 1
                continue
            times.append(end - (count - 1 - k) * spacing)
            if tie_every and tie_size > 1 and k % tie_every == 0:
                run = tie_size - 1
        alerts = [make_alert(base + k, machines[mix(base + k) % len(machines)], t, store)
                  for k, t in enumerate(times)]
        store.add_alerts(alerts)
        return [a['id'] for a in alerts]


INDICATOR_SEED = [
    ('FileSha1', 0, 'AlertAndBlock', 'High', 'Mimikatz binary'),
    ('IpAddress', '198.51.100.23', 'Alert', 'Medium', 'C2 server'),
    ('DomainName', 'malicious-updates.example', 'Block', 'High', 'Fake update site'),
    ('Url', 'http://paste.evil.example/raw/abc', 'Warn', 'Low', 'Paste site payload'),
    ('FileSha256', 2, 'Allowed', 'Informational', 'Approved tool'),
]


def seed_indicators(store: MdeStore, anchor: int) -> None:
    for n, (kind, value, action, severity, title) in enumerate(INDICATOR_SEED):
        if isinstance(value, int):
            sha1, sha256, _ = file_hashes(value)
            value = sha1 if kind == 'FileSha1' else sha256
        created = anchor - (n + 1) * DAY
        store.upsert_indicator({
            'indicatorValue': value, 'indicatorType': kind, 'action': action, 'application': None,
            'source': 'Contoso SOC', 'sourceType': 'User', 'createdBySource': 'Portal',
            'createdBy': f'secop1@{AAD_DOMAIN}', 'createdByDisplayName': 'SecOp One',
            'creationTimeDateTimeUtc': created, 'expirationTime': None, 'lastUpdateTime': created,
            'lastUpdatedBy': f'secop1@{AAD_DOMAIN}', 'severity': severity, 'title': title,
            'description': f'{title} (seeded)', 'recommendedActions': None, 'rbacGroupNames': [],
            'rbacGroupIds': [], 'generateAlert': action in ('Alert', 'AlertAndBlock'), 'externalID': None,
            'mitreTechniques': [], 'category': 1, 'educateUrl': None, 'notificationId': None,
            'notificationSource': None,
        })


def seed_investigations(store: MdeStore, anchor: int) -> None:
    alerts = list(store.alerts.values())
    states = ['SuccessfullyRemediated', 'Benign', 'PartiallyRemediated', 'TerminatedByUser', 'Failed']
    machines = list(store.machines.values())
    for n in range(min(5, len(machines))):
        machine = machines[(n * 3) % len(machines)]
        start = anchor - (n + 2) * DAY
        trigger = next((a['id'] for a in alerts if a['machineId'] == machine.id), None)
        store.add_investigation(Investigation(
            id=0, start=start, machine_id=machine.id, computer_dns_name=machine.computer_dns_name,
            triggering_alert_id=trigger, state=states[n % len(states)], end=start + 2 * 3600 * TICKS_PER_SECOND,
            status_details=None, cancelled_by=f'secop1@{AAD_DOMAIN}' if states[n] == 'TerminatedByUser' else None))


def seed_store(store: MdeStore, spec: dict[str, Any] | None = None) -> None:
    spec = spec or {}
    if 'action_step_seconds' in spec:
        store.settings.action_step_seconds = float(spec['action_step_seconds'])
    add_machines(store, int(spec.get('machines', DEFAULT_MACHINES)))
    anchor = store.hunting_anchor
    if store.machines:
        add_alerts(store, int(spec.get('alerts', DEFAULT_ALERTS)), end=anchor - 5 * MINUTE,
                   spacing_seconds=float(spec.get('alert_spacing_seconds', 3600)))
    seed_indicators(store, anchor)
    seed_investigations(store, anchor)


# ----- advanced hunting rows ----------------------------------------------------------------------------------------

HUNTING_TABLES = ('DeviceInfo', 'DeviceProcessEvents', 'DeviceNetworkEvents', 'DeviceFileEvents',
                  'DeviceRegistryEvents', 'DeviceImageLoadEvents', 'DeviceLogonEvents', 'DeviceEvents', 'AlertInfo')
_PROCESSES = [('powershell.exe', 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0', 'powershell.exe -nop -w hidden -c IEX'),
              ('cmd.exe', 'C:\\Windows\\System32', 'cmd.exe /c whoami /all'),
              ('rundll32.exe', 'C:\\Windows\\System32', 'rundll32.exe payload.dll,Start'),
              ('svchost.exe', 'C:\\Windows\\System32', 'svchost.exe -k netsvcs'),
              ('chrome.exe', 'C:\\Program Files\\Google\\Chrome\\Application', 'chrome.exe --type=renderer')]
_REGISTRY = [('HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run', 'Updater'),
             ('HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\RunOnce', 'Setup'),
             ('HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\EvilSvc', 'ImagePath')]


def short_name(machine: Machine) -> str:
    return machine.computer_dns_name.split('.')[0]


def hunting_tables(store: MdeStore) -> dict[str, list[dict[str, Any]]]:
    """Every MDE hunting table's rows (times as ticks), derived from the machines, observations and alerts."""
    anchor = store.hunting_anchor
    tables: dict[str, list[dict[str, Any]]] = {name: [] for name in HUNTING_TABLES}
    files = [store.files[file_hashes(n)[0]] for n in range(len(FILE_NAMES)) if file_hashes(n)[0] in store.files]
    report = 1
    for i, m in enumerate(store.machines.values()):
        name = short_name(m)
        h = mix(i + 900)
        tables['DeviceInfo'].append({
            'Timestamp': m.last_seen, 'DeviceId': m.id, 'DeviceName': m.computer_dns_name,
            'ClientVersion': m.agent_version, 'PublicIP': m.last_external_ip, 'OSArchitecture': m.os_architecture,
            'OSPlatform': m.os_platform, 'OSBuild': m.os_build, 'OSVersion': m.version,
            'IsAzureADJoined': m.aad_device_id is not None, 'AadDeviceId': m.aad_device_id,
            'MachineGroup': m.rbac_group_name, 'OnboardingStatus': m.onboarding_status,
            'DeviceType': 'Server' if '-srv-' in name else 'Workstation', 'ReportId': report})
        user = m.logon_users[0]['accountName'] if m.logon_users else 'system'
        for k in range(6):
            proc, folder, command = _PROCESSES[(h >> k) % len(_PROCESSES)]
            report += 1
            tables['DeviceProcessEvents'].append({
                'Timestamp': anchor - (k * 97 + i * 13) * MINUTE, 'DeviceId': m.id, 'DeviceName': m.computer_dns_name,
                'ActionType': 'ProcessCreated', 'FileName': proc, 'FolderPath': f'{folder}\\{proc}',
                'SHA1': hex_digest(proc, 40), 'SHA256': hex_digest(proc, 64), 'MD5': hex_digest(proc, 32),
                'ProcessId': 1000 + (h >> k) % 9000, 'ProcessCommandLine': command,
                'ProcessCreationTime': anchor - (k * 97 + i * 13) * MINUTE, 'AccountDomain': 'contoso', 'AccountName': user,
                'InitiatingProcessFileName': 'explorer.exe', 'InitiatingProcessCommandLine': 'explorer.exe',
                'InitiatingProcessId': 400 + k, 'ReportId': report})
        for k in range(4):
            report += 1
            remote = EXTERNAL_IPS[(i + k) % len(EXTERNAL_IPS)]
            tables['DeviceNetworkEvents'].append({
                'Timestamp': anchor - (k * 61 + i * 7) * MINUTE, 'DeviceId': m.id, 'DeviceName': m.computer_dns_name,
                'ActionType': 'ConnectionSuccess' if k % 3 else 'ConnectionFailed', 'RemoteIP': remote,
                'RemotePort': 443 if k % 2 else 80, 'RemoteUrl': DOMAINS[(i + k) % len(DOMAINS)], 'LocalIP': m.last_ip,
                'LocalPort': 49152 + (h >> k) % 10000, 'Protocol': 'Tcp', 'RemoteIPType': 'Public',
                'InitiatingProcessFileName': 'chrome.exe', 'InitiatingProcessSHA1': hex_digest('chrome.exe', 40),
                'InitiatingProcessSHA256': hex_digest('chrome.exe', 64),
                'InitiatingProcessMD5': hex_digest('chrome.exe', 32), 'ReportId': report})
        for k in range(3):
            report += 1
            obs = files[(i + k) % len(files)] if files else None
            info = obs.extra if obs else {}
            tables['DeviceFileEvents'].append({
                'Timestamp': anchor - (k * 43 + i * 5) * MINUTE, 'DeviceId': m.id, 'DeviceName': m.computer_dns_name,
                'ActionType': ('FileCreated', 'FileModified', 'FileRenamed')[k], 'FileName': info.get('fileName'),
                'FolderPath': info.get('folder'), 'SHA1': info.get('sha1'), 'SHA256': info.get('sha256'),
                'MD5': info.get('md5'), 'FileSize': info.get('size'), 'InitiatingProcessFileName': 'powershell.exe',
                'InitiatingProcessAccountName': user, 'ReportId': report})
        for k in range(2):
            report += 1
            key, value_name = _REGISTRY[(i + k) % len(_REGISTRY)]
            tables['DeviceRegistryEvents'].append({
                'Timestamp': anchor - (k * 71 + i * 3) * MINUTE, 'DeviceId': m.id, 'DeviceName': m.computer_dns_name,
                'ActionType': 'RegistryValueSet', 'RegistryKey': key, 'RegistryValueType': 'String',
                'RegistryValueName': value_name, 'RegistryValueData': 'C:\\ProgramData\\svch0st.exe',
                'InitiatingProcessFileName': 'reg.exe', 'ReportId': report})
        for k, u in enumerate(m.logon_users):
            report += 1
            tables['DeviceLogonEvents'].append({
                'Timestamp': u['lastSeen'], 'DeviceId': m.id, 'DeviceName': m.computer_dns_name,
                'ActionType': 'LogonSuccess', 'LogonType': u['logonTypes'], 'AccountDomain': u['accountDomain'],
                'AccountName': u['accountName'], 'AccountSid': u['accountSid'],
                'RemoteIP': None if k == 0 else f'10.0.0.{k + 10}', 'IsLocalAdmin': u['isDomainAdmin'],
                'ReportId': report})
        for k in range(2):
            report += 1
            tables['DeviceEvents'].append({
                'Timestamp': anchor - (k * 83 + i * 11) * MINUTE, 'DeviceId': m.id, 'DeviceName': m.computer_dns_name,
                'ActionType': ('AntivirusDetection', 'SmartScreenUrlWarning')[k],
                'FileName': FILE_NAMES[(i + k) % len(FILE_NAMES)][0], 'FolderPath': FILE_NAMES[(i + k) % len(
                    FILE_NAMES)][1], 'AccountName': user, 'RemoteUrl': DOMAINS[i % len(DOMAINS)] if k else None,
                'ReportId': report})
    tables['AlertInfo'] = [{
        'Timestamp': a['alertCreationTime'], 'AlertId': a['id'], 'Title': a['title'], 'Category': a['category'],
        'Severity': a['severity'], 'ServiceSource': 'Microsoft Defender for Endpoint',
        'DetectionSource': a['detectionSource'], 'AttackTechniques': str(a['mitreTechniques']).replace("'", '"'),
    } for a in sorted(store.alerts.values(), key=lambda a: a['alertCreationTime'], reverse=True)]
    for table, rows in store.hunting_extra.items():
        tables.setdefault(table, []).extend(rows)
    return tables
