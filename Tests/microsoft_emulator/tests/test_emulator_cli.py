"""``microsoft-emulator serve`` as a process, and state that survives a restart."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from microsoft_emulator.server import EmulatorServer
from microsoft_emulator.testing import (
    CERT_APP_ID,
    MDE,
    SECRET_APP_ID,
    SECRET_APP_SECRET,
    TENANT_ID,
    XSOAR_M365D_APP_ID,
    access_token,
    admin,
)

TESTS_ROOT = Path(__file__).resolve().parents[2]


def serve(*args: str) -> tuple[subprocess.Popen, dict[str, str]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS_ROOT), os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.Popen([sys.executable, '-m', 'microsoft_emulator', 'serve', *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    announced: dict[str, str] = {}
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while 'EMULATOR_URL' not in announced or ('--tls' in args and 'EMULATOR_CA' not in announced):
        assert time.monotonic() < deadline, 'no announcement'
        line = proc.stdout.readline()
        assert line, f'the emulator exited: {proc.stderr.read() if proc.stderr else ""}'
        key, _, value = line.strip().partition('=')
        announced[key] = value
    return proc, announced


def stop(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    return proc.returncode, err


def test_serve_announces_answers_and_stops_on_sigterm(tmp_path):
    proc, announced = serve('--port', '0', '--state-dir', str(tmp_path / 'state'))
    try:
        url = announced['EMULATOR_URL']
        assert url.startswith('http://127.0.0.1:') and not url.endswith(':0')
        assert requests.get(f'{url}/_emulator/health', timeout=5).json() == {'status': 'ok'}
        assert access_token(url)
    finally:
        code, err = stop(proc)
    assert code == 0, err
    assert (tmp_path / 'state' / 'signing-key.pem').exists()


def test_serve_tls_with_auto_approve(tmp_path):
    proc, announced = serve('--tls', '--auto-approve', '--rate-limits', '--state-dir', str(tmp_path))
    try:
        url, ca = announced['EMULATOR_URL'], announced['EMULATOR_CA']
        assert url.startswith('https://') and Path(ca).is_file()
        assert requests.get(f'{url}/_emulator/ca.pem', verify=ca, timeout=5).text == Path(ca).read_text()
        with pytest.raises(requests.exceptions.SSLError):
            with requests.Session() as untrusting:
                untrusting.trust_env = False
                untrusting.get(f'{url}/_emulator/health', timeout=5)
        settings = admin(url, 'GET', '/settings', verify=ca)
        assert settings['auto_approve'] and settings['rate_limits']
    finally:
        code, err = stop(proc)
    assert code == 0, err


def test_state_survives_restart(tmp_path):
    with EmulatorServer(state_dir=tmp_path) as first:
        token = access_token(first.url, scope=f'{MDE}/.default')
        first.state.settings.update({'auto_approve': True})
        flow = requests.post(f'{first.url}/organizations/oauth2/v2.0/devicecode', timeout=5, data={
            'client_id': XSOAR_M365D_APP_ID, 'scope': 'offline_access https://security.microsoft.com/mtp/.default'})
        tokens = requests.post(f'{first.url}/organizations/oauth2/v2.0/token', timeout=5, data={
            'grant_type': 'urn:ietf:params:oauth:grant-type:device_code', 'client_id': XSOAR_M365D_APP_ID,
            'device_code': flow.json()['device_code']}).json()
        admin(first.url, 'POST', '/apps', json={'tenant_id': TENANT_ID, 'client_id': 'a1a1a1a1-0000-4000-8000-000000000001',
                                               'client_secret': 'kept', 'permissions': ['Machine.Scan']})
        thumbprint = admin(first.url, 'GET', f'/apps/{CERT_APP_ID}/certificate')['thumbprint_sha1']
    with EmulatorServer(state_dir=tmp_path) as second:
        assert second.url != '' and requests.get(f'{second.url}/_emulator/whoami', timeout=5,
                                                 headers={'Authorization': f'Bearer {token}'}).status_code == 200
        refreshed = requests.post(f'{second.url}/organizations/oauth2/v2.0/token', timeout=5, data={
            'grant_type': 'refresh_token', 'client_id': XSOAR_M365D_APP_ID, 'refresh_token': tokens['refresh_token']})
        assert refreshed.status_code == 200, refreshed.text
        assert access_token(second.url, client_id='a1a1a1a1-0000-4000-8000-000000000001', secret='kept')
        assert admin(second.url, 'GET', f'/apps/{CERT_APP_ID}/certificate')['thumbprint_sha1'] == thumbprint


def test_explicit_seed_is_remembered(tmp_path):
    seed = {'tenants': [{'id': '12345678-1234-4234-8234-123456789012', 'name': 'Tiny', 'domains': ['tiny.example'],
                         'users': [{'id': '22345678-1234-4234-8234-123456789012', 'user_principal_name': 'u@tiny.example'}]}],
            'apps': [{'client_id': '32345678-1234-4234-8234-123456789012', 'secrets': [{'value': 'tiny-secret'}],
                      'permissions': ['ThreatIntelligence.Read.All']}]}
    seed_file = tmp_path / 'seed.yml'
    seed_file.write_text(yaml.safe_dump(seed))
    state_dir = tmp_path / 'state'
    with EmulatorServer(seed=seed_file, state_dir=state_dir) as server:
        assert access_token(server.url, client_id='32345678-1234-4234-8234-123456789012', secret='tiny-secret',
                            tenant='tiny.example', scope='https://graph.microsoft.com/.default')
    with EmulatorServer(state_dir=state_dir) as server:
        assert server.state.get_app(SECRET_APP_ID) is None
        assert server.state.find_tenant('tiny.example') is not None
    with EmulatorServer(state_dir=tmp_path / 'fresh') as server:
        assert access_token(server.url, client_id=SECRET_APP_ID, secret=SECRET_APP_SECRET)


def test_bad_seed_is_rejected(tmp_path):
    from microsoft_emulator.state import SeedError

    with pytest.raises(SeedError, match='Not.A.Permission'):
        EmulatorServer(state_dir=tmp_path, seed={'tenants': [{'id': 't'}], 'apps': [{'permissions': ['Not.A.Permission']}]})
    with pytest.raises(SeedError, match='at least one tenant'):
        EmulatorServer(state_dir=tmp_path, seed={'apps': []})
    assert not (tmp_path / 'seed.json').exists()


def test_cli_reports_a_bad_seed(tmp_path):
    seed_file = tmp_path / 'bad.yml'
    seed_file.write_text('apps: []\n')
    env = dict(os.environ, PYTHONPATH=str(TESTS_ROOT))
    result = subprocess.run([sys.executable, '-m', 'microsoft_emulator.cli', 'serve', '--seed', str(seed_file),
                             '--state-dir', str(tmp_path / 's')], capture_output=True, text=True, env=env, timeout=30)
    assert result.returncode == 2 and 'at least one tenant' in result.stderr and result.stdout == ''
