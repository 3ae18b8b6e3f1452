"""The integration side of the contract: fed Microsoft's documented response (requests-mock), each Client method or
command sends the documented request (method, path, query names, body fields) and turns the response into the
command's declared outputs without error."""
from __future__ import annotations

import importlib
import json
from functools import cache
from typing import Any

import pytest
import requests_mock as rm
import yaml

from contract.contract import ODATA_OPTIONS, body_problems, load, query_names, same_path, with_fixtures
from contract.endpoints import BY_KEY, COMMAND_CHECKS, INTEGRATIONS, MODULES, Endpoint

PARAMS = {
    'mde': {'_auth_id': 'app-id', '_tenant_id': 'tenant-id', 'credentials': {'password': 'secret-value'},
            'self_deployed': True, 'endpoint_type': 'Worldwide'},
    'm365d': {'creds_client_id': {'password': 'app-id'}, 'creds_tenant_id': {'password': 'tenant-id'},
              'client_credentials': True, 'credentials': {'password': 'secret-value'},
              'base_url': 'https://api.security.microsoft.com'},
    'mdti': {'app_id': 'app-id', 'tenant_id': 'tenant-id', 'client_credentials': True,
             'credentials': {'password': 'secret-value'}},
}
CASES = [e for e in with_fixtures() if e.owner != 'auth' and (e.call or e.command)]


@cache
def declared_outputs(owner: str) -> dict[str, set[str]]:
    spec = yaml.safe_load((INTEGRATIONS[owner] / f'{MODULES[owner]}.yml').read_text())
    return {c['name']: {o['contextPath'] for o in c.get('outputs') or []} for c in spec['script']['commands']}


def context_values(value: Any, prefix: str) -> dict[str, list[Any]]:
    """Every value written under each context path (lists flattened)."""
    found: dict[str, list[Any]] = {}
    if isinstance(value, list):
        for item in value:
            for path, values in context_values(item, prefix).items():
                found.setdefault(path, []).extend(values)
    elif isinstance(value, dict):
        for key, item in value.items():
            for path, values in context_values(item, f'{prefix}.{key}').items():
                found.setdefault(path, []).extend(values)
    elif value not in (None, ''):
        found[prefix] = [value]
    return found


def context_paths(results: Any) -> dict[str, list[Any]]:
    paths: dict[str, list[Any]] = {}
    for result in results if isinstance(results, list) else [results]:
        for key, value in (result.to_context().get('EntryContext') or {}).items():
            for path, values in context_values(value, key.split('(')[0]).items():
                paths.setdefault(path, []).extend(values)
    return paths


def build(endpoint: Endpoint, mocker: Any) -> Any:
    owner = endpoint.owner
    module = importlib.import_module(MODULES[owner])
    params = dict(PARAMS[owner])
    if owner == 'm365d':
        params['api_backend'] = module.BACKEND_GRAPH if endpoint.api == 'graph' else module.BACKEND_LEGACY
    mocker.patch.object(module.TokenProvider, 'get_token', return_value='token')
    mocker.patch.object(module.demisto, 'params', return_value=params)
    if owner == 'm365d':
        return module, module.build_api(params)
    return module, module.build_client(params)


def documented_request(history: list, endpoint: Endpoint, documented: dict[str, Any]) -> Any:
    for request in history:
        if request.method == documented['method'] and same_path(documented['path'], request.path_url.split('?')[0]):
            return request
    sent = [f'{r.method} {r.path_url}' for r in history]
    raise AssertionError(f'{endpoint.key}: {documented["method"]} {documented["path"]} was not sent; sent: {sent}')


@pytest.mark.parametrize('endpoint', CASES, ids=lambda e: e.key)
def test_integration_sends_documented_request_and_parses_documented_response(endpoint, mocker):
    """Given Microsoft's documented response, When the integration calls the endpoint, Then the request has the
    documented method, path, query names and body fields, and the response is parsed without error."""
    fixture = load(endpoint)
    module, client = build(endpoint, mocker)
    status, body = fixture['response']['status'], fixture['response']['body']
    with rm.Mocker() as mock:
        answer = {'json': body} if body is not None else {'text': ''}
        mock.register_uri(rm.ANY, rm.ANY, status_code=status, **answer)
        if endpoint.command:
            result = module.COMMANDS[endpoint.command](client, dict(endpoint.args))
        else:
            assert endpoint.call is not None
            name, *args = endpoint.call
            if endpoint.expect_error:
                with pytest.raises(module.DemistoException) as raised:
                    getattr(client, name)(*args)
                message = str(raised.value)
                assert message and 'Traceback' not in message and '{' not in message, message
                return
            result = getattr(client, name)(*args)
        request = documented_request(mock.request_history, endpoint, fixture['request'])
    documented = fixture['request']
    sent_names = query_names(request.url)
    expected_names = set(documented['query']) - set(endpoint.unsent_query)
    assert expected_names <= sent_names, f'documented query names not sent: {sorted(expected_names - sent_names)}'
    assert sent_names <= set(documented['query']) | ODATA_OPTIONS, f'undocumented query names: {sent_names}'
    for name, value in endpoint.headers.items():
        assert request.headers.get(name) == value, f'documented header {name} not sent'
    if documented['body'] is not None:
        assert not body_problems(documented['body'], json.loads(request.body or 'null'))
    if endpoint.command:
        written = check_outputs(endpoint.owner, endpoint.command, result)
        for path, value in endpoint.expect.items():
            assert value in written.get(path, []), f'{path}: expected {value!r}, written {written.get(path)}'
    else:
        assert result is not None or body is None


def check_outputs(owner: str, command: str, result: Any) -> dict[str, list[Any]]:
    """The command wrote context, and only under paths its YAML declares (or below a declared object path)."""
    declared = declared_outputs(owner)[command]
    written = context_paths(result)
    assert written or not declared, f'{command} wrote nothing from the documented response'
    undeclared = {p for p in written if not any(p == d or p.startswith(f'{d}.') for d in declared)}
    assert not undeclared, f'{command} writes paths its YAML does not declare: {sorted(undeclared)}'
    return written


@pytest.mark.parametrize('key', sorted(COMMAND_CHECKS))
def test_command_turns_documented_response_into_declared_outputs(key, mocker):
    """Given Microsoft's documented response for every request, When the command runs, Then it ends without error
    and writes context only under the output paths its YAML declares."""
    endpoint = BY_KEY[key]
    fixture = load(endpoint)
    module, client = build(endpoint, mocker)
    command, args = COMMAND_CHECKS[key]
    body = fixture['response']['body']
    with rm.Mocker() as mock:
        answer = {'json': body} if body is not None else {'text': ''}
        mock.register_uri(rm.ANY, rm.ANY, status_code=fixture['response']['status'], **answer)
        result = module.COMMANDS[command](client, dict(args))
        documented_request(mock.request_history, endpoint, fixture['request'])
    check_outputs(endpoint.owner, command, result)
