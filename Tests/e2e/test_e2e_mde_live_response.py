"""Microsoft Defender for Endpoint live response end to end: the five commands through xsoar-local (unified script,
fresh process per round, real HTTPS) against the emulator, polled to completion, with the context checked against
the YAML and the downloaded bytes compared with what the emulator served."""
from __future__ import annotations

import time

import pytest
from e2e_runtime import ok

from microsoft_emulator.defender_endpoint.live_response import get_file_gzip, script_result
from microsoft_emulator.testing import admin

pytestmark = pytest.mark.e2e

INTEGRATION = 'MicrosoftDefenderAdvancedThreatProtection'
P = 'microsoft-atp'
PATH = r'C:\Users\alex\Downloads\invoice.docm'


def failed(result, *fragments):
    assert result.has_error and result.problems == [], (result.errors, result.problems)
    text = ' '.join(result.errors)
    assert 'Traceback' not in text
    for fragment in fragments:
        assert fragment in text, text
    return text


@pytest.fixture
def mde(e2e_emulator):
    url, ca = e2e_emulator.url, str(e2e_emulator.ca_path)
    admin(url, 'POST', '/mde/reset', verify=ca)
    steps(url, ca, 0.05)
    return url, ca


def steps(url, ca, seconds):
    admin(url, 'POST', '/mde/settings', verify=ca, json={'action_step_seconds': seconds})


@pytest.fixture
def target(mde):
    url, ca = mde
    return next(m['id'] for m in admin(url, 'GET', '/mde/machines', verify=ca) if not m['broken'])


@pytest.fixture
def lr(local_run):
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret')
    return lambda command, **args: run.run(instance, f'{P}-live-response-{command}', **args)


def only_file(result):
    assert len(result.files) == 1, result.files
    return next(iter(result.files.values())).read_bytes()


def test_get_file_returns_the_bytes_served(lr, target, local_run, e2e_emulator):
    """Given a machine, When a file is collected with polling, Then the action succeeds, the file entry holds exactly
    the gzip the emulator served, and the download carried no bearer token."""
    e2e_emulator.log.clear()
    result = ok(lr('get-file', machine_id=target, comment='e2e', path=PATH))
    action = result.context['MicrosoftATP']['LiveResponseAction']
    assert action['status'] == 'Succeeded' and action['commands'][0]['commandStatus'] == 'Completed'
    assert only_file(result) == get_file_gzip(PATH)
    assert any(e['File'] == 'Response Result.gz' for e in result.entries if e.get('File'))
    downloads = [e for e in e2e_emulator.requests() if e.get('host') == 'blob']
    assert len(downloads) == 1 and downloads[0]['status'] == 200 and downloads[0]['client_id'] is None


def test_run_script_output_in_context(lr, target):
    result = ok(lr('run-script', machine_id=target, comment='e2e', scriptName='minidump.ps1',
                   arguments='OfficeClickToRun'))
    action = result.context['MicrosoftATP']['LiveResponseAction']
    expected = script_result('minidump.ps1', 'OfficeClickToRun')
    assert {k: action[k] for k in expected} == expected
    assert action['commands'][0]['command']['params'][1] == {'key': 'Args', 'value': 'OfficeClickToRun'}
    assert only_file(result).decode() and result.files


def test_put_file_from_the_library_and_not(lr, target):
    """Given a file in the library and one that is not, When each is put on the machine, Then the first succeeds and
    the second fails with the command's error."""
    done = ok(lr('put-file', machine_id=target, comment='e2e', file_name='tools.zip'))
    assert done.context['MicrosoftATP']['LiveResponseAction']['status'] == 'Succeeded'
    failed(lr('put-file', machine_id=target, comment='e2e', file_name='unknown.exe'),
           'failed', 'PutFile', "'unknown.exe' was not found in the live response library")


def test_result_for_a_finished_action(lr, target):
    """Given actions started without polling, When they finished, Then -result downloads each command's result."""
    started = ok(lr('get-file', machine_id=target, comment='e2e', path=PATH, polling='false'))
    action_id = started.context['MicrosoftATP']['LiveResponseAction']['id']
    time.sleep(0.3)
    result = ok(lr('result', machine_action_id=action_id, command_index='0'))
    assert only_file(result) == get_file_gzip(PATH)
    assert result.context['MicrosoftATP']['LiveResponseResult']['FileName'] == 'Response Result.gz'
    script = ok(lr('run-script', machine_id=target, comment='e2e', scriptName='cleanup.sh', polling='false'))
    time.sleep(0.3)
    output = ok(lr('result', machine_action_id=script.context['MicrosoftATP']['LiveResponseAction']['id']))
    assert output.context['MicrosoftATP']['LiveResponseResult']['exit_code'] == 0
    failed(lr('result', machine_action_id='00000000-0000-0000-0000-000000000000'), 'was not found')
    failed(lr('result', machine_action_id=action_id, command_index='3'), 'out of range')


def test_one_live_response_per_machine_and_cancel(lr, target, mde):
    """Given a live response still running, When another starts on the machine, Then the clear "already running"
    error; When it is cancelled, Then polling it reports the cancellation."""
    steps(*mde, 60)
    started = ok(lr('get-file', machine_id=target, comment='e2e', path=PATH, polling='false'))
    action_id = started.context['MicrosoftATP']['LiveResponseAction']['id']
    failed(lr('run-script', machine_id=target, comment='e2e', scriptName='minidump.ps1'),
           'already running on machine', 'cancel-action')
    ok(lr('cancel-action', machine_action_id=action_id, comment='not needed'))
    failed(lr('get-file', machine_id=target, comment='e2e', path=PATH, machine_action_id=action_id),
           'was cancelled by', 'not needed')
    failed(lr('cancel-action', machine_action_id='00000000-0000-0000-0000-000000000000', comment='x'),
           'was not found, so there is nothing to cancel')


@pytest.mark.parametrize('cause', ['script error', 'broken machine'])
def test_failed_command_reports_its_errors(lr, mde, cause):
    url, ca = mde
    machines = admin(url, 'GET', '/mde/machines', verify=ca)
    if cause == 'broken machine':
        machine_id, expected = next(m['id'] for m in machines if m['broken']), 'could not be reached'
    else:
        machine_id, expected = next(m['id'] for m in machines if not m['broken']), 'Access is denied.'
        admin(url, 'POST', '/mde/live-response/fail-next', verify=ca,
              json={'type': 'RunScript', 'errors': ['Access is denied.']})
    failed(lr('run-script', machine_id=machine_id, comment='e2e', scriptName='minidump.ps1'),
           'failed', 'command 0 (RunScript)', expected)


def test_poll_timeout_names_the_action(lr, target, mde):
    """Given an action slower than the timeout, When polling runs out, Then the error names the action and how to
    get its result later."""
    steps(*mde, 600)
    text = failed(lr('get-file', machine_id=target, comment='e2e', path=PATH, interval_in_seconds='10',
                     timeout_in_seconds='30'), 'still Pending after 30 seconds', 'live-response-result')
    assert 'machine_action_id=' in text


@pytest.mark.parametrize('command,args,name', [
    ('get-file', {'machine_id': 'm', 'comment': 'c'}, 'path'),
    ('run-script', {'machine_id': 'm', 'comment': 'c'}, 'scriptName'),
    ('put-file', {'machine_id': 'm', 'file_name': 'tools.zip'}, 'comment'),
    ('get-file', {'machine_id': 'm', 'comment': 'c', 'path': 'x', 'interval_in_seconds': '1'}, 'interval_in_seconds'),
    ('result', {'machine_action_id': 'a', 'command_index': '-1'}, 'command_index'),
])
def test_bad_input_is_a_clear_error(lr, mde, command, args, name):
    failed(lr(command, **args), name)
