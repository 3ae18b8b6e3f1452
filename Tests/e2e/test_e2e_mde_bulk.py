"""Defender for Endpoint bulk response under Microsoft's rate limits: isolating 100 machines through xsoar-local
against an emulator that enforces 100 calls a minute (windows scaled down so the test takes seconds)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_runtime import LocalRun

from microsoft_emulator.server import EmulatorServer
from microsoft_emulator.testing import admin

pytestmark = pytest.mark.e2e

INTEGRATION = 'MicrosoftDefenderAdvancedThreatProtection'
WINDOW_SCALE = 0.05   # a 60-second rate-limit window lasts 3 seconds


@pytest.fixture(scope='module')
def limited_emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(tls=True, auto_approve=True, rate_limits=True,
                        settings={'rate_limit_time_scale': WINDOW_SCALE}) as server:
        yield server


def test_isolating_100_machines_stays_inside_the_rate_limit(limited_emulator, tmp_path, monkeypatch):
    """Given 100 healthy machines and the documented 100 calls/minute limit, When one command isolates them all and
    polls to completion, Then every machine is isolated, no call fails for a reason other than throttling, and
    each isolation was requested exactly once (throttled calls are retried, never duplicated)."""
    monkeypatch.setenv('XSOAR_LOCAL_HOME', str(tmp_path / 'home'))
    monkeypatch.setenv('XSOAR_LOCAL_TIME_SCALE', '0.01')
    url, ca = limited_emulator.url, str(limited_emulator.ca_path)
    admin(url, 'POST', '/mde/generate', verify=ca, json={'machines': 80})
    admin(url, 'POST', '/mde/settings', verify=ca, json={'action_step_seconds': 0})
    targets = [m['id'] for m in admin(url, 'GET', '/mde/machines', verify=ca) if not m.get('broken')][:100]
    assert len(targets) == 100
    run = LocalRun(limited_emulator, INTEGRATION, tmp_path / 'home')
    run.options.timeout_s = 600
    limited_emulator.log.clear()

    result = run.run(run.instance('client-secret'), 'microsoft-atp-isolate-machine', machine_id=','.join(targets),
                     comment='Bulk containment', isolation_type='Full', polling='true')

    assert result.crash is None and result.errors == [], result.errors[:1]
    api_calls = run.requests(('mde',))
    isolations = [e for e in api_calls if e['method'] == 'POST' and e['path'].endswith('/isolate')]
    accepted = [e for e in isolations if e['status'] == 201]
    assert len(accepted) == 100
    assert {e['path'].split('/')[3] for e in accepted} == set(targets)
    assert [e for e in api_calls if e['status'] not in (200, 201, 429)] == []
    truth = {m['id']: m for m in admin(url, 'GET', '/mde/machines', verify=ca)}
    assert all(truth[t]['isolation'] == 'Full' for t in targets)
    throttled = [e for e in api_calls if e['status'] == 429]
    assert throttled, 'the scenario should have met the limit at least once'
