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


def test_emulator_urls_become_microsoft_urls():
    """Given README text with emulator URLs (plain and as generate-docs escapes them in human-readable output), When
    the docs tool rewrites them, Then each API's URL is on Microsoft's host for that API, query kept."""
    from xsoar_local.docs import customer_hosts

    emu = 'https://127.0.0.1:45681'
    text = '\n'.join([
        '[login URL](https:<span>//</span>127.0.0.1:45681/tid/oauth2/v2.0/authorize?client_id=a&redirect_uri=x)',
        f'"Link": "{emu}/_emulator/mde/packages/d7bc.zip?sv=2020-08-04&sr=b&sp=r&sig=emulator"',
        f'"@odata.nextLink": "{emu}/v1.0/security/incidents?$skip=50"',
        f'"url": "{emu}/api/machines/abc"',
        f'"link": "{emu}/_emulator/blob/live-response/act/0/file.txt?sv=2020-08-04&sig=c2ln"',
    ])
    out = customer_hosts(text, 'MicrosoftDefenderAdvancedThreatProtection', emu).splitlines()
    assert out[0] == ('[login URL](https:<span>//</span>login.microsoftonline.com/tid/oauth2/v2.0/authorize?'
                      'client_id=a&redirect_uri=x)')
    assert out[1] == ('"Link": "https://userrequests-us.securitycenter.windows.com/safedownload/'
                      'WDATP_Investigation_Package.zip?token=eyJ0eXAiOiJKV1Q..."')
    assert out[2] == '"@odata.nextLink": "https://graph.microsoft.com/v1.0/security/incidents?$skip=50"'
    assert out[3] == '"url": "https://api.securitycenter.microsoft.com/api/machines/abc"'
    assert out[4] == ('"link": "https://automatedirstrprdeus.blob.core.windows.net/investigation-actions-data/act/0/'
                      'file.txt?sv=2020-08-04&sig=c2ln"')
    assert customer_hosts(f'{emu}/api/incidents', 'Microsoft365Defender', emu) == \
        'https://api.security.microsoft.com/api/incidents'


def test_unknown_emulator_route_is_an_error():
    """Given a link to an emulator route without a Microsoft counterpart, When rewritten, Then generation fails
    naming the route instead of shipping an emulator URL."""
    from xsoar_local.build import BuildError
    from xsoar_local.docs import customer_hosts

    with pytest.raises(BuildError, match='/_emulator/admin/state'):
        customer_hosts('https://127.0.0.1:1/_emulator/admin/state', 'Microsoft365Defender', 'https://127.0.0.1:1')


def test_examples_are_bounded_with_a_note():
    """Given a context example with a long list and a human-readable table with many rows, When bounded, Then the
    list keeps its first items (nested lists one), the table its first rows, each with a note, and a second pass
    changes nothing."""
    import json

    from xsoar_local import docs

    context = {'X': [{'id': n, 'alerts': [1, 2, 3]} for n in range(10)]}
    table = '>### T\n>|a|\n>|---|\n' + ''.join(f'>| {n} |\n' for n in range(10))
    text = f'#### Context Example\n```json\n{json.dumps(context, indent=4)}\n```\n\n#### Human Readable Output\n\n{table}\n'
    bounded = docs.bound_examples(text)
    shown = json.loads(bounded.split('```json\n')[1].split('\n```')[0])
    assert shown == {'X': [{'id': 0, 'alerts': [1]}, {'id': 1, 'alerts': [1]}]}
    assert '*Example shortened:' in bounded
    assert '>| 2 |' in bounded and '>| 3 |' not in bounded and '>*… 7 more rows not shown.*' in bounded
    assert docs.bound_examples(bounded) == bounded


def test_finish_readme_refuses_test_only_wording(tmp_path):
    """Given a generated README that still says "emulator", When finished, Then generation fails naming it."""
    from xsoar_local.build import BuildError
    from xsoar_local.docs import finish_readme

    readme = tmp_path / 'README.md'
    readme.write_text('Storm-0000 is an invented actor used by the emulator.\n')
    with pytest.raises(BuildError, match='emulator'):
        finish_readme(readme, 'MicrosoftDefenderThreatIntelligence', 'https://127.0.0.1:1')
