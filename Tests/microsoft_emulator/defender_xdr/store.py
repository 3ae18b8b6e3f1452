"""The incident store behind the Defender XDR (``/api/incidents``) and Graph security (``/security/incidents``) APIs.

One store serves both APIs, so a change made through one shows in the other. Values are kept in Graph's
vocabulary (camelCase enums) and translated to the legacy API's PascalCase on the way out. Times are integer
*ticks* (100 ns since the Unix epoch, the resolution Microsoft's timestamps carry), so a timestamp read from a
response and sent back in a ``$filter`` compares exactly.

Indexes: a dict by ID and two sorted lists of ``(ticks, id)`` (created, last updated), kept up to date on every
change, so time-range filters bisect instead of scanning. Every method takes the store's lock.
"""
from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..core.clock import format_time, now_ticks

# ----- enums: Graph value (canonical) <-> legacy Defender XDR value -------------------------------------------------

INCIDENT_STATUS = {'active': 'Active', 'inProgress': 'InProgress', 'resolved': 'Resolved', 'redirected': 'Redirected'}
ALERT_STATUS = {'new': 'New', 'inProgress': 'InProgress', 'resolved': 'Resolved'}
SEVERITY = {'unknown': 'UnSpecified', 'informational': 'Informational', 'low': 'Low', 'medium': 'Medium',
            'high': 'High'}
SEVERITY_RANK = {'unknown': 0, 'informational': 1, 'low': 2, 'medium': 3, 'high': 4}
CLASSIFICATION = {'unknown': 'Unknown', 'falsePositive': 'FalsePositive', 'truePositive': 'TruePositive',
                  'informationalExpectedActivity': 'InformationalExpectedActivity'}
DETERMINATION = {
    'unknown': 'NotAvailable', 'apt': 'Apt', 'malware': 'Malware', 'securityPersonnel': 'SecurityPersonnel',
    'securityTesting': 'SecurityTesting', 'unwantedSoftware': 'UnwantedSoftware', 'other': 'Other',
    'multiStagedAttack': 'MultiStagedAttack', 'compromisedUser': 'CompromisedUser', 'phishing': 'Phishing',
    'maliciousUserActivity': 'MaliciousUserActivity', 'clean': 'Clean', 'insufficientData': 'InsufficientData',
    'confirmedUserActivity': 'ConfirmedUserActivity', 'lineOfBusinessApplication': 'LineOfBusinessApplication',
}
# The legacy update API documents other spellings for some determinations; both are accepted there.
LEGACY_DETERMINATION_ALIASES = {'compromisedaccount': 'compromisedUser', 'confirmedactivity': 'confirmedUserActivity',
                                'noenoughdatatovalidate': 'insufficientData'}
DEPRECATED_DETERMINATIONS = frozenset({'apt', 'securityPersonnel'})   # no longer settable since August 2022
# Which determinations go with which classification (Update incident API documentation).
DETERMINATIONS_FOR = {
    'truePositive': frozenset({'multiStagedAttack', 'maliciousUserActivity', 'compromisedUser', 'malware', 'phishing',
                               'unwantedSoftware', 'other'}),
    'informationalExpectedActivity': frozenset({'securityTesting', 'lineOfBusinessApplication',
                                                'confirmedUserActivity', 'other'}),
    'falsePositive': frozenset({'clean', 'insufficientData', 'other'}),
    'unknown': frozenset(),
}

# serviceSource and detectionSource: key -> (legacy value, Graph value)
SERVICE_SOURCES = {
    'mde': ('MicrosoftDefenderForEndpoint', 'microsoftDefenderForEndpoint'),
    'mdo': ('MicrosoftDefenderForOffice365', 'microsoftDefenderForOffice365'),
    'mdca': ('MicrosoftCloudAppSecurity', 'microsoftDefenderForCloudApps'),
    'mdi': ('AzureAdvancedThreatProtection', 'microsoftDefenderForIdentity'),
    'm365d': ('Microsoft365Defender', 'microsoft365Defender'),
    'aadip': ('AzureAdIdentityProtection', 'azureAdIdentityProtection'),
}
DETECTION_SOURCES = {
    'edr': ('WindowsDefenderAtp', 'microsoftDefenderForEndpoint'),
    'av': ('WindowsDefenderAv', 'antivirus'),
    'smartscreen': ('WindowsDefenderSmartScreen', 'smartScreen'),
    'customti': ('CustomerTI', 'customTi'),
    'mdo': ('OfficeATP', 'microsoftDefenderForOffice365'),
    'air': ('AutomatedInvestigation', 'automatedInvestigation'),
    'custom': ('CustomDetection', 'customDetection'),
    'mdi': ('AzureATP', 'microsoftDefenderForIdentity'),
    'mcas': ('MCAS', 'cloudAppSecurity'),
    'm365d': ('MTP', 'microsoft365Defender'),
    'aadip': ('AzureAdIdentityProtection', 'azureAdIdentityProtection'),
}


def determination_allowed(classification: str, determination: str) -> bool:
    return determination == 'unknown' or determination in DETERMINATIONS_FOR.get(classification, frozenset())


# ----- model --------------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Comment:
    comment: str
    created_by: str
    created: int


@dataclass(slots=True)
class Alert:
    alert_id: str
    incident_id: int
    title: str
    description: str
    category: str
    severity: str                       # Graph alertSeverity
    status: str                         # Graph alertStatus
    service_source: str                 # key of SERVICE_SOURCES
    detection_source: str               # key of DETECTION_SOURCES
    created: int
    last_update: int
    first_activity: int
    last_activity: int
    resolved: int | None = None
    classification: str | None = None   # None: not classified (legacy null, Graph "unknown")
    determination: str | None = None
    assigned_to: str | None = None
    mitre_techniques: tuple[str, ...] = ()
    threat_family: str | None = None
    actor: str | None = None
    investigation_id: int | None = None
    investigation_state: str = 'UnsupportedAlertType'
    detector_id: str = ''
    recommended_actions: str = ''
    devices: tuple[dict[str, Any], ...] = ()     # shared, read-only records (see xdr_seed.DEVICES)
    entities: tuple[dict[str, Any], ...] = ()    # only the non-null legacy entity fields
    mailboxes: tuple[dict[str, Any], ...] = ()


@dataclass(slots=True)
class Incident:
    incident_id: int
    name: str
    created: int
    last_update: int
    tenant_id: str
    status: str = 'active'
    severity: str = 'medium'
    classification: str = 'unknown'
    determination: str = 'unknown'
    assigned_to: str | None = None
    redirect_incident_id: int | None = None
    description: str | None = None
    last_modified_by: str | None = None
    tags: list[str] = field(default_factory=list)
    system_tags: list[str] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {'incidentId': self.incident_id, 'createdTime': format_time(self.created),
                'lastUpdateTime': format_time(self.last_update), 'status': INCIDENT_STATUS[self.status]}


class NotFound(KeyError):
    pass


# ----- the store ----------------------------------------------------------------------------------------------------

class XdrStore:
    def __init__(self, tenant_id: str, seeder: Callable[[XdrStore], None] | None = None):
        self.lock = threading.RLock()
        self.tenant_id = tenant_id
        self._seeder = seeder
        self.version = 0                 # bumped on every change (caches key on it)
        self.hunting: dict[str, Any] = {}  # hunting tables, owned by hunting.py
        self.clear(reset_ids=True)
        if seeder is not None:
            seeder(self)

    # ----- bookkeeping ------------------------------------------------------------------------------------------
    def clear(self, reset_ids: bool = False) -> int:
        with self.lock:
            count = len(getattr(self, 'incidents', {}))
            self.incidents: dict[int, Incident] = {}
            self.alerts: dict[str, Alert] = {}
            self.by_created: list[tuple[int, int]] = []
            self.by_updated: list[tuple[int, int]] = []
            if reset_ids:
                self.next_id = 1001
                self.hunting = {}
            self.version += 1
            return count

    def reset(self) -> None:
        """Back to the seeded state (incidents, IDs and hunting tables)."""
        with self.lock:
            self.clear(reset_ids=True)
            if self._seeder is not None:
                self._seeder(self)

    def snapshot(self) -> dict[str, Any]:
        """Everything a restart must keep (the store registry saves it): incidents, alerts, indexes, IDs, the
        hunting tables' anchor, sizes and added rows (generated rows are made again from them)."""
        with self.lock:
            state = {k: v for k, v in vars(self).items() if k not in ('lock', '_seeder')}
            state['hunting'] = {k: v for k, v in self.hunting.items() if k != 'rows'}
            return state

    def restore(self, state: dict[str, Any]) -> None:
        with self.lock:
            self.__dict__.update(state)
            if self.hunting:
                self.hunting['rows'] = {}
            self.version += 1

    def allocate_ids(self, count: int) -> int:
        with self.lock:
            first = self.next_id
            self.next_id += count
            return first

    def add(self, incident: Incident) -> Incident:
        with self.lock:
            if incident.incident_id in self.incidents:
                raise ValueError(f'incident {incident.incident_id} already exists')
            self.next_id = max(self.next_id, incident.incident_id + 1)
            self.incidents[incident.incident_id] = incident
            bisect.insort(self.by_created, (incident.created, incident.incident_id))
            bisect.insort(self.by_updated, (incident.last_update, incident.incident_id))
            for alert in incident.alerts:
                self.alerts[alert.alert_id] = alert
            self.version += 1
            return incident

    def add_many(self, incidents: list[Incident]) -> None:
        """Bulk insert (the generator): one sort instead of an insort each."""
        with self.lock:
            for incident in incidents:
                if incident.incident_id in self.incidents:
                    raise ValueError(f'incident {incident.incident_id} already exists')
            for incident in incidents:
                self.incidents[incident.incident_id] = incident
                self.by_created.append((incident.created, incident.incident_id))
                self.by_updated.append((incident.last_update, incident.incident_id))
                for alert in incident.alerts:
                    self.alerts[alert.alert_id] = alert
                self.next_id = max(self.next_id, incident.incident_id + 1)
            self.by_created.sort()
            self.by_updated.sort()
            self.version += 1

    def get(self, incident_id: int) -> Incident:
        with self.lock:
            incident = self.incidents.get(incident_id)
            if incident is None:
                raise NotFound(incident_id)
            return incident

    def touch(self, incident: Incident, when: int | None = None) -> None:
        """Set lastUpdateTime (default: now, and always later than before) and re-index."""
        with self.lock:
            old = (incident.last_update, incident.incident_id)
            new_time = when if when is not None else max(now_ticks(), incident.last_update + 1)
            index = bisect.bisect_left(self.by_updated, old)
            if index < len(self.by_updated) and self.by_updated[index] == old:
                del self.by_updated[index]
            incident.last_update = new_time
            bisect.insort(self.by_updated, (new_time, incident.incident_id))
            self.version += 1

    def set_created(self, incident: Incident, when: int) -> None:
        with self.lock:
            old = (incident.created, incident.incident_id)
            index = bisect.bisect_left(self.by_created, old)
            if index < len(self.by_created) and self.by_created[index] == old:
                del self.by_created[index]
            incident.created = when
            bisect.insort(self.by_created, (when, incident.incident_id))
            self.version += 1

    def update(self, incident_id: int, changes: dict[str, Any], *, comment: str | None = None,
               comment_by: str = '', modified_by: str | None = None, when: int | None = None) -> Incident:
        """Apply validated changes (canonical names: status, severity, classification, determination, assigned_to,
        tags, system_tags, name, description, redirect_incident_id), append a comment, bump lastUpdateTime.
        Alerts follow the incident's status, assignment and classification, as they do in the portal."""
        with self.lock:
            incident = self.get(incident_id)
            now = now_ticks()
            for key, value in changes.items():
                setattr(incident, key, value)
            if incident.classification != 'unknown' or incident.determination != 'unknown':
                if not determination_allowed(incident.classification, incident.determination):
                    incident.determination = 'unknown'
            for alert in incident.alerts:
                if 'status' in changes:
                    if incident.status == 'resolved':
                        alert.status, alert.resolved = 'resolved', alert.resolved or now
                    elif incident.status == 'active' and alert.status == 'resolved':
                        alert.status, alert.resolved = 'new', None
                    elif incident.status == 'inProgress' and alert.status != 'resolved':
                        alert.status = 'inProgress'
                if 'assigned_to' in changes:
                    alert.assigned_to = incident.assigned_to
                if 'classification' in changes or 'determination' in changes:
                    alert.classification = incident.classification
                    alert.determination = incident.determination
                if changes:
                    alert.last_update = max(now, alert.last_update + 1)
            if comment:
                incident.comments.append(Comment(comment=comment, created_by=comment_by, created=now))
            if modified_by:
                incident.last_modified_by = modified_by
            self.touch(incident, when)
            return incident

    # ----- queries ----------------------------------------------------------------------------------------------
    def candidates(self, field_name: str | None = None, low: int | None = None, low_inclusive: bool = True,
                   high: int | None = None, high_inclusive: bool = True) -> list[Incident]:
        """Incidents whose ``created``/``last_update`` lies in a range, in ascending order of that field (then ID);
        without a field, every incident in ascending creation order."""
        with self.lock:
            index = self.by_updated if field_name == 'last_update' else self.by_created
            start, stop = 0, len(index)
            if field_name is not None and low is not None:
                start = bisect.bisect_left(index, (low, -1)) if low_inclusive else bisect.bisect_right(
                    index, (low, 1 << 62))
            if field_name is not None and high is not None:
                stop = bisect.bisect_right(index, (high, 1 << 62)) if high_inclusive else bisect.bisect_left(
                    index, (high, -1))
            incidents = self.incidents
            return [incidents[incident_id] for _, incident_id in index[start:max(start, stop)]]

    def all_alerts(self) -> Iterator[Alert]:
        with self.lock:
            alerts = list(self.alerts.values())
        return iter(alerts)

    def ground_truth(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self.incidents[i].summary() for _, i in self.by_created]

    def __len__(self) -> int:
        return len(self.incidents)


def sort_incidents(items: Iterable[Incident], keys: list[tuple[str, bool]]) -> list[Incident]:
    """Stable multi-key sort; ``keys`` = [(attribute, descending)], applied with the incident ID as the last
    tie-breaker in the direction of the first key."""
    result = list(items)
    first_desc = keys[0][1] if keys else True
    result.sort(key=lambda i: i.incident_id, reverse=first_desc)
    for attribute, descending in reversed(keys):
        result.sort(key=lambda i, a=attribute: getattr(i, a), reverse=descending)   # type: ignore[misc]
    return result
