"""The local runtime end to end: fresh processes, the unified script, state between executions, CLI exit codes."""
import json
import threading
import time

import pytest

from xsoar_local import build
from xsoar_local.cli import main as cli_main
from xsoar_local.instances import build_instance
from xsoar_local.integrations import Integration, find_integration, load_integration
from xsoar_local.runner import RunOptions, run_command, run_fetch, run_with_polling
from xsoar_local.state import InstanceStore, VersionConflict

FIXTURE = 'XSOARLocalFixture'


@pytest.fixture(autouse=True)
def local_home(tmp_path, monkeypatch):
    """Every test gets its own .xsoar-local state and fast polling."""
    monkeypatch.setenv('XSOAR_LOCAL_HOME', str(tmp_path / 'home'))
    monkeypatch.setenv('XSOAR_LOCAL_TIME_SCALE', '0.001')
    return tmp_path / 'home'


@pytest.fixture(scope='module')
def fixture_integration() -> Integration:
    return find_integration(FIXTURE)


@pytest.fixture
def instance(fixture_integration):
    return build_instance(fixture_integration, {'name': 'fixture-test', 'credentials': {'password': 'hunter2'}})


def run_cli_json(capfd, *argv):
    code = cli_main([*argv, '--json'])
    out, _ = capfd.readouterr()
    return code, json.loads(out)


def test_run_command_from_unified_script(fixture_integration, instance):
    """Given the fixture, When fixture-echo runs from the unified script, Then the entry and DT-merged context come
    back and the context matches the YAML outputs."""
    result = run_command(fixture_integration, instance, 'fixture-echo', {'message': 'hello', 'count': '2'})
    assert not result.has_error, result.entries
    assert result.context == {'Fixture': {'Echo': [{'id': 1, 'message': 'hello'}, {'id': 2, 'message': 'hello'}]}}
    assert '### Echo' in result.entries[0]['HumanReadable']
    assert result.problems == []


def test_source_mode_runs_the_same(fixture_integration, instance):
    """Given --source, When the same command runs from the source tree, Then the result is the same."""
    result = run_command(fixture_integration, instance, 'fixture-echo', {'message': 'hi'}, RunOptions(source=True))
    assert result.context == {'Fixture': {'Echo': {'id': 1, 'message': 'hi'}}}


def test_cli_json_output_and_exit_code(capfd):
    """Given the CLI with --json, When a command succeeds, Then entries and context are printed and the exit is 0."""
    code, payload = run_cli_json(capfd, 'run', FIXTURE, 'fixture-echo', 'message=json')
    assert code == 0
    assert payload['context'] == {'Fixture': {'Echo': {'id': 1, 'message': 'json'}}}
    assert payload['entries'][0]['Type'] == 1


def test_error_entry_gives_non_zero_exit(capfd):
    """Given a command that fails, When run, Then an error entry names the cause and the exit status is 1."""
    code, payload = run_cli_json(capfd, 'run', FIXTURE, 'fixture-fail', 'reason=testing')
    assert code == 1
    error = payload['entries'][0]
    assert error['Type'] == 4 and 'Asked to fail: testing' in error['Contents']
    assert payload['crash'] is None


def test_missing_required_argument_is_an_error_without_running(capfd):
    """Given no value for a required argument, When run, Then the runtime refuses like the server does."""
    code, payload = run_cli_json(capfd, 'run', FIXTURE, 'fixture-echo')
    assert code == 1
    assert payload['entries'][0]['Contents'] == 'Missing required argument(s) for fixture-echo: message.'


def test_strict_output_check_fails_on_undeclared_path(capfd):
    """Given a command writing a path the YAML lacks, When run with --strict, Then the exit status is 2 and the path
    is named; without --strict it is only reported."""
    code, payload = run_cli_json(capfd, 'run', FIXTURE, 'fixture-undeclared', '--strict')
    assert code == 2
    assert payload['undeclared_outputs'] == ['Fixture.Echo.surprise: written to context but not declared in the YAML '
                                             'outputs']
    code, _ = run_cli_json(capfd, 'run', FIXTURE, 'fixture-undeclared')
    assert code == 0


def test_polling_runs_several_rounds(fixture_integration, instance):
    """Given a command that schedules itself, When run with polling, Then each round runs in a fresh process with the
    PollingArgs until nothing is scheduled."""
    seen = []
    rounds = run_with_polling(fixture_integration, instance, 'fixture-poll', {'rounds': '4'},
                              progress=lambda result, wait: seen.append(result.scheduled['PollingArgs']['round']))
    assert len(rounds) == 4
    assert seen == ['2', '3', '4']
    assert rounds[0].scheduled['NextRun'] == '10'
    assert rounds[-1].context == {'Fixture': {'Poll': {'rounds': 4, 'done': True}}}


def test_polling_timeout_is_an_error(fixture_integration, instance, monkeypatch):
    """Given a polling timeout shorter than the rounds need, When run, Then the last round reports the timeout."""
    monkeypatch.setenv('XSOAR_LOCAL_TIME_SCALE', '1')
    monkeypatch.setattr('xsoar_local.runner.time.sleep', lambda s: None)
    monkeypatch.setattr('xsoar_local.runner.DEFAULT_POLLING_TIMEOUT_S', 5)
    clock = iter(range(0, 10_000, 7))
    monkeypatch.setattr('xsoar_local.runner.time.monotonic', lambda: next(clock))
    rounds = run_with_polling(fixture_integration, instance, 'fixture-poll', {'rounds': '50'})
    assert rounds[-1].has_error
    assert 'timed out' in rounds[-1].errors[-1]


def test_versioned_context_conflict_between_processes(fixture_integration, instance, tmp_path):
    """Given two executions that read the same context version, When both write, Then the later write gets a version
    conflict error and the first write is kept (nothing is silently lost)."""
    ready, go = tmp_path / 'ready', tmp_path / 'go'
    slow_result = {}

    def slow_writer():
        slow_result['r'] = run_command(fixture_integration, instance, 'fixture-context-bump',
                                       {'ready': str(ready), 'wait_for': str(go)})

    thread = threading.Thread(target=slow_writer)
    thread.start()
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    fast = run_command(fixture_integration, instance, 'fixture-context-bump', {})
    go.touch()
    thread.join(60)
    assert not fast.has_error and fast.context == {'Fixture': {'Counter': {'value': 1}}}
    slow = slow_result['r']
    assert slow.has_error
    assert 'version conflict' in slow.errors[0].lower()
    assert InstanceStore(instance.name).get_context() == {'context': {'counter': 1}, 'version': 1}


def test_store_conflict_and_unchecked_write(local_home):
    """Given the store at version 2, When written with version 1, Then VersionConflict; with -1 the write goes in."""
    store = InstanceStore('direct')
    store.set_context({'a': 1})
    store.set_context({'a': 2}, version=1)
    with pytest.raises(VersionConflict):
        store.set_context({'a': 3}, version=1)
    assert store.set_context({'a': 4}) == 3


def test_fetch_cycles_carry_last_run(fixture_integration, instance):
    """Given a fetching integration, When three cycles run, Then lastRun carries over and no incident repeats."""
    results = run_fetch(fixture_integration, instance, cycles=3)
    assert [len(r.incidents) for r in results] == [2, 2, 2]
    store = InstanceStore(instance.name)
    assert store.get_last_run() == {'next_id': 7}
    assert [i['name'] for i in store.fetched_incidents()] == [f'Fixture incident {n}' for n in range(1, 7)]


def test_failed_fetch_keeps_last_run(fixture_integration):
    """Given a fetch that fails, When it runs, Then lastRun is not advanced and no incident is kept."""
    failing = build_instance(fixture_integration, {'name': 'failing', 'fail_fetch': 'true'})
    InstanceStore(failing.name).set_last_run({'next_id': 5})
    [result] = run_fetch(fixture_integration, failing, cycles=1)
    assert result.has_error and 'told to fail' in result.crash
    assert InstanceStore(failing.name).get_last_run() == {'next_id': 5}
    assert InstanceStore(failing.name).fetched_incidents() == []


def test_cli_fetch(capfd):
    """Given the CLI, When fetch runs two cycles, Then the JSON shows both cycles and the final lastRun."""
    code, payload = run_cli_json(capfd, 'fetch', FIXTURE, '--cycles', '2')
    assert code == 0
    assert [len(c['incidents']) for c in payload['cycles']] == [2, 2]
    assert payload['last_run'] == {'next_id': 5}


def test_file_entry_is_saved(fixture_integration, instance):
    """Given a command returning fileResult, When run, Then the file is stored and its bytes match."""
    result = run_command(fixture_integration, instance, 'fixture-file', {'name': 'report.txt', 'content': 'abc'})
    [entry] = result.entries
    assert entry['Type'] == 3 and entry['File'] == 'report.txt'
    assert result.files[entry['FileID']].read_bytes() == b'abc'


def test_unified_build_is_cached(fixture_integration, tmp_path):
    """Given a built integration, When nothing changed, Then the cached build is reused; the digest follows sources."""
    first = build.unified_yml(fixture_integration)
    mtime = first.stat().st_mtime_ns
    assert build.unified_yml(fixture_integration).stat().st_mtime_ns == mtime
    text = first.read_text()
    assert "register_module_line('XSOARLocalFixture', 'start', __line__())" in text
    assert 'import demistomock' not in text

    copy_dir = tmp_path / 'Packs' / 'P' / 'Integrations' / FIXTURE
    copy_dir.mkdir(parents=True)
    for source in fixture_integration.directory.iterdir():
        (copy_dir / source.name).write_bytes(source.read_bytes())
    (copy_dir.parents[1] / 'pack_metadata.json').write_text('{}')
    copy = load_integration(copy_dir)
    before = build.source_digest(copy, tmp_path)
    (copy_dir / f'{FIXTURE}.py').write_text('# changed\n')
    assert build.source_digest(copy, tmp_path) != before


def test_debug_logs_are_collected(fixture_integration, instance):
    """Given debug on, When a command runs, Then the script's log lines come back with the result."""
    result = run_command(fixture_integration, instance, 'fixture-echo', {'message': 'x'}, RunOptions(debug=True))
    assert any('pack version' in line['message'] for line in result.logs)
