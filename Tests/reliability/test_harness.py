"""The suite's own helpers: examples per command, the verdict on a case, the all-or-nothing write check."""
from reliability.harness import first_examples, integration, retry_scheduled, verdict
from reliability.test_concurrency import context_problem
from reliability.test_faults import partial_write
from xsoar_local.runner import RunResult

ERROR = 4


def result(*entries: dict, crash: str | None = None) -> RunResult:
    return RunResult(command='cmd', args={}, entries=list(entries), crash=crash)


def test_every_yaml_command_has_an_entry_with_its_first_example():
    """Given Microsoft 365 Defender, When its examples are read, Then every YAML command is a key and the first
    example line of a command gives its arguments."""
    examples = first_examples(integration('Microsoft365Defender'))
    assert set(examples) == set(integration('Microsoft365Defender').commands)
    assert examples['microsoft-365-defender-incidents-list'] == {'limit': '5'}


def test_verdict_on_success_errors_tracebacks_and_crashes():
    """Given results of several kinds, When judged, Then success and a clear error hold; a traceback, a crash, a hang
    or an error that does not name the cause do not, unless it is the command's own answer without a fault."""
    assert verdict(result({'Type': 1, 'Contents': 'ok'})) == (True, '')
    assert verdict(result({'Type': ERROR, 'Contents': 'Error [503] busy'}), ('503',)) == (True, '')
    assert not verdict(result({'Type': ERROR, 'Contents': 'Traceback (most recent call last):\n...'}))[0]
    assert not verdict(result(crash='Traceback...\nKeyError: x'))[0]
    assert not verdict(result({'Type': ERROR, 'Contents': 'The command did not finish within 9 seconds'}))[0]
    assert not verdict(result({'Type': ERROR, 'Contents': 'something odd'}), ('503',))[0]
    assert verdict(result({'Type': ERROR, 'Contents': 'not found'}), ('503',), ['not found']) == (True, '')


def test_a_rerun_scheduled_after_retry_after_is_recognised():
    """Given a round that scheduled a rerun after a throttle, When checked, Then it counts as a retry later."""
    throttled = result({'Type': 1, 'HumanReadable': 'Retry in 5 seconds. The command will run again automatically.',
                        'PollingCommand': 'cmd'})
    assert retry_scheduled(throttled)
    assert not retry_scheduled(result({'Type': 1, 'HumanReadable': 'Waiting for 1 action', 'PollingCommand': 'cmd'}))


def test_partial_write_detection():
    """Given incident states before and after an update, When the update failed or succeeded, Then only a half
    applied failure or an unapplied success is reported."""
    args = {'status': 'Resolved', 'classification': 'TruePositive'}
    before = {'status': 'Active', 'classification': None}
    done = {'status': 'Resolved', 'classification': 'TruePositive'}
    half = {'status': 'Resolved', 'classification': None}
    assert partial_write(before, before, 'incident', args, failed=True) == ''
    assert partial_write(before, done, 'incident', args, failed=True) == ''
    assert partial_write(before, half, 'incident', args, failed=True) == 'failed write left half applied'
    assert partial_write(before, done, 'incident', args, failed=False) == ''
    assert partial_write(before, half, 'incident', args, failed=False).startswith('reported as done')


def test_context_problem_finds_malformed_caches():
    """Given token caches of several shapes, When checked, Then only malformed ones are reported."""
    good = {'microsoft_auth': {'accounts': {'a': {'refresh_token': 'r', 'tokens': {'s': {'expires_at': 1.0}}}}}}
    assert context_problem(good) == ''
    assert context_problem({}) == ''
    assert context_problem({'microsoft_auth': {'accounts': []}}) != ''
    assert context_problem({'microsoft_auth': {'accounts': {'a': {'tokens': {'s': {}}}}}}) != ''
