"""Every test playbook of the packs, run by the playbook runner (``xsoar-local playbook run``) against the emulator:
each task's command through the unified script in a fresh process, over real HTTPS, response actions polled to their
end. A playbook passes when it completes, every task it reached completed (none failed, none skipped for want of an
integration, script or sub-playbook) and every context path its commands wrote is declared in their YAML."""
from __future__ import annotations

from pathlib import Path

import pytest

from microsoft_emulator.testing import admin
from xsoar_local.emulator import emulator_env
from xsoar_local.instances import build_instance, read_instance_file
from xsoar_local.integrations import Integration, repo_root
from xsoar_local.playbooks import PlaybookLibrary, Session, load_playbook, run_playbook
from xsoar_local.playbooks.testgen import load_spec
from xsoar_local.runner import RunOptions

pytestmark = pytest.mark.e2e

ROOT = repo_root()
TEST_PLAYBOOKS = sorted(ROOT.glob('Packs/*/TestPlaybooks/*.yml'))
# Test playbooks that sign in with another flow than the integration's default instance: integration → flow.
FLOWS = {entry['file']: {entry['integration']: entry['instance']} for entry in load_spec() if entry.get('instance')}
# Test playbooks that need other emulator settings than the default (machine actions a step every 50 ms).
SETTINGS = {entry['file']: entry['emulator'] for entry in load_spec() if entry.get('emulator')}


@pytest.fixture
def fresh_tenant(e2e_emulator):
    """The emulator's Defender stores back to their seed; machine actions take a step every 50 ms."""
    url, ca = e2e_emulator.url, str(e2e_emulator.ca_path)
    before = admin(url, 'GET', '/mde/settings', verify=ca)
    admin(url, 'POST', '/mde/reset', verify=ca)
    admin(url, 'POST', '/mde/settings', verify=ca, json={'action_step_seconds': 0.05})
    admin(url, 'POST', '/xdr/reset', verify=ca)
    yield e2e_emulator
    admin(url, 'POST', '/mde/settings', verify=ca, json=before)   # the next module of this worker sees the default


@pytest.mark.parametrize('path', TEST_PLAYBOOKS, ids=lambda p: p.stem)
def test_test_playbook_runs_to_completion(fresh_tenant, tmp_path, monkeypatch, path: Path):
    """Given a test playbook of the packs, When the runner executes it against the emulator, Then it completes with
    every reached task completed and no undeclared context path."""
    relative = str(path.relative_to(ROOT))
    if relative in SETTINGS:
        admin(fresh_tenant.url, 'POST', '/mde/settings', verify=str(fresh_tenant.ca_path), json=SETTINGS[relative])
    home = tmp_path / 'home'
    monkeypatch.setenv('XSOAR_LOCAL_HOME', str(home))
    monkeypatch.setenv('XSOAR_LOCAL_TIME_SCALE', '0.01')
    env = emulator_env(home, url=fresh_tenant.url, ca=str(fresh_tenant.ca_path))
    flows = FLOWS.get(relative, {})

    def resolver(integration: Integration):
        source = ROOT / 'Tests' / 'instances' / integration.name / f'{flows.get(integration.name, "default")}.yml'
        raw = read_instance_file(source) if source.exists() else {}
        return build_instance(integration, raw, env, source=source if source.exists() else None), {}

    session = Session(options=RunOptions(env=env, home=home, timeout_s=120), library=PlaybookLibrary(),
                      resolver=resolver)
    result = run_playbook(load_playbook(path), session)
    failed_checks = [r.name for r in result.records if r.detail == 'branch #default#']
    assert not result.failed, (result.error, failed_checks)
    not_completed = [(r.task_id, r.name, r.state, r.detail) for r in result.records if r.state != 'completed']
    assert not_completed == []
    assert session.undeclared == []


def test_every_pack_playbook_is_run_by_a_test_playbook():
    """Given the packs' playbooks, Then each is called as a sub-playbook by a test playbook, so the runs above take
    every one of them to completion against the emulator."""
    library = PlaybookLibrary()
    called = {str((task.get('task') or {}).get(key)) for path in TEST_PLAYBOOKS
              for task in load_playbook(path).tasks.values() if task.get('type') == 'playbook'
              for key in ('playbookId', 'playbookName')}
    playbooks = [load_playbook(p) for p in sorted(ROOT.glob('Packs/*/Playbooks/*.yml'))]
    assert [p.name for p in playbooks if not {p.id, p.name} & called] == []
    assert all(library.find(p.id) is not None for p in playbooks)
