"""Defender for Endpoint live response in the emulator: request validation, one action per machine, commands over
time, result links and the SAS downloads, library and failure hooks."""
from __future__ import annotations

import gzip
import time

import pytest
import requests

from microsoft_emulator.defender_endpoint.live_response import get_file_content, get_file_gzip, script_result
from microsoft_emulator.testing import MDE, access_token, admin

STEP = 0.1


@pytest.fixture(scope='module')
def token(emulator):
    return access_token(emulator.url, scope=f'{MDE}/.default')


@pytest.fixture
def api(emulator, emulator_reset, token):
    admin(emulator.url, 'POST', '/mde/settings', json={'action_step_seconds': STEP})

    def call(method, path, **kwargs):
        return requests.request(method, f'{emulator.url}{path}', timeout=30,
                                headers={'Authorization': f'Bearer {token}'}, **kwargs)
    return call


@pytest.fixture
def machine_id(emulator, api):
    return next(m['id'] for m in admin(emulator.url, 'GET', '/mde/machines') if not m['broken'])


def body(*commands, comment='lr test'):
    return {'Commands': [{'type': t, 'params': [{'key': k, 'value': v} for k, v in p.items()]} for t, p in commands],
            'Comment': comment}


def wait_done(api, action_id):
    for _ in range(100):
        action = api('GET', f'/api/machineactions/{action_id}').json()
        if action['status'] not in ('Pending', 'InProgress'):
            return action
        time.sleep(STEP / 2)
    raise AssertionError('the action never finished')


def test_get_file_end_to_end(api, machine_id):
    """Given a GetFile request, When it completes, Then the link serves the gzip of the path's content without a
    token, and refuses one that carries an Authorization header."""
    path = r'C:\Users\alex\Desktop\invoice.docm'
    started = api('POST', f'/api/machines/{machine_id}/runliveresponse', json=body(('GetFile', {'Path': path})))
    assert started.status_code == 201, started.text
    action = started.json()
    assert action['type'] == 'LiveResponse' and action['status'] == 'Pending'
    assert action['commands'][0]['commandStatus'] == 'Created'
    assert action['commands'][0]['command'] == {'type': 'GetFile', 'params': [{'key': 'Path', 'value': path}]}
    early = api('GET', f"/api/machineactions/{action['id']}/GetLiveResponseResultDownloadLink(index=0)")
    assert early.status_code == 404
    done = wait_done(api, action['id'])
    assert done['status'] == 'Succeeded' and done['commands'][0]['commandStatus'] == 'Completed'
    link = api('GET', f"/api/machineactions/{action['id']}/GetLiveResponseResultDownloadLink(index=0)").json()['value']
    data = requests.get(link, timeout=10).content
    assert data == get_file_gzip(path) and gzip.decompress(data) == get_file_content(path)
    with_token = requests.get(link, timeout=10, headers={'Authorization': 'Bearer x'})
    assert with_token.status_code == 403 and 'AuthenticationFailed' in with_token.text
    assert requests.get(link.replace('sig=', 'sig=x'), timeout=10).status_code == 403


def test_run_script_result_and_one_action_per_machine(api, machine_id):
    """Given a running script, When another live response starts on the machine, Then it is refused with
    ActiveRequestAlreadyExists; the script's result is the documented JSON."""
    request = body(('RunScript', {'ScriptName': 'minidump.ps1', 'Args': 'OfficeClickToRun'}))
    first = api('POST', f'/api/machines/{machine_id}/runliveresponse', json=request).json()
    second = api('POST', f'/api/machines/{machine_id}/runliveresponse', json=request)
    assert second.status_code == 400 and second.json()['error']['code'] == 'ActiveRequestAlreadyExists'
    wait_done(api, first['id'])
    link = api('GET', f"/api/machineactions/{first['id']}/GetLiveResponseResultDownloadLink(index=0)").json()['value']
    assert requests.get(link, timeout=10).json() == script_result('minidump.ps1', 'OfficeClickToRun')


@pytest.mark.parametrize('request_body,message', [
    ({'Commands': [{'type': 'GetFile', 'params': [{'key': 'Path', 'value': 'C:\\x'}]}]}, 'Comment'),
    (body(), 'Commands'),
    (body(('Delete', {'Path': 'x'})), 'type'),
    (body(('GetFile', {})), 'Path'),
    (body(('GetFile', {'Path': 'C:\\x', 'Args': 'y'})), 'Args'),
    (body(('GetFile', {'Path': 'C:\\x'}), ('PutFile', {'FileName': 'tools.zip'})), 'order'),
    ({'Commands': [{'type': 'GetFile', 'params': [{'key': 'Path', 'value': 5}]}], 'Comment': 'c'}, 'string'),
])
def test_request_validation(api, machine_id, request_body, message):
    response = api('POST', f'/api/machines/{machine_id}/runliveresponse', json=request_body)
    assert response.status_code == 400 and message in response.json()['error']['message']


def test_put_file_outside_the_library_fails_the_command(api, machine_id, emulator):
    """Given a PutFile of a file missing from the library followed by a script, When it runs, Then PutFile fails
    with an error and the script never runs; after adding the file, the same request succeeds."""
    request = body(('PutFile', {'FileName': 'new-tool.exe'}), ('RunScript', {'ScriptName': 'cleanup.sh'}))
    action = api('POST', f'/api/machines/{machine_id}/runliveresponse', json=request).json()
    done = wait_done(api, action['id'])
    assert done['status'] == 'Failed'
    assert [c['commandStatus'] for c in done['commands']] == ['Failed', 'Created']
    assert 'library' in done['commands'][0]['errors'][0]
    admin(emulator.url, 'POST', '/mde/live-response/library', json={'name': 'new-tool.exe'})
    again = api('POST', f'/api/machines/{machine_id}/runliveresponse', json=request).json()
    assert wait_done(api, again['id'])['status'] == 'Succeeded'
    assert api('GET', f"/api/machineactions/{again['id']}/GetLiveResponseResultDownloadLink(index=0)"
               ).status_code == 400


def test_fail_next_and_cancel(api, machine_id, emulator):
    admin(emulator.url, 'POST', '/mde/live-response/fail-next', json={'type': 'RunScript', 'errors': ['boom']})
    action = api('POST', f'/api/machines/{machine_id}/runliveresponse',
                 json=body(('RunScript', {'ScriptName': 'minidump.ps1'}))).json()
    done = wait_done(api, action['id'])
    assert done['status'] == 'Failed' and done['commands'][0]['errors'] == ['boom']
    admin(emulator.url, 'POST', '/mde/settings', json={'action_step_seconds': 30})
    action = api('POST', f'/api/machines/{machine_id}/runliveresponse',
                 json=body(('GetFile', {'Path': '/etc/hosts'}))).json()
    cancelled = api('POST', f"/api/machineactions/{action['id']}/cancel", json={'Comment': 'stop'}).json()
    assert cancelled['status'] == 'Cancelled' and cancelled['commands'][0]['commandStatus'] == 'Cancelled'


def test_permission_and_unknown_ids(api, emulator, machine_id):
    """Given a token without Machine.LiveResponse, When it starts a live response, Then 403; unknown IDs are 404."""
    minted = admin(emulator.url, 'POST', '/tokens/mint', json={'resource': MDE, 'roles': ['Machine.Read.All']})
    token = minted.get('access_token') or minted.get('token')
    refused = requests.post(f'{emulator.url}/api/machines/{machine_id}/runliveresponse', timeout=10,
                            headers={'Authorization': f'Bearer {token}'}, json=body(('GetFile', {'Path': 'C:\\x'})))
    assert refused.status_code == 403
    missing = api('POST', '/api/machines/0000/runliveresponse', json=body(('GetFile', {'Path': 'C:\\x'})))
    assert missing.status_code == 404
    unknown = api('GET', '/api/machineactions/nope/GetLiveResponseResultDownloadLink(index=0)')
    assert unknown.status_code == 404
