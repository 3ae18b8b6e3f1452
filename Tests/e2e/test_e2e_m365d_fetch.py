"""Microsoft 365 Defender fetch end to end: a 10,000-incident backlog with ties fetched in cycles through xsoar-local,
new incidents arriving between cycles and a fault in the middle: no incident missed, none fetched twice."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from microsoft_emulator.testing import admin
from xsoar_local.runner import run_fetch

pytestmark = pytest.mark.e2e

INTEGRATION = 'Microsoft365Defender'


def fetched_ids(results) -> list[int]:
    return [json.loads(i['rawJSON'])['incidentId'] for r in results for i in (r.incidents or [])]


def ground_truth(url: str, ca: str) -> list[int]:
    return [i['incidentId'] for i in admin(url, 'GET', '/xdr/incidents', verify=ca)]


@pytest.fixture
def empty_store(e2e_emulator):
    url, ca = e2e_emulator.url, str(e2e_emulator.ca_path)
    admin(url, 'POST', '/xdr/reset', verify=ca)
    admin(url, 'DELETE', '/xdr/incidents', verify=ca)
    return url, ca


def fetch_until_done(run, instance, max_cycles: int) -> tuple[list, list[int]]:
    results = []
    for _ in range(max_cycles):
        cycle = run_fetch(run.integration, instance, 1, run.options)[0]
        results.append(cycle)
        if not cycle.has_error and not cycle.incidents:
            break
    return results, fetched_ids(results)


@pytest.mark.parametrize('backend, count, max_fetch', [
    ('Defender XDR API (legacy)', 10_000, '1000'),
    ('Microsoft Graph security', 3_000, '500'),
])
def test_backlog_with_ties_and_new_arrivals(local_run, empty_store, backend, count, max_fetch):
    """Given a backlog with ties, When fetching in cycles while new incidents arrive (one sharing the checkpoint
    time), Then every incident is fetched exactly once, oldest first, and lastRun stays small."""
    url, ca = empty_store
    start = (datetime.now(UTC) - timedelta(days=2)).strftime('%Y-%m-%dT%H:%M:%SZ')
    admin(url, 'POST', '/xdr/generate', verify=ca, json={'count': count, 'start': start, 'spacing_seconds': 10,
                                                          'tie_every': 7, 'tie_size': 3})
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret', api_backend=backend, max_fetch=max_fetch, first_fetch='3 days',
                            fetch_timeout='120')
    first = run_fetch(run.integration, instance, 2, run.options)
    assert all(not r.has_error for r in first), [r.errors for r in first]
    last_seen = admin(url, 'GET', f'/xdr/incidents/{fetched_ids(first)[-1]}', verify=ca)['createdTime']
    admin(url, 'POST', '/xdr/incidents', verify=ca, json={'createdTime': last_seen, 'incidentName': 'late tie'})
    admin(url, 'POST', '/xdr/incidents', verify=ca, json={'incidentName': 'brand new'})
    rest, ids = fetch_until_done(run, instance, 40)
    assert all(not r.has_error for r in rest), [r.errors for r in rest]
    ids = fetched_ids(first) + ids
    truth = ground_truth(url, ca)
    assert len(ids) == len(set(ids)), 'duplicates fetched'
    assert sorted(ids) == sorted(truth), f'missed: {sorted(set(truth) - set(ids))[:10]}'
    last_run = run.store(instance).get_last_run()
    assert len(json.dumps(last_run)) < 1000 and set(last_run) == {'checkpoint', 'seen_ids', 'window'}


@pytest.mark.parametrize('fault', [
    {'kind': 'status', 'status': 500, 'count': 6},
    {'kind': 'reset', 'count': 6},
])
def test_fault_mid_fetch_loses_nothing(local_run, empty_store, e2e_emulator, fault):
    """Given a fault on the incidents API in the middle of a fetch, When fetching continues, Then the failed cycle
    either errors without moving lastRun or hands over what it had, and in the end nothing is missed or repeated."""
    url, ca = empty_store
    start = (datetime.now(UTC) - timedelta(days=1)).strftime('%Y-%m-%dT%H:%M:%SZ')
    admin(url, 'POST', '/xdr/generate', verify=ca, json={'count': 1500, 'start': start, 'spacing_seconds': 5,
                                                          'tie_every': 4, 'tie_size': 2})
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret', api_backend='Defender XDR API (legacy)', max_fetch='400',
                            first_fetch='2 days')
    first = run_fetch(run.integration, instance, 1, run.options)
    e2e_emulator.add_fault(path_prefix='/api/incidents', method='GET', **fault)
    faulted = run_fetch(run.integration, instance, 1, run.options)
    rest, _ = fetch_until_done(run, instance, 20)
    ids = fetched_ids(first + faulted + rest)
    assert len(ids) == len(set(ids)), 'duplicates fetched'
    assert sorted(ids) == sorted(ground_truth(url, ca))
