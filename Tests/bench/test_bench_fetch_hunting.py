"""Fetch throughput (benchmark 3) and advanced hunting (benchmark 4) at small sizes: exact request counts,
completeness, lastRun size; the times and memory figures are only checked to exist."""
from __future__ import annotations

import math

import pytest

from bench import report
from bench.scenarios import FETCH_SCENARIOS, LAST_RUN_LIMIT, LEGACY, advanced_hunting, fetch_throughput

pytestmark = pytest.mark.e2e

INCIDENTS = 300


@pytest.fixture(scope='module', params=FETCH_SCENARIOS, ids=lambda s: s.label)
def fetched(bench, request):
    return fetch_throughput(bench, request.param, INCIDENTS)


def test_fetch_is_complete_and_light(fetched):
    """Given a 300-incident backlog with ties (MDE: 300 alerts, plus any seeded alert of the last three days), When
    fetched in cycles until one returns nothing, Then every incident comes exactly once, one token serves every
    cycle and lastRun stays far below 64 KB."""
    assert fetched.errors == []
    assert fetched.incidents >= INCIDENTS
    assert fetched.fetched == fetched.unique == fetched.incidents
    assert fetched.token_requests == 1
    assert 0 < fetched.last_run_bytes < LAST_RUN_LIMIT
    assert fetched.peak_kb > 0 and fetched.seconds > 0
    assert fetched.minimum == math.ceil(fetched.incidents / fetched.page_size) + fetched.cycles


def test_fetch_uses_the_minimum_requests(fetched):
    """Given the same backlog, Then the API requests are at most ceil(N / page size) + cycles: windows sized from
    the observed density, paged with $skip, no page read twice."""
    assert fetched.api_requests <= fetched.minimum


def test_fetch_rows_judge_the_figures(fetched):
    """Given the measured fetch, When rendered, Then the request row's verdict follows the minimum formula and the
    lastRun row is met."""
    rows = {row.item.rsplit(', ', 1)[1]: row for row in report.fetch_rows([fetched], [])}
    assert rows['requests'].met is (fetched.api_requests <= fetched.minimum)
    assert rows['requests'].target.endswith(f'= {fetched.minimum}')
    assert rows['completeness'].met and rows['lastRun size'].met
    assert rows['peak memory'].met is None and rows['throughput'].met is None


@pytest.mark.parametrize('backend', ['Microsoft Graph security', LEGACY])
def test_hunting_returns_every_row_in_one_request(bench, backend):
    """Given DeviceEvents resized to 1,000 rows, When the whole table is hunted, Then one API request brings all the
    rows into the context and the entry's size is measured."""
    figures = advanced_hunting(bench, 1_000, backend)
    assert figures.errors == []
    assert (figures.rows, figures.api_requests) == (1_000, 1)
    assert figures.entry_bytes > figures.human_readable_bytes > 0
    assert figures.peak_kb > 0
