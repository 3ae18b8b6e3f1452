"""End-to-end fixtures: an HTTPS emulator for the session and a runner that executes commands through xsoar-local.

Everything here goes the way a customer's command goes: unified script, fresh process per execution, real HTTP(S)
to the emulator, state persisted between executions in a per-test .xsoar-local home.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_runtime import LocalRun

from microsoft_emulator.server import EmulatorServer
from microsoft_emulator.testing import admin

# Modules that need the whole machine (a rate-limit window measured in wall time): make runs them after the
# parallel tests, alone (the ``serial`` marker).
SERIAL_MODULES = frozenset({'test_e2e_mde_bulk.py'})


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).name in SERIAL_MODULES:
            item.add_marker(pytest.mark.serial)


@pytest.fixture(scope='session')
def e2e_emulator() -> Iterator[EmulatorServer]:
    """HTTPS emulator approving device codes and consents at once, as the embedded default does."""
    with EmulatorServer(tls=True, auto_approve=True) as server:
        yield server


@pytest.fixture
def local_run(e2e_emulator, tmp_path, monkeypatch) -> Iterator:
    """``local_run('MicrosoftAuthFixture')`` → a LocalRun with its own state home and a clean emulator log."""
    monkeypatch.setenv('XSOAR_LOCAL_HOME', str(tmp_path / 'home'))
    monkeypatch.setenv('XSOAR_LOCAL_TIME_SCALE', '0.01')
    e2e_emulator.log.clear()
    yield lambda name: LocalRun(e2e_emulator, name, tmp_path / 'home')
    e2e_emulator.faults.clear()


@pytest.fixture
def mde(e2e_emulator) -> tuple[str, str]:
    """The Defender for Endpoint store back to its seed, machine actions a step every 50 ms: (emulator URL, CA)."""
    url, ca = e2e_emulator.url, str(e2e_emulator.ca_path)
    admin(url, 'POST', '/mde/reset', verify=ca)
    admin(url, 'POST', '/mde/settings', verify=ca, json={'action_step_seconds': 0.05})
    return url, ca


@pytest.fixture
def seeded(e2e_emulator) -> tuple[str, str]:
    """The Defender XDR store (incidents behind both M365D back ends) back to its seed: (emulator URL, CA)."""
    url, ca = e2e_emulator.url, str(e2e_emulator.ca_path)
    admin(url, 'POST', '/xdr/reset', verify=ca)
    return url, ca
