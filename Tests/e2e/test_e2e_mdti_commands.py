"""Microsoft Defender Threat Intelligence end to end: every command through xsoar-local (unified script, fresh
processes) against the emulator, under each authentication flow, with the written context checked against the YAML."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from e2e_runtime import as_list, ok

from microsoft_emulator.testing import CERT_APP_ID, SECRET_APP_ID, SYSTEM_MI_CLIENT_ID, XSOAR_MDTI_APP_ID

pytestmark = pytest.mark.e2e

INTEGRATION = 'MicrosoftDefenderThreatIntelligence'
P = 'msg-defender-threat-intel'
FLOWS = {
    'client-secret': SECRET_APP_ID,
    'certificate': CERT_APP_ID,
    'managed-identity': SYSTEM_MI_CLIENT_ID,
    'device-code': XSOAR_MDTI_APP_ID,
}

# (command, args, context key under MSGDefenderThreatIntel or None, expected number of items or None)
COMMANDS = [
    (f'{P}-article-list', {'limit': '3'}, 'Article', 3),
    (f'{P}-article-list', {'article_id': 'a3f1c2d4'}, 'Article', 1),
    (f'{P}-article-indicators-list', {'article_id': 'a3f1c2d4', 'limit': '5'}, 'ArticleIndicator', 5),
    (f'{P}-profile-list', {'limit': '10'}, 'Profile', 3),
    (f'{P}-profile-list', {'intel_profile_id': 'examplerat'}, 'Profile', 1),
    (f'{P}-profile-indicators-list', {'intel_profile_id': 'example-blizzard'}, 'ProfileIndicator', 2),
    (f'{P}-host', {'host_id': 'fake-malicious.site'}, 'Host', 1),
    (f'{P}-host', {'host_id': '20.103.85.33'}, 'Host', 1),
    (f'{P}-host-whois', {'host_id': 'contoso.com'}, 'Whois', 1),
    (f'{P}-host-whois', {'search': 'contoso', 'limit': '1'}, 'Whois', 1),
    (f'{P}-host-whois-history', {'host_id': 'fake-malicious.site'}, 'WhoisHistory', 3),
    (f'{P}-host-reputation', {'host_id': 'fake-malicious.site'}, 'HostReputation', 1),
    (f'{P}-host-reputation', {'host_id': 'contoso.com'}, 'HostReputation', 1),
    (f'{P}-host-passive-dns', {'host_id': 'fake-malicious.site'}, 'PassiveDns', 2),
    (f'{P}-host-passive-dns-reverse', {'host_id': '203.0.113.66'}, 'PassiveDnsReverse', 2),
    (f'{P}-host-subdomains', {'host_id': 'contoso.com'}, 'Subdomain', 4),
    (f'{P}-host-ssl-certificates', {'host_id': 'contoso.com'}, 'SslCertificate', 2),
    (f'{P}-host-trackers', {'host_id': 'contoso.com'}, 'Tracker', 2),
    (f'{P}-host-components', {'host_id': 'fake-malicious.site'}, 'Component', 2),
    (f'{P}-host-cookies', {'host_id': 'contoso.com'}, 'Cookie', 2),
    (f'{P}-host-pairs', {'host_id': 'fake-malicious.site'}, 'HostPair', 2),
    (f'{P}-host-pairs', {'host_id': 'fake-malicious.site', 'role': 'parent'}, 'HostPair', 1),
    (f'{P}-vulnerability-get', {'cve_id': 'CVE-2021-44228'}, 'Vulnerability', 1),
]


def instance_for(run, flow: str):
    instance = run.instance(flow)
    if flow == 'device-code':
        result = run.run(instance, f'{P}-auth-start')
        assert not result.has_error, result.errors
        assert 'Authorization completed successfully' in result.entries[0]['HumanReadable']
    return instance


@pytest.mark.parametrize('flow', list(FLOWS))
def test_every_command(local_run, flow):
    """Given an instance of each authentication flow, When every command runs, Then none fails, every context path
    written is declared in the YAML with the right type, and the API saw the flow's identity."""
    run = local_run(INTEGRATION)
    instance = instance_for(run, flow)
    ok(run.run(instance, f'{P}-auth-test'))
    for command, args, key, count in COMMANDS:
        result = ok(run.run(instance, command, **args))
        items = as_list(result.context['MSGDefenderThreatIntel'][key])
        assert len(items) == count, (command, args, len(items))
    graph_calls = run.requests(('graph',))
    assert graph_calls and {e['client_id'] for e in graph_calls} == {FLOWS[flow]}
    assert all(e['status'] == 200 for e in graph_calls)
    reset = ok(run.run(instance, f'{P}-auth-reset'))
    assert 'reset successfully' in reset.entries[0]['HumanReadable']
    if flow == 'device-code':
        after = run.run(instance, f'{P}-article-list', limit='1')
        assert len(after.errors) == 1 and f'{P}-auth-start' in after.errors[0]
    else:
        ok(run.run(instance, f'{P}-article-list', limit='1'))


def test_ip_reputation(local_run):
    """Given malicious, suspicious, neutral and unknown IP addresses, When ip runs, Then DBotScore, IP and the
    relationships follow the documented mapping, and an address MDTI does not know gets score 0 without failing."""
    run = local_run(INTEGRATION)
    result = ok(run.run(run.instance('client-secret'), 'ip', ip='203.0.113.66,198.51.100.23,20.103.85.33,192.0.2.1'))
    scores = {s['Indicator']: s['Score'] for s in as_list(result.context['DBotScore'])}
    assert scores == {'203.0.113.66': 3, '198.51.100.23': 2, '20.103.85.33': 0, '192.0.2.1': 0}
    assert all(s['Reliability'] == 'B - Usually reliable' and s['Vendor'] for s in as_list(result.context['DBotScore']))
    ips = {i['Address']: i for i in as_list(result.context['IP'])}
    bad = ips['203.0.113.66']
    assert bad['ASN'] == 'AS64500' and bad['Geo']['Country'] == 'NL' and bad['Malicious']['Vendor']
    related = {(r['Relationship'], r['EntityB'], r['EntityBType']) for r in bad['Relationships']}
    assert ('indicator-of', 'Storm-0000 (example)', 'Threat Actor') in related
    assert ('related-to', 'Example campaign abuses lookalike sign-in pages', 'Report') in related


def test_domain_reputation_with_whois_and_resolutions(local_run):
    """Given domains, When domain runs, Then the Domain context carries the WHOIS facts, the passive DNS
    resolutions become resolves-to relationships, and the scores follow the classification."""
    run = local_run(INTEGRATION)
    result = ok(run.run(run.instance('certificate'), 'domain',
                        domain='fake-malicious.site,suspicious-cdn.net,benign.fabrikam.com'))
    scores = {s['Indicator']: s['Score'] for s in as_list(result.context['DBotScore'])}
    assert scores == {'fake-malicious.site': 3, 'suspicious-cdn.net': 2, 'benign.fabrikam.com': 0}
    domain = next(d for d in as_list(result.context['Domain']) if d['Name'] == 'fake-malicious.site')
    assert domain['WHOIS']['Registrar']['Name'] == 'Namecheap, Inc.'
    assert domain['NameServers'] == ['ns1.fake-malicious.site', 'ns2.fake-malicious.site']
    resolves = {r['EntityB'] for r in domain['Relationships'] if r['Relationship'] == 'resolves-to'}
    assert resolves == {'203.0.113.66', '2001:db8::66'}
    entry = next(e for e in result.entries if 'fake-malicious.site' in e.get('HumanReadable', ''))
    assert any(r['name'] == 'resolves-to' and r['entityB'] == '203.0.113.66' for r in entry['Relationships'])


@pytest.mark.parametrize('command, args', [
    ('ip', {'ip': '203.0.113.999'}),
    ('domain', {'domain': 'not a domain'}),
])
def test_reputation_rejects_bad_input(local_run, command, args):
    """Given a malformed indicator, When the reputation command runs, Then it fails naming the argument and makes
    no API call."""
    run = local_run(INTEGRATION)
    result = run.run(run.instance('client-secret'), command, **args)
    assert len(result.errors) == 1 and f'"{command}" argument' in result.errors[0]
    assert run.requests(('graph',)) == []


@pytest.mark.parametrize('command, args, key, expected', [
    (f'{P}-article-list', {'limit': '25'}, 'Article', 25),
    (f'{P}-article-indicators-list', {'article_id': 'a3f1c2d4', 'limit': '100'}, 'ArticleIndicator', 25),
    (f'{P}-profile-indicators-list', {'intel_profile_id': 'storm-0000-example'}, 'ProfileIndicator', 22),
    (f'{P}-host-whois-history', {'host_id': 'contoso.com', 'limit': '23'}, 'WhoisHistory', 23),
    (f'{P}-host-passive-dns', {'host_id': 'contoso.com', 'limit': '45'}, 'PassiveDns', 30),
])
def test_paging_beyond_one_page(local_run, command, args, key, expected):
    """Given a collection longer than the service's page (20), When the command asks for more, Then it follows
    @odata.nextLink until the limit or the end, and never sends a trailing '&'."""
    run = local_run(INTEGRATION)
    result = ok(run.run(run.instance('client-secret'), command, **args))
    items = as_list(result.context['MSGDefenderThreatIntel'][key])
    assert len(items) == expected
    assert len({i['id'] for i in items}) == expected
    calls = run.requests(('graph',))
    assert len(calls) == (expected + 19) // 20
    assert all(not str(c.get('query') or '').endswith('&') for c in calls)
    assert '$skip' in parse_qs(str(calls[-1].get('query') or '')) or len(calls) == 1


def test_odata_is_passed_through(local_run):
    """Given an odata argument, When article-list runs, Then $select and $filter reach the service next to $top."""
    run = local_run(INTEGRATION)
    result = ok(run.run(run.instance('client-secret'), f'{P}-article-list', limit='10',
                        odata='$select=id,title,isFeatured&$filter=isFeatured eq true'))
    articles = as_list(result.context['MSGDefenderThreatIntel']['Article'])
    assert {a['id'] for a in articles} == {'a3f1c2d4', 'b7e9d0a1'}
    assert all(set(a) == {'id', 'title', 'isFeatured'} for a in articles)
    query = parse_qs(urlparse('?' + str(run.requests(('graph',))[0]['query'])).query)
    assert query['$top'] == ['10'] and query['$select'] == ['id,title,isFeatured']


@pytest.mark.parametrize('command, args, names', [
    (f'{P}-article-indicators-list', {}, ('article_id', 'article_indicator_id')),
    (f'{P}-profile-indicators-list', {'intel_profile_id': 'x', 'intel_profile_indicator_id': 'y'},
     ('intel_profile_id', 'intel_profile_indicator_id')),
    (f'{P}-host-whois-history', {}, ('host_id', 'whois_record_id')),
])
def test_exactly_one_of(local_run, command, args, names):
    """Given none or both of a pair of arguments, When the command runs, Then the error names both."""
    run = local_run(INTEGRATION)
    result = run.run(run.instance('client-secret'), command, **args)
    assert len(result.errors) == 1 and all(f'"{n}"' in result.errors[0] for n in names)


def test_unknown_ids_give_a_clear_404(local_run):
    """Given IDs the service does not know, When commands ask for them, Then the error says it was not found."""
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret')
    for command, args in ((f'{P}-article-list', {'article_id': 'nope'}), (f'{P}-host', {'host_id': 'nope.example'})):
        result = run.run(instance, command, **args)
        assert len(result.errors) == 1 and '404' in result.errors[0] and 'not found' in result.errors[0].lower()


@pytest.mark.parametrize('cloud, endpoint', [('US GCC-High', ''), ('DoD', ''), ('', 'https://login.chinacloudapi.cn')])
def test_other_clouds_are_refused_clearly(local_run, cloud, endpoint):
    """Given a national cloud, When any command runs, Then it fails at once saying MDTI is worldwide-only."""
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret', azure_cloud=cloud, azure_ad_endpoint=endpoint)
    result = run.run(instance, f'{P}-article-list')
    assert len(result.errors) == 1 and 'worldwide cloud only' in result.errors[0]
    assert run.requests() == []


def test_hosts_keep_their_odata_type(local_run):
    """Given indicators and hosts, When read, Then each artifact and host says whether it is a host name or an IP
    address through @odata.type (as in the official context), and no other Graph annotation is written."""
    run = local_run(INTEGRATION)
    instance = run.instance('client-secret')
    types = {'#microsoft.graph.security.hostname', '#microsoft.graph.security.ipAddress'}
    indicators = ok(run.run(instance, f'{P}-article-indicators-list', article_id='a3f1c2d4', limit='5'))
    artifacts = [i['artifact'] for i in as_list(indicators.context['MSGDefenderThreatIntel']['ArticleIndicator'])]
    assert artifacts and all(a['@odata.type'] in types for a in artifacts)
    assert all('@odata.type' not in i for i in as_list(indicators.context['MSGDefenderThreatIntel']['ArticleIndicator']))
    ip_host = ok(run.run(instance, f'{P}-host', host_id='20.103.85.33')).context['MSGDefenderThreatIntel']['Host']
    assert as_list(ip_host)[0]['@odata.type'] == '#microsoft.graph.security.ipAddress'
    assert not any(k.startswith('@odata.') and k != '@odata.type' for k in as_list(ip_host)[0])
