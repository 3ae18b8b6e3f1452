"""Microsoft Defender Threat Intelligence on Microsoft Graph (logical host ``graph``, under ``/v1.0`` and ``/beta``).

Every route needs ``ThreatIntelligence.Read.All`` (application role or delegated scope), like Microsoft's. Paths
are relative to ``/security/threatIntelligence``:

* ``articles``, ``articles/{id}``, ``articles/{id}/indicators``, ``articleIndicators/{id}``
* ``intelProfiles``, ``intelProfiles/{id}``, ``intelProfiles/{id}/indicators``, ``intelligenceProfileIndicators/{id}``
* ``hosts/{id}`` and its ``whois``, ``whois/history``, ``reputation``, ``passiveDns``, ``passiveDnsReverse``,
  ``subdomains``, ``sslCertificates``, ``trackers``, ``components``, ``cookies``, ``hostPairs``,
  ``parentHostPairs``, ``childHostPairs``
* ``whoisRecords`` (``$search``), ``whoisRecords/{id}``, ``whoisRecords/{id}/history``
* ``vulnerabilities/{id}``, and by ID: ``passiveDnsRecords``, ``subdomains``, ``sslCertificates``,
  ``hostSslCertificates``, ``hostTrackers``, ``hostComponents``, ``hostCookies``, ``hostPairs``

Collections answer at most :data:`PAGE_SIZE` items per page (``$top`` asks for fewer) with an ``@odata.nextLink``
(``$skip``) when more remain, and support ``$count``, ``$select``, ``$skip``, ``$orderby`` (one property),
``$search`` (a substring of the object's text) and a ``$filter`` subset: ``eq ne gt ge lt le`` on (nested, ``a/b``)
properties, ``in (...)``, ``contains/startswith/endswith(prop, 'x')``, ``and``/``or``/``not`` and parentheses.
Host IDs are hostnames or IP addresses (a single path segment; IPv6 addresses keep their colons). Unknown IDs
answer 404 with Graph's error body. The data set is in :mod:`.data`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..core.api import ApiModule
from ..core.http import next_link
from ..core.odata import (
    ODataError,
    lookup,
    parse_count,
    parse_orderby,
    parse_select,
    query_options,
)
from ..core.odata import parse_filter as parse_odata_filter
from ..errors import api_error
from ..tokens import Principal
from .data import DATA

PAGE_SIZE = 20
PERMISSIONS = ['ThreatIntelligence.Read.All']
BASE = '/security/threatIntelligence'

module = ApiModule('threat_intel', host='graph', audiences=('graph',), error_style='graph',
                   prefixes=('/v1.0', '/beta'))


# ----- query options ------------------------------------------------------------------------------------------------

def parse_filter(expression: str) -> Callable[[Any], bool]:
    """A ``$filter`` over the data set's type-less objects (any property path; a literal's syntax gives its type)."""
    return parse_odata_filter(expression, None, functions=True).test


@dataclass
class Query:
    top: int | None = None
    skip: int = 0
    select: list[str] | None = None
    filter: Callable[[Any], bool] | None = None
    orderby: list[tuple[str, bool]] | None = None
    search: str | None = None
    count: bool = False


def parse_query(request: Request) -> Query:
    options = query_options(request.query_params.items())
    query = Query(top=parse_count('$top', options.get('$top')), skip=parse_count('$skip', options.get('$skip')) or 0)
    query.select = parse_select(options.get('$select') or None, None, '')
    if options.get('$filter'):
        query.filter = parse_filter(options['$filter'])
    if options.get('$orderby'):
        query.orderby = parse_orderby(options['$orderby'].strip(), None)
    if options.get('$search'):
        query.search = options['$search'].strip().strip('"').lower()
    if '$count' in options:
        query.count = options['$count'].lower() == 'true'
    return query


def select_fields(item: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    if not select:
        return item
    keep = {'id', '@odata.type', *select}
    unknown = [f for f in select if f not in item]
    if unknown:
        raise ODataError(f"Could not find a property named '{unknown[0]}' on type "
                         f"'{str(item.get('@odata.type', '')).lstrip('#')}'.")
    return {k: v for k, v in item.items() if k in keep}


def _searchable(item: Any) -> str:
    if isinstance(item, dict):
        return ' '.join(_searchable(v) for v in item.values())
    if isinstance(item, list):
        return ' '.join(_searchable(v) for v in item)
    return str(item).lower() if item is not None else ''


def _context_url(request: Request) -> str:
    version = 'beta' if request.url.path.startswith('/beta/') else 'v1.0'
    return f'{str(request.base_url).rstrip("/")}/{version}/$metadata'


def collection(request: Request, items: list[dict[str, Any]]) -> Response:
    """One page of ``items`` after the request's query options, with ``@odata.nextLink`` when more remain."""
    try:
        query = parse_query(request)
        rows = list(items)
        if query.filter:
            rows = [r for r in rows if query.filter(r)]
        if query.search:
            rows = [r for r in rows if query.search in _searchable(r)]
        for field, descending in reversed(query.orderby or []):
            rows.sort(key=lambda r, f=field: (lookup(r, f) is None, str(lookup(r, f) or '')),   # type: ignore[misc]
                      reverse=descending)
        page_size = min(query.top, PAGE_SIZE) if query.top is not None else PAGE_SIZE
        page = rows[query.skip:query.skip + page_size]
        body: dict[str, Any] = {'@odata.context': _context_url(request)}
        if query.count:
            body['@odata.count'] = len(rows)
        body['value'] = [select_fields(r, query.select) for r in page]
    except ODataError as exc:
        return api_error(400, 'BadRequest', str(exc))
    end = query.skip + len(page)
    if page and end < len(rows):
        body['@odata.nextLink'] = next_link(request, request.url.path, end)
    return JSONResponse(body)


def single(request: Request, item: dict[str, Any] | None, what: str, key: str) -> Response:
    if item is None:
        return not_found(what, key)
    try:
        selected = select_fields(item, parse_query(request).select)
    except ODataError as exc:
        return api_error(400, 'BadRequest', str(exc))
    return JSONResponse({'@odata.context': _context_url(request), **selected})


def not_found(what: str, key: str) -> Response:
    return api_error(404, 'NotFound', f"The {what} '{key}' was not found.")


# ----- routes -------------------------------------------------------------------------------------------------------

def route(path: str) -> Callable[[Any], Any]:
    return module.route(BASE + path, permissions=PERMISSIONS)


@route('/articles')
async def list_articles(request: Request, principal: Principal) -> Response:
    rows = sorted(DATA.articles.values(), key=lambda a: a['createdDateTime'], reverse=True)
    return collection(request, rows)


@route('/articles/{article_id}')
async def get_article(request: Request, principal: Principal) -> Response:
    article_id = request.path_params['article_id']
    return single(request, DATA.articles.get(article_id), 'article', article_id)


@route('/articles/{article_id}/indicators')
async def list_article_indicators(request: Request, principal: Principal) -> Response:
    article_id = request.path_params['article_id']
    if article_id not in DATA.articles:
        return not_found('article', article_id)
    ids = DATA.article_indicator_ids.get(article_id, [])
    return collection(request, [DATA.article_indicators[i] for i in ids])


@route('/articleIndicators/{indicator_id}')
async def get_article_indicator(request: Request, principal: Principal) -> Response:
    indicator_id = request.path_params['indicator_id']
    return single(request, DATA.article_indicators.get(indicator_id), 'articleIndicator', indicator_id)


@route('/intelProfiles')
async def list_profiles(request: Request, principal: Principal) -> Response:
    return collection(request, list(DATA.profiles.values()))


@route('/intelProfiles/{profile_id}')
async def get_profile(request: Request, principal: Principal) -> Response:
    profile_id = request.path_params['profile_id']
    return single(request, DATA.profiles.get(profile_id), 'intelligenceProfile', profile_id)


@route('/intelProfiles/{profile_id}/indicators')
async def list_profile_indicators(request: Request, principal: Principal) -> Response:
    profile_id = request.path_params['profile_id']
    if profile_id not in DATA.profiles:
        return not_found('intelligenceProfile', profile_id)
    ids = DATA.profile_indicator_ids.get(profile_id, [])
    return collection(request, [DATA.profile_indicators[i] for i in ids])


@route('/intelligenceProfileIndicators/{indicator_id}')
async def get_profile_indicator(request: Request, principal: Principal) -> Response:
    indicator_id = request.path_params['indicator_id']
    return single(request, DATA.profile_indicators.get(indicator_id), 'intelligenceProfileIndicator', indicator_id)


def _host_id(request: Request) -> str:
    return str(request.path_params['host_id']).strip().lower()


@route('/hosts/{host_id}')
async def get_host(request: Request, principal: Principal) -> Response:
    host_id = _host_id(request)
    return single(request, DATA.hosts.get(host_id), 'host', host_id)


@route('/hosts/{host_id}/reputation')
async def get_reputation(request: Request, principal: Principal) -> Response:
    host_id = _host_id(request)
    return single(request, DATA.reputations.get(host_id), 'host', host_id)


@route('/hosts/{host_id}/whois')
async def get_host_whois(request: Request, principal: Principal) -> Response:
    host_id = _host_id(request)
    return single(request, DATA.whois.get(host_id), 'whoisRecord for host', host_id)


@route('/hosts/{host_id}/whois/history')
async def list_host_whois_history(request: Request, principal: Principal) -> Response:
    host_id = _host_id(request)
    if host_id not in DATA.whois_history:
        return not_found('whoisRecord for host', host_id)
    return collection(request, DATA.whois_history[host_id])


def _host_collection(path: str, source: Callable[[str], list[dict[str, Any]] | None]) -> None:
    async def handler(request: Request, principal: Principal) -> Response:
        host_id = _host_id(request)
        if host_id not in DATA.hosts:
            return not_found('host', host_id)
        return collection(request, source(host_id) or [])
    handler.__name__ = 'list_host_' + path.rsplit('/', 1)[-1]
    module.add_route(BASE + path, handler, permissions=PERMISSIONS)


# A host's collections: path (under BASE) -> the host's items.
HOST_COLLECTIONS: list[tuple[str, Callable[[str], list[dict[str, Any]] | None]]] = [
    ('/hosts/{host_id}/passiveDns', DATA.passive_dns.get),
    ('/hosts/{host_id}/passiveDnsReverse', DATA.passive_dns_reverse.get),
    ('/hosts/{host_id}/subdomains', DATA.subdomains.get),
    ('/hosts/{host_id}/sslCertificates', DATA.ssl_certificates.get),
    ('/hosts/{host_id}/trackers', DATA.trackers.get),
    ('/hosts/{host_id}/components', DATA.components.get),
    ('/hosts/{host_id}/cookies', DATA.cookies.get),
    ('/hosts/{host_id}/hostPairs', lambda host: DATA.pairs_of(host, 'any')),
    ('/hosts/{host_id}/parentHostPairs', lambda host: DATA.pairs_of(host, 'child')),
    ('/hosts/{host_id}/childHostPairs', lambda host: DATA.pairs_of(host, 'parent')),
]
for _path, _source in HOST_COLLECTIONS:
    _host_collection(_path, _source)


@route('/whoisRecords')
async def list_whois_records(request: Request, principal: Principal) -> Response:
    return collection(request, list(DATA.whois.values()))


@route('/whoisRecords/{record_id}')
async def get_whois_record(request: Request, principal: Principal) -> Response:
    record_id = request.path_params['record_id']
    return single(request, DATA.whois_by_id.get(record_id), 'whoisRecord', record_id)


@route('/whoisRecords/{record_id}/history')
async def list_whois_record_history(request: Request, principal: Principal) -> Response:
    record_id = request.path_params['record_id']
    if record_id not in DATA.whois_history_by_record:
        return not_found('whoisRecord', record_id)
    return collection(request, DATA.whois_history_by_record[record_id])


@route('/vulnerabilities/{vulnerability_id}')
async def get_vulnerability(request: Request, principal: Principal) -> Response:
    key = str(request.path_params['vulnerability_id']).upper()
    return single(request, DATA.vulnerabilities.get(key), 'vulnerability', key)


def _by_id(path: str, name: str, what: str) -> None:
    async def handler(request: Request, principal: Principal) -> Response:
        key = request.path_params['item_id']
        return single(request, DATA.by_collection[name].get(key), what, key)
    handler.__name__ = f'get_{name}'
    module.add_route(BASE + path, handler, permissions=PERMISSIONS)


# Items read by ID: path (under BASE), the data set's collection, the entity name in a 404.
ITEMS_BY_ID = [
    ('/passiveDnsRecords/{item_id}', 'passiveDnsRecords', 'passiveDnsRecord'),
    ('/subdomains/{item_id}', 'subdomains', 'subdomain'),
    ('/sslCertificates/{item_id}', 'sslCertificates', 'sslCertificate'),
    ('/hostSslCertificates/{item_id}', 'hostSslCertificates', 'hostSslCertificate'),
    ('/hostTrackers/{item_id}', 'hostTrackers', 'hostTracker'),
    ('/hostComponents/{item_id}', 'hostComponents', 'hostComponent'),
    ('/hostCookies/{item_id}', 'hostCookies', 'hostCookie'),
    ('/hostPairs/{item_id}', 'hostPairs', 'hostPair'),
]
for _path, _name, _what in ITEMS_BY_ID:
    _by_id(_path, _name, _what)
