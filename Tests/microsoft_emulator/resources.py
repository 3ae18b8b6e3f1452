"""The Microsoft resource principals (APIs) the emulator knows, and the permissions each one defines.

A resource is what a token is *for*: its ``aud`` claim. Clients name a resource by one of several identifiers (an
App ID URI such as ``https://graph.microsoft.com``, a national-cloud variant, or the resource application's GUID),
and ask for permissions either as ``<identifier>/.default`` or ``<identifier>/<Permission>``; a bare permission
name means Microsoft Graph, as in Entra ID.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Scopes that are about the sign-in itself (OpenID Connect), never about a resource.
OIDC_SCOPES = frozenset({'openid', 'profile', 'email', 'offline_access'})


@dataclass(frozen=True)
class Resource:
    key: str                      # short name used in seeds and by API modules: graph, m365d, mde
    display_name: str
    app_id: str                   # the resource application's appId
    identifiers: tuple[str, ...]  # every App ID URI / host a client may name; the first is canonical
    app_roles: frozenset[str] = field(default_factory=frozenset)   # application permissions (token claim "roles")
    delegated: frozenset[str] = field(default_factory=frozenset)   # delegated permissions (token claim "scp")

    @property
    def canonical(self) -> str:
        return self.identifiers[0]

    def defines(self, permission: str) -> bool:
        return permission in self.app_roles or permission in self.delegated

    def accepts_audience(self, aud: str) -> bool:
        return normalize_identifier(aud) in {normalize_identifier(i) for i in (*self.identifiers, self.app_id)}


def normalize_identifier(value: str) -> str:
    return value.strip().rstrip('/').lower()


_GRAPH_ROLES = frozenset({
    'Application.Read.All', 'Directory.Read.All', 'IdentityRiskyUser.Read.All',
    'SecurityActions.Read.All', 'SecurityActions.ReadWrite.All', 'SecurityAlert.Read.All',
    'SecurityAlert.ReadWrite.All', 'SecurityEvents.Read.All', 'SecurityEvents.ReadWrite.All',
    'SecurityIncident.Read.All', 'SecurityIncident.ReadWrite.All', 'ThreatHunting.Read.All',
    'ThreatIndicators.Read.All', 'ThreatIndicators.ReadWrite.OwnedBy', 'ThreatIntelligence.Read.All',
    'ThreatSubmission.ReadWrite.All', 'User.Read.All',
})
_GRAPH_DELEGATED = frozenset((_GRAPH_ROLES - {'ThreatIndicators.ReadWrite.OwnedBy'}) | {'User.Read'})

_M365D_ROLES = frozenset({'AdvancedHunting.Read.All', 'Incident.Read.All', 'Incident.ReadWrite.All'})
_M365D_DELEGATED = frozenset({'AdvancedHunting.Read', 'Incident.Read', 'Incident.ReadWrite'})

_MDE_ROLES = frozenset({
    'AdvancedQuery.Read.All', 'Alert.Read.All', 'Alert.ReadWrite.All', 'File.Read.All', 'Ip.Read.All',
    'Machine.CollectForensics', 'Machine.Isolate', 'Machine.LiveResponse', 'Machine.Offboard', 'Machine.Read.All',
    'Machine.ReadWrite.All', 'Machine.RestrictExecution', 'Machine.Scan', 'Machine.StopAndQuarantine',
    'RemediationTasks.Read.All', 'Score.Read.All', 'SecurityConfiguration.Read.All',
    'SecurityRecommendation.Read.All', 'Software.Read.All', 'Ti.Read.All', 'Ti.ReadWrite', 'Ti.ReadWrite.All',
    'Url.Read.All', 'User.Read.All', 'Vulnerability.Read.All',
})
_MDE_DELEGATED = frozenset({
    'AdvancedQuery.Read', 'Alert.Read', 'Alert.ReadWrite', 'File.Read', 'Ip.Read', 'Machine.CollectForensics',
    'Machine.Isolate', 'Machine.LiveResponse', 'Machine.Offboard', 'Machine.Read', 'Machine.ReadWrite',
    'Machine.RestrictExecution', 'Machine.Scan', 'Machine.StopAndQuarantine', 'RemediationTasks.Read',
    'Score.Read', 'SecurityConfiguration.Read', 'SecurityRecommendation.Read', 'Software.Read', 'Ti.ReadWrite',
    'Url.Read', 'User.Read', 'Vulnerability.Read',
})

GRAPH = Resource(
    key='graph',
    display_name='Microsoft Graph',
    app_id='00000003-0000-0000-c000-000000000000',
    identifiers=(
        'https://graph.microsoft.com', 'https://graph.microsoft.us', 'https://dod-graph.microsoft.us',
        'https://microsoftgraph.chinacloudapi.cn', 'https://canary.graph.microsoft.com',
    ),
    app_roles=_GRAPH_ROLES,
    delegated=_GRAPH_DELEGATED,
)

DEFENDER_XDR = Resource(
    key='m365d',
    display_name='Microsoft Threat Protection',
    app_id='8ee8fdad-f234-4243-8f3b-15c294843740',
    identifiers=(
        'https://api.security.microsoft.com', 'https://security.microsoft.com/mtp',
        'https://api-gcc.security.microsoft.us', 'https://api-gov.security.microsoft.us',
        'https://api-us.security.microsoft.com', 'https://api-eu.security.microsoft.com',
        'https://api-uk.security.microsoft.com',
    ),
    app_roles=_M365D_ROLES,
    delegated=_M365D_DELEGATED,
)

DEFENDER_ENDPOINT = Resource(
    key='mde',
    display_name='WindowsDefenderATP',
    app_id='fc780465-2017-40d4-a0c5-307022471b92',
    identifiers=(
        'https://api.securitycenter.microsoft.com', 'https://securitycenter.onmicrosoft.com/windowsatpservice',
        'https://api.securitycenter.windows.com', 'https://api-us.securitycenter.microsoft.com',
        'https://api-eu.securitycenter.microsoft.com', 'https://api-uk.securitycenter.microsoft.com',
        'https://api-gcc.securitycenter.microsoft.us', 'https://api-gov.securitycenter.microsoft.us',
        'https://securitycenter.microsoft.com',
    ),
    app_roles=_MDE_ROLES,
    delegated=_MDE_DELEGATED,
)

BUILTIN_RESOURCES: tuple[Resource, ...] = (GRAPH, DEFENDER_XDR, DEFENDER_ENDPOINT)


class ResourceCatalog:
    """Looks resources up by identifier, key or app ID; later API modules may add resources."""

    def __init__(self, resources: tuple[Resource, ...] = BUILTIN_RESOURCES):
        self._by_key: dict[str, Resource] = {}
        self._by_identifier: dict[str, Resource] = {}
        for resource in resources:
            self.add(resource)

    def add(self, resource: Resource) -> None:
        self._by_key[resource.key] = resource
        for ident in (*resource.identifiers, resource.app_id):
            self._by_identifier[normalize_identifier(ident)] = resource

    def __iter__(self):
        return iter(self._by_key.values())

    def by_key(self, key: str) -> Resource | None:
        return self._by_key.get(key)

    def find(self, identifier: str) -> Resource | None:
        """A resource by identifier (``https://graph.microsoft.com/`` and the GUID both work) or by key."""
        if not identifier:
            return None
        return self._by_identifier.get(normalize_identifier(identifier)) or self._by_key.get(identifier)

    def resolve_permission(self, spec: str) -> list[tuple[Resource, str]]:
        """Where a granted permission applies.

        ``Incident.Read.All`` applies on every resource defining that name; ``mde:User.Read.All`` or
        ``https://api.securitycenter.microsoft.com/User.Read.All`` pins it to one resource.
        """
        spec = spec.strip()
        if '://' in spec or (':' not in spec and '/' in spec):
            ident, _, name = spec.rpartition('/')
            resource = self.find(ident)
            return [(resource, name)] if resource and resource.defines(name) else []
        if ':' in spec:
            key, _, name = spec.partition(':')
            resource = self.find(key)
            return [(resource, name)] if resource and resource.defines(name) else []
        return [(resource, spec) for resource in self if resource.defines(spec)]


def split_scope(scope: str) -> tuple[str | None, str]:
    """``https://host/path/Name`` -> (``https://host/path``, ``Name``); a bare ``Name`` -> (None, ``Name``)."""
    if '/' not in scope:
        return None, scope
    ident, _, name = scope.rpartition('/')
    return ident.rstrip('/'), name
