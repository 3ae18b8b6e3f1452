"""Every endpoint the pack calls has Microsoft's documented example as a fixture.

The Client methods that reach Microsoft are found by parsing the integrations' source (a method calling
``http_request``/``paginate``, or another method of its class that does), so a new API call without an inventory
entry and a fixture fails here. ``PENDING`` names the endpoints still without a fixture: it may only shrink.
"""
from __future__ import annotations

import ast
import json

import pytest

from contract.contract import KNOWN_DIFFERENCES, load
from contract.endpoints import BY_KEY, ENDPOINTS, INTEGRATIONS, MODULES

# Endpoints without a fixture yet (each one still needs Microsoft's documented example).
PENDING: frozenset[str] = frozenset()

TRANSPORT = {'http_request', 'paginate'}


def _calls(node: ast.AST) -> set[str]:
    """Names of attributes called in ``node`` (``x.y.http_request(...)`` gives 'http_request')."""
    return {n.func.attr for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}


def api_methods(owner: str) -> set[str]:
    """'Class.method' for every public method that sends a request, directly or through a sibling method."""
    tree = ast.parse((INTEGRATIONS[owner] / f'{MODULES[owner]}.py').read_text())
    found = set()
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        methods = {f.name: _calls(f) for f in cls.body if isinstance(f, ast.FunctionDef)}
        sending = {name for name, calls in methods.items() if calls & TRANSPORT}
        while True:
            more = {name for name, calls in methods.items() if calls & sending} - sending
            if not more:
                break
            sending |= more
        found |= {f'{cls.name}.{name}' for name in sending if not name.startswith('_')}
    return found


def module_functions_sending(owner: str) -> set[str]:
    """Module-level functions that call Microsoft themselves instead of through a Client method."""
    tree = ast.parse((INTEGRATIONS[owner] / f'{MODULES[owner]}.py').read_text())
    return {f.name for f in tree.body if isinstance(f, ast.FunctionDef) and _calls(f) & TRANSPORT}


# Functions outside the Client that send a request, with the inventoried endpoint each one calls.
OUTSIDE_CLIENT = {'mde': {'check_api': 'get-alerts'}, 'm365d': {}, 'mdti': {}}


def defined_methods(owner: str) -> set[str]:
    tree = ast.parse((INTEGRATIONS[owner] / f'{MODULES[owner]}.py').read_text())
    return {f'{cls.name}.{f.name}' for cls in tree.body if isinstance(cls, ast.ClassDef)
            for f in cls.body if isinstance(f, ast.FunctionDef)}


# Methods that send through another listed method and add no endpoint of their own.
DELEGATING = {'mde': {'Client.ti_request', 'Client.run_query'}, 'm365d': {'IncidentsApi.check_access', 'IncidentsApi.list_alerts',
                                                     'IncidentsApi.counted_page', 'IncidentsApi.list_page',
                                                     'IncidentsApi.list_all', 'GraphApi.list_page',
                                                     'GraphApi.counted_page',
                                                     'LegacyApi.list_page', 'LegacyApi.run_hunting_query'},
              'mdti': {'Client.list_host_collection'}}


@pytest.mark.parametrize('owner', ['mde', 'm365d', 'mdti'])
def test_every_api_method_is_inventoried(owner):
    """Given the integration's source, When its request-sending methods are listed, Then each one is in the
    inventory (Tests/contract/endpoints.py) or only delegates to one that is."""
    inventoried = {e.caller for e in ENDPOINTS if e.owner == owner}
    missing = api_methods(owner) - inventoried - DELEGATING.get(owner, set())
    assert not missing, f'Client methods calling Microsoft without an inventory entry: {sorted(missing)}'


@pytest.mark.parametrize('owner', ['mde', 'm365d', 'mdti'])
def test_requests_outside_the_client_are_inventoried(owner):
    """Given the integration's module-level functions, Then each one that sends a request is listed with the
    inventoried endpoint it calls (the Test button's probe, for example)."""
    assert module_functions_sending(owner) == set(OUTSIDE_CLIENT[owner])
    assert set(OUTSIDE_CLIENT[owner].values()) <= set(BY_KEY)


@pytest.mark.parametrize('endpoint', ENDPOINTS, ids=lambda e: e.key)
def test_inventory_names_real_callers(endpoint):
    assert endpoint.caller in defined_methods(endpoint.owner), f'{endpoint.caller} is not in {endpoint.owner}'


def test_every_endpoint_has_a_fixture():
    """Given the inventory, Then each endpoint has a fixture, except those named in PENDING (which have none)."""
    without = sorted(e.key for e in ENDPOINTS if not e.fixture.exists())
    assert not set(without) - PENDING, f'Endpoints without a documented fixture: {sorted(set(without) - PENDING)}'
    done = sorted(PENDING & {e.key for e in ENDPOINTS if e.fixture.exists()})
    assert not done, f'These have a fixture now; remove them from PENDING: {done}'
    assert PENDING <= set(BY_KEY), f'PENDING names unknown endpoints: {sorted(PENDING - set(BY_KEY))}'
    assert set(KNOWN_DIFFERENCES) <= set(BY_KEY)


@pytest.mark.parametrize('endpoint', [e for e in ENDPOINTS if e.fixture.exists()], ids=lambda e: e.key)
def test_fixture_format(endpoint):
    """Each fixture says where and when Microsoft documented it, and holds the documented request and response."""
    data = load(endpoint)
    assert set(data) == {'source', 'read', 'request', 'response', 'notes'}
    assert data['source'].startswith('https://learn.microsoft.com/') and data['read'] == '2026-12-06'
    assert set(data['request']) == {'method', 'path', 'query', 'body'} and data['request']['method'] == endpoint.method
    assert data['request']['path'].startswith('/') and '?' not in data['request']['path']
    assert isinstance(data['response']['status'], int) and 'body' in data['response']
    json.dumps(data)
