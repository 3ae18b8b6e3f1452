"""Debug mode logs what a real server logs, and none of our secrets.

With debug-mode=true the platform library writes the instance parameters, the whole process environment and every
HTTP exchange (http.client's trace: request line, headers and body sent; status and headers received) to the log.
This drives MicrosoftApiModule (through the MDTI integration) in debug mode against the emulator over real HTTP, with
a LOG built the way the server builds it (after the parameters are known), and scans everything that was logged.

What the module cannot mask: values that are in the environment before any code of ours runs (for example an Azure
App Service IDENTITY_HEADER) are logged at start-up, before the module can register them; the module's README says so.
"""
from __future__ import annotations

import http.client
import sys
from pathlib import Path

import CommonServerPython
import demistomock as demisto
import pytest
from reliability.secrets_scan import SecretSet, find_jwts, find_leaks

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'Packs/MicrosoftDefenderThreatIntelligence/Integrations/'
                                'MicrosoftDefenderThreatIntelligence'))
import MicrosoftDefenderThreatIntelligence as mdti  # noqa: E402

CLIENT_SECRET = 'emulator-secret-value~0c1d2e3f4a5b'  # noqa: S105 - the emulator's seeded test app


@pytest.fixture
def debug_run(emulator, mocker, monkeypatch):
    """A server-like debug-mode start: parameters known, LOG built from them, tracing on; restored afterwards."""
    params = {'azure_cloud': 'Custom', 'login_url': emulator.url, 'graph_url': emulator.url,
              'client_credentials': True, 'app_id': '0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e',
              'tenant_id': '8a5e3f1c-6d2b-4e9a-b7c4-1f0d2e3a4b5c', 'credentials': {'password': CLIENT_SECRET}}
    mocker.patch.object(demisto, 'params', return_value=params)
    debug_lines = mocker.patch.object(demisto, 'debug')
    monkeypatch.setattr(demisto, 'is_debug', True)
    monkeypatch.setattr(demisto, 'integrationContext', {})
    monkeypatch.setattr(CommonServerPython, 'LOG', CommonServerPython.IntegrationLogger(debug_logging=True))
    monkeypatch.setattr(http.client.HTTPConnection, 'debuglevel', 0)
    monkeypatch.setattr(http.client, 'print', print, raising=False)
    monkeypatch.setenv('DEBUG_SCAN_MARKER', 'visible-in-the-environment-dump')
    CommonServerPython.start_debug_logging()
    yield params, debug_lines
    CommonServerPython.LOG.messages.clear()


def logged_text(debug_lines) -> str:
    lines = [str(call.args[0]) for call in debug_lines.call_args_list if call.args]
    return '\n'.join(lines + CommonServerPython.LOG.messages)


def test_debug_mode_logs_parameters_environment_and_http_but_no_secret(debug_run, requests_mock):
    """Given debug mode and a client-secret instance, When the module signs in and calls Graph over HTTP, Then the
    log holds the parameters, the environment and the HTTP trace, and neither the client secret (in any encoding)
    nor any token."""
    params, debug_lines = debug_run
    requests_mock.real_http = True  # everything goes to the emulator for real, through http.client
    client = mdti.build_client(params)
    try:
        client.get_host_reputation('203.0.113.66')
    except Exception:  # noqa: BLE001, S110 - the emulator may not know the host; the sign-in and request happened
        pass
    text = logged_text(debug_lines)
    assert '#### Params:' in text and 'visible-in-the-environment-dump' in text
    assert "send: b'POST " in text and 'grant_type=client_credentials' in text  # the token request was traced
    assert 'Authorization: Bearer <XX_REPLACED>' in text  # the Graph call was traced, its token masked
    secrets = SecretSet()
    secrets.add(CLIENT_SECRET, 'client secret')
    assert find_leaks(text, secrets) == []
    assert find_jwts(text) == []
