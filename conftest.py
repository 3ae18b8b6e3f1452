"""Root pytest configuration, in the content repository's style.

Every test fails if it leaves unexpected output on stdout/stderr or logs at WARNING or above: integration code must
not print (on the server, stdout is the entry channel), and warnings in tests usually mean a missed mock.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent

# The same import paths demisto-sdk puts on PYTHONPATH for a content repository.
_IMPORT_PATHS = [
    ROOT / 'Packs' / 'Base' / 'Scripts' / 'CommonServerPython',
    ROOT / 'Tests' / 'demistomock',
    *sorted((ROOT / 'Packs' / 'ApiModules' / 'Scripts').glob('*')),
    ROOT,
]
for _path in reversed(_IMPORT_PATHS):
    if _path.is_dir() and str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

# The emulator's fixtures (emulator, emulator_tls, emulator_reset) for every test in the repository, and make test's
# bookkeeping (counts per stage, a state home per session, xdist grouping of module fixtures: Tests/suite/plugin.py).
pytest_plugins = ['microsoft_emulator.pytest_plugin', 'suite.plugin']


@pytest.fixture(autouse=True)
def check_logging(caplog):
    """Fail on WARNING-or-above log records; a test that expects them calls caplog.clear()."""
    yield
    loud = [r for r in caplog.get_records('call') if r.levelno >= 30]
    if loud:
        pytest.fail('Unexpected log records at WARNING or above:\n' + '\n'.join(r.getMessage() for r in loud))


@pytest.fixture(autouse=True)
def check_std_out_err(capfd):
    """Fail on anything written to stdout or stderr; a test that expects output reads it with capfd."""
    yield
    out, err = capfd.readouterr()
    if out or err:
        pytest.fail(f'Unexpected output. stdout: {out!r} stderr: {err!r}')


def load_test_data(path: str | Path, base: str | Path | None = None):
    """Read a JSON (or text) file, relative to the calling test's directory when ``base`` is given."""
    full = Path(base).parent / path if base else Path(path)
    text = full.read_text(encoding='utf-8')
    return json.loads(text) if full.suffix == '.json' else text


@pytest.fixture
def test_data(request):
    """``test_data('x.json')`` reads ``test_data/x.json`` next to the test module."""
    folder = Path(request.fspath).parent / 'test_data'
    return lambda name: load_test_data(folder / name)


def pytest_sessionfinish(session, exitstatus):
    # A run that selects no test (e.g. `-m e2e` before any e2e test exists) is not a failure.
    if exitstatus == 5:
        session.exitstatus = 0
