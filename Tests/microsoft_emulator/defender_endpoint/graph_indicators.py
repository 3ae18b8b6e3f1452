"""Microsoft Graph beta threat indicators (``/beta/security/tiIndicators``, logical host ``graph``): the legacy
"tiIndicator" resource that security tools (Microsoft Defender ATP, Azure Sentinel) consumed.

* ``GET /security/tiIndicators`` - ``$top`` (default 100, at most 1,000), ``$skip``; ``@odata.nextLink`` while more
  remain. An app holding only ThreatIndicators.ReadWrite.OwnedBy sees the indicators it submitted.
* ``GET /security/tiIndicators/{id}``, ``DELETE`` (204).
* ``POST /security/tiIndicators``: required action, description (at most 100 characters), expirationDateTime,
  targetProduct, threatType, tlpLevel and at least one observable (email, file, network, domain or URL property);
  azureTenantId is stamped from the token. Answers 201 with the indicator.
* ``PATCH /security/tiIndicators/{id}``: the same checks on the given properties; 204, or 200 with the indicator
  when the request says ``Prefer: return=representation``.

Errors are Graph-shaped: ``{"error": {"code", "message", "innerError"}}``. The default seed holds a few indicators
submitted by the self-deployed secret app (one for Azure Sentinel, which Defender commands filter out).
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..context import emulator_context
from ..core.api import ApiModule
from ..core.http import base_url, json_body, next_link
from ..errors import api_error
from ..tokens import Principal

module = ApiModule('graph_ti_indicators', host='graph', audiences=('graph',), error_style='graph', prefixes=('/beta',))

PERMISSIONS = ['ThreatIndicators.ReadWrite.OwnedBy']
PATH = '/beta/security/tiIndicators'
DEFAULT_TOP, MAX_TOP = 100, 1000

ACTIONS = ('unknown', 'allow', 'block', 'alert')
THREAT_TYPES = ('Botnet', 'C2', 'CryptoMining', 'Darknet', 'DDoS', 'MaliciousUrl', 'Malware', 'Phishing', 'Proxy',
                'PUA', 'WatchList')
TLP_LEVELS = ('unknown', 'white', 'green', 'amber', 'red')
TARGET_PRODUCTS = ('Azure Sentinel', 'Microsoft Defender ATP')
HASH_TYPES = ('unknown', 'sha1', 'sha256', 'md5', 'authenticodeHash256', 'lsHash', 'ctph')
DIAMOND_MODELS = ('unknown', 'adversary', 'capability', 'infrastructure', 'victim')
REQUIRED = ('action', 'description', 'expirationDateTime', 'targetProduct', 'threatType', 'tlpLevel')
ENUMS = {'action': ACTIONS, 'threatType': THREAT_TYPES, 'tlpLevel': TLP_LEVELS, 'targetProduct': TARGET_PRODUCTS,
         'fileHashType': HASH_TYPES, 'diamondModel': DIAMOND_MODELS}
INTS = {'severity': (0, 5), 'confidence': (0, 100), 'fileSize': (0, 2 ** 63), 'networkPort': (0, 65535),
        'networkSourcePort': (0, 65535), 'networkDestinationPort': (0, 65535), 'networkProtocol': (0, 255),
        'networkSourceAsn': (0, 2 ** 32), 'networkDestinationAsn': (0, 2 ** 32)}
BOOLS = ('isActive', 'passiveOnly')
# activityGroupNames: Microsoft's tiindicators-post example creates one with it (a tiIndicator property).
LISTS = ('tags', 'killChain', 'malwareFamilyNames', 'activityGroupNames')
DATES = ('expirationDateTime', 'fileCompileDateTime', 'fileCreatedDateTime', 'lastReportedDateTime')
STRINGS = ('description', 'additionalInformation', 'externalId', 'fileHashValue', 'fileMutexName', 'fileName',
           'filePacker', 'filePath', 'fileType', 'domainName', 'url', 'userAgent', 'networkCidrBlock',
           'networkIPv4', 'networkIPv6', 'networkSourceIPv4', 'networkSourceIPv6', 'networkDestinationIPv4',
           'networkDestinationIPv6', 'networkSourceCidrBlock', 'networkDestinationCidrBlock', 'knownFalsePositives',
           'emailSenderAddress', 'emailSubject', 'emailSourceDomain', 'emailSourceIpAddress', 'emailSenderName',
           'emailRecipient', 'emailLanguage', 'emailXMailer', 'emailEncoding')
OBSERVABLES = tuple(n for n in STRINGS if n.startswith(('file', 'network', 'email', 'domain', 'url', 'userAgent'))
                    and n not in ('fileType',))
READ_ONLY = ('id', 'azureTenantId', 'ingestedDateTime', 'lastReportedDateTime')
ALL_FIELDS = (*REQUIRED, *ENUMS, *INTS, *BOOLS, *LISTS, *DATES, *STRINGS, *READ_ONLY)
UPDATABLE = tuple(dict.fromkeys(n for n in ALL_FIELDS if n not in READ_ONLY and n != 'targetProduct'))


class _Store:
    def __init__(self, tenant_id: str, owner: str) -> None:
        self.tenant_id, self.owner = tenant_id, owner
        self.items: dict[str, dict[str, Any]] = {}
        self.reset()

    def reset(self) -> None:
        self.items = {}
        now = datetime.now(UTC)
        for n, (product, hash_value) in enumerate([
                ('Microsoft Defender ATP', 'e' * 40), ('Microsoft Defender ATP', None), ('Azure Sentinel', 'f' * 64)]):
            item = {
                'action': 'block' if n != 1 else 'alert', 'description': f'Seeded indicator {n + 1}',
                'expirationDateTime': _iso(now + timedelta(days=30)), 'targetProduct': product,
                'threatType': 'Malware' if hash_value else 'C2', 'tlpLevel': 'amber', 'severity': 3,
                'confidence': 80, 'tags': ['seed'],
            }
            if hash_value:
                item.update(fileHashType='sha1' if len(hash_value) == 40 else 'sha256', fileHashValue=hash_value,
                            fileName=f'seed{n + 1}.exe')
            else:
                item.update(networkIPv4='203.0.113.45', domainName='paste.evil.example')
            record = _complete(item, self.tenant_id, self.owner, now - timedelta(days=n + 1))
            record['id'] = f'ti-seed-{n + 1}'
            self.items[record['id']] = record


STORE_NAME = 'defender_endpoint.graph_ti_indicators'
SEED_OWNER = '0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e'     # the default seed's self-deployed secret app


def _store(request: Request) -> _Store:
    ctx = emulator_context(request)
    return ctx.stores.get(STORE_NAME, lambda: _Store(ctx.state.default_tenant_id, SEED_OWNER))


def reset_indicators(request: Request) -> None:
    """Back to the seeded indicators (the MDE admin reset calls this: they belong to the same integration)."""
    _store(request).reset()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec='seconds').replace('+00:00', 'Z')


def _complete(item: dict[str, Any], tenant_id: str, owner: str, now: datetime) -> dict[str, Any]:
    record: dict[str, Any] = {name: None for name in dict.fromkeys(ALL_FIELDS)}
    record.update({'isActive': True, 'passiveOnly': False, 'diamondModel': 'unknown', 'severity': 3,
                   'tags': [], 'killChain': [], 'malwareFamilyNames': []})
    record.update(item)
    record.update({'id': str(uuid.uuid4()), 'azureTenantId': tenant_id, 'ingestedDateTime': _iso(now),
                   'lastReportedDateTime': record.get('lastReportedDateTime') or _iso(now), '_owner': owner})
    return record


def _bad(message: str) -> JSONResponse:
    return api_error(400, 'InvalidRequest', message)


def _validate(body: dict[str, Any], *, creating: bool) -> str | None:
    """The first problem with ``body`` as Graph words it, or None."""
    allowed = set(UPDATABLE) | ({'targetProduct', 'azureTenantId'} if creating else set())
    unknown = sorted(set(body) - allowed)
    if unknown:
        return f"Invalid property '{unknown[0]}' for a tiIndicator {'creation' if creating else 'update'}."
    if creating:
        missing = [n for n in REQUIRED if body.get(n) in (None, '')]
        if missing:
            return f"Missing required property '{missing[0]}'."
        if not any(body.get(n) for n in OBSERVABLES):
            return 'At least one observable (an email, file, network, domain or URL property) is required.'
    for name, value in body.items():
        if value is None:
            continue
        if name in ENUMS and value not in ENUMS[name]:
            return f"Invalid value '{value}' for '{name}'. Allowed values: {', '.join(ENUMS[name])}."
        if name in INTS and (not isinstance(value, int) or isinstance(value, bool)
                             or not INTS[name][0] <= value <= INTS[name][1]):
            return f"'{name}' must be an integer from {INTS[name][0]} to {INTS[name][1]}."
        if name in BOOLS and not isinstance(value, bool):
            return f"'{name}' must be true or false."
        if name in LISTS and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return f"'{name}' must be a list of strings."
        if name in DATES and not _is_date(value):
            return f"'{name}' must be an ISO 8601 date-time such as 2030-01-01T00:00:00Z."
        if name in STRINGS and not isinstance(value, str):
            return f"'{name}' must be a string."
    if isinstance(body.get('description'), str) and len(body['description']) > 100:
        return "'description' must be 100 characters or less."
    return None


def _is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace('Z', '+00:00'))
    except ValueError:
        return False
    return True


def _render(record: dict[str, Any], request: Request) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith('_')}


def _entity(record: dict[str, Any], request: Request) -> dict[str, Any]:
    """A created or returned (Prefer: return=representation) indicator with its @odata.context, as Microsoft's
    tiindicators-post and tiindicator-update examples show."""
    context = f'{base_url(request)}/beta/$metadata#Security/tiIndicators/$entity'
    return {'@odata.context': context, **_render(record, request)}


def _visible(store: _Store, principal: Principal) -> list[dict[str, Any]]:
    """OwnedBy: an app sees only what it submitted."""
    owner = principal.client_id
    return [r for r in store.items.values() if r['_owner'] == owner]


def _find(store: _Store, principal: Principal, indicator_id: str) -> dict[str, Any] | JSONResponse:
    record = store.items.get(indicator_id)
    if record is None or record['_owner'] != principal.client_id:
        return api_error(404, 'ResourceNotFound', f"The tiIndicator with id '{indicator_id}' was not found.")
    return record


@module.route('/security/tiIndicators', permissions=PERMISSIONS)
async def list_indicators(request: Request, principal: Principal) -> Response:
    raw_top = request.query_params.get('$top')
    raw_skip = request.query_params.get('$skip') or '0'
    if (raw_top is not None and (not raw_top.isdigit() or not 1 <= int(raw_top) <= MAX_TOP)) or not raw_skip.isdigit():
        return _bad(f'$top must be a whole number from 1 to {MAX_TOP}, and $skip a whole number.')
    top, skip = int(raw_top or DEFAULT_TOP), int(raw_skip)
    items = sorted(_visible(_store(request), principal), key=lambda r: (r['ingestedDateTime'], r['id']))
    body: dict[str, Any] = {'@odata.context': f'{base_url(request)}{PATH[:-len("/security/tiIndicators")]}'
                                              '/$metadata#security/tiIndicators',
                            'value': [_render(r, request) for r in items[skip:skip + top]]}
    if skip + top < len(items):
        body['@odata.nextLink'] = next_link(request, PATH, skip + top)
    return JSONResponse(body)


@module.route('/security/tiIndicators/{indicator_id}', permissions=PERMISSIONS)
async def get_indicator(request: Request, principal: Principal) -> Response:
    record = _find(_store(request), principal, request.path_params['indicator_id'])
    if isinstance(record, JSONResponse):
        return record
    return JSONResponse(_render(record, request))


@module.route('/security/tiIndicators', methods=['POST'], permissions=PERMISSIONS)
async def create_indicator(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        return _bad('The request body must be a JSON object.')
    problem = _validate(body, creating=True)
    if problem:
        return _bad(problem)
    store = _store(request)
    item = {k: v for k, v in body.items() if k != 'azureTenantId'}
    record = _complete(item, principal.claims.get('tid') or store.tenant_id, principal.client_id, datetime.now(UTC))
    store.items[record['id']] = record
    return JSONResponse(_entity(record, request), status_code=201)


@module.route('/security/tiIndicators/{indicator_id}', methods=['PATCH'], permissions=PERMISSIONS)
async def update_indicator(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict) or not body:
        return _bad('The request body must be a JSON object with the properties to change.')
    problem = _validate(body, creating=False)
    if problem:
        return _bad(problem)
    store = _store(request)
    record = _find(store, principal, request.path_params['indicator_id'])
    if isinstance(record, JSONResponse):
        return record
    record.update(body)
    if 'return=representation' in request.headers.get('prefer', '').lower():
        return JSONResponse(_entity(record, request))
    return Response(status_code=204)


@module.route('/security/tiIndicators/{indicator_id}', methods=['DELETE'], permissions=PERMISSIONS)
async def delete_indicator(request: Request, principal: Principal) -> Response:
    store = _store(request)
    record = _find(store, principal, request.path_params['indicator_id'])
    if isinstance(record, JSONResponse):
        return record
    del store.items[record['id']]
    return Response(status_code=204)
