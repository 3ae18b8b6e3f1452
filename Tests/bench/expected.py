"""The API calls each command needs at the least, and why when it is more than one.

Keyed by command; a key ``"<command> [<variant>]"`` overrides the plain one for one variant (an API back end, for
instance). A command missing here is still measured; its row says that no expectation is recorded, so a new
integration (Defender for Endpoint) shows up in the table at once and the table below is completed afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Expected:
    calls: tuple[str, ...]          # "METHOD host path" of each API call, in order (path only as a reminder)
    reason: str = ''                # why more than one call (or none) is the minimum
    cold_tokens: int = 1            # token requests on a cold start (0: the command needs no token at all)

    @property
    def count(self) -> int:
        return len(self.calls)


EXPECTED_CALLS: dict[str, dict[str, Expected]] = {
    'Microsoft365Defender': {
        'microsoft-365-defender-auth-test': Expected(
            (), 'Obtaining a token proves the credentials: cold = the token request; warm = the cached token, no call'),
        'microsoft-365-defender-incidents-list': Expected(('GET graph /v1.0/security/incidents',)),
        'microsoft-365-defender-incidents-list [legacy]': Expected(('GET m365d /api/incidents',)),
        'microsoft-365-defender-incident-get': Expected(('GET graph /v1.0/security/incidents/{id}',)),
        'microsoft-365-defender-incident-get [legacy]': Expected(('GET m365d /api/incidents/{id}',)),
        'microsoft-365-defender-incident-update': Expected(
            ('PATCH graph /v1.0/security/incidents/{id}', 'POST graph /v1.0/security/incidents/{id}/comments',
             'GET graph /v1.0/security/incidents/{id}'),
            'Graph: PATCH cannot carry a comment (comment POST) and its answer lacks the comments, so the incident '
            'is read back once (GET) for the context'),
        'microsoft-365-defender-incident-update [legacy]': Expected(
            ('PATCH m365d /api/incidents/{id}',), 'The legacy PATCH takes the comment and answers the whole incident'),
        'microsoft-365-defender-advanced-hunting': Expected(('POST graph /v1.0/security/runHuntingQuery',)),
        # The Defender XDR back end hunts on Graph too ("Advanced hunting API" Automatic; the bench app holds
        # ThreatHunting.Read.All): Microsoft retires /api/advancedhunting/run. A remembered Graph refusal would make
        # it 'POST m365d /api/advancedhunting/run', still one call.
        'microsoft-365-defender-advanced-hunting [legacy]': Expected(('POST graph /v1.0/security/runHuntingQuery',)),
    },
    'MicrosoftDefenderThreatIntelligence': {
        'msg-defender-threat-intel-auth-test': Expected(
            (), 'Obtaining a token proves the credentials: cold = the token request; warm = the cached token, no call'),
        'msg-defender-threat-intel-article-list': Expected(('GET graph .../articles',)),
        'msg-defender-threat-intel-article-indicators-list': Expected(('GET graph .../articles/{id}/indicators',)),
        'msg-defender-threat-intel-profile-list': Expected(('GET graph .../intelProfiles',)),
        'msg-defender-threat-intel-profile-indicators-list': Expected(('GET graph .../intelProfiles/{id}/indicators',)),
        'msg-defender-threat-intel-host': Expected(('GET graph .../hosts/{id}',)),
        'msg-defender-threat-intel-host-whois': Expected(('GET graph .../hosts/{id}/whois',)),
        'msg-defender-threat-intel-host-whois-history': Expected(('GET graph .../hosts/{id}/whois/history',)),
        'msg-defender-threat-intel-host-reputation': Expected(('GET graph .../hosts/{id}/reputation',)),
        'msg-defender-threat-intel-host-passive-dns': Expected(('GET graph .../hosts/{id}/passiveDns',)),
        'msg-defender-threat-intel-host-passive-dns-reverse': Expected(('GET graph .../hosts/{id}/passiveDnsReverse',)),
        'msg-defender-threat-intel-host-subdomains': Expected(('GET graph .../hosts/{id}/subdomains',)),
        'msg-defender-threat-intel-host-ssl-certificates': Expected(('GET graph .../hosts/{id}/sslCertificates',)),
        'msg-defender-threat-intel-host-trackers': Expected(('GET graph .../hosts/{id}/trackers',)),
        'msg-defender-threat-intel-host-components': Expected(('GET graph .../hosts/{id}/components',)),
        'msg-defender-threat-intel-host-cookies': Expected(('GET graph .../hosts/{id}/cookies',)),
        'msg-defender-threat-intel-host-pairs': Expected(('GET graph .../hosts/{id}/hostPairs',)),
        'msg-defender-threat-intel-vulnerability-get': Expected(('GET graph .../vulnerabilities/{id}',)),
        'ip': Expected(
            ('GET graph .../hosts/{ip}/reputation', 'GET graph .../hosts/{ip}'),
            'The score comes from /reputation; the indicator details (ASN, location) only from the host resource'),
        'domain': Expected(
            ('GET graph .../hosts/{d}/reputation', 'GET graph .../hosts/{d}/whois', 'GET graph .../hosts/{d}/passiveDns'),
            'Score from /reputation, registrant and dates from /whois, resolutions from /passiveDns: three resources'),
    },
}


def _mde(*calls: str, reason: str = '', cold_tokens: int = 1) -> Expected:
    """Defender for Endpoint calls, written "METHOD /api/path"."""
    return Expected(tuple(f'{c.split(" ", 1)[0]} mde {c.split(" ", 1)[1]}' for c in calls), reason, cold_tokens)


def _graph(*calls: str) -> Expected:
    """Microsoft Graph calls of the Defender for Endpoint integration, written "METHOD /path"."""
    return Expected(tuple(f'{c.split(" ", 1)[0]} graph {c.split(" ", 1)[1]}' for c in calls))


# Advanced hunting runs on Microsoft Graph (the instance default "Automatic"; the bench app holds
# ThreatHunting.Read.All): a Graph token, not the Defender for Endpoint one. Microsoft retires /api/advancedqueries/run.
_HUNT = _graph('POST /v1.0/security/runHuntingQuery')
_STATE_ONLY = 'Needs no token: it only reads or clears the instance\'s own state; 0 calls cold and warm'

# One line per command. Response actions are measured with polling=false (the start call); polling adds one GET of
# the action per poll, which the bulk benchmark measures.
EXPECTED_CALLS['MicrosoftDefenderAdvancedThreatProtection'] = {
    'microsoft-atp-test': _mde('GET /api/alerts'),
    'microsoft-atp-generate-login-url': _mde(reason='Builds the consent URL from the instance settings (auth-code '
                                                    'instance); ' + _STATE_ONLY, cold_tokens=0),
    'microsoft-atp-auth-reset': _mde(reason=_STATE_ONLY, cold_tokens=0),
    'microsoft-atp-get-machines': _mde('GET /api/machines'),
    'microsoft-atp-get-machine-details': _mde('GET /api/machines/{id}'),
    'microsoft-atp-get-machine-by-ip': _mde("GET /api/machines/findbyip(ip='{ip}',timestamp={t})"),
    'microsoft-atp-get-file-related-machines': _mde('GET /api/files/{sha1}/machines'),
    'microsoft-atp-get-domain-machines': _mde('GET /api/domains/{domain}/machines'),
    'microsoft-atp-get-user-machines': _mde('GET /api/users/{user}/machines'),
    'microsoft-atp-get-machine-users': _mde('GET /api/machines/{id}/logonusers'),
    'microsoft-atp-add-remove-machine-tag': _mde('POST /api/machines/{id}/tags'),
    'endpoint': _mde('GET /api/machines'),
    'microsoft-atp-isolate-machine': _mde('POST /api/machines/{id}/isolate'),
    'microsoft-atp-unisolate-machine': _mde('POST /api/machines/{id}/unisolate'),
    'microsoft-atp-run-antivirus-scan': _mde('POST /api/machines/{id}/runAntiVirusScan'),
    'microsoft-atp-restrict-app-execution': _mde('POST /api/machines/{id}/restrictCodeExecution'),
    'microsoft-atp-remove-app-restriction': _mde('POST /api/machines/{id}/unrestrictCodeExecution'),
    'microsoft-atp-stop-and-quarantine-file': _mde('POST /api/machines/{id}/stopAndQuarantineFile'),
    'microsoft-atp-offboard-machine': _mde('POST /api/machines/{id}/offboard'),
    'microsoft-atp-collect-investigation-package': _mde('POST /api/machines/{id}/collectInvestigationPackage'),
    'microsoft-atp-get-investigation-package-sas-uri': _mde('GET /api/machineactions/{id}/getPackageUri'),
    'microsoft-atp-request-and-download-investigation-package': _mde(
        'POST /api/machines/{id}/collectInvestigationPackage', 'GET /api/machineactions/{id}',
        'GET /api/machineactions/{id}/getPackageUri',
        reason='Start the collection, read the action until it succeeds (once here: it finishes at once), ask for '
               'the package link; the download itself goes to the storage URL that link names (not an API call)'),
    'microsoft-atp-list-machine-actions-details': _mde('GET /api/machineactions'),
    'microsoft-atp-list-investigations': _mde('GET /api/investigations'),
    'microsoft-atp-start-investigation': _mde('POST /api/machines/{id}/startInvestigation'),
    'microsoft-atp-get-file-statistics': _mde('GET /api/files/{sha1}/stats'),
    'microsoft-atp-get-file-info': _mde('GET /api/files/{sha1}'),
    'microsoft-atp-get-domain-statistics': _mde('GET /api/domains/{domain}/stats'),
    'microsoft-atp-get-ip-statistics': _mde('GET /api/ips/{ip}/stats'),
    'microsoft-atp-sc-indicator-list': _mde('GET /api/indicators'),
    'microsoft-atp-sc-indicator-get-by-id': _mde('GET /api/indicators/{id}'),
    'microsoft-atp-sc-indicator-create': _mde('POST /api/indicators'),
    'microsoft-atp-sc-indicator-update': _mde('POST /api/indicators'),
    'microsoft-atp-sc-indicator-delete': _mde('DELETE /api/indicators/{id}'),
    'microsoft-atp-indicator-batch-update': _mde('POST /api/indicators/import'),
    'microsoft-atp-advanced-hunting': _HUNT,
    'microsoft-atp-advanced-hunting-file-origin': _HUNT,
    'microsoft-atp-advanced-hunting-process-details': _HUNT,
    'microsoft-atp-advanced-hunting-network-connections': _HUNT,
    'microsoft-atp-advanced-hunting-lateral-movement-evidence': _HUNT,
    'microsoft-atp-advanced-hunting-persistence-evidence': _HUNT,
    'microsoft-atp-advanced-hunting-privilege-escalation': _HUNT,
    'microsoft-atp-advanced-hunting-tampering': _HUNT,
    'microsoft-atp-advanced-hunting-cover-up': _HUNT,
    # vulnerability management
    'microsoft-atp-list-software': _mde('GET /api/Software'),
    'microsoft-atp-list-machines-by-software': _mde('GET /api/Software/{id}/machineReferences'),
    'microsoft-atp-list-software-version-distribution': _mde('GET /api/Software/{id}/distributions'),
    'microsoft-atp-list-missing-kb-by-software': _mde('GET /api/Software/{id}/getmissingkbs'),
    'microsoft-atp-list-vulnerabilities-by-software': _mde('GET /api/Software/{id}/vulnerabilities'),
    'microsoft-atp-list-vulnerabilities-by-machine': _mde('GET /api/vulnerabilities/machinesVulnerabilities'),
    'microsoft-atp-list-vulnerabilities': _mde('GET /api/vulnerabilities'),
    'microsoft-atp-list-machines-by-vulnerability': _mde(
        'GET /api/vulnerabilities/{cve1}/machineReferences', 'GET /api/vulnerabilities/{cve2}/machineReferences',
        reason='The example names two CVEs and Microsoft has one machineReferences route per CVE (no $filter on it)'),
    'microsoft-atp-get-machine-software': _mde('GET /api/machines/{id}/software'),
    'microsoft-atp-get-machine-missing-kbs': _mde('GET /api/machines/{id}/getmissingkbs'),
    'microsoft-atp-get-machine-vulnerabilities': _mde('GET /api/machines/{id}/vulnerabilities'),
    # live response
    'microsoft-atp-live-response-get-file': Expected(
        _mde('POST /api/machines/{id}/runliveresponse', 'GET /api/machineactions/{id}',
             'GET /api/machineactions/{id}/GetLiveResponseResultDownloadLink(index=0)').calls
        + ('GET blob /_emulator/blob/live-response/...',),
        'Start the action, read it until it completes (once here: it finishes at once), ask for the result link, '
        'download the file from the storage URL the link names (without the bearer token)'),
    'microsoft-atp-live-response-run-script': Expected(
        _mde('POST /api/machines/{id}/runliveresponse', 'GET /api/machineactions/{id}',
             'GET /api/machineactions/{id}/GetLiveResponseResultDownloadLink(index=0)').calls
        + ('GET blob /_emulator/blob/live-response/...',),
        'As get-file: start, one poll, the result link, the script output JSON from storage'),
    'microsoft-atp-live-response-put-file': _mde('POST /api/machines/{id}/runliveresponse'),
    'microsoft-atp-live-response-result': Expected(
        _mde('GET /api/machineactions/{id}/GetLiveResponseResultDownloadLink(index=0)').calls
        + ('GET blob /_emulator/blob/live-response/...',),
        'The result link, then the download from the storage URL it names'),
    'microsoft-atp-live-response-cancel-action': _mde('POST /api/machineactions/{id}/cancel'),
    # alerts (deprecated)
    'microsoft-atp-list-alerts': _mde('GET /api/alerts'),
    'microsoft-atp-get-alert-by-id': _mde('GET /api/alerts/{id}'),
    'microsoft-atp-update-alert': _mde('PATCH /api/alerts/{id}'),
    'microsoft-atp-create-alert': _mde('POST /api/alerts/CreateAlertByReference'),
    'microsoft-atp-get-alert-related-user': _mde('GET /api/alerts/{id}/user'),
    'microsoft-atp-get-alert-related-files': _mde('GET /api/alerts/{id}/files'),
    'microsoft-atp-get-alert-related-ips': _mde('GET /api/alerts/{id}/ips'),
    'microsoft-atp-get-alert-related-domains': _mde('GET /api/alerts/{id}/domains'),
    'microsoft-atp-get-domain-alerts': _mde('GET /api/domains/{domain}/alerts'),
    'microsoft-atp-get-file-alerts': _mde('GET /api/files/{sha1}/alerts'),
    'microsoft-atp-get-ip-alerts': _mde('GET /api/ips/{ip}/alerts'),
    'microsoft-atp-get-user-alerts': _mde('GET /api/users/{user}/alerts'),
    'microsoft-atp-get-machine-alerts': _mde('GET /api/machines/{id}/alerts'),
    # legacy Microsoft Graph tiIndicators (deprecated): a Graph token, not the MDE one
    'microsoft-atp-indicator-list': _graph('GET /beta/security/tiIndicators'),
    'microsoft-atp-indicator-get-by-id': _graph('GET /beta/security/tiIndicators/{id}'),
    'microsoft-atp-indicator-create-file': _graph('POST /beta/security/tiIndicators'),
    'microsoft-atp-indicator-create-network': _graph('POST /beta/security/tiIndicators'),
    'microsoft-atp-indicator-update': _graph('PATCH /beta/security/tiIndicators/{id}'),
    'microsoft-atp-indicator-delete': _graph('DELETE /beta/security/tiIndicators/{id}'),
}


def expected_for(integration: str, command: str, variant: str) -> Expected | None:
    table = EXPECTED_CALLS.get(integration, {})
    return table.get(f'{command} [{variant}]') or table.get(command)
