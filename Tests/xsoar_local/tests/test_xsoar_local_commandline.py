"""The one command-line parser: examples files read the same way by the docs, the benchmark and the reliability suite."""
from __future__ import annotations

from pathlib import Path

from xsoar_local.commandline import examples_by_command, first_examples, read_examples


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
