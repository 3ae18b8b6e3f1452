"""Faults: every command of every integration (arguments from its first ``command_examples`` line) under each injected
fault, once on the first request and on every request until it gives up. Each case must end in success or a clear
error entry naming the cause — no traceback, no hang — and a failed write must not be half applied."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from reliability.harness import API_HOSTS, INTEGRATIONS, Lane, first_examples, integration, verdict
from reliability.lanes import spread

AREA = 'Faults'
HANG_TIMEOUT_S = 0.5        # the HTTP timeout stand-in for hang cases (the emulator hangs for much longer)
WAIT_BUDGET_S = 120.0       # the waits a command may ask for in one run (unscaled seconds)


@dataclass(frozen=True)
class Fault:
    label: str
    spec: dict[str, Any]
    words: tuple[str, ...]          # one of these must appear in an error entry: the cause is named
    token_host: bool = False        # the fault is on Entra (login), hit while a token is fetched
    http_timeout: float | None = None
    expire_tokens: bool = False     # "first": expire every access token instead of queuing a fault
    extra: dict[str, Any] = field(default_factory=dict)


THROTTLE_WORDS = ('429', 'Retry in', 'throttl', 'too many')
FAULTS = [
    Fault('429 with Retry-After', {'kind': 'status', 'status': 429, 'retry_after': 3}, THROTTLE_WORDS),
    Fault('503 with Retry-After', {'kind': 'status', 'status': 503, 'retry_after': 3}, ('503', 'Retry in', 'unavailable')),
    Fault('500', {'kind': 'status', 'status': 500}, ('500', 'server error')),
    Fault('502', {'kind': 'status', 'status': 502}, ('502', 'gateway')),
    Fault('504', {'kind': 'status', 'status': 504}, ('504', 'gateway', 'timeout')),
    Fault('connection reset', {'kind': 'reset'}, ('reset', 'connection', 'aborted', 'ConnectionError', 'reach')),
    Fault('response hangs past the timeout', {'kind': 'hang', 'hang_seconds': 20}, ('timeout', 'timed out'),
          http_timeout=HANG_TIMEOUT_S),
    Fault('401 for an expired access token', {'kind': 'status', 'status': 401}, ('401', 'unauthorized', 'token'),
          expire_tokens=True),
    Fault('Entra outage during token refresh', {'kind': 'status', 'status': 503},
          ('503', 'authorization', 'token', 'reach', 'login'), token_host=True),
]


def all_commands() -> list[tuple[str, str, dict[str, str] | None]]:
    return [(name, command, args) for name in INTEGRATIONS
            for command, args in first_examples(integration(name)).items()]


# ---------------------------------------------------------------------------------------------------------------
# Ground truth for writes: the emulator's state before and after a case


def _api_token(lane: Lane, resource: str, roles: list[str]) -> str:
    return lane.admin('POST', '/tokens/mint', json={'resource': resource, 'roles': roles})['access_token']


def _indicator(lane: Lane, value: str) -> dict | None:
    token = _api_token(lane, 'https://api.securitycenter.microsoft.com', ['Ti.ReadWrite.All'])
    res = requests.get(f'{lane.server.url}/api/indicators', headers={'Authorization': f'Bearer {token}'},
                       verify=str(lane.server.ca_path), timeout=30)
    res.raise_for_status()
    return next((i for i in res.json().get('value', []) if i.get('indicatorValue') == value), None)


INCIDENT_FIELDS = {'status': 'status', 'classification': 'classification', 'determination': 'determination',
                   'assigned_to': 'assignedTo', 'tags': 'tags'}
INDICATOR_FIELDS = {'action': 'action', 'severity': 'severity', 'indicator_title': 'title',
                    'indicator_description': 'description'}


def write_target(command: str) -> tuple[str, dict[str, str]] | None:
    """(kind, argument → field) for the commands whose failure must not leave a half-applied write."""
    if command == 'microsoft-365-defender-incident-update':
        return 'incident', INCIDENT_FIELDS
    if command in ('microsoft-atp-sc-indicator-create', 'microsoft-atp-sc-indicator-update'):
        return 'indicator', INDICATOR_FIELDS
    return None


def snapshot(lane: Lane, kind: str, args: dict[str, str]) -> dict | None:
    if kind == 'incident':
        return lane.admin('GET', f'/xdr/incidents/{args["id"]}')
    return _indicator(lane, args['indicator_value'])


def _applied(obj: dict | None, args: dict[str, str], fields: dict[str, str]) -> list[bool]:
    marks = []
    for arg, name in fields.items():
        if arg not in args or obj is None:
            continue
        value = obj.get(name)
        wanted = args[arg]
        if isinstance(value, list):
            marks.append(all(t.strip() in value for t in wanted.split(',')))
        else:
            marks.append(str(value).lower() == wanted.lower())
    return marks


def partial_write(before: dict | None, after: dict | None, args: dict[str, str], fields: dict[str, str],
                  failed: bool) -> str:
    """'' when the write is all-or-nothing as reported; else what is wrong."""
    applied = _applied(after, args, fields)
    if failed:
        untouched = before == after or (before is not None and after is not None and all(
            before.get(f) == after.get(f) for f in fields.values()))
        if not untouched and not all(applied):
            return 'failed write left half applied'
        return ''
    if after is None or not all(applied):
        return 'reported as done but not applied'
    return ''


def reset_write_state(lane: Lane, kind: str) -> None:
    lane.admin('POST', '/xdr/reset' if kind == 'incident' else '/mde/reset')


# ---------------------------------------------------------------------------------------------------------------


def prepare(lane: Lane, name: str, fault: Fault, mode: str) -> None:
    """Queue the fault for this case (or expire tokens) on a clean emulator."""
    lane.server.faults.clear()
    instance = lane.instance(name)
    if fault.token_host:
        lane.clear_tokens(instance)   # the run must fetch a token
    if fault.expire_tokens and mode == 'first':
        lane.admin('POST', '/tokens/expire-all')
        return
    host = 'login' if fault.token_host else API_HOSTS[name]
    spec = dict(fault.spec) | {'host': host, 'count': 1 if mode == 'first' else 'always'}
    lane.admin('POST', '/faults', json=spec)


def run_case(lane: Lane, ledger, name: str, command: str, args: dict[str, str] | None, fault: Fault,
             mode: str) -> str:
    """Run one case, record it; '' when it held, else what went wrong."""
    check = f'{fault.label}, {"first request" if mode == "first" else "every request"}'
    case = f'{name} {command}'
    if args is None:
        ledger.record(AREA, check, case, False, 'no example')
        return f'{case}: no example'
    instance = lane.instance(name)
    target = write_target(command)
    before = None
    if target:
        reset_write_state(lane, target[0])
        before = snapshot(lane, target[0], args)
    prepare(lane, name, fault, mode)
    result = lane.run(instance, command, args, http_timeout=fault.http_timeout)
    lane.server.faults.clear()
    held, reason = verdict(result, fault.words)
    if held and lane.worker.last_wait_s > WAIT_BUDGET_S:
        held, reason = False, f'asked to wait {lane.worker.last_wait_s:.0f} s in one run'
    if held and target:
        problem = partial_write(before, snapshot(lane, target[0], args), args, target[1], result.has_error)
        held, reason = not problem, problem
    ledger.record(AREA, check, case, held, reason or '')
    return '' if held else f'{case}: {reason}'


@pytest.fixture(scope='module')
def warm(lanes):
    """Every lane has a cached token for each integration, so 'first request' faults hit the API call."""
    for lane in lanes:
        for name in INTEGRATIONS:
            lane.run(lane.instance(name), 'microsoft-365-defender-auth-test' if name == 'Microsoft365Defender' else
                     'msg-defender-threat-intel-auth-test' if name == 'MicrosoftDefenderThreatIntelligence'
                     else 'microsoft-atp-test')
    return lanes


@pytest.mark.parametrize('fault', FAULTS, ids=[f.label for f in FAULTS])
@pytest.mark.parametrize('mode', ['first', 'every'])
def test_every_command_under_fault(warm, ledger, fault, mode):
    """Given each command with its example arguments, When the fault is injected, Then it ends in success or a clear
    error entry naming the cause, never a traceback or a hang, and a failed write is not half applied."""
    failures: list[str] = []
    spread(warm, all_commands(),
           lambda lane, case: failures.append(run_case(lane, ledger, case[0], case[1], case[2], fault, mode)))
    assert [f for f in failures if f] == []
