"""Malformed responses: for every command of every integration (enumerated from the YAMLs), the real emulator
answer to its first API request — and, separately, to every request — is replaced by invalid JSON, an empty body,
JSON null, an object without the expected fields, values of the wrong types, or an HTML page (200, 403 and 502).
Each run must end in a result or a clear error (``hostile_runtime.judge``): no traceback, no Python wording."""
from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest

from reliability.hostile_runtime import all_commands, baseline_args, judge, rewrite

COMMANDS = [c for c in all_commands() if baseline_args(c) is not None]
HTML = (b'<!DOCTYPE html><html><head><title>Service unavailable</title></head><body><h1>We are sorry</h1>'
        b'<p>Something went wrong.</p></body></html>')
# Open finding (see the reliability report): documents of the right JSON type whose *fields* have the wrong types
# still reach code that trusts Microsoft's documented shapes ('str' object has no attribute 'get'...). Their cases
# are counted and listed in the table; they mark the test xfail instead of failing it until the integrations
# validate field types.
KNOWN_GAPS: tuple[str, ...] = ()


@pytest.fixture(autouse=True)
def no_leftover_faults(emulator_tls):
    """The session's emulator is shared with other suites: start from no queued fault."""
    emulator_tls.faults.clear()


def swap_scalars(value: Any) -> Any:
    """The same document with every scalar of the wrong type: text becomes a number, numbers and booleans text."""
    if isinstance(value, dict):
        return {k: swap_scalars(v) for k, v in value.items()}
    if isinstance(value, list):
        return [swap_scalars(v) for v in value]
    if isinstance(value, str):
        return 12345
    if value is None:
        return None
    return 'unexpected text'


def swap_containers(value: Any) -> Any:
    """The same document with every nested list or object replaced: lists by text, objects by a list."""
    if isinstance(value, dict):
        return {k: ('unexpected text' if isinstance(v, list) else [1, 2] if isinstance(v, dict) else v)
                for k, v in value.items()}
    return {'value': 'unexpected text'}


VARIANTS: dict[str, Any] = {
    'invalid JSON': lambda answer: (200, b'{"value": [{"id": "1",', 'application/json'),
    'empty body': lambda answer: (200, b'', 'application/json'),
    'JSON null': lambda answer: (200, b'null', 'application/json'),
    'object without the expected fields': lambda answer: (200, b'{}', 'application/json'),
    'wrong types (scalars)': lambda answer: (200, json.dumps(swap_scalars(answer)).encode(), 'application/json'),
    'wrong types (containers)': lambda answer: (200, json.dumps(swap_containers(answer)).encode(), 'application/json'),
    'HTML page with 200': lambda answer: (200, HTML, 'text/html; charset=utf-8'),
    'HTML error page with 403': lambda answer: (403, HTML, 'text/html; charset=utf-8'),
    'HTML error page with 502': lambda answer: (502, HTML, 'text/html; charset=utf-8'),
}


def _tamper(variant: str, every: bool):
    done: list[bool] = []

    def tamper(sent, response) -> None:
        if done and not every:
            return
        done.append(True)
        status, body, content_type = VARIANTS[variant](sent.answer)
        rewrite(response, body, status=status, content_type=content_type)
    return tamper


@pytest.mark.parametrize('spec', COMMANDS, ids=str)
def test_malformed_responses_give_clear_errors(spec, hostile, ledger):
    """Given a command and a malformed answer to its first (or every) API request, When it runs, Then it ends in a
    result or a clear error — never a traceback, a KeyError/TypeError/AttributeError or Python's wording."""
    run = hostile(spec.integration)
    args = baseline_args(spec)
    if not run.run(spec.name, args).api_calls:
        return
    failures = []
    with mock.patch('time.sleep'):  # retries of the 502s need not wait
        for variant in VARIANTS:
            for every in (False, True):
                reason = judge(run.run(spec.name, args, tamper=_tamper(variant, every)), spec)
                check = f'{variant}, {"every response" if every else "first response"}'
                ledger.record('Malformed responses', check, spec.name, not reason, reason)
                if reason:
                    failures.append(f'{check}: {reason}')
    gaps = [f for f in failures if f.startswith(KNOWN_GAPS)]
    assert [f for f in failures if f not in gaps] == []
    if gaps:
        pytest.xfail(f'known gap, {len(gaps)} case(s): {gaps[0][:200]}')
