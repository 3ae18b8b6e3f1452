"""Shared helpers for the auth-module end-to-end tests (MicrosoftAuthFixture through xsoar-local)."""
from __future__ import annotations

import re
import time

import requests

FIXTURE = 'MicrosoftAuthFixture'
WHOAMI = 'msauth-fixture-whoami'
CACHE_KEY = 'microsoft_auth'
LOGIN_URL = re.compile(r'(https://\S+/oauth2/v2\.0/authorize\?[^\s)\]]+)')


def whoami(result) -> dict:
    assert not result.has_error, result.errors
    assert result.problems == [], result.problems
    return result.context['MSAuthFixture']['WhoAmI']


def cached_accounts(run, instance) -> dict:
    return run.store(instance).get_context()['context'].get(CACHE_KEY, {}).get('accounts', {})


def age_cached_tokens(run, instance, seconds_left: float) -> None:
    """Make every cached access token look like an hour-long token that expires in ``seconds_left`` seconds."""
    store = run.store(instance)
    context = store.get_context()['context']
    for account in context[CACHE_KEY]['accounts'].values():
        for token in account.get('tokens', {}).values():
            token['expires_at'] = time.time() + seconds_left
            token['issued_at'] = token['expires_at'] - 3600
    store.set_context(context)


def grant_types(run) -> list[str]:
    return [e.get('grant_type') for e in run.requests(('login',)) if e['path'].endswith('/token')]


def sign_in_with_device_code(run, instance) -> None:
    result = run.run(instance, 'msauth-fixture-auth-start')
    assert not result.has_error, result.errors
    assert 'Authorization completed successfully' in result.entries[0]['HumanReadable']


def login_url(run, instance) -> str:
    """Run generate-login-url and return the URL it shows."""
    shown = run.run(instance, 'msauth-fixture-generate-login-url')
    assert not shown.has_error, shown.errors
    return LOGIN_URL.search(shown.entries[0]['HumanReadable']).group(1)


def consent(run, url: str) -> str:
    """Follow the login URL as a user would (the emulator consents at once) and return the redirect address."""
    answer = requests.get(url, allow_redirects=False, verify=str(run.server.ca_path), timeout=10)
    return answer.headers['Location']
