"""Defender Threat Intelligence on Graph (/security/threatIntelligence): every route, the permission check, 404s,
paging with @odata.nextLink and the OData query options."""
from __future__ import annotations

from urllib.parse import quote

import pytest
import requests

from microsoft_emulator.testing import (
    GRAPH,
    MDE,
    NO_PERMISSIONS_APP_ID,
    NO_PERMISSIONS_APP_SECRET,
    SECRET_APP_ID,
    access_token,
)
from microsoft_emulator.threat_intelligence.data import DATA
from microsoft_emulator.threat_intelligence.routes import PAGE_SIZE, ODataError, parse_filter

TI = '/v1.0/security/threatIntelligence'
WHOIS_ID = DATA.whois['contoso.com']['id']
ARTICLE_INDICATOR = DATA.article_indicator_ids['b7e9d0a1'][0]
PROFILE_INDICATOR = DATA.profile_indicator_ids['examplerat'][0]


@pytest.fixture(scope='module')
def token(emulator):
    return access_token(emulator.url, scope=f'{GRAPH}/.default')


@pytest.fixture
def ti(emulator, token):
    def call(path, token_=None, prefix=TI, **params):
        headers = {'Authorization': f'Bearer {token_ or token}'}
        return requests.get(f'{emulator.url}{prefix}{path}', headers=headers, params=params or None, timeout=30)
    return call


def q(value: str) -> str:
    return quote(value, safe='')


# (path, kind): kind is 'list' for collections, else the expected id of the single object
ROUTES = [
    ('/articles', 'list'),
    ('/articles/a3f1c2d4', 'a3f1c2d4'),
    ('/articles/b7e9d0a1/indicators', 'list'),
    (f'/articleIndicators/{q(ARTICLE_INDICATOR)}', ARTICLE_INDICATOR),
    ('/intelProfiles', 'list'),
    ('/intelProfiles/examplerat', 'examplerat'),
    ('/intelProfiles/examplerat/indicators', 'list'),
    (f'/intelligenceProfileIndicators/{q(PROFILE_INDICATOR)}', PROFILE_INDICATOR),
    ('/hosts/contoso.com', 'contoso.com'),
    ('/hosts/20.103.85.33', '20.103.85.33'),
    ('/hosts/contoso.com/whois', WHOIS_ID),
    ('/hosts/contoso.com/whois/history', 'list'),
    ('/hosts/fake-malicious.site/reputation', DATA.reputations['fake-malicious.site']['id']),
    ('/hosts/contoso.com/passiveDns', 'list'),
    ('/hosts/20.103.85.33/passiveDnsReverse', 'list'),
    ('/hosts/contoso.com/subdomains', 'list'),
    ('/hosts/contoso.com/sslCertificates', 'list'),
    ('/hosts/contoso.com/trackers', 'list'),
    ('/hosts/contoso.com/components', 'list'),
    ('/hosts/contoso.com/cookies', 'list'),
    ('/hosts/fake-malicious.site/hostPairs', 'list'),
    ('/hosts/fake-malicious.site/parentHostPairs', 'list'),
    ('/hosts/fake-malicious.site/childHostPairs', 'list'),
    ('/whoisRecords', 'list'),
    (f'/whoisRecords/{q(WHOIS_ID)}', WHOIS_ID),
    (f'/whoisRecords/{q(WHOIS_ID)}/history', 'list'),
    ('/vulnerabilities/CVE-2021-44228', 'CVE-2021-44228'),
] + [(f'/{name}/{q(next(iter(items)))}', next(iter(items))) for name, items in DATA.by_collection.items()]


@pytest.mark.parametrize('path, kind', ROUTES)
def test_every_route(ti, path, kind):
    """Given a token with ThreatIntelligence.Read.All, When each route is called, Then it answers 200 with a
    collection (value) or the object asked for, in Graph's shape."""
    answer = ti(path)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body['@odata.context'].endswith('/v1.0/$metadata')
    if kind == 'list':
        assert isinstance(body['value'], list) and body['value']
        assert all('id' in item and item['@odata.type'].startswith('#microsoft.graph.security.') for item in body['value'])
    else:
        assert body['id'] == kind


def test_beta_prefix(ti):
    """Given the beta endpoint, When a route is called, Then it answers like v1.0."""
    answer = ti('/articles/a3f1c2d4', prefix='/beta/security/threatIntelligence')
    assert answer.status_code == 200 and answer.json()['@odata.context'].endswith('/beta/$metadata')


@pytest.mark.parametrize('path', [p for p, _ in ROUTES])
def test_permission_is_required(emulator, ti, path):
    """Given a token without ThreatIntelligence.Read.All, When any route is called, Then it answers 403 Forbidden."""
    weak = access_token(emulator.url, scope=f'{GRAPH}/.default', client_id=NO_PERMISSIONS_APP_ID,
                        secret=NO_PERMISSIONS_APP_SECRET)
    answer = ti(path, token_=weak)
    assert answer.status_code == 403
    assert answer.json()['error']['code'] == 'Forbidden' and 'ThreatIntelligence.Read.All' in answer.text


def test_wrong_audience_and_missing_token(emulator, ti):
    """Given a token for another API, or none, When a route is called, Then it answers 401 like Graph."""
    other = access_token(emulator.url, scope=f'{MDE}/.default')
    assert ti('/articles', token_=other).json()['error']['code'] == 'InvalidAuthenticationToken'
    assert requests.get(f'{emulator.url}{TI}/articles', timeout=10).status_code == 401


@pytest.mark.parametrize('path', ['/articles/nope', '/articles/nope/indicators', '/articleIndicators/nope',
                                  '/intelProfiles/nope', '/intelProfiles/nope/indicators',
                                  '/intelligenceProfileIndicators/nope', '/hosts/nope.example',
                                  '/hosts/nope.example/whois', '/hosts/nope.example/whois/history',
                                  '/hosts/nope.example/reputation', '/hosts/nope.example/passiveDns',
                                  '/whoisRecords/nope', '/whoisRecords/nope/history', '/vulnerabilities/CVE-1999-0001',
                                  '/hostPairs/nope'])
def test_unknown_ids_answer_404(ti, path):
    """Given an unknown ID, When it is asked for, Then the answer is 404 with Graph's error body."""
    answer = ti(path)
    assert answer.status_code == 404
    error = answer.json()['error']
    assert error['code'] == 'NotFound' and 'nope' in error['message'].lower() or 'CVE-1999' in error['message']
    assert 'request-id' in error['innerError']


def test_paging_with_next_link(ti, token):
    """Given more articles than a page holds, When the client follows @odata.nextLink, Then it gets every article
    once, PAGE_SIZE at a time, and the last page has no next link."""
    seen: list[str] = []
    answer = ti('/articles', **{'$count': 'true'}).json()
    assert answer['@odata.count'] == len(DATA.articles) > PAGE_SIZE
    pages = 0
    while True:
        pages += 1
        assert len(answer['value']) <= PAGE_SIZE
        seen += [a['id'] for a in answer['value']]
        if '@odata.nextLink' not in answer:
            break
        answer = requests.get(answer['@odata.nextLink'], headers={'Authorization': f'Bearer {token}'}, timeout=10).json()
    assert pages == 2 and len(seen) == len(set(seen)) == len(DATA.articles)


def test_top_is_a_page_size_and_next_link_keeps_options(ti):
    """Given $top and $select, When a page is read, Then $top items come back and the next link keeps the options
    with a new $skip."""
    answer = ti('/hosts/contoso.com/passiveDns', **{'$top': '7', '$select': 'id,recordType'}).json()
    assert len(answer['value']) == 7
    assert all(set(item) == {'id', '@odata.type', 'recordType'} for item in answer['value'])
    link = answer['@odata.nextLink']
    assert '$top=7' in link and '$select=id,recordType' in link and '$skip=7' in link
    assert ti('/hosts/contoso.com/passiveDns', **{'$top': '500'}).json()['value'].__len__() == PAGE_SIZE


def test_filter_search_orderby(ti):
    """Given $filter, $search and $orderby, When articles are listed, Then the options are applied."""
    featured = ti('/articles', **{'$filter': "isFeatured eq true and createdDateTime ge 2024-10-20T00:00:00Z"}).json()
    assert [a['id'] for a in featured['value']] == ['a3f1c2d4']
    searched = ti('/articles', **{'$search': '"poisoned CDN"'}).json()
    assert [a['id'] for a in searched['value']] == ['b7e9d0a1']
    ordered = ti('/intelProfiles', **{'$orderby': 'title asc'}).json()
    assert [p['title'] for p in ordered['value']] == sorted(p['title'] for p in DATA.profiles.values())
    tagged = ti('/articles', **{'$filter': "tags eq 'loader' or contains(title, 'LOOKALIKE')"}).json()
    assert [a['id'] for a in tagged['value']] == ['a3f1c2d4', 'b7e9d0a1']
    pairs = ti('/hosts/fake-malicious.site/hostPairs', **{'$filter': "parentHost/id in ('phish-login-contoso.com')"})
    assert [p['linkKind'] for p in pairs.json()['value']] == ['redirect']


@pytest.mark.parametrize('params', [{'$filter': 'title eq'}, {'$filter': "title like 'x'"}, {'$top': '-1'},
                                    {'$select': 'nope'}, {'$orderby': 'title sideways'}])
def test_bad_query_options(ti, params):
    """Given a malformed query option, When a collection is listed, Then it answers 400 BadRequest."""
    answer = ti('/articles', **params)
    assert answer.status_code == 400 and answer.json()['error']['code'] == 'BadRequest'


def test_ipv6_host_and_case(ti):
    """Given an IPv6 host quoted as one segment and a hostname in capitals, When they are read, Then both resolve."""
    assert ti(f'/hosts/{q("2001:db8::66")}/reputation').json()['classification'] == 'malicious'
    assert ti('/hosts/CONTOSO.COM').json()['id'] == 'contoso.com'


def test_delegated_scope_is_accepted(emulator, ti):
    """Given a delegated token carrying only the ThreatIntelligence.Read.All scope, When a route is called, Then it is
    accepted like the application role."""
    minted = requests.post(f'{emulator.url}/_emulator/tokens/mint', timeout=10, json={
        'resource': GRAPH, 'client_id': SECRET_APP_ID, 'scp': 'ThreatIntelligence.Read.All'}).json()
    token = minted.get('access_token') or minted.get('token')
    assert ti('/intelProfiles', token_=token).status_code == 200


@pytest.mark.parametrize('expression, item, expected', [
    ("kind eq 'actor'", {'kind': 'Actor'}, True),
    ("kind ne 'actor'", {'kind': 'actor'}, False),
    ('score gt 50', {'score': 60}, True),
    ('score le 50', {'score': 60}, False),
    ("not (kind eq 'tool')", {'kind': 'actor'}, True),
    ("startswith(id, 'ab') and endswith(id, 'yz')", {'id': 'abxyz'}, True),
    ('isFeatured eq null', {'isFeatured': None}, True),
])
def test_filter_parser(expression, item, expected):
    """Given a $filter expression, When it is applied to an item, Then it matches as OData says."""
    assert parse_filter(expression)(item) is expected


def test_filter_parser_errors():
    """Given malformed expressions, When they are parsed, Then ODataError is raised."""
    for expression in ("kind eq 'a' extra", '(kind eq 1', '#'):
        with pytest.raises(ODataError):
            parse_filter(expression)
