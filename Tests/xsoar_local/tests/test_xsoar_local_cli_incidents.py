"""The incident commands of xsoar-local on stored incidents (no Microsoft call: the incident is not mirrored)."""
from __future__ import annotations

import json

from xsoar_local.cli import main
from xsoar_local.incidents import IncidentStore
from xsoar_local.state import InstanceStore


def test_incidents_show_and_set(tmp_path, monkeypatch, capfd):
    """Given a stored incident of an instance, When listed, shown and changed through the CLI, Then the listing and
    the JSON show it, and the change is kept (nothing is mirrored out for an incident that is not mirrored)."""
    monkeypatch.setenv('XSOAR_LOCAL_HOME', str(tmp_path))
    instance_file = tmp_path / 'instance.yml'
    instance_file.write_text('name: cli-test\n')
    store = IncidentStore(InstanceStore('cli-test', tmp_path))
    [created] = store.create([{'name': 'Microsoft 365 Defender 7', 'type': 'Microsoft 365 Defender Incident',
                               'CustomFields': {'microsoft365defenderstatus': 'Active'}, 'rawJSON': '{"a": 1}'}])

    assert main(['incidents', 'Microsoft365Defender', '--instance', str(instance_file), '--json']) == 0
    listed = json.loads(capfd.readouterr().out)
    assert [i['id'] for i in listed] == [created['id']]

    assert main(['set', 'Microsoft365Defender', created['id'], 'microsoft365defenderstatus=Resolved',
                 '--instance', str(instance_file)]) == 0
    assert 'nothing to mirror out' in capfd.readouterr().out.replace('\n', ' ')
    assert store.get(created['id'])['CustomFields']['microsoft365defenderstatus'] == 'Resolved'

    assert main(['incidents', 'Microsoft365Defender', 'nine', '--instance', str(instance_file)]) == 64
    capfd.readouterr()
