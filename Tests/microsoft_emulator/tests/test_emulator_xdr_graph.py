"""Graph security: /security/incidents (list, get, update, comments), /security/alerts_v2, and one store shared
with the Defender XDR API."""
from __future__ import annotations

import pytest
import requests

from microsoft_emulator.testing import (
    GRAPH,
    M365D,
    NO_PERMISSIONS_APP_ID,
    NO_PERMISSIONS_APP_SECRET,
    SECRET_APP_ID,
    TENANT_ID,
    access_token,
    admin,
)

INCIDENT_KEYS = ['@odata.type', 'id', 'incidentWebUrl', 'redirectIncidentId', 'tenantId', 'displayName',
                 'createdDateTime', 'lastUpdateDateTime', 'assignedTo', 'classification', 'determination', 'status',
                 'severity', 'customTags', 'systemTags', 'description', 'summary', 'lastModifiedBy', 'comments']
ALERT_KEYS = ['@odata.type', 'id', 'providerAlertId', 'incidentId', 'status', 'severity', 'classification',
              'determination', 'serviceSource', 'detectionSource', 'detectorId', 'tenantId', 'title', 'description',
              'recommendedActions', 'category', 'assignedTo', 'alertWebUrl', 'incidentWebUrl', 'actorDisplayName',
              'threatDisplayName', 'threatFamilyName', 'mitreTechniques', 'createdDateTime', 'lastUpdateDateTime',
              'resolvedDateTime', 'firstActivityDateTime', 'lastActivityDateTime', 'systemTags', 'comments',
              'evidence']


@pytest.fixture(scope='module')
def tokens(emulator):
    return {'graph': access_token(emulator.url, scope=f'{GRAPH}/.default'),
            'm365d': access_token(emulator.url, scope=f'{M365D}/.default')}


@pytest.fixture
def graph(emulator, emulator_reset, tokens):
    def call(method, path, token=None, **kwargs):
        headers = {'Authorization': f"Bearer {token or tokens['graph']}"}
        return requests.request(method, f'{emulator.url}{path}', headers=headers, timeout=30, **kwargs)
    return call


@pytest.fixture
def legacy(emulator, tokens):
    def call(method, path, **kwargs):
        headers = {'Authorization': f"Bearer {tokens['m365d']}"}
        return requests.request(method, f'{emulator.url}{path}', headers=headers, timeout=30, **kwargs)
    return call


def truth(emulator):
    return admin(emulator.url, 'GET', '/xdr/incidents')


def ids(response):
    assert response.status_code == 200, response.text
    return [int(i['id']) for i in response.json()['value']]


def test_list_shape(graph, emulator):
    response = graph('GET', '/v1.0/security/incidents')
    assert response.status_code == 200
    body = response.json()
    assert body['@odata.context'] == f'{emulator.url}/v1.0/$metadata#security/incidents'
    assert len(body['value']) == 25 and '@odata.nextLink' not in body
    incident = body['value'][0]
    assert list(incident) == INCIDENT_KEYS
    assert isinstance(incident['id'], str) and incident['tenantId'] == TENANT_ID
    assert incident['incidentWebUrl'] == f"https://security.microsoft.com/incidents/{incident['id']}?tid={TENANT_ID}"
    values = body['value']
    assert {i['status'] for i in values} <= {'active', 'inProgress', 'resolved', 'redirected'}
    assert {i['severity'] for i in values} <= {'unknown', 'informational', 'low', 'medium', 'high'}
    assert {i['classification'] for i in values} <= {'unknown', 'falsePositive', 'truePositive',
                                                     'informationalExpectedActivity'}
    comments = [c for i in values for c in i['comments']]
    assert comments and all(list(c) == ['comment', 'createdByDisplayName', 'createdDateTime'] for c in comments)
    created = [i['createdDateTime'] for i in values]
    assert created == sorted(created, reverse=True)


def test_same_incidents_as_legacy(graph, legacy):
    graph_items = graph('GET', '/v1.0/security/incidents?$expand=alerts').json()['value']
    legacy_items = legacy('GET', '/api/incidents').json()['value']
    assert [int(i['id']) for i in graph_items] == [i['incidentId'] for i in legacy_items]
    for g, old in zip(graph_items, legacy_items, strict=True):
        assert g['displayName'] == old['incidentName']
        assert (g['createdDateTime'], g['lastUpdateDateTime']) == (old['createdTime'], old['lastUpdateTime'])
        assert g['status'].lower() == old['status'].lower() and g['severity'].lower() == old['severity'].lower()
        assert g['customTags'] == old['tags'] and g['assignedTo'] == old['assignedTo']
        assert [a['id'] for a in g['alerts']] == [a['alertId'] for a in old['alerts']]


def test_top_limit_is_50(graph):
    assert len(graph('GET', '/v1.0/security/incidents?$top=50').json()['value']) == 25
    response = graph('GET', '/v1.0/security/incidents?$top=51')
    assert response.status_code == 400
    error = response.json()['error']
    assert error['code'] == ''
    assert error['message'] == ("The query specified in the URI is not valid. The limit of '50' for Top query has been "
                                "exceeded. The value from the incoming request is '51'.")


def test_paging_next_link_and_count(graph, emulator):
    first = graph('GET', '/v1.0/security/incidents?$top=10&$count=true')
    body = first.json()
    assert body['@odata.count'] == 25
    assert body['@odata.nextLink'] == f'{emulator.url}/v1.0/security/incidents?$top=10&$count=true&$skip=10'
    seen = ids(first)
    url = body['@odata.nextLink']
    while url:
        page = graph('GET', url[len(emulator.url):])
        seen += ids(page)
        url = page.json().get('@odata.nextLink')
    assert sorted(seen) == sorted(t['incidentId'] for t in truth(emulator))


def test_orderby_and_filter(graph, emulator):
    ground = truth(emulator)
    pivot = ground[10]['lastUpdateTime']
    response = graph('GET', f'/v1.0/security/incidents?$filter=lastUpdateDateTime ge {pivot}'
                            f'&$orderby=lastUpdateDateTime asc')
    assert ids(response) == [t['incidentId'] for t in sorted(ground[10:], key=lambda t: t['lastUpdateTime'])]
    newest = graph('GET', '/v1.0/security/incidents?$orderby=createdDateTime desc&$top=3')
    assert ids(newest) == [t['incidentId'] for t in ground[-3:]][::-1]
    by_id = graph('GET', '/v1.0/security/incidents?$orderby=id')
    assert ids(by_id) == sorted(t['incidentId'] for t in ground)
    low, high = ground[2]['createdTime'], ground[6]['createdTime']
    window = graph('GET', f'/v1.0/security/incidents?$filter=createdDateTime gt {low} and createdDateTime le {high}'
                          f'&$orderby=createdDateTime asc')
    assert ids(window) == [t['incidentId'] for t in ground[3:7]]


def test_filters_on_enums_and_owner(graph):
    everything = graph('GET', '/v1.0/security/incidents').json()['value']

    def expect(filter_, predicate):
        response = graph('GET', f'/v1.0/security/incidents?$filter={filter_}')
        assert sorted(ids(response)) == sorted(int(i['id']) for i in everything if predicate(i)), filter_

    expect("status eq 'active'", lambda i: i['status'] == 'active')
    expect("status eq 'Active'", lambda i: i['status'] == 'active')
    expect("severity eq 'high'", lambda i: i['severity'] == 'high')
    expect("severity ne 'low'", lambda i: i['severity'] != 'low')
    expect("classification eq 'truePositive'", lambda i: i['classification'] == 'truePositive')
    expect("determination eq 'unknown'", lambda i: i['determination'] == 'unknown')
    expect("status in ('resolved', 'inProgress')", lambda i: i['status'] in ('resolved', 'inProgress'))
    owner = next(i['assignedTo'] for i in everything if i['assignedTo'])
    expect(f"assignedTo eq '{owner}'", lambda i: i['assignedTo'] == owner)
    expect("assignedTo eq null", lambda i: i['assignedTo'] is None)
    expect("not (status eq 'active')", lambda i: i['status'] != 'active')


@pytest.mark.parametrize(('query', 'fragment'), [
    ("$filter=displayName eq 'x'", "Invalid filter clause: The property 'displayName' cannot be used in the $filter"),
    ("$filter=colour eq 'red'", "Could not find a property named 'colour' on type 'microsoft.graph.security.incident'"),
    ("$filter=status eq 'closed'", "The string 'closed' is not a valid enumerated type constant"),
    ('$filter=createdDateTime ge 2026-13-01', 'The DateTimeOffset text'),
    ('$orderby=severity desc', "Order by 'severity' is not supported."),
    ('$orderby=createdDateTime sideways', 'Syntax error in $orderby'),
    ('$expand=evidence', "Could not find a property named 'evidence'"),
    ('$select=colour', "Could not find a property named 'colour'"),
    ('$search=phish', "Query option '$search' is not allowed."),
    ('$count=maybe', "'maybe' is not a valid count option."),
])
def test_odata_errors(graph, query, fragment):
    response = graph('GET', f'/v1.0/security/incidents?{query}')
    assert response.status_code == 400
    error = response.json()['error']
    assert error['code'] == 'BadRequest' and fragment in error['message']
    assert 'request-id' in error['innerError']


def test_expand_select_and_beta(graph, emulator):
    expanded = graph('GET', '/v1.0/security/incidents?$expand=alerts&$top=5').json()
    assert expanded['@odata.context'].endswith('#security/incidents(alerts())')
    alerts = [a for i in expanded['value'] for a in i['alerts']]
    assert alerts and all(list(a) == ALERT_KEYS for a in alerts)
    assert all(a['incidentId'] == i['id'] for i in expanded['value'] for a in i['alerts'])
    kinds = {e['@odata.type'] for a in alerts for e in a['evidence']}
    assert kinds and all(k.startswith('#microsoft.graph.security.') and k.endswith('Evidence') for k in kinds)
    selected = graph('GET', '/v1.0/security/incidents?$select=displayName,status&$top=2').json()['value']
    assert all(set(i) == {'@odata.type', 'id', 'displayName', 'status'} for i in selected)
    beta = graph('GET', '/beta/security/incidents?$top=1')
    assert beta.status_code == 200
    assert beta.json()['@odata.context'] == f'{emulator.url}/beta/$metadata#security/incidents'


def test_get_incident(graph, emulator):
    wanted = truth(emulator)[4]['incidentId']
    response = graph('GET', f'/v1.0/security/incidents/{wanted}')
    assert response.status_code == 200
    body = response.json()
    assert body['@odata.context'] == f'{emulator.url}/v1.0/$metadata#security/incidents/$entity'
    assert body['id'] == str(wanted) and 'alerts' not in body
    expanded = graph('GET', f'/v1.0/security/incidents/{wanted}?$expand=alerts').json()
    assert expanded['alerts'] and expanded['@odata.context'].endswith('#security/incidents(alerts())/$entity')
    missing = graph('GET', '/v1.0/security/incidents/999999')
    assert missing.status_code == 404 and missing.json()['error']['code'] == 'NotFound'
    assert graph('GET', '/v1.0/security/incidents/abc').status_code == 404


def test_update_shows_in_both_apis(graph, legacy, emulator):
    wanted = admin(emulator.url, 'POST', '/xdr/incidents', json={'status': 'Active', 'alerts': 2})['incidentId']
    before = graph('GET', f'/v1.0/security/incidents/{wanted}').json()
    response = graph('PATCH', f'/v1.0/security/incidents/{wanted}', json={
        'classification': 'TruePositive', 'determination': 'MultiStagedAttack', 'customTags': ['Demo'],
        'status': 'resolved', 'assignedTo': 'KaiC@contoso.onmicrosoft.com'})
    assert response.status_code == 200
    body = response.json()
    assert (body['classification'], body['determination'], body['status']) == (
        'truePositive', 'multiStagedAttack', 'resolved')
    assert body['customTags'] == ['Demo'] and body['assignedTo'] == 'KaiC@contoso.onmicrosoft.com'
    assert body['lastModifiedBy'] == f'API-App:{SECRET_APP_ID}'
    assert body['lastUpdateDateTime'] > before['lastUpdateDateTime']
    old = legacy('GET', f'/api/incidents/{wanted}').json()
    assert (old['classification'], old['determination'], old['status'], old['tags']) == (
        'TruePositive', 'MultiStagedAttack', 'Resolved', ['Demo'])
    assert old['lastUpdateTime'] == body['lastUpdateDateTime']
    # ...and the other way round
    legacy('PATCH', f'/api/incidents/{wanted}', json={'status': 'InProgress', 'classification': 'FalsePositive',
                                                      'determination': 'Clean'})
    again = graph('GET', f'/v1.0/security/incidents/{wanted}').json()
    assert (again['status'], again['classification'], again['determination']) == (
        'inProgress', 'falsePositive', 'clean')
    alerts = graph('GET', f"/v1.0/security/alerts_v2?$filter=incidentId eq '{wanted}'").json()['value']
    assert len(alerts) == 2 and all(a['classification'] == 'falsePositive' for a in alerts)


@pytest.mark.parametrize(('body', 'fragment'), [
    ({'status': 'closed'}, "status 'closed' is not valid. Valid values are: active, inProgress, resolved, redirected."),
    ({'status': 'awaitingAction'}, "status 'awaitingAction' is not valid"),
    ({'classification': 'benignPositive'}, "classification 'benignPositive' is not valid"),
    ({'classification': 'truePositive', 'determination': 'notMalicious'}, "determination 'notMalicious' is not valid"),
    ({'classification': 'falsePositive', 'determination': 'malware'}, "cannot be set when the classification is "
                                                                      "'falsePositive'"),
    ({'customTags': 'Demo'}, 'customTags must be a list of strings'),
    ({'severity': 'high'}, "Invalid property 'severity' for an update of microsoft.graph.security.incident"),
    ({'displayName': 'x'}, "Invalid property 'displayName'"),
])
def test_update_validation(graph, emulator, body, fragment):
    wanted = truth(emulator)[0]['incidentId']
    before = graph('GET', f'/v1.0/security/incidents/{wanted}').json()
    response = graph('PATCH', f'/v1.0/security/incidents/{wanted}', json=body)
    assert response.status_code == 400
    assert response.json()['error']['code'] == 'BadRequest' and fragment in response.json()['error']['message']
    assert graph('GET', f'/v1.0/security/incidents/{wanted}').json() == before


def test_update_missing_incident(graph):
    assert graph('PATCH', '/v1.0/security/incidents/999999', json={'status': 'active'}).status_code == 404


def test_comments(graph, legacy, emulator):
    wanted = admin(emulator.url, 'POST', '/xdr/incidents', json={
        'comments': [{'comment': 'test', 'createdBy': 'secAdmin@contoso.com', 'createdTime': '2022-10-13T07:08:45Z'}],
    })['incidentId']
    before = graph('GET', f'/v1.0/security/incidents/{wanted}').json()['lastUpdateDateTime']
    response = graph('POST', f'/v1.0/security/incidents/{wanted}/comments',
                     json={'@odata.type': 'microsoft.graph.security.alertComment', 'comment': 'Demo for docs'})
    assert response.status_code == 200
    body = response.json()
    assert body['@odata.context'] == f"{emulator.url}/v1.0/$metadata#security/incidents('{wanted}')/comments"
    assert [c['comment'] for c in body['value']] == ['test', 'Demo for docs']
    assert body['value'][0] == {'comment': 'test', 'createdByDisplayName': 'secAdmin@contoso.com',
                                'createdDateTime': '2022-10-13T07:08:45Z'}
    assert body['value'][1]['createdByDisplayName'] == f'API-App:{SECRET_APP_ID}'
    old = legacy('GET', f'/api/incidents/{wanted}').json()
    assert old['comments'][-1]['comment'] == 'Demo for docs' and old['lastUpdateTime'] > before
    assert graph('POST', f'/v1.0/security/incidents/{wanted}/comments', json={'comment': ''}).status_code == 400
    assert graph('POST', f'/v1.0/security/incidents/{wanted}/comments', json={
        '@odata.type': 'microsoft.graph.security.nope', 'comment': 'x'}).status_code == 400
    assert graph('POST', '/v1.0/security/incidents/999999/comments', json={'comment': 'x'}).status_code == 404


def test_alerts_v2(graph, emulator):
    everything = graph('GET', '/v1.0/security/alerts_v2?$count=true').json()
    assert everything['@odata.context'] == f'{emulator.url}/v1.0/$metadata#security/alerts_v2'
    alerts = everything['value']
    assert everything['@odata.count'] == len(alerts) >= 25
    created = [a['createdDateTime'] for a in alerts]
    assert created == sorted(created, reverse=True)
    incident_id = alerts[0]['incidentId']
    mine = graph('GET', f"/v1.0/security/alerts_v2?$filter=incidentId eq '{incident_id}'").json()['value']
    assert mine and {a['incidentId'] for a in mine} == {incident_id}
    pivot = created[len(created) // 2]
    recent = graph('GET', f'/v1.0/security/alerts_v2?$filter=createdDateTime ge {pivot}'
                          f'&$orderby=createdDateTime asc').json()['value']
    assert [a['createdDateTime'] for a in recent] == sorted(c for c in created if c >= pivot)
    page = graph('GET', '/v1.0/security/alerts_v2?$top=3').json()
    assert len(page['value']) == 3 and '$skip=3' in page['@odata.nextLink']
    mde = graph('GET', "/v1.0/security/alerts_v2?$filter=serviceSource eq 'microsoftDefenderForEndpoint'").json()
    assert {a['serviceSource'] for a in mde['value']} == {'microsoftDefenderForEndpoint'}
    one = graph('GET', f"/v1.0/security/alerts_v2/{alerts[0]['id']}")
    assert one.status_code == 200 and one.json()['id'] == alerts[0]['id'] and list(one.json())[1:] == ALERT_KEYS
    assert graph('GET', '/v1.0/security/alerts_v2/nope').status_code == 404
    assert graph('GET', '/v1.0/security/alerts_v2?$top=2001').status_code == 400
    assert graph('GET', "/v1.0/security/alerts_v2?$filter=title eq 'x'").status_code == 400


def test_permissions(graph, emulator, tokens):
    nothing = access_token(emulator.url, client_id=NO_PERMISSIONS_APP_ID, secret=NO_PERMISSIONS_APP_SECRET,
                           scope=f'{GRAPH}/.default')
    for path in ('/v1.0/security/incidents', '/v1.0/security/alerts_v2', '/v1.0/security/incidents/1001'):
        denied = graph('GET', path, nothing)
        assert denied.status_code == 403 and denied.json()['error']['code'] == 'Forbidden', path
    reader = admin(emulator.url, 'POST', '/tokens/mint', json={'resource': GRAPH,
                                                               'roles': ['SecurityIncident.Read.All']})
    assert graph('GET', '/v1.0/security/incidents/1001', reader['access_token']).status_code == 200
    patch = graph('PATCH', '/v1.0/security/incidents/1001', reader['access_token'], json={'status': 'active'})
    assert patch.status_code == 403 and 'SecurityIncident.ReadWrite.All' in patch.json()['error']['message']
    comment = graph('POST', '/v1.0/security/incidents/1001/comments', reader['access_token'], json={'comment': 'x'})
    assert comment.status_code == 403
    assert graph('GET', '/v1.0/security/alerts_v2', reader['access_token']).status_code == 403
    wrong = graph('GET', '/v1.0/security/incidents', tokens['m365d'])
    assert wrong.status_code == 401 and wrong.json()['error']['code'] == 'InvalidAuthenticationToken'


def test_rate_limit_override(graph, emulator):
    admin(emulator.url, 'POST', '/rate-limits', json={'enabled': True, 'rules': {'graph_security': [
        {'name': 'tiny', 'calls': 2, 'period_seconds': 60, 'path_regex': r'^/(v1\.0|beta)/security/'}]}})
    statuses = [graph('GET', '/v1.0/security/incidents?$top=1').status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert emulator.requests(path='/v1.0/security/incidents')[-1]['rate_limited'] == 'tiny'


EVIDENCE_BASE = {'@odata.type', 'createdDateTime', 'verdict', 'remediationStatus', 'remediationStatusDetails', 'roles',
                 'detailedRoles', 'tags'}
# Documented properties (Microsoft Learn, Graph v1.0 resources security-mailboxevidence, security-deviceevidence,
# security-analyzedmessageevidence) that the Defender XDR names map from.
EVIDENCE_KEYS = {
    'mailboxEvidence': {'displayName', 'primaryAddress', 'upn', 'userAccount'},
    'deviceEvidence': {'mdeDeviceId', 'azureAdDeviceId', 'deviceDnsName', 'osPlatform', 'osBuild', 'version',
                       'healthStatus', 'riskScore', 'rbacGroupId', 'rbacGroupName', 'firstSeenDateTime'},
    'analyzedMessageEvidence': {'recipientEmailAddress', 'subject', 'deliveryAction', 'p1Sender'},
    'userEvidence': {'userAccount'},
}


def test_evidence_and_links_as_documented(graph, legacy):
    """Given the seed, When incidents are listed with $expand=alerts and $top=3, Then 3 come back with a next link,
    every evidence object has the documented common and type properties, and the incident link is the one the
    Defender XDR API gives as incidentUri."""
    response = graph('GET', '/v1.0/security/incidents', params={'$expand': 'alerts', '$top': '3'})
    body = response.json()
    assert response.status_code == 200 and len(body['value']) == 3 and '@odata.nextLink' in body
    everything = graph('GET', '/v1.0/security/incidents', params={'$expand': 'alerts', '$top': '50'}).json()['value']
    seen = set()
    for incident in everything:
        for alert in incident['alerts']:
            for evidence in alert['evidence']:
                kind = evidence['@odata.type'].rsplit('.', 1)[-1]
                assert EVIDENCE_BASE <= set(evidence), kind
                assert EVIDENCE_KEYS.get(kind, set()) <= set(evidence), kind
                seen.add(kind)
    assert set(EVIDENCE_KEYS) <= seen
    uris = {i['incidentId']: i['incidentUri'] for i in legacy('GET', '/api/incidents').json()['value']}
    assert all(uris[int(i['id'])] == i['incidentWebUrl'] for i in everything if int(i['id']) in uris)
