"""Token reuse (benchmark 6) and per-command overhead (benchmark 2)."""
from __future__ import annotations

import pytest

from bench import report
from bench.scenarios import TOKEN_SCENARIOS, bench_integrations, command_overhead, token_reuse

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


@pytest.mark.serial   # a timing: measured with the machine to itself
def test_overhead_is_measured(bench):
    """Given a warm command, When timed against a bare interpreter importing the runtime, Then both medians exist."""
    integration = next(i for i in bench_integrations() if i.name == 'MicrosoftDefenderThreatIntelligence')
    overhead = command_overhead(bench, integration, runs=1)
    assert overhead.command.endswith('auth-test')
    assert overhead.command_median_s > 0 and overhead.bare_median_s > 0
    [row] = report.overhead_rows([overhead])
    assert row.met is None and 'median of 1' in row.figure
