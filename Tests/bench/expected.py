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
        'microsoft-365-defender-advanced-hunting [legacy]': Expected(('POST m365d /api/advancedhunting/run',)),
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


def expected_for(integration: str, command: str, variant: str) -> Expected | None:
    table = EXPECTED_CALLS.get(integration, {})
    return table.get(f'{command} [{variant}]') or table.get(command)
