"""Microsoft 365 Defender drop-in parity end to end: the same seeded incidents read through the Graph security back
end and the Defender XDR (legacy) back end give the same context and the same fetched incidents, values included.

The only fields allowed to differ are those Microsoft Graph does not carry at all (documented in the integration
README): an alert's automated-investigation ID and state, a device's processor architecture, and the legacy API's
extra ``mailboxes`` list on alerts."""
from __future__ import annotations

import copy
import json

import pytest
from e2e_runtime import ok

from microsoft_emulator.testing import admin
from xsoar_local.runner import run_fetch

pytestmark = pytest.mark.e2e

INTEGRATION = 'Microsoft365Defender'
LEGACY = 'Defender XDR API (legacy)'
GRAPH = 'Microsoft Graph security'
GRAPH_GAPS_ALERT = ('investigationId', 'investigationState', 'mailboxes')
GRAPH_GAPS_DEVICE = ('osProcessor',)


def without_graph_gaps(incident: dict) -> dict:
    incident = copy.deepcopy(incident)
    for alert in incident.get('alerts') or []:
        for key in GRAPH_GAPS_ALERT:
            alert.pop(key, None)
        for device in alert.get('devices') or []:
            for key in GRAPH_GAPS_DEVICE:
                device.pop(key, None)
    incident.pop('mirror_instance', None)        # each back end runs as its own instance
    return incident


def by_id(incidents) -> dict[int, dict]:
    items = incidents if isinstance(incidents, list) else [incidents]
    return {i['incidentId']: without_graph_gaps(i) for i in items}


@pytest.fixture
def both(local_run, e2e_emulator):
    url, ca = e2e_emulator.url, str(e2e_emulator.ca_path)
    admin(url, 'POST', '/xdr/reset', verify=ca)
    run = local_run(INTEGRATION)
    return run, {backend: run.instance('client-secret', name=f'm365d-parity-{tag}', api_backend=backend,
                                       first_fetch='3650 days', max_fetch='200')
                 for backend, tag in ((LEGACY, 'legacy'), (GRAPH, 'graph'))}


def context_incidents(run, instance, command, **args):
    return ok(run.run(instance, command, **args)).context['Microsoft365Defender']['Incident']


def test_list_and_get_same_context(both):
    """Given the seeded incidents, When listed and read one by one through each back end, Then the context is the
    same, values included: mailbox, sender, subject, device group ID, verdicts, incident link, source names."""
    run, instances = both
    listed = {b: by_id(context_incidents(run, i, 'microsoft-365-defender-incidents-list', limit='100'))
              for b, i in instances.items()}
    assert listed[GRAPH] and listed[GRAPH] == listed[LEGACY]
    alerts = [a for i in listed[GRAPH].values() for a in i['alerts']]
    entities = [e for a in alerts for e in a['entities']]
    assert any(e['entityType'] == 'Mailbox' and e['mailboxAddress'] for e in entities)
    assert any(e['entityType'] == 'MailMessage' and e['sender'] and e['subject'] for e in entities)
    assert any(d['rbacGroupId'] is not None for a in alerts for d in a['devices'])
    assert {e['verdict'] for e in entities} == {'Suspicious'}
    assert 'MTP' in {a['detectionSource'] for a in alerts} or 'Microsoft365Defender' in {a['serviceSource']
                                                                                      for a in alerts}
    assert all(i['incidentUri'].startswith('https://security.microsoft.com/incidents/') for i in listed[GRAPH].values())
    for incident_id in list(listed[GRAPH])[:5]:
        got = {b: by_id(context_incidents(run, i, 'microsoft-365-defender-incident-get', id=str(incident_id)))
               for b, i in instances.items()}
        assert got[GRAPH] == got[LEGACY] == {incident_id: listed[LEGACY][incident_id]}


def test_odata_top_same_on_both(both):
    """Given a raw OData query with $top=3, When listed through each back end, Then both return the same 3."""
    run, instances = both
    odata = json.dumps({'$top': '3', '$filter': "status eq 'Active'"})
    got = {b: by_id(context_incidents(run, i, 'microsoft-365-defender-incidents-list', odata=odata))
           for b, i in instances.items()}
    assert len(got[GRAPH]) == 3 and got[GRAPH] == got[LEGACY]


def test_fetched_incidents_same_raw_json(both):
    """Given the seeded incidents, When each back end fetches them, Then the raw incidents the incoming mapper reads
    are the same: Mailboxes, counted Categories, user domain names, joined device tags, incidentUri, verdicts."""
    run, instances = both
    raw = {}
    for backend, instance in instances.items():
        result = run_fetch(run.integration, instance, 1, run.options)[0]
        assert not result.has_error, result.errors
        raw[backend] = {json.loads(i['rawJSON'])['incidentId']: without_graph_gaps(json.loads(i['rawJSON']))
                        for i in result.incidents}
    assert raw[GRAPH] and raw[GRAPH] == raw[LEGACY]
    incidents = list(raw[GRAPH].values())
    assert any(i['Mailboxes'] and set(i['Mailboxes'][0]) == {'Mailbox', 'Display Name'} for i in incidents)
    assert any(len(i['Categories']) > len(set(i['Categories'])) for i in incidents) or \
        all(len(i['Categories']) == len(i['alerts']) for i in incidents)
    assert all(isinstance(d['tags'], str) for i in incidents for d in i['Devices'])
    assert {e for i in incidents for e in i['Impacted entities']} <= {'contoso', ''}
