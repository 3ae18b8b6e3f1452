"""Microsoft 365 Defender mirroring end to end: changes and comments flow in both directions through xsoar-local,
and comments sent from Cortex XSOAR are not mirrored back."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from microsoft_emulator.testing import admin

pytestmark = pytest.mark.e2e

INTEGRATION = 'Microsoft365Defender'
MARKER = 'Mirrored from Cortex XSOAR'


@pytest.mark.parametrize('backend', ['Defender XDR API (legacy)', 'Microsoft Graph security'])
def test_mirroring_both_directions(local_run, seeded, backend):
    """Given a mirrored incident, When it changes in the portal and in XSOAR, Then incoming mirroring reports it with
    the portal comment and a close entry, outgoing mirroring writes fields and a marked comment, and that comment is
    not echoed back."""
    url, ca = seeded
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret', api_backend=backend, close_incident='true', close_out='true',
                            mirror_direction='Incoming And Outgoing')
    incident_id = admin(url, 'GET', '/xdr/incidents', verify=ca)[0]['incidentId']
    since = (datetime.now(UTC) - timedelta(seconds=5)).strftime('%Y-%m-%dT%H:%M:%SZ')
    time.sleep(1)
    admin(url, 'PATCH', f'/xdr/incidents/{incident_id}', verify=ca,
          json={'status': 'Resolved', 'classification': 'FalsePositive', 'determination': 'Clean',
                'comment': 'closed from the portal'})

    modified = run.run(instance, 'get-modified-remote-data', lastUpdate=since)
    assert not modified.has_error, modified.errors
    assert str(incident_id) in modified.entries[0]['Contents']

    remote = run.run(instance, 'get-remote-data', id=str(incident_id), lastUpdate=since)
    assert not remote.has_error, remote.errors
    mirrored, *entries = remote.entries[0] if isinstance(remote.entries[0], list) else remote.entries
    assert mirrored['incidentId'] == incident_id and mirrored['status'] == 'Resolved'
    notes = [e for e in entries if isinstance(e.get('Contents'), str)]
    assert [n['Contents'].split('\n')[0] for n in notes] == ['closed from the portal']
    assert notes[0]['Tags'] == ['CommentFromMicrosoft365Defender']
    assert any(isinstance(e.get('Contents'), dict) and e['Contents'].get('dbotIncidentClose') for e in entries)

    after_incoming = datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')
    time.sleep(1)
    update = run.run(instance, 'update-remote-system', remoteId=str(incident_id), status=1, incidentChanged=True,
                     delta={'closeReason': '', 'closingUserId': '', 'assignedTo': 'analyst@contoso.com'},
                     data={}, entries=[{'contents': 'note from xsoar', 'user': 'admin',
                                        'tags': ['CommentToMicrosoft365Defender']}])
    assert not update.has_error, update.errors
    truth = admin(url, 'GET', f'/xdr/incidents/{incident_id}', verify=ca)
    assert truth['status'] == 'Active' and truth['assignedTo'] == 'analyst@contoso.com'
    assert any(c['comment'] == f'(admin): note from xsoar\n\n{MARKER}' for c in truth['comments'])

    echo = run.run(instance, 'get-remote-data', id=str(incident_id), lastUpdate=after_incoming)
    mirrored, *entries = echo.entries[0] if isinstance(echo.entries[0], list) else echo.entries
    assert not [e for e in entries if isinstance(e.get('Contents'), str)], 'the XSOAR comment came back'
    assert any(isinstance(e.get('Contents'), dict) and e['Contents'].get('dbotIncidentReopen') for e in entries)
    mapping = run.run(instance, 'get-mapping-fields')
    assert not mapping.has_error, mapping.errors
