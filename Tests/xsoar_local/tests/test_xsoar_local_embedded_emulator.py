"""xsoar-local without EMULATOR_URL: it starts the embedded emulator once, reuses it, and stops it on request."""
import json
import os
import time

import pytest

from xsoar_local import emulator
from xsoar_local.cli import main as cli_main

pytestmark = pytest.mark.e2e


@pytest.fixture
def fresh_home(tmp_path, monkeypatch):
    home = tmp_path / 'home'
    monkeypatch.setenv('XSOAR_LOCAL_HOME', str(home))
    for name in ('EMULATOR_URL', 'EMULATOR_CA'):
        monkeypatch.delenv(name, raising=False)
    yield home
    emulator.stop_emulator(home)


def _process_alive(pid: int) -> bool:
    """Alive and not a zombie (the emulator started in this test is our child until reaped)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def test_embedded_emulator_is_started_reused_and_stopped(fresh_home, capfd):
    """Given no EMULATOR_URL, When a command runs with the default instance file, Then xsoar-local starts the
    emulator (HTTPS), a second command reuses it, and `xsoar-local emulator stop` ends it."""
    assert cli_main(['run', 'MicrosoftAuthFixture', 'msauth-fixture-whoami', '--json']) == 0
    first = json.loads(capfd.readouterr().out)
    assert first['context']['MSAuthFixture']['WhoAmI']['client_id'] == '0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e'
    info = emulator.running_emulator(fresh_home)
    assert info is not None and info['url'].startswith('https://127.0.0.1:')

    assert cli_main(['run', 'MicrosoftAuthFixture', 'msauth-fixture-whoami', '--json']) == 0
    capfd.readouterr()
    assert emulator.running_emulator(fresh_home)['pid'] == info['pid']

    assert cli_main(['emulator', 'stop']) == 0
    capfd.readouterr()
    deadline = time.monotonic() + 15
    while _process_alive(info['pid']) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _process_alive(info['pid'])
