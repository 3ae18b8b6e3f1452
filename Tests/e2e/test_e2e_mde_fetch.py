"""Microsoft Defender for Endpoint fetch end to end: alerts with ties fetched in cycles through xsoar-local, new alerts
arriving between cycles and faults in the middle: no alert missed, none fetched twice, lastRun small."""
from __future__ import annotations

import json

import pytest

from microsoft_emulator.testing import admin
from xsoar_local.runner import run_fetch

pytestmark = pytest.mark.e2e

INTEGRATION = 'MicrosoftDefenderAdvancedThreatProtection'


def fetched_ids(results) -> list[str]:
    return [json.loads(i['rawJSON'])['id'] for r in results for i in (r.incidents or [])]


@pytest.fixture
def alerts_store(e2e_emulator):
    url, ca = e2e_emulator.url, str(e2e_emulator.ca_path)
    admin(url, 'POST', '/mde/reset', verify=ca)
    return url, ca


def all_matching(url, ca) -> list[str]:
    return [a['id'] for a in admin(url, 'GET', '/mde/alerts', verify=ca)
            if a['status'] in ('New', 'InProgress', 'Resolved')]


def fetch_cycles(run, instance, cycles: int) -> list:
    results = []
    for _ in range(cycles):
        cycle = run_fetch(run.integration, instance, 1, run.options)[0]
        results.append(cycle)
        if not cycle.has_error and not cycle.incidents:
            break
    return results


def test_fetch_ties_new_arrivals_and_faults(local_run, alerts_store, e2e_emulator):
    """Given alerts with ties, When fetching in small cycles with a 503 and a reset injected and a new alert at the
    checkpoint time, Then every alert is fetched exactly once."""
    url, ca = alerts_store
    admin(url, 'POST', '/mde/generate', verify=ca, json={'alerts': 300, 'alert_spacing_seconds': 30, 'tie_every': 5,
                                                         'tie_size': 4})
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret', isFetch=True, max_fetch='25', first_fetch_timestamp='30 days',
                            fetch_status='New,InProgress,Resolved')
    first = fetch_cycles(run, instance, 3)
    assert all(not r.has_error for r in first), [r.errors for r in first]
    last = json.loads(first[-1].incidents[-1]['rawJSON'])
    admin(url, 'POST', '/mde/alerts', verify=ca, json={'alertCreationTime': last['alertCreationTime'],
                                                       'status': 'New'})
    e2e_emulator.add_fault(path_prefix='/api/alerts', kind='status', status=503, count=1)
    e2e_emulator.add_fault(path_prefix='/api/alerts', kind='reset', count=1)
    rest = fetch_cycles(run, instance, 60)
    ids = fetched_ids(first + rest)
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(all_matching(url, ca))
    last_run = run.store(instance).get_last_run()
    assert last_run and len(json.dumps(last_run)) < 2000
