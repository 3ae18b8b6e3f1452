"""The data behind the Defender for Endpoint API (``https://api.securitycenter.microsoft.com``): machines, machine
actions, investigations, alerts, indicators, and the file/domain/IP observations the statistics come from.

Times are ticks (100 ns since the Unix epoch, see core/clock.py). Machine actions are not driven by a timer: their status
is a function of their age (Pending for one step, InProgress for the next, then Succeeded, or Failed on a machine
marked broken), worked out under the lock whenever the store is read (:meth:`MdeStore.advance`). When an action
completes, its effect on the machine (isolation, code-execution restriction, offboarding) is applied once. The step
length is the ``action_step_seconds`` setting (``POST /_emulator/mde/settings``); each action keeps the step in force
when it was created.
"""
from __future__ import annotations

import bisect
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.clock import TICKS_PER_SECOND, now_ticks

DEFAULT_STEP_SECONDS = 4.0

# MachineAction.type values and the (only) scope values the API documents.
ACTION_TYPES = ('RunAntiVirusScan', 'Offboard', 'LiveResponse', 'CollectInvestigationPackage', 'Isolate', 'Unisolate',
                'StopAndQuarantineFile', 'RestrictCodeExecution', 'UnrestrictCodeExecution')
ACTION_STATUSES = ('Pending', 'InProgress', 'Succeeded', 'Failed', 'TimeOut', 'Cancelled')
ACTIVE_STATUSES = ('Pending', 'InProgress')
FAILED_HRESULT = -2147467259           # E_FAIL, as errorHResult carries it
ACTION_ID_NAMESPACE = uuid.UUID('0b7e3c52-8f44-4d0e-a0c6-3e9f57d2c811')   # machine action IDs (see next_action_id)

HEALTH_STATUSES = ('Active', 'Inactive', 'ImpairedCommunication', 'NoSensorData', 'NoSensorDataImpairedCommunication',
                   'Unknown')
RISK_SCORES = ('None', 'Informational', 'Low', 'Medium', 'High')
EXPOSURE_LEVELS = ('None', 'Low', 'Medium', 'High')
ALERT_STATUSES = ('Unknown', 'New', 'InProgress', 'Resolved')
ALERT_SEVERITIES = ('UnSpecified', 'Informational', 'Low', 'Medium', 'High')
# Current values first; Unknown, NotAvailable, Apt and SecurityPersonnel are the older ones playbooks still send.
ALERT_CLASSIFICATIONS = ('TruePositive', 'InformationalExpectedActivity', 'FalsePositive', 'Unknown')
ALERT_DETERMINATIONS = ('MultiStagedAttack', 'MaliciousUserActivity', 'CompromisedAccount', 'Malware', 'Phishing',
                        'UnwantedSoftware', 'SecurityTesting', 'LineOfBusinessApplication', 'ConfirmedActivity',
                        'Clean', 'InsufficientData', 'NotMalicious', 'Other', 'NotAvailable', 'Apt',
                        'SecurityPersonnel')
INDICATOR_TYPES = ('FileSha1', 'FileMd5', 'CertificateThumbprint', 'FileSha256', 'IpAddress', 'DomainName', 'Url')
INDICATOR_ACTIONS = ('Warn', 'Block', 'Audit', 'Alert', 'AlertAndBlock', 'BlockAndRemediate', 'Allowed')
INDICATOR_SEVERITIES = ('Informational', 'Low', 'Medium', 'High')
INVESTIGATION_STATES = ('Unknown', 'Terminated', 'SuccessfullyRemediated', 'Benign', 'Failed', 'PartiallyRemediated',
                        'Running', 'PendingApproval', 'PendingResource', 'PartiallyInvestigated', 'TerminatedByUser',
                        'TerminatedBySystem', 'Queued', 'InnerFailure', 'PreexistingAlert', 'UnsupportedOs',
                        'UnsupportedAlertType', 'SuppressedAlert')


class NotFound(KeyError):
    pass


class ActiveRequestExists(ValueError):
    pass


# ----- model --------------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Machine:
    id: str
    computer_dns_name: str
    first_seen: int
    last_seen: int
    os_platform: str
    os_version: str | None
    os_processor: str
    version: str
    os_build: int | None
    last_ip: str
    last_external_ip: str
    agent_version: str
    health_status: str
    rbac_group_id: int
    rbac_group_name: str
    risk_score: str
    exposure_level: str
    aad_device_id: str | None
    os_architecture: str
    mac_address: str
    tags: list[str] = field(default_factory=list)
    onboarding_status: str = 'Onboarded'
    logon_users: list[dict[str, Any]] = field(default_factory=list)   # User resources (times as ticks)
    isolation: str | None = None          # None, 'Full' or 'Selective'
    restricted: bool = False
    broken: bool = False                  # actions on it fail (admin: /machines/{id}/break)


@dataclass(slots=True)
class MachineAction:
    id: str
    type: str
    scope: str | None
    requestor: str
    comment: str
    machine_id: str
    computer_dns_name: str
    created: int
    step: int                             # ticks per status step
    fail: bool
    title: str
    related_file: dict[str, Any] | None = None
    external_id: str | None = None
    request_source: str = 'PublicApi'
    status_override: str | None = None    # 'Cancelled'
    cancellation_requestor: str | None = None
    cancellation_comment: str | None = None
    cancelled: int | None = None
    applied: bool = False
    live: Any = None                      # live response: the commands and their outcome (live_response.py)
    aged: int = 0                         # ticks added to the age by the admin API (tests step without the clock)

    def status_at(self, now: int) -> str:
        if self.status_override:
            return self.status_override
        age = now + self.aged - self.created
        if age < self.step:
            return 'Pending'
        if age < 2 * self.step:
            return 'InProgress'
        return 'Failed' if self.fail else 'Succeeded'

    def updated_at(self, now: int) -> int:
        if self.cancelled is not None:
            return self.cancelled
        steps = min(2, (now + self.aged - self.created) // self.step) if self.step else 2
        return self.created + steps * self.step


@dataclass(slots=True)
class Investigation:
    id: int
    start: int
    machine_id: str
    computer_dns_name: str
    triggering_alert_id: str | None
    state: str = 'Running'                # the final state once it ends
    end: int | None = None                # None: ends 2 steps after start (driven like actions)
    step: int = 0
    status_details: str | None = None
    cancelled_by: str | None = None

    def state_at(self, now: int) -> tuple[str, int | None]:
        if self.end is not None:
            return self.state, self.end
        if now - self.start < 2 * self.step:
            return 'Running', None
        return self.state, self.start + 2 * self.step


@dataclass(slots=True)
class Observation:
    """A file, domain or IP seen in the organisation: on which machines, when first and last."""
    key: str
    machine_ids: list[str]
    first_seen: int
    last_seen: int
    extra: dict[str, Any] = field(default_factory=dict)   # files: the File resource fields and topFileNames


@dataclass
class Settings:
    action_step_seconds: float = DEFAULT_STEP_SECONDS


# ----- store --------------------------------------------------------------------------------------------------------

class MdeStore:
    def __init__(self, tenant_id: str, seeder: Callable[[MdeStore], None] | None = None):
        self.lock = threading.RLock()
        self.tenant_id = tenant_id
        self._seeder = seeder
        self.settings = Settings()
        self.clear()
        if seeder is not None:
            seeder(self)

    def clear(self) -> None:
        with self.lock:
            self.version = 0
            self.machines: dict[str, Machine] = {}
            self.by_dns: dict[str, str] = {}
            self.actions: dict[str, MachineAction] = {}
            self.action_order: list[str] = []
            self.active: set[str] = set()             # actions not yet completed
            self.extensions: dict[str, Any] = {}      # state of other modules' features, cleared with the store
            self.investigations: dict[int, Investigation] = {}
            self.alerts: dict[str, dict[str, Any]] = {}
            self.alert_index: list[tuple[int, str]] = []   # (alertCreationTime ticks, id), sorted
            self.indicators: dict[str, dict[str, Any]] = {}
            self.indicator_keys: dict[tuple[str, str], str] = {}
            self.files: dict[str, Observation] = {}      # by sha1, sha256 and md5 (lower case)
            self.domains: dict[str, Observation] = {}
            self.ips: dict[str, Observation] = {}
            self.next_indicator = 1
            self.next_investigation = 1
            self.hunting_extra: dict[str, list[dict[str, Any]]] = {}
            self.hunting_cache: tuple[Any, Any] | None = None    # defender_endpoint's KQL view of the tables
            self.hunting_anchor = now_ticks() // TICKS_PER_SECOND * TICKS_PER_SECOND

    def reset(self) -> None:
        with self.lock:
            self.settings = Settings()
            self.clear()
            if self._seeder is not None:
                self._seeder(self)

    def bump(self) -> None:
        self.version += 1

    TRANSIENT = ('lock', '_seeder', 'hunting_cache', '_tvm_inventory')   # rebuilt on demand

    def snapshot(self) -> dict[str, Any]:
        """Everything a restart must keep (the store registry saves it): machines, actions (their status follows
        from their age, so it carries on), investigations, alerts, indicators, observations, settings, added
        hunting rows and other features' state."""
        with self.lock:
            return {k: v for k, v in vars(self).items() if k not in self.TRANSIENT}

    def restore(self, state: dict[str, Any]) -> None:
        with self.lock:
            for name in self.TRANSIENT[2:]:
                self.__dict__.pop(name, None)
            self.__dict__.update(state)
            self.hunting_cache = None
            self.bump()

    # ----- machines ---------------------------------------------------------------------------------------------
    def add_machine(self, machine: Machine) -> Machine:
        with self.lock:
            self.machines[machine.id] = machine
            self.by_dns[machine.computer_dns_name.lower()] = machine.id
            self.bump()
            return machine

    def machine(self, key: str) -> Machine:
        """By ID or computer DNS name (any case)."""
        with self.lock:
            machine = self.machines.get(key) or self.machines.get(key.lower())
            if machine is None:
                machine_id = self.by_dns.get(key.lower())
                machine = self.machines.get(machine_id) if machine_id else None
            if machine is None:
                raise NotFound(key)
            return machine

    # ----- machine actions --------------------------------------------------------------------------------------
    def step_ticks(self) -> int:
        return max(0, int(self.settings.action_step_seconds * TICKS_PER_SECOND))

    def next_action_id(self, machine_id: str, action_type: str) -> str:
        """uuid5 of machine, type and how many such actions came before: unique in the store and predictable, so a
        documentation example can name the action an earlier example started."""
        number = sum(1 for a in self.actions.values() if a.machine_id == machine_id and a.type == action_type)
        return str(uuid.uuid5(ACTION_ID_NAMESPACE, f'{machine_id}:{action_type}:{number}'))

    def create_action(self, machine: Machine, action_type: str, *, requestor: str, comment: str,
                      scope: str | None = None, related_file: dict[str, Any] | None = None,
                      external_id: str | None = None, title: str | None = None) -> MachineAction:
        with self.lock:
            now = now_ticks()
            self.advance(now)
            for action_id in self.active:
                other = self.actions[action_id]
                # one active action of a type per machine (for StopAndQuarantineFile: per machine and file)
                if other.machine_id == machine.id and other.type == action_type and other.related_file == related_file:
                    raise ActiveRequestExists(action_id)
            action = MachineAction(
                id=self.next_action_id(machine.id, action_type), type=action_type, scope=scope, requestor=requestor,
                comment=comment,
                machine_id=machine.id, computer_dns_name=machine.computer_dns_name, created=now,
                step=self.step_ticks(), fail=machine.broken, related_file=related_file, external_id=external_id,
                title=title or f'{action_type} action on {machine.computer_dns_name}')
            self.actions[action.id] = action
            self.action_order.append(action.id)
            self.active.add(action.id)
            self.advance(now)
            self.bump()
            return action

    def advance(self, now: int | None = None) -> None:
        """Complete the actions whose time has come and apply their effect on the machine."""
        with self.lock:
            now = now_ticks() if now is None else now
            for action_id in sorted(self.active, key=lambda i: self.actions[i].created):   # effects in order
                action = self.actions[action_id]
                status = action.status_at(now)
                if status in ACTIVE_STATUSES:
                    continue
                self.active.discard(action_id)
                if status == 'Succeeded' and not action.applied:
                    action.applied = True
                    self._apply(action)
                self.bump()

    def step_action(self, action_id: str, steps: int = 1) -> MachineAction:
        """Move an action ``steps`` status steps on, as if that much time had passed for it alone: tests see each
        status without racing the clock."""
        with self.lock:
            action = self.action(action_id)
            action.aged += steps * action.step
            self.advance()
            return action

    def _apply(self, action: MachineAction) -> None:
        machine = self.machines.get(action.machine_id)
        if machine is None:
            return
        if action.type == 'Isolate':
            machine.isolation = action.scope or 'Full'
        elif action.type == 'Unisolate':
            machine.isolation = None
        elif action.type == 'RestrictCodeExecution':
            machine.restricted = True
        elif action.type == 'UnrestrictCodeExecution':
            machine.restricted = False
        elif action.type == 'Offboard':
            machine.onboarding_status = 'Offboarded'
            machine.health_status = 'Inactive'

    def cancel_action(self, action_id: str, requestor: str, comment: str) -> MachineAction:
        with self.lock:
            now = now_ticks()
            self.advance(now)
            action = self.actions.get(action_id)
            if action is None:
                raise NotFound(action_id)
            if action_id not in self.active:
                raise ValueError(action.status_at(now))
            action.status_override = 'Cancelled'
            action.cancelled = now
            action.cancellation_requestor = requestor
            action.cancellation_comment = comment
            self.active.discard(action_id)
            self.bump()
            return action

    def action(self, action_id: str) -> MachineAction:
        with self.lock:
            self.advance()
            action = self.actions.get(action_id)
            if action is None:
                raise NotFound(action_id)
            return action

    # ----- investigations ---------------------------------------------------------------------------------------
    def add_investigation(self, investigation: Investigation) -> Investigation:
        with self.lock:
            if investigation.id <= 0:
                investigation.id = self.next_investigation
            self.next_investigation = max(self.next_investigation, investigation.id + 1)
            self.investigations[investigation.id] = investigation
            self.bump()
            return investigation

    # ----- alerts -----------------------------------------------------------------------------------------------
    def add_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """Alerts in store form: the API's fields, with the time fields as ticks."""
        with self.lock:
            for alert in alerts:
                if alert['id'] in self.alerts:
                    raise ValueError(f"alert {alert['id']} already exists")
            for alert in alerts:
                self.alerts[alert['id']] = alert
                self.alert_index.append((alert['alertCreationTime'], alert['id']))
            self.alert_index.sort()
            self.bump()

    def alerts_between(self, low: int | None, high: int | None) -> list[dict[str, Any]]:
        """Alerts created in [low, high] (either bound open), oldest first."""
        with self.lock:
            start = 0 if low is None else bisect.bisect_left(self.alert_index, (low, ''))
            end = len(self.alert_index) if high is None else bisect.bisect_right(self.alert_index, (high, '\uffff'))
            return [self.alerts[i] for _, i in self.alert_index[start:end]]

    # ----- indicators -------------------------------------------------------------------------------------------
    def upsert_indicator(self, record: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Insert, or update the indicator with the same type and value. Returns (indicator, created)."""
        with self.lock:
            key = (record['indicatorType'], str(record['indicatorValue']).lower())
            existing_id = self.indicator_keys.get(key)
            if existing_id is not None:
                existing = self.indicators[existing_id]
                for name, value in record.items():
                    if name not in ('id', 'creationTimeDateTimeUtc', 'createdBy', 'createdByDisplayName',
                                    'createdBySource', 'sourceType'):
                        existing[name] = value
                self.bump()
                return existing, False
            record['id'] = str(self.next_indicator)
            self.next_indicator += 1
            self.indicators[record['id']] = record
            self.indicator_keys[key] = record['id']
            self.bump()
            return record, True

    def delete_indicator(self, indicator_id: str) -> None:
        with self.lock:
            record = self.indicators.pop(indicator_id, None)
            if record is None:
                raise NotFound(indicator_id)
            self.indicator_keys.pop((record['indicatorType'], str(record['indicatorValue']).lower()), None)
            self.bump()

    # ----- ground truth -----------------------------------------------------------------------------------------
    def ground_truth_machines(self) -> list[dict[str, Any]]:
        with self.lock:
            self.advance()
            return [{'id': m.id, 'computerDnsName': m.computer_dns_name, 'lastIpAddress': m.last_ip,
                     'isolation': m.isolation, 'restricted': m.restricted, 'broken': m.broken,
                     'machineTags': list(m.tags), 'onboardingStatus': m.onboarding_status,
                     'healthStatus': m.health_status} for m in self.machines.values()]
