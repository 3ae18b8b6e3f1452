"""The incident store: generator (10,000 incidents, ties), admin API, reset, paging over everything through both
APIs, and the time/OData helpers."""
from __future__ import annotations

import time
import tracemalloc

import pytest
import requests

from microsoft_emulator.core.clock import format_time, parse_time
from microsoft_emulator.core.odata import ODataError, Prop, parse_filter, time_bounds
from microsoft_emulator.defender_xdr import seed as xdr_seed
from microsoft_emulator.defender_xdr.store import INCIDENT_STATUS, XdrStore
from microsoft_emulator.testing import GRAPH, M365D, access_token, admin

START = '2026-01-01T10:00:00Z'


@pytest.fixture(scope='module')
def tokens(emulator):
    return {'graph': access_token(emulator.url, scope=f'{GRAPH}/.default'),
            'm365d': access_token(emulator.url, scope=f'{M365D}/.default')}


@pytest.fixture
def get(emulator, emulator_reset, tokens):
    def call(path, api='m365d'):
        response = requests.get(f'{emulator.url}{path}', headers={'Authorization': f'Bearer {tokens[api]}'},
                                timeout=30)
        assert response.status_code == 200, response.text
        return response.json()
    return call


def page_through(emulator, get, path, api):
    seen, pages = [], 0
    url: str | None = path
    while url:
        body = get(url, api)
        pages += 1
        seen += [int(i['incidentId'] if api == 'm365d' else i['id']) for i in body['value']]
        next_link = body.get('@odata.nextLink')
        url = next_link[len(emulator.url):] if next_link else None
    return seen, pages


# ----- time and OData helpers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(('text', 'formatted'), [
    ('2020-09-06T14:46:57.0733333Z', '2020-09-06T14:46:57.0733333Z'),
    ('2020-09-06T14:46:57.29Z', '2020-09-06T14:46:57.29Z'),
    ('2020-09-06T14:46:57.290Z', '2020-09-06T14:46:57.29Z'),
    ('2020-09-04T05:22:59Z', '2020-09-04T05:22:59Z'),
    ('2020-09-04T07:22:59+02:00', '2020-09-04T05:22:59Z'),
    ('2020-09-04', '2020-09-04T00:00:00Z'),
    ('2020-09-06T14:46:57.073333399Z', '2020-09-06T14:46:57.0733333Z'),
])
def test_time_round_trip(text, formatted):
    assert format_time(parse_time(text)) == formatted


@pytest.mark.parametrize('text', ['yesterday', '2020-13-01T00:00:00Z', '2020-09-06T25:00:00Z', ''])
def test_bad_times(text):
    with pytest.raises(ValueError):
        parse_time(text)


def test_filter_bounds_pick_the_tightest():
    props = {'t': Prop('t', 'datetime', lambda x: x, attribute='t'),
             's': Prop('s', 'enum', lambda x: x, enum=INCIDENT_STATUS)}
    node = parse_filter("t ge 2026-01-01T00:00:00Z and s eq 'active' and t gt 2026-01-02T00:00:00Z and "
                        "t lt 2026-02-01T00:00:00Z", props, 'X')
    assert time_bounds(node, 't') == (parse_time('2026-01-02'), False, parse_time('2026-02-01'), False)
    assert time_bounds(parse_filter("t ge 2026-01-01 or s eq 'active'", props, 'X'), 't') is None
    with pytest.raises(ODataError, match="Could not find a property named 'u' on type 'X'"):
        parse_filter("u eq 'x'", props, 'X')
    with pytest.raises(ODataError, match='Syntax error'):
        parse_filter("(t ge 2026-01-01", props, 'X')
    with pytest.raises(ODataError, match='must be a quoted string'):
        parse_filter('s eq active', props, 'X')


# ----- generator ----------------------------------------------------------------------------------------------------

def test_generate_10k_is_small():
    store = XdrStore('tenant')
    first, last = xdr_seed.generate(store, 10_000, start=parse_time(START), spacing_seconds=1)
    assert (first, last) == (1001, 11000) and len(store) == 10_000
    alerts = sum(len(i.alerts) for i in store.incidents.values())
    assert 10_000 < alerts <= 30_000
    # memory: entities and devices are shared records, so an incident costs a few kilobytes at most
    small = XdrStore('tenant')
    tracemalloc.start()
    xdr_seed.generate(small, 2_000, start=parse_time(START), spacing_seconds=1)
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert memory / 2_000 < 5_000


def test_generator_is_deterministic_and_realistic():
    one, two = XdrStore('t'), XdrStore('t')
    for store in (one, two):
        xdr_seed.generate(store, 200, start=parse_time(START), spacing_seconds=30)
    assert [i.name for i in one.incidents.values()] == [i.name for i in two.incidents.values()]
    names = [i.name for i in one.incidents.values()]
    assert any(n.startswith('Multi-stage incident involving ') and ' on one endpoint' in n for n in names)
    assert any(' & ' in n for n in names)
    statuses = {i.status for i in one.incidents.values()}
    assert {'active', 'inProgress', 'resolved'} <= statuses
    assert all(1 <= len(i.alerts) <= 3 for i in one.incidents.values())
    assert len({i.severity for i in one.incidents.values()}) >= 3
    resolved = [i for i in one.incidents.values() if i.status == 'resolved']
    assert resolved and all(i.classification != 'unknown' and i.assigned_to for i in resolved)
    assert {a.service_source for i in one.incidents.values() for a in i.alerts} >= {'mde', 'mdo', 'mdi'}


def test_generate_with_ties(get, emulator):
    answer = admin(emulator.url, 'POST', '/xdr/generate', json={
        'count': 30, 'start': START, 'spacing_seconds': 60, 'tie_every': 10, 'tie_size': 3})
    first = answer['first_id']
    assert answer == {'created': 30, 'first_id': first, 'last_id': first + 29}
    generated = [t for t in admin(emulator.url, 'GET', '/xdr/incidents') if first <= t['incidentId'] <= first + 29]
    by_id = {t['incidentId']: t for t in generated}
    for block in range(3):
        group = [by_id[first + block * 10 + k] for k in range(3)]
        assert len({(t['createdTime'], t['lastUpdateTime']) for t in group}) == 1
        assert group[0]['createdTime'] == format_time(parse_time(START) + block * 600 * 10_000_000)
        assert by_id[first + block * 10 + 3]['createdTime'] > group[0]['createdTime']
    # a filter on the tie's time returns the whole group, through both APIs
    tie_time = by_id[first + 10]['lastUpdateTime']
    legacy = get(f'/api/incidents?$filter=lastUpdateTime ge {tie_time} and lastUpdateTime le {tie_time}')
    assert sorted(i['incidentId'] for i in legacy['value']) == [first + 10, first + 11, first + 12]
    graph = get(f'/v1.0/security/incidents?$filter=lastUpdateDateTime eq {tie_time}&$orderby=lastUpdateDateTime',
                'graph')
    assert [int(i['id']) for i in graph['value']] == [first + 10, first + 11, first + 12]


def test_page_through_10k_without_gaps_or_duplicates(get, emulator):
    answer = admin(emulator.url, 'POST', '/xdr/generate', json={
        'count': 10_000, 'start': START, 'spacing_seconds': 0.5, 'tie_every': 50, 'tie_size': 7})
    expected = list(range(answer['first_id'], answer['last_id'] + 1))
    window = 'createdTime ge 2026-01-01T00:00:00Z and createdTime lt 2026-01-02T00:00:00Z'
    legacy_ids, pages = page_through(emulator, get, f'/api/incidents?$filter={window}', 'm365d')
    assert pages == 100 and len(legacy_ids) == 10_000 and sorted(legacy_ids) == expected
    graph_window = window.replace('createdTime', 'createdDateTime')
    graph_ids, pages = page_through(
        emulator, get, f'/v1.0/security/incidents?$filter={graph_window}&$orderby=createdDateTime asc', 'graph')
    assert pages == 200 and graph_ids == expected     # ascending, ties broken by ID
    truth = admin(emulator.url, 'GET', '/xdr/incidents')
    assert len(truth) == 10_025


def test_incremental_fetch_by_last_update(get, emulator):
    """What a fetch loop does: everything updated since the last run, then only what changed."""
    admin(emulator.url, 'DELETE', '/xdr/incidents')
    admin(emulator.url, 'POST', '/xdr/generate', json={'count': 300, 'start': START, 'spacing_seconds': 10})
    since = '2026-01-01T00:00:00Z'
    first, _ = page_through(emulator, get, f'/api/incidents?$filter=lastUpdateTime ge {since}&$top=50', 'm365d')
    assert len(first) == 300
    last_seen = max(t['lastUpdateTime'] for t in admin(emulator.url, 'GET', '/xdr/incidents')
                    if t['incidentId'] in set(first))
    changed = first[100]
    admin(emulator.url, 'PATCH', f'/xdr/incidents/{changed}', json={'status': 'Resolved', 'comment': 'closed'})
    again, _ = page_through(emulator, get, f'/api/incidents?$filter=lastUpdateTime gt {last_seen}', 'm365d')
    assert again == [changed]


# ----- admin API ----------------------------------------------------------------------------------------------------

def test_admin_create_and_portal_change(get, emulator):
    created = requests.post(f'{emulator.url}/_emulator/xdr/incidents', timeout=10, json={
        'incidentName': 'Ransomware activity', 'severity': 'High', 'status': 'Active',
        'createdTime': '2026-02-01T08:00:00.5Z', 'tags': ['Demo'],
        'alerts': [{'title': 'Ransomware activity', 'category': 'Impact', 'serviceSource': 'MicrosoftCloudAppSecurity',
                    'detectionSource': 'MCAS', 'devices': [],
                    'entities': [{'entityType': 'Ip', 'ipAddress': '62.216.203.204'},
                                 {'entityType': 'User', 'accountName': 'testUser2', 'domainName': 'europe'}]}]})
    assert created.status_code == 201
    incident = created.json()
    assert incident['incidentName'] == 'Ransomware activity' and incident['severity'] == 'High'
    assert incident['createdTime'] == incident['lastUpdateTime'] == '2026-02-01T08:00:00.5Z'
    alert = incident['alerts'][0]
    assert (alert['serviceSource'], alert['detectionSource'], alert['category']) == (
        'MicrosoftCloudAppSecurity', 'MCAS', 'Impact')
    assert [e['entityType'] for e in alert['entities']] == ['Ip', 'User']
    assert alert['entities'][0]['ipAddress'] == '62.216.203.204' and alert['entities'][0]['url'] is None
    graph = get(f"/v1.0/security/incidents/{incident['incidentId']}?$expand=alerts", 'graph')
    assert graph['alerts'][0]['serviceSource'] == 'microsoftDefenderForCloudApps'
    assert [e['@odata.type'] for e in graph['alerts'][0]['evidence']] == [
        '#microsoft.graph.security.ipEvidence', '#microsoft.graph.security.userEvidence']

    changed = admin(emulator.url, 'PATCH', f"/xdr/incidents/{incident['incidentId']}",
                    json={'fields': {'status': 'InProgress', 'assignedTo': 'secop1@contoso.onmicrosoft.com'},
                          'comment': 'Escalated to tier 2'})
    assert changed['status'] == 'InProgress' and changed['lastUpdateTime'] > incident['lastUpdateTime']
    assert changed['comments'][-1]['comment'] == 'Escalated to tier 2'
    assert changed['comments'][-1]['createdBy'] == 'analyst@contoso.onmicrosoft.com'
    flat = admin(emulator.url, 'PATCH', f"/xdr/incidents/{incident['incidentId']}",
                 json={'severity': 'Low', 'lastUpdateTime': '2026-03-01T00:00:00Z'})
    assert flat['severity'] == 'Low' and flat['lastUpdateTime'] == '2026-03-01T00:00:00Z'
    assert get(f"/api/incidents/{incident['incidentId']}")['severity'] == 'Low'
    assert admin(emulator.url, 'GET', f"/xdr/incidents/{incident['incidentId']}")['severity'] == 'Low'


def test_admin_defaults_and_ground_truth(emulator, emulator_reset):
    before = time.time()
    incident = admin(emulator.url, 'POST', '/xdr/incidents', json={})
    assert parse_time(incident['createdTime']) / 1e7 >= before - 1
    assert len(incident['alerts']) == 1 and incident['status'] == 'Active'
    truth = admin(emulator.url, 'GET', '/xdr/incidents')
    assert truth[-1] == {'incidentId': incident['incidentId'], 'createdTime': incident['createdTime'],
                         'lastUpdateTime': incident['lastUpdateTime'], 'status': 'Active'}
    assert len(truth) == 26
    explicit = admin(emulator.url, 'POST', '/xdr/incidents', json={'incidentId': 5, 'alerts': 0})
    assert explicit['incidentId'] == 5 and explicit['alerts'] == []


@pytest.mark.parametrize(('method', 'path', 'body', 'status'), [
    ('POST', '/xdr/generate', {}, 400),
    ('POST', '/xdr/generate', {'count': 0}, 400),
    ('POST', '/xdr/generate', {'count': 10, 'tie_every': 3, 'tie_size': 5}, 400),
    ('POST', '/xdr/generate', {'count': 10, 'start': 'soon'}, 400),
    ('POST', '/xdr/incidents', {'status': 'Closed'}, 400),
    ('POST', '/xdr/incidents', {'incidentId': 1001}, 400),
    ('POST', '/xdr/incidents', {'alerts': 'many'}, 400),
    ('PATCH', '/xdr/incidents/999999', {'status': 'Active'}, 404),
    ('GET', '/xdr/incidents/abc', None, 400),
    ('POST', '/xdr/hunting-rows', {'table': 'NoSuchTable', 'count': 5}, 400),
])
def test_admin_errors(emulator, emulator_reset, method, path, body, status):
    response = requests.request(method, f'{emulator.url}/_emulator{path}', json=body, timeout=10)
    assert response.status_code == status and response.json()['error']


def test_clear_and_reset(get, emulator):
    admin(emulator.url, 'POST', '/xdr/generate', json={'count': 50})
    assert len(admin(emulator.url, 'GET', '/xdr/incidents')) == 75
    assert admin(emulator.url, 'DELETE', '/xdr/incidents') == {'deleted': 75}
    assert get('/api/incidents')['value'] == []
    assert get('/v1.0/security/alerts_v2', 'graph')['value'] == []
    after_clear = admin(emulator.url, 'POST', '/xdr/incidents', json={})
    assert after_clear['incidentId'] == 1076          # IDs are never reused...
    admin(emulator.url, 'POST', '/reset')             # ...until the emulator is reset
    truth = admin(emulator.url, 'GET', '/xdr/incidents')
    assert [t['incidentId'] for t in truth] == list(range(1001, 1026))
    admin(emulator.url, 'POST', '/xdr/generate', json={'count': 5})
    emulator.reset()
    assert len(admin(emulator.url, 'GET', '/xdr/incidents')) == 25
    admin(emulator.url, 'DELETE', '/xdr/incidents')
    assert admin(emulator.url, 'POST', '/xdr/reset') == {'reset': True}
    assert len(admin(emulator.url, 'GET', '/xdr/incidents')) == 25


def test_default_seed_ends_now(get, emulator):
    truth = admin(emulator.url, 'GET', '/xdr/incidents')
    newest = parse_time(truth[-1]['createdTime']) / 1e7
    oldest = parse_time(truth[0]['createdTime']) / 1e7
    assert time.time() - 2 * 3600 < newest <= time.time()
    assert 23 * 3600 < newest - oldest < 25 * 3600


def test_seed_spec_changes_the_starting_set(tmp_path):
    from microsoft_emulator.server import EmulatorServer
    from microsoft_emulator.state import load_seed

    seed = load_seed(None)
    seed['defender_xdr'] = {'incidents': 3, 'spacing_seconds': 60}
    with EmulatorServer(seed=seed, state_dir=tmp_path) as server:
        assert [t['incidentId'] for t in admin(server.url, 'GET', '/xdr/incidents')] == [1001, 1002, 1003]
        admin(server.url, 'POST', '/xdr/generate', json={'count': 2})
        server.reset()
        assert len(admin(server.url, 'GET', '/xdr/incidents')) == 3


def test_admin_routes_are_not_logged_or_faulted(emulator, emulator_reset):
    emulator.add_fault(path_prefix='/_emulator/xdr', status=500, count='always')
    assert admin(emulator.url, 'GET', '/xdr/incidents')
    assert emulator.requests(path='/_emulator/xdr/incidents') == []
