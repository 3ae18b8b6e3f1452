"""Fetch under faults: every fetching integration (Microsoft 365 Defender on both back ends, Defender for Endpoint)
fetches a multi-page backlog in cycles; a fault hits each page of a cycle in turn, and one cycle's process is killed
mid-way. Fetching then resumes. Across all cycles nothing is fetched twice and nothing is missed."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reliability.harness import Lane, integration, verdict
from xsoar_local.runner import RunResult, run_fetch

AREA = 'Fetch under faults'
PAGE_FAULTS: list[dict[str, Any]] = [
    {'kind': 'status', 'status': 500, 'count': 'always'},
    {'kind': 'reset', 'count': 'always'},
    {'kind': 'status', 'status': 429, 'retry_after': 2, 'count': 'always'},
    {'kind': 'hang', 'hang_seconds': 20, 'count': 'always'},
]
MAX_CYCLES = 60


@dataclass(frozen=True)
class Setup:
    label: str
    integration: str
    host: str
    path_prefix: str
    pages: int          # API requests one cycle makes (max_fetch over the page size)
    overrides: dict


SETUPS = [
    Setup('Microsoft 365 Defender, Defender XDR API', 'Microsoft365Defender', 'm365d', '/api/incidents', 3,
          {'api_backend': 'Defender XDR API (legacy)', 'max_fetch': '250', 'first_fetch': '3 days'}),
    Setup('Microsoft 365 Defender, Graph security API', 'Microsoft365Defender', 'graph', '/v1.0/security/incidents', 3,
          {'api_backend': 'Microsoft Graph security', 'max_fetch': '120', 'first_fetch': '3 days'}),
    Setup('Defender for Endpoint', 'MicrosoftDefenderAdvancedThreatProtection', 'mde', '/api/alerts', 1,
          {'isFetch': True, 'max_fetch': '60', 'first_fetch_timestamp': '30 days',
           'fetch_status': 'New,InProgress,Resolved'}),
]


def seed_backlog(lane: Lane, setup: Setup) -> None:
    if setup.integration == 'Microsoft365Defender':
        lane.admin('POST', '/xdr/reset')
        lane.admin('DELETE', '/xdr/incidents')
        start = (datetime.now(UTC) - timedelta(days=1)).strftime('%Y-%m-%dT%H:%M:%SZ')
        lane.admin('POST', '/xdr/generate', json={'count': 700, 'start': start, 'spacing_seconds': 20,
                                                   'tie_every': 5, 'tie_size': 3})
    else:
        lane.admin('POST', '/mde/reset')
        lane.admin('POST', '/mde/generate', json={'alerts': 300, 'alert_spacing_seconds': 30, 'tie_every': 5,
                                                   'tie_size': 4})


def ground_truth(lane: Lane, setup: Setup) -> list[str]:
    if setup.integration == 'Microsoft365Defender':
        return [str(i['incidentId']) for i in lane.admin('GET', '/xdr/incidents')]
    return [a['id'] for a in lane.admin('GET', '/mde/alerts') if a['status'] in ('New', 'InProgress', 'Resolved')]


def fetched_ids(results: list[RunResult], key: str) -> list[str]:
    """IDs the server would have created: only cycles that ended without an error hand their incidents over."""
    ids = []
    for result in results:
        if result.has_error:
            continue
        for incident in result.incidents or []:
            raw = json.loads(incident['rawJSON'])
            ids.append(str(raw[key]))
    return ids


def fetch_verdict(result: RunResult) -> tuple[bool, str]:
    """Like any command, except that a failed fetch raises (CommonServerPython's return_error does so for
    fetch-incidents, so the server marks the fetch as failed and shows the message): that raise is the clear error."""
    if result.crash and 'Failed to execute fetch-incidents command' in result.crash:
        message = result.crash.split('Failed to execute fetch-incidents command', 1)[1].strip(' .\n')
        return (True, '') if message else (False, 'a fetch error without a message')
    return verdict(result)


def cycle(lane: Lane, instance, http_timeout: float | None = None) -> RunResult:
    lane.worker.limits.http_timeout = http_timeout
    return run_fetch(integration(instance.integration), instance, 1, lane.options())[0]


def killed_cycle(lane: Lane, setup: Setup, instance) -> RunResult:
    """A cycle whose process is killed while a page is being served slowly: after the first page when a cycle
    reads several, during the only one otherwise."""
    lane.server.log.clear()
    slow_page = 1 if setup.pages > 1 else 0
    lane.admin('POST', '/faults', json={'host': setup.host, 'path_prefix': setup.path_prefix, 'kind': 'latency',
                                        'latency_ms': 5000, 'skip': slow_page, 'count': 1})
    box: list[RunResult] = []
    runner = threading.Thread(target=lambda: box.append(cycle(lane, instance)))
    runner.start()
    deadline = time.monotonic() + 30
    while slow_page and time.monotonic() < deadline and not any(
            e.get('host') == setup.host and e.get('status') for e in lane.server.requests()):
        time.sleep(0.05)
    time.sleep(0.3 if slow_page else 1.5)
    lane.worker.stop()          # the command's child process dies mid-cycle
    runner.join(60)
    lane.server.faults.clear()
    return box[0]


def fetch_with_faults(lane: Lane, ledger, setup: Setup) -> tuple[list[RunResult], list[str]]:
    """First a clean cycle, then a cycle per (page, fault), a killed cycle, then clean cycles until done."""
    instance = lane.instance(setup.integration, 'client-secret', **setup.overrides)
    lane.store(instance).set_last_run({})
    results = [cycle(lane, instance)]
    problems = []
    for page in range(setup.pages):
        for fault in PAGE_FAULTS:
            lane.server.faults.clear()
            lane.admin('POST', '/faults', json=fault | {'host': setup.host, 'path_prefix': setup.path_prefix,
                                                        'skip': page})
            faulted = cycle(lane, instance, http_timeout=0.5 if fault['kind'] == 'hang' else None)
            lane.server.faults.clear()
            held, reason = fetch_verdict(faulted)
            ledger.record(AREA, 'a fault at each page of a cycle (500, reset, 429, hang)',
                          f'{setup.label}, page {page + 1}, {fault["kind"]}', held, reason)
            problems += [] if held else [f'page {page + 1} {fault["kind"]}: {reason}']
            results.append(faulted)
    killed = killed_cycle(lane, setup, instance)
    if not killed.has_error:
        problems.append('the killed cycle was reported as a success')
    results.append(killed)
    for _ in range(MAX_CYCLES):
        results.append(cycle(lane, instance))
        if not results[-1].has_error and not results[-1].incidents:
            break
    return results, problems


@pytest.mark.parametrize('setup', SETUPS, ids=[s.label for s in SETUPS])
def test_fetch_resumes_without_duplicates_or_misses(lanes, ledger, setup):
    """Given a multi-page backlog, When faults hit each page of a cycle and a cycle's process is killed, Then fetching
    resumes and, across all cycles, every incident is fetched exactly once."""
    lane = lanes[SETUPS.index(setup) % len(lanes)]
    seed_backlog(lane, setup)
    results, problems = fetch_with_faults(lane, ledger, setup)
    ids = fetched_ids(results, 'incidentId' if setup.integration == 'Microsoft365Defender' else 'id')
    truth = ground_truth(lane, setup)
    duplicates = len(ids) - len(set(ids))
    missed = sorted(set(truth) - set(ids))
    extra = sorted(set(ids) - set(truth))
    ledger.record(AREA, 'process killed mid-cycle, then fetch resumed to the end', setup.label,
                  not problems and not results[-1].has_error, '; '.join(problems) or str(results[-1].errors[:1]))
    ledger.record(AREA, '0 duplicates across all cycles', setup.label, duplicates == 0, f'{duplicates} duplicates')
    ledger.record(AREA, '0 misses against the ground truth', setup.label, not missed and not extra,
                  f'missed {missed[:5]}, unknown {extra[:5]}')
    assert problems == [] and duplicates == 0 and missed == [] and extra == []
    assert not results[-1].has_error, results[-1].errors
