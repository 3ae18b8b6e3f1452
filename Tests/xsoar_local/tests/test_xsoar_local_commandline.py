"""The one command-line parser: examples files read the same way by the docs, the benchmark and the reliability suite."""
from __future__ import annotations

from pathlib import Path

import pytest

from xsoar_local.commandline import examples_by_command, first_examples, parse_command_line, read_examples
from xsoar_local.integrations import find_integration


def test_examples_file_skips_blanks_and_comments_and_keeps_json_in_backticks(tmp_path: Path) -> None:
    """
    Given an examples file with a comment, a blank line, a repeated command and a backtick-quoted JSON value
    When it is read
    Then every command line is parsed in order, JSON intact, and the first example of each command is known.
    """
    (tmp_path / 'command_examples').write_text(
        '# setup\n!cmd-a id=1\n\n!cmd-b body=`{"k": "v w"}`\n!cmd-a id=2 note="two words"\n', encoding='utf-8')
    assert read_examples(tmp_path) == [('cmd-a', {'id': '1'}), ('cmd-b', {'body': '{"k": "v w"}'}),
                                       ('cmd-a', {'id': '2', 'note': 'two words'})]
    assert examples_by_command(tmp_path)['cmd-a'] == [{'id': '1'}, {'id': '2', 'note': 'two words'}]
    assert first_examples(tmp_path) == {'cmd-a': {'id': '1'}, 'cmd-b': {'body': '{"k": "v w"}'}}


def test_no_examples_file_is_no_examples(tmp_path: Path) -> None:
    """
    Given an integration folder without command_examples
    When its examples are read
    Then there are none (not an error).
    """
    assert read_examples(tmp_path) == []


MDE = find_integration('MicrosoftDefenderAdvancedThreatProtection')


@pytest.mark.parametrize('line, expected', [
    ('!microsoft-atp-isolate-machine 4899 isolation_type=Full comment=x',
     {'machine_id': '4899', 'isolation_type': 'Full', 'comment': 'x'}),
    ('!microsoft-atp-isolate-machine comment=x 4899', {'machine_id': '4899', 'comment': 'x'}),
    ('!microsoft-atp-get-file-info "a b"', {'hash': 'a b'}),
    ('!endpoint 10.0.0.1', {'ip': '10.0.0.1'}),
    ('!microsoft-atp-get-machines hostname=pc', {'hostname': 'pc'}),
])
def test_a_bare_value_binds_to_the_default_argument(line, expected):
    """
    Given official positional forms (one value without a name)
    When parsed with the integration
    Then the value is the command's YAML default argument, wherever it stands, and named arguments stay as they are.
    """
    assert parse_command_line(line, MDE)[1] == expected


@pytest.mark.parametrize('line, message', [
    ('!microsoft-atp-get-machines pc', 'has no default argument'),
    ('!microsoft-atp-isolate-machine 1 2 comment=x', 'takes one value without a name'),
    ('!microsoft-atp-isolate-machine 1 machine_id=2', 'also given by name'),
    ('!microsoft-atp-no-such-command 1', 'name=value'),
])
def test_bare_values_that_cannot_bind_are_clear_errors(line, message):
    """
    Given a bare value for a command without a default argument, two bare values, the default argument given twice,
    an unknown command
    When parsed
    Then a ValueError names the problem and quotes the line.
    """
    with pytest.raises(ValueError, match=message) as raised:
        parse_command_line(line, MDE)
    assert line in str(raised.value)


def test_command_declares_its_default_argument():
    """Given the YAMLs, Then Command.default_argument is the argument flagged default (None without one)."""
    assert MDE.command('microsoft-atp-isolate-machine').default_argument == 'machine_id'
    assert MDE.command('microsoft-atp-get-machines').default_argument is None


def test_cli_binds_a_bare_value(capfd):
    """Given the CLI with a bare value for a command without a default argument, Then it is a usage error naming the
    command (and nothing runs)."""
    from xsoar_local.cli import EXIT_USAGE, main
    assert main(['run', 'MicrosoftDefenderAdvancedThreatProtection', 'microsoft-atp-get-machines', 'pc']) == EXIT_USAGE
    assert 'has no default argument' in capfd.readouterr().out
