"""DT-key merging and the YAML output check of the local runtime."""
import pytest

from xsoar_local.context import check_outputs, dt_matches, merge_entry_context, parse_key, written_paths
from xsoar_local.integrations import Output

FILE_KEY = ('File(val.MD5 && val.MD5 == obj.MD5 || val.SHA1 && val.SHA1 == obj.SHA1 || '
            'val.SHA256 && val.SHA256 == obj.SHA256)')


@pytest.mark.parametrize('key, path, expr', [
    ('Fixture.Echo(val.id && val.id == obj.id)', ['Fixture', 'Echo'], 'val.id && val.id == obj.id'),
    ('DBotScore', ['DBotScore'], None),
    ('A.B(true)', ['A', 'B'], 'true'),
])
def test_parse_key(key, path, expr):
    """Given an entry context key, When parsed, Then the path and the DT expression are split."""
    assert parse_key(key) == (path, expr)


def test_dt_merge_updates_matching_item_and_appends_new():
    """Given an item already in context, When an entry with the same key field arrives, Then it is merged, not
    appended; a different key is appended."""
    context: dict = {}
    key = 'MicrosoftATP.Machine(val.ID && val.ID == obj.ID)'
    merge_entry_context(context, {key: {'ID': 'm1', 'Name': 'old'}})
    merge_entry_context(context, {key: [{'ID': 'm1', 'Name': 'new', 'OS': 'Windows'}, {'ID': 'm2'}]})
    assert context == {'MicrosoftATP': {'Machine': [{'ID': 'm1', 'Name': 'new', 'OS': 'Windows'}, {'ID': 'm2'}]}}


def test_dt_merge_with_or_groups():
    """Given a File key with || groups, When a file with the same SHA256 but no MD5 arrives, Then it matches."""
    context = {'File': {'SHA256': 'abc', 'Name': 'a.exe'}}
    merge_entry_context(context, {FILE_KEY: {'SHA256': 'abc', 'Size': 3}})
    assert context == {'File': {'SHA256': 'abc', 'Name': 'a.exe', 'Size': 3}}


def test_replace_existing_true_key():
    """Given CommandResults(replace_existing=True) output, When merged, Then the leaf is replaced."""
    context = {'A': {'B': [1, 2], 'C': 1}}
    merge_entry_context(context, {'A(true)': {'B': [3]}})
    assert context == {'A': {'B': [3], 'C': 1}}


def test_plain_key_appends():
    """Given a key without DT, When written twice, Then the values accumulate."""
    context: dict = {}
    merge_entry_context(context, {'X': {'a': 1}})
    merge_entry_context(context, {'X': {'a': 2}})
    assert context == {'X': [{'a': 1}, {'a': 2}]}


def test_dt_matches_requires_truthy_value():
    """Given val.id empty, When matched, Then the guard `val.id &&` fails."""
    assert not dt_matches('val.id && val.id == obj.id', {'id': None}, {'id': None})


def test_written_paths_flatten_lists_and_nested_dicts():
    """Given nested outputs, When flattened, Then list items share the list's path."""
    paths = sorted(p for p, _ in written_paths({'A.B(val.x == obj.x)': [{'x': 1, 'c': {'d': 2}}, {'x': 2, 'e': []}]}))
    assert paths == ['A.B.c.d', 'A.B.e', 'A.B.x', 'A.B.x']


DECLARED = [Output('Fixture.Echo.id', 'Number'), Output('Fixture.Echo.message', 'String'),
            Output('Fixture.Echo.raw', 'Unknown'), Output('Fixture.Echo.flag', 'Boolean')]


def test_check_outputs_accepts_declared_paths():
    """Given outputs that match the YAML, When checked, Then there is no problem."""
    assert check_outputs(DECLARED, {'Fixture.Echo(val.id == obj.id)': {'id': 1, 'message': 'm', 'flag': True}}) == []


def test_check_outputs_reports_undeclared_path():
    """Given a path the YAML does not declare, When checked, Then it is reported by name."""
    problems = check_outputs(DECLARED, {'Fixture.Echo': {'id': 1, 'surprise': 'x'}})
    assert [p.path for p in problems] == ['Fixture.Echo.surprise']
    assert 'not declared' in problems[0].problem


def test_check_outputs_unknown_ancestor_covers_children():
    """Given an ancestor declared as Unknown, When children are written, Then they are covered."""
    assert check_outputs(DECLARED, {'Fixture.Echo': {'raw': {'deep': {'deeper': 1}}}}) == []


def test_check_outputs_reports_type_mismatch():
    """Given a Number output holding a string, When checked, Then the mismatch is reported."""
    problems = check_outputs(DECLARED, {'Fixture.Echo': {'id': 'one', 'flag': 'yes'}})
    assert {p.path for p in problems} == {'Fixture.Echo.id', 'Fixture.Echo.flag'}


def test_check_outputs_bool_is_not_a_number():
    """Given True under a Number path, When checked, Then it is a mismatch (bool is not a number in the YAML)."""
    assert [p.path for p in check_outputs(DECLARED, {'Fixture.Echo': {'id': True}})] == ['Fixture.Echo.id']
