"""Bulk action under rate limits (benchmark 5), small: Defender for Endpoint isolating 30 machines while the emulator
allows 20 calls per (scaled) minute. Counts are asserted; the wall time is only reported."""
from __future__ import annotations

import pytest

from bench import report
from bench.scenarios import BULK_SCENARIOS, MDE, BulkFigures, mde_bulk_isolation

# serial: the scaled rate-limit minute is wall time, so the test has the machine to itself (make runs it alone).
pytestmark = [pytest.mark.e2e, pytest.mark.serial]

MACHINES, LIMIT, TIME_SCALE = 30, 20, 0.05          # a 3-second minute


@pytest.fixture(scope='module')
def isolated(bench) -> BulkFigures:
    return mde_bulk_isolation(bench, machines=MACHINES, limit=LIMIT, time_scale=TIME_SCALE)


def test_every_machine_is_isolated_once_without_a_failed_call(isolated):
    """Given 30 machines and a limit of 20 calls a minute, When one command isolates them all and polls to the
    end, Then each machine gets exactly one accepted isolation request, every machine ends isolated, the limit was
    met (429s received and retried) and no call failed."""
    assert isolated.errors == []
    assert isolated.machines == isolated.isolations == isolated.isolated == MACHINES
    assert isolated.failed == 0
    assert isolated.throttled > 0, 'the limit should have been met at least once'
    assert isolated.accepted >= MACHINES


def test_floor_follows_the_limit(isolated):
    """Given the accepted calls, Then the floor is the whole windows the limit makes them wait, and the rows judge
    the failures and the isolations while the times are only measured."""
    assert isolated.window_s == pytest.approx(60 * TIME_SCALE)
    assert isolated.floor_s == pytest.approx(((isolated.accepted - 1) // LIMIT) * 60 * TIME_SCALE)
    rows = {row.item.rsplit(', ', 1)[1]: row for row in report.bulk_figure_rows(isolated)}
    assert rows['failed calls'].met is True and rows['machines isolated'].met is True
    assert rows['wall time'].met is None and rows['429s received'].met is None


def test_the_mde_scenario_is_listed():
    """Given the bulk scenarios, Then Defender for Endpoint's isolation is one of them (no pending row left)."""
    assert [b.integration for b in BULK_SCENARIOS] == [MDE]
