"""Product data survives a restart, as identity state does: a restarted emulator with the same state directory
still has the incidents and machines it had (and the changes made to them), until a reset puts them back to the
seed."""
from __future__ import annotations

from microsoft_emulator.server import EmulatorServer
from microsoft_emulator.testing import admin


def _incident_ids(url: str) -> list[int]:
    return [i['incidentId'] for i in admin(url, 'GET', '/xdr/incidents')]


def _machine(url: str, name: str) -> dict:
    return next(m for m in admin(url, 'GET', '/mde/machines') if m['computerDnsName'] == name)


def test_incidents_and_machines_survive_a_restart(tmp_path):
    """Given incidents added and changed and machines added and broken, When the emulator restarts on the same state
    directory, Then they are all still there, with the same IDs and values."""
    with EmulatorServer(state_dir=tmp_path) as first:
        created = admin(first.url, 'POST', '/xdr/generate', json={'count': 3})
        first_id = _incident_ids(first.url)[0]
        admin(first.url, 'PATCH', f'/xdr/incidents/{first_id}', json={'status': 'resolved', 'comment': 'kept'})
        admin(first.url, 'POST', '/mde/generate', json={'machines': 2})
        machines = admin(first.url, 'GET', '/mde/machines')
        broken = machines[0]
        admin(first.url, 'POST', f"/mde/machines/{broken['id']}/break")
        incidents_before = _incident_ids(first.url)
        incident_before = admin(first.url, 'GET', f'/xdr/incidents/{first_id}')
    with EmulatorServer(state_dir=tmp_path) as second:
        assert _incident_ids(second.url) == incidents_before
        assert created['created'] == 3 and len(incidents_before) == 28
        assert admin(second.url, 'GET', f'/xdr/incidents/{first_id}') == incident_before
        assert admin(second.url, 'GET', '/mde/machines') == [m | ({'broken': True} if m['id'] == broken['id'] else {})
                                                             for m in machines]


def test_a_reset_is_what_the_next_start_sees(tmp_path):
    """Given changed data, When the emulator is reset and restarted, Then the restart shows the seed, not the
    changes made before the reset."""
    with EmulatorServer(state_dir=tmp_path) as first:
        seeded = _incident_ids(first.url)
        admin(first.url, 'POST', '/xdr/generate', json={'count': 2})
        first.reset()
    with EmulatorServer(state_dir=tmp_path) as second:
        assert _incident_ids(second.url) == seeded


def test_a_fresh_state_directory_starts_from_the_seed(tmp_path):
    """Given two state directories, When data changes in one, Then an emulator on the other starts from the seed."""
    with EmulatorServer(state_dir=tmp_path / 'a') as first:
        seeded = _incident_ids(first.url)
        admin(first.url, 'POST', '/xdr/generate', json={'count': 2})
    with EmulatorServer(state_dir=tmp_path / 'b') as other:
        assert _incident_ids(other.url) == seeded
