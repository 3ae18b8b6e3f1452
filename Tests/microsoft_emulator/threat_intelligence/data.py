"""Seed data of the emulated Microsoft Defender Threat Intelligence (Graph ``security/threatIntelligence``).

Everything is made up and read-only; the wording reads like real intelligence because the integration README's
examples show it to customers. Objects use Microsoft's JSON shapes (camelCase, ``@odata.type`` on
polymorphic objects, ``null`` for unknown values). Some collections are deliberately longer than one server page
(see ``threat_intel.PAGE_SIZE``) so that clients have to follow ``@odata.nextLink``:

* articles (26), the indicators of article ``a3f1c2d4`` (25),
* the indicators of the intel profile ``storm-0000-example`` (22),
* the WHOIS history of ``contoso.com`` (24) and its passive DNS records (30).

Hosts: ``fake-malicious.site`` (malicious), ``phish-login-contoso.com`` (malicious), ``suspicious-cdn.net``
(suspicious), ``contoso.com`` (neutral), ``benign.fabrikam.com`` (unknown), IPs ``203.0.113.66`` (malicious),
``198.51.100.23`` (suspicious), ``20.103.85.33`` (neutral) and ``2001:db8::66`` (malicious, IPv6).
"""
from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

SECURITY = '#microsoft.graph.security.'
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def ts(days: float = 0, hours: float = 0) -> str:
    """A fixed timestamp ``days`` after 2024-01-01, in Graph's format."""
    return (EPOCH + timedelta(days=days, hours=hours)).strftime('%Y-%m-%dT%H:%M:%SZ')


def opaque_id(*parts: Any) -> str:
    """An ID shaped like MDTI's (base64 of the parts joined with ``$$``)."""
    return base64.urlsafe_b64encode('$$'.join(str(p) for p in parts).encode()).decode()


def guid(*parts: Any) -> str:
    digest = hashlib.sha1('|'.join(str(p) for p in parts).encode()).hexdigest()  # noqa: S324 - an ID, not security
    return f'{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}'


def text(content: str, fmt: str = 'text') -> dict[str, Any]:
    return {'@odata.type': 'microsoft.graph.security.formattedContent', 'content': content, 'format': fmt}


def host_ref(host_id: str) -> dict[str, Any]:
    kind = 'ipAddress' if _is_ip(host_id) else 'hostname'
    return {'@odata.type': SECURITY + kind, 'id': host_id}


def _is_ip(value: str) -> bool:
    import ipaddress
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


# ----- hosts --------------------------------------------------------------------------------------------------------

DOMAINS: dict[str, dict[str, Any]] = {
    'fake-malicious.site': {'registrar': 'Namecheap, Inc.', 'registrant': 'Privacy service provided by Withheld',
                            'first': 10, 'last': 300},
    'phish-login-contoso.com': {'registrar': 'NameSilo, LLC', 'registrant': 'REDACTED FOR PRIVACY',
                                'first': 120, 'last': 310},
    'suspicious-cdn.net': {'registrar': 'Tucows Domains Inc.', 'registrant': 'Contact Privacy Inc.',
                           'first': 40, 'last': 305},
    'contoso.com': {'registrar': 'MarkMonitor Inc.', 'registrant': 'Contoso Corporation', 'first': 0, 'last': 320},
    'benign.fabrikam.com': {'registrar': 'CSC Corporate Domains, Inc.', 'registrant': 'Fabrikam, Inc.',
                            'first': 50, 'last': 200},
}

IPS: dict[str, dict[str, Any]] = {
    '203.0.113.66': {'asn': 64500, 'as_name': 'EXAMPLE-BULLETPROOF', 'country': 'NL',
                     'provider': 'Example Bulletproof Hosting', 'netblock': '203.0.113.0/24', 'first': 20, 'last': 300},
    '198.51.100.23': {'asn': 64501, 'as_name': 'EXAMPLE-CLOUD', 'country': 'US', 'provider': 'Example Cloud',
                      'netblock': '198.51.100.0/24', 'first': 30, 'last': 290},
    '20.103.85.33': {'asn': 8075, 'as_name': 'MICROSOFT-CORP-MSN-AS-BLOCK', 'country': 'NL',
                     'provider': 'Microsoft Corporation', 'netblock': '20.96.0.0/12', 'first': 5, 'last': 320},
    '2001:db8::66': {'asn': 64502, 'as_name': 'EXAMPLE-V6', 'country': 'DE', 'provider': 'Example IPv6 Hosting',
                     'netblock': '2001:db8::/32', 'first': 60, 'last': 250},
}


def _hosts() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, d in DOMAINS.items():
        out[name] = {'@odata.type': SECURITY + 'hostname', 'id': name, 'firstSeenDateTime': ts(d['first']),
                     'lastSeenDateTime': ts(d['last']), 'registrar': d['registrar'], 'registrant': d['registrant']}
    for ip, d in IPS.items():
        out[ip] = {'@odata.type': SECURITY + 'ipAddress', 'id': ip, 'firstSeenDateTime': ts(d['first']),
                   'lastSeenDateTime': ts(d['last']),
                   'autonomousSystem': {'name': d['as_name'], 'number': d['asn'], 'organization': d['provider'],
                                        'value': f'AS{d["asn"]}'},
                   'countryOrRegion': d['country'], 'hostingProvider': d['provider'], 'netblock': d['netblock']}
    return out


# ----- articles and intel profiles ----------------------------------------------------------------------------------

FEATURED_ARTICLES: list[dict[str, Any]] = [
    {'id': 'a3f1c2d4', 'title': 'Example campaign abuses lookalike sign-in pages',
     'tags': ['Phishing', 'Credential theft'], 'days': 300, 'featured': True,
     'summary': 'A phishing campaign that hosts lookalike sign-in pages on freshly registered domains.'},
    {'id': 'b7e9d0a1', 'title': 'Example loader distributed through a poisoned CDN',
     'tags': ['Malware', 'Loader'], 'days': 280, 'featured': True,
     'summary': 'A loader fetched from a content delivery host that was briefly compromised.'},
    {'id': 'c5d2e8f3', 'title': 'Vulnerability spotlight: CVE-2021-44228 in exposed services',
     'tags': ['Vulnerability', 'CVE-2021-44228'], 'days': 250, 'featured': False,
     'summary': 'Notes about exploitation attempts against a set of exposed services.'},
]

PROFILES: list[dict[str, Any]] = [
    {'id': 'storm-0000-example', 'title': 'Storm-0000 (example)', 'kind': 'actor', 'aliases': ['EXAMPLE SPIDER'],
     'targets': ['Financial services', 'Government'], 'country': ('ZZ', 'Unknown (example)'), 'days': 30},
    {'id': 'example-blizzard', 'title': 'Example Blizzard', 'kind': 'actor', 'aliases': ['EXAMPLE BEAR', 'DEMO-7'],
     'targets': ['Energy', 'Defense'], 'country': ('ZZ', 'Unknown (example)'), 'days': 60},
    {'id': 'examplerat', 'title': 'ExampleRAT', 'kind': 'tool', 'aliases': ['DemoRAT'],
     'targets': [], 'country': None, 'days': 90},
]

# Which article / profile mentions which host (used for indicators and reputation rules).
ARTICLE_HOSTS = {
    'a3f1c2d4': ['phish-login-contoso.com', 'fake-malicious.site', '203.0.113.66'],
    'b7e9d0a1': ['suspicious-cdn.net', '198.51.100.23'],
    'c5d2e8f3': ['2001:db8::66'],
}
PROFILE_HOSTS = {
    'storm-0000-example': ['fake-malicious.site', '203.0.113.66'],
    'example-blizzard': ['phish-login-contoso.com', '2001:db8::66'],
    'examplerat': ['suspicious-cdn.net'],
}


def _articles() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    rows = list(FEATURED_ARTICLES)
    for n in range(1, 24):
        rows.append({'id': f'e{n:07x}', 'title': f'Weekly intelligence digest {n}', 'tags': ['Digest'],
                     'days': 5 + n * 10, 'featured': False,
                     'summary': f'Weekly digest number {n} of observed infrastructure.'})
    for row in rows:
        out[row['id']] = {
            '@odata.type': SECURITY + 'article', 'id': row['id'], 'title': row['title'],
            'createdDateTime': ts(row['days']), 'lastUpdatedDateTime': ts(row['days'] + 2),
            'isFeatured': row['featured'], 'imageUrl': None, 'tags': row['tags'],
            'summary': text(row['summary']),
            'body': text(f'## {row["title"]}\n\n{row["summary"]}', 'markdown'),
        }
    return out


def _profiles() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for p in PROFILES:
        origins = [] if not p['country'] else [
            {'@odata.type': 'microsoft.graph.security.intelligenceProfileCountryOrRegionOfOrigin',
             'code': p['country'][0], 'label': p['country'][1]}]
        out[p['id']] = {
            '@odata.type': SECURITY + 'intelligenceProfile', 'id': p['id'], 'kind': p['kind'], 'title': p['title'],
            'firstActiveDateTime': ts(p['days']), 'aliases': p['aliases'], 'targets': p['targets'],
            'countriesOrRegionsOfOrigin': origins,
            'summary': text(f'{p["title"]} is a threat {p["kind"]} tracked by its infrastructure and tooling.'),
            'description': text(f'## Snapshot\n{p["title"]} has been active since {ts(p["days"])[:10]}.', 'markdown'),
            'tradecraft': text(f'{p["title"]} relies on phishing and lookalike domains.', 'markdown'),
        }
    return out


def _indicator(kind: str, owner: str, artifact_id: str) -> dict[str, Any]:
    return {'@odata.type': SECURITY + kind, 'id': opaque_id(owner, artifact_id), 'source': 'microsoft',
            'artifact': host_ref(artifact_id)}


def _article_indicators() -> tuple[dict[str, list[str]], dict[str, dict[str, Any]]]:
    by_article: dict[str, list[str]] = {}
    by_id: dict[str, dict[str, Any]] = {}
    for article_id, hosts in ARTICLE_HOSTS.items():
        artifacts = list(hosts)
        if article_id == 'a3f1c2d4':      # long enough to need a second page
            artifacts += [f'login-{n:02d}.phish-login-contoso.com' for n in range(1, 23)]
        by_article[article_id] = []
        for artifact in artifacts:
            item = _indicator('articleIndicator', article_id, artifact)
            by_id[item['id']] = item
            by_article[article_id].append(item['id'])
    return by_article, by_id


def _profile_indicators() -> tuple[dict[str, list[str]], dict[str, dict[str, Any]]]:
    by_profile: dict[str, list[str]] = {}
    by_id: dict[str, dict[str, Any]] = {}
    for profile_id, hosts in PROFILE_HOSTS.items():
        artifacts = list(hosts)
        if profile_id == 'storm-0000-example':
            artifacts += [f'198.51.100.{n}' for n in range(100, 120)]
        by_profile[profile_id] = []
        for artifact in artifacts:
            item = _indicator('intelligenceProfileIndicator', profile_id, artifact)
            item['firstSeenDateTime'] = ts(100)
            item['lastSeenDateTime'] = ts(290)
            by_id[item['id']] = item
            by_profile[profile_id].append(item['id'])
    return by_profile, by_id


# ----- reputation ---------------------------------------------------------------------------------------------------

REPUTATION = {
    'fake-malicious.site': ('malicious', 100), 'phish-login-contoso.com': ('malicious', 92),
    'suspicious-cdn.net': ('suspicious', 61), 'contoso.com': ('neutral', 0), 'benign.fabrikam.com': ('unknown', 0),
    '203.0.113.66': ('malicious', 95), '198.51.100.23': ('suspicious', 55), '20.103.85.33': ('neutral', 0),
    '2001:db8::66': ('malicious', 88),
}


def _reputations(articles: dict[str, dict[str, Any]], profiles: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, dict[str, Any]] = {}
    for host_id, (classification, score) in REPUTATION.items():
        rules: list[dict[str, Any]] = []
        for article_id, hosts in ARTICLE_HOSTS.items():
            if host_id in hosts:
                rules.append({'name': 'Microsoft Defender Threat Intelligence Intel Article',
                              'description': articles[article_id]['title'], 'severity': 'high',
                              'relatedDetailsUrl': f'https://ti.defender.microsoft.com/article/{article_id}'})
        for profile_id, hosts in PROFILE_HOSTS.items():
            if host_id in hosts:
                rules.append({'name': 'Microsoft Defender Threat Intelligence Intel Profile',
                              'description': profiles[profile_id]['title'], 'severity': 'high',
                              'relatedDetailsUrl': f'https://ti.defender.microsoft.com/profiles/{profile_id}'})
        if classification == 'suspicious':
            rules.append({'name': 'Registrar', 'severity': 'medium', 'relatedDetailsUrl': None,
                          'description': 'Hosts registered through this registrar are often tied to abuse'})
        if classification in ('malicious', 'suspicious') and not _is_ip(host_id):
            rules.append({'name': 'Resolving IP Address', 'severity': 'low',
                          'description': _resolutions_of(host_id)[0],
                          'relatedDetailsUrl': f'https://ti.defender.microsoft.com/search?query={_resolutions_of(host_id)[0]}'})
        out[host_id] = {'@odata.type': SECURITY + 'hostReputation', 'id': guid('reputation', host_id),
                        'classification': classification, 'score': score, 'rules': rules}
    return out


# ----- WHOIS --------------------------------------------------------------------------------------------------------

def _contact(name: str | None, org: str | None, email: str | None, country: str | None = 'US') -> dict[str, Any]:
    return {'email': email, 'name': name, 'organization': org, 'telephone': '+1.5555555555' if email else None,
            'fax': None, 'address': {'city': 'Redmond' if country == 'US' else None, 'countryOrRegion': country,
                                     'postalCode': None, 'state': None, 'street': None}}


def _whois(host_id: str, version: int, days: int, history: bool = False) -> dict[str, Any]:
    d = DOMAINS[host_id]
    record_id = opaque_id(host_id, 7000000000000000000 + version)
    return {
        '@odata.type': SECURITY + ('whoisHistoryRecord' if history else 'whoisRecord'),
        'id': record_id,
        'expirationDateTime': ts(days + 365), 'registrationDateTime': ts(d['first'] - 200),
        'firstSeenDateTime': ts(days), 'lastSeenDateTime': ts(days + 9), 'lastUpdateDateTime': ts(days, 6),
        'whoisServer': 'whois.example-registrar.test',
        'domainStatus': 'client update prohibited,client transfer prohibited',
        'rawWhoisText': f'Domain Name: {host_id.upper()}\nRegistrar: {d["registrar"]}\n(record {version})',
        'abuse': _contact(None, None, 'abuse@registrar.example'),
        'admin': _contact('Domain Administrator', d['registrant'], f'admin@{host_id}'),
        'billing': None, 'noc': None, 'zone': None,
        'registrar': _contact(None, d['registrar'], None),
        'registrant': _contact('Domain Administrator', d['registrant'], f'domains@{host_id}'),
        'technical': _contact('Hostmaster', d['registrant'], f'hostmaster@{host_id}'),
        'nameservers': [{'firstSeenDateTime': ts(d['first']), 'lastSeenDateTime': ts(d['last']),
                         'host': {'id': f'ns{n}.{host_id}'}} for n in (1, 2)],
        'host': host_ref(host_id),      # typed, as in Microsoft's host-get-whois example
    }


def _whois_data() -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    current: dict[str, dict[str, Any]] = {}
    history: dict[str, list[dict[str, Any]]] = {}
    for host_id, d in DOMAINS.items():
        current[host_id] = _whois(host_id, 0, d['last'] - 10)
        count = 24 if host_id == 'contoso.com' else 3
        history[host_id] = [_whois(host_id, n, d['last'] - 10 - n * 12, history=True) for n in range(1, count + 1)]
    return current, history


# ----- passive DNS, subdomains, certificates, trackers, components, cookies, host pairs ----------------------------

RESOLUTIONS = {
    'fake-malicious.site': ['203.0.113.66', '2001:db8::66'],
    'phish-login-contoso.com': ['203.0.113.66'],
    'suspicious-cdn.net': ['198.51.100.23'],
    'benign.fabrikam.com': ['20.103.85.33'],
    'contoso.com': ['20.103.85.33'] + [f'20.103.85.{n}' for n in range(100, 129)],   # 30 records
}


def _resolutions_of(host_id: str) -> list[str]:
    return RESOLUTIONS.get(host_id, [])


def _passive_dns() -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    forward: dict[str, list[dict[str, Any]]] = {}
    reverse: dict[str, list[dict[str, Any]]] = {}
    for host_id, ips in RESOLUTIONS.items():
        for n, ip in enumerate(ips):
            record = {'@odata.type': SECURITY + 'passiveDnsRecord',
                      'id': opaque_id(host_id, ip, 'false'),
                      'firstSeenDateTime': ts(DOMAINS[host_id]['first'] + n), 'lastSeenDateTime': ts(300 - n),
                      'collectedDateTime': ts(300 - n, 1), 'recordType': 'AAAA' if ':' in ip else 'A',
                      'parentHost': {'id': host_id}, 'artifact': host_ref(ip)}
            forward.setdefault(host_id, []).append(record)
            reverse_record = dict(record, id=opaque_id(ip, host_id, 'true'), parentHost={'id': ip},
                                  artifact=host_ref(host_id))
            reverse.setdefault(ip, []).append(reverse_record)
    for host_id in DOMAINS:
        forward.setdefault(host_id, [])
    for ip in IPS:
        reverse.setdefault(ip, [])
    return forward, reverse


def _subdomains() -> dict[str, list[dict[str, Any]]]:
    names = {'contoso.com': ['www', 'mail', 'login', 'cdn'], 'fake-malicious.site': ['secure', 'update'],
             'phish-login-contoso.com': ['account', 'verify']}
    return {host: [{'@odata.type': SECURITY + 'subdomain', 'id': opaque_id('subdomain', f'{sub}.{host}'),
                    'firstSeenDateTime': ts(DOMAINS[host]['first'] + i), 'host': host_ref(f'{sub}.{host}')}
                   for i, sub in enumerate(subs)] for host, subs in names.items()}


def _certificate(common_name: str, issuer: str, days: int, serial: int) -> dict[str, Any]:
    sha1 = hashlib.sha1(f'{common_name}|{serial}'.encode()).hexdigest()  # noqa: S324 - a fingerprint stand-in
    name = {'commonName': common_name, 'email': None, 'givenName': None, 'surname': None, 'serialNumber': None,
            'organizationName': None, 'organizationUnitName': None, 'alternateName': [common_name, f'www.{common_name}'],
            'address': {'city': None, 'countryOrRegion': None, 'postalCode': None, 'postOfficeBox': None,
                        'state': None, 'street': None, 'type': 'unknown'}}
    issuer_name = dict(name, commonName=issuer, organizationName=issuer, alternateName=[])
    return {'@odata.type': SECURITY + 'sslCertificate', 'id': base64.urlsafe_b64encode(sha1.encode()).decode(),
            'firstSeenDateTime': ts(days), 'lastSeenDateTime': ts(days + 80),
            'fingerprint': ':'.join(sha1[i:i + 2] for i in range(0, 40, 2)), 'sha1': sha1, 'sslVersion': '3',
            'serialNumber': str(10 ** 20 + serial), 'issueDateTime': ts(days - 1), 'expirationDateTime': ts(days + 89),
            'subject': name, 'issuer': issuer_name}


def _ssl_certificates() -> dict[str, list[dict[str, Any]]]:
    specs = {'contoso.com': [('contoso.com', 'Example TLS Issuing CA 05', 100, 1),
                             ('contoso.com', 'Example TLS Issuing CA 05', 200, 2)],
             'fake-malicious.site': [('fake-malicious.site', 'Example Free CA R3', 150, 3)],
             '203.0.113.66': [('fake-malicious.site', 'Example Free CA R3', 150, 3)]}
    out: dict[str, list[dict[str, Any]]] = {}
    for host, certs in specs.items():
        out[host] = []
        for cn, issuer, days, serial in certs:
            cert = _certificate(cn, issuer, days, serial)
            out[host].append({'@odata.type': SECURITY + 'hostSslCertificate',
                              'id': opaque_id(host, cert['sha1']), 'firstSeenDateTime': cert['firstSeenDateTime'],
                              'lastSeenDateTime': cert['lastSeenDateTime'],
                              'ports': [{'port': 443, 'firstSeenDateTime': cert['firstSeenDateTime'],
                                         'lastSeenDateTime': cert['lastSeenDateTime']}],
                              'host': host_ref(host), 'sslCertificate': cert})
    return out


def _trackers() -> dict[str, list[dict[str, Any]]]:
    specs = {'contoso.com': [('GoogleAnalyticsID', 'UA-000000-1'), ('JarmHash', '2ad2ad0002ad2ad00042d42d000000')],
             'fake-malicious.site': [('JarmHash', '2ad2ad0002ad2ad00042d42d000000'), ('FaviconHash', '-1234567890')],
             'phish-login-contoso.com': [('FaviconHash', '-1234567890')]}
    return {host: [{'@odata.type': SECURITY + 'hostTracker', 'id': opaque_id(value, kind, host),
                    'firstSeenDateTime': ts(DOMAINS[host]['first']), 'lastSeenDateTime': ts(DOMAINS[host]['last']),
                    'kind': kind, 'value': value, 'host': host_ref(host)} for kind, value in rows]
            for host, rows in specs.items()}


def _components() -> dict[str, list[dict[str, Any]]]:
    specs = {'contoso.com': [('Microsoft-IIS', '10.0', 'Server'), ('ASP.NET', '4.0.30319', 'Framework')],
             'fake-malicious.site': [('nginx', '1.18.0', 'Server'), ('PHP', '7.4.3', 'Programming Language')],
             '203.0.113.66': [('nginx', '1.18.0', 'Server')]}
    return {host: [{'@odata.type': SECURITY + 'hostComponent', 'id': opaque_id(name, version, category, host),
                    'firstSeenDateTime': ts(100), 'lastSeenDateTime': ts(300), 'name': name, 'version': version,
                    'category': category, 'host': host_ref(host)} for name, version, category in rows]
            for host, rows in specs.items()}


def _cookies() -> dict[str, list[dict[str, Any]]]:
    specs = {'contoso.com': [('OIDC', 'login.contoso.com'), ('ASP.NET_SessionId', 'contoso.com')],
             'phish-login-contoso.com': [('PHPSESSID', 'phish-login-contoso.com')]}
    return {host: [{'@odata.type': SECURITY + 'hostCookie', 'id': opaque_id(domain, name, host),
                    'firstSeenDateTime': ts(120), 'lastSeenDateTime': ts(299), 'name': name, 'domain': domain,
                    'host': host_ref(host)} for name, domain in rows]
            for host, rows in specs.items()}


HOST_PAIRS = [
    ('phish-login-contoso.com', 'fake-malicious.site', 'redirect'),
    ('fake-malicious.site', 'suspicious-cdn.net', 'iFrame'),
    ('contoso.com', 'contoso.com', 'finalRedirect'),
    ('benign.fabrikam.com', 'contoso.com', 'link'),
]


def _host_pairs() -> list[dict[str, Any]]:
    return [{'@odata.type': SECURITY + 'hostPair', 'id': opaque_id(kind, parent, child),
             'firstSeenDateTime': ts(150 + n), 'lastSeenDateTime': ts(290 + n), 'linkKind': kind,
             'parentHost': host_ref(parent), 'childHost': host_ref(child)}
            for n, (parent, child, kind) in enumerate(HOST_PAIRS)]


# ----- vulnerabilities ----------------------------------------------------------------------------------------------

def _vulnerabilities() -> dict[str, dict[str, Any]]:
    def cvss(score: float, severity: str, vector: str) -> dict[str, Any]:
        return {'@odata.type': 'microsoft.graph.security.cvssSummary', 'score': score, 'severity': severity,
                'vectorString': vector}

    def link(name: str, url: str) -> dict[str, Any]:
        return {'@odata.type': 'microsoft.graph.security.hyperlink', 'name': name, 'url': url}

    rows = [
        ('CVE-2021-44228', 'high', 100, 10.0, 'critical', True, ['CWE-20', 'CWE-400', 'CWE-502'],
         'A lookup feature of a logging library lets remote input trigger code loading (summary for tests).'),
        ('CVE-2023-23397', 'critical', 95, 9.8, 'critical', True, ['CWE-294'],
         'A mail client processes a crafted reminder property and leaks credentials (summary for tests).'),
        ('CVE-2020-0601', 'medium', 40, 8.1, 'high', False, ['CWE-295'],
         'A certificate validation flaw lets a spoofed certificate look trusted (summary for tests).'),
    ]
    out: dict[str, dict[str, Any]] = {}
    for n, (cve, severity, priority, score3, severity3, active, cwes, summary) in enumerate(rows):
        out[cve] = {
            '@odata.type': SECURITY + 'vulnerability', 'id': cve, 'createdDateTime': ts(10 * n),
            'lastModifiedDateTime': ts(10 * n + 200), 'publishedDateTime': ts(10 * n + 5),
            'description': text(summary, 'markdown'), 'remediation': text('Apply the vendor update.', 'markdown'),
            'priorityScore': priority, 'severity': severity, 'commonWeaknessEnumerationIds': cwes,
            'cvss2Summary': cvss(round(score3 - 0.7, 1), 'high', 'AV:N/AC:M/Au:N/C:C/I:C/A:C'),
            'cvss3Summary': cvss(score3, severity3, 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H'),
            'hasChatter': active, 'exploitsAvailable': active, 'activeExploitsObserved': active,
            'exploits': [link('Public proof of concept (example)', f'https://exploits.example/{cve}')] if active else [],
            'references': [link(f'{cve} advisory (example)', f'https://advisories.example/{cve}')],
        }
    return out


# ----- the whole data set -------------------------------------------------------------------------------------------

class ThreatIntelData:
    """All collections, indexed the way the routes look them up."""

    def __init__(self) -> None:
        self.hosts = _hosts()
        self.articles = _articles()
        self.profiles = _profiles()
        self.article_indicator_ids, self.article_indicators = _article_indicators()
        self.profile_indicator_ids, self.profile_indicators = _profile_indicators()
        self.reputations = _reputations(self.articles, self.profiles)
        self.whois, self.whois_history = _whois_data()
        self.whois_by_id: dict[str, dict[str, Any]] = {r['id']: r for r in self.whois.values()}
        self.whois_history_by_record: dict[str, list[dict[str, Any]]] = {
            self.whois[h]['id']: rows for h, rows in self.whois_history.items()}
        self.passive_dns, self.passive_dns_reverse = _passive_dns()
        self.subdomains = _subdomains()
        self.ssl_certificates = _ssl_certificates()
        self.trackers = _trackers()
        self.components = _components()
        self.cookies = _cookies()
        self.host_pairs = _host_pairs()
        self.vulnerabilities = _vulnerabilities()
        # Single-object lookups for the collections that have an /{id} route of their own.
        self.by_collection: dict[str, dict[str, dict[str, Any]]] = {
            'passiveDnsRecords': _index(self.passive_dns, self.passive_dns_reverse),
            'subdomains': _index(self.subdomains),
            'hostSslCertificates': _index(self.ssl_certificates),
            'sslCertificates': {c['sslCertificate']['id']: c['sslCertificate']
                                for rows in self.ssl_certificates.values() for c in rows},
            'hostTrackers': _index(self.trackers),
            'hostComponents': _index(self.components),
            'hostCookies': _index(self.cookies),
            'hostPairs': {p['id']: p for p in self.host_pairs},
        }

    def pairs_of(self, host_id: str, role: str) -> list[dict[str, Any]]:
        """Host pairs where ``host_id`` is the parent, the child, or either (``role``: parent/child/any)."""
        def matches(pair: dict[str, Any]) -> bool:
            parent, child = pair['parentHost']['id'], pair['childHost']['id']
            return {'parent': parent == host_id, 'child': child == host_id}.get(role, host_id in (parent, child))
        return [p for p in self.host_pairs if matches(p)]


def _index(*groups: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {item['id']: item for group in groups for rows in group.values() for item in rows}


DATA = ThreatIntelData()
