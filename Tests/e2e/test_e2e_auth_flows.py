"""MicrosoftApiModule end to end: every flow through xsoar-local (unified script, fresh processes) against the
emulator over HTTPS — token obtained, cached, reused, refreshed — plus concurrency and secret-leak checks."""
from __future__ import annotations

import base64
import json
import threading
from urllib.parse import parse_qs, quote, urlparse

import pytest
import requests
from auth_e2e import (
    CACHE_KEY,
    FIXTURE,
    WHOAMI,
    age_cached_tokens,
    cached_accounts,
    consent,
    grant_types,
    login_url,
    sign_in_with_device_code,
    whoami,
)

from microsoft_emulator.testing import (
    CERT_APP_ID,
    OPROXY_APP_ID,
    OPROXY_KEY_B64,
    SECRET_APP_ID,
    SECRET_APP_SECRET,
    SYSTEM_MI_CLIENT_ID,
    USER_MI_CLIENT_ID,
    XSOAR_M365D_APP_ID,
    federated_token,
)

pytestmark = pytest.mark.e2e


APP_ONLY_FLOWS = [
    ('client-secret', SECRET_APP_ID, 'login'),
    ('certificate', CERT_APP_ID, 'login'),
    ('managed-identity', SYSTEM_MI_CLIENT_ID, 'imds'),
    ('managed-identity-user', USER_MI_CLIENT_ID, 'imds'),
    ('xsoar-app', OPROXY_APP_ID, 'oproxy'),
]







@pytest.mark.parametrize('flow, client_id, token_host', APP_ONLY_FLOWS)
def test_app_only_flow_cold_warm_refreshed(local_run, flow, client_id, token_host):
    """Given an app-only flow, When whoami runs cold, warm, and with the cached token near expiry, Then it costs one
    token request, then none, then one again — and the API always sees the expected identity."""
    run = local_run(FIXTURE)
    instance = run.instance(flow)
    assert whoami(run.run(instance, WHOAMI))['client_id'] == client_id
    assert [e['host'] for e in run.token_requests()] == [token_host]
    assert len(run.requests(('emulator',))) == 1

    run.clear_requests()
    assert whoami(run.run(instance, WHOAMI))['client_id'] == client_id
    assert run.token_requests() == []
    assert len(run.requests()) == 1

    age_cached_tokens(run, instance, seconds_left=120)
    run.clear_requests()
    assert whoami(run.run(instance, WHOAMI))['client_id'] == client_id
    assert [e['host'] for e in run.token_requests()] == [token_host]


def test_device_code_flow_polls_to_success_and_refreshes(local_run):
    """Given the device code flow, When auth-start runs, Then the scheduled auth-complete signs in without the user
    running it; later calls reuse the token, and near expiry the rotated refresh token is used and kept."""
    run = local_run(FIXTURE)
    instance = run.instance('device-code')
    sign_in_with_device_code(run, instance)
    assert grant_types(run) == ['urn:ietf:params:oauth:grant-type:device_code']

    run.clear_requests()
    identity = whoami(run.run(instance, WHOAMI))
    assert identity['client_id'] == XSOAR_M365D_APP_ID and identity['app_only'] is False
    assert run.token_requests() == []

    [account] = cached_accounts(run, instance).values()
    first_refresh_token = account['refresh_token']
    age_cached_tokens(run, instance, seconds_left=60)
    run.clear_requests()
    whoami(run.run(instance, WHOAMI))
    assert grant_types(run) == ['refresh_token']
    [account] = cached_accounts(run, instance).values()
    assert account['refresh_token'] != first_refresh_token


def test_authorization_code_flow_redeems_once(local_run):
    """Given the authorization code flow, When the login URL is followed and the code pasted, Then auth-test redeems
    it once (PKCE verified by the emulator) and later commands reuse the cached token."""
    run = local_run(FIXTURE)
    instance = run.instance('auth-code')
    redirect = consent(run, login_url(run, instance))
    assert redirect.startswith('https://localhost/myapp')

    signed_in = run.instance('auth-code', auth_code={'password': redirect})
    run.clear_requests()
    result = run.run(signed_in, 'msauth-fixture-auth-test')
    assert not result.has_error, result.errors
    assert grant_types(run) == ['authorization_code']

    run.clear_requests()
    assert whoami(run.run(signed_in, WHOAMI))['app_only'] is False
    whoami(run.run(signed_in, WHOAMI))
    assert grant_types(run) == []


def test_unauthorized_api_call_gets_a_fresh_token_once(local_run):
    """Given a cached token the API no longer accepts, When a command runs, Then the 401 drops it and the call is
    retried once with a new token."""
    run = local_run(FIXTURE)
    instance = run.instance('client-secret')
    whoami(run.run(instance, WHOAMI))
    requests.post(f'{run.server.url}/_emulator/tokens/expire-all', verify=str(run.server.ca_path), timeout=10)
    run.clear_requests()
    whoami(run.run(instance, WHOAMI))
    assert [e['status'] for e in run.requests(('emulator',))] == [401, 200]
    assert len(run.token_requests()) == 1


def test_concurrent_refresh_loses_no_refresh_token(local_run):
    """Given 20 processes of one device-code instance whose cached token is about to expire, When they all run at
    once, Then every one succeeds and the refresh token left in the cache still works."""
    run = local_run(FIXTURE)
    instance = run.instance('device-code')
    sign_in_with_device_code(run, instance)
    age_cached_tokens(run, instance, seconds_left=30)

    results: list = [None] * 20

    def worker(index: int) -> None:
        results[index] = run.run(instance, WHOAMI)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    failures = [r.errors for r in results if r is None or r.has_error]
    assert failures == []

    age_cached_tokens(run, instance, seconds_left=30)
    run.clear_requests()
    whoami(run.run(instance, WHOAMI))
    assert grant_types(run) == ['refresh_token']


def _encoded_forms(secret: str) -> set[str]:
    forms = {secret, quote(secret, safe=''), base64.b64encode(secret.encode()).decode()}
    return {f for f in forms if len(f) >= 8}


def _private_key_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith('-----')]


def test_no_secret_or_token_leaks(local_run, tmp_path):
    """Given every flow run, including failures, When all entries, contexts, logs and errors are scanned, Then no
    secret, private key, proxy key, authorization code, federated token, access token or refresh token appears
    outside the token cache."""
    run = local_run(FIXTURE)
    token_file = tmp_path / 'federated-token'
    federated = federated_token(run.server.url, verify=str(run.server.ca_path))
    token_file.write_text(federated)
    run.options.env['AZURE_FEDERATED_TOKEN_FILE'] = str(token_file)
    outcomes = []
    instances = [run.instance(flow) for flow, _, _ in APP_ONLY_FLOWS] + [run.instance('device-code')]
    failing = [
        run.instance('client-secret', name='bad-secret', credentials={'password': 'not-the-secret-123'}),
        run.instance('xsoar-app', name='bad-key', credentials={'password': base64.b64encode(b'k' * 32).decode()}),
        run.instance('managed-identity-user', name='bad-mi', managed_identities_client_id={'password': 'nope'}),
        run.instance('auth-code', name='bad-code', auth_code={'password': 'bogus-authorization-code'}),
    ]
    for instance in instances[:-1] + failing:
        outcomes.append(run.run(instance, WHOAMI))
    sign_in_with_device_code(run, instances[-1])
    outcomes.append(run.run(instances[-1], WHOAMI))
    redirect = consent(run, login_url(run, run.instance('auth-code')))
    instances.append(run.instance('auth-code', auth_code={'password': redirect}))
    instances.append(run.instance('workload-identity'))
    outcomes += [run.run(instances[-2], WHOAMI), run.run(instances[-1], WHOAMI)]
    outcomes.append(run.run(instances[0], 'msauth-fixture-auth-reset'))
    assert sum(r.has_error for r in outcomes) == len(failing)

    auth_code = parse_qs(urlparse(redirect).query)['code'][0]
    secrets = {SECRET_APP_SECRET, OPROXY_KEY_B64, 'not-the-secret-123', 'bogus-authorization-code', auth_code, federated,
               *_private_key_lines(run.env['EMULATOR_CERT_PRIVATE_KEY'])}
    outside_cache = []
    for instance in instances + failing:
        context = run.store(instance).get_context()['context']
        for account in context.get(CACHE_KEY, {}).get('accounts', {}).values():
            secrets.add(account.get('refresh_token') or '')
            secrets.update(t['access_token'] for t in account.get('tokens', {}).values())
        outside_cache.append({k: v for k, v in context.items() if k != CACHE_KEY})
    secrets.discard('')

    haystack = json.dumps([r.to_json() | {'logs': r.logs, 'stderr': r.stderr} for r in outcomes] + outside_cache,
                          default=str)
    leaked = sorted(s[:12] + '…' for secret in secrets for s in _encoded_forms(secret) if s in haystack)
    assert leaked == []
    assert any(r.logs for r in outcomes)  # the scan did see log lines


@pytest.mark.parametrize('bad, expected', [
    ({'credentials': {'password': 'wrong-secret'}}, 'AADSTS7000215'),
    ({'tenant_id': '00000000-0000-0000-0000-000000000000'}, 'AADSTS90002'),
    ({'app_id': '11111111-2222-3333-4444-555555555555'}, 'AADSTS700016'),
])
def test_auth_errors_are_clear_entries(local_run, bad, expected):
    """Given a misconfigured instance, When a command runs, Then the war room gets one clear error entry naming the
    Entra error and what to check — no traceback."""
    run = local_run(FIXTURE)
    result = run.run(run.instance('client-secret', name='misconfigured', **bad), WHOAMI)
    assert result.crash is None
    [error] = result.errors
    assert expected in error and 'Traceback' not in error


def test_auth_reset_clears_only_the_module_cache(local_run):
    """Given a signed-in instance with other integration-context keys, When auth-reset runs, Then only the module's
    cache is gone."""
    run = local_run(FIXTURE)
    instance = run.instance('client-secret')
    whoami(run.run(instance, WHOAMI))
    store = run.store(instance)
    context = store.get_context()['context']
    store.set_context(context | {'integration_own_key': {'kept': True}})
    result = run.run(instance, 'msauth-fixture-auth-reset')
    assert not result.has_error
    assert store.get_context()['context'] == {'integration_own_key': {'kept': True}}


def test_login_url_has_pkce_and_state(local_run):
    """Given the authorization code flow, When the login URL is generated, Then it carries S256 PKCE and a state."""
    run = local_run(FIXTURE)
    url = login_url(run, run.instance('auth-code'))
    query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    assert query['code_challenge_method'] == 'S256' and len(query['state']) >= 16
    assert query['client_id'] == SECRET_APP_ID and query['redirect_uri'] == 'https://localhost/myapp'
