"""Token reuse (benchmark 6), per-command overhead (benchmark 2) and the pending bulk row (benchmark 5)."""
from __future__ import annotations

import pytest

from bench import report
from bench.scenarios import (
    BULK_PENDING,
    BULK_SCENARIOS,
    MDE,
    TOKEN_SCENARIOS,
    bench_integrations,
    command_overhead,
    token_reuse,
)

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize('scenario', TOKEN_SCENARIOS, ids=lambda s: s.label)
def test_one_token_request_serves_five_processes(bench, scenario):
    """Given five executions in a row sharing an instance's state, Then the first makes exactly one token request
    (no discovery or metadata calls) and the other four reuse the cached token."""
    reuse = token_reuse(bench, scenario, processes=5)
    assert reuse.errors == []
    assert reuse.tokens_per_process == [1, 0, 0, 0, 0]
    assert reuse.api_requests == 5
    assert all(row.met for row in report.token_rows([reuse]))


def test_overhead_is_measured(bench):
    """Given a warm command, When timed against a bare interpreter importing the runtime, Then both medians exist."""
    integration = next(i for i in bench_integrations() if i.name == 'MicrosoftDefenderThreatIntelligence')
    overhead = command_overhead(bench, integration, runs=1)
    assert overhead.command.endswith('auth-test')
    assert overhead.command_median_s > 0 and overhead.bare_median_s > 0
    [row] = report.overhead_rows([overhead])
    assert row.met is None and 'median of 1' in row.figure


def test_bulk_row_is_pending_until_a_scenario_exists():
    """Given no bulk scenario for Defender for Endpoint yet, Then the bulk benchmark is a pending row."""
    if any(b.integration == MDE for b in BULK_SCENARIOS):
        pytest.skip('the Defender for Endpoint bulk scenario replaces the pending row')
    [row] = report.bulk_rows(BULK_PENDING)
    assert row.figure == 'pending: Defender for Endpoint' and row.met is None
