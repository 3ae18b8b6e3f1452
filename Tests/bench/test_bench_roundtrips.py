"""Round trips per command (benchmark 1): every command of every integration, cold and warm, counted exactly from
the emulator's request log."""
from __future__ import annotations

import pytest

from bench import report
from bench.expected import EXPECTED_CALLS
from bench.scenarios import MDE, RoundTrip, bench_integrations, command_lines, round_trips, same_calls

# About 130 commands, each cold and warm in fresh processes: several minutes on 2 cores, more than the default limit.
pytestmark = pytest.mark.timeout(1200)


def judged_integrations():
    """The integrations whose expected calls are recorded (a new one joins when its table is added)."""
    return [i for i in bench_integrations() if i.name in EXPECTED_CALLS]


@pytest.fixture(scope='module')
def measured(bench) -> list[RoundTrip]:
    return round_trips(bench, judged_integrations())


def _method_host(call: str) -> str:
    return ' '.join(call.split(' ')[:2])


@pytest.mark.e2e
def test_every_command_is_measured(measured):
    """Given the integrations with example lines, When the round trips are measured, Then every command of each
    variant has a result."""
    names = {i.name for i in bench_integrations()}
    assert {'Microsoft365Defender', 'MicrosoftDefenderThreatIntelligence', MDE} <= names
    measured_commands = {(r.integration, r.command) for r in measured}
    for integration in judged_integrations():
        assert {(integration.name, c) for c, _ in command_lines(integration)} <= measured_commands


@pytest.mark.e2e
def test_warm_path_makes_exactly_the_api_calls_needed(measured):
    """Given each command run with a cached token, Then it makes no token request and exactly the API calls the
    expectation table lists, in that order (method and host)."""
    for r in measured:
        label = f'{r.integration} [{r.variant}] {r.command}'
        assert r.errors == [], label
        assert r.expected is not None, f'{label}: add it to bench/expected.py'
        assert r.warm_tokens == 0, label
        assert [_method_host(c) for c in r.warm_api] == [_method_host(c) for c in r.expected.calls], label
        assert r.met, label


@pytest.mark.e2e
def test_cold_start_adds_exactly_one_token_request(measured):
    """Given each command on a fresh state home, Then it makes exactly one token request more than warm (none for
    the commands that need no token) and the same API calls."""
    for r in measured:
        label = f'{r.integration} [{r.variant}] {r.command}'
        assert r.expected is not None, label
        assert r.cold_tokens == r.expected.cold_tokens, label
        assert len(r.cold) == len(r.warm) + r.expected.cold_tokens, label
        assert same_calls(r.cold_api, r.warm_api), label


@pytest.mark.e2e
def test_rows_show_the_reason_above_one_call(measured):
    """Given the measured round trips, When rendered, Then each row is met and a command needing more than one
    call (or none) carries its reason."""
    rows = report.round_trip_rows(measured)
    assert len(rows) == len(measured)
    update = next(row for row in rows if row.item.endswith('[graph] microsoft-365-defender-incident-update'))
    assert update.figure == 'cold 4 (1 token), warm 3 (0 token)' and update.met
    assert 'PATCH graph, POST graph, GET graph' in update.note and 'comment' in update.note
    assert all(row.met for row in rows)
