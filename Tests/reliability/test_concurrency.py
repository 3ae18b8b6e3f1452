"""Concurrency: 20 fresh processes of one signed-in instance (commands and fetch mixed) run while access tokens are
expired under them and refresh tokens rotate. No command may fail because of the token cache, no refresh token may
be lost, and the integration context must be well formed every time it is read.

Each case runs twice: with refresh tokens as Microsoft documents them (a redeemed one stays valid) and with the
emulator's single-use hardening mode, where executions race for each token. A CPU-bound process runs beside every
case, as other integrations do on a loaded server: a slow execution must not make another one fail."""
from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from reliability.harness import CACHE_KEY, Lane, age_tokens, integration
from xsoar_local.runner import RunOptions, RunResult, run_fetch, run_with_polling

# serial: 20 processes plus a CPU-bound one are the point; make runs this module after the parallel tests, alone.
pytestmark = pytest.mark.serial

AREA = 'Concurrency'
PROCESSES = 20
ROUNDS = 2                      # commands each process slot runs one after the other
WORKLOADS = {
    'Microsoft365Defender': [
        ('microsoft-365-defender-incidents-list', {'limit': '5'}),
        ('microsoft-365-defender-incident-get', {'id': '1001'}),
        ('microsoft-365-defender-advanced-hunting', {'query': 'AlertInfo | take 3'}),
        ('fetch-incidents', {}),
    ],
    'MicrosoftDefenderThreatIntelligence': [
        ('msg-defender-threat-intel-article-list', {'limit': '3'}),
        ('msg-defender-threat-intel-host', {'host_id': 'contoso.com'}),
        ('msg-defender-threat-intel-profile-list', {'limit': '3'}),
    ],
}
MODES = {'microsoft': False, 'single-use': True}     # refresh_token_single_use in the emulator
START = {'Microsoft365Defender': 'microsoft-365-defender-auth-start',
         'MicrosoftDefenderThreatIntelligence': 'msg-defender-threat-intel-auth-start'}


def context_problem(context: Any) -> str:
    """'' when the token cache is well formed; otherwise what is wrong with it."""
    if not isinstance(context, dict):
        return 'context is not an object'
    cache = context.get(CACHE_KEY)
    if cache is None:
        return ''
    accounts = cache.get('accounts') if isinstance(cache, dict) else None
    if not isinstance(accounts, dict):
        return 'token cache without an accounts object'
    for key, account in accounts.items():
        if not isinstance(account, dict):
            return f'account {key} is not an object'
        if account.get('refresh_token') is not None and not isinstance(account['refresh_token'], str):
            return f'account {key}: refresh token is not a string'
        for scope, token in (account.get('tokens') or {}).items():
            if not isinstance(token, dict) or not isinstance(token.get('expires_at'), (int, float)):
                return f'account {key}: token for {scope} is malformed'
    return ''


def refresh_token(lane: Lane, instance) -> str | None:
    accounts = (lane.store(instance).get_context()['context'].get(CACHE_KEY) or {}).get('accounts', {})
    return next((a.get('refresh_token') for a in accounts.values() if a.get('refresh_token')), None)


def run_fresh(lane: Lane, instance, command: str, args: dict[str, str]) -> RunResult:
    options = RunOptions(env=lane.env, home=lane.home, timeout_s=120)
    found = integration(instance.integration)
    if command == 'fetch-incidents':
        return run_fetch(found, instance, 1, options)[0]
    return run_with_polling(found, instance, command, args, options)[-1]


@contextlib.contextmanager
def busy_neighbour() -> Iterator[None]:
    """A CPU-bound process for the duration (the machine has two cores: this takes one of them)."""
    neighbour = subprocess.Popen([sys.executable, '-c', 'while True: pass'])
    try:
        yield
    finally:
        neighbour.kill()
        neighbour.wait(10)


@contextlib.contextmanager
def refresh_token_mode(lane: Lane, single_use: bool) -> Iterator[None]:
    lane.admin('POST', '/settings', json={'refresh_token_single_use': single_use})
    try:
        yield
    finally:
        lane.admin('POST', '/settings', json={'refresh_token_single_use': False})


class Chaos(threading.Thread):
    """Expires access tokens (in the cache and at the emulator) and checks the context, until stopped."""

    def __init__(self, lane: Lane, instance) -> None:
        super().__init__(daemon=True)
        self.lane, self.instance = lane, instance
        self.stop = threading.Event()
        self.reads = 0
        self.problems: list[str] = []

    def run(self) -> None:
        turn = 0
        while not self.stop.is_set():
            turn += 1
            if turn % 3 == 0:
                self.lane.admin('POST', '/tokens/expire-all')
            else:
                age_tokens(self.lane.store(self.instance), seconds_left=30)
            for _ in range(5):
                self.reads += 1
                problem = context_problem(self.lane.store(self.instance).get_context()['context'])
                if problem:
                    self.problems.append(problem)
                time.sleep(0.05)


@pytest.mark.parametrize('mode', list(MODES))
@pytest.mark.parametrize('name', list(WORKLOADS))
def test_twenty_processes_while_tokens_expire_and_rotate(lanes, ledger, name, mode):
    """Given a signed-in device-code instance and a busy CPU, When 20 processes run commands and fetch while tokens
    expire, Then none fails, the context is always well formed and the refresh token left in the cache still works."""
    lane = lanes[list(WORKLOADS).index(name) % len(lanes)]
    with busy_neighbour(), refresh_token_mode(lane, MODES[mode]):
        run_case(lane, ledger, name, mode)


def run_case(lane: Lane, ledger, name: str, mode: str) -> None:
    lane.server.faults.clear()
    lane.admin('POST', '/xdr/reset')     # the seeded incidents the workload reads, whatever ran on this lane before
    instance = lane.instance(name, 'device-code')
    lane.store(instance).set_context({})
    signed_in = run_fresh(lane, instance, START[name], {})
    assert not signed_in.has_error, signed_in.errors
    workload = WORKLOADS[name]
    results: list[tuple[str, RunResult]] = []
    lock = threading.Lock()

    def slot(index: int) -> None:
        for turn in range(ROUNDS):
            command, args = workload[(index + turn) % len(workload)]
            result = run_fresh(lane, instance, command, args)
            with lock:
                results.append((command, result))

    lane.server.log.clear()
    chaos = Chaos(lane, instance)
    chaos.start()
    threads = [threading.Thread(target=slot, args=(i,)) for i in range(PROCESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    chaos.stop.set()
    chaos.join(30)

    refreshes = [e for e in lane.server.requests() if e.get('grant_type') == 'refresh_token']
    failed = [f'{command}: {result.errors[:1]}' for command, result in results if result.has_error]
    for command, result in results:
        ledger.record(AREA, f'{PROCESSES} processes, commands and fetch mixed, tokens expiring',
                      f'{name} {command} ({mode} refresh tokens)', not result.has_error, str(result.errors[:1])[:200])
    ledger.record(AREA, 'integration context well formed at every read',
                  f'{name}, {mode} refresh tokens ({chaos.reads} reads)', not chaos.problems,
                  '; '.join(chaos.problems[:3]))

    before = refresh_token(lane, instance)
    # Expired outright: a token aged to "30 s left" soon after a refresh is still inside its half-life margin.
    age_tokens(lane.store(instance), seconds_left=-1)
    lane.server.log.clear()
    final = run_fresh(lane, instance, workload[0][0], workload[0][1])
    grants = [e.get('grant_type') for e in lane.server.requests() if e.get('host') == 'login']
    kept = not final.has_error and grants == ['refresh_token'] and refresh_token(lane, instance) != before
    ledger.record(AREA, '0 lost refresh tokens (the cached one still works afterwards)',
                  f'{name}, {mode} refresh tokens ({len(refreshes)} refreshes during the run)', kept,
                  f'final run: {final.errors[:1]}, grants {grants}')
    assert failed == [] and chaos.problems == [] and kept, (failed, chaos.problems, final.errors, grants)
    assert len(refreshes) >= 1
