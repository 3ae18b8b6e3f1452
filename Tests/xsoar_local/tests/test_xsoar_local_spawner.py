"""RunOptions.spawner: a suite may run prepared jobs in a process of its own choosing (e.g. a long-lived worker)."""
import pytest

from xsoar_local import runner
from xsoar_local.instances import build_instance
from xsoar_local.integrations import find_integration
from xsoar_local.runner import RunOptions, run_command

FIXTURE = 'XSOARLocalFixture'


@pytest.fixture
def fixture_run(tmp_path, monkeypatch):
    monkeypatch.setenv('XSOAR_LOCAL_HOME', str(tmp_path / 'home'))
    integration = find_integration(FIXTURE)
    instance = build_instance(integration, {'name': 'fixture-spawner', 'credentials': {'password': 'hunter2'}})
    return integration, instance


def test_spawner_gets_the_prepared_job(fixture_run):
    """Given a spawner that records the job and then runs it as usual, When a command runs, Then it saw the prepared
    job (defaults filled) and the result is the same as without a spawner."""
    integration, instance = fixture_run
    seen = []

    def recording(job, work_dir, options):
        seen.append(job['command'])
        return runner._spawn(job, work_dir, options)

    fast = run_command(integration, instance, 'fixture-echo', {'message': 'hi'}, RunOptions(spawner=recording))
    fresh = run_command(integration, instance, 'fixture-echo', {'message': 'hi'})
    assert seen == ['fixture-echo']
    assert fast.entries == fresh.entries and fast.context == fresh.context and not fast.has_error


def test_spawner_without_outcome_is_an_error_entry(fixture_run):
    """Given a spawner that gives no outcome (its process was killed), When a command runs, Then the result is one
    error entry with the spawner's reason and no state is applied."""
    integration, instance = fixture_run

    def killed(job, work_dir, options):
        return None, 'The command process was killed.'

    result = run_command(integration, instance, 'fixture-echo', {'message': 'hi'}, RunOptions(spawner=killed))
    assert result.errors == ['The command process was killed.']
