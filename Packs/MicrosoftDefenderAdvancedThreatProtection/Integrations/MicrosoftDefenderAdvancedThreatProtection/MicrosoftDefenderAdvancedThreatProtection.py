"""Microsoft Defender for Endpoint: machines, response actions and live response (with polling), vulnerability
management, investigations, file/IP/domain statistics, custom indicators (current and legacy Graph), advanced hunting,
alerts and alert fetching.

Every command validates its arguments before the first API call, reports per machine when it acts on several
machines, and keeps inside Microsoft's rate limits (100 calls per minute, 1,500 per hour; 45 per minute for hunting):
short Retry-After waits happen in the shared MicrosoftApiModule, long ones reschedule the command for the machines
that are still to do. Authentication, retries and Microsoft error messages come from MicrosoftApiModule.
"""
import ipaddress
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Callable, Dict, List, Tuple

import demistomock as demisto
from CommonServerPython import *
from CommonServerUserPython import *

PREFIX = 'microsoft-atp'
INTEGRATION_NAME = 'Microsoft Defender for Endpoint'
APP_NAME = 'ms-defender-atp'
VENDOR = 'Microsoft Defender ATP'

# The official endpoint types, then the API hosts Microsoft Learn now documents, by host name (MicrosoftApiModule's
# MDE_SECURITY_HOSTS maps them; that module is inlined at the end of this script, so the names are listed here).
SECURITY_API_HOSTS = ('api.security.microsoft.com', 'us.api.security.microsoft.com', 'eu.api.security.microsoft.com',
                      'uk.api.security.microsoft.com', 'au.api.security.microsoft.com',
                      'swa.api.security.microsoft.com', 'ina.api.security.microsoft.com',
                      'aea.api.security.microsoft.com')
ENDPOINT_TYPES = ('Worldwide', 'EU Geo Proximity', 'UK Geo Proximity', 'US Geo Proximity', 'US GCC', 'US GCC-High',
                  'DoD', 'Custom', *SECURITY_API_HOSTS)
AUTH_TYPES = {'Client Credentials': 'client_credentials', 'Authorization Code': 'authorization_code',
              'Azure Managed Identities': 'managed_identity'}

ACTION_DONE = ('Succeeded', 'Failed', 'TimeOut', 'Cancelled')
ACTION_FAILED = ('Failed', 'TimeOut', 'Cancelled')
DEFAULT_INTERVAL = 10
DEFAULT_POLL_TIMEOUT = 600
MAX_PAGE_SIZE = 10_000

RISK_SCORES = ('None', 'Informational', 'Low', 'Medium', 'High')
HEALTH_STATUSES = ('Active', 'Inactive', 'ImpairedCommunication', 'NoSensorData', 'NoSensorDataImpairedCommunication',
                   'Unknown')
ACTION_TYPES = ('RunAntiVirusScan', 'Offboard', 'CollectInvestigationPackage', 'Isolate', 'Unisolate',
                'StopAndQuarantineFile', 'RestrictCodeExecution', 'UnrestrictCodeExecution', 'LiveResponse')
ACTION_STATUSES = ('Pending', 'InProgress', 'Succeeded', 'Failed', 'TimeOut', 'Cancelled')
INDICATOR_TYPES = ('FileSha1', 'FileSha256', 'FileMd5', 'IpAddress', 'DomainName', 'Url', 'CertificateThumbprint')
INDICATOR_ACTIONS = ('Audit', 'Block', 'BlockAndRemediate', 'Allowed', 'Warn', 'Alert', 'AlertAndBlock')
INDICATOR_SEVERITIES = ('Informational', 'Low', 'Medium', 'High')

FETCH_STATUSES = ('New', 'InProgress', 'Resolved')
FETCH_SEVERITIES = ('Informational', 'Low', 'Medium', 'High')
DETECTION_SOURCES = {
    'Antivirus': 'WindowsDefenderAv', 'Automated investigation': 'AutomatedInvestigation',
    'Custom detection': 'CustomDetection', 'Custom TI': 'CustomerTI', 'EDR': 'WindowsDefenderAtp',
    'Microsoft 365 Defender': 'MTP', 'Microsoft Defender for Office 365': 'OfficeATP',
    'Microsoft Defender Experts': 'ThreatExperts', 'SmartScreen': 'WindowsDefenderSmartScreen',
    'Third-party sensors': 'ThirdPartySensors',
}
XSOAR_SEVERITY = {'Informational': IncidentSeverity.INFO, 'Low': IncidentSeverity.LOW,
                  'Medium': IncidentSeverity.MEDIUM, 'High': IncidentSeverity.HIGH}


# ============================================================================================================
# Arguments: every value is checked before the first API call, and errors name the argument
# ============================================================================================================

def choice_arg(args: Dict[str, Any], name: str, allowed: Tuple[str, ...], default: str | None = None,
               required: bool = False) -> str | None:
    """One of ``allowed`` (case-insensitive), the default when absent, or a clear error."""
    value = args.get(name)
    if value in (None, ''):
        if required and default is None:
            raise ValueError(f'Missing "{name}". Allowed values: {", ".join(allowed)}.')
        return default
    for option in allowed:
        if str(value).strip().lower() == option.lower():
            return option
    raise ValueError(f'Invalid "{name}": "{value}". Allowed values: {", ".join(allowed)}.')


def choice_list_arg(args: Dict[str, Any], name: str, allowed: Tuple[str, ...]) -> List[str]:
    return [str(choice_arg({name: v}, name, allowed)) for v in text_list(args, name)]


def number_arg(args: Dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = args.get(name)
    if value in (None, ''):
        return default
    text = str(value).strip()
    if not re.fullmatch(r'\d+', text) or not low <= int(text) <= high:
        raise ValueError(f'Invalid "{name}": "{value}". Provide a whole number from {low} to {high}.')
    return int(text)


def required_arg(args: Dict[str, Any], name: str) -> str:
    value = args.get(name)
    if value in (None, '') or not str(value).strip():
        raise ValueError(f'Missing required argument "{name}".')
    return str(value).strip()


def text_list(args: Dict[str, Any], name: str) -> List[str]:
    """A list argument's values as text. argToList reads a value starting with '[' as JSON, which can hold objects:
    those are refused naming the argument rather than failing later in a filter or an address check."""
    values = argToList(args.get(name))
    if any(isinstance(v, (dict, list)) for v in values):
        raise ValueError(f'"{name}" takes a comma-separated list of values, not JSON objects.')
    return list(dict.fromkeys(str(v).strip() for v in values if v is not None and str(v).strip()))


def required_list(args: Dict[str, Any], name: str) -> List[str]:
    values = text_list(args, name)
    if not values:
        raise ValueError(f'Missing required argument "{name}".')
    return values


_HEX = {'MD5': 32, 'SHA1': 40, 'SHA256': 64}


def hash_arg(value: str, name: str, kinds: Tuple[str, ...]) -> str:
    """A hex hash of one of ``kinds`` (MD5/SHA1/SHA256), lower-cased."""
    text = value.strip()
    if re.fullmatch(r'[0-9a-fA-F]+', text) and len(text) in (_HEX[k] for k in kinds):
        return text.lower()
    raise ValueError(f'Invalid "{name}": "{value}". Provide a {" or ".join(kinds)} hash.')


def ip_arg(value: str, name: str = 'ip') -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError(f'Invalid "{name}": "{value}". Provide an IPv4 or IPv6 address.') from None


def bool_arg(args: Dict[str, Any], name: str, default: bool = False) -> bool:
    value = args.get(name)
    if value in (None, ''):
        return default
    try:
        return argToBoolean(value)
    except ValueError:
        raise ValueError(f'Invalid "{name}": "{value}". Allowed values: true, false.') from None


_DURATION = re.compile(r'^\s*(\d+)\s*(minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|months?|years?)\s*$', re.I)
_UNIT_MINUTES = {'m': 1, 'h': 60, 'd': 1440, 'w': 10080, 'mo': 43200, 'y': 525600}


def duration_minutes(value: str, name: str) -> int:
    """'2 weeks', '1 day', '30 minutes' as whole minutes (for KQL ago() and expiration times)."""
    match = _DURATION.match(str(value or ''))
    if not match:
        raise ValueError(f'Invalid "{name}": "{value}". Use a number and a unit, for example "7 days" or "12 hours".')
    unit = match.group(2).lower()
    key = 'mo' if unit.startswith('mo') else unit[0]
    return int(match.group(1)) * _UNIT_MINUTES[key]


def future_time_arg(args: Dict[str, Any], name: str, default: str) -> str:
    """An expiration time: a duration from now ('14 days') or an ISO date/time, as UTC ISO 8601."""
    value = str(args.get(name) or default).strip()
    if _DURATION.match(value):
        moment = datetime.now(UTC) + timedelta(minutes=duration_minutes(value, name))
    else:
        parsed = date_arg(value, name) if re.match(r'^\d{4}-\d{2}-\d{2}', value) else None
        if parsed is None:
            raise ValueError(f'Invalid "{name}": "{value}". Use a duration such as "14 days" or a date such as '
                             '2030-01-01T00:00:00Z.')
        moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


# ============================================================================================================
# KQL: every value from an argument becomes a string literal that cannot break out
# ============================================================================================================

_KQL_ESCAPES = {'\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t'}


def kql_string(value: Any) -> str:
    """A double-quoted KQL string literal. Quotes, backslashes and line breaks are escaped; other control
    characters are refused, so nothing a user types can end the literal or start a new statement."""
    out = []
    for char in str(value):
        if char in _KQL_ESCAPES:
            out.append(_KQL_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7f or char in '\u2028\u2029':
            raise ValueError(f'Invalid value {value!r}: control characters are not allowed in hunting values.')
        else:
            out.append(char)
    return '"' + ''.join(out) + '"'


def kql_list(values: List[str]) -> str:
    return '(' + ', '.join(kql_string(v) for v in values) + ')'


# ============================================================================================================
# Download links
# ============================================================================================================

_LINK_QUOTES = '"\''


def sas_link(value: Any, what: str) -> str:
    """The download link in a GetPackageUri / GetLiveResponseResultDownloadLink answer, ready to fetch.

    Microsoft documents GetPackageUri's ``value`` as a JSON string whose text is the link inside literal double
    quotes (``"\\"https://...\\""``); those quotes are not part of the link, so they are removed here. Anything that
    is still not an http(s) link is refused with a clear error instead of a failed download. The value is never
    repeated in the error: a pre-signed link grants access to the file."""
    link = str(value or '').strip()
    while len(link) >= 2 and link[0] == link[-1] and link[0] in _LINK_QUOTES:
        link = link[1:-1].strip()
    if not re.match(r'^https?://[^\s/"\']', link, re.IGNORECASE) or any(c.isspace() for c in link):
        raise DemistoException(f'Microsoft did not return a usable download link for the {what} (expected an '
                               'https link). Wait a few minutes and request the link again; if this persists, '
                               'open the file from the Microsoft Defender portal.')
    return link


# ============================================================================================================
# Client: one method per Defender for Endpoint API call
# ============================================================================================================

# Advanced hunting moves to Microsoft Graph: Microsoft retires the Defender for Endpoint hunting API
# (/api/advancedqueries/run) between 6 February 2026 and 1 February 2027 (message center MC1220762).
HUNT_AUTO = 'Automatic'
HUNT_GRAPH = 'Microsoft Graph'
HUNT_LEGACY = 'Legacy Defender for Endpoint'
HUNTING_APIS = (HUNT_AUTO, HUNT_GRAPH, HUNT_LEGACY)
GRAPH_HUNTING_PERMISSION = 'ThreatHunting.Read.All'
HUNTING_TIMESPAN = 'P30D'          # the legacy API always searched the last 30 days; Graph is asked for the same


def graph_hunting_permission_error(legacy_status: int | None = None) -> DemistoException:
    """Graph refused hunting and the Defender for Endpoint hunting API cannot stand in: say which permission to add."""
    return graph_permission_error(GRAPH_HUNTING_PERMISSION, 'Defender for Endpoint hunting API', 'Authorization Code',
                                  legacy_status)


class Client:
    """Thin wrapper: paths and bodies of the Defender for Endpoint API over an authenticated MicrosoftClient.
    ``hunting_api`` is the instance's "Advanced hunting API" choice (one of HUNTING_APIS)."""

    def __init__(self, http: Any, hunting_api: str = HUNT_AUTO) -> None:
        self.http = http
        self.hunting_api = hunting_api

    # ---- machines -------------------------------------------------------------------------------------------
    def list_machines(self, filter_: str | None, top: int | None = None, skip: int | None = None) -> List[Dict]:
        params = assign_params(**{'$filter': filter_, '$top': top, '$skip': skip or None})
        return self.http.http_request('GET', '/machines', params=params).get('value') or []

    def get_machine(self, machine_id: str) -> Dict[str, Any]:
        return self.http.http_request('GET', f'/machines/{quote_id(machine_id, "machine_id")}')

    def find_machines_by_ip(self, ip: str, timestamp: str) -> List[Dict]:
        return self.http.http_request('GET', f"/machines/findbyip(ip='{ip}',timestamp={timestamp})").get('value') or []

    def file_machines(self, sha1: str) -> List[Dict]:
        return self.http.http_request('GET', f'/files/{quote_id(sha1, "file_hash")}/machines').get('value') or []

    def domain_machines(self, domain: str) -> List[Dict]:
        return self.http.http_request('GET', f'/domains/{quote_id(domain, "domain")}/machines').get('value') or []

    def user_machines(self, username: str) -> List[Dict]:
        return self.http.http_request('GET', f'/users/{quote_id(username, "username")}/machines').get('value') or []

    def machine_users(self, machine_id: str) -> List[Dict]:
        path = f'/machines/{quote_id(machine_id, "machine_id")}/logonusers'
        return self.http.http_request('GET', path).get('value') or []

    def machine_tag(self, machine_id: str, action: str, tag: str) -> Dict[str, Any]:
        return self.http.http_request('POST', f'/machines/{quote_id(machine_id, "machine_id")}/tags',
                                      json_data={'Value': tag, 'Action': action})

    # ---- response actions -----------------------------------------------------------------------------------
    def machine_action(self, machine_id: str, action: str, body: Dict[str, Any]) -> Dict[str, Any]:
        """POST /machines/{id}/<action>: every response action has this shape and returns a machineAction."""
        return self.http.http_request('POST', f'/machines/{quote_id(machine_id, "machine_id")}/{action}',
                                      json_data=body)

    def get_machine_action(self, action_id: str) -> Dict[str, Any]:
        return self.http.http_request('GET', f'/machineactions/{quote_id(action_id, "machine_action_id")}')

    def list_machine_actions(self, filter_: str | None, top: int) -> List[Dict]:
        params = assign_params(**{'$filter': filter_, '$top': top})
        return self.http.http_request('GET', '/machineactions', params=params).get('value') or []

    def package_uri(self, action_id: str) -> str:
        body = self.http.http_request('GET', f'/machineactions/{quote_id(action_id, "action_id")}/getPackageUri')
        return sas_link(body.get('value'), f'investigation package of machine action {action_id}')

    def download(self, url: str) -> bytes:
        """The package is a pre-signed (SAS) link: fetched without our bearer token."""
        res = requests.get(url, verify=self.http._verify, timeout=300)
        if res.status_code >= 400:
            raise DemistoException(f'Downloading the investigation package failed with HTTP {res.status_code}.')
        return res.content

    # ---- live response ----------------------------------------------------------------------------------------
    def run_live_response(self, machine_id: str, commands: List[Dict[str, Any]], comment: str) -> Dict[str, Any]:
        return self.machine_action(machine_id, 'runliveresponse', {'Commands': commands, 'Comment': comment})

    def live_response_link(self, action_id: str, index: int) -> str:
        """A short-lived SAS link to the result of command ``index`` of a live response action."""
        path = (f'/machineactions/{quote_id(action_id, "machine_action_id")}'
                f'/GetLiveResponseResultDownloadLink(index={int(index)})')
        return sas_link(self.http.http_request('GET', path).get('value'),
                        f'result of command {int(index)} of live response action {action_id}')

    def download_live_response_result(self, url: str) -> bytes:
        """The link is pre-signed (SAS): fetched without our bearer token, and never shown (it grants access), not
        even in a connection error's text."""
        try:
            res = requests.get(url, verify=self.http._verify, timeout=300)
        except requests.exceptions.RequestException as error:
            raise DemistoException('Downloading the live response result failed '
                                   f'({type(error).__name__}).') from None
        if res.status_code >= 400:
            raise DemistoException(f'Downloading the live response result failed with HTTP {res.status_code}.')
        return res.content

    def cancel_machine_action(self, action_id: str, comment: str) -> Dict[str, Any]:
        return self.http.http_request('POST', f'/machineactions/{quote_id(action_id, "machine_action_id")}/cancel',
                                      json_data={'Comment': comment})

    # ---- investigations -------------------------------------------------------------------------------------
    def list_investigations(self, top: int, skip: int) -> List[Dict]:
        params = {'$top': top, '$skip': skip} if skip else {'$top': top}
        return self.http.http_request('GET', '/investigations', params=params).get('value') or []

    def get_investigation(self, investigation_id: str) -> Dict[str, Any]:
        return self.http.http_request('GET', f'/investigations/{quote_id(investigation_id, "id")}')

    def start_investigation(self, machine_id: str, comment: str, timeout: int | None = None) -> Dict[str, Any]:
        """POST /machines/{id}/startInvestigation; ``timeout`` bounds the wait for Microsoft's answer (seconds)."""
        return self.http.http_request('POST', f'/machines/{quote_id(machine_id, "machine_id")}/startInvestigation',
                                      json_data={'Comment': comment}, timeout=timeout)

    # ---- statistics ---------------------------------------------------------------------------------------------
    def file_stats(self, sha1: str) -> Dict[str, Any]:
        return self.http.http_request('GET', f'/files/{quote_id(sha1, "file_hash")}/stats')

    def file_info(self, file_hash: str) -> Dict[str, Any]:
        return self.http.http_request('GET', f'/files/{quote_id(file_hash, "hash")}')

    def domain_stats(self, domain: str) -> Dict[str, Any]:
        return self.http.http_request('GET', f'/domains/{quote_id(domain, "domain")}/stats')

    def ip_stats(self, ip: str) -> Dict[str, Any]:
        return self.http.http_request('GET', f'/ips/{quote_id(ip, "ip")}/stats')

    # ---- vulnerability management (TVM) ------------------------------------------------------------------------
    def list_software(self, filter_: str | None, top: int, skip: int) -> List[Dict]:
        params = assign_params(**{'$filter': filter_, '$top': top, '$skip': skip or None})
        return self.http.http_request('GET', '/Software', params=params).get('value') or []

    def software_part(self, software_id: str, part: str) -> List[Dict]:
        """GET /Software/{id}/<part>: machineReferences, distributions, getmissingkbs or vulnerabilities."""
        path = f'/Software/{quote_id(software_id, "id")}/{part}'
        return self.http.http_request('GET', path).get('value') or []

    def list_vulnerabilities(self, filter_: str | None, top: int, skip: int) -> List[Dict]:
        params = assign_params(**{'$filter': filter_, '$top': top, '$skip': skip or None})
        return self.http.http_request('GET', '/vulnerabilities', params=params).get('value') or []

    def machines_vulnerabilities(self, filter_: str | None, top: int, skip: int) -> List[Dict]:
        params = assign_params(**{'$filter': filter_, '$top': top, '$skip': skip or None})
        return self.http.http_request('GET', '/vulnerabilities/machinesVulnerabilities',
                                      params=params).get('value') or []

    def vulnerability_machines(self, cve_id: str) -> List[Dict]:
        path = f'/vulnerabilities/{quote_id(cve_id, "cve_id")}/machineReferences'
        return self.http.http_request('GET', path).get('value') or []

    def machine_part(self, machine_id: str, part: str) -> List[Dict]:
        """GET /machines/{id}/<part>: software, getmissingkbs or vulnerabilities."""
        path = f'/machines/{quote_id(machine_id, "machine_id")}/{part}'
        return self.http.http_request('GET', path).get('value') or []

    # ---- indicators ---------------------------------------------------------------------------------------------
    def list_indicators(self, filter_: str | None, top: int, skip: int) -> List[Dict]:
        params = assign_params(**{'$filter': filter_, '$top': top, '$skip': skip or None})
        try:
            return self.http.http_request('GET', '/indicators', params=params).get('value') or []
        except NotFoundError:
            return []                           # Microsoft answers 404 when the tenant has no indicators

    def get_indicator(self, indicator_id: str) -> Dict[str, Any]:
        return self.http.http_request('GET', f'/indicators/{quote_id(indicator_id, "indicator_id")}')

    def submit_indicator(self, body: Dict[str, Any]) -> Dict[str, Any]:
        return self.http.http_request('POST', '/indicators', json_data=body)

    def delete_indicator(self, indicator_id: str) -> None:
        self.http.http_request('DELETE', f'/indicators/{quote_id(indicator_id, "indicator_id")}',
                               resp_type='text')

    def import_indicators(self, indicators: List[Dict[str, Any]]) -> List[Dict]:
        body = self.http.http_request('POST', '/indicators/import', json_data={'Indicators': indicators})
        return body.get('value') or []

    # ---- legacy Microsoft Graph tiIndicators (beta): another host and a Graph token ---------------------------
    def ti_endpoint(self) -> Tuple[str, str]:
        return graph_ti_target(demisto.params(), self.http.credential.flow)

    def ti_request(self, method: str, suffix: str = '', **kwargs: Any) -> Any:
        url, scope = self.ti_endpoint()
        return self.http.http_request(method, full_url=url + suffix, scope=scope, **kwargs)

    def ti_list(self, page_size: int, limit: int) -> List[Dict]:
        """Defender indicators across pages; nextLink is followed only on the Graph origin."""
        url, scope = self.ti_endpoint()
        body = self.http.http_request('GET', full_url=url, params={'$top': page_size}, scope=scope)
        found: List[Dict] = []
        while True:
            found += [i for i in body.get('value') or [] if i.get('targetProduct') == TI_TARGET_PRODUCT]
            next_link = body.get('@odata.nextLink')
            if len(found) >= limit or not next_link:
                return found[:limit]
            body = self.http.http_request('GET', full_url=ensure_same_origin(next_link, url), scope=scope)

    def ti_get(self, indicator_id: str) -> Dict[str, Any]:
        return self.ti_request('GET', f'/{quote_id(indicator_id, "indicator_id")}')

    def ti_create(self, body: Dict[str, Any]) -> Dict[str, Any]:
        return self.ti_request('POST', json_data=body)

    def ti_update(self, indicator_id: str, changes: Dict[str, Any]) -> Dict[str, Any]:
        return self.ti_request('PATCH', f'/{quote_id(indicator_id, "indicator_id")}', json_data=changes,
                               headers={'Prefer': 'return=representation'})

    def ti_delete(self, indicator_id: str) -> None:
        self.ti_request('DELETE', f'/{quote_id(indicator_id, "indicator_id")}', resp_type='text')

    # ---- hunting and alerts -----------------------------------------------------------------------------------
    def run_query(self, query: str, timeout: int) -> Dict[str, Any]:
        """A hunting query's answer as ``{"Schema", "Results"}``, from the API the instance chose. Automatic asks
        Microsoft Graph and, when Graph refuses for a missing permission (403), the legacy Defender for Endpoint API
        while Microsoft still serves it, so an app that holds only the Defender for Endpoint permission keeps
        working until then. The refusal is remembered for an hour (GraphRefusalMemo), so the following queries go
        to the legacy API directly instead of costing a Graph token request and a 403 each."""
        if self.hunting_api == HUNT_LEGACY:
            return self.run_legacy_query(query, timeout)
        memo = GraphRefusalMemo(self.http.tokens, 'hunting')
        if self.hunting_api == HUNT_GRAPH or not memo.active():
            try:
                return self.run_graph_query(query, timeout)
            except DemistoException as error:
                if not graph_refused(error):
                    raise
                if self.hunting_api == HUNT_GRAPH:
                    raise graph_hunting_permission_error() from None
            memo.remember()
        demisto.debug(f'Microsoft Graph refused advanced hunting; using the legacy API. Add the Graph permission '
                      f'{GRAPH_HUNTING_PERMISSION} before the legacy API is retired.')
        try:
            return self.run_legacy_query(query, timeout)
        except DemistoException as error:
            status = http_status(error)
            if status in (401, 403, 404, 410):       # no permission there either, or the API is gone
                raise graph_hunting_permission_error(status) from None
            raise

    def run_legacy_query(self, query: str, timeout: int) -> Dict[str, Any]:
        """POST /api/advancedqueries/run. Hunting queries only read, so a failed attempt may be repeated."""
        return self.http.http_request('POST', '/advancedqueries/run', json_data={'Query': query},
                                      timeout=timeout, idempotent=True)

    def run_graph_query(self, query: str, timeout: int) -> Dict[str, Any]:
        """Microsoft Graph POST /v1.0/security/runHuntingQuery (ThreatHunting.Read.All) with a Graph token of the
        instance's cloud; ``{"schema", "results"}`` is returned in the legacy API's shape."""
        base, scope = graph_target(demisto.params(), self.http.credential.flow)
        body = self.http.http_request('POST', full_url=f'{base}/v1.0/security/runHuntingQuery', scope=scope,
                                      json_data={'Query': query, 'Timespan': HUNTING_TIMESPAN}, timeout=timeout,
                                      idempotent=True)
        return {'Schema': body.get('schema'), 'Results': body.get('results')}

    def list_alerts(self, filter_: str, top: int, expand_evidence: bool) -> List[Dict]:
        params = assign_params(**{'$filter': filter_, '$orderby': 'alertCreationTime asc', '$top': top,
                                  '$expand': 'evidence' if expand_evidence else None})
        return self.http.http_request('GET', '/alerts', params=params).get('value') or []

    # ---- alerts (Defender for Endpoint /api/alerts and the alerts of related entities) -------------------------
    def get_alert(self, alert_id: str) -> Dict[str, Any]:
        return self.http.http_request('GET', f'/alerts/{quote_id(alert_id, "alert_id")}')

    def update_alert(self, alert_id: str, changes: Dict[str, Any]) -> Dict[str, Any]:
        """One PATCH carries every change and the comment, so Microsoft applies all of them or none."""
        return self.http.http_request('PATCH', f'/alerts/{quote_id(alert_id, "alert_id")}', json_data=changes)

    def create_alert(self, body: Dict[str, Any]) -> Dict[str, Any]:
        return self.http.http_request('POST', '/alerts/CreateAlertByReference', json_data=body)

    def alert_user(self, alert_id: str) -> Dict[str, Any]:
        return self.http.http_request('GET', f'/alerts/{quote_id(alert_id, "id")}/user')

    def alert_entities(self, alert_id: str, kind: str) -> List[Dict]:
        """files, ips or domains of an alert."""
        return self.http.http_request('GET', f'/alerts/{quote_id(alert_id, "id")}/{kind}').get('value') or []

    def entity_alerts(self, kind: str, key: str, name: str) -> List[Dict]:
        """Alerts of a domain, file, IP, user or machine: GET /<kind>/<key>/alerts."""
        return self.http.http_request('GET', f'/{kind}/{quote_id(key, name)}/alerts').get('value') or []


# ============================================================================================================
# Context shapes
# ============================================================================================================

def machine_context(machine: Dict[str, Any]) -> Dict[str, Any]:
    """A machine resource as MicrosoftATP.Machine (the official PascalCase names)."""
    addresses = [remove_empty_elements({'ipAddress': a.get('ipAddress'), 'macAddress': a.get('macAddress'),
                                        'type': a.get('type'), 'operationalStatus': a.get('operationalStatus')})
                 for a in machine.get('ipAddresses') or []]
    return remove_empty_elements({
        'ID': machine.get('id'), 'ComputerDNSName': machine.get('computerDnsName'),
        'FirstSeen': machine.get('firstSeen'), 'LastSeen': machine.get('lastSeen'),
        # The official integration fills OSVersion from the API's `version` (for example 22H2), not `osVersion`.
        'OSPlatform': machine.get('osPlatform'), 'OSVersion': machine.get('version'),
        'OSProcessor': machine.get('osProcessor'), 'OSBuild': machine.get('osBuild'),
        'Version': machine.get('version'), 'LastIPAddress': machine.get('lastIpAddress'),
        'LastExternalIPAddress': machine.get('lastExternalIpAddress'), 'AgentVersion': machine.get('agentVersion'),
        'HealthStatus': machine.get('healthStatus'), 'RBACGroupID': machine.get('rbacGroupId'),
        'RBACGroupName': machine.get('rbacGroupName'), 'RiskScore': machine.get('riskScore'),
        'ExposureLevel': machine.get('exposureLevel'), 'IsAADJoined': machine.get('isAadJoined'),
        'AADDeviceID': machine.get('aadDeviceId'), 'MachineTags': machine.get('machineTags'),
        'OnboardingStatus': machine.get('onboardingStatus'), 'DeviceValue': machine.get('deviceValue'),
        'IPAddresses': addresses or None,
    })


MACHINE_HEADERS = ['ID', 'ComputerDNSName', 'OSPlatform', 'LastIPAddress', 'LastExternalIPAddress', 'HealthStatus',
                   'RiskScore', 'ExposureLevel', 'MachineTags']


def action_context(action: Dict[str, Any]) -> Dict[str, Any]:
    """A machineAction resource as MicrosoftATP.MachineAction."""
    files = action.get('relatedFileInfo') or {}
    return remove_empty_elements({
        'ID': action.get('id'), 'Type': action.get('type'), 'Scope': action.get('scope'),
        'Requestor': action.get('requestor'), 'RequestorComment': action.get('requestorComment'),
        'Status': action.get('status'), 'MachineID': action.get('machineId'),
        'ComputerDNSName': action.get('computerDnsName'), 'CreationDateTimeUtc': action.get('creationDateTimeUtc'),
        'LastUpdateTimeUtc': action.get('lastUpdateDateTimeUtc') or action.get('lastUpdateTimeUtc'),
        'RelatedFileInfo': {'FileIdentifier': files.get('fileIdentifier'),
                            'FileIdentifierType': files.get('fileIdentifierType')} if files else None,
        'Commands': action.get('commands'),         # the official writes the live response commands as sent
    })


ACTION_HEADERS = ['ID', 'Type', 'Requestor', 'RequestorComment', 'Status', 'MachineID', 'ComputerDNSName']


def investigation_state(item: Dict[str, Any]) -> Any:
    """The investigation's state: Microsoft documents 'state'; some answers name it 'investigationState'."""
    return item.get('state') or item.get('investigationState')


def investigation_context(item: Dict[str, Any]) -> Dict[str, Any]:
    return remove_empty_elements({
        'ID': item.get('id'), 'StartTime': item.get('startTime'), 'EndTime': item.get('endTime'),
        # InvestigationState is the official key; State (declared by the official YAML) holds the same value. Microsoft
        # Learn documents the entity's field as 'state'; 'investigationState' is read when 'state' is absent.
        'InvestigationState': investigation_state(item), 'State': investigation_state(item),
        'CancelledBy': item.get('cancelledBy'),
        'StatusDetails': item.get('statusDetails'),
        'MachineID': item.get('machineId'), 'ComputerDNSName': item.get('computerDnsName'),
        'TriggeringAlertID': item.get('triggeringAlertId'),
    })


def user_context(user: Dict[str, Any], machine_id: str) -> Dict[str, Any]:
    """A logon user as the official MicrosoftATP.MachineUser: the related-user fields and the machine ID."""
    return {**related_user_context(user), 'MachineID': machine_id}


def error_entry(message: str) -> Dict[str, Any]:
    return {'Type': EntryType.ERROR, 'ContentsFormat': EntryFormat.TEXT, 'Contents': message}


def per_item_results(results: CommandResults | None, errors: List[str], what: str) -> Any:
    """Successes as one entry and failures as one error entry; everything failing is one error."""
    if not errors:
        return results
    message = f'Failed for {len(errors)} {what}:\n' + '\n'.join(errors)
    if results is None:
        raise DemistoException(message)
    return [results, error_entry(message)]


# ============================================================================================================
# Machines
# ============================================================================================================

def machines_filter(args: Dict[str, Any]) -> str:
    """$filter for get-machines: values of one argument are OR'd, different arguments AND'd, all escaped."""
    groups = [
        ODataFilter.or_(*[ODataFilter.eq('computerDnsName', v) for v in text_list(args, 'hostname')]),
        ODataFilter.or_(*[ODataFilter.eq('lastIpAddress', ip_arg(v)) for v in text_list(args, 'ip')]),
        ODataFilter.or_(*[ODataFilter.eq('riskScore', v) for v in choice_list_arg(args, 'risk_score', RISK_SCORES)]),
        ODataFilter.or_(*[ODataFilter.eq('healthStatus', v)
                          for v in choice_list_arg(args, 'health_status', HEALTH_STATUSES)]),
        ODataFilter.or_(*[ODataFilter.eq('osPlatform', v) for v in text_list(args, 'os_platform')]),
    ]
    return ODataFilter.and_(*groups)


def machines_results(machines: List[Dict[str, Any]], title: str, prefix: str = 'MicrosoftATP.Machine',
                     wrap: Callable[[List[Dict]], Any] | None = None, key_field: str = 'ID') -> CommandResults:
    rows = [machine_context(m) for m in machines]
    outputs = wrap(rows) if wrap else rows
    return CommandResults(outputs_prefix=prefix, outputs_key_field=key_field, outputs=outputs, raw_response=machines,
                          readable_output=tableToMarkdown(title, rows, headers=MACHINE_HEADERS, removeNull=True))


def get_machines_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    page_size = number_arg(args, 'page_size', 50, 1, MAX_PAGE_SIZE)
    page_num = number_arg(args, 'page_num', 1, 1, 1_000_000)
    machines = client.list_machines(machines_filter(args) or None, page_size, (page_num - 1) * page_size)
    return machines_results(machines, f'{INTEGRATION_NAME} machines')


def get_machine_details_command(client: Client, args: Dict[str, Any]) -> Any:
    ids = required_list(args, 'machine_id')
    machines, errors = [], []
    for machine_id in ids:
        try:
            machines.append(client.get_machine(machine_id))
        except (NotFoundError, DemistoException) as error:
            errors.append(f'{machine_id}: {error_text(error)}')
    results = machines_results(machines, f'{INTEGRATION_NAME} machine details') if machines else None
    return per_item_results(results, errors, 'machine(s)')


def error_text(error: Exception) -> str:
    return getattr(error, 'message', None) or str(error)


def get_machine_by_ip_command(client: Client, args: Dict[str, Any]) -> List[CommandResults]:
    ip = ip_arg(required_arg(args, 'ip'))
    moment = date_arg(required_arg(args, 'timestamp'), 'timestamp', required=True)
    stamp = moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ') if moment.tzinfo else \
        moment.strftime('%Y-%m-%dT%H:%M:%SZ')
    limit = number_arg(args, 'limit', 50, 1, MAX_PAGE_SIZE)
    machines = client.find_machines_by_ip(ip, stamp)
    if not bool_arg(args, 'all_results'):
        machines = machines[:limit]
    return endpoint_results(machines)       # the official writes Endpoint and MACAddress here too


def get_file_related_machines_command(client: Client, args: Dict[str, Any]) -> Any:
    hashes = [hash_arg(h, 'file_hash', ('SHA1',)) for h in required_list(args, 'file_hash')]
    outputs, errors = [], []
    for sha1 in hashes:
        try:
            machines = client.file_machines(sha1)
            outputs.append({'File': sha1, 'Machines': [machine_context(m) for m in machines]})
        except DemistoException as error:
            errors.append(f'{sha1}: {error_text(error)}')
    if not outputs:
        return per_item_results(None, errors, 'file(s)')
    rows = [dict(m, File=o['File']) for o in outputs for m in o['Machines']]
    results = CommandResults(outputs_prefix='MicrosoftATP.FileMachine', outputs_key_field='File', outputs=outputs,
                             readable_output=tableToMarkdown('Machines related to the files', rows,
                                                             headers=['File', *MACHINE_HEADERS], removeNull=True))
    return per_item_results(results, errors, 'file(s)')


def get_domain_machines_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    domain, host = domain_arg(required_arg(args, 'domain'))
    machines = client.domain_machines(host)[:number_arg(args, 'limit', 50, 1, MAX_PAGE_SIZE)]
    return machines_results(machines, f'Machines that communicated with {domain}', 'MicrosoftATP.DomainMachine',
                            wrap=lambda rows: {'Domain': domain, 'Machines': rows}, key_field='Domain')


def get_user_machines_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    username = required_arg(args, 'username')
    machines = client.user_machines(username)
    return machines_results(machines, f'Machines used by {username}', 'MicrosoftATP.UserMachine',
                            wrap=lambda rows: {'Username': username, 'Machines': rows}, key_field='Username')


def get_machine_users_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    machine_id = required_arg(args, 'machine_id')
    users = [user_context(u, machine_id) for u in client.machine_users(machine_id)]
    return CommandResults(outputs_prefix='MicrosoftATP.MachineUser', outputs_key_field=['ID', 'MachineID'],
                          outputs=users, readable_output=tableToMarkdown(
                              f'Users that logged on to machine {machine_id}', users, removeNull=True))


def add_remove_machine_tag_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    machine_id = required_arg(args, 'machine_id')
    action = choice_arg(args, 'action', ('Add', 'Remove'), required=True)
    tag = required_arg(args, 'tag')
    if len(tag) > 200:
        raise ValueError('Invalid "tag": a machine tag has at most 200 characters.')
    machine = client.machine_tag(machine_id, str(action), tag)
    verb = 'added to' if action == 'Add' else 'removed from'
    return machines_results([machine], f'Tag "{tag}" was {verb} machine {machine_id}')


# Endpoint.Status as the official integration derives it from healthStatus (Unknown gives no status).
ENDPOINT_STATUS = {'Active': 'Online', 'Inactive': 'Offline', 'ImpairedCommunication': 'Online',
                   'NoSensorData': 'Online', 'NoSensorDataImpairedCommunication': 'Online'}


def last_ip_mac(machine: Dict[str, Any]) -> str | None:
    """The MAC address of the interface that holds lastIpAddress (the official Endpoint.MACAddress)."""
    last_ip = machine.get('lastIpAddress')
    for address in machine.get('ipAddresses') or []:
        if last_ip and address.get('ipAddress') == last_ip:
            return address.get('macAddress') or None
    return None


def endpoint_os_version(machine: Dict[str, Any]) -> str | None:
    """Endpoint.OSVersion as the official writes it: "<version> <osProcessor> bit", for example "22H2 x64 bit"."""
    parts = [str(p) for p in (machine.get('version'), machine.get('osProcessor')) if p]
    return f'{" ".join(parts)} bit' if parts else None


def endpoint_indicator(machine: Dict[str, Any]) -> Common.Endpoint:
    """The standard Endpoint object. Endpoint.IsIsolated stays empty: the machine resource does not say whether a
    machine is isolated, and the official integration does not fill it either."""
    return Common.Endpoint(
        id=machine.get('id'), hostname=machine.get('computerDnsName'), ip_address=machine.get('lastIpAddress'),
        os=machine.get('osPlatform'), os_version=endpoint_os_version(machine),
        status=ENDPOINT_STATUS.get(str(machine.get('healthStatus'))), mac_address=last_ip_mac(machine),
        vendor=VENDOR)


def endpoint_results(machines: List[Dict[str, Any]]) -> List[CommandResults]:
    """One result per machine: Endpoint plus MicrosoftATP.Machine with the official MACAddress key."""
    if not machines:
        return [CommandResults(readable_output='No machines were found.')]
    results = []
    for machine in machines:
        context = remove_empty_elements({**machine_context(machine), 'MACAddress': last_ip_mac(machine)})
        results.append(CommandResults(
            outputs_prefix='MicrosoftATP.Machine', outputs_key_field='ID', outputs=context,
            indicator=endpoint_indicator(machine), raw_response=machine, readable_output=tableToMarkdown(
                f'{INTEGRATION_NAME} machine {machine.get("id")}', context, headers=MACHINE_HEADERS, removeNull=True)))
    return results


def endpoint_command(client: Client, args: Dict[str, Any]) -> List[CommandResults]:
    """The generic `endpoint` command: machines by ID, IP or host name, as Endpoint and MicrosoftATP.Machine."""
    ids, ips, names = text_list(args, 'id'), text_list(args, 'ip'), text_list(args, 'hostname')
    if not (ids or ips or names):
        raise ValueError('Provide at least one of "id", "ip" or "hostname".')
    clauses = [ODataFilter.eq('id', v) for v in ids] + \
              [ODataFilter.eq('lastIpAddress', ip_arg(v)) for v in ips] + \
              [ODataFilter.eq('computerDnsName', v) for v in names]
    return endpoint_results(client.list_machines(ODataFilter.or_(*clauses)))


# ============================================================================================================
# Response actions with optional polling to completion
# ============================================================================================================

class ActionSpec:
    """How one response-action command starts its machine action."""

    def __init__(self, command: str, path: str, title: str, body: Callable[[Dict[str, Any]], Dict[str, Any]],
                 prefix: str = 'MicrosoftATP.MachineAction') -> None:
        self.command, self.path, self.title, self.body, self.prefix = command, path, title, body, prefix


def _comment(args: Dict[str, Any], required: bool = True) -> str:
    return required_arg(args, 'comment') if required else str(args.get('comment') or 'Requested from Cortex XSOAR')


ACTION_SPECS: Dict[str, ActionSpec] = {
    'isolate': ActionSpec(f'{PREFIX}-isolate-machine', 'isolate', 'isolation', lambda a: {
        'Comment': _comment(a),
        'IsolationType': choice_arg(a, 'isolation_type', ('Full', 'Selective'), required=True)}),
    'unisolate': ActionSpec(f'{PREFIX}-unisolate-machine', 'unisolate', 'release from isolation',
                            lambda a: {'Comment': _comment(a)}),
    'scan': ActionSpec(f'{PREFIX}-run-antivirus-scan', 'runAntiVirusScan', 'antivirus scan', lambda a: {
        'Comment': _comment(a), 'ScanType': choice_arg(a, 'scan_type', ('Quick', 'Full'), required=True)}),
    'restrict': ActionSpec(f'{PREFIX}-restrict-app-execution', 'restrictCodeExecution', 'app execution restriction',
                           lambda a: {'Comment': _comment(a, required=False)}),
    'unrestrict': ActionSpec(f'{PREFIX}-remove-app-restriction', 'unrestrictCodeExecution',
                             'removal of the app execution restriction', lambda a: {'Comment': _comment(a)}),
    'collect': ActionSpec(f'{PREFIX}-collect-investigation-package', 'collectInvestigationPackage',
                          'investigation package collection', lambda a: {'Comment': _comment(a)}),
    'offboard': ActionSpec(f'{PREFIX}-offboard-machine', 'offboard', 'offboarding',
                           lambda a: {'Comment': _comment(a)}, prefix='MicrosoftATP.OffboardMachine'),
}


def poll_settings(args: Dict[str, Any]) -> Tuple[bool, int, int]:
    polling = bool_arg(args, 'polling')
    interval = number_arg(args, 'interval_in_seconds', DEFAULT_INTERVAL, 10, 3600)
    timeout = number_arg(args, 'timeout_in_seconds', DEFAULT_POLL_TIMEOUT, 10, 86_400)
    return polling, interval, timeout


def carried_errors(args: Dict[str, Any]) -> List[str]:
    """Per-machine failures of earlier rounds, carried in a hidden argument so the final report shows them."""
    raw = args.get('polling_errors')
    if not raw:
        return []
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return [str(raw)]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def rerun(command: str, args: Dict[str, Any], next_run: float, timeout: int, **changes: Any) -> ScheduledCommand:
    new_args = {k: v for k, v in args.items() if v not in (None, '')}
    for key, value in changes.items():
        if value in (None, '', []):
            new_args.pop(key, None)
        else:
            new_args[key] = value
    return ScheduledCommand(command=command, next_run_in_seconds=int(max(10, next_run)), args=new_args,
                            timeout_in_seconds=timeout)


def start_actions(client: Client, spec: ActionSpec, machine_ids: List[str], body: Dict[str, Any],
                  jobs: List[Tuple[str, Dict[str, Any]]] | None = None
                  ) -> Tuple[List[Dict[str, Any]], List[str], List[str], 'RetryAfterError | None']:
    """Start the action on each machine in turn. A long throttling wait stops the loop: the machines not yet
    started are returned so a rerun continues with them, and no call is wasted on a certain 429."""
    jobs = jobs if jobs is not None else [(m, body) for m in machine_ids]
    started: List[Dict[str, Any]] = []
    errors: List[str] = []
    for index, (machine_id, job_body) in enumerate(jobs):
        try:
            started.append(client.machine_action(machine_id, spec.path, job_body))
        except RetryAfterError as error:
            remaining = [f'{m}:{b["Sha1"]}' if 'Sha1' in b else m for m, b in jobs[index:]]
            return started, errors, remaining, error
        except DemistoException as error:
            errors.append(f'{machine_id}: {error_text(error)}')
    return started, errors, [], None


def actions_results(spec: ActionSpec, actions: List[Dict[str, Any]], errors: List[str], final: bool) -> Any:
    rows = [action_context(a) for a in actions]
    failed = [f'{r.get("MachineID")}: the {spec.title} action {r.get("ID")} ended with status {r.get("Status")}'
              for r in rows if r.get('Status') in ACTION_FAILED]
    state = 'finished' if final else 'was requested'
    results = CommandResults(
        outputs_prefix=spec.prefix, outputs_key_field='ID', outputs=rows, raw_response=actions,
        readable_output=tableToMarkdown(f'The {spec.title} {state}', rows, headers=ACTION_HEADERS,
                                        removeNull=True)) if rows else None
    return per_item_results(results, errors + failed, 'machine(s)')


def poll_actions(client: Client, spec: ActionSpec, args: Dict[str, Any], action_ids: List[str],
                 errors: List[str]) -> Any:
    """One polling round: read each action once; reschedule while any is still pending or in progress."""
    _, interval, timeout = poll_settings(args)
    actions = []
    for action_id in action_ids:
        try:
            actions.append(client.get_machine_action(action_id))
        except RetryAfterError as error:      # throttled: look again after the wait, nothing is lost
            return CommandResults(readable_output=f'Waiting for the {spec.title} actions (throttled).',
                                  scheduled_command=rerun(spec.command, args, max(interval, error.retry_after),
                                                          timeout))
    pending = [a for a in actions if a.get('status') not in ACTION_DONE]
    if pending:
        return CommandResults(
            readable_output=f'Waiting for {len(pending)} of {len(actions)} {spec.title} action(s) to finish.',
            scheduled_command=rerun(spec.command, args, interval, timeout))
    return actions_results(spec, actions, errors, final=True)


def run_machine_action(client: Client, args: Dict[str, Any], key: str,
                       jobs_for: Callable[[List[str]], List[Tuple[str, Dict[str, Any]]]] | None = None) -> Any:
    """Start a response action on every machine (state kept in hidden arguments), then optionally poll."""
    spec = ACTION_SPECS[key]
    polling, interval, timeout = poll_settings(args)
    errors = carried_errors(args)
    known_ids = argToList(args.get('machine_action_id'))
    to_start = [] if known_ids and not args.get('machines_to_start') else \
        argToList(args.get('machines_to_start')) or required_list(args, 'machine_id')
    body = spec.body(args)
    started: List[Dict[str, Any]] = []
    if to_start:
        jobs = jobs_for(to_start) if jobs_for else None
        started, new_errors, remaining, throttled = start_actions(client, spec, to_start, body, jobs)
        errors += new_errors
        known_ids += [str(a.get('id')) for a in started if a.get('id')]
        if throttled is not None:
            if throttled.retry_after > 3600:
                raise throttled
            return CommandResults(
                readable_output=f'{throttled.message} Started {len(known_ids)} action(s); {len(remaining)} '
                                'machine(s) wait for the rate limit and continue automatically.',
                scheduled_command=rerun(spec.command, args, throttled.retry_after, timeout + 3600,
                                        machine_action_id=','.join(known_ids), machines_to_start=','.join(remaining),
                                        polling_errors=json.dumps(errors) if errors else None))
    if not polling:
        new_ids = {str(a.get('id')) for a in started}
        earlier = [client.get_machine_action(i) for i in known_ids if i not in new_ids]
        return actions_results(spec, earlier + started, errors, final=False)
    if not known_ids:       # every start failed, or the answers carried no action ID (nothing to poll)
        return per_item_results(None, errors or [f'{m}: the answer to the {spec.title} request carried no machine '
                                                 'action ID.' for m in to_start], 'machine(s)')
    if to_start:                              # first round: report the start, then poll
        return CommandResults(
            readable_output=f'Started {len(known_ids)} {spec.title} action(s); waiting for them to finish.',
            scheduled_command=rerun(spec.command, args, interval, timeout, machine_action_id=','.join(known_ids),
                                    machines_to_start=None, polling_errors=json.dumps(errors) if errors else None))
    return poll_actions(client, spec, args, known_ids, errors)


def isolate_machine_command(client: Client, args: Dict[str, Any]) -> Any:
    return run_machine_action(client, args, 'isolate')


def unisolate_machine_command(client: Client, args: Dict[str, Any]) -> Any:
    return run_machine_action(client, args, 'unisolate')


def run_antivirus_scan_command(client: Client, args: Dict[str, Any]) -> Any:
    return run_machine_action(client, args, 'scan')


def restrict_app_execution_command(client: Client, args: Dict[str, Any]) -> Any:
    return run_machine_action(client, args, 'restrict')


def remove_app_restriction_command(client: Client, args: Dict[str, Any]) -> Any:
    return run_machine_action(client, args, 'unrestrict')


def collect_investigation_package_command(client: Client, args: Dict[str, Any]) -> Any:
    return run_machine_action(client, args, 'collect')


def offboard_machine_command(client: Client, args: Dict[str, Any]) -> Any:
    return run_machine_action(client, args, 'offboard')


ACTION_SPECS['quarantine'] = ActionSpec(f'{PREFIX}-stop-and-quarantine-file', 'stopAndQuarantineFile',
                                        'stop and quarantine', lambda a: {'Comment': _comment(a)})


def stop_and_quarantine_file_command(client: Client, args: Dict[str, Any]) -> Any:
    """One action per machine and file hash pair; each pair is reported on its own."""
    hashes = [hash_arg(h, 'file_hash', ('SHA1',)) for h in required_list(args, 'file_hash')]
    comment = _comment(args)

    def jobs_for(machines: List[str]) -> List[Tuple[str, Dict[str, Any]]]:
        return [(m, {'Comment': comment, 'Sha1': h}) for m in machines for h in hashes]
    if argToList(args.get('machines_to_start')):
        # a rerun after throttling lists pairs as machine:hash; rebuild them exactly
        pairs = [p.split(':', 1) for p in argToList(args.get('machines_to_start')) if ':' in p]
        if pairs:
            return run_machine_action(client, args, 'quarantine',
                                      lambda _: [(m, {'Comment': comment, 'Sha1': h}) for m, h in pairs])
    return run_machine_action(client, args, 'quarantine', jobs_for)


def list_machine_actions_details_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    limit = number_arg(args, 'limit', 50, 1, MAX_PAGE_SIZE)
    action_id = args.get('id')
    raw_filter = str(args.get('filters') or '').strip()
    if action_id:
        actions = [client.get_machine_action(str(action_id))]
    elif raw_filter:
        # the official's "filters": a raw OData $filter that replaces the per-argument filters
        actions = client.list_machine_actions(raw_filter, limit)
    else:
        filter_ = ODataFilter.and_(
            ODataFilter.or_(*[ODataFilter.eq('status', s) for s in choice_list_arg(args, 'status', ACTION_STATUSES)]),
            ODataFilter.or_(*[ODataFilter.eq('machineId', m) for m in argToList(args.get('machine_id'))]),
            ODataFilter.or_(*[ODataFilter.eq('type', t) for t in choice_list_arg(args, 'type', ACTION_TYPES)]),
            ODataFilter.or_(*[ODataFilter.eq('requestor', r) for r in argToList(args.get('requestor'))]))
        actions = client.list_machine_actions(filter_ or None, limit)
    rows = [action_context(a) for a in actions]
    return CommandResults(outputs_prefix='MicrosoftATP.MachineAction', outputs_key_field='ID', outputs=rows,
                          raw_response=actions, readable_output=tableToMarkdown(
                              'Machine actions', rows, headers=ACTION_HEADERS, removeNull=True))


def get_investigation_package_sas_uri_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    action_id = required_arg(args, 'action_id')
    link = client.package_uri(action_id)
    return CommandResults(outputs_prefix='MicrosoftATP.InvestigationURI', outputs_key_field='Link',
                          outputs={'Link': link}, readable_output=f'Investigation package link: {link}')


ACTION_SPECS['download'] = ActionSpec(f'{PREFIX}-request-and-download-investigation-package',
                                      'collectInvestigationPackage', 'investigation package collection',
                                      lambda a: {'Comment': _comment(a)})


def request_and_download_investigation_package_command(client: Client, args: Dict[str, Any]) -> Any:
    """Collect the package, poll until the action succeeds, then download it as a file entry."""
    machine_id = required_arg(args, 'machine_id')
    if len(argToList(machine_id)) != 1:
        raise ValueError('Invalid "machine_id": provide exactly one machine ID.')
    args = {**args, 'polling': 'true'}
    result = run_machine_action(client, args, 'download')
    if isinstance(result, CommandResults) and result.scheduled_command is None and result.raw_response:
        action = result.raw_response[0]
        if action.get('status') == 'Succeeded':
            data = client.download(client.package_uri(str(action.get('id'))))
            # The official writes the finished action as the API sends it (camelCase) beside our PascalCase keys,
            # and names the file "Response Result.gz".
            result.outputs = [{**row, **remove_empty_elements(api_fields(raw))}
                              for row, raw in zip(result.outputs, result.raw_response, strict=True)]
            return [result, fileResult(f'{LIVE_RESULT_NAME}.gz', data)]
    return result


# ============================================================================================================
# Investigations
# ============================================================================================================

def list_investigations_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    limit = number_arg(args, 'limit', 50, 1, MAX_PAGE_SIZE)
    offset = number_arg(args, 'offset', 0, 0, 1_000_000)
    items = [client.get_investigation(str(args['id']))] if args.get('id') else client.list_investigations(limit, offset)
    rows = [investigation_context(i) for i in items]
    return CommandResults(outputs_prefix='MicrosoftATP.Investigation', outputs_key_field='ID', outputs=rows,
                          raw_response=items, readable_output=tableToMarkdown('Investigations', rows, removeNull=True))


def start_investigation_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    machine_id = required_arg(args, 'machine_id')
    item = client.start_investigation(machine_id, _comment(args), number_arg(args, 'timeout', 50, 1, 600))
    row = investigation_context(item)
    return CommandResults(outputs_prefix='MicrosoftATP.Investigation', outputs_key_field='ID', outputs=row,
                          raw_response=item, readable_output=tableToMarkdown(
                              f'Investigation started on machine {machine_id}', row, removeNull=True))


# ============================================================================================================
# Live response: one action per machine at a time, polled to completion, results fetched from a SAS link
# ============================================================================================================

LIVE_PREFIX = 'MicrosoftATP.LiveResponseAction'
LIVE_HEADERS = ['id', 'status', 'machineId', 'computerDnsName', 'requestor', 'requestorComment']
SCRIPT_FIELDS = ('script_name', 'exit_code', 'script_output', 'script_errors')
# The official file name (playbooks and users look for it); the extension follows the content.
LIVE_RESULT_NAME = 'Response Result'
LIVE_TIMEOUT_SLACK = 60        # the scheduler's own timeout comes after ours, so ours gives the clear message


def live_command(kind: str, **params: str) -> Dict[str, Any]:
    """One entry of the request's Commands: {"type", "params": [{"key", "value"}]}; empty values are left out."""
    return {'type': kind, 'params': [{'key': k, 'value': v} for k, v in params.items() if v]}


def live_action_context(action: Dict[str, Any]) -> Dict[str, Any]:
    """The action in the API's own (camelCase) names, whole, as the official MicrosoftATP.LiveResponseAction."""
    return remove_empty_elements(api_fields(action))


def api_error_code(error: DemistoException) -> str:
    """The Defender error code ({"error": {"code"}}) of a failed call, or ''."""
    try:
        return str(error.res.json()['error']['code'])
    except (AttributeError, KeyError, TypeError, ValueError):
        return ''


def live_failure(action: Dict[str, Any]) -> str | None:
    """Why a live response action will not deliver (cancelled, failed with its command's errors, timed out)."""
    action_id, status = action.get('id'), action.get('status')
    where = action.get('computerDnsName') or action.get('machineId')
    failed = [c for c in action.get('commands') or [] if c.get('commandStatus') == 'Failed']
    if status == 'Cancelled':
        why = f': "{action["cancellationComment"]}"' if action.get('cancellationComment') else ''
        return (f'The live response action {action_id} on {where} was cancelled by '
                f'{action.get("cancellationRequestor") or "another user"}{why}.')
    if failed:
        details = '; '.join(f'command {c.get("index")} ({(c.get("command") or {}).get("type")}) failed: '
                            f'{" ".join(c.get("errors") or []) or "no error details were given"}' for c in failed)
        return f'The live response action {action_id} on {where} failed. {details}'
    if status == 'Failed':
        return f'The live response action {action_id} on {where} failed (errorHResult {action.get("errorHResult")}).'
    if status == 'TimeOut':
        return (f'The live response action {action_id} on {where} timed out on the device (Microsoft stops a script '
                'after 10 minutes and other commands after 30).')
    return None


def start_live_response(client: Client, machine_id: str, commands: List[Dict[str, Any]],
                        comment: str) -> Dict[str, Any]:
    try:
        return client.run_live_response(machine_id, commands, comment)
    except NotFoundError:
        raise DemistoException(f'Machine {machine_id} was not found in Defender for Endpoint.') from None
    except DemistoException as error:
        if isinstance(error, RetryAfterError) or api_error_code(error) != 'ActiveRequestAlreadyExists':
            raise
        raise DemistoException(
            f'A live response action is already running on machine {machine_id}, and Microsoft runs one at a time '
            f'per machine. Wait for it to finish, or cancel it with !{PREFIX}-live-response-cancel-action (find it '
            f'with !{PREFIX}-list-machine-actions-details machine_id={machine_id} type=LiveResponse), then try '
            'again.') from None


def live_action_results(action: Dict[str, Any], title: str, extra: Dict[str, Any] | None = None) -> CommandResults:
    context = {**live_action_context(action), **(extra or {})}
    return CommandResults(outputs_prefix=LIVE_PREFIX, outputs_key_field='id', outputs=context, raw_response=action,
                          readable_output=tableToMarkdown(title, context, headers=LIVE_HEADERS, removeNull=True))


def run_live_response(client: Client, args: Dict[str, Any], command: str,
                      commands_for: Callable[[Dict[str, Any]], List[Dict[str, Any]]],
                      finish: Callable[[Client, Dict[str, Any]], Any]) -> Any:
    """First round: check the arguments and start the action. With polling (the default), later rounds read the
    action until it is done and ``finish`` turns it into the command's results."""
    _, interval, timeout = poll_settings(args)
    action_id = str(args.get('machine_action_id') or '').strip()
    if action_id:
        return poll_live_response(client, args, command, action_id, finish)
    machine_id, comment = required_arg(args, 'machine_id'), required_arg(args, 'comment')
    polling = bool_arg(args, 'polling', default=True)
    commands = commands_for(args)
    try:
        action = start_live_response(client, machine_id, commands, comment)
    except RetryAfterError as error:
        throttled = number_arg(args, 'polling_elapsed', 0, 0, 10_000_000) + error.retry_after
        if error.retry_after > 3600 or throttled > timeout + LIVE_TIMEOUT_SLACK:
            raise
        return CommandResults(
            readable_output=f'{error.message} The command will run again automatically after the wait and start the '
                            'live response then.',
            scheduled_command=rerun(command, args, error.retry_after, timeout + 3600, polling_elapsed=str(throttled)))
    if not polling:
        return live_action_results(action, f'Live response action {action.get("id")} was requested')
    return CommandResults(
        readable_output=f'Live response action {action.get("id")} started on machine {machine_id}; waiting for it '
                        'to finish.',
        scheduled_command=rerun(command, args, interval, timeout + interval + LIVE_TIMEOUT_SLACK,
                                machine_action_id=str(action.get('id')), polling_elapsed='0'))


def poll_live_response(client: Client, args: Dict[str, Any], command: str, action_id: str,
                       finish: Callable[[Client, Dict[str, Any]], Any]) -> Any:
    """One polling round. ``polling_elapsed`` counts the seconds waited so far, so the timeout is ours to report."""
    _, interval, timeout = poll_settings(args)
    elapsed = number_arg(args, 'polling_elapsed', 0, 0, 10_000_000)
    slack_timeout = timeout + interval + LIVE_TIMEOUT_SLACK
    try:
        action = client.get_machine_action(action_id)
    except RetryAfterError as error:
        wait = max(interval, error.retry_after)
        if elapsed + wait > slack_timeout:
            raise DemistoException(
                f'Microsoft kept throttling the status reads of live response action {action_id} for {elapsed} '
                f'seconds (timeout_in_seconds={timeout}). The action goes on: read its result later with '
                f'!{PREFIX}-live-response-result machine_action_id={action_id}.') from error
        return CommandResults(readable_output=f'Waiting for live response action {action_id} (throttled).',
                              scheduled_command=rerun(command, args, wait, slack_timeout,
                                                      polling_elapsed=str(elapsed + wait)))
    failure = live_failure(action)
    if failure:
        raise DemistoException(failure)
    if action.get('status') == 'Succeeded':
        return finish(client, action)
    if elapsed + interval > timeout:
        raise DemistoException(
            f'The live response action {action_id} was still {action.get("status")} after {elapsed} seconds '
            f'(timeout_in_seconds={timeout}). It goes on in Defender for Endpoint: get its result later with '
            f'!{PREFIX}-live-response-result machine_action_id={action_id}, or stop it with '
            f'!{PREFIX}-live-response-cancel-action machine_action_id={action_id}.')
    return CommandResults(
        readable_output=f'Live response action {action_id} is {action.get("status")}; checking again in {interval} '
                        'seconds.',
        scheduled_command=rerun(command, args, interval, slack_timeout, polling_elapsed=str(elapsed + interval)))


def command_index(action: Dict[str, Any], kind: str) -> int:
    """The index of the action's (last) command of type ``kind``."""
    indexes = [int(c.get('index') or 0) for c in action.get('commands') or []
               if (c.get('command') or {}).get('type') == kind]
    return indexes[-1] if indexes else 0


def download_live_result(client: Client, action_id: str, index: int) -> bytes:
    return client.download_live_response_result(client.live_response_link(action_id, index))


def result_file_name(data: bytes) -> str:
    """The official names: "Response Result.gz" for GetFile results (gzip files), "Response Result" for the rest
    (a RunScript result is JSON, but the official entry has no extension, and File.Name is what playbooks match)."""
    return f'{LIVE_RESULT_NAME}.gz' if data[:2] == b'\x1f\x8b' else LIVE_RESULT_NAME


def parse_script_result(data: bytes) -> Dict[str, Any]:
    """The RunScript result's fields, or {} when the download is not that JSON."""
    try:
        body = json.loads(data)
    except ValueError:
        return {}
    if not isinstance(body, dict) or not any(k in body for k in SCRIPT_FIELDS):
        return {}
    return {k: body.get(k) for k in SCRIPT_FIELDS if body.get(k) is not None}


def finish_get_file(client: Client, action: Dict[str, Any]) -> Any:
    data = download_live_result(client, str(action.get('id')), command_index(action, 'GetFile'))
    where = action.get('computerDnsName') or action.get('machineId')
    return [live_action_results(action, f'Live response: file collected from {where}'),
            fileResult(result_file_name(data), data)]


def finish_run_script(client: Client, action: Dict[str, Any]) -> Any:
    data = download_live_result(client, str(action.get('id')), command_index(action, 'RunScript'))
    script = parse_script_result(data)
    results = live_action_results(action, 'Live response: script finished', script)
    if script:
        results.readable_output += tableToMarkdown('Script result', script, headers=list(SCRIPT_FIELDS),
                                                   removeNull=True)
    else:
        results.readable_output += '\nThe script result is not the expected JSON; see the attached file.'
    return [results, fileResult(result_file_name(data), data)]


def finish_put_file(client: Client, action: Dict[str, Any]) -> CommandResults:
    where = action.get('computerDnsName') or action.get('machineId')
    return live_action_results(action, f'Live response: file put on {where}')


def live_response_get_file_command(client: Client, args: Dict[str, Any]) -> Any:
    return run_live_response(client, args, f'{PREFIX}-live-response-get-file',
                             lambda a: [live_command('GetFile', Path=required_arg(a, 'path'))], finish_get_file)


def live_response_run_script_command(client: Client, args: Dict[str, Any]) -> Any:
    def commands(a: Dict[str, Any]) -> List[Dict[str, Any]]:
        return [live_command('RunScript', ScriptName=required_arg(a, 'scriptName'),
                             Args=str(a.get('arguments') or '').strip())]
    return run_live_response(client, args, f'{PREFIX}-live-response-run-script', commands, finish_run_script)


def live_response_put_file_command(client: Client, args: Dict[str, Any]) -> Any:
    return run_live_response(client, args, f'{PREFIX}-live-response-put-file',
                             lambda a: [live_command('PutFile', FileName=required_arg(a, 'file_name'))],
                             finish_put_file)


def explain_missing_result(client: Client, action_id: str, index: int) -> str:
    """Why a result link was refused (404): the action is unknown, failed, or the command is not done yet."""
    try:
        action = client.get_machine_action(action_id)
    except NotFoundError:
        return f'Machine action {action_id} was not found.'
    commands = action.get('commands') or []
    status = commands[index].get('commandStatus') if index < len(commands) else None
    failure = live_failure(action)
    return failure or f'Command {index} of live response action {action_id} is {status or "not done"}: its result ' \
                      'is not available yet. Try again when the action has finished.'


def live_response_result_command(client: Client, args: Dict[str, Any]) -> Any:
    """The result of one command of a live response action: a file entry (and a script's output in context)."""
    action_id = required_arg(args, 'machine_action_id')
    index = number_arg(args, 'command_index', 0, 0, 1000)
    try:
        data = download_live_result(client, action_id, index)
    except NotFoundError:
        raise DemistoException(explain_missing_result(client, action_id, index)) from None
    name = result_file_name(data)
    script = parse_script_result(data)
    context = {'MachineActionID': action_id, 'CommandIndex': index, 'FileName': name, **script}
    results = CommandResults(outputs_prefix='MicrosoftATP.LiveResponseResult',
                             outputs_key_field=['MachineActionID', 'CommandIndex'], outputs=context,
                             readable_output=tableToMarkdown(
                                 f'Result of command {index} of live response action {action_id}', context,
                                 headers=['MachineActionID', 'CommandIndex', 'FileName', *SCRIPT_FIELDS],
                                 removeNull=True))
    return [results, fileResult(name, data)]


def live_response_cancel_action_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    action_id, comment = required_arg(args, 'machine_action_id'), required_arg(args, 'comment')
    try:
        action = client.cancel_machine_action(action_id, comment)
    except NotFoundError:
        raise DemistoException(f'Machine action {action_id} was not found, so there is nothing to cancel. Check the '
                               f'ID with !{PREFIX}-list-machine-actions-details type=LiveResponse.') from None
    row = {'id': action.get('id'), 'status': action.get('status'), 'type': action.get('type'),
           'cancellationRequestor': action.get('cancellationRequestor'),
           'cancellationComment': action.get('cancellationComment')}
    return CommandResults(readable_output=tableToMarkdown(f'Machine action {action_id} was cancelled', row,
                                                          headers=list(row), removeNull=True), raw_response=action)


# ============================================================================================================
# Statistics and file information
# ============================================================================================================

def _reliability() -> str | None:
    return demisto.params().get('Reliability') or DBotScoreReliability.B


def dbot(indicator: str, kind: str, score: int = Common.DBotScore.NONE) -> Common.DBotScore:
    return Common.DBotScore(indicator=indicator, indicator_type=kind, integration_name=INTEGRATION_NAME,
                            score=score, reliability=_reliability())


def org_stats(body: Dict[str, Any]) -> Dict[str, Any]:
    """Statistics.Org* as the official integration writes them for domains and IPs. OrgPrevalence is the API's
    orgPrevalence exactly as sent (a string such as "14850"), so values compare as before."""
    return remove_empty_elements({'OrgPrevalence': body.get('orgPrevalence'), 'OrgFirstSeen': body.get('orgFirstSeen'),
                                  'OrgLastSeen': body.get('orgLastSeen'),
                                  # added: the documented number, which the official integration leaves out
                                  'OrganizationPrevalence': body.get('organizationPrevalence')})


def file_stats_fields(body: Dict[str, Any]) -> Dict[str, Any]:
    """Statistics of a file with the official keys: the legacy string counts (OrgPrevalence, GlobalPrevalence) and
    the documented numbers (OrganizationPrevalence, GloballyPrevalence), each under the API field's own name."""
    return remove_empty_elements({
        'OrgPrevalence': body.get('orgPrevalence'), 'OrganizationPrevalence': body.get('organizationPrevalence'),
        'OrgFirstSeen': body.get('orgFirstSeen'), 'OrgLastSeen': body.get('orgLastSeen'),
        'GlobalPrevalence': body.get('globalPrevalence'), 'GloballyPrevalence': body.get('globallyPrevalence'),
        'GlobalFirstObserved': body.get('globalFirstObserved'), 'GlobalLastObserved': body.get('globalLastObserved'),
        'TopFileNames': body.get('topFileNames'),
    })


def file_stats_indicator(sha1: str, body: Dict[str, Any]) -> Common.File:
    """The File indicator with the prevalence and first/last-seen facts (File.OrganizationPrevalence and so on)."""
    score = Common.DBotScore(indicator=sha1, indicator_type=DBotScoreType.FILE, integration_name=VENDOR,
                             score=Common.DBotScore.NONE, reliability=_reliability())   # the official vendor name
    return Common.File(score, sha1=body.get('sha1') or sha1,
                       organization_prevalence=body.get('organizationPrevalence'),
                       global_prevalence=body.get('globallyPrevalence'),
                       organization_first_seen=body.get('orgFirstSeen'),
                       organization_last_seen=body.get('orgLastSeen'),
                       first_seen_by_source=body.get('globalFirstObserved'),
                       last_seen_by_source=body.get('globalLastObserved'))


def get_file_statistics_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    sha1 = hash_arg(required_arg(args, 'file_hash'), 'file_hash', ('SHA1',))
    body = client.file_stats(sha1)
    stats = file_stats_fields(body)
    return CommandResults(outputs_prefix='MicrosoftATP.FileStatistics', outputs_key_field='Sha1',
                          outputs={'Sha1': body.get('sha1') or sha1, 'Statistics': stats},
                          indicator=file_stats_indicator(sha1, body), raw_response=body,
                          readable_output=tableToMarkdown(f'Statistics of file {sha1}', stats, removeNull=True))


FILE_SCORES = {'malware': Common.DBotScore.BAD, 'potentiallyunwantedapp': Common.DBotScore.SUSPICIOUS,
               'clean': Common.DBotScore.GOOD}


def file_info_context(body: Dict[str, Any]) -> Dict[str, Any]:
    """A file as the official MicrosoftATP.File / AlertFile.Files: its code writes the MD5 hash as Md5, its YAML
    declares MicrosoftATP.File.MD5, so both keys hold it."""
    return remove_empty_elements({
        'Sha1': body.get('sha1'), 'Sha256': body.get('sha256'), 'MD5': body.get('md5'), 'Md5': body.get('md5'),
        'GlobalPrevalence': body.get('globalPrevalence'),      # as sent, like the official integration
        'GlobalFirstObserved': body.get('globalFirstObserved'), 'GlobalLastObserved': body.get('globalLastObserved'),
        'Size': body.get('size'), 'SizeInBytes': body.get('size'),
        'FileType': body.get('fileType'), 'IsPeFile': body.get('isPeFile'), 'FilePublisher': body.get('filePublisher'),
        'FileProductName': body.get('fileProductName'), 'Signer': body.get('signer'), 'Issuer': body.get('issuer'),
        'SignerHash': body.get('signerHash'), 'IsValidCertificate': body.get('isValidCertificate'),
        'DeterminationType': body.get('determinationType'), 'DeterminationValue': body.get('determinationValue'),
    })


def get_file_info_command(client: Client, args: Dict[str, Any]) -> Any:
    hashes = [hash_arg(h, 'hash', ('SHA1', 'SHA256')) for h in required_list(args, 'hash')]
    results, errors = [], []
    for value in hashes:
        try:
            body = client.file_info(value)
        except DemistoException as error:
            errors.append(f'{value}: {error_text(error)}')
            continue
        row = file_info_context(body)
        score = FILE_SCORES.get(str(body.get('determinationType') or '').lower(), Common.DBotScore.NONE)
        file = Common.File(dbot(body.get('sha1') or value, DBotScoreType.FILE, score), sha1=body.get('sha1'),
                           sha256=body.get('sha256'), md5=body.get('md5'), size=body.get('size'),
                           file_type=body.get('fileType'))
        results.append(CommandResults(outputs_prefix='MicrosoftATP.File', outputs_key_field='Sha1', outputs=row,
                                      indicator=file, raw_response=body, readable_output=tableToMarkdown(
                                          f'File {value}', row, removeNull=True)))
    if errors:
        if not results:
            raise DemistoException(f'Failed for {len(errors)} file(s):\n' + '\n'.join(errors))
        return [*results, error_entry(f'Failed for {len(errors)} file(s):\n' + '\n'.join(errors))]
    return results


def get_domain_statistics_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    domain, host = domain_arg(required_arg(args, 'domain'))   # Microsoft keys domains by their ASCII (IDNA) name
    body = client.domain_stats(host)
    stats = remove_empty_elements({'Host': body.get('host'), **org_stats(body)})
    return CommandResults(outputs_prefix='MicrosoftATP.DomainStatistics', outputs_key_field='Domain',
                          outputs={'Domain': domain, 'Statistics': stats}, raw_response=body,
                          indicator=Common.Domain(domain, dbot(domain, DBotScoreType.DOMAIN)),
                          readable_output=tableToMarkdown(f'Statistics of domain {domain}', stats, removeNull=True))


def get_ip_statistics_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    ip = ip_arg(required_arg(args, 'ip'))
    body = client.ip_stats(ip)
    # Statistics.IPAddress is declared by the official integration but only written at the top level there; here
    # both hold the address, so playbooks that read either path find it.
    stats = {'IPAddress': ip, **org_stats(body)}
    return CommandResults(outputs_prefix='MicrosoftATP.IPStatistics', outputs_key_field='IPAddress',
                          outputs={'IPAddress': ip, 'Statistics': stats}, raw_response=body,
                          indicator=Common.IP(ip, dbot(ip, DBotScoreType.IP)),
                          readable_output=tableToMarkdown(f'Statistics of IP {ip}', stats, removeNull=True))


# ============================================================================================================
# Vulnerability management (TVM): software inventory, vulnerabilities, missing KBs, per-machine views
# ============================================================================================================

TVM_SEVERITIES = ('Low', 'Medium', 'High', 'Critical')
_CVE_ID = re.compile(r'^CVE-\d{4}-\d{4,}$', re.IGNORECASE)
SOFTWARE_FIELDS = ('id', 'name', 'vendor', 'weaknesses', 'publicExploit', 'activeAlert', 'exposedMachines',
                   'impactScore')
VULNERABILITY_FIELDS = ('id', 'name', 'description', 'severity', 'cvssV3', 'cvssVector', 'exposedMachines',
                        'publishedOn', 'updatedOn', 'firstDetected', 'publicExploit', 'exploitVerified',
                        'exploitInKit', 'exploitTypes', 'exploitUris', 'cveSupportability', 'epss')
VULNERABILITY_HEADERS = ['id', 'severity', 'cvssV3', 'exposedMachines', 'publishedOn', 'updatedOn', 'publicExploit',
                         'description']
KB_FIELDS = ('id', 'name', 'osBuild', 'productsNames', 'url', 'machineMissedOn', 'cveAddressed')
MACHINE_REF_FIELDS = ('id', 'computerDnsName', 'osPlatform', 'rbacGroupName', 'rbacGroupId')
FINDING_FIELDS = ('id', 'cveId', 'machineId', 'fixingKbId', 'productName', 'productVendor', 'productVersion',
                  'severity')


def api_fields(item: Dict[str, Any]) -> Dict[str, Any]:
    """Every field of an API record except OData annotations: the official integration writes the records whole
    (installedMachines, isNormalized, category, scope, troubleshootInfo ... included)."""
    return {k: v for k, v in item.items() if not k.startswith('@odata')}


def pick(item: Dict[str, Any], fields: Tuple[str, ...], **extra: Any) -> Dict[str, Any]:
    """A TVM record with all its API fields (the ``fields`` are the table columns; empty ones are dropped) plus the
    query's own keys."""
    return remove_empty_elements({**api_fields(item), **extra})


def eq_any(field: str, values: List[str]) -> str:
    """``field eq v1 or field eq v2 ...`` with every value an escaped OData literal."""
    return ODataFilter.or_(*[ODataFilter.eq(field, v) for v in values])


def cve_arg(value: str, name: str = 'cve_id') -> str:
    text = str(value).strip()
    if not _CVE_ID.match(text):
        raise ValueError(f'Invalid "{name}": "{value}". Provide CVE IDs such as CVE-2024-4671.')
    return text.upper()


def cvss_arg(args: Dict[str, Any], name: str = 'cvss') -> float | None:
    value = args.get(name)
    if value in (None, ''):
        return None
    try:
        score = float(str(value).strip())
    except ValueError:
        score = -1.0
    if not 0 <= score <= 10:                    # NaN fails this test too
        raise ValueError(f'Invalid "{name}": "{value}". Provide a CVSS v3 score from 0 to 10.')
    return score


def since_arg(args: Dict[str, Any], name: str) -> datetime | None:
    """A date, ISO 8601 time or relative time ("7 days") as an aware UTC datetime, for an OData ``ge``."""
    value = args.get(name)
    if value in (None, ''):
        return None
    try:
        moment = date_arg(value, name)
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError(f'Invalid "{name}": "{value}". Provide a date such as 2024-05-31, an ISO 8601 time, '
                         'or a relative time such as "30 days".')
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def software_clause(value: str) -> str:
    """A software ID (vendor-_-product) as the vendor and product filter machinesVulnerabilities supports."""
    vendor, sep, product = value.partition('-_-')
    if not (sep and vendor and product):
        raise ValueError(f'Invalid "software_id": "{value}". Provide software IDs in the form vendor-_-product, '
                         'such as microsoft-_-edge.')
    return f'({ODataFilter.and_(ODataFilter.eq("productVendor", vendor), ODataFilter.eq("productName", product))})'


def tvm_page(args: Dict[str, Any], default: int) -> Tuple[int, int]:
    return number_arg(args, 'limit', default, 1, MAX_PAGE_SIZE), number_arg(args, 'offset', 0, 0, 1_000_000)


def tvm_results(items: List[Dict[str, Any]], fields: Tuple[str, ...], prefix: str, key: str | List[str],
                title: str, headers: List[str] | None = None, **extra: Any) -> CommandResults:
    rows = [pick(i, fields, **extra) for i in items]
    if not rows:
        return CommandResults(readable_output=f'{title}: nothing was found.')
    return CommandResults(outputs_prefix=prefix, outputs_key_field=key, outputs=rows, raw_response=items,
                          readable_output=tableToMarkdown(title, rows, headers=headers or [*fields, *extra],
                                                          removeNull=True))


def cve_indicator(item: Dict[str, Any]) -> Common.CVE:
    return Common.CVE(id=str(item.get('id')), cvss=item.get('cvssV3'), published=item.get('publishedOn'),
                      modified=item.get('updatedOn'), description=item.get('description'),
                      cvss_vector=item.get('cvssVector'))


def vulnerability_results(items: List[Dict[str, Any]], prefix: str, key: str | List[str], title: str,
                          **extra: Any) -> List[CommandResults]:
    """The vulnerabilities under ``prefix`` and, for each, the standard CVE indicator."""
    results = [tvm_results(items, VULNERABILITY_FIELDS, prefix, key, title,
                           headers=[*extra, *VULNERABILITY_HEADERS], **extra)]
    results += [CommandResults(indicator=cve_indicator(i), readable_output='') for i in items if i.get('id')]
    return results


def list_software_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    limit, offset = tvm_page(args, 50)
    filter_ = ODataFilter.and_(eq_any('id', text_list(args, 'id')), eq_any('name', text_list(args, 'name')),
                               eq_any('vendor', text_list(args, 'vendor')))
    items = client.list_software(filter_ or None, limit, offset)
    return tvm_results(items, SOFTWARE_FIELDS, 'MicrosoftATP.Software', 'id', 'Software')


def software_id_arg(args: Dict[str, Any]) -> str:
    """The software ID the per-software routes need. Optional in the official YAML (which then calls
    /software/None/...); here a clear error says what to pass."""
    value = str(args.get('id') or '').strip()
    if not value:
        raise ValueError(f'Missing argument "id": the software ID, as vendor-_-product (for example '
                         f'microsoft-_-edge). !{PREFIX}-list-software lists them.')
    return value


def list_machines_by_software_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    software_id = software_id_arg(args)
    refs = client.software_part(software_id, 'machineReferences')
    return tvm_results(refs, MACHINE_REF_FIELDS, 'MicrosoftATP.SoftwareMachine', ['id', 'softwareId'],
                       f'Machines with software {software_id}', softwareId=software_id)


def list_software_version_distribution_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    software_id = software_id_arg(args)
    rows = client.software_part(software_id, 'distributions')
    return tvm_results(rows, ('version', 'installations', 'vulnerabilities'), 'MicrosoftATP.SoftwareVersion',
                       ['softwareId', 'version'], f'Versions of software {software_id}', softwareId=software_id)


def list_missing_kb_by_software_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    software_id = required_arg(args, 'id')
    kbs = client.software_part(software_id, 'getmissingkbs')
    return tvm_results(kbs, KB_FIELDS, 'MicrosoftATP.SoftwareKB', ['id', 'softwareId'],
                       f'Security updates missing for software {software_id}', softwareId=software_id)


def list_vulnerabilities_by_software_command(client: Client, args: Dict[str, Any]) -> List[CommandResults]:
    software_id = required_arg(args, 'id')
    items = client.software_part(software_id, 'vulnerabilities')
    return vulnerability_results(items, 'MicrosoftATP.SoftwareCVE', ['id', 'softwareId'],
                                 f'Vulnerabilities of software {software_id}', softwareId=software_id)


def machine_vulnerabilities_filter(args: Dict[str, Any]) -> str:
    """$filter for machinesVulnerabilities: values of one argument OR'd, arguments AND'd."""
    return ODataFilter.and_(
        eq_any('machineId', text_list(args, 'machine_id')),
        ODataFilter.or_(*[software_clause(v) for v in text_list(args, 'software_id')]),
        eq_any('cveId', [cve_arg(v) for v in text_list(args, 'cve_id')]),
        eq_any('productName', text_list(args, 'product_name')),
        eq_any('productVersion', text_list(args, 'product_version')),
        eq_any('productVendor', text_list(args, 'product_vendor')),
        eq_any('severity', choice_list_arg(args, 'severity', TVM_SEVERITIES)))


def list_vulnerabilities_by_machine_command(client: Client, args: Dict[str, Any]) -> List[CommandResults]:
    """The findings under MicrosoftATP.MachineCVE and, as the official writes, a CVE indicator (the ID only: a
    finding carries no score or dates) for each CVE found."""
    filter_ = machine_vulnerabilities_filter(args)
    limit, offset = tvm_page(args, 25)
    items = client.machines_vulnerabilities(filter_ or None, limit, offset)
    results = [tvm_results(items, FINDING_FIELDS, 'MicrosoftATP.MachineCVE', 'id', 'Vulnerabilities by machine',
                           headers=['machineId', 'cveId', 'productVendor', 'productName', 'productVersion',
                                    'severity', 'fixingKbId'])]
    cve_ids = dict.fromkeys(str(i['cveId']) for i in items if i.get('cveId'))
    results += [CommandResults(indicator=Common.CVE(id=cve_id, cvss=None, published=None, modified=None,
                                                    description=None), readable_output='') for cve_id in cve_ids]
    return results


def vulnerabilities_filter(args: Dict[str, Any]) -> str:
    """$filter for /vulnerabilities; every value is an escaped literal, so quotes cannot end the string early."""
    published, updated, cvss = since_arg(args, 'published_on'), since_arg(args, 'updated_on'), cvss_arg(args)
    return ODataFilter.and_(
        eq_any('id', [cve_arg(v, 'id') for v in text_list(args, 'id')]),
        ODataFilter.eq('name', args['name_equal'].strip()) if str(args.get('name_equal') or '').strip() else None,
        f'contains(name,{odata_string(args["name_contains"])})' if args.get('name_contains') else None,
        f'contains(description,{odata_string(args["description_contains"])})'
        if args.get('description_contains') else None,
        ODataFilter.ge('publishedOn', published) if published else None,
        ODataFilter.ge('updatedOn', updated) if updated else None,
        ODataFilter.ge('cvssV3', cvss) if cvss is not None else None,
        eq_any('severity', choice_list_arg(args, 'severity', TVM_SEVERITIES)))


def list_vulnerabilities_command(client: Client, args: Dict[str, Any]) -> List[CommandResults]:
    filter_ = vulnerabilities_filter(args)
    limit, offset = tvm_page(args, 25)
    items = client.list_vulnerabilities(filter_ or None, limit, offset)
    return vulnerability_results(items, 'MicrosoftATP.Vulnerability', 'id', 'Vulnerabilities')


def list_machines_by_vulnerability_command(client: Client, args: Dict[str, Any]) -> Any:
    """Machines exposed to each CVE, one row per machine with every requested CVE it is exposed to."""
    cve_ids = [cve_arg(v) for v in required_list(args, 'cve_id')]
    machines: Dict[str, Dict[str, Any]] = {}
    errors = []
    for cve_id in cve_ids:
        try:
            refs = client.vulnerability_machines(cve_id)
        except (NotFoundError, DemistoException) as error:
            errors.append(f'{cve_id}: {error_text(error)}')
            continue
        for ref in refs:
            key = str(ref.get('id'))
            if key not in machines:
                machines[key] = {**remove_empty_elements({
                    'ID': ref.get('id'), 'ComputerDNSName': ref.get('computerDnsName'),
                    'OSPlatform': ref.get('osPlatform'), 'RBACGroupID': ref.get('rbacGroupId'),
                    'RBACGroupName': ref.get('rbacGroupName')}), 'CVE': []}
            machines[key]['CVE'].append(cve_id)
    if len(errors) == len(cve_ids):
        return per_item_results(None, errors, 'CVE(s)')
    rows = list(machines.values())
    results = CommandResults(
        outputs_prefix='MicrosoftATP.CveMachine', outputs_key_field='ID', outputs=rows or None,
        readable_output=tableToMarkdown(f'Machines exposed to {", ".join(cve_ids)}', rows, removeNull=True,
                                        headers=['ID', 'ComputerDNSName', 'OSPlatform', 'RBACGroupName', 'CVE'])
        if rows else f'No machines are exposed to {", ".join(cve_ids)}.')
    return per_item_results(results, errors, 'CVE(s)')


def get_machine_software_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    machine_id = required_arg(args, 'machine_id')
    items = client.machine_part(machine_id, 'software')
    return tvm_results(items, SOFTWARE_FIELDS, 'MicrosoftATP.MachineSoftware', ['id', 'machineId'],
                       f'Software on machine {machine_id}', machineId=machine_id)


def get_machine_missing_kbs_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    machine_id = required_arg(args, 'machine_id')
    kbs = client.machine_part(machine_id, 'getmissingkbs')
    return tvm_results(kbs, KB_FIELDS, 'MicrosoftATP.MachineMissingKB', ['id', 'machineId'],
                       f'Security updates missing on machine {machine_id}', machineId=machine_id)


def get_machine_vulnerabilities_command(client: Client, args: Dict[str, Any]) -> List[CommandResults]:
    machine_id = required_arg(args, 'machine_id')
    items = client.machine_part(machine_id, 'vulnerabilities')
    return vulnerability_results(items, 'MicrosoftATP.MachineVulnerability', ['id', 'machineId'],
                                 f'Vulnerabilities on machine {machine_id}', machineId=machine_id)


# ============================================================================================================
# Indicators (Defender for Endpoint /api/indicators)
# ============================================================================================================

INDICATOR_HEADERS = ['id', 'action', 'indicatorValue', 'indicatorType', 'severity', 'title', 'description',
                     'expirationTime']


def standard_indicator(item: Dict[str, Any]) -> Any:
    """The File/IP/Domain/URL object for an indicator, scored by the action Defender takes on it."""
    value, kind = str(item.get('indicatorValue') or ''), str(item.get('indicatorType') or '')
    score = Common.DBotScore.NONE       # as the official: an indicator's action is a policy, not a verdict
    if not value:
        return None
    if kind.startswith('File'):
        hashes = {'FileSha1': 'sha1', 'FileSha256': 'sha256', 'FileMd5': 'md5'}
        return Common.File(dbot(value, DBotScoreType.FILE, score), **{hashes[kind]: value}) if kind in hashes else None
    if kind == 'IpAddress':
        return Common.IP(value, dbot(value, DBotScoreType.IP, score))
    if kind == 'DomainName':
        return Common.Domain(value, dbot(value, DBotScoreType.DOMAIN, score))
    if kind == 'Url':
        return Common.URL(value, dbot(value, DBotScoreType.URL, score))
    return None


def indicator_results(items: List[Dict[str, Any]], title: str) -> List[CommandResults]:
    rows = [remove_empty_elements({k: v for k, v in i.items() if not k.startswith('@odata')}) for i in items]
    results = [CommandResults(outputs_prefix='MicrosoftATP.Indicators', outputs_key_field='id', outputs=rows,
                              raw_response=items, readable_output=tableToMarkdown(
                                  title, rows, headers=INDICATOR_HEADERS, removeNull=True))]
    for item in items:
        indicator = standard_indicator(item)
        if indicator is not None:
            results.append(CommandResults(indicator=indicator, readable_output=''))
    return results


def sc_indicator_list_command(client: Client, args: Dict[str, Any]) -> List[CommandResults]:
    limit = number_arg(args, 'limit', 50, 1, MAX_PAGE_SIZE)
    skip = number_arg(args, 'skip', 0, 0, 1_000_000)
    kinds = choice_list_arg(args, 'indicator_type', INDICATOR_TYPES)
    filter_ = ODataFilter.and_(
        f'contains(title,{odata_string(args["indicator_title"])})' if args.get('indicator_title') else None,
        f'contains(indicatorValue,{odata_string(args["indicator_value"])})' if args.get('indicator_value') else None,
        ODataFilter.or_(*[ODataFilter.eq('indicatorType', k) for k in kinds]))
    if args.get('indicator_id'):
        items = [client.get_indicator(str(args['indicator_id']))]
    else:
        items = client.list_indicators(filter_ or None, limit, skip)
    if not items:
        return [CommandResults(readable_output='No indicators were found.')]
    return indicator_results(items, 'Indicators')


def sc_indicator_get_by_id_command(client: Client, args: Dict[str, Any]) -> List[CommandResults]:
    item = client.get_indicator(required_arg(args, 'indicator_id'))
    return indicator_results([item], f'Indicator {item.get("id")}')


def indicator_body(args: Dict[str, Any]) -> Dict[str, Any]:
    """The indicator resource to submit; create and update both upsert by value and type."""
    description = required_arg(args, 'indicator_description')
    if len(description) > 1000:
        raise ValueError('Invalid "indicator_description": at most 1000 characters.')
    return remove_empty_elements({
        'indicatorValue': required_arg(args, 'indicator_value'),
        'indicatorType': choice_arg(args, 'indicator_type', INDICATOR_TYPES, required=True),
        'action': choice_arg(args, 'action', INDICATOR_ACTIONS, required=True),
        'title': required_arg(args, 'indicator_title'), 'description': description,
        'severity': choice_arg(args, 'severity', INDICATOR_SEVERITIES),
        'expirationTime': future_time_arg(args, 'expiration_time', '14 days'),
        'application': args.get('indicator_application') or args.get('application'),
        'recommendedActions': args.get('recommended_actions'),
        'rbacGroupNames': text_list(args, 'rbac_group_names') or None,
        'generateAlert': bool_arg(args, 'generate_alert', True),
    })


def sc_indicator_create_command(client: Client, args: Dict[str, Any]) -> List[CommandResults]:
    item = client.submit_indicator(indicator_body(args))
    return indicator_results([item], f'Indicator {item.get("indicatorValue")} was saved')


def sc_indicator_update_command(client: Client, args: Dict[str, Any]) -> List[CommandResults]:
    item = client.submit_indicator(indicator_body(args))
    return indicator_results([item], f'Indicator {item.get("indicatorValue")} was updated')


def sc_indicator_delete_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    indicator_id = required_arg(args, 'indicator_id')
    client.delete_indicator(indicator_id)
    return CommandResults(readable_output=f'Indicator {indicator_id} was deleted.')


def indicator_batch_update_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    raw = args.get('indicator_batch')
    try:
        batch = json.loads(raw) if isinstance(raw, str) else raw
    except (ValueError, RecursionError):  # nested too deep for the parser
        batch = None
    if not isinstance(batch, list) or not batch or not all(isinstance(i, dict) for i in batch):
        raise ValueError('Invalid "indicator_batch": provide a JSON list of indicator objects.')
    if len(batch) > 500:
        raise ValueError('Invalid "indicator_batch": Microsoft accepts at most 500 indicators per batch.')
    results = client.import_indicators(batch)
    rows = [{'ID': r.get('id'), 'Value': r.get('indicator'), 'IsFailed': r.get('isFailed'),
             'FailureReason': r.get('failureReason')} for r in results]
    return CommandResults(outputs_prefix='MicrosoftATP.Indicators', outputs_key_field='ID',
                          outputs=[remove_empty_elements(r) for r in rows], raw_response=results,
                          readable_output=tableToMarkdown('Indicators batch update', rows))


# ============================================================================================================
# Alerts (deprecated by Microsoft in favour of Graph security alerts_v2; kept for playbooks that still use them)
# ============================================================================================================

ALERT_SEVERITIES = ('Informational', 'Low', 'Medium', 'High')
ALERT_STATUSES = ('New', 'InProgress', 'Resolved')
# Current values first; Unknown, NotAvailable, Apt and SecurityPersonnel are the older ones playbooks still send.
ALERT_CLASSIFICATIONS = ('TruePositive', 'InformationalExpectedActivity', 'FalsePositive', 'Unknown')
ALERT_DETERMINATIONS = ('MultiStagedAttack', 'MaliciousUserActivity', 'CompromisedAccount', 'Malware', 'Phishing',
                        'UnwantedSoftware', 'SecurityTesting', 'LineOfBusinessApplication', 'ConfirmedActivity',
                        'Clean', 'InsufficientData', 'NotMalicious', 'Other', 'NotAvailable', 'Apt',
                        'SecurityPersonnel')
CREATE_ALERT_SEVERITIES = ('Low', 'Medium', 'High')
CREATE_ALERT_CATEGORIES = (
    'None', 'SuspiciousActivity', 'Malware', 'CredentialTheft', 'Exploit', 'WebExploit', 'DocumentExploit',
    'PrivilegeEscalation', 'Persistence', 'RemoteAccessTool', 'CommandAndControl', 'SuspiciousNetworkTraffic',
    'Ransomware', 'MalwareDownload', 'Reconnaissance', 'WebFingerprinting', 'Weaponization', 'Delivery',
    'SocialEngineering', 'CredentialStealing', 'Installation', 'Backdoor', 'Trojan', 'TrojanDownloader',
    'LateralMovement', 'ExplorationEnumeration', 'NetworkPropagation', 'Exfiltration', 'NotApplicable',
    'EnterprisePolicy', 'General')
ALERT_HEADERS = ['ID', 'Title', 'Severity', 'Status', 'Category', 'MachineID', 'ComputerDNSName', 'AssignedTo',
                 'AlertCreationTime']


def alert_context(alert: Dict[str, Any]) -> Dict[str, Any]:
    """An alert resource as MicrosoftATP.Alert (the official PascalCase names)."""
    user = alert.get('relatedUser') or {}
    return remove_empty_elements({
        'ID': alert.get('id'), 'IncidentID': alert.get('incidentId'), 'InvestigationID': alert.get('investigationId'),
        'InvestigationState': alert.get('investigationState'), 'AssignedTo': alert.get('assignedTo'),
        'Severity': alert.get('severity'), 'Status': alert.get('status'),
        'Classification': alert.get('classification'), 'Determination': alert.get('determination'),
        'DetectionSource': alert.get('detectionSource'), 'DetectorID': alert.get('detectorId'),
        'Category': alert.get('category'), 'ThreatFamilyName': alert.get('threatFamilyName'),
        'ThreatName': alert.get('threatName'), 'Title': alert.get('title'), 'Description': alert.get('description'),
        'AlertCreationTime': alert.get('alertCreationTime'), 'FirstEventTime': alert.get('firstEventTime'),
        'LastEventTime': alert.get('lastEventTime'), 'LastUpdateTime': alert.get('lastUpdateTime'),
        'ResolvedTime': alert.get('resolvedTime'), 'MachineID': alert.get('machineId'),
        'ComputerDNSName': alert.get('computerDnsName'), 'RBACGroupName': alert.get('rbacGroupName'),
        'AADTenantID': alert.get('aadTenantId'), 'MitreTechniques': alert.get('mitreTechniques'),
        # The official writes relatedUser as sent (userName, domainName); the PascalCase keys are kept beside them.
        'RelatedUser': {**user, 'UserName': user.get('userName'), 'DomainName': user.get('domainName')}
        if user else None,
        'Comments': [{'Comment': c.get('comment'), 'CreatedBy': c.get('createdBy'), 'CreatedTime': c.get('createdTime')}
                     for c in alert.get('comments') or []],
        'Evidence': alert.get('evidence'),
    })


def alerts_table(title: str, rows: List[Dict[str, Any]]) -> str:
    return tableToMarkdown(title, rows, headers=ALERT_HEADERS, removeNull=True)


def list_alerts_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    limit = number_arg(args, 'limit', 50, 1, MAX_PAGE_SIZE)
    since = None
    if args.get('creation_time'):
        minutes = duration_minutes(str(args['creation_time']), 'creation_time')
        since = datetime.now(UTC) - timedelta(minutes=minutes)
    category = str(args.get('category') or '').strip()
    filter_ = ODataFilter.and_(
        ODataFilter.eq('severity', choice_arg(args, 'severity', ALERT_SEVERITIES)) if args.get('severity') else None,
        ODataFilter.eq('status', choice_arg(args, 'status', ALERT_STATUSES)) if args.get('status') else None,
        ODataFilter.eq('category', category) if category else None,
        ODataFilter.ge('alertCreationTime', since) if since else None)
    alerts = client.list_alerts(filter_, limit, True)        # with their evidence, as the official lists them
    rows = [alert_context(a) for a in alerts]
    return CommandResults(outputs_prefix='MicrosoftATP.Alert', outputs_key_field='ID', outputs=rows,
                          raw_response=alerts, readable_output=alerts_table('Alerts', rows))


def alert_changes(args: Dict[str, Any]) -> Dict[str, Any]:
    """The PATCH body; every value is checked first and an update that changes nothing is refused."""
    changes = remove_empty_elements({
        'status': choice_arg(args, 'status', ALERT_STATUSES),
        'assignedTo': str(args.get('assigned_to') or '').strip() or None,
        'classification': choice_arg(args, 'classification', ALERT_CLASSIFICATIONS),
        'determination': choice_arg(args, 'determination', ALERT_DETERMINATIONS),
        'comment': str(args.get('comment') or '').strip() or None,
    })
    if not changes:
        raise ValueError('Nothing to update: provide at least one of "status", "assigned_to", "classification", '
                         '"determination" or "comment".')
    return changes


def update_alert_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    alert_id = required_arg(args, 'alert_id')
    changes = alert_changes(args)
    alert = client.update_alert(alert_id, changes)
    # The official also writes the comment it sent as MicrosoftATP.Alert.Comment.
    row = remove_empty_elements({**alert_context(alert), 'Comment': changes.get('comment')})
    return CommandResults(outputs_prefix='MicrosoftATP.Alert', outputs_key_field='ID', outputs=row, raw_response=alert,
                          readable_output=alerts_table(f'Alert {alert_id} was updated', [row]))


def create_alert_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    moment = date_arg(required_arg(args, 'event_time'), 'event_time', required=True)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    body = {
        'machineId': required_arg(args, 'machine_id'),
        'severity': choice_arg(args, 'severity', CREATE_ALERT_SEVERITIES, required=True),
        'title': required_arg(args, 'title'), 'description': required_arg(args, 'description'),
        'recommendedAction': required_arg(args, 'recommended_action'),
        'eventTime': moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ'),
        'reportId': required_arg(args, 'report_id'),
        'category': choice_arg(args, 'category', CREATE_ALERT_CATEGORIES, required=True),
    }
    alert = client.create_alert(body)
    row = alert_context(alert)
    return CommandResults(outputs_prefix='MicrosoftATP.Alert', outputs_key_field='ID', outputs=row, raw_response=alert,
                          readable_output=alerts_table('Alert created', [row]))


def get_alert_by_id_command(client: Client, args: Dict[str, Any]) -> Any:
    alerts, errors = [], []
    alert_ids = required_list(args, 'alert_ids')
    for alert_id in alert_ids:
        quote_id(alert_id, 'alert_ids')         # every ID checked before the first call, the argument named
    for alert_id in alert_ids:
        try:
            alerts.append(client.get_alert(alert_id))
        except RetryAfterError:
            raise                               # throttled: the whole command is rescheduled
        except DemistoException as error:
            errors.append(f'{alert_id}: {error_text(error)}')
    rows = [alert_context(a) for a in alerts]
    results = CommandResults(outputs_prefix='MicrosoftATP.Alert', outputs_key_field='ID', outputs=rows,
                             raw_response=alerts, readable_output=alerts_table('Alerts', rows)) if rows else None
    return per_item_results(results, errors, 'alert(s)')


def related_user_context(user: Dict[str, Any]) -> Dict[str, Any]:
    return remove_empty_elements({
        'ID': user.get('id'), 'AccountName': user.get('accountName'), 'AccountDomain': user.get('accountDomain'),
        'AccountSID': user.get('accountSid'), 'FirstSeen': user.get('firstSeen'), 'LastSeen': user.get('lastSeen'),
        'MostPrevalentMachineID': user.get('mostPrevalentMachineId'),
        'LeastPrevalentMachineID': user.get('leastPrevalentMachineId'), 'LogonTypes': user.get('logonTypes'),
        'LogonCount': user.get('logOnMachinesCount'), 'DomainAdmin': user.get('isDomainAdmin'),
        'NetworkUser': user.get('isOnlyNetworkUser'),
    })


def get_alert_related_user_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    alert_id = required_arg(args, 'id')
    user = related_user_context(client.alert_user(alert_id))
    return CommandResults(outputs_prefix='MicrosoftATP.AlertUser', outputs_key_field='AlertID',
                          outputs={'AlertID': alert_id, 'User': user},
                          readable_output=tableToMarkdown(f'User related to alert {alert_id}', user, removeNull=True))


def _window(args: Dict[str, Any], items: List[Dict]) -> List[Dict]:
    """The official limit/offset: the API returns everything, the command shows one window of it."""
    limit = number_arg(args, 'limit', 50, 1, MAX_PAGE_SIZE)
    offset = number_arg(args, 'offset', 0, 0, 1_000_000)
    return items[offset:offset + limit]


def get_alert_related_files_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    alert_id = required_arg(args, 'id')
    files = [file_info_context(f) for f in _window(args, client.alert_entities(alert_id, 'files'))]
    return CommandResults(outputs_prefix='MicrosoftATP.AlertFile', outputs_key_field='AlertID',
                          outputs={'AlertID': alert_id, 'Files': files},
                          readable_output=tableToMarkdown(f'Files related to alert {alert_id}', files,
                                                          headers=['Sha1', 'Sha256', 'MD5', 'FileType', 'Size',
                                                                   'FilePublisher', 'DeterminationType'],
                                                          removeNull=True))


def get_alert_related_ips_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    """MicrosoftATP.AlertIP.IPs is a list of addresses (strings), as the official integration writes it."""
    alert_id = required_arg(args, 'id')
    ips = [str(i['id']) for i in _window(args, client.alert_entities(alert_id, 'ips')) if i.get('id')]
    return CommandResults(outputs_prefix='MicrosoftATP.AlertIP', outputs_key_field='AlertID',
                          outputs={'AlertID': alert_id, 'IPs': ips},
                          readable_output=tableToMarkdown(f'IPs related to alert {alert_id}', ips, headers=['IP']))


def get_alert_related_domains_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    """MicrosoftATP.AlertDomain.Domains is a list of host names (strings), as the official integration writes it."""
    alert_id = required_arg(args, 'id')
    domains = [str(d['host']) for d in _window(args, client.alert_entities(alert_id, 'domains')) if d.get('host')]
    return CommandResults(outputs_prefix='MicrosoftATP.AlertDomain', outputs_key_field='AlertID',
                          outputs={'AlertID': alert_id, 'Domains': domains},
                          readable_output=tableToMarkdown(f'Domains related to alert {alert_id}', domains,
                                                          headers=['Domain']))


def entity_alerts_results(prefix: str, key: str, value: str, alerts: List[Dict], title: str) -> CommandResults:
    rows = [alert_context(a) for a in alerts]
    return CommandResults(outputs_prefix=prefix, outputs_key_field=key, outputs={key: value, 'Alerts': rows},
                          raw_response=alerts, readable_output=alerts_table(title, rows))


def get_domain_alerts_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    domain, host = domain_arg(required_arg(args, 'domain'))
    return entity_alerts_results('MicrosoftATP.DomainAlert', 'Domain', domain,
                                 client.entity_alerts('domains', host, 'domain'), f'Alerts related to {domain}')


def get_file_alerts_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    sha1 = hash_arg(required_arg(args, 'file_hash'), 'file_hash', ('SHA1',))
    return entity_alerts_results('MicrosoftATP.FileAlert', 'Sha1', sha1,
                                 client.entity_alerts('files', sha1, 'file_hash'), f'Alerts related to file {sha1}')


def get_ip_alerts_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    ip = ip_arg(required_arg(args, 'ip'))
    return entity_alerts_results('MicrosoftATP.IPAlert', 'IPAddress', ip, client.entity_alerts('ips', ip, 'ip'),
                                 f'Alerts related to IP {ip}')


def get_user_alerts_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    username = required_arg(args, 'username')
    if '@' in username or '\\' in username:
        raise ValueError(f'Invalid "username": "{username}". Give the account name only (user1, not '
                         'user1@contoso.com or CONTOSO\\user1).')
    return entity_alerts_results('MicrosoftATP.UserAlert', 'Username', username,
                                 client.entity_alerts('users', username, 'username'), f'Alerts of user {username}')


def get_machine_alerts_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    machine_id = required_arg(args, 'machine_id')
    alerts = client.entity_alerts('machines', machine_id, 'machine_id')
    rows = [alert_context(a) for a in alerts]
    return CommandResults(outputs_prefix='MicrosoftATP.MachineAlerts', outputs_key_field='ID', outputs=rows,
                          raw_response=alerts, readable_output=alerts_table(f'Alerts of machine {machine_id}', rows))


# ============================================================================================================
# Legacy indicators (Microsoft Graph beta /security/tiIndicators; deprecated in favour of the sc-indicator commands)
# ============================================================================================================

TI_TARGET_PRODUCT = 'Microsoft Defender ATP'
TI_ACTIONS = ('unknown', 'allow', 'block', 'alert')
TI_THREAT_TYPES = ('Botnet', 'C2', 'CryptoMining', 'Darknet', 'DDoS', 'MaliciousUrl', 'Malware', 'Phishing', 'Proxy',
                   'PUA', 'WatchList')
TI_TLP_LEVELS = ('unknown', 'white', 'green', 'amber', 'red')
TI_HASH_TYPES = ('unknown', 'sha1', 'sha256', 'md5', 'authenticodeHash256', 'lsHash', 'ctph')
# Graph's severity is an integer from 0 (informational) to 5 (most severe); the official names map onto it.
TI_SEVERITIES = {'Informational': 0, 'Low': 1, 'MediumLow': 2, 'MediumHigh': 3, 'High': 4}
TI_DEFAULT_EXPIRATION = '14 days'
TI_HEADERS = ['id', 'action', 'threatType', 'severity', 'description', 'expirationDateTime', 'fileHashValue',
              'fileName', 'networkIPv4', 'networkDestinationIPv4', 'domainName', 'url']
# The official writes the severity of a Graph indicator by name; 5 (the most severe in Graph) shows as Informational
# there too, so the names match what the official integration writes.
TI_SEVERITY_NAMES = {0: 'Informational', 1: 'Low', 2: 'MediumLow', 3: 'MediumHigh', 4: 'High', 5: 'Informational'}


def graph_target(params: Dict[str, Any], flow: str) -> Tuple[str, str]:
    """(Microsoft Graph origin, token scope) of the instance's cloud. With a Custom endpoint the Server URL's host
    serves Graph too (a private gateway). The Cortex XSOAR token proxy names the Graph scope `graph`."""
    cloud = resolve_cloud(params)
    base = cloud.graph_url
    url = (params.get('url') or '').strip()
    origin = re.match(r'^https?://[^/?#]+', url, re.IGNORECASE)
    if (params.get('endpoint_type') or 'Worldwide') == 'Custom' and origin:
        base = origin.group(0)
    scope = 'graph' if flow == AuthFlow.OPROXY else cloud.scope('graph')
    return base.rstrip('/'), scope


def graph_ti_target(params: Dict[str, Any], flow: str) -> Tuple[str, str]:
    """(tiIndicators URL, token scope)."""
    base, scope = graph_target(params, flow)
    return f'{base}/beta/security/tiIndicators', scope


def int_arg(args: Dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = args.get(name)
    return None if value in (None, '') else number_arg(args, name, 0, low, high)


def ti_severity(args: Dict[str, Any]) -> int:
    name = choice_arg(args, 'severity', tuple(TI_SEVERITIES), default='MediumHigh')
    return TI_SEVERITIES[str(name)]


def ti_description(args: Dict[str, Any], required: bool = True) -> str | None:
    text = required_arg(args, 'description') if required else (str(args.get('description') or '').strip() or None)
    if text and len(text) > 100:
        raise ValueError(f'Invalid "description": {len(text)} characters; Microsoft Graph accepts at most 100.')
    return text


def ti_common(args: Dict[str, Any]) -> Dict[str, Any]:
    """The fields every tiIndicator needs (Graph refuses the POST without them)."""
    return {
        'action': choice_arg(args, 'action', TI_ACTIONS, required=True),
        'description': ti_description(args),
        'expirationDateTime': future_time_arg(args, 'expiration_time', TI_DEFAULT_EXPIRATION),
        'threatType': choice_arg(args, 'threat_type', TI_THREAT_TYPES, required=True),
        'tlpLevel': choice_arg(args, 'tlp_level', TI_TLP_LEVELS, default='unknown'),
        'targetProduct': TI_TARGET_PRODUCT,
        'severity': ti_severity(args),
        'confidence': int_arg(args, 'confidence', 0, 100),
        'tags': text_list(args, 'tags') or None,     # 'a,b,' is two tags, not an empty third
    }


def _iso_arg(args: Dict[str, Any], name: str) -> str | None:
    if not args.get(name):
        return None
    moment = date_arg(args[name], name, required=True)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


def file_indicator_body(args: Dict[str, Any]) -> Dict[str, Any]:
    hash_type = choice_arg(args, 'file_hash_type', TI_HASH_TYPES)
    hash_value = str(args.get('file_hash_value') or '').strip() or None
    if hash_value and hash_type in ('sha1', 'sha256', 'md5'):
        hash_value = hash_arg(hash_value, 'file_hash_value', (str(hash_type).upper(),))
    observables = {
        'fileHashType': hash_type if hash_value else None, 'fileHashValue': hash_value,
        'fileName': args.get('file_name'), 'filePath': args.get('file_path'),
        'fileMutexName': args.get('file_mutex_name'), 'filePacker': args.get('file_packer'),
        'fileType': args.get('file_type'), 'fileSize': int_arg(args, 'file_size', 0, 2 ** 53),
        'fileCompileDateTime': _iso_arg(args, 'file_compile_date_time'),
        'fileCreatedDateTime': _iso_arg(args, 'file_created_date_time'),
    }
    if hash_value and not hash_type:
        raise ValueError('Missing "file_hash_type": say which kind of hash "file_hash_value" is.')
    if not any(observables[k] for k in ('fileHashValue', 'fileName', 'filePath', 'fileMutexName')):
        raise ValueError('A file indicator needs an observable: provide "file_hash_value" (with "file_hash_type"), '
                         '"file_name", "file_path" or "file_mutex_name".')
    return remove_empty_elements({**ti_common(args), **observables})


NETWORK_IP_ARGS = {'network_ipv4': 'networkIPv4', 'network_ipv6': 'networkIPv6',
                   'network_source_ipv4': 'networkSourceIPv4', 'network_source_ipv6': 'networkSourceIPv6',
                   'network_destination_ipv4': 'networkDestinationIPv4',
                   'network_destination_ipv6': 'networkDestinationIPv6'}
NETWORK_INT_ARGS = {'network_port': ('networkPort', 65535), 'network_source_port': ('networkSourcePort', 65535),
                    'network_destination_port': ('networkDestinationPort', 65535),
                    'network_protocol': ('networkProtocol', 255), 'network_source_asn': ('networkSourceAsn', 2 ** 32),
                    'network_destination_asn': ('networkDestinationAsn', 2 ** 32)}
NETWORK_TEXT_ARGS = {'domain_name': 'domainName', 'url': 'url', 'user_agent': 'userAgent',
                     'network_cidr_block': 'networkCidrBlock', 'network_source_cidr_block': 'networkSourceCidrBlock',
                     'network_destination_cidr_block': 'networkDestinationCidrBlock'}


def network_indicator_body(args: Dict[str, Any]) -> Dict[str, Any]:
    observables: Dict[str, Any] = {}
    for arg, field in NETWORK_IP_ARGS.items():
        if args.get(arg):
            address = ip_arg(str(args[arg]), arg)
            if ('ipv6' in arg) != (':' in address):
                raise ValueError(f'Invalid "{arg}": "{args[arg]}". Provide an IPv{6 if "ipv6" in arg else 4} address.')
            observables[field] = address
    for arg, field in NETWORK_TEXT_ARGS.items():
        if str(args.get(arg) or '').strip():
            observables[field] = str(args[arg]).strip()
    for arg, cidr in (('network_cidr_block', 'networkCidrBlock'), ('network_source_cidr_block', 'networkSourceCidrBlock'),
                      ('network_destination_cidr_block', 'networkDestinationCidrBlock')):
        if cidr in observables:
            try:
                observables[cidr] = str(ipaddress.ip_network(observables[cidr], strict=False))
            except ValueError:
                raise ValueError(f'Invalid "{arg}": "{args[arg]}". Provide a CIDR block such as 10.0.0.0/24.') from None
    if not observables:
        raise ValueError('A network indicator needs an observable: provide an IP address, CIDR block, '
                         '"domain_name", "url" or "user_agent".')
    ports = {field: int_arg(args, arg, 0, high) for arg, (field, high) in NETWORK_INT_ARGS.items()}
    return remove_empty_elements({**ti_common(args), **observables, **ports})


def ti_standard_indicator(item: Dict[str, Any]) -> Any:
    """File/IP/Domain/URL objects for what the indicator observes, scored by its action."""
    score = Common.DBotScore.NONE       # as the official: an indicator's action is a policy, not a verdict
    value = item.get('fileHashValue')
    kind = str(item.get('fileHashType') or '').lower()
    if value and kind in ('sha1', 'sha256', 'md5'):
        return Common.File(dbot(value, DBotScoreType.FILE, score), name=item.get('fileName'), size=item.get('fileSize'),
                           path=item.get('filePath'), **{kind: value})
    # One standard object per indicator, in the official order: the domain, else an IP address, else the URL.
    if item.get('domainName'):
        return Common.Domain(item['domainName'], dbot(item['domainName'], DBotScoreType.DOMAIN, score))
    ip = next((item.get(f) for f in NETWORK_IP_ARGS.values() if item.get(f)), None)
    if ip:
        return Common.IP(ip, dbot(ip, DBotScoreType.IP, score))
    if item.get('url'):
        return Common.URL(item['url'], dbot(item['url'], DBotScoreType.URL, score))
    return None


def ti_row(item: Dict[str, Any]) -> Dict[str, Any]:
    row = remove_empty_elements(api_fields(item))
    if isinstance(row.get('severity'), int):
        row['severity'] = TI_SEVERITY_NAMES.get(row['severity'], row['severity'])
    return row


def ti_results(items: List[Dict[str, Any]], title: str) -> List[CommandResults]:
    rows = [ti_row(i) for i in items]
    results = [CommandResults(outputs_prefix='MicrosoftATP.Indicators', outputs_key_field='id', outputs=rows,
                              raw_response=items, readable_output=tableToMarkdown(title, rows, headers=TI_HEADERS,
                                                                                  removeNull=True))]
    for item in items:
        indicator = ti_standard_indicator(item)
        if indicator is not None:
            results.append(CommandResults(indicator=indicator, readable_output=''))
    return results


def indicator_list_command(client: Client, args: Dict[str, Any]) -> List[CommandResults]:
    limit = number_arg(args, 'limit', 50, 1, MAX_PAGE_SIZE)
    page_size = number_arg(args, 'page_size', min(limit, 200), 1, 200)
    items = client.ti_list(page_size, limit)
    if not items:
        return [CommandResults(readable_output='No indicators were found.')]
    return ti_results(items, 'Microsoft Defender ATP indicators (Microsoft Graph)')


def indicator_get_by_id_command(client: Client, args: Dict[str, Any]) -> List[CommandResults]:
    item = client.ti_get(required_arg(args, 'indicator_id'))
    return ti_results([item], f'Indicator {item.get("id")}')


def indicator_create_file_command(client: Client, args: Dict[str, Any]) -> List[CommandResults]:
    item = client.ti_create(file_indicator_body(args))
    return ti_results([item], f'File indicator {item.get("id")} was created')


def indicator_create_network_command(client: Client, args: Dict[str, Any]) -> List[CommandResults]:
    item = client.ti_create(network_indicator_body(args))
    return ti_results([item], f'Network indicator {item.get("id")} was created')


def indicator_update_command(client: Client, args: Dict[str, Any]) -> List[CommandResults]:
    indicator_id = required_arg(args, 'indicator_id')
    required_arg(args, 'expiration_time')
    changes = remove_empty_elements({
        'expirationDateTime': future_time_arg(args, 'expiration_time', TI_DEFAULT_EXPIRATION),
        'severity': ti_severity(args), 'description': ti_description(args, required=False)})
    # Graph answers the indicator when asked to (Prefer: return=representation); read it back if it did not
    item = client.ti_update(indicator_id, changes) or client.ti_get(indicator_id)
    return ti_results([item], f'Indicator {indicator_id} was updated')


def indicator_delete_command(client: Client, args: Dict[str, Any]) -> CommandResults:
    indicator_id = required_arg(args, 'indicator_id')
    client.ti_delete(indicator_id)
    return CommandResults(readable_output=f'Indicator {indicator_id} was deleted.')


# ============================================================================================================
# Advanced hunting
# ============================================================================================================

def hunt(client: Client, query: str, timeout: int) -> List[Dict[str, Any]]:
    body = client.run_query(query, timeout)
    rows = body.get('Results') or body.get('results') or []
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise UnexpectedResponseError('Microsoft answered the hunting query without a list of result rows. Retry the '
                                      'query; if it fails again, run it with debug-mode=true and report the log.')
    return rows


def with_time_range(query: str, time_range: str | None, name: str = 'time_range') -> str:
    if not time_range:
        return query
    return f'{query}\n| where Timestamp > ago({duration_minutes(time_range, name)}m)'


def advanced_hunting_command(client: Client, args: Dict[str, Any]) -> Any:
    query, batch = args.get('query'), args.get('query_batch')
    if bool(query) == bool(batch):
        raise ValueError('Provide exactly one of "query" or "query_batch".')
    timeout = number_arg(args, 'timeout', 10, 1, 600)
    name = hunt_name_arg(args)
    if query:
        rows = hunt(client, with_time_range(str(query), args.get('time_range')), timeout)
        if len(rows) == 1 and isinstance(rows[0], dict) and rows[0].get('ReportId') is not None:
            rows[0]['ReportId'] = str(rows[0]['ReportId'])      # as the official does for a single result
        return CommandResults(outputs_prefix='MicrosoftATP.Hunt.Result', outputs={name: rows} if name else rows,
                              raw_response=rows, readable_output=tableToMarkdown(
                                  f'Hunt results: {name}' if name else 'Hunt results', rows[:50], removeNull=True))
    queries = parse_query_batch(batch)
    results = {}
    for entry in queries:
        results[entry['name']] = hunt(client, with_time_range(entry['query'], entry.get('time_range'),
                                                              f'{entry["name"]} time_range'), entry['timeout'])
    readable = '\n'.join(tableToMarkdown(f'Hunt results: {n}', r[:50], removeNull=True) for n, r in results.items())
    return CommandResults(outputs_prefix='MicrosoftATP.Hunt.Result', outputs=results, raw_response=results,
                          readable_output=readable)


def hunt_name_arg(args: Dict[str, Any]) -> str | None:
    """The official's "name": with "query", the rows go under MicrosoftATP.Hunt.Result.<name>. The name becomes
    a context key, so it is kept to letters, digits, "_" and "-" (a dot would nest it)."""
    name = str(args.get('name') or '').strip()
    if not name:
        return None
    if args.get('query_batch'):
        raise ValueError('Invalid "name": it goes with "query"; in "query_batch" each query has its own "name".')
    if not re.fullmatch(r'[A-Za-z0-9_-]{1,100}', name):
        raise ValueError(f'Invalid "name" {name!r}: use 1 to 100 letters, digits, "_" or "-" (it becomes the '
                         'context key MicrosoftATP.Hunt.Result.<name>).')
    return name


def parse_query_batch(raw: Any) -> List[Dict[str, Any]]:
    try:
        body = json.loads(raw) if isinstance(raw, str) else raw
    except (ValueError, RecursionError):  # nested too deep for the parser
        body = None
    queries = body.get('queries') if isinstance(body, dict) else body
    if not isinstance(queries, list) or not queries or len(queries) > 10:
        raise ValueError('Invalid "query_batch": provide {"queries": [{"query": ..., "name": ...}, ...]} with 1 to 10 '
                         'queries.')
    parsed = []
    for index, item in enumerate(queries, 1):
        if not isinstance(item, dict) or not item.get('query'):
            raise ValueError(f'Invalid "query_batch": query {index} has no "query".')
        parsed.append({'query': str(item['query']), 'name': str(item.get('name') or f'query_{index}'),
                       'timeout': number_arg(item, 'timeout', 10, 1, 600), 'time_range': item.get('time_range')})
    return parsed


# Templated hunting: (table, column of each filter argument, extra where clause, trailing stages)
FILE_COLUMNS = {'device_name': 'DeviceName', 'device_id': 'DeviceId', 'file_name': 'FileName', 'sha1': 'SHA1',
                'sha256': 'SHA256', 'md5': 'MD5'}
INITIATING_COLUMNS = {'device_name': 'DeviceName', 'device_id': 'DeviceId',
                      'file_name': 'InitiatingProcessFileName', 'sha1': 'InitiatingProcessSHA1',
                      'sha256': 'InitiatingProcessSHA256', 'md5': 'InitiatingProcessMD5'}
NET_PORTS = '(135, 139, 445, 3389, 5985, 5986, 22)'


def _t(table: str, columns: Dict[str, str], where: str = '', tail: str = '') -> Dict[str, Any]:
    return {'table': table, 'columns': columns, 'where': where, 'tail': tail}


HUNT_TEMPLATES: Dict[str, Dict[str, Any]] = {
    'lateral-movement-evidence': {
        'network_connections': _t('DeviceNetworkEvents', INITIATING_COLUMNS, f'RemotePort in {NET_PORTS}'),
        'smb_connections': _t('DeviceNetworkEvents', INITIATING_COLUMNS, 'RemotePort == 445',
                              '| summarize RemoteIPCount = dcount(RemoteIP) by DeviceName, InitiatingProcessFileName'
                              '{remote_ip_count}'),
        'credential_dumping': _t('DeviceProcessEvents', FILE_COLUMNS,
                                 'ProcessCommandLine has_any ("sekurlsa", "lsass", "procdump", "comsvcs.dll")'),
        'management_connection': _t('DeviceNetworkEvents', INITIATING_COLUMNS, 'RemotePort in (3389, 5985, 5986, 22)'),
    },
    'persistence-evidence': {
        'scheduled_job': _t('DeviceProcessEvents', FILE_COLUMNS,
                            'FileName =~ "schtasks.exe" and ProcessCommandLine has "create"'),
        'registry_entry': _t('DeviceRegistryEvents', INITIATING_COLUMNS,
                             'RegistryKey has @"\\CurrentVersion\\Run" and InitiatingProcessCommandLine has '
                             '{process_cmd}'),
        'startup_folder_changes': _t('DeviceFileEvents', FILE_COLUMNS, 'FolderPath has @"\\Startup"'),
        'new_service_created': _t('DeviceEvents', INITIATING_COLUMNS, 'ActionType == "ServiceInstalled"'),
        'service_updated': _t('DeviceRegistryEvents', INITIATING_COLUMNS,
                              'RegistryKey has @"\\CurrentControlSet\\Services"'),
        'file_replaced': _t('DeviceFileEvents', FILE_COLUMNS,
                            'ActionType == "FileModified" and FolderPath has @"\\Windows\\System32"'),
        'new_user': _t('DeviceEvents', INITIATING_COLUMNS, 'ActionType == "UserAccountCreated"'),
        'new_group': _t('DeviceEvents', INITIATING_COLUMNS, 'ActionType == "SecurityGroupCreated"'),
        'group_user_change': _t('DeviceEvents', INITIATING_COLUMNS, 'ActionType == "UserAccountAddedToLocalGroup"'),
        'local_firewall_change': _t('DeviceEvents', INITIATING_COLUMNS, 'ActionType startswith "Firewall"'),
        'host_file_change': _t('DeviceFileEvents', FILE_COLUMNS,
                               'FileName =~ "hosts" and FolderPath has @"\\drivers\\etc"'),
    },
    'file-origin': {'': _t('DeviceFileEvents', FILE_COLUMNS, '',
                           '| project Timestamp, DeviceName, FileName, FolderPath, SHA1, FileOriginUrl, '
                           'FileOriginReferrerUrl, FileOriginIP, InitiatingProcessFileName')},
    'process-details': {
        'parent_process': _t('DeviceProcessEvents', FILE_COLUMNS, '',
                             '| project Timestamp, DeviceName, FileName, ProcessCommandLine, '
                             'InitiatingProcessFileName, InitiatingProcessCommandLine'),
        'grandparent_process': _t('DeviceProcessEvents', FILE_COLUMNS, '',
                                  '| project Timestamp, DeviceName, FileName, InitiatingProcessFileName, '
                                  'InitiatingProcessParentFileName'),
        'process_details': _t('DeviceProcessEvents', FILE_COLUMNS),
        'beaconing_evidence': _t('DeviceNetworkEvents', INITIATING_COLUMNS, 'RemoteIPType == "Public"',
                                 '| summarize Connections = count() by DeviceName, RemoteIP, RemotePort'),
        'powershell_execution_unsigned_files': _t('DeviceImageLoadEvents', FILE_COLUMNS,
                                                  'InitiatingProcessFileName in~ ("powershell.exe", "pwsh.exe")'),
        'process_excecution_powershell': _t('DeviceProcessEvents', FILE_COLUMNS,
                                            'InitiatingProcessFileName in~ ("powershell.exe", "pwsh.exe")'),
    },
    'network-connections': {
        'external_addresses': _t('DeviceNetworkEvents', INITIATING_COLUMNS, 'RemoteIPType == "Public"'),
        'dns_query': _t('DeviceEvents', INITIATING_COLUMNS, 'ActionType == "DnsQueryResponse"'),
        'encoded_commands': _t('DeviceProcessEvents', FILE_COLUMNS,
                               'ProcessCommandLine has_any ("-enc", "-encodedcommand", "-e ")'),
    },
    'privilege-escalation': {'': _t('DeviceEvents', INITIATING_COLUMNS,
                                    'ActionType == "UserAccountAddedToLocalGroup" and AdditionalFields has '
                                    '"Administrators"')},
    'tampering': {'': _t('DeviceEvents', INITIATING_COLUMNS,
                         'ActionType in ("TamperingAttempt", "AntivirusDefinitionsUpdateFailed", '
                         '"ControlledFolderAccessViolationBlocked") or InitiatingProcessCommandLine has_any '
                         '("Set-MpPreference", "DisableRealtimeMonitoring")')},
    'cover-up': {
        'file_deleted': _t('DeviceFileEvents', FILE_COLUMNS, 'ActionType == "FileDeleted"'),
        'event_log_cleared': _t('DeviceProcessEvents', FILE_COLUMNS,
                                'ProcessCommandLine has "wevtutil" and ProcessCommandLine has " cl "'),
        'compromised_information': _t('DeviceLogonEvents', INITIATING_COLUMNS, 'AccountName =~ {username}'),
        'connected_devices': _t('DeviceLogonEvents', INITIATING_COLUMNS, 'AccountName =~ {username}',
                                '| summarize Logons = count() by DeviceName, AccountName'),
        'action_types': _t('DeviceEvents', INITIATING_COLUMNS, '', '| summarize Count = count() by ActionType'),
        'common_files': _t('DeviceFileEvents', FILE_COLUMNS, '', '| summarize Count = count() by FileName'),
    },
}
HUNT_OUTPUT = {'lateral-movement-evidence': 'HuntLateralMovementEvidence',
               'persistence-evidence': 'HuntPersistenceEvidence', 'file-origin': 'HuntFileOrigin',
               'process-details': 'HuntProcessDetails', 'network-connections': 'HuntNetworkConnections',
               'privilege-escalation': 'HuntPrivilegeEscalation', 'tampering': 'HuntTampering',
               'cover-up': 'HuntCoverUp'}
FILTER_ARGS = ('device_name', 'file_name', 'sha1', 'sha256', 'md5', 'device_id')


def hunting_filter(args: Dict[str, Any], columns: Dict[str, str]) -> str:
    """`(DeviceName in~ ("a") or SHA1 in~ ("b"))`: every value a string literal, joined by query_operation."""
    operation = choice_arg(args, 'query_operation', ('or', 'and'), default='or')
    parts = []
    for name in FILTER_ARGS:
        values = [str(v).strip() for v in argToList(args.get(name)) if str(v).strip()]
        if values:
            parts.append(f'{columns[name]} in~ {kql_list(values)}')
    if not parts:
        raise ValueError(f'Provide at least one of: {", ".join(FILTER_ARGS)}.')
    return '(' + f' {operation} '.join(parts) + ')'


def build_hunting_query(kind: str, args: Dict[str, Any]) -> Tuple[str, str]:
    """(purpose, KQL) for a templated hunting command; validates the purpose and every value first."""
    templates = HUNT_TEMPLATES[kind]
    purpose = '' if '' in templates else str(choice_arg(args, 'query_purpose', tuple(templates), required=True))
    template = templates[purpose]
    limit = number_arg(args, 'limit', 50, 1, 10_000)
    page = number_arg(args, 'page', 1, 1, 1000)
    threshold = number_arg(args, 'remote_ip_count', 0, 1, 100_000)
    # without remote_ip_count the official reports every process, whatever its count of remote IPs
    values: Dict[str, Any] = {'remote_ip_count': f'\n| where RemoteIPCount >= {threshold}' if threshold else ''}
    if '{process_cmd}' in template['where']:
        values['process_cmd'] = kql_string(required_arg(args, 'process_cmd'))
    if '{username}' in template['where']:
        values['username'] = kql_string(required_arg(args, 'username'))
    lines = [template['table']]
    if args.get('time_range'):
        lines.append(f'| where Timestamp > ago({duration_minutes(str(args["time_range"]), "time_range")}m)')
    lines.append(f'| where {hunting_filter(args, template["columns"])}')
    if template['where']:
        lines.append(f'| where {template["where"].format(**values)}')
    if template['tail']:
        lines.append(template['tail'].format(**values))
    lines.append(f'| limit {limit * page}')
    return purpose, '\n'.join(lines)


def templated_hunting_command(kind: str) -> Callable[[Client, Dict[str, Any]], CommandResults]:
    def command(client: Client, args: Dict[str, Any]) -> CommandResults:
        purpose, query = build_hunting_query(kind, args)
        limit = number_arg(args, 'limit', 50, 1, 10_000)
        page = number_arg(args, 'page', 1, 1, 1000)
        timeout = number_arg(args, 'timeout', 10, 1, 600)
        rows = hunt(client, query, timeout)[(page - 1) * limit:page * limit]
        prefix = f'MicrosoftATP.{HUNT_OUTPUT[kind]}.Result'
        title = f'{kind.replace("-", " ").title()}' + (f' ({purpose})' if purpose else '')
        readable = tableToMarkdown(title, rows, removeNull=True)
        if bool_arg(args, 'show_query'):
            readable = f'### Query\n```\n{query}\n```\n{readable}'
        return CommandResults(outputs_prefix=prefix, outputs={purpose: rows} if purpose else rows, raw_response=rows,
                              readable_output=readable)
    command.__name__ = f'hunt_{kind.replace("-", "_")}_command'
    return command


# ============================================================================================================
# Fetch incidents
# ============================================================================================================

class FetchConfig:
    """Validated fetch parameters; the filter is built once from them."""

    def __init__(self, params: Dict[str, Any]) -> None:
        self.max_fetch = number_arg(params, 'max_fetch', 50, 1, 10_000)
        self.statuses = choice_list_arg({'fetch_status': params.get('fetch_status')}, 'fetch_status', FETCH_STATUSES)
        self.severities = choice_list_arg({'fetch_severity': params.get('fetch_severity')}, 'fetch_severity',
                                          FETCH_SEVERITIES)
        sources = choice_list_arg({'fetch_detectionsource': params.get('fetch_detectionsource')},
                                  'fetch_detectionsource', tuple(DETECTION_SOURCES))
        self.sources = [DETECTION_SOURCES[s] for s in sources]
        self.evidence = argToBoolean(params.get('fetch_evidence') or False)
        first = params.get('first_fetch_timestamp') or '3 days'
        moment = date_arg(first, 'first_fetch_timestamp')
        if moment is None:
            raise ValueError(f'Invalid "first_fetch_timestamp": "{first}". Use for example "3 days".')
        self.first_fetch = datetime_to_ts(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
        self.incident_type = params.get('incidentType')

    def alert_filter(self, checkpoint: str) -> str:
        return ODataFilter.and_(
            f'alertCreationTime ge {normalize_ts(checkpoint)}',
            ODataFilter.or_(*[ODataFilter.eq('status', s) for s in self.statuses]),
            ODataFilter.or_(*[ODataFilter.eq('severity', s) for s in self.severities]),
            ODataFilter.or_(*[ODataFilter.eq('detectionSource', s) for s in self.sources]))


def fetch_state(last_run: Dict[str, Any], config: FetchConfig) -> Tuple[str, List[str], bool]:
    """(checkpoint, IDs already fetched at it, skip-everything-at-checkpoint) from lastRun.

    Runs saved by the official integration carry only the time of the last alert; alerts at exactly that time
    were fetched then, so they are skipped once.
    """
    stamp = last_run.get('last_alert_fetched_time')
    if not stamp:
        return config.first_fetch, [], False
    seen = last_run.get('seen_ids')
    return normalize_ts(stamp), [str(i) for i in seen or []], seen is None


def to_incident(alert: Dict[str, Any], config: FetchConfig) -> Dict[str, Any]:
    incident = {'name': f'Microsoft Defender ATP Alert {alert.get("id")}', 'occurred': alert.get('alertCreationTime'),
                'rawJSON': json.dumps(alert), 'dbotMirrorId': str(alert.get('id')),
                'severity': XSOAR_SEVERITY.get(str(alert.get('severity')), IncidentSeverity.UNKNOWN)}
    if config.incident_type:
        incident['type'] = config.incident_type
    return incident


def fetch_incidents(client: Client, config: FetchConfig, last_run: Dict[str, Any]
                    ) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    """Alerts created at or after the checkpoint, oldest first, without those already fetched at the checkpoint.

    Asking for max_fetch + |seen| guarantees progress however the service orders alerts with equal times.
    """
    checkpoint, seen, skip_checkpoint = fetch_state(last_run, config)
    top = min(config.max_fetch + len(seen), MAX_PAGE_SIZE)
    alerts = client.list_alerts(config.alert_filter(checkpoint), top, config.evidence)
    seen_set = set(seen)
    fresh = []
    for alert in alerts:
        created = normalize_ts(alert.get('alertCreationTime'))
        if created < checkpoint or (created == checkpoint and str(alert.get('id')) in seen_set):
            continue
        if skip_checkpoint and created[:26] <= checkpoint[:26]:   # the official run kept microseconds only
            continue
        fresh.append((created, str(alert.get('id')), alert))
    fresh.sort(key=lambda item: (item[0], item[1]))
    taken = fresh[:config.max_fetch]
    for created, alert_id, _ in taken:
        if created == checkpoint:
            seen.append(alert_id)
        else:
            checkpoint, seen = created, [alert_id]
    if skip_checkpoint and not taken:
        seen = None  # type: ignore[assignment]   # still skipping the official run's last alert time
    next_run = {'last_alert_fetched_time': checkpoint, 'seen_ids': seen}
    if seen is None:
        next_run.pop('seen_ids')
    return [to_incident(alert, config) for _, _, alert in taken], next_run


def fetch_incidents_command(client: Client, params: Dict[str, Any]) -> None:
    config = FetchConfig(params)
    incidents, next_run = fetch_incidents(client, config, demisto.getLastRun() or {})
    demisto.incidents(incidents)            # hand over first; the checkpoint moves only afterwards
    demisto.setLastRun(next_run)


# ============================================================================================================
# Parameters, client and dispatch
# ============================================================================================================

def resolve_cloud(params: Dict[str, Any]) -> Any:
    """The cloud for the endpoint type; the Server URL wins for the API, Custom needs it."""
    endpoint_type = params.get('endpoint_type') or 'Worldwide'
    if argToBoolean(params.get('is_gcc') or False):
        endpoint_type = 'US GCC'
    if endpoint_type not in ENDPOINT_TYPES:
        raise ValueError(f'Invalid "endpoint_type": "{endpoint_type}". Allowed values: {", ".join(ENDPOINT_TYPES)}.')
    url = url_param(params, 'url', 'Server URL', 'https://api.securitycenter.microsoft.com')
    if endpoint_type == 'Custom' and not url:
        raise ValueError('Endpoint type "Custom" needs the Server URL parameter.')
    login_url = url_param(params, 'login_url', 'Login URL (Custom endpoint type)',
                          'https://login.microsoftonline.com') or None
    return get_cloud(endpoint_type, mde_url=url or None, login_url=login_url)


def build_settings(params: Dict[str, Any]) -> 'AuthSettings':
    """The official parameter names mapped onto AuthSettings, with the official checks and clear messages."""
    managed_identity = get_azure_managed_identities_client_id(params)
    auth_type = params.get('auth_type') or 'Client Credentials'
    if auth_type not in AUTH_TYPES:
        raise ValueError(f'Invalid "auth_type": "{auth_type}". Allowed values: {", ".join(AUTH_TYPES)}.')
    client_id = get_credential_param(params, '_auth_id', 'auth_id')
    tenant_id = get_credential_param(params, '_tenant_id', 'tenant_id')
    secret = get_credential_param(params, 'credentials', 'enc_key')
    thumbprint = get_credential_param(params, 'creds_certificate', part='identifier') or \
        get_credential_param(params, 'certificate_thumbprint')
    private_key = get_credential_param(params, 'creds_certificate', 'private_key')
    self_deployed = argToBoolean(params.get('self_deployed') or False) or managed_identity is not None
    auth_code = get_credential_param(params, 'auth_code')
    if managed_identity is None:
        if not client_id or not tenant_id:
            raise DemistoException('The ID and Token (tenant ID) parameters are required.')
        if not self_deployed and not secret:
            raise DemistoException('The Key parameter is required for the Cortex XSOAR application.')
        if self_deployed and not secret and not (thumbprint and private_key):
            raise DemistoException('A self-deployed application needs the Key (client secret), or the certificate '
                                   'thumbprint and private key.')
        if auth_type == 'Authorization Code' and (not self_deployed or not params.get('redirect_uri')):
            raise DemistoException('The authorization code flow needs "Use a self-deployed Azure Application" and '
                                   'the Application redirect URI.')
    grant = 'authorization_code' if auth_type == 'Authorization Code' else 'client_credentials'
    return AuthSettings(
        client_id=client_id, tenant_id=tenant_id, client_secret=secret, certificate_thumbprint=thumbprint,
        private_key=private_key if self_deployed else '', grant_type=grant, self_deployed=self_deployed,
        enc_key=secret, app_name=APP_NAME, auth_code=auth_code,
        redirect_uri=params.get('redirect_uri') or 'https://localhost/myapp',
        use_managed_identity=managed_identity is not None, managed_identity_client_id=managed_identity or '',
        cloud=resolve_cloud(params), command_prefix=PREFIX, verify=not argToBoolean(params.get('insecure') or False))


def build_client(params: Dict[str, Any]) -> Client:
    settings = build_settings(params)
    cloud = settings.cloud
    http = MicrosoftClient.from_settings(settings, base_url=f'{cloud.api_url("mde")}/api', scope=cloud.scope('mde'),
                                         proxy=argToBoolean(params.get('proxy') or False))
    return Client(http, hunting_api_param(params))


def hunting_api_param(params: Dict[str, Any]) -> str:
    """The "Advanced hunting API" parameter (Automatic when empty); an unknown value names the parameter."""
    value = params.get('hunting_api')
    for option in HUNTING_APIS:
        if value in (None, '') or str(value).strip().lower() == option.lower():
            return HUNT_AUTO if value in (None, '') else option
    raise DemistoException(f'Invalid "Advanced hunting API" parameter: "{value}". Allowed values: '
                           f'{", ".join(HUNTING_APIS)}.')


def check_api(client: Client, params: Dict[str, Any]) -> str:
    """One real API call (GET /alerts?$top=1, as the official test), with the fetch filter when fetching is on."""
    if argToBoolean(params.get('isFetch') or False):
        config = FetchConfig(params)
        client.list_alerts(config.alert_filter(config.first_fetch), 1, False)
    else:
        client.http.http_request('GET', '/alerts', params={'$top': 1})
    return 'ok'


def test_module(client: Client, params: Dict[str, Any]) -> str:
    auth_test_module(client.http, test_command=f'{PREFIX}-test')
    return check_api(client, params)


def microsoft_atp_test_command(client: Client, params: Dict[str, Any]) -> CommandResults:
    """The test for flows where the Test button cannot sign in (authorization code)."""
    check_api(client, params)
    return CommandResults(readable_output='✅ Success!')


POLLING_COMMANDS = {f'{PREFIX}-isolate-machine', f'{PREFIX}-unisolate-machine', f'{PREFIX}-run-antivirus-scan',
                    f'{PREFIX}-restrict-app-execution', f'{PREFIX}-remove-app-restriction',
                    f'{PREFIX}-stop-and-quarantine-file', f'{PREFIX}-collect-investigation-package',
                    f'{PREFIX}-request-and-download-investigation-package', f'{PREFIX}-offboard-machine',
                    f'{PREFIX}-live-response-get-file', f'{PREFIX}-live-response-run-script',
                    f'{PREFIX}-live-response-put-file'}

COMMANDS: Dict[str, Callable[[Client, Dict[str, Any]], Any]] = {
    f'{PREFIX}-get-machines': get_machines_command,
    f'{PREFIX}-get-machine-details': get_machine_details_command,
    f'{PREFIX}-get-machine-by-ip': get_machine_by_ip_command,
    f'{PREFIX}-get-file-related-machines': get_file_related_machines_command,
    f'{PREFIX}-get-domain-machines': get_domain_machines_command,
    f'{PREFIX}-get-user-machines': get_user_machines_command,
    f'{PREFIX}-get-machine-users': get_machine_users_command,
    f'{PREFIX}-add-remove-machine-tag': add_remove_machine_tag_command,
    f'{PREFIX}-offboard-machine': offboard_machine_command,
    'endpoint': endpoint_command,
    f'{PREFIX}-isolate-machine': isolate_machine_command,
    f'{PREFIX}-unisolate-machine': unisolate_machine_command,
    f'{PREFIX}-run-antivirus-scan': run_antivirus_scan_command,
    f'{PREFIX}-restrict-app-execution': restrict_app_execution_command,
    f'{PREFIX}-remove-app-restriction': remove_app_restriction_command,
    f'{PREFIX}-stop-and-quarantine-file': stop_and_quarantine_file_command,
    f'{PREFIX}-collect-investigation-package': collect_investigation_package_command,
    f'{PREFIX}-get-investigation-package-sas-uri': get_investigation_package_sas_uri_command,
    f'{PREFIX}-request-and-download-investigation-package': request_and_download_investigation_package_command,
    f'{PREFIX}-live-response-get-file': live_response_get_file_command,
    f'{PREFIX}-live-response-run-script': live_response_run_script_command,
    f'{PREFIX}-live-response-put-file': live_response_put_file_command,
    f'{PREFIX}-live-response-result': live_response_result_command,
    f'{PREFIX}-live-response-cancel-action': live_response_cancel_action_command,
    f'{PREFIX}-list-machine-actions-details': list_machine_actions_details_command,
    f'{PREFIX}-list-investigations': list_investigations_command,
    f'{PREFIX}-start-investigation': start_investigation_command,
    f'{PREFIX}-get-file-statistics': get_file_statistics_command,
    f'{PREFIX}-get-file-info': get_file_info_command,
    f'{PREFIX}-get-domain-statistics': get_domain_statistics_command,
    f'{PREFIX}-get-ip-statistics': get_ip_statistics_command,
    f'{PREFIX}-list-software': list_software_command,
    f'{PREFIX}-list-machines-by-software': list_machines_by_software_command,
    f'{PREFIX}-list-software-version-distribution': list_software_version_distribution_command,
    f'{PREFIX}-list-missing-kb-by-software': list_missing_kb_by_software_command,
    f'{PREFIX}-list-vulnerabilities-by-software': list_vulnerabilities_by_software_command,
    f'{PREFIX}-list-vulnerabilities-by-machine': list_vulnerabilities_by_machine_command,
    f'{PREFIX}-list-vulnerabilities': list_vulnerabilities_command,
    f'{PREFIX}-list-machines-by-vulnerability': list_machines_by_vulnerability_command,
    f'{PREFIX}-get-machine-software': get_machine_software_command,
    f'{PREFIX}-get-machine-missing-kbs': get_machine_missing_kbs_command,
    f'{PREFIX}-get-machine-vulnerabilities': get_machine_vulnerabilities_command,
    f'{PREFIX}-sc-indicator-list': sc_indicator_list_command,
    f'{PREFIX}-sc-indicator-get-by-id': sc_indicator_get_by_id_command,
    f'{PREFIX}-sc-indicator-create': sc_indicator_create_command,
    f'{PREFIX}-sc-indicator-update': sc_indicator_update_command,
    f'{PREFIX}-sc-indicator-delete': sc_indicator_delete_command,
    f'{PREFIX}-indicator-batch-update': indicator_batch_update_command,
    f'{PREFIX}-list-alerts': list_alerts_command,
    f'{PREFIX}-update-alert': update_alert_command,
    f'{PREFIX}-create-alert': create_alert_command,
    f'{PREFIX}-get-alert-by-id': get_alert_by_id_command,
    f'{PREFIX}-get-alert-related-user': get_alert_related_user_command,
    f'{PREFIX}-get-alert-related-files': get_alert_related_files_command,
    f'{PREFIX}-get-alert-related-ips': get_alert_related_ips_command,
    f'{PREFIX}-get-alert-related-domains': get_alert_related_domains_command,
    f'{PREFIX}-get-domain-alerts': get_domain_alerts_command,
    f'{PREFIX}-get-file-alerts': get_file_alerts_command,
    f'{PREFIX}-get-ip-alerts': get_ip_alerts_command,
    f'{PREFIX}-get-user-alerts': get_user_alerts_command,
    f'{PREFIX}-get-machine-alerts': get_machine_alerts_command,
    f'{PREFIX}-indicator-list': indicator_list_command,
    f'{PREFIX}-indicator-get-by-id': indicator_get_by_id_command,
    f'{PREFIX}-indicator-create-file': indicator_create_file_command,
    f'{PREFIX}-indicator-create-network': indicator_create_network_command,
    f'{PREFIX}-indicator-update': indicator_update_command,
    f'{PREFIX}-indicator-delete': indicator_delete_command,
    f'{PREFIX}-advanced-hunting': advanced_hunting_command,
    **{f'{PREFIX}-advanced-hunting-{kind}': templated_hunting_command(kind) for kind in HUNT_TEMPLATES},
}


# Commands whose Microsoft API is retired or retiring with no way to run them elsewhere: what ended, and the command
# to use instead. They are marked deprecated in the YAML; when Microsoft answers that the API is gone, the command
# ends with this message instead of Microsoft's bare error.
_TI_GONE = ('Microsoft Graph threat indicators (tiIndicators) were removed by Microsoft (announced for April 2026)'
            '; Defender for Endpoint indicators are managed with the Defender for Endpoint indicators API')
RETIRED_APIS: Dict[str, Tuple[str, str]] = {
    f'{PREFIX}-indicator-list': (_TI_GONE, f'{PREFIX}-sc-indicator-list'),
    f'{PREFIX}-indicator-get-by-id': (_TI_GONE, f'{PREFIX}-sc-indicator-get-by-id'),
    f'{PREFIX}-indicator-create-file': (_TI_GONE, f'{PREFIX}-sc-indicator-create'),
    f'{PREFIX}-indicator-create-network': (_TI_GONE, f'{PREFIX}-sc-indicator-create'),
    f'{PREFIX}-indicator-update': (_TI_GONE, f'{PREFIX}-sc-indicator-update'),
    f'{PREFIX}-indicator-delete': (_TI_GONE, f'{PREFIX}-sc-indicator-delete'),
    f'{PREFIX}-start-investigation': (
        'Microsoft ended manual triggering of automated investigations on 1 September 2026 (message center '
        'MC1411577); investigations now start automatically from alerts', f'{PREFIX}-list-investigations'),
}
_GONE_MARKERS = ('resource not found for the segment', 'no longer', 'retired', 'deprecated', 'discontinued')


def api_is_gone(error: Exception) -> bool:
    """Microsoft's answer for an API it turned off: 410 Gone, or 400/404/405 whose message says the resource or
    operation no longer exists (Graph answers an unknown segment with "Resource not found for the segment")."""
    status = http_status(error)
    text = str(error).lower()
    return status == 410 or (status in (400, 404, 405) and any(marker in text for marker in _GONE_MARKERS))


def run_command(client: Client, command: str, args: Dict[str, Any]) -> Any:
    """Dispatch; a long Retry-After on a read command becomes a scheduled rerun instead of an error, and a retired
    API's answer becomes an error that names the command to use instead."""
    try:
        return COMMANDS[command](client, args)
    except RetryAfterError as error:
        if command in POLLING_COMMANDS:
            raise
        return retry_after_results(error, command, args)
    except DemistoException as error:
        if command not in RETIRED_APIS or not api_is_gone(error):
            raise
        what, replacement = RETIRED_APIS[command]
        raise DemistoException(f'{command} is deprecated and Microsoft no longer serves its API: {what}. Use '
                               f'!{replacement} instead (HTTP {http_status(error)}).') from None


def main() -> None:
    params, args, command = demisto.params(), demisto.args(), demisto.command()
    demisto.debug(f'Command being called is {command}')
    try:
        with response_shape_guard():
            client = build_client(params)
            auth_commands = auth_command_table(client.http, PREFIX, test_command=f'{PREFIX}-test')
            if command == 'test-module':
                return_results(test_module(client, params))
            elif command == 'fetch-incidents':
                fetch_incidents_command(client, params)
            elif command == f'{PREFIX}-test':
                return_results(microsoft_atp_test_command(client, params))
            elif command in (f'{PREFIX}-generate-login-url', f'{PREFIX}-auth-reset'):
                return_results(auth_commands[command](args))
            elif command in COMMANDS:
                return_results(run_command(client, command, args))
            else:
                raise NotImplementedError(f'Command "{command}" is not implemented.')
    except RetryAfterError as error:
        return_error(f'Failed to execute {command} command. {error.message}')
    except Exception as error:
        return_error(f'Failed to execute {command} command.\nError:\n{error_text(error)}')


from MicrosoftApiModule import *  # noqa: E402

if __name__ in ('__main__', '__builtin__', 'builtins'):
    main()
