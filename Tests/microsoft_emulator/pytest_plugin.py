"""pytest fixtures for the Microsoft emulator.

Register with ``pytest_plugins = ['microsoft_emulator.pytest_plugin']`` in the root conftest (or star-import it
from a conftest; both together are fine).

* ``emulator``       - session-scoped :class:`EmulatorServer`, plain HTTP, auto-approve off;
* ``emulator_tls``   - session-scoped, HTTPS (``.ca_path`` is the CA bundle; msal needs https authorities);
* ``emulator_reset`` - function-scoped: resets every emulator the session started (state, faults, request log,
  rate-limit counters and settings) before and after the test; call it to reset in the middle of a test.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from microsoft_emulator.server import EmulatorServer

__all__ = ['emulator', 'emulator_reset', 'emulator_tls']

_STARTED: list[EmulatorServer] = []


def _start(**kwargs) -> EmulatorServer:
    server = EmulatorServer(**kwargs).start()
    _STARTED.append(server)
    return server


@pytest.fixture(scope='session')
def emulator() -> Iterator[EmulatorServer]:
    server = _start(tls=False)
    yield server
    server.stop()
    _STARTED.remove(server)


@pytest.fixture(scope='session')
def emulator_tls() -> Iterator[EmulatorServer]:
    server = _start(tls=True)
    yield server
    server.stop()
    _STARTED.remove(server)


def _reset_all() -> None:
    for server in list(_STARTED):
        server.reset()


@pytest.fixture
def emulator_reset() -> Iterator[Callable[[], None]]:
    _reset_all()
    yield _reset_all
    _reset_all()
