"""What a content developer meets at the terminal: reset, run directories, argument checks, command listings, tables."""
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from xsoar_local.cli import main as cli_main
from xsoar_local.instances import build_instance
from xsoar_local.integrations import find_integration
from xsoar_local.runner import RunOptions, run_command
from xsoar_local.state import InstanceStore

FIXTURE = 'XSOARLocalFixture'
MDE = 'MicrosoftDefenderAdvancedThreatProtection'


@pytest.fixture(autouse=True)
def local_home(tmp_path, monkeypatch):
    monkeypatch.setenv('XSOAR_LOCAL_HOME', str(tmp_path / 'home'))
    monkeypatch.setenv('XSOAR_LOCAL_TIME_SCALE', '0.001')
    return tmp_path / 'home'


@pytest.fixture(scope='module')
def fixture_integration():
    return find_integration(FIXTURE)


# -- reset --------------------------------------------------------------------------------------------------------

def test_reset_clears_the_instance_run_uses(capfd):
    """Given state in the default instance of MDE (Tests/instances/.../default.yml names it mde-default), When
    `xsoar-local reset` runs without --instance, Then that instance's state is cleared — not a made-up one — and no
    emulator is needed for it."""
    store = InstanceStore('mde-default')
    store.set_context({'token': 'cached'})
    store.set_last_run({'time': 'x'})
    assert cli_main(['reset', MDE]) == 0
    assert store.get_context() == {'context': {}, 'version': 0}
    assert store.get_last_run() == {}
    assert 'mde-default' in capfd.readouterr().out


def test_reset_with_an_instance_file(tmp_path, capfd):
    """Given an instance file naming its instance, When reset with --instance, Then that named instance is cleared."""
    path = tmp_path / 'mine.yml'
    path.write_text('name: my-fixture\nurl: https://fixture.invalid\n', encoding='utf-8')
    InstanceStore('my-fixture').set_last_run({'n': 1})
    assert cli_main(['reset', FIXTURE, '--instance', str(path)]) == 0
    assert InstanceStore('my-fixture').get_last_run() == {}
    assert 'my-fixture' in capfd.readouterr().out


# -- run directories: no secrets on disk, stale ones removed -------------------------------------------------------

def _files_containing(root, secret: str) -> list[str]:
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            try:
                with open(path, 'rb') as handle:
                    if secret.encode() in handle.read():
                        found.append(path)
            except OSError:
                continue
    return found


def test_no_secret_on_disk_while_a_command_runs(fixture_integration, local_home, tmp_path):
    """Given a command paused mid-execution (it waits for a file), When the run directories are searched while it
    runs, Then no file holds the instance's secret (the job goes to the process through a pipe)."""
    secret = 'hunter2-never-on-disk'
    instance = build_instance(fixture_integration, {'name': 'secret-test', 'credentials': {'password': secret}})
    ready, go = tmp_path / 'ready', tmp_path / 'go'
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.setdefault('r', run_command(
        fixture_integration, instance, 'fixture-context-bump', {'ready': str(ready), 'wait_for': str(go)})))
    thread.start()
    deadline = time.monotonic() + 120
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert ready.exists()
        assert list((local_home / 'runs').iterdir()), 'the command runs in a run directory'
        assert _files_containing(local_home / 'runs', secret) == []
    finally:
        go.touch()
        thread.join(120)
    assert not outcome['r'].has_error, outcome['r'].entries


def test_stale_run_directories_are_removed(fixture_integration, local_home):
    """Given run directories left by a killed xsoar-local (its process is gone) and by an older version, When the
    next command runs, Then they are removed; a live process's directory is kept."""
    runs = local_home / 'runs'
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True,
                          check=True)
    stale = runs / f'p{dead.stdout.strip()}-abc'
    older = runs / '0123abcd-xyz'
    live = runs / f'p{os.getppid()}-keep'
    for folder in (stale, older, live):
        folder.mkdir(parents=True)
        (folder / 'job.json').write_text('{"params": {"credentials": {"password": "leaked"}}}', encoding='utf-8')
    instance = build_instance(fixture_integration, {'name': 'stale-test'})
    assert not run_command(fixture_integration, instance, 'fixture-echo', {'message': 'x'}).has_error
    assert not stale.exists() and not older.exists()
    assert live.exists()
    assert list(runs.iterdir()) == [live]


def test_killed_xsoar_local_leaves_no_secret(fixture_integration, local_home, tmp_path):
    """Given xsoar-local killed (SIGKILL) while its command runs, When its run directory is searched, Then no file
    holds the secret; and the next command removes the directory."""
    secret = 'killed-mid-command-secret'
    instance_file = tmp_path / 'instance.yml'
    instance_file.write_text(f'name: killed\ncredentials:\n  password: {secret}\n', encoding='utf-8')
    ready, go = tmp_path / 'ready', tmp_path / 'go'
    env = dict(os.environ, XSOAR_LOCAL_HOME=str(local_home))
    proc = subprocess.Popen([sys.executable, '-m', 'xsoar_local.cli', 'run', FIXTURE, 'fixture-context-bump',
                             f'ready={ready}', f'wait_for={go}', '--instance', str(instance_file)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.kill()
    proc.wait(30)
    go.touch()
    assert ready.exists()
    assert _files_containing(local_home, secret) == []
    instance = build_instance(fixture_integration, {'name': 'after'})
    run_command(fixture_integration, instance, 'fixture-echo', {'message': 'x'}, RunOptions())
    leftovers = [p for p in (local_home / 'runs').iterdir() if not p.name.startswith(f'p{os.getpid()}-')]
    assert leftovers == []


# -- arguments the YAML does not declare ---------------------------------------------------------------------------

def test_misspelt_argument_is_a_warning(capfd):
    """Given `cont=2` for fixture-echo (its argument is `count`), When run, Then the command runs and a warning
    names the argument, says it is ignored and suggests `count`; the exit status stays 0."""
    code = cli_main(['run', FIXTURE, 'fixture-echo', 'message=hi', 'cont=2'])
    out, _ = capfd.readouterr()
    assert code == 0
    assert 'fixture-echo has no argument "cont"' in ' '.join(out.split())
    assert 'Did you mean "count"?' in ' '.join(out.split())


def test_misspelt_argument_in_json_mode(capfd):
    """Given --json, When an undeclared argument is passed, Then the JSON lists it under warnings and stderr says it."""
    code = cli_main(['run', FIXTURE, 'fixture-echo', 'message=hi', 'cont=2', '--json'])
    out, err = capfd.readouterr()
    assert code == 0
    payload = json.loads(out)
    assert len(payload['warnings']) == 1 and '"cont"' in payload['warnings'][0]
    assert 'cont' in err


def test_misspelt_argument_fails_under_strict(capfd):
    """Given --strict, When an undeclared argument is passed, Then the command is not run: an error entry names the
    argument and the exit status is 1."""
    code = cli_main(['run', FIXTURE, 'fixture-echo', 'message=hi', 'cont=2', '--strict', '--json'])
    out, _ = capfd.readouterr()
    payload = json.loads(out)
    assert code == 1
    assert payload['context'] == {}
    assert 'fixture-echo has no argument "cont": the command was not run (--strict)' in payload['entries'][0]['Contents']


def test_declared_and_polling_arguments_give_no_warning(fixture_integration):
    """Given declared arguments (hidden ones included) and polling rounds, When run, Then there is no warning."""
    from xsoar_local.runner import run_with_polling

    instance = build_instance(fixture_integration, {'name': 'args-test'})
    rounds = run_with_polling(fixture_integration, instance, 'fixture-poll', {'rounds': '2', 'round': '0'},
                              RunOptions(strict=True))
    assert len(rounds) == 2 and not any(r.has_error or r.warnings for r in rounds)


# -- terminal tables and links -------------------------------------------------------------------------------------

MACHINE_ID = '4899036531e374137f63289c3267bad772c13fef'
MACHINES = ('### Microsoft Defender Machines\n'
            '|ID|Computer DNS Name|OS Platform|Last IP Address|Last External IP Address|Health Status|Risk Score|'
            'Exposure Level|Last Seen|Onboarding Status|Machine Tags|\n'
            '|---|---|---|---|---|---|---|---|---|---|---|\n'
            f'| {MACHINE_ID} | desktop-7h3j9.contoso.com | Windows10 | 10.1.2.3 | 203.0.113.7 | Active | Medium | High |'
            ' 2024-05-01T10:20:30.1234567Z | Onboarded | finance, vip |\n')
INCIDENTS = ('|incidentId|displayName|severity|status|assignedTo|classification|determination|createdDateTime|\n'
             '|---|---|---|---|---|---|---|---|\n'
             '| 10234 | Multi-stage incident involving Initial access & Lateral movement on multiple endpoints | high |'
             ' active | secops@contoso.com | truePositive | multiStagedAttack | 2024-05-01T10:20:30Z |\n')


def _rendered(text: str, width: int) -> str:
    from rich.console import Console

    from xsoar_local.render import render_entry

    console = Console(width=width, record=True, file=open(os.devnull, 'w'))  # noqa: SIM115 - closed with the console
    render_entry(console, {'Type': 1, 'ContentsFormat': 'markdown', 'HumanReadable': text}, {})
    output = console.export_text()
    console.file.close()
    return output


@pytest.mark.parametrize('width', [60, 80, 120, 160, 240])
def test_tables_never_cut_ids(width):
    """Given wide tables of machines (40-character machine ID) and incidents (numeric ID), When rendered at terminal
    widths from 60 to 240 columns, Then every ID appears whole on one line and nothing is cut with an ellipsis."""
    for text, ident in ((MACHINES, MACHINE_ID), (INCIDENTS, '10234')):
        output = _rendered(text, width)
        assert '…' not in output
        assert any(ident in line for line in output.splitlines()), output


def test_wide_table_keeps_other_values_whole_when_it_fits():
    """Given the incidents table at 240 columns, When rendered, Then it is one table row with every value whole."""
    output = _rendered(INCIDENTS, 240)
    row = next(line for line in output.splitlines() if '10234' in line)
    assert 'secops@contoso.com' in row and 'multiStagedAttack' in row


def test_login_url_is_shown():
    """Given generate-login-url's entry (a markdown link), When rendered, Then the URL itself is printed, whole on
    one line, not just the link text."""
    url = ('https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/oauth2/v2.0/authorize?'
           'response_type=code&client_id=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee&scope=offline_access&state=abc')
    text = f'### Sign in\n1. Click the [login URL]({url}) and sign in with an account that may use this app.\n'
    for width in (80, 300):
        output = _rendered(text, width)
        assert any(url in line for line in output.splitlines()), output


# -- xsoar-local commands ------------------------------------------------------------------------------------------

def test_commands_lists_every_command_with_its_short_description(capfd):
    """Given the fixture, When `xsoar-local commands XSOARLocalFixture` runs, Then every command of its YAML is
    listed with its description."""
    assert cli_main(['commands', FIXTURE]) == 0
    out = ' '.join(capfd.readouterr().out.split())
    for name, description in (('fixture-echo', 'Echo a message count times.'), ('fixture-fail', 'Always fails.'),
                              ('fixture-poll', 'Polls until rounds rounds have run.')):
        assert name in out and description in out


def test_commands_shows_one_commands_arguments_and_outputs(capfd):
    """Given one command, When listed, Then its arguments (required, default) and outputs (path, type) show; the
    JSON form carries the same facts."""
    assert cli_main(['commands', FIXTURE, 'fixture-echo']) == 0
    out = capfd.readouterr().out
    message = next(line for line in out.splitlines() if line.strip().startswith('message'))
    count = next(line for line in out.splitlines() if line.strip().startswith('count'))
    assert 'yes' in message and 'The message.' in message
    assert '1' in count.split() and 'How many copies.' in count
    assert any('Fixture.Echo.id' in line and 'Number' in line for line in out.splitlines())
    assert cli_main(['commands', FIXTURE, 'fixture-echo', '--json']) == 0
    spec = json.loads(capfd.readouterr().out)
    assert [(a['name'], a['required'], a['default_value']) for a in spec['arguments']] == [
        ('message', True, None), ('count', False, '1')]
    assert spec['outputs'][0] == {'path': 'Fixture.Echo.id', 'type': 'Number', 'description': 'Copy number.'}


def test_commands_predefined_and_array_arguments(capfd):
    """Given an MDE command with predefined and array arguments, When shown as JSON, Then both facts are there."""
    assert cli_main(['commands', MDE, 'microsoft-atp-get-machines', '--json']) == 0
    spec = json.loads(capfd.readouterr().out)
    risk = next(a for a in spec['arguments'] if a['name'] == 'risk_score')
    assert 'High' in risk['predefined'] and risk['is_array'] is True


def test_commands_unknown_command_suggests(capfd):
    """Given a misspelt command, When asked for, Then the error suggests the closest and the status is 64."""
    assert cli_main(['commands', FIXTURE, 'fixture-ech']) == 64
    assert 'Did you mean: fixture-echo' in ' '.join(capfd.readouterr().out.split())


# -- shipped and fixture builds apart ------------------------------------------------------------------------------

def test_fixture_builds_stay_out_of_build_unified(fixture_integration):
    """Given a test fixture, When it is built (as make demo and the tests do), Then its unified YAML is under
    build/fixtures/unified/, not in build/unified/ with the uploadable integrations; shipped ones stay there."""
    from xsoar_local import build
    from xsoar_local.integrations import repo_root

    path = build.unified_yml(fixture_integration)
    assert path.parent == repo_root() / 'build' / 'fixtures' / 'unified'
    assert path.with_suffix('.py') != repo_root() / 'build' / 'unified' / f'{FIXTURE}.py'
    assert build.unified_dir(find_integration(MDE)) == repo_root() / 'build' / 'unified'


def test_build_all_prunes_fixture_leftovers(tmp_path):
    """Given build/unified/ holding a fixture's build from an earlier version, When pruned (build --all does), Then
    the fixture's files go and the shipped integrations' stay."""
    import shutil

    from xsoar_local import build
    from xsoar_local.integrations import repo_root

    for pack in ('MicrosoftDefenderAdvancedThreatProtection',):
        shutil.copytree(repo_root() / 'Packs' / pack / 'Integrations', tmp_path / 'Packs' / pack / 'Integrations')
    out = tmp_path / 'build' / 'unified'
    out.mkdir(parents=True)
    for name in (f'{MDE}.yml', f'.{MDE}.sha256', f'{FIXTURE}.yml', f'{FIXTURE}.py', f'.{FIXTURE}.sha256',
                 'MicrosoftAuthFixture.yml'):
        (out / name).write_text('x', encoding='utf-8')
    removed = build.prune_unified(tmp_path)
    assert sorted(p.name for p in removed) == sorted([f'{FIXTURE}.yml', f'{FIXTURE}.py', f'.{FIXTURE}.sha256',
                                                      'MicrosoftAuthFixture.yml'])
    assert sorted(p.name for p in out.iterdir()) == sorted([f'{MDE}.yml', f'.{MDE}.sha256'])


@pytest.mark.parametrize('width', range(40, 241, 20))
def test_tables_fit_the_terminal_and_drop_nothing(width):
    """Given the wide tables, When rendered at any width, Then no line is wider than the terminal (nothing cropped)
    and every value is there."""
    for text in (MACHINES, INCIDENTS):
        output = _rendered(text, width)
        assert max(len(line.rstrip()) for line in output.splitlines()) <= width
        values = [cell.strip() for cell in text.splitlines()[-1].strip('|').split('|')]
        assert all(value[:6] in output for value in values), output


def test_machines_table_stays_a_table_on_a_wide_terminal():
    """Given the machines table at 200 columns, When rendered, Then it is one table row with the whole ID."""
    output = _rendered(MACHINES, 200)
    row = next(line for line in output.splitlines() if MACHINE_ID in line)
    assert 'Windows10' in row and '203.0.113.7' in row
