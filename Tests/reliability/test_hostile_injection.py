"""Injection: hostile IDs never change the requested route, quotes never leave their OData or KQL literal, and an
``@odata.nextLink`` to another origin is refused without the bearer token going there — for every command of every
integration (enumerated from the YAMLs), in-process against the emulator with the requests as sent on the wire."""
from __future__ import annotations

import json
import urllib.parse

import pytest

from reliability.hostile_runtime import all_commands, baseline_args, judge, rewrite
from reliability.hostile_syntax import (
    find_marker,
    kql_literals,
    kql_queries,
    odata_filters,
    odata_literals,
    same_route_with,
    segment_of,
)

COMMANDS = [c for c in all_commands() if baseline_args(c) is not None]
PATH_VALUES = ['a/b', '..', '../../api/machines', '.', 'x?top=1', 'x#frag', 'x%2Fy', '%2e%2e', 'a/../b', './x',
               'x;y=1', 'x\\..\\y', 'x y']
QUOTE_VALUES = ["O'Brien", "x' or 1 eq 1 or 'a' eq 'a", "x') or (id ne '", 'say "hi" then', "x\" or \"1\"==\"1",
                "\\' or true //", "''", "it''s", '\\"', "x' | take 100 | where '1'=='1"]
MARKER = 'zqxmarker'
PAGING = {'limit': '100', 'page_size': '100', 'all_results': 'true'}  # ask for more than one page


@pytest.fixture(autouse=True)
def no_leftover_faults(emulator_tls):
    """The session's emulator is shared with other suites: start from no queued fault."""
    emulator_tls.faults.clear()


def _first(value: str) -> str:
    return value.split(',')[0].strip()


@pytest.mark.parametrize('spec', COMMANDS, ids=str)
def test_ids_stay_one_path_segment(spec, hostile, ledger):
    """Given an argument that becomes a URL path segment, When it holds '/', '..', '?', '#', '%2F'..., Then the request
    goes to the same route with the value as one encoded segment — or the command refuses it, naming the argument."""
    run = hostile(spec.integration)
    args = baseline_args(spec)
    baseline = run.run(spec.name, args)
    failures = []
    for name, value in args.items():
        calls = [(c, segment_of(c.url, _first(value))) for c in baseline.api_calls]
        templates = [(c, i) for c, i in calls if i is not None]
        if not templates or len(_first(value)) < 3:
            continue
        for hostile in PATH_VALUES:
            outcome = run.run(spec.name, {**args, name: hostile})
            reason = judge(outcome, spec)
            for call in outcome.api_calls if not reason else []:
                problems = [same_route_with(call.url, t.url, i, hostile) for t, i in templates if t.method == call.method]
                if problems and all(problems):
                    reason = problems[0]
                    break
            ledger.record('Injection', 'IDs with / .. ? # %2F stay one path segment', f'{spec.name} {name}={hostile!r}',
                          not reason, reason)
            if reason:
                failures.append(f'{name}={hostile!r}: {reason}')
    assert failures == []


def _shape(kind: str, sent) -> list[tuple[str, list[str]]]:
    if kind == 'filter':
        return [odata_literals(f) for f in odata_filters(sent.url)]
    return [kql_literals(q) for q in kql_queries(sent)]


@pytest.mark.parametrize('spec', COMMANDS, ids=str)
def test_quotes_stay_inside_one_literal(spec, hostile, ledger):
    """Given an argument that becomes an OData $filter or KQL string literal, When it holds quotes and operators,
    Then the produced filter/query has the same shape as with a plain value and the value comes back intact as one
    literal (read back with an OData literal scanner / the emulator's KQL lexer) — or the command refuses it."""
    run = hostile(spec.integration)
    args = baseline_args(spec)
    failures = []
    for arg in spec.args:
        if arg.predefined:
            continue
        marked = run.run(spec.name, {**args, arg.name: MARKER})
        where = find_marker(marked, MARKER)
        if where is None:
            continue
        kind, index = where
        expected = [(shape, values.index(MARKER)) for shape, values in _shape(kind, marked.api_calls[index])
                    if MARKER in values]
        check = f'quotes stay inside one {"OData $filter" if kind == "filter" else "KQL"} string literal'
        for hostile in QUOTE_VALUES:
            outcome = run.run(spec.name, {**args, arg.name: hostile})
            reason = judge(outcome, spec)
            if not reason and outcome.api_calls:
                if len(outcome.api_calls) <= index:
                    reason = 'the call carrying the value was not made'
                else:
                    got = _shape(kind, outcome.api_calls[index])
                    held = any(shape == e_shape and len(values) > at and values[at] in (hostile, hostile.strip())
                               for shape, values in got for e_shape, at in expected)
                    reason = '' if held else f'the {kind} changed shape: {got!r:.200}'
            ledger.record('Injection', check, f'{spec.name} {arg.name}={hostile!r}', not reason, reason)
            if reason:
                failures.append(f'{arg.name}={hostile!r}: {reason}')
    assert failures == []


def _foreign_links(server_url: str) -> list[str]:
    parts = urllib.parse.urlsplit(server_url)
    host, port = parts.hostname, parts.port
    return ['https://evil.example.net/api/next?$skip=20', f'http://{host}:{port}/api/next?$skip=20',
            f'https://{host}:{port + 1}/api/next?$skip=20', f'https://{host}:{port}@evil.example.net/api/next',
            '//evil.example.net/api/next', f'https://{host}.evil.example.net:{port}/api/next']


@pytest.mark.parametrize('spec', COMMANDS, ids=str)
def test_next_link_to_another_origin_is_refused(spec, hostile, emulator_tls, ledger):
    """Given a list response whose @odata.nextLink points to another origin (host, port, scheme, userinfo trick),
    When the command pages, Then nothing is sent there — no bearer token leaves — and the command ends clearly."""
    run = hostile(spec.integration)
    args = baseline_args(spec) | {a.name: value for a in spec.args for name, value in PAGING.items() if a.name == name}
    baseline = run.run(spec.name, args)
    lists = [c for c in baseline.api_calls if c.method == 'GET' and isinstance(c.answer, dict)
             and isinstance(c.answer.get('value'), list)]
    if not lists:
        return
    origin = urllib.parse.urlsplit(emulator_tls.url)
    failures = []
    for link in _foreign_links(emulator_tls.url):
        def tamper(sent, response, target=lists[0], link=link):
            if sent.method == 'GET' and sent.url == target.url:
                rewrite(response, json.dumps({**sent.answer, '@odata.nextLink': link}).encode())

        outcome = run.run(spec.name, args, tamper=tamper)
        reason = judge(outcome, spec)
        for sent in outcome.sent:
            parts = urllib.parse.urlsplit(sent.url)
            if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
                reason = f'a request went to {parts.scheme}://{parts.netloc}' + (
                    ' WITH the bearer token' if 'Authorization' in sent.headers else '')
                break
        ledger.record('Injection', '@odata.nextLink to another origin refused, no token sent',
                      f'{spec.name} {link}', not reason, reason)
        if reason:
            failures.append(f'{link}: {reason}')
    assert failures == []
