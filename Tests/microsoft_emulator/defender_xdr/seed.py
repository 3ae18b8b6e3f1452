"""Deterministic data for the incident store and the advanced hunting tables.

``generate(store, count, ...)`` makes realistic incidents: names in Defender's style ("Multi-stage incident involving
Initial access & Execution on one endpoint"), 1-3 alerts from a catalogue of detections, each with its devices,
entities and mailboxes, severities, statuses, classifications, owners, tags and comments. Everything is a pure
function of the incident ID and the times given, so the same call always produces the same incidents. Entities and
devices are shared read-only records from fixed pools, which keeps 10,000 incidents small and quick to build.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.clock import TICKS_PER_SECOND, now_ticks
from ..core.directory import DOMAIN, USERS, User
from ..core.hunting import TABLE_SCHEMAS
from ..core.ids import guid, hex_digest, mix
from .store import Alert, Comment, Incident, XdrStore

MAX_GENERATE = 200_000
ANALYSTS = [f'secop{i}@{DOMAIN}' for i in (1, 2, 3)] + [f'soc.analyst@{DOMAIN}']
PORTAL_ANALYST = f'analyst@{DOMAIN}'

OS = [('Windows11', '22631', '23H2', 'x64'), ('Windows10', '19045', '22H2', 'x64'),
      ('WindowsServer2022', '20348', '21H2', 'x64'), ('WindowsServer2019', '17763', '1809', 'x64'),
      ('Linux', '0', 'Other', 'x64'), ('macOS', '0', 'Other', 'arm64')]


def _device(i: int) -> dict[str, Any]:
    platform, build, version, processor = OS[i % len(OS)]
    kind = 'srv' if platform.startswith('WindowsServer') else 'ws'
    return {
        'mdatpDeviceId': hex_digest(f'device{i}', 40),
        'aadDeviceId': guid(f'aad-device{i}') if i % 3 else None,
        'deviceDnsName': f'contoso-{kind}-{i:03d}.contoso.local',
        'osPlatform': platform,
        'version': version,
        'osProcessor': processor,
        'osBuild': int(build),
        'healthStatus': 'Active' if i % 9 else 'Inactive',
        'riskScore': ('None', 'Low', 'Medium', 'High')[i % 4],
        'rbacGroupName': ('WDATP-Ring0', 'Servers', 'Workstations')[i % 3],
        'rbacGroupId': 9 + i % 3,
        'firstSeen': f'2025-0{1 + i % 9}-{1 + i % 28:02d}T08:{i % 60:02d}:01.933Z',
        'ipAddress': f'10.0.{i // 50}.{10 + i % 50}',
    }


DEVICES = [_device(i) for i in range(40)]
PUBLIC_IPS = [f'{(37 + 13 * i) % 223 + 1}.{(89 + 7 * i) % 250}.{(11 * i) % 250}.{(29 + 17 * i) % 250}' for i in range(60)]
URLS = ['down.esales360.cn', 'login-microsoftonline.support', 'cdn-update.azureedge.example', 'pastebin.example.com',
        'contoso-sharepoint.online-docs.example', 'invoice-portal.example.net', 'raw.githubusercontent.example',
        'tinyurl.example/x7Qa9', 'update.windows-defender.example', 'secure-mail.contoso-payroll.example']
FILES = [('mimikatz.exe', 'C:\\Users\\Public\\Downloads'), ('invoice_0931.docm', 'C:\\Users\\{user}\\Downloads'),
         ('update.ps1', 'C:\\ProgramData\\Temp'), ('rclone.exe', 'C:\\Windows\\Temp'),
         ('beacon.dll', 'C:\\Windows\\System32\\Tasks'), ('psexesvc.exe', 'C:\\Windows'),
         ('payload.hta', 'C:\\Users\\{user}\\AppData\\Local\\Temp'), ('svchosts.exe', 'C:\\ProgramData')]
SUBJECTS = ['[EXTERNAL] Attention', 'Your invoice is ready', 'Action required: password expiry', 'Shared document',
            'Payroll update Q3', 'Voicemail received', 'DocuSign: please sign', 'Urgent wire transfer']


def _entity(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _user_entity(user: User) -> dict[str, Any]:
    return _entity(entityType='User', accountName=user.account_name, domainName='contoso', userSid=user.sid,
                   aadUserId=user.aad_id, userPrincipalName=user.upn)


USER_ENTITIES = [_user_entity(u) for u in USERS]
IP_ENTITIES = [_entity(entityType='Ip', ipAddress=ip) for ip in PUBLIC_IPS]
URL_ENTITIES = [_entity(entityType='Url', url=url) for url in URLS]
FILE_ENTITIES = [
    _entity(entityType='File', sha1=hex_digest(f'file{i}', 40), sha256=hex_digest(f'file{i}', 64),
            fileName=FILES[i % len(FILES)][0],
            filePath=FILES[i % len(FILES)][1].replace('{user}', USERS[i % len(USERS)].account_name),
            deviceId=DEVICES[i % len(DEVICES)]['mdatpDeviceId'])
    for i in range(len(DEVICES) * 2)]
PROCESS_ENTITIES = [
    _entity(entityType='Process', processId=4000 + 37 * i, parentProcessId=700 + 11 * i,
            processCommandLine=('powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoA',
                                'cmd.exe /c whoami /all', 'rundll32.exe beacon.dll,Start',
                                'mimikatz.exe "privilege::debug" "sekurlsa::logonpasswords" exit')[i % 4],
            processCreationTime=f'2025-11-{1 + i % 28:02d}T03:25:38.5269993Z',
            parentProcessCreationTime=f'2025-11-{1 + i % 28:02d}T02:12:32.8616797Z',
            fileName=('powershell.exe', 'cmd.exe', 'rundll32.exe', 'mimikatz.exe')[i % 4],
            filePath='C:\\Windows\\System32', sha1=hex_digest(f'proc{i}', 40),
            deviceId=DEVICES[i % len(DEVICES)]['mdatpDeviceId'])
    for i in range(len(DEVICES) * 2)]
MAILBOX_ENTITIES = [_entity(entityType='Mailbox', userPrincipalName=u.upn, mailboxDisplayName=u.display_name,
                            mailboxAddress=u.upn, aadUserId=u.aad_id) for u in USERS]
MAILMESSAGE_ENTITIES = [
    _entity(entityType='MailMessage', userPrincipalName=USERS[i % len(USERS)].upn,
            sender=f'billing@{URLS[i % len(URLS)].split("/")[0]}', recipient=USERS[i % len(USERS)].upn,
            subject=SUBJECTS[i % len(SUBJECTS)], deliveryAction=('Delivered', 'Junked', 'Blocked')[i % 3])
    for i in range(60)]
MAILCLUSTER_ENTITIES = [_entity(entityType='MailCluster', clusterBy=c) for c in (
    'Subject;P2SenderDomain;ContentType', 'Subject;SenderIp;ContentType',
    'BodyFingerprintBin1;P2SenderDomain;ContentType')]
REGISTRY_ENTITIES = [
    _entity(entityType='Registry', registryHive='HKEY_LOCAL_MACHINE',
            registryKey='SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon',
            registryValueType='String', registryValue='31-00-00-00', deviceId=d['mdatpDeviceId'])
    for d in DEVICES]
MAILBOXES = [{'mailboxDisplayName': u.display_name, 'mailboxPrimaryAddress': u.upn, 'aadUserId': u.aad_id}
             for u in USERS]

CATEGORY_NAMES = {
    'InitialAccess': 'Initial access', 'Execution': 'Execution', 'Persistence': 'Persistence',
    'PrivilegeEscalation': 'Privilege escalation', 'DefenseEvasion': 'Defense evasion',
    'CredentialAccess': 'Credential access', 'Discovery': 'Discovery', 'LateralMovement': 'Lateral movement',
    'Collection': 'Collection', 'CommandAndControl': 'Command and control', 'Exfiltration': 'Exfiltration',
    'Impact': 'Impact', 'Malware': 'Malware', 'SuspiciousActivity': 'Suspicious activity',
}


@dataclass(frozen=True)
class Template:
    title: str
    category: str
    severity: str
    service: str            # SERVICE_SOURCES key
    detection: str          # DETECTION_SOURCES key
    entities: tuple[str, ...]
    description: str
    mitre: tuple[str, ...] = ()
    threat_family: str | None = None
    device: bool = True     # the alert is about an endpoint
    mailbox: bool = False


TEMPLATES = [
    Template("'Mimikatz' hacktool was detected", 'Malware', 'low', 'mde', 'av', ('File', 'User'),
             'Readily available tools, such as hacking programs, can be used by unauthorized individuals to spy on '
             'users.', ('T1003.001',), 'Mimikatz'),
    Template('Suspicious PowerShell command line', 'Execution', 'medium', 'mde', 'edr', ('Process', 'User', 'Url'),
             'A suspicious PowerShell activity was observed on the device.', ('T1059.001',)),
    Template('Suspicious execution of hidden file', 'DefenseEvasion', 'low', 'mde', 'edr', ('File', 'Process'),
             'A hidden file has been launched. This activity could indicate a compromised host.', ('T1564.001',)),
    Template('Ransomware activity', 'Impact', 'high', 'mdca', 'mcas', ('User', 'Ip'),
             'The user manipulated many files with an uncommon extension, which is indicative of a potential '
             'ransomware attack.', ('T1486',), device=False),
    Template('Email reported by user as malware or phish', 'InitialAccess', 'informational', 'mdo', 'mdo',
             ('Mailbox', 'MailMessage', 'MailCluster', 'Ip'),
             'This alert is triggered when any email message is reported as malware or phish by users -V1.0.0.2',
             device=False, mailbox=True),
    Template('Email messages containing malicious URL removed after delivery', 'InitialAccess', 'medium', 'mdo', 'mdo',
             ('Mailbox', 'MailMessage', 'Url'), 'Emails with a malicious URL were delivered and later removed.',
             ('T1566.002',), device=False, mailbox=True),
    Template('Suspected overpass-the-hash attack (Kerberos)', 'LateralMovement', 'high', 'mdi', 'mdi',
             ('User', 'Ip'), 'A user account may have been compromised with an overpass-the-hash attack.',
             ('T1550.002',)),
    Template('Connection to a custom network indicator', 'CommandAndControl', 'medium', 'mde', 'customti',
             ('Url', 'Ip', 'Process'), 'A connection to a custom network indicator was observed.', ('T1071.001',)),
    Template('Anomalous scheduled task', 'Persistence', 'medium', 'mde', 'edr', ('Process', 'Registry'),
             'A scheduled task was created that runs an unusual binary.', ('T1053.005',)),
    Template('Suspicious account discovery', 'Discovery', 'low', 'mde', 'edr', ('Process', 'User'),
             'Commands that enumerate accounts and groups were run.', ('T1087.002',)),
    Template('Possible data exfiltration with rclone', 'Exfiltration', 'high', 'mde', 'edr', ('File', 'Url', 'Ip'),
             'A known data synchronisation tool connected to a cloud storage service.', ('T1567.002',)),
    Template('Unfamiliar sign-in properties', 'InitialAccess', 'medium', 'aadip', 'aadip', ('User', 'Ip'),
             'A sign-in with properties not seen recently for the user.', ('T1078',), device=False),
    Template('Credential theft activity detected', 'CredentialAccess', 'high', 'm365d', 'm365d',
             ('Process', 'User', 'File'), 'Access to the LSASS process memory was observed.', ('T1003',)),
    Template('Privilege escalation using token impersonation', 'PrivilegeEscalation', 'high', 'mde', 'edr',
             ('Process',), 'A process duplicated a privileged token.', ('T1134.001',)),
]

ALERT_PREFIX = {'mde': 'da', 'mdo': 'fa', 'mdca': 'ca', 'mdi': 'aa', 'aadip': 'ad', 'm365d': 'ed'}
RESOLUTIONS = [('truePositive', 'malware'), ('truePositive', 'multiStagedAttack'), ('truePositive', 'phishing'),
               ('truePositive', 'compromisedUser'), ('falsePositive', 'clean'), ('falsePositive', 'insufficientData'),
               ('informationalExpectedActivity', 'securityTesting'),
               ('informationalExpectedActivity', 'lineOfBusinessApplication')]


def _pick(pool: list[Any], h: int, shift: int) -> Any:
    return pool[(h >> shift) % len(pool)]


def _entities(kinds: tuple[str, ...], h: int, device_index: int) -> tuple[dict[str, Any], ...]:
    out = []
    for n, kind in enumerate(kinds):
        s = (h >> (3 * n)) & 0xFFFF
        if kind == 'User':
            out.append(USER_ENTITIES[s % len(USER_ENTITIES)])
        elif kind == 'Ip':
            out.append(IP_ENTITIES[s % len(IP_ENTITIES)])
        elif kind == 'Url':
            out.append(URL_ENTITIES[s % len(URL_ENTITIES)])
        elif kind == 'File':
            out.append(FILE_ENTITIES[device_index + len(DEVICES) * (s % 2)])
        elif kind == 'Process':
            out.append(PROCESS_ENTITIES[device_index + len(DEVICES) * (s % 2)])
        elif kind == 'Mailbox':
            out.append(MAILBOX_ENTITIES[s % len(MAILBOX_ENTITIES)])
        elif kind == 'MailMessage':
            out.append(MAILMESSAGE_ENTITIES[s % len(MAILMESSAGE_ENTITIES)])
        elif kind == 'MailCluster':
            out.append(MAILCLUSTER_ENTITIES[s % len(MAILCLUSTER_ENTITIES)])
        elif kind == 'Registry':
            out.append(REGISTRY_ENTITIES[device_index])
    return tuple(out)


def alert_id(service: str, incident_id: int, n: int, created: int) -> str:
    prefix = ALERT_PREFIX.get(service, 'da')
    if prefix == 'da':
        return f'da{638000000000000000 + created // 1000 % 10 ** 15 + n}_{mix(incident_id * 8 + n) % 2 ** 31 - 2 ** 30}'
    return prefix + guid(f'alert-{incident_id}-{n}')[2:]


def make_alert(template: Template, incident_id: int, n: int, created: int, last_update: int, h: int) -> Alert:
    device_index = (h >> 20) % len(DEVICES)
    devices: tuple[dict[str, Any], ...] = ()
    if template.device:
        devices = (DEVICES[device_index],)
        if (h >> 40) % 5 == 0:
            devices += (DEVICES[(device_index + 7) % len(DEVICES)],)
    mailboxes = (MAILBOXES[(h >> 24) % len(MAILBOXES)],) if template.mailbox else ()
    alert_created = created - (n + 1) * 13_000_000 - (h >> 30) % 9_999_999
    first_activity = alert_created - (60 + (h >> 33) % 3600) * TICKS_PER_SECOND
    service = template.service
    return Alert(
        alert_id=alert_id(service, incident_id, n, alert_created), incident_id=incident_id, title=template.title,
        description=template.description, category=template.category, severity=template.severity, status='new',
        service_source=service, detection_source=template.detection, created=alert_created,
        last_update=max(alert_created, last_update - n * 10_000),
        first_activity=first_activity,
        last_activity=first_activity + ((h >> 36) % 600) * TICKS_PER_SECOND,
        mitre_techniques=template.mitre, threat_family=template.threat_family,
        investigation_id=(h >> 44) % 9000 + 1000 if service == 'mde' and (h >> 50) % 2 else None,
        investigation_state=('Running', 'SuccessfullyRemediated', 'Benign', 'PendingApproval')[(h >> 52) % 4]
        if service == 'mde' and (h >> 50) % 2 else 'UnsupportedAlertType',
        detector_id=guid(f'detector-{template.title}'),
        recommended_actions='Collect artifacts and determine scope. Review the device timeline.',
        devices=devices, entities=_entities(template.entities, h, device_index), mailboxes=mailboxes)


def incident_name(alerts: list[Alert]) -> str:
    endpoints = {d['mdatpDeviceId'] for a in alerts for d in a.devices}
    where = 'on multiple endpoints' if len(endpoints) > 1 else 'on one endpoint' if endpoints else 'involving one user'
    if len(alerts) == 1:
        alert = alerts[0]
        if alert.category == 'Malware':
            return f"{alert.title.replace(' was detected', '')} was detected {where}"
        if not endpoints:
            return f'{alert.title} involving one user'
        return f'{alert.title} {where}'
    categories: list[str] = []
    for alert in alerts:
        name = CATEGORY_NAMES.get(alert.category, alert.category)
        if name not in categories:
            categories.append(name)
    involving = ' & '.join(categories[:2]) if len(categories) > 1 else categories[0]
    sources = ' reported by multiple sources' if len({a.service_source for a in alerts}) > 1 else ''
    if not endpoints:
        return f'Multi-stage incident involving {involving} involving one user{sources}'
    return f'Multi-stage incident involving {involving} {where}{sources}'


def build_incident(store: XdrStore, incident_id: int, created: int, last_update: int,
                   alert_count: int | None = None) -> Incident:
    h = mix(incident_id)
    count = alert_count if alert_count is not None else 1 + (h % 10 > 5) + (h % 10 > 8)
    alerts = []
    for n in range(count):
        hn = mix(h + n)
        alerts.append(make_alert(TEMPLATES[hn % len(TEMPLATES)], incident_id, n, created, last_update, hn))
    severity = max((a.severity for a in alerts), key=('unknown', 'informational', 'low', 'medium', 'high').index)
    roll = (h >> 8) % 100
    status = 'active' if roll < 70 else 'inProgress' if roll < 80 else 'resolved' if roll < 98 else 'redirected'
    incident = Incident(incident_id=incident_id, name=incident_name(alerts), created=created, last_update=last_update,
                        tenant_id=store.tenant_id, status=status, severity=severity, alerts=alerts)
    if len(alerts) > 1:
        incident.description = (f'Microsoft Defender XDR correlated {len(alerts)} alerts into this incident: '
                                + '; '.join(a.title for a in alerts) + '.')
    if status in ('inProgress', 'resolved') or (h >> 16) % 3 == 0:
        incident.assigned_to = _pick(ANALYSTS, h, 18)
    if status == 'redirected':
        incident.redirect_incident_id = incident_id - 1 if incident_id > 1 else None
    if status == 'resolved':
        incident.classification, incident.determination = _pick(RESOLUTIONS, h, 22)
        incident.comments.append(Comment(comment='Resolved after investigation.', created_by=incident.assigned_to or '',
                                         created=last_update))
    elif (h >> 26) % 6 == 0:
        incident.comments.append(Comment(comment='Looking into this.', created_by=_pick(ANALYSTS, h, 28),
                                         created=created + TICKS_PER_SECOND))
    tag_roll = (h >> 34) % 10
    incident.tags = ['Demo'] if tag_roll == 0 else ['Phishing campaign', 'VIP'] if tag_roll == 1 else []
    incident.system_tags = ['Defender Experts'] if (h >> 38) % 25 == 0 else []
    for alert in alerts:
        alert.assigned_to = incident.assigned_to
        if status == 'resolved':
            alert.status, alert.resolved = 'resolved', last_update
            alert.classification, alert.determination = incident.classification, incident.determination
        elif status == 'inProgress':
            alert.status = 'inProgress'
    return incident


def generate(store: XdrStore, count: int, *, start: int | None = None, spacing_seconds: float = 60.0,
             tie_every: int = 0, tie_size: int = 0) -> tuple[int, int]:
    """Add ``count`` incidents, the ``i``-th created at ``start + i * spacing`` (default start: ``count`` spacings
    before now) and last updated half a spacing later. With ``tie_every``/``tie_size``, the first ``tie_size``
    incidents of every block of ``tie_every`` share the block's createdTime and lastUpdateTime exactly.
    Returns (first ID, last ID)."""
    if not 1 <= count <= MAX_GENERATE:
        raise ValueError(f'count must be between 1 and {MAX_GENERATE}')
    if spacing_seconds < 0:
        raise ValueError('spacing_seconds must not be negative')
    if tie_every < 0 or tie_size < 0 or (tie_every and not 2 <= tie_size <= tie_every):
        raise ValueError('ties need tie_every >= tie_size >= 2')
    spacing = int(round(spacing_seconds * TICKS_PER_SECOND))
    if start is None:
        start = now_ticks() // 10_000 * 10_000 - count * spacing    # whole milliseconds
    lag = spacing // 2
    with store.lock:
        first_id = store.allocate_ids(count)
        incidents = []
        for i in range(count):
            slot = i
            if tie_every and i % tie_every < tie_size:
                slot = i - i % tie_every
            created = start + slot * spacing
            incidents.append(build_incident(store, first_id + i, created, created + lag))
        store.add_many(incidents)
    return first_id, first_id + count - 1


DEFAULT_SEED_COUNT = 25


def seed_store(store: XdrStore, spec: dict[str, Any] | None = None) -> None:
    """The emulator's starting incidents: 25, one an hour up to now (a seed's ``defender_xdr: {incidents: N,
    spacing_seconds: S}`` changes that; ``incidents: 0`` starts empty)."""
    spec = spec or {}
    count = int(spec.get('incidents', DEFAULT_SEED_COUNT))
    if count > 0:
        generate(store, count, spacing_seconds=float(spec.get('spacing_seconds', 3600)))


# ----- advanced hunting tables --------------------------------------------------------------------------------------

DEFAULT_ROWS = {'DeviceInfo': 200, 'DeviceProcessEvents': 500, 'DeviceNetworkEvents': 400, 'EmailEvents': 300,
                'DeviceEvents': 300, 'EmailUrlInfo': 300, 'EmailAttachmentInfo': 300, 'UrlClickEvents': 150}
# Row i of these tables belongs to message i of EmailEvents (same NetworkMessageId, same time).
_EMAIL_CHILD_TABLES = {'EmailUrlInfo', 'EmailAttachmentInfo', 'UrlClickEvents'}
_ATTACHMENTS = [('invoice_0931.docm', 'docm'), ('statement.pdf', 'pdf'), ('update.ps1', 'ps1'), ('photo.jpg', 'jpg'),
                ('payload.zip', 'zip')]

_PROCESSES = [('powershell.exe', 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0', 'powershell.exe -nop -c Get-Process'),
              ('cmd.exe', 'C:\\Windows\\System32', 'cmd.exe /c whoami'),
              ('conhost.exe', 'C:\\Windows\\System32', 'conhost.exe 0xffffffff -ForceV1'),
              ('rundll32.exe', 'C:\\Windows\\System32', 'rundll32.exe shell32.dll,Control_RunDLL'),
              ('notepad.exe', 'C:\\Windows\\System32', 'notepad.exe C:\\Temp\\notes.txt'),
              ('msedge.exe', 'C:\\Program Files (x86)\\Microsoft\\Edge\\Application', 'msedge.exe --type=renderer'),
              ('svchost.exe', 'C:\\Windows\\System32', 'svchost.exe -k netsvcs -p'),
              ('mimikatz.exe', 'C:\\Users\\Public\\Downloads', 'mimikatz.exe privilege::debug')]
_PARENTS = ['explorer.exe', 'powershell.exe', 'cmd.exe', 'services.exe', 'winword.exe']
_DEVICE_ACTIONS = ['AntivirusDetection', 'UsbDriveMounted', 'PowerShellCommand', 'ScheduledTaskCreated',
                   'SmartScreenUrlWarning', 'ProcessPrimaryTokenModified']


def _short(device: dict[str, Any]) -> str:
    return str(device['deviceDnsName'])


def _email_child_row(table: str, i: int, anchor: int) -> dict[str, Any]:
    """Row ``i`` of an email table: a link, an attachment or a click of message ``i`` of EmailEvents."""
    message = hunting_row('EmailEvents', i, anchor)
    h = mix(i * 37 + len(table))
    base = {'Timestamp': message['Timestamp'], 'NetworkMessageId': message['NetworkMessageId'],
            'ReportId': f"{message['NetworkMessageId']}-{table}-{i}"}
    if table == 'EmailUrlInfo':
        url = URLS[(h >> 8) % len(URLS)]
        return base | {'Url': f'https://{url}', 'UrlDomain': url.split('/')[0],
                       'UrlLocation': ('Body', 'Subject', 'Attachment')[(h >> 12) % 3]}
    if table == 'EmailAttachmentInfo':
        name, kind = _ATTACHMENTS[(h >> 8) % len(_ATTACHMENTS)]
        threat = message['ThreatTypes'] if message['ThreatTypes'] == 'Malware' else ''
        return base | {'SenderFromAddress': message['SenderFromAddress'],
                       'RecipientEmailAddress': message['RecipientEmailAddress'], 'FileName': name, 'FileType': kind,
                       'SHA256': hex_digest(f'attachment{name}', 64), 'FileSize': 1024 + (h >> 16) % 900_000,
                       'ThreatTypes': threat, 'ThreatNames': 'Trojan:O97M/Sadoca' if threat else '',
                       'DetectionMethods': '{"Malware":["File detonation"]}' if threat else ''}
    url = URLS[(mix(i * 37 + len('EmailUrlInfo')) >> 8) % len(URLS)]     # the link of EmailUrlInfo row i
    blocked = message['ThreatTypes'] == 'Phish'
    return base | {'Url': f'https://{url}', 'ActionType': 'ClickBlocked' if blocked else 'ClickAllowed',
                   'AccountUpn': message['RecipientEmailAddress'], 'Workload': 'Email',
                   'IPAddress': PUBLIC_IPS[(h >> 20) % len(PUBLIC_IPS)], 'ThreatTypes': message['ThreatTypes'],
                   'DetectionMethods': '', 'IsClickedThrough': not blocked and (h >> 24) % 2 == 0,
                   'UrlChain': f'["https://{url}"]'}


def hunting_row(table: str, i: int, anchor: int) -> dict[str, Any]:
    """Row ``i`` of a generated table: deterministic, ``i`` steps back in time from ``anchor`` (ticks)."""
    if table in _EMAIL_CHILD_TABLES:
        return _email_child_row(table, i, anchor)
    h = mix(i * 31 + len(table))
    device = DEVICES[h % len(DEVICES)]
    user = USERS[(h >> 8) % len(USERS)]
    step = {'DeviceInfo': 3600, 'EmailEvents': 600}.get(table, 17)
    ts = anchor - (i * step + (h >> 40) % 7) * TICKS_PER_SECOND - (h >> 16) % TICKS_PER_SECOND
    report_id = 10_000 + i
    if table == 'DeviceInfo':
        platform, build, version, arch = OS[(h % len(DEVICES)) % len(OS)]
        return {'Timestamp': ts, 'DeviceId': device['mdatpDeviceId'], 'DeviceName': _short(device),
                'ClientVersion': f'10.8{(h >> 4) % 10}{(h >> 6) % 10}.{19041 + (h >> 9) % 5}.{1000 + (h >> 12) % 999}',
                'PublicIP': PUBLIC_IPS[(h >> 20) % len(PUBLIC_IPS)], 'OSArchitecture': '64-bit',
                'OSPlatform': platform, 'OSBuild': int(build), 'OSVersion': version,
                'IsAzureADJoined': device['aadDeviceId'] is not None, 'AadDeviceId': device['aadDeviceId'] or '',
                'MachineGroup': device['rbacGroupName'], 'OnboardingStatus': 'Onboarded',
                'DeviceType': 'Server' if platform.startswith('WindowsServer') else 'Workstation',
                'ReportId': report_id}
    if table == 'DeviceProcessEvents':
        name, folder, cmd = _PROCESSES[(h >> 24) % len(_PROCESSES)]
        parent = _PARENTS[(h >> 28) % len(_PARENTS)]
        return {'Timestamp': ts, 'DeviceId': device['mdatpDeviceId'], 'DeviceName': _short(device),
                'ActionType': 'ProcessCreated', 'FileName': name, 'FolderPath': f'{folder}\\{name}',
                'SHA1': hex_digest(name, 40), 'SHA256': hex_digest(name, 64), 'ProcessId': 1000 + (h >> 32) % 30000,
                'ProcessCommandLine': cmd, 'AccountDomain': 'contoso', 'AccountName': user.account_name,
                'InitiatingProcessFileName': parent, 'InitiatingProcessCommandLine': parent,
                'InitiatingProcessId': 500 + (h >> 36) % 9000, 'ReportId': report_id}
    if table == 'DeviceNetworkEvents':
        url = URLS[(h >> 24) % len(URLS)]
        return {'Timestamp': ts, 'DeviceId': device['mdatpDeviceId'], 'DeviceName': _short(device),
                'ActionType': ('ConnectionSuccess', 'ConnectionFailed', 'InboundConnectionAccepted')[(h >> 28) % 3],
                'RemoteIP': PUBLIC_IPS[(h >> 20) % len(PUBLIC_IPS)], 'RemotePort': (443, 80, 445, 3389, 53)[(h >> 30) % 5],
                'RemoteUrl': url, 'LocalIP': device['ipAddress'], 'LocalPort': 49152 + (h >> 33) % 16000,
                'Protocol': 'Tcp', 'InitiatingProcessFileName': _PROCESSES[(h >> 37) % len(_PROCESSES)][0],
                'ReportId': report_id}
    if table == 'EmailEvents':
        sender_domain = URLS[(h >> 24) % len(URLS)].split('/')[0]
        threat = ('', 'Phish', 'Malware', 'Spam')[(h >> 28) % 4]
        return {'Timestamp': ts, 'NetworkMessageId': guid(f'msg{i}'),
                'InternetMessageId': f'<{hex_digest(f"imid{i}", 16)}@{sender_domain}>',
                'SenderFromAddress': f'noreply@{sender_domain}', 'SenderFromDomain': sender_domain,
                'SenderIPv4': PUBLIC_IPS[(h >> 20) % len(PUBLIC_IPS)], 'RecipientEmailAddress': user.upn,
                'Subject': SUBJECTS[(h >> 32) % len(SUBJECTS)], 'EmailDirection': 'Inbound',
                'DeliveryAction': 'Blocked' if threat == 'Malware' else 'Junked' if threat else 'Delivered',
                'DeliveryLocation': 'Quarantine' if threat == 'Malware' else 'Junk folder' if threat else 'Inbox/folder',
                'ThreatTypes': threat, 'AttachmentCount': (h >> 36) % 3, 'UrlCount': (h >> 38) % 5,
                'ReportId': f'{guid(f"msg{i}")}-{i}', 'SenderIPv6': ''}
    if table in TABLE_SCHEMAS and table != 'AlertInfo':
        # DeviceEvents and any other generated table
        return {'Timestamp': ts, 'DeviceId': device['mdatpDeviceId'], 'DeviceName': _short(device),
                'ActionType': _DEVICE_ACTIONS[(h >> 24) % len(_DEVICE_ACTIONS)],
                'FileName': _PROCESSES[(h >> 28) % len(_PROCESSES)][0],
                'FolderPath': _PROCESSES[(h >> 28) % len(_PROCESSES)][1], 'AccountName': user.account_name,
                'RemoteUrl': URLS[(h >> 32) % len(URLS)] if (h >> 36) % 3 == 0 else '', 'ReportId': report_id}
    raise KeyError(table)
