"""Microsoft 365 Defender (Microsoft Defender XDR): incidents, advanced hunting, fetch and two-way mirroring.

Two API back ends sit behind one interface: the Microsoft Graph security API (``/v1.0/security/...``) and the older
Defender XDR API (``/api/incidents``, ``/api/advancedhunting/run``). Graph objects are normalised to the Defender
XDR shape, so commands write the same context whichever back end an instance uses. Advanced hunting on the Defender
XDR back end runs on Graph too (the "Advanced hunting API" parameter), as Microsoft retires its hunting API.
Authentication, retries and Microsoft error messages come from MicrosoftApiModule.
"""
import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Callable, Dict, Iterable, List, Tuple

import demistomock as demisto
from CommonServerPython import *
from CommonServerUserPython import *

PREFIX = 'microsoft-365-defender'
INTEGRATION_NAME = 'Microsoft 365 Defender'
INCIDENT_TYPE_NAME = 'Microsoft 365 Defender Incident'
XSOAR_APP_ID = '9093c354-630a-47f1-b087-6768eb9427e6'
DEFAULT_XDR_URL = 'https://api.security.microsoft.com'

BACKEND_GRAPH = 'Microsoft Graph security'
BACKEND_LEGACY = 'Defender XDR API (legacy)'
# The Cortex XSOAR application (the device code default) is granted the Defender XDR API permissions only: Entra
# refuses it a Graph token (AADSTS65001, "consent required"), which no admin of the customer's tenant can fix. Said
# before anything is sent, with the two settings that work.
XSOAR_APP_ON_GRAPH = (
    'The Cortex XSOAR application (used when "ID or Client ID" is empty) has permissions for the Defender XDR API only, '
    f'so it cannot sign in to the "{BACKEND_GRAPH}" back end. Either set "API back end" to "{BACKEND_LEGACY}", or '
    'enter in "ID or Client ID" the application ID of your own app registration that has the Microsoft Graph '
    'SecurityIncident.ReadWrite.All, SecurityAlert.Read.All and ThreatHunting.Read.All permissions (delegated, for the '
    'device code flow).')

# Advanced hunting on the Defender XDR back end moves to Microsoft Graph runHuntingQuery: Microsoft retires
# /api/advancedhunting/run by 1 February 2027 (message center MC1220762). The instance's "Advanced hunting API".
HUNT_AUTO = 'Automatic'
HUNT_GRAPH = 'Microsoft Graph'
HUNT_LEGACY = 'Legacy Defender XDR'
HUNTING_APIS = (HUNT_AUTO, HUNT_GRAPH, HUNT_LEGACY)
GRAPH_HUNTING_PERMISSION = 'ThreatHunting.Read.All'
LEGACY_HUNTING_TIMESPAN = 'P30D'     # the Defender XDR API always searched the last 30 days; Graph is asked the same

XSOAR_APP_HUNTING_ON_GRAPH = (
    'The Cortex XSOAR application (used when "ID or Client ID" is empty) has permissions for the Defender XDR API only, '
    f'so it cannot run advanced hunting on Microsoft Graph. Set "Advanced hunting API" to {HUNT_AUTO} or '
    f'{HUNT_LEGACY} while Microsoft still serves the Defender XDR hunting API (until 1 February 2027), or enter in '
    '"ID or Client ID" the application ID of your own app registration with the Microsoft Graph permission '
    f'{GRAPH_HUNTING_PERMISSION}.')

PAGE_SIZE = 100                      # the Defender XDR API's maximum $top
GRAPH_PAGE_SIZE = 50                 # Graph's maximum $top for security incidents
MAX_LIST_LIMIT = 100
MAX_HUNT_ROWS = 100_000              # the most rows an advanced hunting query returns
HUNT_TABLE_ROWS = 50                 # rows shown in the war room; the context gets them all
DEFAULT_TIMEOUT = 30
MAX_FETCH_LIMIT = 1000
MIN_WINDOW = timedelta(seconds=1)    # fetch windows are not split below this; denser windows are paged whole
MODIFIED_IDS_CAP = 10_000
EMPTY_GROWTH = 4                     # an empty fetch window makes the next one this many times longer

MIRROR_MARKER = 'Mirrored from Cortex XSOAR'
MIRROR_DIRECTIONS = {'None': None, 'Incoming': 'In', 'Outgoing': 'Out', 'Incoming And Outgoing': 'Both'}
OUTGOING_FIELDS = ('status', 'assignedTo', 'classification', 'determination', 'tags')

STATUSES = ('Active', 'InProgress', 'Resolved', 'Redirected')
CLASSIFICATIONS = ('Unknown', 'FalsePositive', 'TruePositive', 'InformationalExpectedActivity')
DETERMINATIONS: Dict[str, Tuple[str, ...]] = {
    'TruePositive': ('MultiStagedAttack', 'MaliciousUserActivity', 'Malware', 'Phishing', 'CompromisedAccount',
                     'UnwantedSoftware', 'Other'),
    'InformationalExpectedActivity': ('SecurityTesting', 'LineOfBusinessApplication', 'ConfirmedActivity', 'Other'),
    'FalsePositive': ('NotMalicious', 'NoEnoughDataToValidate', 'Other'),
    'Unknown': ('NotAvailable',),
}
DEFAULT_DETERMINATION = {'TruePositive': 'Other', 'InformationalExpectedActivity': 'Other', 'FalsePositive': 'Other',
                         'Unknown': 'NotAvailable'}

# Defender XDR (PascalCase) value -> Graph (camelCase) value, per field. Graph renamed a few determinations.
GRAPH_ENUMS: Dict[str, Dict[str, str]] = {
    'status': {'Active': 'active', 'InProgress': 'inProgress', 'Resolved': 'resolved', 'Redirected': 'redirected',
               'AwaitingAction': 'awaitingAction'},
    'severity': {'UnSpecified': 'unknown', 'Informational': 'informational', 'Low': 'low', 'Medium': 'medium',
                 'High': 'high'},
    'classification': {'Unknown': 'unknown', 'FalsePositive': 'falsePositive', 'TruePositive': 'truePositive',
                       'InformationalExpectedActivity': 'informationalExpectedActivity'},
    'determination': {'NotAvailable': 'unknown', 'Apt': 'apt', 'Malware': 'malware',
                      'SecurityPersonnel': 'securityPersonnel', 'SecurityTesting': 'securityTesting',
                      'UnwantedSoftware': 'unwantedSoftware', 'Other': 'other', 'MultiStagedAttack': 'multiStagedAttack',
                      'CompromisedAccount': 'compromisedUser', 'Phishing': 'phishing',
                      'MaliciousUserActivity': 'maliciousUserActivity', 'NotMalicious': 'clean',
                      'NoEnoughDataToValidate': 'insufficientData', 'ConfirmedActivity': 'confirmedUserActivity',
                      'LineOfBusinessApplication': 'lineOfBusinessApplication'},
}
LEGACY_ENUMS = {name: {graph.lower(): legacy for legacy, graph in values.items()} for name, values in GRAPH_ENUMS.items()}
# Determinations are read back as the Defender XDR API writes them (CompromisedUser, Clean, InsufficientData,
# ConfirmedUserActivity); the names the update command accepts (CompromisedAccount, NotMalicious, ...) are input only.
LEGACY_ENUMS['determination'] = {'unknown': 'NotAvailable'}
GRAPH_FIELDS = {'createdTime': 'createdDateTime', 'lastUpdateTime': 'lastUpdateDateTime', 'tags': 'customTags',
                'incidentName': 'displayName', 'incidentId': 'id'}

XSOAR_SEVERITY = {'Informational': IncidentSeverity.INFO, 'Low': IncidentSeverity.LOW,
                  'Medium': IncidentSeverity.MEDIUM, 'High': IncidentSeverity.HIGH}
CLOSE_REASONS = {'Unknown': 'Other', 'TruePositive': 'Resolved', 'FalsePositive': 'False Positive',
                 'InformationalExpectedActivity': 'Resolved'}


# ============================================================================================================
# Small helpers: timestamps, enums, arguments
# ============================================================================================================

def to_graph_enum(field: str, value: Any) -> Any:
    if value is None:
        return None
    return GRAPH_ENUMS.get(field, {}).get(str(value), value)


def to_legacy_enum(field: str, value: Any) -> Any:
    """A Graph enum value in the Defender XDR spelling (unknown values get an upper-case first letter)."""
    if not isinstance(value, str) or not value:
        return value
    known = LEGACY_ENUMS.get(field, {}).get(value.lower())
    return known or value[0].upper() + value[1:]


def pascal(value: Any) -> Any:
    return value[0].upper() + value[1:] if isinstance(value, str) and value else value


def as_int(value: Any) -> Any:
    text = str(value) if value is not None else ''
    return int(text) if text.isdigit() else value


def incident_id_arg(value: Any, name: str = 'id') -> int:
    text = str(value if value is not None else '').strip()
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(f'Invalid "{name}": "{text}". Provide a Microsoft 365 Defender incident ID (a positive number).')
    return int(text)


def choice_arg(args: Dict[str, Any], name: str, allowed: Iterable[str]) -> str | None:
    """The argument's value when it is one of ``allowed`` (matched case-insensitively), None when not given."""
    value = args.get(name)
    if value in (None, ''):
        return None
    options = list(allowed)
    for option in options:
        if str(value).strip().lower() == option.lower():
            return option
    raise ValueError(f'Invalid "{name}": "{value}". Allowed values: {", ".join(options)}.')


def number_arg(args: Dict[str, Any], name: str, default: int, low: int, high: int,
               extra_allowed: Tuple[int, ...] = ()) -> int:
    value = args.get(name)
    if value in (None, ''):
        return default
    try:
        number = arg_to_number(value, name)
    except ValueError:
        number = None
    if number is None or (not low <= number <= high and number not in extra_allowed):
        extra = f' (or {", ".join(map(str, extra_allowed))})' if extra_allowed else ''
        raise ValueError(f'Invalid "{name}": "{value}". Provide a whole number from {low} to {high}{extra}.')
    return number


def timeout_arg(args: Dict[str, Any]) -> int:
    return number_arg(args, 'timeout', DEFAULT_TIMEOUT, 1, 600)


def determination_value(classification: str | None, determination: str | None) -> str | None:
    """The determination to send for a classification, enforcing Microsoft's pairs (default when not given)."""
    if classification is None:
        if determination is not None:
            raise ValueError(f'"determination" needs a "classification". Allowed classifications: '
                             f'{", ".join(CLASSIFICATIONS)}.')
        return None
    allowed = DETERMINATIONS[classification]
    if determination is None:
        return DEFAULT_DETERMINATION[classification]
    for option in allowed:
        if determination.strip().lower() == option.lower():
            return option
    raise ValueError(f'Invalid "determination": "{determination}" cannot be used with classification '
                     f'"{classification}". Allowed values: {", ".join(allowed)}.')


# ============================================================================================================
# KQL: top-level splitting, limit rewriting, timespans
# ============================================================================================================

def kql_separators(text: str, sep: str) -> Tuple[List[int], bool]:
    """Positions of ``sep`` outside strings, comments and brackets, and whether the text ends in a line comment.

    Handles '...' and "..." (backslash escapes), verbatim @'...'/@"..." (doubled quotes), ```...``` blocks,
    // comments and nesting in (), [] and {} (sub-queries of join/union keep their own pipes).
    """
    positions: List[int] = []
    depth = 0
    i, n = 0, len(text)
    in_comment = False
    while i < n:
        char = text[i]
        in_comment = False
        if text.startswith('```', i):
            end = text.find('```', i + 3)
            i = n if end < 0 else end + 3
            continue
        if text.startswith('//', i):
            end = text.find('\n', i)
            if end < 0:
                in_comment = True
                break
            i = end + 1
            continue
        if char in '\'"':
            verbatim = i > 0 and text[i - 1] == '@'
            i += 1
            while i < n:
                if not verbatim and text[i] == '\\':
                    i += 2
                    continue
                if text[i] == char:
                    if verbatim and i + 1 < n and text[i + 1] == char:
                        i += 2
                        continue
                    break
                i += 1
            i += 1
            continue
        if char in '([{':
            depth += 1
        elif char in ')]}':
            depth = max(0, depth - 1)
        elif char == sep and depth == 0:
            positions.append(i)
        i += 1
    return positions, in_comment


def kql_split(text: str, sep: str) -> Tuple[List[str], bool]:
    positions, ends_in_comment = kql_separators(text, sep)
    parts, start = [], 0
    for position in positions:
        parts.append(text[start:position])
        start = position + 1
    parts.append(text[start:])
    return parts, ends_in_comment


_LIMIT_STAGE = re.compile(r'^(\s*)(?:limit|take)\s+[^\s|]+\s*$')


def apply_hunting_limit(query: str, limit: int) -> str:
    """Make the query return at most ``limit`` rows: rewrite a final limit/take stage, or append ``| limit N``.

    Only the last statement's last top-level stage is considered, so limits inside sub-queries, let statements and
    string literals are left alone. A negative limit leaves the query unchanged.
    """
    if limit < 0:
        return query
    statements, _ = kql_split(query, ';')
    index = max((i for i, s in enumerate(statements) if s.strip()), default=0)
    stages, ends_in_comment = kql_split(statements[index], '|')
    match = _LIMIT_STAGE.match(stages[-1])
    if match and len(stages) > 1:
        stages[-1] = f'{match.group(1) or " "}limit {limit} '
        statements[index] = '|'.join(stages)
    else:
        body = statements[index].rstrip() if not ends_in_comment else statements[index]
        joiner = '\n| ' if ends_in_comment else ' | '
        statements[index] = f'{body}{joiner}limit {limit}'
    return ';'.join(statements)


_ISO_DURATION = re.compile(r'^P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(?:T(?=\d)(\d+H)?(\d+M)?(\d+(?:\.\d+)?S)?)?$',
                           re.IGNORECASE)
_HUMAN_PART = re.compile(r'(\d+)\s*(seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)',
                         re.IGNORECASE)
_HUMAN_UNITS = {'s': ('T', 'S'), 'mi': ('T', 'M'), 'h': ('T', 'H'), 'd': ('', 'D'), 'w': ('', 'W'),
                'mo': ('', 'M'), 'y': ('', 'Y')}


def _unit_key(unit: str) -> str:
    unit = unit.lower()
    return 'mi' if unit.startswith('mi') else 'mo' if unit.startswith('mo') else unit[0]


def human_to_iso_duration(text: str) -> str | None:
    """'7 days', '1 day 12 hours' or '30 minutes' as an ISO 8601 duration; None when the text is not like that."""
    cleaned = re.sub(r'[\s,]+', ' ', text.strip().lower()).removesuffix(' ago').replace(' and ', ' ')
    parts = _HUMAN_PART.findall(cleaned)
    if not parts or _HUMAN_PART.sub('', cleaned).strip():
        return None
    date_part, time_part = '', ''
    order = ['y', 'mo', 'w', 'd', 'h', 'mi', 's']
    totals: Dict[str, int] = {}
    for amount, unit in parts:
        key = _unit_key(unit)
        totals[key] = totals.get(key, 0) + int(amount)
    for key in order:
        if key in totals:
            section, letter = _HUMAN_UNITS[key]
            if section == 'T':
                time_part += f'{totals[key]}{letter}'
            else:
                date_part += f'{totals[key]}{letter}'
    return f'P{date_part}' + (f'T{time_part}' if time_part else '')


def _is_iso_datetime(text: str) -> bool:
    try:
        normalize_ts(text if re.search(r'(Z|[+-]\d{2}:?\d{2})$', text) else f'{text}Z')
        return True
    except ValueError:
        return False


def parse_timespan(value: Any) -> str | None:
    """The hunting ``timespan`` argument as Microsoft's Timespan: an ISO 8601 duration, date/time or interval."""
    text = str(value or '').strip()
    if not text:
        return None
    if _ISO_DURATION.match(text):
        return text.upper()
    human = human_to_iso_duration(text)
    if human:
        return human
    pieces = text.split('/')
    if len(pieces) <= 2 and all(_ISO_DURATION.match(p) or _is_iso_datetime(p) for p in pieces) \
            and not all(_ISO_DURATION.match(p) for p in pieces):
        return '/'.join(p.upper() if _ISO_DURATION.match(p) else p for p in pieces)
    raise ValueError(f'Invalid "timespan": "{text}". Use an ISO 8601 duration such as P7D or PT12H, a phrase such as '
                     '"7 days" or "12 hours", a date/time such as 2024-02-01T08:00:00Z, or an interval such as '
                     '2024-02-01T08:00:00Z/2024-02-15T08:00:00Z or P30D/2024-02-15T08:00:00Z.')


# ============================================================================================================
# Graph -> Defender XDR normalisation
# ============================================================================================================

def graph_comment_to_legacy(comment: Dict[str, Any]) -> Dict[str, Any]:
    return {'comment': comment.get('comment'),
            'createdBy': comment.get('createdByDisplayName') or comment.get('createdBy'),
            'createdTime': comment.get('createdDateTime') or comment.get('createdTime')}


def _evidence_kind(evidence: Dict[str, Any]) -> str:
    odata_type = str(evidence.get('@odata.type') or '')
    return odata_type.rsplit('.', 1)[-1].removesuffix('Evidence')


# The Defender XDR API's alert entity and device fields, in its order: a Graph alert is given exactly these keys
# (null when Graph has no value), so a playbook reads the same paths whichever back end the instance uses.
LEGACY_ENTITY_FIELDS = ('entityType', 'sha1', 'sha256', 'fileName', 'filePath', 'processId', 'processCommandLine',
                        'processCreationTime', 'parentProcessId', 'parentProcessCreationTime', 'ipAddress', 'url',
                        'accountName', 'domainName', 'userSid', 'aadUserId', 'userPrincipalName', 'mailboxDisplayName',
                        'mailboxAddress', 'clusterBy', 'sender', 'recipient', 'subject', 'deliveryAction',
                        'securityGroupId', 'securityGroupName', 'registryHive', 'registryKey', 'registryValueType',
                        'registryValue', 'deviceId', 'evidenceCreationTime', 'verdict', 'remediationStatus')
LEGACY_DEVICE_FIELDS = ('mdatpDeviceId', 'aadDeviceId', 'deviceDnsName', 'osPlatform', 'version', 'osProcessor',
                        'osBuild', 'healthStatus', 'riskScore', 'rbacGroupName', 'rbacGroupId', 'firstSeen')
# Graph serviceSource / detectionSource -> the Defender XDR API's value (Graph renamed most of them). A value not
# listed here keeps Graph's name with an upper-case first letter.
LEGACY_SERVICE_SOURCES = {
    'microsoftDefenderForEndpoint': 'MicrosoftDefenderForEndpoint',
    'microsoftDefenderForOffice365': 'MicrosoftDefenderForOffice365',
    'microsoftDefenderForCloudApps': 'MicrosoftCloudAppSecurity',
    'microsoftDefenderForIdentity': 'AzureAdvancedThreatProtection',
    'microsoft365Defender': 'Microsoft365Defender',
    'azureAdIdentityProtection': 'AzureAdIdentityProtection',
}
LEGACY_DETECTION_SOURCES = {
    'microsoftDefenderForEndpoint': 'WindowsDefenderAtp', 'antivirus': 'WindowsDefenderAv',
    'smartScreen': 'WindowsDefenderSmartScreen', 'customTi': 'CustomerTI',
    'microsoftDefenderForOffice365': 'OfficeATP', 'automatedInvestigation': 'AutomatedInvestigation',
    'microsoftThreatExperts': 'ThreatExperts', 'customDetection': 'CustomDetection',
    'microsoftDefenderForIdentity': 'AzureATP', 'cloudAppSecurity': 'MCAS', 'microsoft365Defender': 'MTP',
    'azureAdIdentityProtection': 'AzureAdIdentityProtection', 'manual': 'Manual',
}


def legacy_source(table: Dict[str, str], value: Any) -> Any:
    """A Graph serviceSource/detectionSource in the Defender XDR API's spelling."""
    return table.get(value) or pascal(value) if isinstance(value, str) else value


def _user_fields(account: Dict[str, Any] | None) -> Dict[str, Any]:
    account = account or {}
    return {'accountName': account.get('accountName'), 'domainName': account.get('domainName'),
            'userSid': account.get('userSid'), 'aadUserId': account.get('azureAdUserId'),
            'userPrincipalName': account.get('userPrincipalName')}


def _file_fields(details: Dict[str, Any] | None) -> Dict[str, Any]:
    details = details or {}
    return {'sha1': details.get('sha1'), 'sha256': details.get('sha256'), 'fileName': details.get('fileName'),
            'filePath': details.get('filePath')}


def _mail_fields(kind: str, evidence: Dict[str, Any]) -> Tuple[str, Dict[str, Any]] | None:
    """Mailbox, message and cluster evidence. The Defender XDR API names the mailbox type 'Mailbox' and gives a
    message's recipient as its userPrincipalName too."""
    if kind == 'mailbox':
        user = _user_fields(evidence.get('userAccount'))
        return 'Mailbox', {**user, 'domainName': None, 'userPrincipalName': evidence.get('upn') or user['userPrincipalName'],
                           'mailboxDisplayName': evidence.get('displayName'),
                           'mailboxAddress': evidence.get('primaryAddress')}
    if kind == 'analyzedMessage':
        sender = (evidence.get('p1Sender') or evidence.get('p2Sender') or {}).get('emailAddress')
        return 'MailMessage', {'userPrincipalName': evidence.get('recipientEmailAddress'), 'sender': sender,
                               'recipient': evidence.get('recipientEmailAddress'), 'subject': evidence.get('subject'),
                               'deliveryAction': pascal(evidence.get('deliveryAction'))}
    if kind == 'mailCluster':
        return 'MailCluster', {'clusterBy': evidence.get('clusterBy')}
    return None


def _entity_fields(kind: str, evidence: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    """(legacy entityType, its fields) for one Graph evidence object."""
    mail = _mail_fields(kind, evidence)
    if mail:
        return mail
    if kind == 'user':
        return 'User', _user_fields(evidence.get('userAccount'))
    if kind == 'ip':
        return 'Ip', {'ipAddress': evidence.get('ipAddress')}
    if kind == 'url':
        return 'Url', {'url': evidence.get('url')}
    if kind == 'file':
        return 'File', _file_fields(evidence.get('fileDetails'))
    if kind == 'process':
        return 'Process', {**_file_fields(evidence.get('imageFile')), 'processId': evidence.get('processId'),
                           'processCommandLine': evidence.get('processCommandLine'),
                           'processCreationTime': evidence.get('processCreationDateTime'),
                           'parentProcessId': evidence.get('parentProcessId'),
                           'parentProcessCreationTime': evidence.get('parentProcessCreationDateTime')}
    if kind in ('registryKey', 'registryValue'):
        return 'Registry', {'registryHive': evidence.get('registryHive'), 'registryKey': evidence.get('registryKey'),
                            'registryValueType': evidence.get('registryValueType'),
                            'registryValue': evidence.get('registryValue')}
    if kind == 'securityGroup':
        return 'SecurityGroup', {'securityGroupId': evidence.get('securityGroupId'),
                                 'securityGroupName': evidence.get('displayName')}
    return pascal(kind) or 'Unknown', {}


def graph_entity_to_legacy(kind: str, evidence: Dict[str, Any]) -> Dict[str, Any]:
    """One Graph evidence object as a Defender XDR alert entity: every documented entity field, null when absent."""
    entity_type, fields = _entity_fields(kind, evidence)
    values = {**fields, 'entityType': entity_type, 'deviceId': evidence.get('mdeDeviceId'),
              'evidenceCreationTime': evidence.get('createdDateTime'), 'verdict': pascal(evidence.get('verdict')),
              'remediationStatus': pascal(evidence.get('remediationStatus'))}
    return {name: values.get(name) for name in LEGACY_ENTITY_FIELDS}


def graph_device_to_legacy(evidence: Dict[str, Any]) -> Dict[str, Any]:
    """Graph deviceEvidence as a Defender XDR alert device (Graph has no osProcessor; tags only when present)."""
    values = {'mdatpDeviceId': evidence.get('mdeDeviceId'), 'aadDeviceId': evidence.get('azureAdDeviceId'),
              'deviceDnsName': evidence.get('deviceDnsName'), 'osPlatform': evidence.get('osPlatform'),
              'version': evidence.get('version'), 'osBuild': evidence.get('osBuild'),
              'healthStatus': pascal(evidence.get('healthStatus')), 'riskScore': pascal(evidence.get('riskScore')),
              'rbacGroupName': evidence.get('rbacGroupName'), 'rbacGroupId': evidence.get('rbacGroupId'),
              'firstSeen': evidence.get('firstSeenDateTime')}
    device = {name: values.get(name) for name in LEGACY_DEVICE_FIELDS}
    if evidence.get('tags'):
        device['tags'] = list(evidence['tags'])
    return device


def _alert_enum(field: str, value: Any) -> Any:
    """An alert's classification/determination: Graph's 'unknown' is the Defender XDR API's null (not set)."""
    return None if value in (None, '', 'unknown') else to_legacy_enum(field, value)


def graph_alert_to_legacy(alert: Dict[str, Any]) -> Dict[str, Any]:
    devices, entities = [], []
    for evidence in alert.get('evidence') or []:
        kind = _evidence_kind(evidence)
        if kind == 'device':
            devices.append(graph_device_to_legacy(evidence))
        else:
            entities.append(graph_entity_to_legacy(kind, evidence))
    return {
        'alertId': alert.get('id'), 'providerAlertId': alert.get('providerAlertId'),
        'incidentId': as_int(alert.get('incidentId')),
        'serviceSource': legacy_source(LEGACY_SERVICE_SOURCES, alert.get('serviceSource')),
        'creationTime': alert.get('createdDateTime'), 'lastUpdatedTime': alert.get('lastUpdateDateTime'),
        'resolvedTime': alert.get('resolvedDateTime'), 'firstActivity': alert.get('firstActivityDateTime'),
        'lastActivity': alert.get('lastActivityDateTime'), 'title': alert.get('title'),
        'description': alert.get('description'), 'category': alert.get('category'),
        'status': pascal(alert.get('status')), 'severity': to_legacy_enum('severity', alert.get('severity')),
        # Graph alerts carry no automated-investigation fields; these stay null unless a future Graph adds them.
        'investigationId': alert.get('investigationId'), 'investigationState': pascal(alert.get('investigationState')),
        'classification': _alert_enum('classification', alert.get('classification')),
        'determination': _alert_enum('determination', alert.get('determination')),
        'detectionSource': legacy_source(LEGACY_DETECTION_SOURCES, alert.get('detectionSource')),
        'detectorId': alert.get('detectorId'), 'assignedTo': alert.get('assignedTo'),
        'actorName': alert.get('actorDisplayName'), 'threatFamilyName': alert.get('threatFamilyName'),
        'mitreTechniques': alert.get('mitreTechniques') or [], 'devices': devices, 'entities': entities,
    }


def graph_incident_to_legacy(incident: Dict[str, Any]) -> Dict[str, Any]:
    """A Graph security incident in the Defender XDR incident shape (field names, enum spellings, integer IDs)."""
    return {
        'incidentId': as_int(incident.get('id')),
        'incidentUri': incident.get('incidentWebUrl'),
        'redirectIncidentId': as_int(incident.get('redirectIncidentId')) if incident.get('redirectIncidentId') else None,
        'incidentName': incident.get('displayName'),
        'createdTime': incident.get('createdDateTime'),
        'lastUpdateTime': incident.get('lastUpdateDateTime'),
        'assignedTo': incident.get('assignedTo'),
        'classification': to_legacy_enum('classification', incident.get('classification')),
        'determination': to_legacy_enum('determination', incident.get('determination')),
        'status': to_legacy_enum('status', incident.get('status')),
        'severity': to_legacy_enum('severity', incident.get('severity')),
        'tags': incident.get('customTags') if incident.get('customTags') is not None else incident.get('tags') or [],
        'comments': [graph_comment_to_legacy(c) for c in incident.get('comments') or []],
        'alerts': [graph_alert_to_legacy(a) for a in incident.get('alerts') or []],
    }


_FILTER_ENUM = re.compile(r"\b(status|classification|determination|severity)(\s+(?:eq|ne)\s+)'([^']*)'")
_FILTER_FIELD = re.compile(r'\b(createdTime|lastUpdateTime|tags|incidentName|incidentId)\b')


def legacy_filter_to_graph(text: str) -> str:
    """A $filter written for the Defender XDR API (field names, PascalCase values) in Graph's vocabulary."""
    text = _FILTER_ENUM.sub(lambda m: f"{m.group(1)}{m.group(2)}'{to_graph_enum(m.group(1), m.group(3))}'", text)
    return _FILTER_FIELD.sub(lambda m: GRAPH_FIELDS[m.group(1)], text)


# ============================================================================================================
# API back ends (one method per API call; both return Defender XDR-shaped incidents)
# ============================================================================================================

class IncidentsApi:
    """What the commands need from Microsoft. ``field``/``value`` arguments use the Defender XDR vocabulary."""
    name = ''
    product = ''
    page_size = PAGE_SIZE

    def __init__(self, http: 'MicrosoftClient') -> None:
        self.http = http

    # filters --------------------------------------------------------------------------------------------------
    def compare(self, field: str, op: str, value: Any) -> str:
        """One $filter clause; datetimes are sent with Microsoft's 7 fractional digits."""
        literal = value if is_timestamp(value) and field in ('createdTime', 'lastUpdateTime') \
            else odata_literal(value)
        return f'{self.field(field)} {op} {literal}'

    def field(self, name: str) -> str:
        return name

    def enum(self, field: str, value: str) -> str:
        return value

    # calls ------------------------------------------------------------------------------------------------------
    def list_incidents(self, params: Dict[str, Any], limit: int | None, timeout: int | None = None,
                       odata: bool = False) -> List[Dict[str, Any]]:
        raise NotImplementedError

    def list_page(self, filter_: str, top: int, timeout: int | None = None,
                  skip: int = 0) -> Tuple[List[Dict[str, Any]], bool]:
        """One page of incidents matching ``filter_`` (newest first, ``skip`` of them passed over) and whether more
        exist."""
        raise NotImplementedError

    def counted_page(self, filter_: str, top: int, timeout: int | None = None
                     ) -> Tuple[List[Dict[str, Any]], bool, int | None]:
        """The first page, whether more exist, and how many match in all when the API can say (None otherwise)."""
        return (*self.list_page(filter_, top, timeout), None)

    def list_all(self, filter_: str, cap: int, timeout: int | None = None) -> List[Dict[str, Any]]:
        """Every incident matching ``filter_`` (at most ``cap``)."""
        return self.list_incidents({'$filter': filter_}, cap, timeout)

    def get_incident(self, incident_id: int, timeout: int | None = None) -> Dict[str, Any]:
        raise NotImplementedError

    def update_incident(self, incident_id: int, changes: Dict[str, Any], comment: str | None,
                        timeout: int | None = None) -> Dict[str, Any]:
        raise NotImplementedError

    def run_hunting_query(self, query: str, timespan: str | None, timeout: int | None = None) -> List[Dict]:
        raise NotImplementedError

    def check_access(self) -> None:
        self.list_page('', 1)


def without_odata(item: Any) -> Any:
    """The object without OData annotations (@odata.context and the like), which are not incident fields."""
    return {k: v for k, v in item.items() if not k.startswith('@odata.')} if isinstance(item, dict) else item


class LegacyApi(IncidentsApi):
    """Defender XDR API: {base}/api/incidents, {base}/api/advancedhunting/run. Pages by $skip; no $orderby."""
    name = BACKEND_LEGACY
    product = 'xdr'

    def list_incidents(self, params: Dict[str, Any], limit: int | None, timeout: int | None = None,
                       odata: bool = False) -> List[Dict[str, Any]]:
        if odata:
            body = self.http.http_request('GET', '/api/incidents', params=params, timeout=timeout)
            return [without_odata(i) for i in body.get('value') or []]
        results: List[Dict[str, Any]] = []
        skip = int(params.get('$skip') or 0)
        while limit is None or len(results) < limit:
            top = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - len(results))
            page_params = {**{k: v for k, v in params.items() if v not in (None, '')}, '$top': top, '$skip': skip}
            items = list(self.http.http_request('GET', '/api/incidents', params=page_params, timeout=timeout)
                         .get('value') or [])
            results.extend(without_odata(i) for i in items)
            skip += len(items)
            if len(items) < top:
                break
        return results

    def list_page(self, filter_: str, top: int, timeout: int | None = None,
                  skip: int = 0) -> Tuple[List[Dict[str, Any]], bool]:
        params = assign_params(**{'$filter': filter_ or None, '$top': top, '$skip': skip or None})
        body = self.http.http_request('GET', '/api/incidents', params=params, timeout=timeout)
        items = [without_odata(i) for i in body.get('value') or []]
        return items, len(items) >= top or bool(body.get('@odata.nextLink'))

    def get_incident(self, incident_id: int, timeout: int | None = None) -> Dict[str, Any]:
        return without_odata(self.http.http_request('GET', f'/api/incidents/{quote_id(incident_id)}', timeout=timeout))

    def update_incident(self, incident_id: int, changes: Dict[str, Any], comment: str | None,
                        timeout: int | None = None) -> Dict[str, Any]:
        body = dict(changes)
        if comment:
            body['comment'] = comment
        result = self.http.http_request('PATCH', f'/api/incidents/{quote_id(incident_id)}', json_data=body,
                                        timeout=timeout)
        if isinstance(result, dict) and result.get('incidentId'):
            return without_odata(result)
        return self.get_incident(incident_id, timeout)

    def __init__(self, http: 'MicrosoftClient', hunting_api: str = HUNT_LEGACY,
                 graph: 'GraphApi | None' = None) -> None:
        super().__init__(http)
        self.hunting_api = hunting_api
        self.graph = graph          # Graph hunting with this instance's credential (None: the app cannot use Graph)

    def run_hunting_query(self, query: str, timespan: str | None, timeout: int | None = None) -> List[Dict]:
        """Rows of a hunting query from the API the instance chose. Automatic asks Microsoft Graph and, when Graph
        refuses for a missing permission, the Defender XDR API while Microsoft still serves it; the refusal is
        remembered for an hour (GraphRefusalMemo) so the next queries do not pay a Graph token request and a 403."""
        if self.hunting_api == HUNT_LEGACY:
            return self.run_legacy_hunting(query, timespan, timeout)
        if self.graph is None:
            if self.hunting_api == HUNT_GRAPH:
                raise DemistoException(XSOAR_APP_HUNTING_ON_GRAPH)
            return self.run_legacy_hunting(query, timespan, timeout)
        memo = GraphRefusalMemo(self.http.tokens, 'hunting')
        if self.hunting_api == HUNT_GRAPH or not memo.active():
            try:
                return self.graph.run_hunting_query(query, timespan or LEGACY_HUNTING_TIMESPAN, timeout)
            except DemistoException as error:
                if self.hunting_api == HUNT_GRAPH:
                    if graph_refused(error):
                        raise graph_hunting_permission_error() from None
                    raise
                # A Custom cloud's API URL may be a Defender XDR host that serves no Graph (404): fall back too.
                if not (graph_refused(error) or http_status(error) == 404):
                    raise
            memo.remember()
        demisto.debug(f'Microsoft Graph refused advanced hunting; using the Defender XDR API. Add the Graph '
                      f'permission {GRAPH_HUNTING_PERMISSION} before Microsoft retires that API.')
        try:
            return self.run_legacy_hunting(query, timespan, timeout)
        except DemistoException as error:
            status = http_status(error)
            if status in (401, 403, 404, 410):       # no permission there either, or the API is gone
                raise graph_hunting_permission_error(status) from None
            raise

    def run_legacy_hunting(self, query: str, timespan: str | None, timeout: int | None = None) -> List[Dict]:
        """POST /api/advancedhunting/run (retiring). It has no timespan: it always searches the last 30 days."""
        if timespan:
            raise ValueError('The "timespan" argument needs advanced hunting on Microsoft Graph: the Defender XDR '
                             'hunting API always searches the last 30 days. Set "Advanced hunting API" to Automatic '
                             f'or Microsoft Graph (the app needs the Graph permission {GRAPH_HUNTING_PERMISSION}), '
                             'or filter on Timestamp in the query.')
        body = self.http.http_request('POST', '/api/advancedhunting/run', json_data={'Query': query},
                                      timeout=timeout, idempotent=True)
        return list(body.get('Results') or body.get('results') or [])


def graph_hunting_permission_error(legacy_status: int | None = None) -> DemistoException:
    """Graph refused hunting and the Defender XDR hunting API cannot stand in: say exactly which permission to add."""
    return graph_permission_error(GRAPH_HUNTING_PERMISSION, 'Defender XDR hunting API', 'device code', legacy_status)


def odata_limit(query: Dict[str, Any], page_size: int) -> int:
    """How many incidents a raw OData query returns on Graph, as on the Defender XDR API: ``$top`` of them (Graph
    pages above its own maximum page size are followed), or one Defender XDR page (100) without ``$top``.
    ``query['$top']`` is lowered to what Graph accepts."""
    top = str(query.get('$top', '')).strip()
    if not top:
        return PAGE_SIZE
    if not top.isdigit():
        raise ValueError(f'Invalid "odata": "$top" must be a whole number, got "{top}".')
    query['$top'] = min(int(top), page_size)
    return int(top)


class GraphApi(IncidentsApi):
    """Microsoft Graph security API: /v1.0/security/incidents (+alerts), /security/runHuntingQuery."""
    name = BACKEND_GRAPH
    product = 'graph'
    page_size = GRAPH_PAGE_SIZE

    def field(self, name: str) -> str:
        return GRAPH_FIELDS.get(name, name)

    def compare(self, field: str, op: str, value: Any) -> str:
        if field in GRAPH_ENUMS and isinstance(value, str):
            value = to_graph_enum(field, value)
        return super().compare(field, op, value)

    def _incidents(self, params: Dict[str, Any], limit: int | None, timeout: int | None) -> List[Dict]:
        body = self.http.http_request('GET', '/v1.0/security/incidents', params=params, timeout=timeout)
        results: List[Dict[str, Any]] = []
        while True:
            for item in body.get('value') or []:
                results.append(item)
                if limit is not None and len(results) >= limit:
                    return results
            next_link = body.get('@odata.nextLink')
            if not next_link:
                return results
            ensure_same_origin(next_link, self.http._base_url)
            body = self.http.http_request('GET', full_url=next_link, timeout=timeout)

    def _normalise(self, incidents: List[Dict[str, Any]], timeout: int | None) -> List[Dict[str, Any]]:
        for incident in incidents:
            if 'alerts' not in incident:       # $expand was not honoured: read the alerts separately
                incident['alerts'] = self.list_alerts(incident.get('id'), timeout)
        return [graph_incident_to_legacy(i) for i in incidents]

    def list_incidents(self, params: Dict[str, Any], limit: int | None, timeout: int | None = None,
                       odata: bool = False) -> List[Dict[str, Any]]:
        query = {k: v for k, v in params.items() if v not in (None, '')}
        if query.get('$filter'):
            query['$filter'] = legacy_filter_to_graph(str(query['$filter']))
        query.setdefault('$expand', 'alerts')
        if odata:
            limit = odata_limit(query, self.page_size)
        elif limit is not None:
            query['$top'] = min(limit, self.page_size)
        return self._normalise(self._incidents(query, limit, timeout), timeout)

    def list_page(self, filter_: str, top: int, timeout: int | None = None,
                  skip: int = 0) -> Tuple[List[Dict[str, Any]], bool]:
        params = assign_params(**{'$filter': filter_ or None, '$top': top, '$skip': skip or None,
                                  '$expand': 'alerts'})
        body = self.http.http_request('GET', '/v1.0/security/incidents', params=params, timeout=timeout)
        items = list(body.get('value') or [])
        return self._normalise(items, timeout), bool(body.get('@odata.nextLink'))   # Graph links every next page

    def counted_page(self, filter_: str, top: int, timeout: int | None = None
                     ) -> Tuple[List[Dict[str, Any]], bool, int | None]:
        params = assign_params(**{'$filter': filter_ or None, '$top': top, '$count': 'true', '$expand': 'alerts'})
        body = self.http.http_request('GET', '/v1.0/security/incidents', params=params, timeout=timeout)
        total = body.get('@odata.count')
        return (self._normalise(list(body.get('value') or []), timeout), bool(body.get('@odata.nextLink')),
                total if isinstance(total, int) else None)

    def list_alerts(self, incident_id: Any, timeout: int | None = None) -> List[Dict[str, Any]]:
        params = {'$filter': f'incidentId eq {odata_string(str(incident_id))}'}
        return list(self.http.paginate('/v1.0/security/alerts_v2', params=params))

    def get_incident(self, incident_id: int, timeout: int | None = None) -> Dict[str, Any]:
        body = self.http.http_request('GET', f'/v1.0/security/incidents/{quote_id(incident_id)}',
                                      params={'$expand': 'alerts'}, timeout=timeout)
        return self._normalise([body], timeout)[0]

    def update_incident(self, incident_id: int, changes: Dict[str, Any], comment: str | None,
                        timeout: int | None = None) -> Dict[str, Any]:
        body: Dict[str, Any] = {}
        for name, value in changes.items():
            if name == 'assignedTo':
                body['assignedTo'] = value or None
            elif name == 'tags':
                body['customTags'] = value
            else:
                body[name] = to_graph_enum(name, value)
        path = f'/v1.0/security/incidents/{quote_id(incident_id)}'
        if body:
            self.http.http_request('PATCH', path, json_data=body, timeout=timeout)
        if comment:
            self.http.http_request('POST', f'{path}/comments', timeout=timeout, json_data={
                '@odata.type': 'microsoft.graph.security.alertComment', 'comment': comment})
        return self.get_incident(incident_id, timeout)

    def run_hunting_query(self, query: str, timespan: str | None, timeout: int | None = None) -> List[Dict]:
        payload = assign_params(Query=query, Timespan=timespan)
        body = self.http.http_request('POST', '/v1.0/security/runHuntingQuery', json_data=payload, timeout=timeout,
                                      idempotent=True)
        return list(body.get('results') or body.get('Results') or [])


# ============================================================================================================
# Readable output and incident enrichment
# ============================================================================================================

def _unique(values: Iterable[Any]) -> List[Any]:
    seen: List[Any] = []
    for value in values:
        if value not in (None, '', []) and value not in seen:
            seen.append(value)
    return seen


def _activity(alerts: List[Dict[str, Any]], key: str, pick: Callable) -> str:
    times = [a[key] for a in alerts if a.get(key)]
    return str(pick(times, key=lambda t: ts_to_datetime(normalize_ts(t)))) if times else ''


def _mailboxes(entities: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """[{Mailbox, Display Name}] once per address, as the official incoming mapper reads them. The Defender XDR API
    spells the type 'Mailbox' (older answers 'MailBox'); both count."""
    found: Dict[Any, Dict[str, Any]] = {}
    for entity in entities:
        if str(entity.get('entityType') or '').lower() == 'mailbox' and entity.get('mailboxAddress', '') not in found:
            found[entity.get('mailboxAddress', '')] = {'Mailbox': entity.get('mailboxAddress', ''),
                                                       'Display Name': entity.get('mailboxDisplayName', '')}
    return list(found.values())


def incident_metadata(incident: Dict[str, Any]) -> Dict[str, Any]:
    """The fields the official integration adds to fetched and mirrored incidents, with its meaning: every alert's
    category (repeats kept: the incoming mapper counts them), the user entities' domain names, New and Active alerts
    counted as active, device tags comma-joined, mailboxes as {Mailbox, Display Name}."""
    alerts = incident.get('alerts') or []
    entities = [e for a in alerts for e in a.get('entities') or []]
    statuses = [a.get('status') for a in alerts if a.get('status')]
    return {
        'Categories': [a.get('category', '') for a in alerts],
        'Impacted entities': list(dict.fromkeys(e.get('domainName', '') for e in entities
                                                if e.get('entityType') == 'User')),
        'Active alerts': f'{statuses.count("Active") + statuses.count("New")} / {len(statuses)}',
        'Service sources': list(dict.fromkeys(a.get('serviceSource', '') for a in alerts)),
        'Detection sources': list(dict.fromkeys(a.get('detectionSource', '') for a in alerts)),
        'First activity': _activity(alerts, 'firstActivity', min),
        'Last activity': _activity(alerts, 'lastActivity', max),
        'Devices': [{'device name': d.get('deviceDnsName', ''), 'risk level': d.get('riskScore', ''),
                     'tags': ','.join(d.get('tags') or [])} for a in alerts for d in a.get('devices') or []],
        'Mailboxes': _mailboxes(entities),
        'comments': incident.get('comments', []),
    }


def incident_summary(incident: Dict[str, Any]) -> Dict[str, Any]:
    """Facts derived from the alerts for the war-room table (distinct values, user principal names)."""
    alerts = incident.get('alerts') or []
    devices = [d for a in alerts for d in a.get('devices') or []]
    entities = [e for a in alerts for e in a.get('entities') or []]
    metadata = incident_metadata(incident)
    return {
        'Categories': _unique(a.get('category') for a in alerts),
        'Impacted entities': _unique(e.get('userPrincipalName') or e.get('accountName') for e in entities
                                     if e.get('entityType') == 'User'),
        'Impacted mailboxes': [m['Mailbox'] for m in metadata['Mailboxes'] if m['Mailbox']],
        'Active alerts': metadata['Active alerts'],
        'Service sources': _unique(a.get('serviceSource') for a in alerts),
        'Detection sources': _unique(a.get('detectionSource') for a in alerts),
        'First activity': metadata['First activity'] or None,
        'Last activity': metadata['Last activity'] or None,
        'Device groups': _unique(d.get('rbacGroupName') for d in devices),
        'Devices': metadata['Devices'],
    }


def raw_incident(incident: Dict[str, Any]) -> Dict[str, Any]:
    """A fetched or mirrored incident: the incident, the official metadata, and two added conveniences (mailbox
    addresses and device groups as plain lists)."""
    summary = incident_summary(incident)
    return {**incident, **incident_metadata(incident), 'Impacted mailboxes': summary['Impacted mailboxes'],
            'Device groups': summary['Device groups']}


TABLE_HEADERS = ['Incident name', 'Tags', 'Severity', 'Incident ID', 'Categories', 'Impacted entities',
                 'Active alerts', 'Service sources', 'Detection sources', 'First activity', 'Last activity', 'Status',
                 'Assigned to', 'Classification', 'Determination', 'Device groups']


def incident_row(incident: Dict[str, Any]) -> Dict[str, Any]:
    summary = incident_summary(incident)
    return {'Incident name': incident.get('incidentName'), 'Tags': incident.get('tags'),
            'Severity': incident.get('severity'), 'Incident ID': incident.get('incidentId'), **summary,
            'Status': incident.get('status'), 'Assigned to': incident.get('assignedTo'),
            'Classification': incident.get('classification'), 'Determination': incident.get('determination')}


def incidents_table(title: str, incidents: List[Dict[str, Any]]) -> str:
    return tableToMarkdown(title, [incident_row(i) for i in incidents], headers=TABLE_HEADERS, removeNull=True)


def incident_results(title: str, incidents: Any) -> CommandResults:
    items = incidents if isinstance(incidents, list) else [incidents]
    return CommandResults(outputs_prefix='Microsoft365Defender.Incident', outputs_key_field='incidentId',
                          outputs=incidents, readable_output=incidents_table(title, items), raw_response=incidents)


# ============================================================================================================
# Commands
# ============================================================================================================

def incidents_list_command(api: IncidentsApi, args: Dict[str, Any]) -> CommandResults:
    """microsoft-365-defender-incidents-list: newest incidents first, optionally filtered (or a raw OData query)."""
    status = choice_arg(args, 'status', STATUSES)
    assigned_to = args.get('assigned_to')
    limit = number_arg(args, 'limit', MAX_LIST_LIMIT, 1, MAX_LIST_LIMIT)
    offset = number_arg(args, 'offset', 0, 0, 1_000_000)
    timeout = timeout_arg(args)
    odata = parse_odata(args.get('odata'))
    if odata is not None:
        incidents = api.list_incidents(odata, limit=None, timeout=timeout, odata=True)
    else:
        clauses = [api.compare('status', 'eq', status) if status else None,
                   api.compare('assignedTo', 'eq', assigned_to) if assigned_to else None]
        params = {'$filter': ' and '.join(c for c in clauses if c) or None, '$skip': offset or None}
        incidents = api.list_incidents(params, limit=limit, timeout=timeout)
    if not incidents:
        return CommandResults(readable_output='No incidents found.')
    return incident_results('Incidents:', incidents)


def parse_odata(value: Any) -> Dict[str, Any] | None:
    if value in (None, ''):
        return None
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or not all(str(k).startswith('$') for k in parsed):
        raise ValueError(f'Invalid "odata": {value}. Provide a JSON object of OData query options, for example '
                         '{"$filter":"lastUpdateTime gt 2024-01-01T00:00:00Z","$top":"10"}.')
    return parsed


def incident_get_command(api: IncidentsApi, args: Dict[str, Any]) -> CommandResults:
    """microsoft-365-defender-incident-get."""
    incident_id = incident_id_arg(args.get('id'))
    incident = api.get_incident(incident_id, timeout_arg(args))
    return incident_results(f'Incident {incident_id}:', incident)


def update_changes(args: Dict[str, Any]) -> Dict[str, Any]:
    """The PATCH fields from the arguments, all validated before anything is sent."""
    status = choice_arg(args, 'status', STATUSES)
    classification = choice_arg(args, 'classification', CLASSIFICATIONS)
    determination = determination_value(classification, args.get('determination') or None)
    changes = assign_params(status=status, classification=classification, determination=determination)
    if 'assigned_to' in args and args.get('assigned_to') is not None:
        changes['assignedTo'] = str(args['assigned_to']).strip()
    if args.get('tags') not in (None, ''):
        changes['tags'] = argToList(args.get('tags'))
    return changes


def incident_update_command(api: IncidentsApi, args: Dict[str, Any]) -> CommandResults:
    """microsoft-365-defender-incident-update: status, owner, classification/determination, tags and a comment."""
    incident_id = incident_id_arg(args.get('id'))
    changes = update_changes(args)
    comment = str(args.get('comment') or '').strip() or None
    timeout = timeout_arg(args)
    if not changes and not comment:
        raise ValueError('Nothing to update: provide at least one of status, assigned_to, classification, '
                         'determination, tags or comment.')
    incident = api.update_incident(incident_id, changes, comment, timeout)
    return incident_results(f'Updated incident {incident_id}:', incident)


def hunting_limit_arg(args: Dict[str, Any]) -> int:
    return number_arg(args, 'limit', -1, 1, MAX_HUNT_ROWS, extra_allowed=(-1,))


def advanced_hunting_command(api: IncidentsApi, args: Dict[str, Any]) -> CommandResults:
    """microsoft-365-defender-advanced-hunting: run KQL; every row to context, a bounded table to the war room."""
    query = str(args.get('query') or '').strip()
    if not query:
        raise ValueError('Missing "query": provide a KQL query, for example "DeviceProcessEvents | take 10".')
    limit = hunting_limit_arg(args)
    timespan = parse_timespan(args.get('timespan'))
    timeout = timeout_arg(args)
    try:
        rows = api.run_hunting_query(apply_hunting_limit(query, limit), timespan, timeout)
    except DemistoException as error:
        if isinstance(api, GraphApi) and graph_refused(error):      # the Graph back end has nothing to fall back to
            raise graph_hunting_permission_error() from None
        if getattr(error, 'res', None) is not None and getattr(error.res, 'status_code', 0) == 400:
            raise DemistoException(f'The advanced hunting query was rejected: {format_microsoft_error(error.res.text)}') \
                from None
        raise
    shown = rows[:HUNT_TABLE_ROWS]
    headers = list(dict.fromkeys(k for row in shown for k in row)) if shown else None
    note = (f'Showing the first {len(shown)} of {len(rows)} rows; all rows are in the context at '
            'Microsoft365Defender.Hunt.results.' if len(rows) > len(shown) else f'{len(rows)} rows.')
    readable = tableToMarkdown(f'Results of query: {query}', shown, headers=headers, metadata=note) if rows \
        else f'### Results of query: {query}\nNo results.'
    # The full rows go to context once; the entry's raw contents keep only what the war room shows, so a
    # 100,000-row answer is not stored twice.
    return CommandResults(outputs_prefix='Microsoft365Defender.Hunt', outputs_key_field='query',
                          outputs={'query': query, 'results': rows}, readable_output=readable,
                          raw_response={'query': query, 'rowCount': len(rows), 'results': shown})


# ============================================================================================================
# fetch-incidents: server-side windows on createdTime, ties at the checkpoint kept by ID
# ============================================================================================================

class FetchConfig:
    def __init__(self, params: Dict[str, Any]) -> None:
        self.first_fetch = params.get('first_fetch') or '3 days'
        self.max_fetch = number_arg({'max_fetch': params.get('max_fetch')}, 'max_fetch', 10, 1, MAX_FETCH_LIMIT)
        raw_timeout = params.get('fetch_timeout')
        self.timeout = None if raw_timeout in (None, '') else \
            number_arg({'fetch_timeout': raw_timeout}, 'fetch_timeout', DEFAULT_TIMEOUT, 1, 3600)
        self.mirror_direction = MIRROR_DIRECTIONS.get(params.get('mirror_direction') or 'None')
        self.comment_tag = params.get('comment_tag') or 'CommentToMicrosoft365Defender'
        self.first_fetch_time()

    def first_fetch_time(self) -> str:
        try:
            moment = date_arg(self.first_fetch, 'first_fetch', required=True)
        except ValueError:
            moment = None
        if moment is None:
            raise ValueError(f'Invalid "first_fetch": "{self.first_fetch}". Use a time such as "12 hours", '
                             '"3 days" or 2024-01-01T00:00:00Z.')
        return datetime_to_ts(moment)


def initial_state(last_run: Dict[str, Any], config: FetchConfig) -> Tuple[str, List[int], float | None]:
    """(checkpoint, IDs already fetched at the checkpoint, window hint) from lastRun, including the official format."""
    if last_run.get('checkpoint'):
        return (normalize_ts(last_run['checkpoint']), [int(i) for i in last_run.get('seen_ids') or []],
                last_run.get('window'))
    queue = last_run.get('incidents_queue') or []
    if queue and queue[0].get('occurred'):            # the official integration's queue: not fetched yet
        return normalize_ts(queue[0]['occurred']), [], None
    if last_run.get('last_run'):                      # the official integration's "createdTime gt" marker
        moment = ts_to_datetime(last_run['last_run']) + timedelta(microseconds=1)
        return datetime_to_ts(moment), [], None
    return config.first_fetch_time(), [], None


def to_xsoar_incident(incident: Dict[str, Any], config: FetchConfig) -> Dict[str, Any]:
    raw = {**raw_incident(incident), 'mirror_direction': config.mirror_direction,
           'mirror_instance': demisto.integrationInstance(), 'mirror_tags': [config.comment_tag]}
    return {'name': f'{INTEGRATION_NAME} {incident.get("incidentId")}', 'occurred': incident.get('createdTime'),
            'rawJSON': json.dumps(raw), 'dbotMirrorId': str(incident.get('incidentId')),
            'severity': XSOAR_SEVERITY.get(str(incident.get('severity')), IncidentSeverity.UNKNOWN)}


class Deadline:
    def __init__(self, seconds: int | None) -> None:
        self.end = None if seconds is None else time.monotonic() + seconds

    def expired(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end


def _window_filter(api: IncidentsApi, start: str, end: str) -> str:
    return f"{api.compare('createdTime', 'ge', start)} and {api.compare('createdTime', 'le', end)}"


def window_target(room: int, page_size: int) -> int:
    """How many incidents a window is sized to hold. A little under the room when it spans several pages, so the
    density estimate's noise rarely adds a page (or leaves incidents to read again next cycle)."""
    return room if room <= page_size else max(page_size, room - max(1, room // 50))


def estimated_count(items: List[Dict[str, Any]], start: datetime, end: datetime) -> Tuple[float, float]:
    """(incidents per second, incidents expected in [start, end]) from the newest-first ``items`` read so far: their
    own density (not diluted by any quiet time before ``end``), assumed to hold for the part still unread."""
    oldest = ts_to_datetime(normalize_ts(items[-1]['createdTime']))
    newest = ts_to_datetime(normalize_ts(items[0]['createdTime']))
    covered = (newest - oldest).total_seconds() or max((end - oldest).total_seconds(), 1e-6)
    density = len(items) / covered
    return density, len(items) + density * max((oldest - start).total_seconds(), 0.0)


def _read_pages(api: IncidentsApi, filter_: str, skip: int, deadline: Deadline, http_timeout: int | None,
                first: Tuple[List[Dict[str, Any]], bool] | None = None) -> List[Dict[str, Any]]:
    """The incidents of ``filter_`` from position ``skip`` to the end, a page at a time; an incident seen twice
    (a newer arrival shifts the pages) is kept once."""
    items: List[Dict[str, Any]] = []
    seen: set = set()
    while True:
        if first is None and deadline.expired():
            raise TimeoutError
        page, more = first or api.list_page(filter_, api.page_size, http_timeout, skip=skip)
        first = None
        skip += len(page)
        items += [i for i in page if as_int(i.get('incidentId')) not in seen]
        seen.update(as_int(i.get('incidentId')) for i in page)
        if not more or not page:
            return items


def read_window(api: IncidentsApi, start: str, span: timedelta, room: int, now: datetime, deadline: Deadline,
                http_timeout: int | None) -> Tuple[List[Dict[str, Any]], str, timedelta, bool]:
    """The incidents created in [start, start + span] (capped at now), listed newest first and paged with $skip,
    and whether that is all of them.

    The oldest incidents come last in a newest-first listing, so a window holding far more than ``room`` would
    cost every page above them. When the API counts the window ($count, Graph), only its last pages are read (not
    all: the caller takes from them and stops). Otherwise the first page's density estimates the count, and a
    window estimated well above ``room`` is narrowed to the span that density gives ``room`` in and asked again."""
    start_dt = ts_to_datetime(start)
    while True:
        end_dt = min(start_dt + span, now)
        filter_ = _window_filter(api, start, datetime_to_ts(end_dt))
        if deadline.expired():
            raise TimeoutError
        page, more, total = api.counted_page(filter_, api.page_size, http_timeout)
        if total is not None and total > room:
            tail = _read_pages(api, filter_, total - window_target(room, api.page_size), deadline, http_timeout)
            return tail, datetime_to_ts(end_dt), end_dt - start_dt, False
        if more and total is None and end_dt - start_dt > MIN_WINDOW:
            density, expected = estimated_count(page, start_dt, end_dt)
            if expected > room + api.page_size:
                narrower = timedelta(seconds=window_target(room, api.page_size) / density)
                span = max(min(narrower, (end_dt - start_dt) * 0.9), MIN_WINDOW)
                continue
        items = _read_pages(api, filter_, 0, deadline, http_timeout, first=(page, more))
        return items, datetime_to_ts(end_dt), end_dt - start_dt, True


def next_spans(items: List[Dict[str, Any]], end: datetime, used: timedelta, room: int, max_fetch: int,
               page_size: int, hint: timedelta, whole: bool = True) -> Tuple[timedelta, timedelta]:
    """(span of the next window in this cycle, span for a whole cycle kept in lastRun) from the window just read:
    sized by its density, or grown after an empty window (a gap in the backlog)."""
    if not items:
        return used * EMPTY_GROWTH, max(hint, used * EMPTY_GROWTH)
    times = [ts_to_datetime(normalize_ts(i['createdTime'])) for i in items]
    if not whole:                                        # the last pages only: their own time span
        end = max(times)
    covered = min(used, end - min(times)) if end > min(times) else used     # a leading gap is no part of the density
    seconds_each = covered.total_seconds() / len(items)
    left = max(room - len(items), 1)
    return (max(timedelta(seconds=window_target(left, page_size) * seconds_each), MIN_WINDOW),
            max(timedelta(seconds=window_target(max_fetch, page_size) * seconds_each), MIN_WINDOW))


def fetch_incidents(api: IncidentsApi, config: FetchConfig, last_run: Dict[str, Any],
                    now: datetime | None = None) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    """The incidents to create and the next lastRun (not saved here).

    Each window [checkpoint, end] is read completely from the server and sorted by (createdTime, incidentId); the
    oldest unseen incidents are taken. The checkpoint is the createdTime of the newest incident taken, and the IDs
    taken at that exact time are remembered, so incidents sharing it are neither skipped nor repeated (``ge``).
    Windows are sized from the density last observed (kept in lastRun as ``window``) to hold about ``max_fetch``
    incidents, so a cycle costs about the pages it hands over.
    """
    now = now or datetime.now(UTC)
    checkpoint, seen, hint = initial_state(last_run, config)
    span = max(timedelta(seconds=hint) if hint else now - ts_to_datetime(checkpoint), MIN_WINDOW)  # 0: caught up
    hint_span = span
    deadline = Deadline(config.timeout)
    taken: List[Dict[str, Any]] = []
    read: set = set()                                    # IDs read by earlier windows of this cycle (shared bounds)
    start = checkpoint
    try:
        while len(taken) < config.max_fetch:
            room = config.max_fetch - len(taken)
            items, end, used, whole = read_window(api, start, span, room + len(seen), now, deadline, config.timeout)
            span, hint_span = next_spans(items, ts_to_datetime(end), used, room, config.max_fetch, api.page_size,
                                         hint_span, whole)
            fresh = sorted((i for i in items if as_int(i.get('incidentId')) not in read
                            and not (normalize_ts(i['createdTime']) == checkpoint and as_int(i.get('incidentId')) in seen)),
                           key=lambda i: (normalize_ts(i['createdTime']), as_int(i.get('incidentId'))))
            read.update(as_int(i.get('incidentId')) for i in items)
            for incident in fresh[:room]:
                created = normalize_ts(incident['createdTime'])
                seen = seen + [incident['incidentId']] if created == checkpoint else [incident['incidentId']]
                checkpoint = created
                taken.append(incident)
            if len(fresh) > room or not whole:
                break                                    # the rest of this window waits for the next run
            if taken and config.max_fetch - len(taken) < api.page_size:
                break                                    # less than a page of room: cheaper in the next cycle
            if ts_to_datetime(end) >= now:
                hint_span = timedelta(0)                 # caught up: the next cycle reads up to its own now at once
                break
            start = end              # the checkpoint stays at the newest incident taken: late ties there still come
    except (TimeoutError, DemistoException) as error:
        if not taken:
            if isinstance(error, TimeoutError):
                raise DemistoException(f'Fetch incidents timed out after {config.timeout} seconds without finding the '
                                       'next incidents. Raise the fetch timeout or choose a more recent first fetch '
                                       'time.') from None
            raise
        demisto.debug(f'fetch-incidents stopped early and returns what it has: {error}')
    next_run = {'checkpoint': checkpoint, 'seen_ids': seen, 'window': round(hint_span.total_seconds(), 3)}
    return [to_xsoar_incident(i, config) for i in taken], next_run


def fetch_incidents_command(api: IncidentsApi, params: Dict[str, Any]) -> None:
    config = FetchConfig(params)
    incidents, next_run = fetch_incidents(api, config, demisto.getLastRun() or {})
    demisto.incidents(incidents)        # hand the incidents over first; only then move the checkpoint
    demisto.setLastRun(next_run)


# ============================================================================================================
# Mirroring
# ============================================================================================================

def get_modified_remote_data_command(api: IncidentsApi, args: Dict[str, Any]) -> 'GetModifiedRemoteDataResponse':
    since = date_arg(GetModifiedRemoteDataArgs({'lastUpdate': None, **args}).last_update, 'lastUpdate',
                            required=True)
    filter_ = api.compare('lastUpdateTime', 'gt', datetime_to_ts(since))  # type: ignore[arg-type]
    incidents = api.list_all(filter_, MODIFIED_IDS_CAP)
    return GetModifiedRemoteDataResponse([str(i.get('incidentId')) for i in incidents])


def _comment_entries(incident: Dict[str, Any], since: datetime | None, tag: str) -> List[Dict[str, Any]]:
    entries = []
    for comment in incident.get('comments') or []:
        text = str(comment.get('comment') or '')
        if not text or MIRROR_MARKER in text:
            continue
        created = comment.get('createdTime')
        if since and created and ts_to_datetime(created) <= since:
            continue
        entries.append({'Type': EntryType.NOTE, 'ContentsFormat': EntryFormat.MARKDOWN, 'Note': True, 'Tags': [tag],
                        'Contents': f'{text}\n\n(created by {comment.get("createdBy") or "unknown"} in '
                                    f'{INTEGRATION_NAME} at {created})'})
    return entries


def _close_entries(incident: Dict[str, Any]) -> List[Dict[str, Any]]:
    if incident.get('status') == 'Resolved':
        classification = incident.get('classification') or 'Unknown'
        return [{'Type': EntryType.NOTE, 'ContentsFormat': EntryFormat.JSON, 'Contents': {
            'dbotIncidentClose': True, 'closeReason': CLOSE_REASONS.get(classification, 'Other'),
            'closeNotes': f'Resolved in {INTEGRATION_NAME}: classification {classification}, determination '
                          f'{incident.get("determination") or "NotAvailable"}.'}}]
    return [{'Type': EntryType.NOTE, 'ContentsFormat': EntryFormat.JSON, 'Contents': {'dbotIncidentReopen': True}}]


def get_remote_data_command(api: IncidentsApi, args: Dict[str, Any], params: Dict[str, Any]) -> 'GetRemoteDataResponse':
    if args.get('id') in (None, ''):
        raise ValueError('Missing required argument "id".')
    remote = GetRemoteDataArgs({'lastUpdate': None, **args})  # lastUpdate is optional (YAML)
    try:
        incident = api.get_incident(incident_id_arg(remote.remote_incident_id))
        since = date_arg(remote.last_update, 'lastUpdate') if remote.last_update not in (None, '', '0', 0) else None
        entries = _comment_entries(incident, since, params.get('comment_tag_from_microsoft365defender')
                                   or 'CommentFromMicrosoft365Defender')
        if argToBoolean(params.get('close_incident') or False):
            entries += _close_entries(incident)
        mirrored = {**raw_incident(incident), 'in_mirror_error': ''}
        return GetRemoteDataResponse(mirrored, entries)
    except Exception as error:  # the server shows the field; raising would stop mirroring of every incident
        demisto.debug(f'get-remote-data failed for incident {remote.remote_incident_id}: {error}')
        return GetRemoteDataResponse({'incidentId': remote.remote_incident_id, 'in_mirror_error': str(error)}, [])


def get_mapping_fields_command() -> 'GetMappingFieldsResponse':
    scheme = SchemeTypeMapping(type_name=INCIDENT_TYPE_NAME)
    descriptions = {'status': 'Incident status: Active, InProgress, Resolved or Redirected.',
                    'assignedTo': 'Owner of the incident (empty to unassign).',
                    'classification': 'Unknown, FalsePositive, TruePositive or InformationalExpectedActivity.',
                    'determination': 'Determination; the allowed values depend on the classification.',
                    'tags': 'Custom tags of the incident.',
                    'comment': 'A comment to add to the incident.'}
    for name, description in descriptions.items():
        scheme.add_field(name, description)
    return GetMappingFieldsResponse([scheme])


def outgoing_changes(remote: 'UpdateRemoteSystemArgs', close_out: bool) -> Dict[str, Any]:
    """The PATCH fields for an outgoing update: mapped field changes plus closing and reopening."""
    delta = remote.delta or {}
    args: Dict[str, Any] = {}
    for name in ('status', 'classification', 'determination', 'tags'):
        if delta.get(name) not in (None, ''):
            args[name] = delta[name]
    if 'assignedTo' in delta:
        args['assigned_to'] = delta.get('assignedTo') or ''
    if close_out and remote.inc_status == IncidentStatus.DONE:
        args['status'] = 'Resolved'
        reason = str(delta.get('closeReason') or (remote.data or {}).get('closeReason') or '')
        if reason.replace(' ', '').lower() == 'falsepositive':
            args['classification'], args['determination'] = 'FalsePositive', 'Other'
        elif reason in ('Other', 'Duplicate'):
            args['classification'], args['determination'] = 'Unknown', 'NotAvailable'
    elif close_out and any(name in delta and not delta.get(name) for name in ('closeReason', 'closingUserId')):
        args['status'] = 'Active'
    if args.get('determination') and not args.get('classification'):
        args.pop('determination')        # the pair can only be sent together
    return update_changes(args)


def mirror_comment(entry: Dict[str, Any]) -> str:
    text = str(entry.get('contents') or entry.get('Contents') or '')
    if str(entry.get('format') or '').lower() == 'html':
        text = f'<div>{text}</div>'
    return f'({entry.get("user") or "Cortex XSOAR"}): {text}\n\n{MIRROR_MARKER}'


def mirror_arg(args: Dict[str, Any], name: str, kind: type) -> Any:
    """An update-remote-system argument the server hands over as an object or a list; given on a command line it is
    a JSON string. Anything else is the caller's mistake, named as such (not blamed on Microsoft's answer)."""
    value = args.get(name)
    if value in (None, ''):
        return kind()
    what = 'a JSON object' if kind is dict else 'a JSON list of entry objects'
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f'Invalid "{name}": {value}. Provide {what}.') from None
    if not isinstance(value, kind) or (kind is list and not all(isinstance(e, dict) for e in value)):
        raise ValueError(f'Invalid "{name}": {json.dumps(value)[:200]}. Provide {what}.')
    return value


def remote_update_args(args: Dict[str, Any]) -> Dict[str, Any]:
    """update-remote-system's arguments with delta, data and entries as objects, incidentChanged a boolean and
    status an incident status number, whether the server or a command line gave them."""
    status = args.get('status')
    return dict(args, delta=mirror_arg(args, 'delta', dict), data=mirror_arg(args, 'data', dict),
                entries=mirror_arg(args, 'entries', list),
                incidentChanged=argToBoolean(args.get('incidentChanged') or False),
                status=None if status in (None, '') else arg_to_number(status, 'status', required=True))


def update_remote_system_command(api: IncidentsApi, args: Dict[str, Any], params: Dict[str, Any]) -> str:
    remote = UpdateRemoteSystemArgs(remote_update_args(args))
    incident_id = incident_id_arg(remote.remote_incident_id, 'remoteId')
    changes = outgoing_changes(remote, argToBoolean(params.get('close_out') or False)) \
        if remote.incident_changed else {}
    tag = params.get('comment_tag') or 'CommentToMicrosoft365Defender'
    comments = [mirror_comment(e) for e in remote.entries or []
                if not e.get('tags') or tag in (e.get('tags') or [])]
    if changes:
        api.update_incident(incident_id, changes, None)
    for comment in comments:
        api.update_incident(incident_id, {}, comment)
    return str(incident_id)


# ============================================================================================================
# Parameters, client and dispatch
# ============================================================================================================

def split_app_id(value: str) -> Tuple[str, str]:
    """'app_id@refresh_token' (an old way to hand over a refresh token) -> (app_id, refresh_token)."""
    app_id, _, refresh_token = (value or '').partition('@')
    return app_id.strip(), refresh_token.strip()


def api_backend(params: Dict[str, Any]) -> str:
    """The selected back end; instances saved before the parameter existed keep the Defender XDR API."""
    value = params.get('api_backend')
    if value in (None, ''):
        return BACKEND_LEGACY
    if value not in (BACKEND_GRAPH, BACKEND_LEGACY):
        raise ValueError(f'Invalid "api_backend": "{value}". Allowed values: {BACKEND_GRAPH}, {BACKEND_LEGACY}.')
    return value


def build_api(params: Dict[str, Any]) -> IncidentsApi:
    """The back end for these parameters, with the official resolution order of every credential parameter."""
    backend = api_backend(params)
    cloud_name = params.get('azure_cloud') or 'Worldwide'
    custom = cloud_name == 'Custom'
    api_url = url_param(params, 'api_url', 'API URL (Custom cloud)', 'https://graph.microsoft.com') if custom else ''
    login_url = url_param(params, 'login_url', 'Login URL (Custom cloud)', 'https://login.microsoftonline.com') \
        if custom else ''
    cloud = get_cloud(cloud_name, login_url=login_url, graph_url=api_url, xdr_url=api_url)
    base_url = url_param(params, 'base_url', 'Endpoint URI', DEFAULT_XDR_URL)
    if backend == BACKEND_LEGACY and base_url and not api_url and (base_url != DEFAULT_XDR_URL
                                                                   or cloud_name == 'Worldwide'):
        cloud = get_cloud(cloud_name, login_url=cloud.login_url, graph_url=api_url, xdr_url=base_url)
    managed_identity = get_azure_managed_identities_client_id(params)
    app_id, refresh_token = split_app_id(get_credential_param(params, 'creds_client_id', 'app_id', '_app_id'))
    if not app_id and managed_identity is None:
        raise DemistoException('Application ID must be provided.')
    client_credentials = argToBoolean(params.get('client_credentials') or False)
    if backend == BACKEND_GRAPH and app_id == XSOAR_APP_ID and not client_credentials and managed_identity is None:
        raise DemistoException(XSOAR_APP_ON_GRAPH)
    settings = AuthSettings(
        client_id=app_id,
        tenant_id=get_credential_param(params, 'creds_tenant_id', 'tenant_id', '_tenant_id'),
        client_secret=get_credential_param(params, 'enc_key', 'credentials'),
        certificate_thumbprint=get_credential_param(params, 'creds_certificate', 'certificate_thumbprint',
                                                    part='identifier'),
        private_key=get_credential_param(params, 'creds_certificate', 'private_key'),
        grant_type='client_credentials' if client_credentials else 'device_code',
        use_managed_identity=managed_identity is not None,
        managed_identity_client_id=managed_identity or '',
        cloud=cloud, command_prefix=PREFIX, verify=not argToBoolean(params.get('insecure') or False),
    )
    proxy = argToBoolean(params.get('proxy') or False)
    product = 'graph' if backend == BACKEND_GRAPH else 'xdr'
    client = MicrosoftClient.from_settings(settings, base_url=cloud.api_url(product), scope=cloud.scope(product),
                                           proxy=proxy)
    if refresh_token and client.credential.uses_refresh_token:
        client.tokens.update_account(lambda account: account if account.get('refresh_token')
                                     else {**account, 'refresh_token': refresh_token})
    if backend == BACKEND_GRAPH:
        return GraphApi(client)
    hunting = hunting_api_param(params)
    graph = None
    xsoar_app = app_id == XSOAR_APP_ID and not client_credentials and managed_identity is None
    if hunting != HUNT_LEGACY and not xsoar_app:
        # Graph hunting with the same credential: its tokens live in the same cache account, under the Graph scope.
        graph = GraphApi(MicrosoftClient.from_settings(settings, base_url=cloud.api_url('graph'),
                                                       scope=cloud.scope('graph'), proxy=proxy))
    return LegacyApi(client, hunting, graph)


def hunting_api_param(params: Dict[str, Any]) -> str:
    """The "Advanced hunting API" parameter (Automatic when empty); an unknown value names the parameter."""
    value = str(params.get('hunting_api') or '').strip()
    if not value:
        return HUNT_AUTO
    for option in HUNTING_APIS:
        if value.lower() == option.lower():
            return option
    raise ValueError(f'Invalid "Advanced hunting API" parameter: "{value}". Allowed values: '
                     f'{", ".join(HUNTING_APIS)}.')


def test_module(api: IncidentsApi, params: Dict[str, Any]) -> str:
    """Token, then one API call (permissions), then the fetch settings when fetching is on."""
    result = auth_test_module(api.http)
    api.check_access()
    if argToBoolean(params.get('isFetch') or False):
        FetchConfig(params)
    return result


COMMANDS: Dict[str, Callable[[IncidentsApi, Dict[str, Any]], Any]] = {
    f'{PREFIX}-incidents-list': incidents_list_command,
    f'{PREFIX}-incident-get': incident_get_command,
    f'{PREFIX}-incident-update': incident_update_command,
    f'{PREFIX}-advanced-hunting': advanced_hunting_command,
    'get-modified-remote-data': get_modified_remote_data_command,
}


def main() -> None:
    params, args, command = demisto.params(), demisto.args(), demisto.command()
    demisto.debug(f'Command being called is {command}')
    try:
        with response_shape_guard():
            api = build_api(params)
            auth_commands = auth_command_table(api.http, PREFIX)
            if command == 'test-module':
                return_results(test_module(api, params))
            elif command == 'fetch-incidents':
                fetch_incidents_command(api, params)
            elif command in COMMANDS:
                return_results(COMMANDS[command](api, args))
            elif command == 'get-remote-data':
                return_results(get_remote_data_command(api, args, params))
            elif command == 'update-remote-system':
                return_results(update_remote_system_command(api, args, params))
            elif command == 'get-mapping-fields':
                return_results(get_mapping_fields_command())
            elif command in auth_commands and command != f'{PREFIX}-generate-login-url':
                return_results(auth_commands[command](args))
            else:
                raise NotImplementedError(f'Command "{command}" is not implemented.')
    except RetryAfterError as error:
        return_error(f'Failed to execute {command} command. {error.message}')
    except Exception as error:
        return_error(f'Failed to execute {command} command.\nError:\n{error}')


from MicrosoftApiModule import *  # noqa: E402

if __name__ in ('__main__', '__builtin__', 'builtins'):
    main()
