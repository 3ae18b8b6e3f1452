"""Fixtures of the benchmark tests: one emulator and scratch directory for the whole session."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.scenarios import Bench


@pytest.fixture(scope='session')
def bench() -> Iterator[Bench]:
    with Bench.start() as started:
        yield started
