"""README generation: the XSOAR API facade that lets demisto-sdk generate-docs run examples through xsoar-local."""
import ast

import pytest
import requests

from xsoar_local.commandline import parse_command_line
from xsoar_local.docs import generate_readme, serve_facade
from xsoar_local.integrations import find_integration


@pytest.mark.parametrize('line, expected', [
    ('!cmd', ('cmd', {})),
    ('!cmd a=1 b="two words"', ('cmd', {'a': '1', 'b': 'two words'})),
    ('cmd query=`DeviceInfo | take 1`', ('cmd', {'query': 'DeviceInfo | take 1'})),
    ('!cmd empty=', ('cmd', {'empty': ''})),
    ('!cmd batch=`[{"k": "two words"}]`', ('cmd', {'batch': '[{"k": "two words"}]'})),
])
def test_parse_command_line(line, expected):
    """Given war-room command lines, When parsed, Then the name and arguments come out as the server reads them."""
    assert parse_command_line(line) == expected


def test_parse_command_line_rejects_bare_words():
    """Given an argument without '=', When parsed, Then the error quotes it."""
    with pytest.raises(ValueError, match='"oops"'):
        parse_command_line('!cmd oops')


def test_facade_speaks_the_server_api():
    """Given the facade over a fake runner, When driven like demisto-py does, Then playground search, execution,
    context deletion and the ${.} context query answer in the server's shapes."""
    calls = []

    def runner(line):
        calls.append(line)
        return [{'Type': 1, 'HumanReadable': '### ok', 'Contents': {'a': 1}}], {'X': {'a': True, 'b': None}}

    with serve_facade(runner) as url:
        assert requests.post(f'{url}/investigations/search', json={}, timeout=5).json()['data'][0]['id'] == 'playground'
        assert requests.post(f'{url}/entry/execute/sync', json={'data': '!DeleteContext all=yes'}, timeout=5).json() == []
        [entry] = requests.post(f'{url}/entry/execute/sync', json={'data': '!cmd a=1'}, timeout=5).json()
        assert entry['contents'] == '### ok' and entry['type'] == 1 and entry['format'] == 'markdown'
        literal = requests.post(f'{url}/investigation/playground/context', json={'query': '${.}'}, timeout=5).json()
        assert ast.literal_eval(literal) == {'X': {'a': True, 'b': None}}
    assert calls == ['!cmd a=1']


@pytest.mark.e2e
def test_generate_readme_runs_examples_against_the_emulator(tmp_path, monkeypatch):
    """Given the auth fixture's command_examples, When the README is generated, Then demisto-sdk wrote real example
    output and context from runs against the emulator."""
    monkeypatch.setenv('XSOAR_LOCAL_TIME_SCALE', '0.01')
    readme = generate_readme(find_integration('MicrosoftAuthFixture'), output_dir=tmp_path).read_text()
    assert '```!msauth-fixture-whoami```' in readme
    assert '"client_id": "0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e"' in readme
    assert '#### Human Readable Output' in readme


def test_hand_written_sections_survive_regeneration(tmp_path):
    """Given a README with a hand-written "Moving from the official integration" section, When the generator rewrites
    the README, Then the section is put back after the description, before the generated sections."""
    from xsoar_local.docs import _insert_sections, hand_written_sections

    before = tmp_path / 'before.md'
    before.write_text('Old description.\n\n## Moving from the official integration\n\nSame names.\n\n'
                      '### Differences\n\nNone.\n\n## Configure on Cortex XSOAR\n\nold\n', encoding='utf-8')
    kept = hand_written_sections(before)
    assert kept == '## Moving from the official integration\n\nSame names.\n\n### Differences\n\nNone.\n\n'
    after = tmp_path / 'README.md'
    after.write_text('New description.\n\n## Configure on Cortex XSOAR\n\nnew\n', encoding='utf-8')
    _insert_sections(after, kept)
    assert after.read_text(encoding='utf-8') == ('New description.\n\n' + kept + '## Configure on Cortex XSOAR\n\nnew\n')
    assert hand_written_sections(tmp_path / 'missing.md') == ''
