"""Injected faults as a client sees them: 429/5xx with Retry-After, latency, connection reset, hanging."""
from __future__ import annotations

import time

import pytest
import requests

from microsoft_emulator.testing import GRAPH, TENANT_ID, admin, client_credentials

pytestmark = pytest.mark.usefixtures('emulator_reset')


def add_fault(emulator, **spec):
    return admin(emulator.url, 'POST', '/faults', json=spec)


def test_429_with_retry_after_on_the_login_host_twice(emulator):
    fault = add_fault(emulator, host='login', status=429, retry_after=7, count=2)
    assert fault['remaining'] == 2
    for _ in range(2):
        response = client_credentials(emulator.url)
        assert response.status_code == 429 and response.headers['Retry-After'] == '7'
        assert response.json()['error_description'].startswith('AADSTS')
    assert client_credentials(emulator.url).status_code == 200
    assert admin(emulator.url, 'GET', '/faults') == []


@pytest.mark.parametrize('status', [500, 502, 503, 504])
def test_5xx_by_path_prefix_shaped_like_the_service(emulator, status):
    add_fault(emulator, path_prefix='/metadata/identity', status=status, retry_after=1)
    response = requests.get(f'{emulator.url}/metadata/identity/oauth2/token', timeout=5,
                            params={'api-version': '2018-02-01', 'resource': GRAPH}, headers={'Metadata': 'true'})
    assert response.status_code == status and response.headers['Retry-After'] == '1'
    assert response.json()['error'] == 'service_unavailable'


def test_api_style_body_and_custom_body(emulator):
    add_fault(emulator, path_regex=r'^/_emulator/whoami$', status=503)
    body = requests.get(f'{emulator.url}/_emulator/whoami', timeout=5).json()
    assert body['error']['code'] == 'ServiceUnavailable'
    add_fault(emulator, host='emulator', status=500, body={'custom': True})
    assert requests.get(f'{emulator.url}/_emulator/whoami', timeout=5).json() == {'custom': True}


def test_always_until_cleared(emulator):
    add_fault(emulator, host='login', status=503, count='always')
    for _ in range(3):
        assert client_credentials(emulator.url).status_code == 503
    admin(emulator.url, 'DELETE', '/faults')
    assert client_credentials(emulator.url).status_code == 200


def test_delete_one_fault(emulator):
    fault = add_fault(emulator, host='login', status=503, count='always')
    admin(emulator.url, 'DELETE', f"/faults/{fault['id']}")
    assert client_credentials(emulator.url).status_code == 200


def test_method_filter(emulator):
    add_fault(emulator, host='login', method='GET', status=503)
    assert client_credentials(emulator.url).status_code == 200
    assert requests.get(f'{emulator.url}/{TENANT_ID}/discovery/keys', timeout=5).status_code == 503


def test_latency(emulator):
    add_fault(emulator, host='login', kind='latency', latency_ms=300)
    started = time.monotonic()
    assert client_credentials(emulator.url).status_code == 200
    assert time.monotonic() - started >= 0.3
    entry = admin(emulator.url, 'GET', '/requests')[-1]
    assert entry['faults'] == ['latency'] and entry['duration_ms'] >= 300


def test_connection_reset(emulator):
    add_fault(emulator, host='login', kind='reset')
    with pytest.raises(requests.ConnectionError):
        client_credentials(emulator.url)
    assert client_credentials(emulator.url).status_code == 200
    entry = admin(emulator.url, 'GET', '/requests')[0]
    assert entry['faults'] == ['reset'] and entry['status'] is None


def test_connection_reset_over_tls(emulator_tls):
    emulator_tls.add_fault(host='login', kind='reset')
    verify = str(emulator_tls.ca_path)
    with pytest.raises(requests.ConnectionError):
        client_credentials(emulator_tls.url, verify=verify)
    assert client_credentials(emulator_tls.url, verify=verify).status_code == 200


def test_hang_until_client_timeout(emulator):
    add_fault(emulator, host='login', kind='hang', hang_seconds=30)
    with pytest.raises(requests.Timeout):      # the client gave up; it did not wait out the 30-second hang
        client_credentials(emulator.url, timeout=0.5)
    assert client_credentials(emulator.url).status_code == 200


def test_hang_bounded_then_504(emulator):
    add_fault(emulator, host='login', kind='hang', hang_seconds=0.3)
    assert client_credentials(emulator.url).status_code == 504


def test_invalid_fault_specs(emulator):
    for spec in ({'kind': 'explode', 'host': 'login'}, {'status': 503}, {'host': 'login', 'status': 200},
                 {'host': 'login', 'status': 503, 'count': 0}, {'path_regex': '(', 'status': 503}):
        response = requests.post(f'{emulator.url}/_emulator/faults', json=spec, timeout=5)
        assert response.status_code == 400, spec


def test_python_api(emulator):
    emulator.add_fault(host='login', status=502)
    assert client_credentials(emulator.url).status_code == 502
    assert emulator.requests(host='login')[0]['status'] == 502


def test_skip_lets_the_first_matching_requests_through(emulator):
    """Given a fault with skip=2, When three requests match, Then only the third one is faulted."""
    add_fault(emulator, host='login', status=500, skip=2, count=1)
    statuses = [client_credentials(emulator.url).status_code for _ in range(4)]
    assert statuses == [200, 200, 500, 200]


def test_negative_skip_is_refused(emulator):
    """Given a fault with a negative skip, When it is queued, Then the admin API answers 400."""
    response = requests.post(f'{emulator.url}/_emulator/faults', json={'host': 'login', 'status': 500, 'skip': -1},
                             timeout=5)
    assert response.status_code == 400
