"""Unit tests for Microsoft Defender Threat Intelligence: every command function over HTTP (requests-mock, Graph's
shapes from test_data), paging, the "exactly one of" rules, argument checks, reputation scoring and relationships,
and the instance settings (clouds, flows)."""
import json
import re
import urllib.parse
from pathlib import Path

import MicrosoftDefenderThreatIntelligence as mdti
import pytest
from CommonServerPython import Common, DemistoException

BASE = 'https://graph.microsoft.com/v1.0/security/threatIntelligence'
DATA = Path(__file__).parent / 'test_data'
PARAMS = {'app_id': 'app-id', 'tenant_id': 'tenant-id', 'client_credentials': True,
          'credentials': {'password': 'secret-value'}}
RELIABILITY = 'B - Usually reliable'


def load(name):
    return json.loads((DATA / name).read_text())


@pytest.fixture(autouse=True)
def fake_token(mocker):
    """Every API call gets a bearer token without talking to Entra."""
    mocker.patch.object(mdti.TokenProvider, 'get_token', return_value='token')


@pytest.fixture
def client():
    return mdti.build_client(PARAMS)


def query_of(request):
    return urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)


def ids(result):
    outputs = result.outputs if isinstance(result.outputs, list) else [result.outputs]
    return [o['id'] for o in outputs]


# ---------------------------------------------------------------------------------------------------------------
# Articles
# ---------------------------------------------------------------------------------------------------------------

def test_article_list_follows_next_link_up_to_limit(client, requests_mock):
    """Given articles served two per page, When article-list asks for 3, Then it reads two pages, stops at 3, sends
    $top without a trailing '&', and writes Graph objects without @odata annotations."""
    first = requests_mock.get(f'{BASE}/articles', json=load('article_list_page1.json'))
    second = requests_mock.get(f'{BASE}/articles?$top=3&$skip=2', json=load('article_list_page2.json'))
    result = mdti.article_list_command(client, {'limit': '3'})
    assert result.outputs_prefix == 'MSGDefenderThreatIntel.Article' and result.outputs_key_field == 'id'
    assert len(result.outputs) == 3 and first.call_count == 1 and second.call_count == 1
    assert query_of(first.request_history[0]) == {'$top': ['3']}
    assert not first.request_history[0].url.endswith('&')
    assert all('@odata.type' not in a for a in result.outputs)
    assert result.outputs[0]['summary']['content']


def test_article_list_by_id_ignores_limit(client, requests_mock):
    """Given an article ID, When article-list runs, Then it gets that one article."""
    requests_mock.get(f'{BASE}/articles/a3f1c2d4', json=load('article.json'))
    result = mdti.article_list_command(client, {'article_id': 'a3f1c2d4', 'limit': '1'})
    assert result.outputs['id'] == 'a3f1c2d4' and 'Example campaign' in result.readable_output
    assert query_of(requests_mock.last_request) == {}


def test_article_list_empty(client, requests_mock):
    """Given no articles, When article-list runs, Then it says so and writes no context."""
    requests_mock.get(f'{BASE}/articles', json=load('empty_list.json'))
    result = mdti.article_list_command(client, {})
    assert result.readable_output == 'No articles were found.' and result.outputs is None


def test_article_list_passes_odata(client, requests_mock):
    """Given an odata argument, When article-list runs, Then its options are sent next to $top."""
    requests_mock.get(f'{BASE}/articles', json=load('empty_list.json'))
    mdti.article_list_command(client, {'limit': '5', 'odata': '$select=id,title&$filter=isFeatured eq true'})
    assert query_of(requests_mock.last_request) == {'$top': ['5'], '$select': ['id,title'],
                                                    '$filter': ['isFeatured eq true']}


def test_article_indicators_list_by_article(client, requests_mock):
    """Given an article ID, When article-indicators-list runs, Then it lists the article's indicators."""
    requests_mock.get(f'{BASE}/articles/a3f1c2d4/indicators', json=load('article_indicators.json'))
    result = mdti.article_indicators_list_command(client, {'article_id': 'a3f1c2d4', 'limit': '2'})
    assert result.outputs_prefix == 'MSGDefenderThreatIntel.ArticleIndicator'
    assert [o['artifact']['id'] for o in result.outputs] == ['phish-login-contoso.com', 'fake-malicious.site']


def test_artifact_keeps_its_odata_type(client, requests_mock):
    """Given Microsoft's documented article indicator (Learn example), When it is read, Then the artifact keeps its
    @odata.type (host name or IP address) as in the official integration's context, and the indicator's own type
    annotation is dropped."""
    indicator = {k: v for k, v in load('article_indicator_learn_example.json').items() if k != '_source'}
    requests_mock.get(f'{BASE}/articleIndicators/ZmFrZS1tYWxpY2lvdXMuc2l0ZQ%3D%3D', json=indicator)
    result = mdti.article_indicators_list_command(client, {'article_indicator_id': 'ZmFrZS1tYWxpY2lvdXMuc2l0ZQ=='})
    assert result.outputs == {'id': 'ZmFrZS1tYWxpY2lvdXMuc2l0ZQ==', 'source': 'microsoft',
                              'artifact': {'@odata.type': '#microsoft.graph.security.hostname',
                                           'id': 'fake-malicious.site'}}


def test_host_keeps_its_odata_type(client, requests_mock):
    """Given a host, When msg-defender-threat-intel-host runs, Then @odata.type says host name; @odata.context goes."""
    requests_mock.get(f'{BASE}/hosts/fake-malicious.site', json=load('host_hostname.json'))
    result = mdti.host_command(client, {'host_id': 'fake-malicious.site'})
    assert result.outputs['@odata.type'] == '#microsoft.graph.security.hostname'
    assert '@odata.context' not in result.outputs


def test_article_indicators_list_by_indicator_id(client, requests_mock):
    """Given an article indicator ID with URL-unsafe characters, When the command runs, Then the ID is one quoted
    path segment."""
    indicator = load('article_indicator.json')
    requests_mock.get(f'{BASE}/articleIndicators/a%2Fb%3D', json=indicator)
    result = mdti.article_indicators_list_command(client, {'article_indicator_id': 'a/b='})
    assert result.outputs['id'] == indicator['id']


# ---------------------------------------------------------------------------------------------------------------
# "Exactly one of" rules
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('function, names', [
    (mdti.article_indicators_list_command, ('article_id', 'article_indicator_id')),
    (mdti.profile_indicators_list_command, ('intel_profile_id', 'intel_profile_indicator_id')),
    (mdti.host_whois_history_command, ('host_id', 'whois_record_id')),
    (mdti.host_whois_command, ('host_id', 'whois_record_id', 'search')),
])
@pytest.mark.parametrize('given', ['none', 'two'])
def test_exactly_one_of(client, function, names, given):
    """Given none, or two, of the alternative arguments, When the command runs, Then the error names all of them."""
    args = {} if given == 'none' else {names[0]: 'a', names[1]: 'b'}
    with pytest.raises(ValueError) as error:
        function(client, args)
    assert all(f'"{n}"' in str(error.value) for n in names)
    assert ('Provide one of' if given == 'none' else 'only one of') in str(error.value)


@pytest.mark.parametrize('args, expected', [
    ({'a': 'x'}, 'a'), ({'b': 'y', 'a': ''}, 'b'), ({'a': None, 'b': 'y'}, 'b'),
])
def test_ensure_exactly_one_accepts_one(args, expected):
    """Given exactly one non-empty value, When checked, Then its name comes back (empty strings and None count as
    not given)."""
    assert mdti.ensure_exactly_one(args, 'a', 'b') == expected


@pytest.mark.parametrize('limit', ['0', '-3', 'many'])
def test_bad_limit(client, limit):
    """Given a limit that is not a positive number, When a list command runs, Then the error names limit."""
    with pytest.raises(ValueError, match='limit'):
        mdti.article_list_command(client, {'limit': limit})


def test_bad_odata(client):
    """Given an odata argument that is not made of OData options, When a command runs, Then it says so."""
    with pytest.raises(ValueError, match='odata'):
        mdti.article_list_command(client, {'odata': 'select=id'})


# ---------------------------------------------------------------------------------------------------------------
# Intel profiles
# ---------------------------------------------------------------------------------------------------------------

def test_profile_list(client, requests_mock):
    """Given intel profiles, When profile-list runs, Then they are written under Profile."""
    requests_mock.get(f'{BASE}/intelProfiles', json=load('profile_list.json'))
    result = mdti.profile_list_command(client, {})
    assert result.outputs_prefix == 'MSGDefenderThreatIntel.Profile'
    assert ids(result) == ['storm-0000-example', 'example-blizzard', 'examplerat']
    assert query_of(requests_mock.last_request) == {'$top': ['50']}


def test_profile_list_by_id(client, requests_mock):
    """Given a profile ID, When profile-list runs, Then it gets that profile."""
    requests_mock.get(f'{BASE}/intelProfiles/example-blizzard', json=load('profile.json'))
    result = mdti.profile_list_command(client, {'intel_profile_id': 'example-blizzard'})
    assert result.outputs['title'] == 'Example Blizzard' and result.outputs['kind'] == 'actor'


def test_profile_indicators_list(client, requests_mock):
    """Given a profile ID, When profile-indicators-list runs, Then its indicators are written."""
    requests_mock.get(f'{BASE}/intelProfiles/example-blizzard/indicators', json=load('profile_indicators.json'))
    result = mdti.profile_indicators_list_command(client, {'intel_profile_id': 'example-blizzard'})
    assert result.outputs_prefix == 'MSGDefenderThreatIntel.ProfileIndicator' and len(result.outputs) == 2


def test_profile_indicator_by_id(client, requests_mock):
    """Given a profile indicator ID, When profile-indicators-list runs, Then that indicator is read."""
    indicator = load('profile_indicator.json')
    quoted = urllib.parse.quote(indicator['id'], safe='')
    requests_mock.get(f'{BASE}/intelligenceProfileIndicators/{quoted}', json=indicator)
    result = mdti.profile_indicators_list_command(client, {'intel_profile_indicator_id': indicator['id']})
    assert result.outputs['artifact']['id'] == 'phish-login-contoso.com'


# ---------------------------------------------------------------------------------------------------------------
# Hosts
# ---------------------------------------------------------------------------------------------------------------

def test_host(client, requests_mock):
    """Given a hostname, When host runs, Then the host is written under Host."""
    requests_mock.get(f'{BASE}/hosts/fake-malicious.site', json=load('host_hostname.json'))
    result = mdti.host_command(client, {'host_id': 'fake-malicious.site'})
    assert result.outputs_prefix == 'MSGDefenderThreatIntel.Host' and result.outputs['registrar'] == 'Namecheap, Inc.'


def test_host_requires_host_id(client):
    """Given no host_id, When host runs, Then the error names host_id."""
    with pytest.raises(ValueError, match='host_id'):
        mdti.host_command(client, {})


def test_host_whois_by_host(client, requests_mock):
    """Given a host, When host-whois runs, Then its current WHOIS record is written under Whois."""
    requests_mock.get(f'{BASE}/hosts/fake-malicious.site/whois', json=load('whois.json'))
    result = mdti.host_whois_command(client, {'host_id': 'fake-malicious.site'})
    assert result.outputs_prefix == 'MSGDefenderThreatIntel.Whois'
    assert result.outputs['registrar']['organization'] == 'Namecheap, Inc.'


def test_host_whois_by_record_id(client, requests_mock):
    """Given a WHOIS record ID, When host-whois runs, Then that record is read."""
    record = load('whois.json')
    requests_mock.get(f'{BASE}/whoisRecords/{urllib.parse.quote(record["id"], safe="")}', json=record)
    result = mdti.host_whois_command(client, {'whois_record_id': record['id']})
    assert result.outputs['id'] == record['id']


def test_host_whois_search_uses_limit(client, requests_mock):
    """Given a search, When host-whois runs with limit 1, Then $search is sent and only one record is written."""
    requests_mock.get(f'{BASE}/whoisRecords', json=load('whois_search.json'))
    result = mdti.host_whois_command(client, {'search': 'contoso', 'limit': '1'})
    assert len(result.outputs) == 1
    assert query_of(requests_mock.last_request) == {'$top': ['1'], '$search': ['"contoso"']}


@pytest.mark.parametrize('args, path', [
    ({'host_id': 'fake-malicious.site'}, '/hosts/fake-malicious.site/whois/history'),
    ({'whois_record_id': 'abc='}, '/whoisRecords/abc%3D/history'),
])
def test_host_whois_history(client, requests_mock, args, path):
    """Given a host or a record ID, When host-whois-history runs, Then the history is read with $top = limit."""
    requests_mock.get(f'{BASE}{path}', json=load('whois_history.json'))
    result = mdti.host_whois_history_command(client, {**args, 'limit': '2'})
    assert result.outputs_prefix == 'MSGDefenderThreatIntel.WhoisHistory' and len(result.outputs) == 2
    assert query_of(requests_mock.last_request) == {'$top': ['2']}


def test_host_reputation(client, requests_mock):
    """Given a malicious host, When host-reputation runs, Then the reputation and its rules are shown."""
    requests_mock.get(f'{BASE}/hosts/fake-malicious.site/reputation', json=load('reputation_malicious.json'))
    result = mdti.host_reputation_command(client, {'host_id': 'fake-malicious.site'})
    assert result.outputs['classification'] == 'malicious' and result.outputs['score'] == 100
    assert 'Rules' in result.readable_output and 'Intel Profile' in result.readable_output


@pytest.mark.parametrize('function, collection, fixture, prefix', [
    (mdti.host_passive_dns_command, 'passiveDns', 'passive_dns.json', 'PassiveDns'),
    (mdti.host_passive_dns_reverse_command, 'passiveDnsReverse', 'passive_dns_reverse.json', 'PassiveDnsReverse'),
    (mdti.host_subdomains_command, 'subdomains', 'subdomains.json', 'Subdomain'),
    (mdti.host_ssl_certificates_command, 'sslCertificates', 'ssl_certificates.json', 'SslCertificate'),
    (mdti.host_trackers_command, 'trackers', 'trackers.json', 'Tracker'),
    (mdti.host_components_command, 'components', 'components.json', 'Component'),
    (mdti.host_cookies_command, 'cookies', 'cookies.json', 'Cookie'),
    (mdti.host_pairs_command, 'hostPairs', 'host_pairs.json', 'HostPair'),
])
def test_host_collections(client, requests_mock, function, collection, fixture, prefix):
    """Given a host, When each host-picture command runs, Then it reads the host's collection and writes it under
    its own context key."""
    body = load(fixture)
    requests_mock.get(f'{BASE}/hosts/contoso.com/{collection}', json=body)
    result = function(client, {'host_id': 'contoso.com', 'limit': '10'})
    assert result.outputs_prefix == f'MSGDefenderThreatIntel.{prefix}'
    assert ids(result) == [item['id'] for item in body['value']]
    assert query_of(requests_mock.last_request) == {'$top': ['10']}


def test_host_collection_empty(client, requests_mock):
    """Given a host without cookies, When host-cookies runs, Then it says none were found."""
    requests_mock.get(f'{BASE}/hosts/benign.fabrikam.com/cookies', json=load('empty_list.json'))
    result = mdti.host_cookies_command(client, {'host_id': 'benign.fabrikam.com'})
    assert result.readable_output == 'No cookies were found for benign.fabrikam.com.' and result.outputs is None


@pytest.mark.parametrize('role, collection', [('parent', 'childHostPairs'), ('child', 'parentHostPairs')])
def test_host_pairs_role(client, requests_mock, role, collection):
    """Given a role, When host-pairs runs, Then the matching Graph collection is read."""
    requests_mock.get(f'{BASE}/hosts/fake-malicious.site/{collection}', json=load('host_pairs.json'))
    result = mdti.host_pairs_command(client, {'host_id': 'fake-malicious.site', 'role': role})
    assert result.outputs_prefix == 'MSGDefenderThreatIntel.HostPair'


def test_host_pairs_bad_role(client):
    """Given an unknown role, When host-pairs runs, Then the error names role."""
    with pytest.raises(ValueError, match='role'):
        mdti.host_pairs_command(client, {'host_id': 'contoso.com', 'role': 'sibling'})


def test_ipv6_host_is_one_path_segment(client, requests_mock):
    """Given an IPv6 address, When a host command runs, Then the address is quoted into one path segment."""
    requests_mock.get(f'{BASE}/hosts/2001%3Adb8%3A%3A66/passiveDnsReverse', json=load('empty_list.json'))
    result = mdti.host_passive_dns_reverse_command(client, {'host_id': '2001:db8::66'})
    assert result.outputs is None


# ---------------------------------------------------------------------------------------------------------------
# Vulnerabilities
# ---------------------------------------------------------------------------------------------------------------

def test_vulnerability_get(client, requests_mock):
    """Given CVE IDs, one unknown, When vulnerability-get runs, Then the known one is written and the unknown one is
    reported without failing."""
    requests_mock.get(f'{BASE}/vulnerabilities/CVE-2021-44228', json=load('vulnerability.json'))
    requests_mock.get(f'{BASE}/vulnerabilities/CVE-2000-0001', status_code=404, json=load('not_found.json'))
    found, missing = mdti.vulnerability_get_command(client, {'cve_id': 'cve-2021-44228,CVE-2000-0001'})
    assert found.outputs_prefix == 'MSGDefenderThreatIntel.Vulnerability'
    assert found.outputs['cvss3Summary']['score'] == 10.0
    assert missing.outputs is None and 'CVE-2000-0001' in missing.readable_output


def test_vulnerability_get_rejects_bad_ids(client):
    """Given something that is not a CVE ID, When vulnerability-get runs, Then the error names cve_id."""
    with pytest.raises(ValueError, match='cve_id'):
        mdti.vulnerability_get_command(client, {'cve_id': 'log4shell'})


# ---------------------------------------------------------------------------------------------------------------
# Reputation commands
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('reputation, expected', [
    ({'classification': 'malicious', 'score': 100}, Common.DBotScore.BAD),
    ({'classification': 'suspicious', 'score': 60}, Common.DBotScore.SUSPICIOUS),
    ({'classification': 'neutral', 'score': 0}, Common.DBotScore.NONE),
    ({'classification': 'unknown', 'score': 0}, Common.DBotScore.NONE),
    ({'classification': 'unknownFutureValue', 'score': 80}, Common.DBotScore.BAD),
    ({'score': 45}, Common.DBotScore.SUSPICIOUS),
    ({'score': 10}, Common.DBotScore.NONE),
    (None, Common.DBotScore.NONE),
])
def test_dbot_score_mapping(reputation, expected):
    """Given a host reputation, When it is scored, Then the documented mapping applies."""
    assert mdti.dbot_score_from_reputation(reputation) == expected


def test_ip_command(client, requests_mock):
    """Given a malicious IP, When ip runs, Then IP and DBotScore contexts are built from the host and reputation,
    with relationships to the intel profile and article its rules name."""
    requests_mock.get(f'{BASE}/hosts/203.0.113.66/reputation', json=load('reputation_ip_malicious.json'))
    requests_mock.get(f'{BASE}/hosts/203.0.113.66', json=load('host_ip.json'))
    [result] = mdti.ip_command(client, {'ip': '203.0.113.66'}, RELIABILITY)
    context = result.to_context()['EntryContext']
    ip = context['IP(val.Address && val.Address == obj.Address)'][0]
    score = context[Common.DBotScore.CONTEXT_PATH][0]
    assert (score['Score'], score['Type'], score['Reliability']) == (3, 'ip', RELIABILITY)
    assert ip['ASN'] == 'AS64500' and ip['Geo']['Country'] == 'NL' and ip['Malicious']['Description']
    names = {(r['name'], r['entityB'], r['entityBType']) for r in result.to_context()['Relationships']}
    assert ('indicator-of', 'Storm-0000 (example)', 'Threat Actor') in names
    assert ('related-to', 'Example campaign abuses lookalike sign-in pages', 'Report') in names
    assert result.outputs['host'] == {'id': '203.0.113.66'}


def test_ip_command_unknown_ip(client, requests_mock):
    """Given an IP unknown to MDTI, When ip runs, Then the score is 0 and nothing else is asked."""
    requests_mock.get(f'{BASE}/hosts/192.0.2.1/reputation', status_code=404, json=load('not_found.json'))
    [result] = mdti.ip_command(client, {'ip': '192.0.2.1'}, RELIABILITY)
    assert result.indicator.dbot_score.score == 0 and result.outputs is None
    assert requests_mock.call_count == 1


@pytest.mark.parametrize('value', ['1.2.3', '999.1.1.1', 'contoso.com'])
def test_ip_command_rejects_bad_ips(client, value):
    """Given a value that is not an IP address, When ip runs, Then the error names the ip argument."""
    with pytest.raises(ValueError, match='"ip" argument'):
        mdti.ip_command(client, {'ip': value}, RELIABILITY)


def test_domain_command(client, requests_mock):
    """Given a malicious domain, When domain runs, Then the Domain context carries WHOIS data and resolves-to
    relationships from passive DNS."""
    requests_mock.get(f'{BASE}/hosts/fake-malicious.site/reputation', json=load('reputation_malicious.json'))
    requests_mock.get(f'{BASE}/hosts/fake-malicious.site/whois', json=load('whois.json'))
    dns = requests_mock.get(f'{BASE}/hosts/fake-malicious.site/passiveDns', json=load('passive_dns.json'))
    [result] = mdti.domain_command(client, {'domain': 'Fake-Malicious.site.'}, RELIABILITY)
    context = result.to_context()['EntryContext']
    domain = context['Domain(val.Name && val.Name == obj.Name)'][0]
    assert domain['Name'] == 'fake-malicious.site'
    assert domain['WHOIS']['Registrar']['Name'] == 'Namecheap, Inc.'
    assert domain['Registrant']['Email'] == 'domains@fake-malicious.site'
    assert domain['NameServers'] == ['ns1.fake-malicious.site', 'ns2.fake-malicious.site']
    assert context[Common.DBotScore.CONTEXT_PATH][0]['Score'] == 3
    resolves = [r for r in result.to_context()['Relationships'] if r['name'] == 'resolves-to']
    assert {(r['entityB'], r['entityBType']) for r in resolves} == {('203.0.113.66', 'IP'), ('2001:db8::66', 'IPv6')}
    assert query_of(dns.last_request) == {'$top': ['10']}


def test_domain_command_suspicious_and_neutral(client, requests_mock):
    """Given a suspicious and a neutral domain, When domain runs, Then they score 2 and 0."""
    for name, fixture in (('suspicious-cdn.net', 'reputation_suspicious.json'), ('contoso.com', 'reputation_neutral.json')):
        requests_mock.get(f'{BASE}/hosts/{name}/reputation', json=load(fixture))
        requests_mock.get(f'{BASE}/hosts/{name}/whois', status_code=404, json=load('not_found.json'))
        requests_mock.get(f'{BASE}/hosts/{name}/passiveDns', json=load('empty_list.json'))
    results = mdti.domain_command(client, {'domain': 'suspicious-cdn.net,contoso.com'}, RELIABILITY)
    assert [r.indicator.dbot_score.score for r in results] == [2, 0]


def test_domain_command_unicode_domain(client, requests_mock):
    """Given an internationalized domain (and a trailing comma), When domain runs, Then Graph is asked for its
    punycode host ID and the Domain context and DBot score keep the name as given."""
    for path, fixture in (('reputation', 'reputation_suspicious.json'), ('passiveDns', 'empty_list.json')):
        requests_mock.get(f'{BASE}/hosts/xn--bcher-kva.example/{path}', json=load(fixture))
    requests_mock.get(f'{BASE}/hosts/xn--bcher-kva.example/whois', status_code=404, json=load('not_found.json'))
    [result] = mdti.domain_command(client, {'domain': 'Bücher.example,'}, RELIABILITY)
    context = result.to_context()['EntryContext']
    assert context['Domain(val.Name && val.Name == obj.Name)'][0]['Name'] == 'bücher.example'
    assert context[Common.DBotScore.CONTEXT_PATH][0]['Indicator'] == 'bücher.example'
    assert result.indicator.dbot_score.score == 2


@pytest.mark.parametrize('value', ['not a domain', '-bad.example', '203.0.113.66', 'localhost', '☃.example',
                                   'bü cher.example'])
def test_domain_command_rejects_bad_domains(client, value):
    """Given a value that is not a domain, When domain runs, Then the error names the domain argument."""
    with pytest.raises(ValueError, match='"domain" argument'):
        mdti.domain_command(client, {'domain': value}, RELIABILITY)


# ---------------------------------------------------------------------------------------------------------------
# Errors, instance settings and authentication wiring
# ---------------------------------------------------------------------------------------------------------------

def test_not_found_is_clear(client, requests_mock):
    """Given an unknown host, When host runs, Then the error carries Graph's message."""
    requests_mock.get(f'{BASE}/hosts/nope.example', status_code=404, json=load('not_found.json'))
    with pytest.raises(DemistoException, match="was not found"):
        mdti.host_command(client, {'host_id': 'nope.example'})


@pytest.mark.parametrize('params', [
    {'azure_cloud': 'US GCC'}, {'azure_cloud': 'US GCC-High'}, {'azure_cloud': 'DoD'}, {'azure_cloud': 'China'},
    {'azure_ad_endpoint': 'https://login.microsoftonline.us'}, {'azure_ad_endpoint': 'https://login.chinacloudapi.cn'},
    {'azure_ad_endpoint': 'https://login.microsoftonline.de'},
])
def test_only_the_worldwide_cloud(params):
    """Given a national cloud (by the cloud or the Azure AD endpoint parameter), When the client is built, Then it
    fails saying MDTI is offered in the worldwide cloud only."""
    with pytest.raises(DemistoException, match='worldwide cloud only'):
        mdti.build_client({**PARAMS, **params})


def test_custom_cloud_endpoints():
    """Given the Custom cloud, When the client is built, Then the Graph URL and login URL overrides are used."""
    client = mdti.build_client({**PARAMS, 'azure_cloud': 'Custom', 'login_url': 'https://login.local',
                                'graph_url': 'https://graph.local/'})
    assert client.ms_client._base_url == 'https://graph.local/v1.0/security/threatIntelligence'
    assert client.ms_client.credential.cloud.login_url == 'https://login.local'


@pytest.mark.parametrize('params, named', [
    ({'graph_url': 'ftp://graph.local'}, '"Microsoft Graph URL (Custom cloud)" parameter (graph_url)'),
    ({'login_url': 'login.local'}, '"Login URL (Custom cloud)" parameter (login_url)')])
def test_custom_cloud_urls_are_checked_by_name(params, named):
    """Given a Custom cloud URL that is not an https:// URL with a host, When the client is built, Then the error
    names the parameter and what it takes."""
    with pytest.raises(ValueError, match=re.escape(named)):
        mdti.build_client({**PARAMS, 'azure_cloud': 'Custom', 'login_url': 'https://login.local',
                           'graph_url': 'https://graph.local', **params})


def test_flows():
    """Given each way of signing in, When the client is built, Then the flow and the scope are the expected ones."""
    secret = mdti.build_client(PARAMS).ms_client
    assert secret.credential.flow == 'client_credentials' and secret.scope == 'https://graph.microsoft.com/.default'
    device = mdti.build_client({'tenant_id': 'tenant-id'}).ms_client
    assert device.credential.flow == 'device_code' and device.scope == 'ThreatIntelligence.Read.All'
    assert device.credential.client_id == mdti.DEFAULT_APP_ID
    managed = mdti.build_client({'use_managed_identities': True}).ms_client
    assert managed.credential.flow == 'managed_identity' and managed.scope == 'https://graph.microsoft.com/.default'


@pytest.mark.parametrize('params, message', [
    ({'app_id': 'a', 'tenant_id': 't', 'client_credentials': True}, 'Client Secret'),
    ({'app_id': 'a', 'client_credentials': True, 'credentials': {'password': 's'}}, 'Tenant ID'),
])
def test_client_credentials_need_a_secret_and_tenant(params, message):
    """Given client credentials without a secret or a tenant, When the client is built, Then the error says what is
    missing."""
    with pytest.raises(DemistoException, match=message):
        mdti.build_client(params)


def test_reliability_parameter():
    """Given the Source Reliability parameter, When read, Then the default is B and unknown values fail."""
    assert mdti.get_reliability({}) == RELIABILITY
    assert mdti.get_reliability({'integrationReliability': 'A - Completely reliable'}) == 'A - Completely reliable'
    with pytest.raises(DemistoException):
        mdti.get_reliability({'integrationReliability': 'Z'})
