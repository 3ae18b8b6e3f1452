"""Reliability suite fixtures: the ledger every test records its cases in, and the summary at the end.

The suite runs as several pytest processes (``make reliability``: two xdist workers, then the serial tests), so the
ledger is gathered: each xdist worker hands its rows to the controller, each session that ``make`` started leaves
its rows under ``build/test-counts/reliability-ledgers/``, and the summary (``build/reliability.md``) is drawn from
all of them — the whole stage, not just the last session.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from suite import counts
from suite.plugin import CASES

from reliability.ledger import LEDGER, Ledger

REPORT = Path(__file__).resolve().parents[2] / 'build' / 'reliability.md'
LEDGERS = counts.COUNTS_DIR / 'reliability-ledgers'


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Every test under this folder belongs to the suite (`make reliability`)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(scope='session')
def ledger() -> Ledger:
    return LEDGER


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """An xdist worker finished: its rows join the controller's ledger."""
    LEDGER.merge(node.workeroutput.get('reliability_ledger', []))


def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, 'workeroutput', None)
    if workeroutput is not None:
        workeroutput['reliability_ledger'] = LEDGER.dump()
        return
    session.config.stash[CASES] = LEDGER.cases
    if counts.current_stage() and LEDGER.rows:
        LEDGERS.mkdir(parents=True, exist_ok=True)
        (LEDGERS / f'{uuid.uuid4().hex[:8]}.json').write_text(json.dumps(LEDGER.dump()), encoding='utf-8')


def _stage_ledger() -> Ledger:
    """This session's rows, or (under make) every session's of the stage."""
    if not counts.current_stage() or not LEDGERS.exists():
        return LEDGER
    combined = Ledger()
    for path in sorted(LEDGERS.glob('*.json')):
        combined.merge(json.loads(path.read_text(encoding='utf-8')))
    return combined


def pytest_terminal_summary(terminalreporter):
    if not LEDGER.rows or hasattr(terminalreporter.config, 'workerinput'):
        return
    summary = _stage_ledger()
    summary.write(REPORT)
    terminalreporter.write_sep('=', 'reliability and security summary')
    terminalreporter.write_line(summary.markdown())
    terminalreporter.write_line(f'(written to {REPORT})')


@pytest.fixture(scope='session')
def lanes(tmp_path_factory):
    """Emulator + state home + long-lived worker per lane (reliability.lanes), shared by the fault tests. Two per
    session even when every xdist worker is a session: the slowest fault cases wait for HTTP timeouts, not for the
    CPU, and a hang case over every command takes half as long on two lanes."""
    from contextlib import ExitStack

    from reliability.lanes import LANES, open_lanes

    with ExitStack() as stack, pytest.MonkeyPatch.context() as patch:
        patch.setenv('XSOAR_LOCAL_TIME_SCALE', '0.01')   # polling waits, as in the e2e tests
        yield open_lanes(stack, tmp_path_factory.mktemp('lanes'), LANES)



@pytest.fixture(scope='session')
def hostile(emulator_tls, tmp_path_factory):
    """``hostile(integration)``: the hostile-input tests' runner for that integration (reliability.hostile_runtime),
    one per session with its own state home, so its token stays cached across the session's cases."""
    from reliability.hostile_runtime import HostileRunner

    homes = tmp_path_factory.mktemp('hostile')
    runners: dict[str, HostileRunner] = {}

    def runner(integration: str) -> HostileRunner:
        if integration not in runners:
            runners[integration] = HostileRunner(integration, emulator_tls, homes / integration)
        return runners[integration]
    return runner
