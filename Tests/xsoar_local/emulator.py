"""The embedded Microsoft emulator behind ``xsoar-local`` when no real tenant is configured.

If ``EMULATOR_URL`` is set, that emulator is used. Otherwise xsoar-local starts one in the background (TLS, device
codes and consents approved automatically) with its state in ``.xsoar-local/emulator/`` and reuses it on later
invocations, so a flow that spans several commands (auth-start, then auth-complete) sees one tenant.
``xsoar-local emulator stop`` ends it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from .state import state_home

START_TIMEOUT_S = 60


class EmulatorError(RuntimeError):
    """The embedded emulator could not be started or reached."""


def _info_path(home: Path) -> Path:
    return home / 'emulator' / 'server.json'


def _alive(info: dict) -> bool:
    try:
        os.kill(int(info['pid']), 0)
    except (OSError, KeyError, ValueError):
        return False
    try:
        verify = info.get('ca') or True
        return requests.get(f'{info["url"]}/_emulator/ca.pem', timeout=3, verify=verify).ok
    except requests.RequestException:
        return False


def running_emulator(home: Path | None = None) -> dict | None:
    path = _info_path(home or state_home())
    if not path.exists():
        return None
    info = json.loads(path.read_text(encoding='utf-8'))
    return info if _alive(info) else None


def _read_announcement(log_path: Path, proc: subprocess.Popen) -> dict:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        found = {}
        if log_path.exists():
            for line in log_path.read_text(encoding='utf-8', errors='replace').splitlines():
                key, _, value = line.partition('=')
                if key in ('EMULATOR_URL', 'EMULATOR_CA'):
                    found[key] = value.strip()
        if 'EMULATOR_URL' in found and 'EMULATOR_CA' in found:
            return found
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    tail = log_path.read_text(encoding='utf-8', errors='replace')[-2000:] if log_path.exists() else ''
    raise EmulatorError(f'The Microsoft emulator did not start within {START_TIMEOUT_S} s.\n{tail}')


def start_emulator(home: Path | None = None) -> dict:
    home = home or state_home()
    folder = home / 'emulator'
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / 'server.log'
    with open(log_path, 'w', encoding='utf-8') as log:
        proc = subprocess.Popen(
            [sys.executable, '-m', 'microsoft_emulator.cli', 'serve', '--tls', '--auto-approve',
             '--state-dir', str(folder / 'state')],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    announced = _read_announcement(log_path, proc)
    info = {'pid': proc.pid, 'url': announced['EMULATOR_URL'], 'ca': announced['EMULATOR_CA']}
    _info_path(home).write_text(json.dumps(info), encoding='utf-8')
    return info


def stop_emulator(home: Path | None = None) -> bool:
    path = _info_path(home or state_home())
    if not path.exists():
        return False
    info = json.loads(path.read_text(encoding='utf-8'))
    path.unlink()
    try:
        os.kill(int(info['pid']), signal.SIGTERM)
    except (OSError, KeyError, ValueError):
        return False
    return True


def emulator_env(home: Path | None = None) -> dict[str, str]:
    """EMULATOR_URL/EMULATOR_CA for instance files, plus REQUESTS_CA_BUNDLE so scripts verify its certificate."""
    if os.environ.get('EMULATOR_URL'):
        env = {'EMULATOR_URL': os.environ['EMULATOR_URL'], 'EMULATOR_CA': os.environ.get('EMULATOR_CA', '')}
    else:
        info = running_emulator(home) or start_emulator(home)
        env = {'EMULATOR_URL': info['url'], 'EMULATOR_CA': info['ca']}
    if env['EMULATOR_CA']:
        env['REQUESTS_CA_BUNDLE'] = env['EMULATOR_CA']
    return env
