"""The pytest side of `make test`'s bookkeeping and parallelism (registered by the root conftest).

* Counts: the session that reports results (the xdist controller, or the only process) records how many tests passed,
  failed and were skipped, plus the cases a suite declares in ``config.stash[CASES]`` (the reliability ledger), for
  the stage ``make`` named in ``SUITE_STAGE`` (see ``suite.counts``).
* State home: every session (each xdist worker is one) gets its own xsoar-local home unless ``XSOAR_LOCAL_HOME`` is
  set, so parallel workers never share instance state or an embedded emulator, and tests never touch a developer's
  ``.xsoar-local``.
* Grouping: under ``--dist loadgroup`` a test that uses a module- or class-scoped fixture stays on one worker with the
  rest of its module, so an expensive module fixture (a benchmark's measurement) is built once, not once per worker;
  every other test is scheduled on its own. xdist's own loadgroup cannot do this with pytest 9 (it renames node IDs
  through ``item._nodeid``, which pytest 9 no longer reads), so the workers write the groups they collected to a
  folder the controller named, and :class:`GroupScheduling` schedules by them.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from suite import counts

CASES = pytest.StashKey[int]()
_SHARED_SCOPES = ('module', 'class', 'package')
GROUPS_ENV = 'SUITE_XDIST_GROUPS'    # the folder where workers leave {node ID: group} for the controller


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
        if _grouping(config) and not os.environ.get(GROUPS_ENV):
            os.environ[GROUPS_ENV] = tempfile.mkdtemp(prefix='xdist-groups-')   # inherited by the workers


def pytest_unconfigure(config: pytest.Config) -> None:
    if not _is_xdist_worker(config) and _grouping(config) and os.environ.get(GROUPS_ENV):
        shutil.rmtree(os.environ.pop(GROUPS_ENV), ignore_errors=True)


def _grouping(config: pytest.Config) -> bool:
    return config.getoption('dist', 'no') == 'loadgroup' and bool(config.getoption('numprocesses', None))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    stage = counts.current_stage()
    tally = session.config.pluginmanager.get_plugin('suite-tally')
    if stage and isinstance(tally, _Tally):
        counts.record_session(stage, tally.passed, tally.failed, tally.skipped, session.config.stash.get(CASES, 0))


@pytest.hookimpl(tryfirst=True)   # before xdist's own hook reads the groups into the node IDs
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    groups = {item.nodeid: group for item in items if (group := _group_of(item))}
    folder = os.environ.get(GROUPS_ENV)
    if folder and _is_xdist_worker(config):
        worker = config.workerinput['workerid']  # type: ignore[attr-defined]
        (Path(folder) / f'{worker}.json').write_text(json.dumps(groups), encoding='utf-8')


def _group_of(item: pytest.Item) -> str | None:
    """An explicit ``xdist_group`` name, else the module when the test uses a module-, class- or package-scoped
    fixture; None: the test can go anywhere."""
    marker = item.get_closest_marker('xdist_group')
    if marker is not None:
        return str(marker.args[0] if marker.args else marker.kwargs.get('name', 'default'))
    fixtureinfo = getattr(item, '_fixtureinfo', None)
    definitions = [d for defs in fixtureinfo.name2fixturedefs.values() for d in defs] if fixtureinfo else []
    if any(d.scope in _SHARED_SCOPES for d in definitions):
        return item.nodeid.split('::')[0]
    return None


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if not _grouping(config):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        """Load scheduling where the tests of a group form one work unit and every other test is one on its own."""

        _groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self._groups is None:
                self._groups = {}
                for path in Path(os.environ[GROUPS_ENV]).glob('*.json'):
                    self._groups.update(json.loads(path.read_text(encoding='utf-8')))
            return self._groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)


@pytest.fixture(scope='session', autouse=True)
def session_state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    if os.environ.get('XSOAR_LOCAL_HOME'):
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('XSOAR_LOCAL_HOME', str(tmp_path_factory.mktemp('xsoar-local-home')))
        yield
