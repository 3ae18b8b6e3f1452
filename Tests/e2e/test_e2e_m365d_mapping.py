"""Microsoft 365 Defender incidents as a server shows them: fetched through xsoar-local, classified and mapped by
the pack's incoming mapper; changed in Microsoft and mirrored into the mapped incident; changed locally and sent to
Microsoft through the outgoing mapper."""
from __future__ import annotations

import json
import time

import pytest

from microsoft_emulator.testing import admin
from xsoar_local.incidents import CLOSED, IncidentStore
from xsoar_local.mirroring import add_note, mirror_in, update_incident
from xsoar_local.runner import run_fetch

pytestmark = pytest.mark.e2e

INTEGRATION = 'Microsoft365Defender'
TYPE = 'Microsoft 365 Defender Incident'


def fetch_all(run, instance) -> list[dict]:
    results = run_fetch(run.integration, instance, 1, run.options)
    assert not results[0].has_error, results[0].errors
    return results[0].mapped_incidents


@pytest.mark.parametrize('backend', ['Defender XDR API (legacy)', 'Microsoft Graph security'])
def test_fetch_maps_incidents(local_run, seeded, backend):
    """Given the emulator's incidents, When fetched, Then each is a Microsoft 365 Defender Incident with the fields
    the official mapper fills, the mirroring fields set, and the raw JSON kept."""
    url, ca = seeded
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret', api_backend=backend, first_fetch='30 days',
                            mirror_direction='Incoming And Outgoing')
    created = fetch_all(run, instance)
    truth = {i['incidentId'] for i in admin(url, 'GET', '/xdr/incidents', verify=ca)}
    assert created and [i['id'] for i in IncidentStore(run.store(instance))] == [i['id'] for i in created]
    for incident in created:
        fields, remote = incident['CustomFields'], json.loads(incident['rawJSON'])
        assert int(incident['dbotMirrorId']) in truth
        assert incident['type'] == TYPE
        assert fields['microsoft365defenderid'] == remote['incidentId']
        assert fields['microsoft365defenderdisplayname'] == remote['incidentName']
        assert fields['microsoft365defenderstatus'] == remote['status']
        assert incident['dbotMirrorDirection'] == 'Both' and incident['dbotMirrorInstance'] == instance.name
        assert incident['dbotMirrorTags'] == ['CommentToMicrosoft365Defender']
        if remote.get('classification') and remote.get('determination'):
            assert fields['microsoft365defenderclassification'] == \
                f'{remote["classification"]} - {remote["determination"]}'
        alerts = remote.get('alerts') or []
        if alerts:
            assert [a['alertid'] for a in fields['microsoft365defenderalerts']] == [a['alertId'] for a in alerts]
            counts = {row['category']: row['count'] for row in fields['microsoft365defendercategoriescount']}
            assert sum(counts.values()) == len([a for a in alerts if a.get('category')])
            assert 'microsoft365defenderactive' in fields
    assert any(i['CustomFields'].get('microsoft365defenderdevices') for i in created)
    assert any(i['CustomFields'].get('microsoft365defenderusers') for i in created)


def test_mirroring_through_the_mappers(local_run, seeded):
    """Given a fetched, mirrored incident, When it is closed in Microsoft, Then incoming mirroring maps the new status
    and classification into it and closes it; When it is reopened locally, its status and classification change and
    a tagged note is added, Then Microsoft receives them through the outgoing mapper."""
    url, ca = seeded
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret', api_backend='Microsoft Graph security', first_fetch='30 days',
                            mirror_direction='Incoming And Outgoing', close_incident='true', close_out='true')
    incident = fetch_all(run, instance)[0]
    remote_id = int(incident['dbotMirrorId'])
    time.sleep(1)
    admin(url, 'PATCH', f'/xdr/incidents/{remote_id}', verify=ca,
          json={'status': 'Resolved', 'classification': 'FalsePositive', 'determination': 'Clean',
                'comment': 'benign, closed in the portal'})

    updated = mirror_in(run.integration, instance, run.options)
    assert [i['id'] for i in updated] == [incident['id']]
    stored = IncidentStore(run.store(instance)).get(incident['id'])
    assert stored['CustomFields']['microsoft365defenderstatus'] == 'Resolved'
    assert stored['CustomFields']['microsoft365defenderclassification'] == 'FalsePositive - Clean'
    assert any(c['comment'] == 'benign, closed in the portal'
               for c in stored['CustomFields']['microsoft365defendercomments'])
    assert stored['status'] == CLOSED
    assert any('benign, closed in the portal' in str(e.get('Contents')) for e in stored['warRoom'])

    # reopened locally, then worked on: the new status and classification go out through the outgoing mapper
    delta = update_incident(run.integration, instance, incident['id'],
                            {'status': 1, 'microsoft365defenderstatus': 'InProgress',
                             'microsoft365defenderclassification': 'TruePositive - Malware'}, run.options)
    assert delta == {'status': 'InProgress', 'classification': 'TruePositive', 'determination': 'Malware'}
    truth = admin(url, 'GET', f'/xdr/incidents/{remote_id}', verify=ca)
    assert (truth['status'], truth['classification'], truth['determination']) == \
        ('InProgress', 'TruePositive', 'Malware')

    assert add_note(run.integration, instance, incident['id'], 'escalated to tier 2',
                    tags=['CommentToMicrosoft365Defender'], options=run.options)
    assert not add_note(run.integration, instance, incident['id'], 'internal only', options=run.options)
    comments = [c['comment'] for c in admin(url, 'GET', f'/xdr/incidents/{remote_id}', verify=ca)['comments']]
    assert any('escalated to tier 2' in c for c in comments)
    assert not any('internal only' in c for c in comments)

    kept = IncidentStore(run.store(instance)).get(incident['id'])
    assert kept['CustomFields']['microsoft365defenderstatus'] == 'InProgress'
    assert kept['CustomFields']['microsoft365defenderid'] == remote_id


def test_mde_fetch_maps_alerts(local_run, e2e_emulator):
    """Given Defender for Endpoint alerts, When fetched, Then each is a Microsoft Defender For Endpoint incident named
    by the mapper, with the alert's incident, investigation and detection-source fields."""
    run = local_run('MicrosoftDefenderAdvancedThreatProtection')
    instance = run.instance('client-secret', first_fetch_timestamp='30 days', fetch_evidence='true')
    results = run_fetch(run.integration, instance, 1, run.options)
    assert not results[0].has_error, results[0].errors
    created = results[0].mapped_incidents
    assert created
    for incident in created:
        assert incident['type'] == 'Microsoft Defender For Endpoint'
        assert incident['name'].startswith('Microsoft Defender for Endpoint Alert - ')
        assert incident['CustomFields'].get('microsoftdefenderdetectionmechanism')
    assert any(i['CustomFields'].get('microsoftdefenderincid') for i in created)
