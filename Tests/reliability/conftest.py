"""Reliability suite fixtures: the ledger every test records its cases in, and the summary at the end."""
from __future__ import annotations

from pathlib import Path

import pytest

from reliability.ledger import LEDGER, Ledger

REPORT = Path(__file__).resolve().parents[2] / 'build' / 'reliability.md'


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


def pytest_terminal_summary(terminalreporter):
    if not LEDGER.rows:
        return
    LEDGER.write(REPORT)
    terminalreporter.write_sep('=', 'reliability and security summary')
    terminalreporter.write_line(LEDGER.markdown())
    terminalreporter.write_line(f'(written to {REPORT})')


@pytest.fixture(scope='session')
def lanes(tmp_path_factory):
    """Emulator + state home + long-lived worker, one per core (reliability.lanes); shared by the fault tests."""
    from contextlib import ExitStack

    from reliability.lanes import open_lanes

    with ExitStack() as stack, pytest.MonkeyPatch.context() as patch:
        patch.setenv('XSOAR_LOCAL_TIME_SCALE', '0.01')   # polling waits, as in the e2e tests
        yield open_lanes(stack, tmp_path_factory.mktemp('lanes'))
