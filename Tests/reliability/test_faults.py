"""Faults: every command of every integration (arguments from its first ``command_examples`` line) under each injected
fault, once on the first request and on every request until it gives up. Each case must end in success or a clear
error entry naming the cause — no traceback, no hang — and a failed write must not be half applied."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from reliability.harness import (
    API_HOSTS,
    INTEGRATIONS,
    Lane,
    age_tokens,
    first_examples,
    integration,
    retry_scheduled,
    verdict,
)
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


def _indicators(lane: Lane) -> list[dict]:
    token = _api_token(lane, 'https://api.securitycenter.microsoft.com', ['Ti.ReadWrite.All'])
    res = requests.get(f'{lane.server.url}/api/indicators', headers={'Authorization': f'Bearer {token}'},
                       verify=str(lane.server.ca_path), timeout=30)
    res.raise_for_status()
    return res.json().get('value', [])


INCIDENT_FIELDS = {'status': 'status', 'classification': 'classification', 'determination': 'determination',
                   'assigned_to': 'assignedTo', 'tags': 'tags'}
INDICATOR_FIELDS = {'action': 'action', 'severity': 'severity', 'indicator_title': 'title',
                    'indicator_description': 'description'}
BATCH_FIELDS = ('action', 'severity', 'title', 'description')
WRITES = {'microsoft-365-defender-incident-update': 'incident', 'microsoft-atp-sc-indicator-create': 'indicator',
          'microsoft-atp-sc-indicator-update': 'indicator', 'microsoft-atp-indicator-batch-update': 'batch',
          'microsoft-atp-sc-indicator-delete': 'delete'}


def _matches(value: Any, wanted: str) -> bool:
    if isinstance(value, list):
        return all(t.strip() in value for t in wanted.split(','))
    return str(value).lower() == wanted.lower()


def write_state(lane: Lane, kind: str, args: dict[str, str]) -> Any:
    """The part of the emulator's state the write touches (its ground truth, read through the admin API)."""
    if kind == 'incident':
        incident = lane.admin('GET', f'/xdr/incidents/{args["id"]}')
        return {name: incident.get(name) for name in INCIDENT_FIELDS.values()}
    indicators = _indicators(lane)
    if kind == 'delete':
        return any(str(i.get('id')) == args['indicator_id'] for i in indicators)
    if kind == 'indicator':
        found = next((i for i in indicators if i.get('indicatorValue') == args['indicator_value']), None)
        return found and {name: found.get(name) for name in INDICATOR_FIELDS.values()}
    wanted = json.loads(args['indicator_batch'])
    by_value = {i.get('indicatorValue'): i for i in indicators}
    return [{f: (by_value.get(w['indicatorValue']) or {}).get(f) for f in BATCH_FIELDS} for w in wanted]


def applied(state: Any, kind: str, args: dict[str, str]) -> bool:
    """Is the whole write visible in ``state``?"""
    if kind == 'incident':
        return all(_matches(state[f], args[a]) for a, f in INCIDENT_FIELDS.items() if a in args)
    if kind == 'delete':
        return state is False
    if kind == 'indicator':
        return bool(state) and all(_matches(state[f], args[a]) for a, f in INDICATOR_FIELDS.items() if a in args)
    wanted = json.loads(args['indicator_batch'])
    return all(_matches(got[f], str(w[f])) for got, w in zip(state, wanted, strict=True) for f in BATCH_FIELDS if f in w)


def partial_write(before: Any, after: Any, kind: str, args: dict[str, str], failed: bool) -> str:
    """'' when the write is all-or-nothing as reported; otherwise what went wrong."""
    if failed:   # failed or rescheduled: nothing applied, or (a retried upsert) everything
        return '' if after == before or applied(after, kind, args) else 'failed write left half applied'
    return '' if applied(after, kind, args) else 'reported as done but not (fully) applied'


# ---------------------------------------------------------------------------------------------------------------


def reset_for(lane: Lane, name: str, kind: str | None) -> None:
    """Defender for Endpoint state changes with most commands; incidents only with the incident write."""
    lane.reset_stores(xdr=kind == 'incident', mde=name == 'MicrosoftDefenderAdvancedThreatProtection')


_BASELINES: dict[tuple[int, str, str], list[str]] = {}


def baseline(lane: Lane, name: str, command: str, args: dict[str, str], kind: str | None) -> list[str]:
    """The command's errors without any fault (cached per lane): its own answer is not the fault's doing."""
    key = (id(lane), name, command)
    if key not in _BASELINES:
        reset_for(lane, name, kind)
        _BASELINES[key] = lane.run(lane.instance(name), command, args).errors
    return _BASELINES[key]


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
    kind = WRITES.get(command)
    own_errors = baseline(lane, name, command, args, kind)
    reset_for(lane, name, kind)   # every case starts from the seed: no action pending, no machine offboarded
    before = write_state(lane, kind, args) if kind else None
    prepare(lane, name, fault, mode)
    result = lane.run(instance, command, args, http_timeout=fault.http_timeout)
    lane.server.faults.clear()
    held, reason = verdict(result, fault.words, own_errors)
    if held and lane.worker.last_wait_s > WAIT_BUDGET_S:
        held, reason = False, f'asked to wait {lane.worker.last_wait_s:.0f} s in one run'
    if held and kind:
        pending = result.has_error or retry_scheduled(result)     # failed, or to be run again later
        problem = partial_write(before, write_state(lane, kind, args), kind, args, pending)
        held, reason = not problem, problem
    ledger.record(AREA, check, case, held, reason or '')
    return '' if held else f'{case}: {reason}'


@pytest.fixture
def warm(lanes):
    """Every lane has a cached token for each integration, so 'first request' faults hit the API call. Per test (a
    sign-in check per lane and integration, run by the lane's worker): the fault tests are spread over xdist workers,
    and another test on the same lane may have revoked or aged the cached tokens in between."""
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


# ---------------------------------------------------------------------------------------------------------------
# Revoked refresh tokens: flows that keep a refresh token (device code), a sample of two integrations

SIGN_IN = {'Microsoft365Defender': 'microsoft-365-defender-auth-start',
           'MicrosoftDefenderThreatIntelligence': 'msg-defender-threat-intel-auth-start'}
REVOKED_WORDS = ('revoked', '50173', 'auth-start', 'sign in', 'auth-reset')


@pytest.mark.parametrize('name', list(SIGN_IN))
def test_revoked_refresh_token_gives_a_clear_error(lanes, ledger, name):
    """Given a signed-in device-code instance whose refresh token was revoked, When each command runs with its access
    token due for refresh, Then it fails with an error saying to sign in again (or succeeds if it needs no token)."""
    lane = lanes[list(SIGN_IN).index(name) % len(lanes)]
    lane.server.faults.clear()
    lane.reset_stores()
    instance = lane.instance(name, 'device-code')
    failures = []
    for command, args in first_examples(integration(name)).items():
        if args is None or command.startswith(SIGN_IN[name].rsplit('-', 1)[0]):
            continue    # the auth-* commands manage the sign-in itself
        lane.store(instance).set_context({})
        signed_in = lane.run(instance, SIGN_IN[name])
        assert not signed_in.has_error, signed_in.errors
        age_tokens(lane.store(instance), seconds_left=30)
        lane.admin('POST', '/refresh-tokens/revoke', json={})
        held, reason = verdict(lane.run(instance, command, args), REVOKED_WORDS)
        ledger.record(AREA, 'revoked refresh token (device code flow)', f'{name} {command}', held, reason)
        failures += [] if held else [f'{command}: {reason}']
    assert failures == []


# ---------------------------------------------------------------------------------------------------------------
# The fast path (one long-lived worker) and real fresh processes agree

SAMPLE = [('Microsoft365Defender', 'microsoft-365-defender-incidents-list'),
          ('MicrosoftDefenderThreatIntelligence', 'msg-defender-threat-intel-host'),
          ('MicrosoftDefenderAdvancedThreatProtection', 'microsoft-atp-get-machine-details')]
SAMPLE_FAULTS = [FAULTS[2], FAULTS[7]]     # 500 and 401: their waits are short even without time scaling


def outcome_shape(result) -> tuple:
    return result.has_error, sorted(result.context), [e.get('Type') for e in result.entries]


@pytest.mark.parametrize('fault', SAMPLE_FAULTS, ids=[f.label for f in SAMPLE_FAULTS])
def test_fast_path_agrees_with_fresh_processes(warm, ledger, fault):
    """Given a sample of cases, When each runs in the long-lived worker and in a fresh process, Then both end the same
    way: same error or success, same context keys, same kinds of entries."""
    lane = warm[0]
    disagreements = []
    for name, command in SAMPLE:
        args = first_examples(integration(name))[command] or {}
        shapes = []
        for fresh in (False, True):
            lane.reset_stores()
            prepare(lane, name, fault, 'every')
            shapes.append(outcome_shape(lane.run(lane.instance(name), command, args, fresh=fresh)))
            lane.server.faults.clear()
        same = shapes[0] == shapes[1]
        ledger.record(AREA, 'fast path and fresh process agree (sample)', f'{name} {command} / {fault.label}', same,
                      f'worker {shapes[0]} vs fresh {shapes[1]}')
        disagreements += [] if same else [command]
    assert disagreements == []
