"""The emulator side of the contract: asked Microsoft's documented request, the emulator answers with the documented
status and every documented field with its JSON type (recursively), and the documented paging shape."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from contract.contract import load, shape_problems, with_fixtures
from contract.endpoints import Endpoint
from microsoft_emulator.testing import GRAPH, M365D, MDE, access_token, admin
from microsoft_emulator.threat_intelligence.data import DATA

AUDIENCE = {'mde': MDE, 'xdr': M365D, 'graph': GRAPH}
CASES = [e for e in with_fixtures() if e.api in AUDIENCE]
PLACEHOLDER = re.compile(r'\{(\w+)\}')


class Seed:
    """Identifiers of the emulator's seed for the documented paths' placeholders, looked up through the API."""

    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url, self.tokens = url, tokens

    def get(self, api: str, path: str, **params: Any) -> Any:
        response = requests.get(f'{self.url}{path}', params=params or None, timeout=30,
                                headers={'Authorization': f'Bearer {self.tokens[api]}'})
        response.raise_for_status()
        return response.json()

    def post(self, api: str, path: str, body: dict[str, Any]) -> Any:
        response = requests.post(f'{self.url}{path}', json=body, timeout=30,
                                 headers={'Authorization': f'Bearer {self.tokens[api]}'})
        response.raise_for_status()
        return response.json()

    def first(self, api: str, path: str, key: str = 'id', **params: Any) -> str:
        return str(self.get(api, path, **params)['value'][0][key])

    def machine(self) -> str:
        return self.first('mde', '/api/machines', **{'$filter': "osPlatform eq 'Windows11'"})

    def resolve(self, name: str) -> str:
        lookups: dict[str, Callable[[], str]] = {
            'machine': self.machine,
            'windows_machine': self.machine,
            'now': lambda: datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ'),
            'future': lambda: (datetime.now(UTC) + timedelta(days=30)).strftime('%Y-%m-%dT%H:%M:%SZ'),
            'ip': lambda: str(self.get('mde', f'/api/machines/{self.machine()}')['lastIpAddress']),
            'user': lambda: self.first('mde', f'/api/machines/{self.machine()}/logonusers', 'accountName'),
            'alert': lambda: self.first('mde', '/api/alerts'),
            'sha1': lambda: self.first('mde', f'/api/alerts/{self.first("mde", "/api/alerts")}/files', 'sha1'),
            'domain': lambda: self.first('mde', f'/api/alerts/{self.first("mde", "/api/alerts")}/domains', 'host'),
            'action': lambda: self.started('runAntiVirusScan', {'Comment': 'contract', 'ScanType': 'Quick'}),
            'package_action': lambda: self.started('collectInvestigationPackage', {'Comment': 'contract'}, done=True),
            'live_response_action': lambda: self.started('runliveresponse', {'Comment': 'contract', 'Commands': [
                {'type': 'GetFile', 'params': [{'key': 'Path', 'value': 'C:\\Windows\\notepad.exe'}]}]},
                done=True),
            'investigation': lambda: self.first('mde', '/api/investigations'),
            'software': lambda: self.first('mde', '/api/Software'),
            'windows_software': lambda: self.having('/api/Software', '/getmissingkbs'),
            'alert_ip': lambda: self.first('mde', f'/api/alerts/{self.having("/api/alerts", "/ips")}/ips'),
            'machine_with_action': lambda: self.acted('runAntiVirusScan', {'Comment': 'contract', 'ScanType': 'Quick'}),
            'cve': lambda: self.first('mde', '/api/vulnerabilities'),
            'indicator': lambda: self.first('mde', '/api/indicators'),
            'incident': lambda: self.first('xdr', '/api/incidents', 'incidentId'),
            'graph_incident': lambda: self.first('graph', '/v1.0/security/incidents'),
            'isolated_machine': lambda: self.acted('isolate', {'Comment': 'contract', 'IsolationType': 'Full'}),
            'restricted_machine': lambda: self.acted('restrictCodeExecution', {'Comment': 'contract'}),
            'pending_action': lambda: self.started('runAntiVirusScan', {'Comment': 'contract', 'ScanType': 'Quick'}),
            'ti_indicator': lambda: str(self.post('graph', '/beta/security/tiIndicators', {
                'action': 'alert', 'description': 'contract', 'expirationDateTime': self.resolve('future'),
                'targetProduct': 'Microsoft Defender ATP', 'threatType': 'WatchList', 'tlpLevel': 'green',
                'fileHashType': 'sha256', 'fileHashValue': 'b' * 64})['id']),
            **self.threat_intelligence(),
        }
        if name not in lookups:
            raise KeyError(f'no seed lookup for {{{name}}}')
        return lookups[name]()

    def having(self, collection: str, part: str) -> str:
        """The first item of ``collection`` whose ``part`` is not empty (so the answer has a shape to compare)."""
        for item in self.get('mde', collection)['value']:
            if self.get('mde', f'{collection}/{item["id"]}{part}')['value']:
                return str(item['id'])
        raise AssertionError(f'the seed has no item of {collection} with {part}')

    def started(self, action: str, body: dict[str, Any], done: bool = False) -> str:
        """A new machine action on a healthy machine; ``done`` steps it to its end (the emulator's admin API)."""
        action_id = str(self.post('mde', f'/api/machines/{self.machine()}/{action}', body)['id'])
        if done:
            admin(self.url, 'POST', f'/mde/actions/{action_id}/step', json={'steps': 10})
        return action_id

    @staticmethod
    def threat_intelligence() -> dict[str, Callable[[], str]]:
        """Defender Threat Intelligence identifiers of the emulator's fixed data set."""
        from urllib.parse import quote

        data = DATA
        return {
            'article': lambda: next(iter(data.articles)),
            'article_indicator': lambda: quote(next(iter(data.article_indicators)), safe=''),
            'profile': lambda: next(iter(data.profiles)),
            'profile_indicator': lambda: quote(next(iter(data.profile_indicators)), safe=''),
            'host': lambda: 'contoso.com',
            'ip_host': lambda: next(iter(data.passive_dns_reverse)),
            'whois': lambda: quote(next(iter(data.whois_by_id)), safe=''),
            'vulnerability': lambda: next(iter(data.vulnerabilities)),
        }

    def acted(self, action: str, body: dict[str, Any]) -> str:
        machine = self.machine()
        self.post('mde', f'/api/machines/{machine}/{action}', body)
        return machine


@pytest.fixture(scope='module')
def tokens(emulator) -> dict[str, str]:
    return {api: access_token(emulator.url, scope=f'{audience}/.default') for api, audience in AUDIENCE.items()}


@pytest.mark.parametrize('endpoint', CASES, ids=lambda e: e.key)
def test_emulator_answers_documented_request_with_documented_shape(endpoint: Endpoint, emulator, emulator_reset,
                                                                    tokens):
    """Given Microsoft's documented request (the seed's identifiers in the path), When the emulator is asked, Then
    the status is the documented one and every documented field is there with the documented JSON type."""
    fixture = load(endpoint)
    documented = fixture['request']
    seed = Seed(emulator.url, tokens)
    path = endpoint.emulator_path or documented['path']
    path = PLACEHOLDER.sub(lambda m: seed.resolve(m.group(1)), path)
    body = documented['body']
    if endpoint.emulator_body is not None:
        body = {k: PLACEHOLDER.sub(lambda m: seed.resolve(m.group(1)), v) if isinstance(v, str) else v
                for k, v in endpoint.emulator_body.items()}
    query = {k: PLACEHOLDER.sub(lambda m: seed.resolve(m.group(1)), v)
             for k, v in (endpoint.emulator_query or documented['query']).items()}
    response = requests.request(documented['method'], f'{emulator.url}{path}', params=query or None,
                                json=body, timeout=30,
                                headers={'Authorization': f'Bearer {tokens[endpoint.api]}', **endpoint.headers})
    expected = fixture['response']
    assert response.status_code == expected['status'], response.text[:500]
    if expected['body'] is None:
        return
    actual = response.json()
    problems = shape_problems(expected['body'], actual)
    assert not problems, f'{endpoint.key}: the emulator differs from Microsoft\'s example: {problems}'
    if isinstance(expected['body'], dict) and isinstance(expected['body'].get('value'), list):
        assert isinstance(actual.get('value'), list)
        assert actual['value'] or not expected['body']['value'], 'empty answer: nothing to compare with the example'
        assert '@odata.context' in actual or '@odata.context' not in expected['body']
        if '@odata.nextLink' in expected['body']:
            assert '@odata.nextLink' in actual, 'Microsoft documents a next page link here'
