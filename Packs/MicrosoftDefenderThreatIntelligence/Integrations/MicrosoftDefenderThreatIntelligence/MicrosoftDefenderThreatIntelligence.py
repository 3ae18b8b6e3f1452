"""Microsoft Defender Threat Intelligence (MDTI) through Microsoft Graph (/security/threatIntelligence).

Articles, intel profiles and their indicators, and the host picture (WHOIS, reputation, passive DNS, subdomains,
certificates, trackers, components, cookies, host pairs), vulnerability articles, and the `ip` / `domain`
reputation commands. Authentication and HTTP come from MicrosoftApiModule.
"""
import inspect
import ipaddress
import urllib.parse
from collections.abc import Callable

import demistomock as demisto
from CommonServerPython import *
from CommonServerUserPython import *

PREFIX = 'msg-defender-threat-intel'
CONTEXT = 'MSGDefenderThreatIntel'
INTEGRATION_NAME = 'Microsoft Defender Threat Intelligence'
DEFAULT_APP_ID = '7f55ea8c-2e5c-4a52-aafa-d0bfc632b242'      # the Cortex XSOAR app (device code)
DEVICE_CODE_SCOPE = 'ThreatIntelligence.Read.All'             # + offline_access, added by the auth module
API_PATH = '/v1.0/security/threatIntelligence'
DEFAULT_LIMIT = 50
MAX_PAGE_SIZE = 1000                                          # $top sent per request; the service may page lower
REPUTATION_RESOLUTIONS = 10                                   # passive DNS records read by the `domain` command

# The official azure_ad_endpoint values, mapped to the cloud they belong to.
AZURE_AD_ENDPOINT_CLOUDS = {
    'https://login.microsoftonline.com': 'Worldwide',
    'https://login.microsoftonline.us': 'US GCC-High',
    'https://login.chinacloudapi.cn': 'China',
}

# hostReputation.classification -> DBot score. "neutral" means Microsoft found no ties to bad infrastructure, which
# is not a statement that the host is good, so it stays Unknown (0) like "unknown".
CLASSIFICATION_SCORES = {
    'malicious': Common.DBotScore.BAD,
    'suspicious': Common.DBotScore.SUSPICIOUS,
    'neutral': Common.DBotScore.NONE,
    'unknown': Common.DBotScore.NONE,
}
# Used only when the classification is missing or a value this integration does not know.
SCORE_THRESHOLDS = ((75, Common.DBotScore.BAD), (40, Common.DBotScore.SUSPICIOUS))

DOMAIN_PATTERN = re.compile(r'^(?=.{1,253}$)(?!-)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+'
                            r'(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$', re.IGNORECASE)

RULE_ARTICLE = 'intel article'
RULE_PROFILE = 'intel profile'


# ============================================================================================================
# Client: one method per API call
# ============================================================================================================

class Client:
    """The MDTI API. ``ms_client`` (MicrosoftApiModule) signs requests and retries; paths are relative to
    /v1.0/security/threatIntelligence."""

    def __init__(self, ms_client: 'MicrosoftClient') -> None:
        self.ms_client = ms_client

    # ---- helpers ----
    def _get(self, path: str, odata: dict[str, str] | None = None) -> dict[str, Any]:
        return self.ms_client.http_request('GET', path, params=odata or None)

    def _list(self, path: str, limit: int, odata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        params = {'$top': str(min(limit, MAX_PAGE_SIZE)), **(odata or {})}
        return list(self.ms_client.paginate(path, params=params, limit=limit))

    # ---- articles ----
    def list_articles(self, limit: int, odata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return self._list('/articles', limit, odata)

    def get_article(self, article_id: str, odata: dict[str, str] | None = None) -> dict[str, Any]:
        return self._get(f'/articles/{quote_id(article_id, "article_id")}', odata)

    def list_article_indicators(self, article_id: str, limit: int,
                                odata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return self._list(f'/articles/{quote_id(article_id, "article_id")}/indicators', limit, odata)

    def get_article_indicator(self, indicator_id: str, odata: dict[str, str] | None = None) -> dict[str, Any]:
        return self._get(f'/articleIndicators/{quote_id(indicator_id, "article_indicator_id")}', odata)

    # ---- intel profiles ----
    def list_profiles(self, limit: int, odata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return self._list('/intelProfiles', limit, odata)

    def get_profile(self, profile_id: str, odata: dict[str, str] | None = None) -> dict[str, Any]:
        return self._get(f'/intelProfiles/{quote_id(profile_id, "intel_profile_id")}', odata)

    def list_profile_indicators(self, profile_id: str, limit: int,
                                odata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return self._list(f'/intelProfiles/{quote_id(profile_id, "intel_profile_id")}/indicators', limit, odata)

    def get_profile_indicator(self, indicator_id: str, odata: dict[str, str] | None = None) -> dict[str, Any]:
        return self._get(f'/intelligenceProfileIndicators/{quote_id(indicator_id, "intel_profile_indicator_id")}',
                         odata)

    # ---- hosts ----
    def get_host(self, host_id: str, odata: dict[str, str] | None = None) -> dict[str, Any]:
        return self._get(f'/hosts/{quote_id(host_id, "host_id")}', odata)

    def get_host_reputation(self, host_id: str, odata: dict[str, str] | None = None) -> dict[str, Any]:
        return self._get(f'/hosts/{quote_id(host_id, "host_id")}/reputation', odata)

    def get_host_whois(self, host_id: str, odata: dict[str, str] | None = None) -> dict[str, Any]:
        return self._get(f'/hosts/{quote_id(host_id, "host_id")}/whois', odata)

    def get_whois_record(self, record_id: str, odata: dict[str, str] | None = None) -> dict[str, Any]:
        return self._get(f'/whoisRecords/{quote_id(record_id, "whois_record_id")}', odata)

    def search_whois_records(self, search: str, limit: int,
                             odata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return self._list('/whoisRecords', limit, {'$search': f'"{search}"', **(odata or {})})

    def list_host_whois_history(self, host_id: str, limit: int,
                                odata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return self._list(f'/hosts/{quote_id(host_id, "host_id")}/whois/history', limit, odata)

    def list_whois_record_history(self, record_id: str, limit: int,
                                  odata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return self._list(f'/whoisRecords/{quote_id(record_id, "whois_record_id")}/history', limit, odata)

    def list_host_collection(self, host_id: str, collection: str, limit: int,
                             odata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """passiveDns, passiveDnsReverse, subdomains, sslCertificates, trackers, components, cookies, hostPairs,
        parentHostPairs or childHostPairs of a host."""
        return self._list(f'/hosts/{quote_id(host_id, "host_id")}/{collection}', limit, odata)

    def list_passive_dns(self, host_id: str, limit: int, odata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return self.list_host_collection(host_id, 'passiveDns', limit, odata)

    def list_passive_dns_reverse(self, host_id: str, limit: int,
                                 odata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return self.list_host_collection(host_id, 'passiveDnsReverse', limit, odata)

    def list_subdomains(self, host_id: str, limit: int, odata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return self.list_host_collection(host_id, 'subdomains', limit, odata)

    def list_ssl_certificates(self, host_id: str, limit: int,
                              odata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return self.list_host_collection(host_id, 'sslCertificates', limit, odata)

    def list_trackers(self, host_id: str, limit: int, odata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return self.list_host_collection(host_id, 'trackers', limit, odata)

    def list_components(self, host_id: str, limit: int, odata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return self.list_host_collection(host_id, 'components', limit, odata)

    def list_cookies(self, host_id: str, limit: int, odata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return self.list_host_collection(host_id, 'cookies', limit, odata)

    def list_host_pairs(self, host_id: str, limit: int, role: str = 'any',
                        odata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        collection = {'any': 'hostPairs', 'parent': 'childHostPairs', 'child': 'parentHostPairs'}[role]
        return self.list_host_collection(host_id, collection, limit, odata)

    # ---- vulnerabilities ----
    def get_vulnerability(self, cve_id: str, odata: dict[str, str] | None = None) -> dict[str, Any]:
        return self._get(f'/vulnerabilities/{quote_id(cve_id, "cve_id")}', odata)


# ============================================================================================================
# Argument helpers
# ============================================================================================================

def ensure_exactly_one(args: dict[str, Any], *names: str) -> str:
    """The one argument among ``names`` that has a value; a clear error naming all of them otherwise."""
    given = [name for name in names if args.get(name) not in (None, '')]
    if len(given) == 1:
        return given[0]
    listed = ' or '.join(f'"{n}"' for n in names) if len(names) == 2 else \
        ', '.join(f'"{n}"' for n in names[:-1]) + f' or "{names[-1]}"'
    if not given:
        raise ValueError(f'Provide one of the arguments {listed}.')
    raise ValueError(f'Provide only one of the arguments {listed}, not {len(given)} of them.')


def parse_limit(args: dict[str, Any], default: int = DEFAULT_LIMIT) -> int:
    limit = arg_to_number(args.get('limit'), arg_name='limit')
    if limit is None:
        return default
    if limit < 1:
        raise ValueError(f'The "limit" argument must be a positive number, got {limit}.')
    return limit


def parse_odata(value: Any) -> dict[str, str]:
    """The ``odata`` argument (a query string such as ``$select=id,title&$filter=...``) as request parameters."""
    text = str(value or '').strip().lstrip('?&')
    if not text:
        return {}
    pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=False)
    params: dict[str, str] = {}
    for key, val in pairs:
        key = key.strip()
        if not key.startswith('$'):
            raise ValueError(f'The "odata" argument takes OData query options such as $select=id,title or '
                             f'$filter=..., joined with "&"; "{key}" is not one.')
        params[key] = val
    return params


def required_arg(args: dict[str, Any], name: str) -> str:
    value = str(args.get(name) or '').strip()
    if not value:
        raise ValueError(f'The "{name}" argument is required.')
    return value


HOST_TYPES = ('microsoft.graph.security.hostname', 'microsoft.graph.security.ipAddress')


def _kept(key: str, value: Any) -> bool:
    """Whether a key stays in the context: data keys do; of Graph's annotations only a host's ``@odata.type``."""
    return not key.startswith('@odata.') or (key == '@odata.type' and str(value).lstrip('#') in HOST_TYPES)


def strip_odata(value: Any) -> Any:
    """The object without Graph's annotations (``@odata.context``, ``@odata.nextLink``, the type of an article or a
    formatted text...), which describe the answer rather than the data, except a host's ``@odata.type``: on an
    indicator's artifact, a host and the hosts of a pair it is the only field that says whether the host is a host
    name or an IP address (``#microsoft.graph.security.hostname`` / ``#microsoft.graph.security.ipAddress``), and
    the official integration's context has it there."""
    if isinstance(value, dict):
        return {k: strip_odata(v) for k, v in value.items() if _kept(k, v)}
    if isinstance(value, list):
        return [strip_odata(v) for v in value]
    return value


# ============================================================================================================
# Output helpers
# ============================================================================================================

def results(prefix: str, items: list[dict[str, Any]] | dict[str, Any], title: str, headers: list[str],
            empty: str, key: str = 'id') -> CommandResults:
    """CommandResults for a list or one object; an empty answer gives ``empty`` and no context."""
    rows = items if isinstance(items, list) else [items]
    rows = [strip_odata(r) for r in rows if r]
    if not rows:
        return CommandResults(readable_output=empty, raw_response=items)
    readable = tableToMarkdown(title, [flatten_for_table(r, headers) for r in rows], headers=headers,
                               removeNull=True)
    outputs: Any = rows if isinstance(items, list) else rows[0]
    return CommandResults(outputs_prefix=f'{CONTEXT}.{prefix}', outputs_key_field=key, outputs=outputs,
                          readable_output=readable, raw_response=items)


def flatten_for_table(item: dict[str, Any], headers: list[str]) -> dict[str, Any]:
    """Table cells for ``headers``; a header such as ``artifact.id`` reads a nested value, content objects show
    their text."""
    row: dict[str, Any] = {}
    for header in headers:
        value: Any = item
        for part in header.split('.'):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, dict) and 'content' in value:
            value = value.get('content')
        row[header] = value
    return row


# ============================================================================================================
# Commands
# ============================================================================================================

def article_list_command(client: Client, args: dict[str, Any]) -> CommandResults:
    odata = parse_odata(args.get('odata'))
    headers = ['id', 'title', 'createdDateTime', 'lastUpdatedDateTime', 'isFeatured', 'tags']
    if args.get('article_id'):
        article = client.get_article(str(args['article_id']), odata)
        return results('Article', article, 'Article', headers, 'No articles were found.')
    articles = client.list_articles(parse_limit(args), odata)
    return results('Article', articles, 'Articles', headers, 'No articles were found.')


def article_indicators_list_command(client: Client, args: dict[str, Any]) -> CommandResults:
    which = ensure_exactly_one(args, 'article_id', 'article_indicator_id')
    odata = parse_odata(args.get('odata'))
    headers = ['id', 'source', 'artifact.id']
    if which == 'article_indicator_id':
        indicator = client.get_article_indicator(str(args['article_indicator_id']), odata)
        return results('ArticleIndicator', indicator, 'Article indicator', headers,
                       'No article indicators were found.')
    indicators = client.list_article_indicators(str(args['article_id']), parse_limit(args), odata)
    return results('ArticleIndicator', indicators, f'Indicators of article {args["article_id"]}', headers,
                   'No article indicators were found.')


def profile_list_command(client: Client, args: dict[str, Any]) -> CommandResults:
    odata = parse_odata(args.get('odata'))
    headers = ['id', 'title', 'kind', 'firstActiveDateTime', 'aliases', 'targets']
    if args.get('intel_profile_id'):
        profile = client.get_profile(str(args['intel_profile_id']), odata)
        return results('Profile', profile, 'Intel profile', headers, 'No intel profiles were found.')
    profiles = client.list_profiles(parse_limit(args), odata)
    return results('Profile', profiles, 'Intel profiles', headers, 'No intel profiles were found.')


def profile_indicators_list_command(client: Client, args: dict[str, Any]) -> CommandResults:
    which = ensure_exactly_one(args, 'intel_profile_id', 'intel_profile_indicator_id')
    odata = parse_odata(args.get('odata'))
    headers = ['id', 'source', 'artifact.id', 'firstSeenDateTime', 'lastSeenDateTime']
    if which == 'intel_profile_indicator_id':
        indicator = client.get_profile_indicator(str(args['intel_profile_indicator_id']), odata)
        return results('ProfileIndicator', indicator, 'Intel profile indicator', headers,
                       'No intel profile indicators were found.')
    indicators = client.list_profile_indicators(str(args['intel_profile_id']), parse_limit(args), odata)
    return results('ProfileIndicator', indicators, f'Indicators of intel profile {args["intel_profile_id"]}',
                   headers, 'No intel profile indicators were found.')


def host_command(client: Client, args: dict[str, Any]) -> CommandResults:
    host_id = required_arg(args, 'host_id')
    host = client.get_host(host_id, parse_odata(args.get('odata')))
    headers = ['id', 'firstSeenDateTime', 'lastSeenDateTime', 'registrar', 'registrant', 'countryOrRegion',
               'hostingProvider', 'netblock']
    return results('Host', host, f'Host {host_id}', headers, 'No hosts were found.')


WHOIS_HEADERS = ['id', 'host.id', 'whoisServer', 'domainStatus', 'registrationDateTime', 'expirationDateTime',
                 'lastUpdateDateTime', 'registrar.organization', 'registrant.organization']


def host_whois_command(client: Client, args: dict[str, Any]) -> CommandResults:
    which = ensure_exactly_one(args, 'host_id', 'whois_record_id', 'search')
    odata = parse_odata(args.get('odata'))
    limit = parse_limit(args)
    if which == 'host_id':          # one record, written as one object like the official integration
        record = client.get_host_whois(str(args['host_id']), odata)
        return results('Whois', record, 'WHOIS record', WHOIS_HEADERS, 'No WHOIS records were found.')
    if which == 'whois_record_id':
        record = client.get_whois_record(str(args['whois_record_id']), odata)
        return results('Whois', record, 'WHOIS record', WHOIS_HEADERS, 'No WHOIS records were found.')
    records = client.search_whois_records(str(args['search']), limit, odata)
    return results('Whois', records[:limit], 'WHOIS records', WHOIS_HEADERS, 'No WHOIS records were found.')


def host_whois_history_command(client: Client, args: dict[str, Any]) -> CommandResults:
    which = ensure_exactly_one(args, 'host_id', 'whois_record_id')
    odata = parse_odata(args.get('odata'))
    limit = parse_limit(args)
    if which == 'host_id':
        records = client.list_host_whois_history(str(args['host_id']), limit, odata)
    else:
        records = client.list_whois_record_history(str(args['whois_record_id']), limit, odata)
    return results('WhoisHistory', records, 'WHOIS history', WHOIS_HEADERS, 'No WHOIS history records were found.')


def host_reputation_command(client: Client, args: dict[str, Any]) -> CommandResults:
    host_id = required_arg(args, 'host_id')
    reputation = client.get_host_reputation(host_id, parse_odata(args.get('odata')))
    result = results('HostReputation', reputation, f'Reputation of {host_id}', ['id', 'classification', 'score'],
                     'No host reputation was found.')
    rules = (reputation or {}).get('rules') or []
    if rules and result.readable_output:
        result.readable_output += tableToMarkdown('Rules', rules, headers=['name', 'severity', 'description',
                                                                           'relatedDetailsUrl'], removeNull=True)
    return result


def _host_list(client: Client, args: dict[str, Any], method: Callable[..., list[dict[str, Any]]], prefix: str,
               title: str, headers: list[str], noun: str) -> CommandResults:
    host_id = required_arg(args, 'host_id')
    items = method(host_id, parse_limit(args), odata=parse_odata(args.get('odata')))
    return results(prefix, items, f'{title} of {host_id}', headers, f'No {noun} were found for {host_id}.')


def host_passive_dns_command(client: Client, args: dict[str, Any]) -> CommandResults:
    return _host_list(client, args, client.list_passive_dns, 'PassiveDns', 'Passive DNS records',
                      ['id', 'artifact.id', 'recordType', 'firstSeenDateTime', 'lastSeenDateTime'], 'passive DNS records')


def host_passive_dns_reverse_command(client: Client, args: dict[str, Any]) -> CommandResults:
    return _host_list(client, args, client.list_passive_dns_reverse, 'PassiveDnsReverse', 'Reverse passive DNS records',
                      ['id', 'artifact.id', 'recordType', 'firstSeenDateTime', 'lastSeenDateTime'],
                      'reverse passive DNS records')


def host_subdomains_command(client: Client, args: dict[str, Any]) -> CommandResults:
    return _host_list(client, args, client.list_subdomains, 'Subdomain', 'Subdomains',
                      ['id', 'host.id', 'firstSeenDateTime'], 'subdomains')


def host_ssl_certificates_command(client: Client, args: dict[str, Any]) -> CommandResults:
    return _host_list(client, args, client.list_ssl_certificates, 'SslCertificate', 'SSL certificates',
                      ['id', 'sslCertificate.sha1', 'sslCertificate.subject.commonName',
                       'sslCertificate.issuer.commonName', 'sslCertificate.expirationDateTime', 'firstSeenDateTime',
                       'lastSeenDateTime'], 'SSL certificates')


def host_trackers_command(client: Client, args: dict[str, Any]) -> CommandResults:
    return _host_list(client, args, client.list_trackers, 'Tracker', 'Trackers',
                      ['id', 'kind', 'value', 'firstSeenDateTime', 'lastSeenDateTime'], 'trackers')


def host_components_command(client: Client, args: dict[str, Any]) -> CommandResults:
    return _host_list(client, args, client.list_components, 'Component', 'Components',
                      ['id', 'name', 'version', 'category', 'firstSeenDateTime', 'lastSeenDateTime'], 'components')


def host_cookies_command(client: Client, args: dict[str, Any]) -> CommandResults:
    return _host_list(client, args, client.list_cookies, 'Cookie', 'Cookies',
                      ['id', 'name', 'domain', 'firstSeenDateTime', 'lastSeenDateTime'], 'cookies')


def host_pairs_command(client: Client, args: dict[str, Any]) -> CommandResults:
    role = str(args.get('role') or 'any').strip().lower()
    if role not in ('any', 'parent', 'child'):
        raise ValueError(f'The "role" argument must be any, parent or child, got "{args.get("role")}".')
    host_id = required_arg(args, 'host_id')
    pairs = client.list_host_pairs(host_id, parse_limit(args), role=role, odata=parse_odata(args.get('odata')))
    return results('HostPair', pairs, f'Host pairs of {host_id}',
                   ['id', 'parentHost.id', 'childHost.id', 'linkKind', 'firstSeenDateTime', 'lastSeenDateTime'],
                   f'No host pairs were found for {host_id}.')


CVE_PATTERN = re.compile(r'^CVE-\d{4}-\d{4,}$', re.IGNORECASE)


def vulnerability_get_command(client: Client, args: dict[str, Any]) -> list[CommandResults]:
    cve_ids = argToList(args.get('cve_id'))
    if not cve_ids:
        raise ValueError('The "cve_id" argument is required.')
    bad = [c for c in cve_ids if not CVE_PATTERN.match(c)]
    if bad:
        raise ValueError(f'Invalid value for the "cve_id" argument: "{bad[0]}" is not a CVE ID such as CVE-2021-44228.')
    odata = parse_odata(args.get('odata'))
    headers = ['id', 'severity', 'priorityScore', 'cvss3Summary.score', 'publishedDateTime', 'activeExploitsObserved',
               'exploitsAvailable', 'hasChatter', 'description']
    out = []
    for cve_id in cve_ids:
        try:
            vulnerability = client.get_vulnerability(cve_id.upper(), odata)
        except NotFoundError:
            out.append(CommandResults(readable_output=f'No vulnerability article was found for {cve_id}.'))
            continue
        out.append(results('Vulnerability', vulnerability, f'Vulnerability {cve_id.upper()}', headers,
                           f'No vulnerability article was found for {cve_id}.'))
    return out


# ============================================================================================================
# Reputation: ip / domain
# ============================================================================================================

def dbot_score_from_reputation(reputation: dict[str, Any] | None) -> int:
    """The DBot score for a hostReputation: by classification, else by the 0-100 score."""
    if not reputation:
        return Common.DBotScore.NONE
    classification = str(reputation.get('classification') or '').lower()
    if classification in CLASSIFICATION_SCORES:
        return CLASSIFICATION_SCORES[classification]
    score = reputation.get('score')
    if isinstance(score, int | float):
        for threshold, dbot in SCORE_THRESHOLDS:
            if score >= threshold:
                return dbot
    return Common.DBotScore.NONE


def validate_ips(values: list[str]) -> list[str]:
    for value in values:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f'Invalid value for the "ip" argument: "{value}" is not an IPv4 or IPv6 address.') from None
    return values


def validate_domains(values: list[str]) -> list[tuple[str, str]]:
    """(the name as given, lower case; its ASCII form for Graph) per domain. An internationalized name is checked
    and sent as punycode; the indicator and context keep the name as given."""
    cleaned = []
    for value in values:
        try:
            given, ascii_name = domain_arg(value)
            ascii_name = ascii_name.lower()
        except ValueError:
            ascii_name = ''
        if not DOMAIN_PATTERN.match(ascii_name) or _is_ip(ascii_name):
            raise ValueError(f'Invalid value for the "domain" argument: "{value}" is not a domain name.')
        cleaned.append((given.lower(), ascii_name))
    return cleaned


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def accepted_fields(indicator_class: type, fields: dict[str, Any]) -> dict[str, Any]:
    """The optional fields that the installed CommonServerPython's ``indicator_class`` accepts.

    Indicator classes gained keyword arguments over Base pack versions (``first_seen_by_source`` and
    ``last_seen_by_source`` on ``Common.IP`` came after the oldest Base this pack allows); an older class raises
    ``TypeError`` on them. Dropping what the installed class does not declare keeps reputation commands working on
    every allowed Base, and newer ones still get the extra context.
    """
    try:
        parameters = inspect.signature(indicator_class.__init__).parameters
    except (TypeError, ValueError):  # pragma: no cover - a class without an introspectable __init__
        return fields
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return fields
    return {name: value for name, value in fields.items() if name in parameters}


def _safe(call: Callable[[], Any]) -> Any:
    """The call's answer, or None when MDTI has nothing about the host (404)."""
    try:
        return call()
    except NotFoundError:
        return None


def intel_relationships(indicator: str, indicator_type: str, reputation: dict[str, Any] | None,
                        reliability: str) -> list[EntityRelationship]:
    """Relationships to the intel profiles and articles that the reputation rules name."""
    out = []
    for rule in (reputation or {}).get('rules') or []:
        name = str(rule.get('name') or '').lower()
        title = rule.get('description')
        if not title:
            continue
        if RULE_PROFILE in name:
            out.append(EntityRelationship(name=EntityRelationship.Relationships.INDICATOR_OF, entity_a=indicator,
                                          entity_a_type=indicator_type, entity_b=title, entity_b_type='Threat Actor',
                                          source_reliability=reliability, brand=INTEGRATION_NAME))
        elif RULE_ARTICLE in name:
            out.append(EntityRelationship(name=EntityRelationship.Relationships.RELATED_TO, entity_a=indicator,
                                          entity_a_type=indicator_type, entity_b=title, entity_b_type='Report',
                                          source_reliability=reliability, brand=INTEGRATION_NAME))
    return out


def _reputation_readable(kind: str, value: str, reputation: dict[str, Any] | None, score: int,
                         extra: dict[str, Any]) -> str:
    if reputation is None:
        return f'### {INTEGRATION_NAME} - {kind} {value}\nNo Microsoft Defender Threat Intelligence data was found.\n'
    row = {kind: value, 'Classification': reputation.get('classification'), 'MDTI score': reputation.get('score'),
           'DBot score': score, **extra}
    readable = tableToMarkdown(f'{INTEGRATION_NAME} - {kind} reputation', row, headers=list(row), removeNull=True)
    rules = reputation.get('rules') or []
    if rules:
        readable += tableToMarkdown('Reputation rules', rules, headers=['name', 'severity', 'description'],
                                    removeNull=True)
    return readable


def ip_command(client: Client, args: dict[str, Any], reliability: str) -> list[CommandResults]:
    ips = validate_ips(argToList(args.get('ip')))
    if not ips:
        raise ValueError('The "ip" argument is required.')
    out = []
    for ip in ips:
        reputation = _safe(lambda ip=ip: client.get_host_reputation(ip))
        host = _safe(lambda ip=ip: client.get_host(ip)) if reputation is not None else None
        score = dbot_score_from_reputation(reputation)
        dbot = Common.DBotScore(indicator=ip, indicator_type=DBotScoreType.IP, integration_name=INTEGRATION_NAME,
                                score=score, reliability=reliability,
                                malicious_description=_malicious_description(reputation, score))
        relationships = intel_relationships(ip, FeedIndicatorType.IP, reputation, reliability)
        autonomous = (host or {}).get('autonomousSystem') or {}
        asn = autonomous.get('number')
        indicator = Common.IP(ip, dbot, **accepted_fields(Common.IP, {
            'asn': f'AS{asn}' if asn else None, 'as_owner': autonomous.get('name'),
            'geo_country': (host or {}).get('countryOrRegion'),
            'organization_name': (host or {}).get('hostingProvider'),
            'first_seen_by_source': (host or {}).get('firstSeenDateTime'),
            'last_seen_by_source': (host or {}).get('lastSeenDateTime'),
            'relationships': relationships or None}))
        readable = _reputation_readable('IP', ip, reputation, score,
                                        {'ASN': f'AS{asn}' if asn else None,
                                         'Country': (host or {}).get('countryOrRegion'),
                                         'Hosting provider': (host or {}).get('hostingProvider')})
        if reputation is None:
            out.append(CommandResults(indicator=indicator, readable_output=readable, relationships=relationships))
            continue
        out.append(CommandResults(outputs_prefix=f'{CONTEXT}.HostReputation', outputs_key_field='id',
                                  outputs=strip_odata({**reputation, 'host': {'id': ip}}), indicator=indicator,
                                  readable_output=readable, relationships=relationships, raw_response=reputation))
    return out


def _malicious_description(reputation: dict[str, Any] | None, score: int) -> str | None:
    if score != Common.DBotScore.BAD or not reputation:
        return None
    return f'Microsoft Defender Threat Intelligence classifies this host as {reputation.get("classification")} ' \
           f'(score {reputation.get("score")}).'


def _contact(record: dict[str, Any] | None, role: str) -> dict[str, Any]:
    return ((record or {}).get(role) or {}) if isinstance((record or {}).get(role), dict) else {}


def domain_command(client: Client, args: dict[str, Any], reliability: str) -> list[CommandResults]:
    domains = validate_domains([str(v) for v in argToList(args.get('domain')) if str(v).strip()])
    if not domains:
        raise ValueError('The "domain" argument is required.')
    out = []
    for domain, host_id in domains:
        reputation = _safe(lambda d=host_id: client.get_host_reputation(d))
        whois = _safe(lambda d=host_id: client.get_host_whois(d)) if reputation is not None else None
        resolutions = (_safe(lambda d=host_id: client.list_passive_dns(d, REPUTATION_RESOLUTIONS)) or []) \
            if reputation is not None else []
        score = dbot_score_from_reputation(reputation)
        dbot = Common.DBotScore(indicator=domain, indicator_type=DBotScoreType.DOMAIN,
                                integration_name=INTEGRATION_NAME, score=score, reliability=reliability,
                                malicious_description=_malicious_description(reputation, score))
        relationships = intel_relationships(domain, FeedIndicatorType.Domain, reputation, reliability)
        resolved_ips = []
        for record in resolutions:
            target = ((record.get('artifact') or {}).get('id') or '').strip()
            if target and _is_ip(target) and target not in resolved_ips:
                resolved_ips.append(target)
                relationships.append(EntityRelationship(
                    name=EntityRelationship.Relationships.RESOLVES_TO, entity_a=domain,
                    entity_a_type=FeedIndicatorType.Domain, entity_b=target,
                    entity_b_type=FeedIndicatorType.IPv6 if ':' in target else FeedIndicatorType.IP,
                    source_reliability=reliability, brand=INTEGRATION_NAME))
        registrar, registrant = _contact(whois, 'registrar'), _contact(whois, 'registrant')
        admin, abuse, tech = _contact(whois, 'admin'), _contact(whois, 'abuse'), _contact(whois, 'technical')
        name_servers = [((ns.get('host') or {}).get('id')) for ns in (whois or {}).get('nameservers') or []]
        indicator = Common.Domain(domain, dbot, **accepted_fields(Common.Domain, dict(
            creation_date=(whois or {}).get('registrationDateTime'),
            updated_date=(whois or {}).get('lastUpdateDateTime'),
            expiration_date=(whois or {}).get('expirationDateTime'),
            domain_status=(whois or {}).get('domainStatus'),
            name_servers=[n for n in name_servers if n] or None,
            registrar_name=registrar.get('organization') or registrar.get('name'),
            registrar_abuse_email=abuse.get('email'), registrar_abuse_phone=abuse.get('telephone'),
            registrant_name=registrant.get('name') or registrant.get('organization'),
            registrant_email=registrant.get('email'), registrant_phone=registrant.get('telephone'),
            registrant_country=(registrant.get('address') or {}).get('countryOrRegion'),
            admin_name=admin.get('name'), admin_email=admin.get('email'), admin_phone=admin.get('telephone'),
            admin_country=(admin.get('address') or {}).get('countryOrRegion'),
            tech_name=tech.get('name'), tech_email=tech.get('email'), tech_organization=tech.get('organization'),
            tech_country=(tech.get('address') or {}).get('countryOrRegion'),
            relationships=relationships or None,
        )))
        readable = _reputation_readable('Domain', domain, reputation, score,
                                        {'Registrar': registrar.get('organization'),
                                         'Created': (whois or {}).get('registrationDateTime'),
                                         'Resolves to': ', '.join(resolved_ips) or None})
        if reputation is None:
            out.append(CommandResults(indicator=indicator, readable_output=readable, relationships=relationships))
            continue
        out.append(CommandResults(outputs_prefix=f'{CONTEXT}.HostReputation', outputs_key_field='id',
                                  outputs=strip_odata({**reputation, 'host': {'id': domain}}), indicator=indicator,
                                  readable_output=readable, relationships=relationships, raw_response=reputation))
    return out


# ============================================================================================================
# Instance settings and main
# ============================================================================================================

def resolve_cloud(params: dict[str, Any]) -> 'MicrosoftCloud':
    """The cloud to use: the Azure cloud parameter, else the cloud of the official Azure AD endpoint parameter.

    MDTI exists in the worldwide cloud only, so any other cloud fails here with a clear message.
    """
    name = str(params.get('azure_cloud') or '').strip()
    endpoint = str(params.get('azure_ad_endpoint') or '').strip().rstrip('/').lower()
    if (not name or name == 'Worldwide') and endpoint:
        if endpoint == 'https://login.microsoftonline.de':
            raise DemistoException('Microsoft Cloud Deutschland (login.microsoftonline.de) was retired, and Microsoft '
                                   'Defender Threat Intelligence is offered in the worldwide cloud only. Select '
                                   'https://login.microsoftonline.com as the Azure AD endpoint.')
        name = AZURE_AD_ENDPOINT_CLOUDS.get(endpoint, 'Worldwide')
    custom = (name or '').lower() == 'custom'
    cloud = get_cloud(name or 'Worldwide',
                      login_url=url_param(params, 'login_url', 'Login URL (Custom cloud)',
                                          'https://login.microsoftonline.com') if custom else None,
                      graph_url=url_param(params, 'graph_url', 'Microsoft Graph URL (Custom cloud)',
                                          'https://graph.microsoft.com') if custom else None)
    cloud.require_mdti()
    return cloud


def build_client(params: dict[str, Any]) -> Client:
    cloud = resolve_cloud(params)
    managed_identity = get_azure_managed_identities_client_id(params)
    client_credentials = argToBoolean(params.get('client_credentials') or False)
    app_id = str(params.get('app_id') or '').strip() or DEFAULT_APP_ID
    if client_credentials and managed_identity is None and not (
            get_credential_param(params, 'credentials')
            or (get_credential_param(params, 'creds_certificate', part='identifier')
                and get_credential_param(params, 'creds_certificate'))):
        raise DemistoException('Client credentials need a Client Secret, or a Certificate Thumbprint and a Private '
                               'Key. Enter one of them, or clear "Use Client Credentials Authorization Flow" to sign '
                               'in with the device code flow.')
    if client_credentials and managed_identity is None and not params.get('tenant_id'):
        raise DemistoException('Client credentials need the Tenant ID.')
    settings = AuthSettings(
        client_id=app_id,
        tenant_id=str(params.get('tenant_id') or ''),
        client_secret=get_credential_param(params, 'credentials'),
        certificate_thumbprint=get_credential_param(params, 'creds_certificate', part='identifier'),
        private_key=get_credential_param(params, 'creds_certificate'),
        grant_type=AuthFlow.CLIENT_SECRET if client_credentials else AuthFlow.DEVICE_CODE,
        self_deployed=True,
        use_managed_identity=managed_identity is not None,
        managed_identity_client_id=managed_identity or '',
        cloud=cloud,
        command_prefix=PREFIX,
        verify=not argToBoolean(params.get('insecure') or False),
    )
    device_code = not client_credentials and managed_identity is None
    scope = DEVICE_CODE_SCOPE if device_code else cloud.scope('graph')
    ms_client = MicrosoftClient.from_settings(settings, base_url=f'{cloud.api_url("graph")}{API_PATH}', scope=scope,
                                              proxy=argToBoolean(params.get('proxy') or False))
    return Client(ms_client)


def get_reliability(params: dict[str, Any]) -> str:
    value = params.get('integrationReliability') or DBotScoreReliability.B
    if not DBotScoreReliability.is_valid_type(value):
        raise DemistoException(f'Unknown Source Reliability "{value}". Select one of the listed values.')
    return value


COMMANDS: dict[str, Callable[[Client, dict[str, Any]], Any]] = {
    f'{PREFIX}-article-list': article_list_command,
    f'{PREFIX}-article-indicators-list': article_indicators_list_command,
    f'{PREFIX}-profile-list': profile_list_command,
    f'{PREFIX}-profile-indicators-list': profile_indicators_list_command,
    f'{PREFIX}-host': host_command,
    f'{PREFIX}-host-whois': host_whois_command,
    f'{PREFIX}-host-whois-history': host_whois_history_command,
    f'{PREFIX}-host-reputation': host_reputation_command,
    f'{PREFIX}-host-passive-dns': host_passive_dns_command,
    f'{PREFIX}-host-passive-dns-reverse': host_passive_dns_reverse_command,
    f'{PREFIX}-host-subdomains': host_subdomains_command,
    f'{PREFIX}-host-ssl-certificates': host_ssl_certificates_command,
    f'{PREFIX}-host-trackers': host_trackers_command,
    f'{PREFIX}-host-components': host_components_command,
    f'{PREFIX}-host-cookies': host_cookies_command,
    f'{PREFIX}-host-pairs': host_pairs_command,
    f'{PREFIX}-vulnerability-get': vulnerability_get_command,
}
REPUTATION_COMMANDS: dict[str, Callable[[Client, dict[str, Any], str], list[CommandResults]]] = {
    'ip': ip_command,
    'domain': domain_command,
}


def main() -> None:  # pragma: no cover - exercised end to end through xsoar-local
    params, args, command = demisto.params(), demisto.args(), demisto.command()
    demisto.debug(f'Command being called is {command}')
    try:
        with response_shape_guard():
            client = build_client(params)
            auth_commands = auth_command_table(client.ms_client, PREFIX)
            if command == 'test-module':
                return_results(auth_test_module(client.ms_client))
            elif command in COMMANDS:
                return_results(COMMANDS[command](client, args))
            elif command in REPUTATION_COMMANDS:
                return_results(REPUTATION_COMMANDS[command](client, args, get_reliability(params)))
            elif command in auth_commands and command != f'{PREFIX}-generate-login-url':
                return_results(auth_commands[command](args))
            else:
                raise NotImplementedError(f'Command "{command}" is not implemented.')
    except RetryAfterError as error:
        return_error(f'Failed to execute {command} command. {error.message}')
    except Exception as error:
        return_error(f'Failed to execute {command} command.\nError:\n{error}')


from MicrosoftApiModule import *  # noqa: E402

if __name__ in ('__main__', '__builtin__', 'builtins'):
    main()
