"""API modules: registration, the verifier's 401/403, audiences, prefixes and rate limits."""
from __future__ import annotations

import time

import jwt
import pytest
import requests
from starlette.responses import JSONResponse

from microsoft_emulator.core.api import ApiModule
from microsoft_emulator.ratelimits import GRAPH_SECURITY, M365D_INCIDENTS, MDE_DEFAULT, MDE_HUNTING, RateLimitRule
from microsoft_emulator.server import EmulatorServer
from microsoft_emulator.testing import (
    GRAPH,
    M365D,
    MDE,
    NO_PERMISSIONS_APP_ID,
    NO_PERMISSIONS_APP_SECRET,
    SECRET_APP_ID,
    access_token,
    admin,
)

demo = ApiModule('demo_mde', host='mde', audiences=('mde',), prefixes=('', '/mde'),
                 rate_limits=[RateLimitRule('minute', calls=3, period_seconds=60),
                              RateLimitRule('hunting', calls=1, period_seconds=60, path_regex=r'/advancedqueries/')])


@demo.route('/api/machines/{machine_id}/isolate', methods=['POST'], permissions=['Machine.Isolate'])
async def isolate(request, principal):
    return JSONResponse({'id': request.path_params['machine_id'], 'by': principal.client_id}, status_code=201)


@demo.route('/api/advancedqueries/run', methods=['POST'], permissions=['AdvancedQuery.Read.All', 'AdvancedQuery.Read'])
async def run_query(request, principal):
    return JSONResponse({'Results': []})


@demo.route('/api/graphish', audiences=('graph',))
async def graphish(request, principal):
    return JSONResponse({'ok': True})


graphish_module = ApiModule('demo_graph', host='graph', audiences=('graph',), error_style='graph',
                            rate_limits=GRAPH_SECURITY)


@graphish_module.route('/v1.0/security/incidents', permissions=['SecurityIncident.Read.All',
                                                                'SecurityIncident.ReadWrite.All'])
async def incidents(request, principal):
    return JSONResponse({'value': []})


@pytest.fixture(scope='module')
def server():
    with EmulatorServer(api_modules=[demo, graphish_module], include_builtin_modules=False) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def _clean(server):
    server.reset()
    yield
    server.reset()


def call(server, path, token, method='POST'):
    return requests.request(method, f'{server.url}{path}', headers={'Authorization': f'Bearer {token}'}, timeout=5)


def test_permitted_call(server):
    response = call(server, '/api/machines/m1/isolate', access_token(server.url, scope=f'{MDE}/.default'))
    assert response.status_code == 201 and response.json() == {'id': 'm1', 'by': SECRET_APP_ID}
    entry = server.requests()[-1]
    assert entry['host'] == 'mde' and entry['client_id'] == SECRET_APP_ID and entry['status'] == 201


def test_mounted_under_prefix_too(server):
    response = call(server, '/mde/api/machines/m2/isolate', access_token(server.url, scope=f'{MDE}/.default'))
    assert response.status_code == 201


def test_missing_role_403(server):
    token = access_token(server.url, client_id=NO_PERMISSIONS_APP_ID, secret=NO_PERMISSIONS_APP_SECRET)
    response = call(server, '/api/machines/m1/isolate', token)
    assert response.status_code == 403
    error = response.json()['error']
    assert error['code'] == 'Forbidden' and 'Machine.Isolate' in error['message']


def test_wrong_audience_401(server):
    response = call(server, '/api/machines/m1/isolate', access_token(server.url, scope=f'{M365D}/.default'))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers['WWW-Authenticate']
    assert 'audience' in response.json()['error']['message']


def test_route_level_audience(server):
    assert call(server, '/api/graphish', access_token(server.url, scope=f'{GRAPH}/.default'), 'GET').status_code == 200
    assert call(server, '/api/graphish', access_token(server.url, scope=f'{MDE}/.default'), 'GET').status_code == 401


def test_delegated_scope_satisfies_permission(server):
    minted = admin(server.url, 'POST', '/tokens/mint', json={'resource': MDE, 'scp': 'AdvancedQuery.Read'})
    assert call(server, '/api/advancedqueries/run', minted['access_token']).status_code == 200
    minted = admin(server.url, 'POST', '/tokens/mint', json={'resource': MDE, 'scp': 'Alert.Read'})
    response = call(server, '/api/advancedqueries/run', minted['access_token'])
    assert response.status_code == 403 and 'Scopes on the request' in response.json()['error']['message']


def test_rate_limits_off_by_default(server):
    token = access_token(server.url, scope=f'{MDE}/.default')
    assert all(call(server, '/api/advancedqueries/run', token).status_code == 200 for _ in range(3))


def test_rate_limit_429_with_retry_after(server):
    admin(server.url, 'POST', '/rate-limits', json={'enabled': True})
    token = access_token(server.url, scope=f'{MDE}/.default')
    assert call(server, '/api/advancedqueries/run', token).status_code == 200
    throttled = call(server, '/api/advancedqueries/run', token)
    assert throttled.status_code == 429
    assert 50 <= int(throttled.headers['Retry-After']) <= 60
    assert throttled.json()['error']['code'] == 'TooManyRequests'
    assert server.requests()[-1]['rate_limited'] == 'hunting'
    # Other routes still have their own budget (3 per minute, shared by the whole module).
    assert [call(server, '/api/machines/m/isolate', token).status_code for _ in range(3)] == [201, 201, 429]


def test_limits_are_per_app(server):
    admin(server.url, 'POST', '/rate-limits', json={'enabled': True})
    mine = access_token(server.url, scope=f'{MDE}/.default')
    assert call(server, '/api/advancedqueries/run', mine).status_code == 200
    assert call(server, '/api/advancedqueries/run', mine).status_code == 429
    other = admin(server.url, 'POST', '/tokens/mint', json={'resource': MDE, 'roles': ['AdvancedQuery.Read.All'],
                                                            'client_id': '99999999-9999-4999-8999-999999999999'})
    assert call(server, '/api/advancedqueries/run', other['access_token']).status_code == 200


def test_time_scale_shrinks_windows(server):
    admin(server.url, 'POST', '/rate-limits', json={'enabled': True, 'time_scale': 0.005})   # 60 s -> 0.3 s
    token = access_token(server.url, scope=f'{MDE}/.default')
    assert call(server, '/api/advancedqueries/run', token).status_code == 200
    throttled = call(server, '/api/advancedqueries/run', token)
    assert throttled.status_code == 429 and throttled.headers['Retry-After'] == '1'
    time.sleep(0.35)
    assert call(server, '/api/advancedqueries/run', token).status_code == 200


def test_rules_overridden_at_run_time(server):
    answer = admin(server.url, 'POST', '/rate-limits', json={
        'enabled': True, 'rules': {'demo_mde': [{'name': 'tiny', 'calls': 1, 'period_seconds': 10}]}})
    assert answer['modules']['demo_mde'] == [{'name': 'tiny', 'calls': 1, 'period_seconds': 10.0, 'path_regex': None,
                                              'methods': [], 'per': 'app'}]
    token = access_token(server.url, scope=f'{MDE}/.default')
    assert [call(server, '/api/machines/m/isolate', token).status_code for _ in range(2)] == [201, 429]
    admin(server.url, 'POST', '/rate-limits', json={'rules': {'demo_mde': []}})
    assert call(server, '/api/machines/m/isolate', token).status_code == 201


def test_token_claims_tenant_scoping(server):
    token = access_token(server.url, scope=f'{MDE}/.default')
    claims = jwt.decode(token, options={'verify_signature': False})
    assert claims['ver'] == '1.0' and 'xms_emu_gen' in claims


def test_graph_error_style_and_logical_host(server):
    response = call(server, '/v1.0/security/incidents', 'garbage', 'GET')
    assert response.status_code == 401 and response.json()['error']['code'] == 'InvalidAuthenticationToken'
    ok = call(server, '/v1.0/security/incidents', access_token(server.url, scope=f'{GRAPH}/.default'), 'GET')
    assert ok.status_code == 200 and server.requests()[-1]['host'] == 'graph'


def test_documented_presets():
    assert [(r.calls, r.period_seconds) for r in MDE_DEFAULT] == [(100, 60), (1500, 3600)]
    assert all(r.matches('POST', '/api/advancedqueries/run') for r in MDE_HUNTING)
    assert not MDE_HUNTING[0].matches('GET', '/api/machines')
    assert M365D_INCIDENTS[0].matches('GET', '/api/incidents/12') and M365D_INCIDENTS[0].calls == 50
    assert GRAPH_SECURITY[0].matches('GET', '/v1.0/security/alerts_v2') and GRAPH_SECURITY[0].calls == 150


def test_unknown_setting_rejected(server):
    response = requests.post(f'{server.url}/_emulator/settings', json={'no_such_setting': 1}, timeout=5)
    assert response.status_code == 400 and 'no_such_setting' in response.json()['error']
