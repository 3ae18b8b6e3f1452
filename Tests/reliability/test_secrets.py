"""Secrets: every auth flow of every integration (each instance file in ``Tests/instances/<Integration>/``, the
auth fixture included) and every command example, successes and failures, with debug logging on, through
``xsoar-local`` (unified script, fresh process) against the emulator over HTTPS — then a scan of every entry,
context, log line, stderr and crash text, the integration contexts outside the token cache and every file written.

The secrets come from the instance files and from the emulator: app secrets, certificate private keys, the
token-proxy keys, the App Service identity header, authorization codes, device codes, refresh tokens and every JWT
the emulator signed (recorded as it signs). The scan also looks for their encoded forms (``secrets_scan``).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from microsoft_emulator.server import EmulatorServer
from microsoft_emulator.testing import federated_token
from microsoft_emulator.tokens import TokenService
from reliability.hostile_runtime import ROOT, integration_dir
from reliability.secrets_scan import SecretSet, find_jwts, find_leaks
from xsoar_local.commandline import read_examples
from xsoar_local.emulator import emulator_env
from xsoar_local.instances import Instance, build_instance, read_instance_file
from xsoar_local.integrations import find_integration
from xsoar_local.runner import RunOptions, RunResult, run_with_polling
from xsoar_local.state import InstanceStore

CACHE_KEY = 'microsoft_auth'
FIXTURE = 'MicrosoftAuthFixture'
INTEGRATIONS = {  # integration -> (command prefix, command that proves the sign-in)
    'Microsoft365Defender': ('microsoft-365-defender', 'microsoft-365-defender-auth-test'),
    'MicrosoftDefenderThreatIntelligence': ('msg-defender-threat-intel', 'msg-defender-threat-intel-auth-test'),
    'MicrosoftDefenderAdvancedThreatProtection': ('microsoft-atp', 'microsoft-atp-test'),
    FIXTURE: ('msauth-fixture', 'msauth-fixture-whoami'),
}
LOGIN_URL = re.compile(r'(https://\S+/oauth2/v2\.0/authorize\?[^\s)\]]+)')
API_PATHS = r'^/(api|v1\.0|beta|_emulator/whoami)'


class Session:
    """Everything the scan needs: the runs, the instances they used, the emulator and the secrets seen."""

    def __init__(self, server: EmulatorServer, home: Path, signed: list[str]) -> None:
        self.server, self.home, self.signed = server, home, signed
        self.env = emulator_env(home, url=server.url, ca=str(server.ca_path))
        self.options = RunOptions(env=self.env, home=home, timeout_s=120, debug=True)
        self.results: list[RunResult] = []
        self.instances: dict[str, Instance] = {}
        self.secrets = SecretSet()
        self.federated = ''

    def instance(self, integration: str, flow: str, name: str | None = None, **overrides: Any) -> Instance:
        path = ROOT / 'Tests' / 'instances' / integration / f'{flow}.yml'
        raw = read_instance_file(path) | overrides | ({'name': name} if name else {})
        built = build_instance(find_integration(integration), raw, self.env, source=path)
        self.instances[built.name] = built
        return built

    def run(self, integration: str, instance: Instance, command: str, **args: str) -> RunResult:
        result = run_with_polling(find_integration(integration), instance, command, args, self.options)[-1]
        self.results.append(result)
        return result


@pytest.fixture(scope='module')
def session(tmp_path_factory) -> Iterator[Session]:
    signed: list[str] = []
    real_sign = TokenService._sign

    def record(self, claims):  # every JWT the emulator issues is a secret to look for
        token = real_sign(self, claims)
        signed.append(token)
        return token

    home = tmp_path_factory.mktemp('secrets-home')
    with mock.patch.object(TokenService, '_sign', record), pytest.MonkeyPatch.context() as patch, \
            EmulatorServer(tls=True, auto_approve=True) as server:
        patch.setenv('XSOAR_LOCAL_HOME', str(home))
        patch.setenv('XSOAR_LOCAL_TIME_SCALE', '0.01')
        token_file = home / 'federated-token'
        token_file.write_text(federated_token(server.url, verify=str(server.ca_path)))
        patch.setenv('AZURE_FEDERATED_TOKEN_FILE', str(token_file))
        session = Session(server, home, signed)
        session.federated = token_file.read_text()
        yield session


# ---------------------------------------------------------------------------------------------------------------
# Running the flows and the commands
# ---------------------------------------------------------------------------------------------------------------

def _consent(session: Session, integration: str, instance: Instance) -> str:
    prefix = INTEGRATIONS[integration][0]
    shown = session.run(integration, instance, f'{prefix}-generate-login-url')
    url = LOGIN_URL.search(json.dumps(shown.entries).replace('\\n', ' ')).group(1)
    answer = requests.get(url, allow_redirects=False, verify=str(session.server.ca_path), timeout=10)
    return answer.headers['Location']


def run_flow(session: Session, integration: str, flow: str) -> list[str]:
    """Sign in with one instance file's flow and prove it twice (cold, warm); returns what failed."""
    prefix, proof = INTEGRATIONS[integration]
    instance = session.instance(integration, flow)
    if flow == 'device-code':
        session.run(integration, instance, f'{prefix}-auth-start')
    if flow == 'auth-code':
        redirect = _consent(session, integration, instance)
        session.secrets.add(parse_qs(urlparse(redirect).query)['code'][0], 'authorization code')
        instance = session.instance(integration, flow, auth_code={'password': redirect})  # same state: PKCE
        if integration == FIXTURE:
            session.run(integration, instance, f'{prefix}-auth-test')
    cold = session.run(integration, instance, proof)
    warm = session.run(integration, instance, proof)  # from the cache
    return [f'{integration}/{flow}: {(r.errors or [r.crash])[0]!s:.160}' for r in (cold, warm) if r.has_error]


BAD_CREDENTIALS = [  # (flow, overrides) that must fail cleanly — with the wrong value itself a secret to look for
    ('client-secret', {'credentials': {'password': 'not-the-secret-value-123'}}),
    ('default', {'credentials': {'password': 'wrong-secret-value-456'}}),
    ('xsoar-app', {'credentials': {'password': 'a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s='}}),
    ('auth-code', {'auth_code': {'password': 'bogus-authorization-code-789'}}),
]


def run_failing_flows(session: Session, integration: str) -> int:
    prefix, proof = INTEGRATIONS[integration]
    failures = 0
    folder = ROOT / 'Tests' / 'instances' / integration
    for index, (flow, overrides) in enumerate(BAD_CREDENTIALS):
        if not (folder / f'{flow}.yml').exists():
            continue
        for value in overrides.values():
            session.secrets.add(value['password'], 'a wrong credential')
        instance = session.instance(integration, flow, name=f'{integration}-bad-{index}', **overrides)
        failures += session.run(integration, instance, proof).has_error
    return failures


def examples(integration: str) -> list[tuple[str, dict[str, str]]]:
    return read_examples(integration_dir(integration))


def run_examples(session: Session, integration: str, failing: bool) -> None:
    """Every command example on the default instance; with ``failing``, every API call answers 403 instead."""
    instance = session.instance(integration, 'default')
    if failing:
        session.server.add_fault(path_regex=API_PATHS, status=403, count='always')
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda item: session.run(integration, instance, item[0], **item[1]), examples(integration)))
    finally:
        session.server.faults.clear()


# ---------------------------------------------------------------------------------------------------------------
# Collecting the secrets and the haystack
# ---------------------------------------------------------------------------------------------------------------

def collect_secrets(session: Session) -> SecretSet:
    secrets, state = session.secrets, session.server.state
    for app in state.apps.values():
        for secret in app.secrets:
            secrets.add(secret.value, f'client secret of {app.client_id}')
        for cert in app.certificates:
            secrets.add(cert.private_key_pem, f'private key of {app.client_id}')
    for registration in state.proxy_registrations.values():
        secrets.add(registration.key_b64, 'token-proxy key')
    secrets.add(state.app_service_identity_header, 'App Service identity header')
    secrets.add(session.env.get('EMULATOR_CERT_PRIVATE_KEY'), 'certificate private key (instance files)')
    for instance in session.instances.values():
        for name, value in instance.params.items():
            if isinstance(value, dict) and value.get('password') and name not in (
                    'creds_client_id', 'creds_tenant_id', 'managed_identities_client_id', '_auth_id', '_tenant_id'):
                secrets.add(str(value['password']), f'instance parameter {name}')
    for index, code in enumerate(state.auth_codes.values()):
        secrets.add(code.code, f'authorization code #{index}')
    for index, device in enumerate(state.device_codes.values()):
        secrets.add(device.device_code, f'device code #{index}')
    for index, token in enumerate(state.refresh_tokens.values()):
        secrets.add(token.token, f'refresh token #{index}')
    for index, token in enumerate(session.signed):
        secrets.add(token, f'access/id token #{index}')
    secrets.add(session.federated, 'federated token')
    return secrets


def haystack(session: Session) -> dict[str, str]:
    """Where nothing secret may appear, by kind."""
    hay = {'entries and contexts': json.dumps([r.to_json() for r in session.results], default=str),
           'logs (debug on)': json.dumps([r.logs for r in session.results], default=str),
           'stderr and crash texts': json.dumps([[r.stderr, r.crash] for r in session.results], default=str)}
    contexts = []
    for name in session.instances:
        context = InstanceStore(name, session.home).get_context()['context']
        contexts.append({k: v for k, v in context.items() if k != CACHE_KEY})
    hay['integration context outside the token cache'] = json.dumps(contexts, default=str)
    written = []
    for path in sorted(session.home.rglob('*')):
        if path.is_file() and path.name != 'integration_context.json' and 'emulator' not in path.parts \
                and path.name != 'federated-token':
            written.append(f'{path.name}: ' + path.read_bytes().decode('utf-8', errors='replace'))
    for result in session.results:
        written += [p.read_bytes().decode('utf-8', errors='replace') for p in result.files.values() if p.exists()]
    hay['files written'] = '\n'.join(written)
    return hay


# ---------------------------------------------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------------------------------------------

def test_no_secret_in_any_output_of_any_flow_or_command(session, ledger):
    """Given every auth flow (successes and wrong credentials) and every command example (answered and refused by
    the API) run with debug logging, When everything they left is scanned, Then no secret, token or code appears,
    in any encoding."""
    flows_failed = []
    for integration in INTEGRATIONS:
        for flow_file in sorted((ROOT / 'Tests' / 'instances' / integration).glob('*.yml')):
            flows_failed += run_flow(session, integration, flow_file.stem)
        assert run_failing_flows(session, integration) >= 1
        prefix = INTEGRATIONS[integration][0]
        session.run(integration, session.instance(integration, 'client-secret'), f'{prefix}-auth-reset')
    for integration in INTEGRATIONS:
        if integration != FIXTURE:
            run_examples(session, integration, failing=False)
            run_examples(session, integration, failing=True)

    secrets = collect_secrets(session)
    hay = haystack(session)
    assert any(r.logs for r in session.results) and len(session.signed) > 10  # the scan saw logs and real tokens
    failures = []
    for where, text in hay.items():
        leaks = find_leaks(text, secrets)
        for label in sorted(secrets.labels):  # one case per secret and place
            ledger.record('Secrets', f'0 occurrences (any encoding) in {where}', label, label not in leaks)
        jwts = find_jwts(text)
        ledger.record('Secrets', f'0 occurrences (any encoding) in {where}', 'any JWT at all', not jwts,
                      ', '.join(jwts[:3]))
        failures += [f'{where}: {leak}' for leak in leaks + jwts]
    crashed = [f'{r.command}: {r.crash[:120]}' for r in session.results if r.crash]
    ledger.record('Secrets', 'runs end without a crash (successes and failures)', f'{len(session.results)} runs',
                  not crashed, '; '.join(crashed[:3]))
    assert flows_failed == []  # the successes really were successes
    assert failures == [] and crashed == []


def test_scan_finds_every_encoded_form():
    """Given a secret, a JWT and a PEM key, When they hide in text raw, URL-encoded, base64 at any alignment or as a
    key's body line or a JWT segment, Then the scan names each — and an unrelated text stays clean."""
    import base64
    import urllib.parse

    secrets = SecretSet()
    secrets.add('s3cret~value/with+chars', 'secret')
    secrets.add('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGV4In0xxxxxxxx.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU', 'jwt')
    pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n'
    secrets.add(pem, 'key')
    assert find_leaks('nothing to see here', secrets) == []
    for shift in range(3):
        blob = base64.b64encode(b'p' * shift + b'prefix s3cret~value/with+chars suffix').decode()
        assert find_leaks(f'log: {blob}', secrets) == ['secret']
    assert find_leaks(urllib.parse.quote('s3cret~value/with+chars', safe=''), secrets) == ['secret']
    assert find_leaks('sig=c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU', secrets) == ['jwt']
    assert find_leaks('line MIIEvQIBADANBgkqhkiG9w0BAQEFAASC', secrets) == ['key']
    assert find_jwts('Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGV4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ')
