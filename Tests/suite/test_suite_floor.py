"""The last step of `make test`: no stage may count fewer tests or cases than the checked-in floor (floor.json).

Marked ``counts``: it judges the figures the stages just recorded, so `make unit` leaves it out and `make test` runs
it after every stage. The other tests here check the bookkeeping itself and run with the unit tests.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from suite import counts


@pytest.mark.counts
def test_every_stage_is_at_or_above_its_floor():
    """
    Given the figures the unit, e2e and reliability stages of this `make test` recorded
    When compared with floor.json
    Then none is lower (a lost parametrization or an uncollected file shows up here).
    """
    assert counts.shortfalls(counts.totals(), counts.floor()) == []


def test_sessions_of_a_stage_add_up(tmp_path: Path):
    """
    Given a stage run as two sessions (parallel, then serial) and another stage's time
    When the totals are read
    Then the stage's figures are the sums, and the wall time belongs to its stage.
    """
    counts.record_session('e2e', tests=150, failed=0, skipped=1, directory=tmp_path)
    counts.record_session('e2e', tests=6, failed=0, skipped=0, directory=tmp_path)
    counts.record_session('reliability', tests=40, failed=0, skipped=0, cases=10_200, directory=tmp_path)
    counts.record_time('e2e', 301.04, directory=tmp_path)
    totals = counts.totals(tmp_path)
    assert (totals['e2e'].tests, totals['e2e'].skipped, totals['e2e'].wall_s) == (156, 1, 301.0)
    assert list(totals) == ['e2e', 'reliability']
    assert 'e2e' in counts.table(totals) and '301 s' in counts.table(totals)


def test_a_figure_under_the_floor_is_named(tmp_path: Path):
    """
    Given reliability cases under the floor and no unit stage at all
    When compared with the floor
    Then both are reported, with what was counted.
    """
    counts.record_session('reliability', tests=40, failed=0, skipped=0, cases=9_000, directory=tmp_path)
    found = counts.shortfalls(counts.totals(tmp_path), {'unit': 10, 'reliability': 10_000})
    assert found == ['unit: 0 tests, the floor is 10', 'reliability: 9000 cases, the floor is 10000']


def test_clearing_a_stage_keeps_the_others(tmp_path: Path):
    """
    Given figures of two stages
    When one is cleared before it runs again
    Then only its figures go.
    """
    counts.record_session('unit', tests=1, failed=0, skipped=0, directory=tmp_path)
    counts.record_session('e2e', tests=2, failed=0, skipped=0, directory=tmp_path)
    counts.clear('unit', tmp_path)
    assert list(counts.totals(tmp_path)) == ['e2e']
