"""The pytest side of `make test`'s bookkeeping and parallelism (registered by the root conftest).

* Counts: the session that reports results (the xdist controller, or the only process) records how many tests passed,
  failed and were skipped, plus the cases a suite declares in ``config.stash[CASES]`` (the reliability ledger), for
  the stage ``make`` named in ``SUITE_STAGE`` (see ``suite.counts``).
* State home: every session (each xdist worker is one) gets its own xsoar-local home unless ``XSOAR_LOCAL_HOME`` is
  set, so parallel workers never share instance state or an embedded emulator, and tests never touch a developer's
  ``.xsoar-local``.
* Grouping: under ``--dist loadgroup`` a test that uses a module- or class-scoped fixture stays on one worker with the
  rest of its module, so an expensive module fixture (a benchmark's measurement) is built once, not once per worker.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from suite import counts

CASES = pytest.StashKey[int]()
_SHARED_SCOPES = ('module', 'class', 'package')


class _Tally:
    def __init__(self) -> None:
        self.passed = self.failed = self.skipped = 0

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == 'call':
            self.passed += int(report.passed)
            self.failed += int(report.failed)
        elif report.failed:
            self.failed += 1       # an error in setup or teardown
        if report.skipped:
            self.skipped += 1


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, 'workerinput')


def pytest_configure(config: pytest.Config) -> None:
    # Known to pytest even when xdist is disabled (-p no:xdist), where the grouping simply has no effect.
    config.addinivalue_line('markers', 'xdist_group(name): run on the same xdist worker as the rest of the group')
    if not _is_xdist_worker(config):
        config.pluginmanager.register(_Tally(), 'suite-tally')


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    stage = counts.current_stage()
    tally = session.config.pluginmanager.get_plugin('suite-tally')
    if stage and isinstance(tally, _Tally):
        counts.record_session(stage, tally.passed, tally.failed, tally.skipped, session.config.stash.get(CASES, 0))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtureinfo = getattr(item, '_fixtureinfo', None)
        if fixtureinfo is None:
            continue
        definitions = [d for defs in fixtureinfo.name2fixturedefs.values() for d in defs]
        if any(d.scope in _SHARED_SCOPES for d in definitions):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split('::')[0]))


@pytest.fixture(scope='session', autouse=True)
def session_state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    if os.environ.get('XSOAR_LOCAL_HOME'):
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('XSOAR_LOCAL_HOME', str(tmp_path_factory.mktemp('xsoar-local-home')))
        yield
