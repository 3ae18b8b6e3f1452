"""Instance files and argument preparation."""
import pytest

from xsoar_local.instances import InstanceError, build_instance, substitute, variables_used
from xsoar_local.integrations import find_integration
from xsoar_local.runner import prepare_args

FIXTURE = 'XSOARLocalFixture'


@pytest.fixture(scope='module')
def fixture_integration():
    return find_integration(FIXTURE)


def test_defaults_and_types(fixture_integration):
    """Given an empty instance file, When built, Then YAML defaults apply with booleans as bools."""
    instance = build_instance(fixture_integration, {})
    assert instance.params['url'] == 'https://fixture.invalid'
    assert instance.params['insecure'] is False
    assert 'credentials' not in instance.params
    assert instance.name == 'XSOARLocalFixture_instance_1'


def test_credentials_and_substitution(fixture_integration):
    """Given ${VAR} references and a credential, When built, Then values are substituted and shaped."""
    raw = {'name': 'my-instance', 'url': '${EMULATOR_URL}/api', 'credentials': {'password': 's3cret'}}
    instance = build_instance(fixture_integration, raw, {'EMULATOR_URL': 'https://127.0.0.1:1'})
    assert instance.name == 'my-instance'
    assert instance.params['url'] == 'https://127.0.0.1:1/api'
    assert instance.params['credentials'] == {'identifier': '', 'password': 's3cret'}


def test_unset_variable_is_a_clear_error(monkeypatch):
    """Given ${NOPE} unset, When substituted, Then the error names the variable."""
    monkeypatch.delenv('NOPE', raising=False)
    with pytest.raises(InstanceError, match=r'\$\{NOPE\}'):
        substitute({'url': '${NOPE}'}, {})


def test_unknown_parameter_is_rejected(fixture_integration):
    """Given a misspelled parameter, When built, Then the error lists the known ones."""
    with pytest.raises(InstanceError, match='unknown parameter.*urll'):
        build_instance(fixture_integration, {'urll': 'x'})


def test_variables_used():
    """Given nested values, When scanned, Then every ${VAR} is found."""
    assert variables_used({'a': ['${EMULATOR_URL}', {'b': '${EMULATOR_CA}'}], 'c': 3}) == {'EMULATOR_URL', 'EMULATOR_CA'}


def test_prepare_args_fills_defaults_and_checks_required(fixture_integration):
    """Given a command with defaults and a required argument, When prepared, Then defaults fill in and a missing
    required argument is an error naming it."""
    args, problem = prepare_args(fixture_integration, 'fixture-echo', {'message': 'hi'})
    assert args == {'message': 'hi', 'count': '1'} and problem is None
    _, problem = prepare_args(fixture_integration, 'fixture-echo', {})
    assert problem == 'Missing required argument(s) for fixture-echo: message.'


def test_prepare_args_unknown_command(fixture_integration):
    """Given a command the YAML lacks, When prepared, Then the error lists the commands."""
    _, problem = prepare_args(fixture_integration, 'fixture-nope', {})
    assert problem.startswith('Unsupported command "fixture-nope"') and 'fixture-echo' in problem
