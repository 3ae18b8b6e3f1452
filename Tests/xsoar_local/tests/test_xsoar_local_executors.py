"""Executors behind RunOptions.executor: a fresh process (the default), a long-lived worker (alone or in a pool) and
this process give the same result for the same command; an executor without an outcome is an error entry."""
from __future__ import annotations

import dataclasses

import pytest

from xsoar_local.executors import FreshProcess, InProcess, WorkerPool
from xsoar_local.instances import build_instance
from xsoar_local.integrations import find_integration
from xsoar_local.runner import RunOptions, run_command

FIXTURE = 'XSOARLocalFixture'


@pytest.fixture
def fixture_run(tmp_path, monkeypatch):
    monkeypatch.setenv('XSOAR_LOCAL_HOME', str(tmp_path / 'home'))
    integration = find_integration(FIXTURE)
    instance = build_instance(integration, {'name': 'fixture-executors', 'credentials': {'password': 'hunter2'}})
    return integration, instance


def test_executor_gets_the_prepared_job(fixture_run):
    """
    Given an executor that records the job and then runs it in a fresh process
    When a command runs
    Then it saw the prepared job and the result is the same as with the default executor.
    """
    integration, instance = fixture_run
    seen = []

    def recording(job, work_dir, options):
        seen.append(job['command'])
        return FreshProcess()(job, work_dir, options)

    recorded = run_command(integration, instance, 'fixture-echo', {'message': 'hi'}, RunOptions(executor=recording))
    fresh = run_command(integration, instance, 'fixture-echo', {'message': 'hi'})
    assert seen == ['fixture-echo']
    assert recorded.entries == fresh.entries and recorded.context == fresh.context and not recorded.has_error


def test_executor_without_outcome_is_an_error_entry(fixture_run):
    """
    Given an executor that gives no outcome (its process was killed)
    When a command runs
    Then the result is one error entry with the executor's reason.
    """
    integration, instance = fixture_run

    def killed(job, work_dir, options):
        return None, 'The command process was killed.'

    result = run_command(integration, instance, 'fixture-echo', {'message': 'hi'}, RunOptions(executor=killed))
    assert result.errors == ['The command process was killed.']


def test_every_executor_gives_the_fresh_process_result(fixture_run, tmp_path):
    """
    Given the same command run by a fresh process, a worker pool (twice: the second job reuses the process) and this
    process
    When the results are compared
    Then entries and context are the same, and the state the command keeps carries over between executors.
    """
    integration, instance = fixture_run
    fresh = run_command(integration, instance, 'fixture-echo', {'message': 'hi', 'count': '2'})
    with WorkerPool.open(1, {}, tmp_path / 'logs') as pool:
        pooled = [run_command(integration, instance, 'fixture-echo', {'message': 'hi', 'count': '2'},
                              RunOptions(executor=pool)) for _ in range(2)]
    local = run_command(integration, instance, 'fixture-echo', {'message': 'hi', 'count': '2'},
                        RunOptions(executor=InProcess()))
    for other in [*pooled, local]:
        assert (other.entries, other.context, other.has_error) == (fresh.entries, fresh.context, False)



def test_compiled_code_is_reused_per_source(tmp_path, mocker):
    """
    Given a code cache folder
    When the same source is loaded twice and then an edited one
    Then the first is compiled once (the second load reads the cache) and the edited source is compiled anew.
    """
    from xsoar_local import executor

    real_compile = compile
    compiled = mocker.patch.object(executor, 'compile', create=True, side_effect=real_compile)
    loaded = mocker.patch.dict(executor._LOADED, clear=True)
    first = executor._code('x = 1\n', 'script.py', str(tmp_path))
    loaded.clear()                      # as in a new process: only the cache folder knows the code
    again = executor._code('x = 1\n', 'script.py', str(tmp_path))
    assert executor._code('x = 1\n', 'script.py', str(tmp_path)) is again    # kept in this process
    edited = executor._code('x = 2\n', 'script.py', str(tmp_path))
    namespaces: list[dict] = [{}, {}, {}]
    for code, namespace in zip((first, again, edited), namespaces, strict=True):
        exec(code, namespace)  # noqa: S102
    assert [n['x'] for n in namespaces] == [1, 1, 2]
    assert compiled.call_count == 2


def test_in_process_leaves_demistomock_as_it_found_it(fixture_run, tmp_path):
    """
    Given demistomock as a unit test left it (its backend, calling context and debug flag), the environment, sys.path
    and the working directory
    When a command runs in this process in debug mode, with an environment of its own, once with a fresh namespace
    and twice with a kept one
    Then each is exactly as before (the same objects): a unit test that runs next sees its own demistomock.
    """
    import os
    import sys

    import demistomock

    integration, instance = fixture_run
    before = dict(vars(demistomock))
    backend, context = demistomock.get_backend(), demistomock.callingContext
    environ, path, cwd = dict(os.environ), list(sys.path), os.getcwd()
    options = RunOptions(debug=True, env={'XSOAR_LOCAL_PROBE': 'set for the command only'})
    for executor in (InProcess(), InProcess(keep_namespace=True), InProcess(keep_namespace=True)):
        result = run_command(integration, instance, 'fixture-echo', {'message': 'hi'},
                             dataclasses.replace(options, executor=executor))
        assert not result.has_error
        assert demistomock.get_backend() is backend and demistomock.callingContext is context
        assert demistomock.is_debug is before['is_debug']
        assert vars(demistomock).keys() == before.keys()
        assert all(vars(demistomock)[name] is value for name, value in before.items())
        assert (dict(os.environ), sys.path, os.getcwd()) == (environ, path, cwd)


def test_in_process_kept_namespace_runs_main_again(fixture_run):
    """
    Given InProcess keeping the script's namespace
    When the same command runs twice with different arguments
    Then each run answers its own arguments, as a fresh namespace does (only main() ran again).
    """
    integration, instance = fixture_run
    options = RunOptions(executor=InProcess(keep_namespace=True))
    first = run_command(integration, instance, 'fixture-echo', {'message': 'one'}, options)
    second = run_command(integration, instance, 'fixture-echo', {'message': 'two'}, options)
    fresh = run_command(integration, instance, 'fixture-echo', {'message': 'two'})
    assert first.entries != second.entries
    assert (second.entries, second.context) == (fresh.entries, fresh.context)
