"""``/api/indicators``: list, get, submit, import (at most 500) and delete custom indicators, validated as the API
validates them."""
from __future__ import annotations

import ipaddress
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..core.clock import now_ticks, parse_time
from ..core.http import acting_identity, defender_error, json_body
from ..core.odata import ODataError, Prop
from ..tokens import Principal
from .common import MAX_IMPORT, TI, TI_READ, bad_body, format_times, module, odata_context, odata_error, page, request_store
from .odata import parse_query
from .store import INDICATOR_ACTIONS, INDICATOR_SEVERITIES, INDICATOR_TYPES, NotFound

INDICATOR_TIMES = ('creationTimeDateTimeUtc', 'expirationTime', 'lastUpdateTime')
INDICATOR_PROPS = {n: Prop(n, k) for n, k in [
    ('id', 'string'), ('indicatorValue', 'string'), ('indicatorType', 'string'), ('action', 'string'),
    ('title', 'string'), ('severity', 'string'), ('createdBy', 'string'), ('sourceType', 'string'),
    ('creationTimeDateTimeUtc', 'datetime'), ('expirationTime', 'datetime'), ('lastUpdateTime', 'datetime'),
    ('generateAlert', 'bool'), ('application', 'string'), ('externalID', 'string')]}
_HEX = {'FileSha1': 40, 'FileSha256': 64, 'FileMd5': 32, 'CertificateThumbprint': 40}
_DOMAIN = re.compile(r'^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$')
_URL = re.compile(r'^(?:https?://)?[^\s/$.?#][^\s]*$', re.IGNORECASE)
FILE_ACTIONS_ONLY = ('BlockAndRemediate',)
# Internal addresses an IP indicator may not name ("only external IPs"); documentation ranges count as external here.
_INTERNAL_NETWORKS = [ipaddress.ip_network(n) for n in (
    '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '127.0.0.0/8', '169.254.0.0/16', '0.0.0.0/8', '100.64.0.0/10',
    '::1/128', 'fc00::/7', 'fe80::/10')]


def enum_value(value: Any, allowed: tuple[str, ...]) -> str | None:
    if not isinstance(value, str):
        return None
    return next((a for a in allowed if a.lower() == value.strip().lower()), None)


def validate_indicator(body: Any, who: str) -> dict[str, Any]:
    """A submitted indicator -> the store record. Raises ValueError with the message to return."""
    if not isinstance(body, dict):
        raise ValueError('Request body is incorrect')
    for name in ('indicatorValue', 'indicatorType', 'action', 'title', 'description'):
        if not isinstance(body.get(name), str) or not body[name].strip():
            raise ValueError(f'{name} is required')
    kind = enum_value(body['indicatorType'], INDICATOR_TYPES)
    if kind is None:
        raise ValueError(f"indicatorType '{body['indicatorType']}' is not valid. Valid values are: "
                         f"{', '.join(INDICATOR_TYPES)}.")
    action = enum_value(body['action'], INDICATOR_ACTIONS)
    if action is None:
        raise ValueError(f"action '{body['action']}' is not valid. Valid values are: {', '.join(INDICATOR_ACTIONS)}.")
    if action in FILE_ACTIONS_ONLY and kind not in _HEX:
        raise ValueError(f"action '{action}' is only supported for file and certificate indicators.")
    value = body['indicatorValue'].strip()
    if kind in _HEX:
        if not re.fullmatch(f'[0-9a-fA-F]{{{_HEX[kind]}}}', value):
            raise ValueError(f"indicatorValue '{value}' is not a valid {kind}.")
        value = value.lower()
    elif kind == 'IpAddress':
        try:
            address = ipaddress.ip_address(value)
        except ValueError as exc:
            raise ValueError(f"indicatorValue '{value}' is not a valid IP address.") from exc
        if any(address in network for network in _INTERNAL_NETWORKS if network.version == address.version):
            raise ValueError(f"indicatorValue '{value}' is not a public IP address; only external IP addresses are "
                             f"supported.")
    elif kind == 'DomainName':
        if not _DOMAIN.match(value):
            raise ValueError(f"indicatorValue '{value}' is not a valid domain name.")
    elif not _URL.match(value):
        raise ValueError(f"indicatorValue '{value}' is not a valid URL.")
    severity = None
    if body.get('severity') is not None:
        severity = enum_value(body['severity'], INDICATOR_SEVERITIES)
        if severity is None:
            raise ValueError(f"severity '{body['severity']}' is not valid. Valid values are: "
                             f"{', '.join(INDICATOR_SEVERITIES)}.")
    now = now_ticks()
    expiration = None
    if body.get('expirationTime') is not None:
        try:
            expiration = parse_time(str(body['expirationTime']))
        except ValueError as exc:
            raise ValueError(f"expirationTime '{body['expirationTime']}' is not a valid date-time.") from exc
        if expiration <= now:
            raise ValueError('expirationTime must be in the future.')
    for name in ('rbacGroupNames', 'mitreTechniques'):
        if body.get(name) is not None and (not isinstance(body[name], list)
                                           or not all(isinstance(v, str) for v in body[name])):
            raise ValueError(f'{name} must be a list of strings')
    generate_alert = body.get('generateAlert')
    if generate_alert is not None and not isinstance(generate_alert, bool):
        raise ValueError('generateAlert must be true or false')
    return {
        'indicatorValue': value, 'indicatorType': kind, 'action': action,
        'application': body.get('application'), 'source': body.get('source') or who,
        'sourceType': 'AadApp' if who.startswith('API-App:') else 'User', 'createdBySource': 'PublicApi',
        'createdBy': who, 'createdByDisplayName': body.get('createdByDisplayName') or who,
        'creationTimeDateTimeUtc': now, 'expirationTime': expiration, 'lastUpdateTime': now, 'lastUpdatedBy': who,
        'severity': severity or 'Informational', 'title': body['title'], 'description': body['description'],
        'recommendedActions': body.get('recommendedActions'), 'rbacGroupNames': list(body.get('rbacGroupNames') or []),
        'rbacGroupIds': [], 'generateAlert': bool(generate_alert) if generate_alert is not None
        else action in ('Alert', 'AlertAndBlock', 'Audit'),
        'externalID': body.get('externalID'), 'mitreTechniques': list(body.get('mitreTechniques') or []),
        'category': body.get('category', 1), 'educateUrl': body.get('educateUrl'),
        'notificationId': None, 'notificationSource': None,
    }


def render_indicator(raw: dict[str, Any]) -> dict[str, Any]:
    return format_times(raw, INDICATOR_TIMES)


@module.route('/api/indicators', permissions=TI_READ)
async def list_indicators(request: Request, principal: Principal) -> Response:
    try:
        query = parse_query(request, INDICATOR_PROPS, 'microsoft.windowsDefenderATP.api.Indicator',
                            orderable=('creationTimeDateTimeUtc', 'lastUpdateTime', 'expirationTime', 'title'))
    except ODataError as exc:
        return odata_error(exc)
    store = request_store(request)
    with store.lock:
        items = [dict(i) for i in sorted(store.indicators.values(), key=lambda i: int(i['id']))]
    return page(request, '/api/indicators', 'Indicators', items, query, render_indicator)


@module.route('/api/indicators/{indicator_id}', permissions=TI_READ)
async def get_indicator(request: Request, principal: Principal) -> Response:
    indicator_id = request.path_params['indicator_id']
    store = request_store(request)
    with store.lock:
        record = store.indicators.get(indicator_id)
        if record is None:
            return defender_error(404, 'ResourceNotFound', f'Indicator {indicator_id} was not found')
        out = render_indicator(record)
    return JSONResponse({'@odata.context': odata_context(request, 'Indicators/$entity'), **out})


@module.route('/api/indicators', methods=['POST'], permissions=TI)
async def submit_indicator(request: Request, principal: Principal) -> Response:
    try:
        record = validate_indicator(await json_body(request), acting_identity(principal))
    except ValueError as exc:
        return bad_body(str(exc))
    store = request_store(request)
    with store.lock:
        saved, _ = store.upsert_indicator(record)
        out = render_indicator(saved)
    return JSONResponse({'@odata.context': odata_context(request, 'Indicators/$entity'), **out})


@module.route('/api/indicators/import', methods=['POST'], permissions=TI)
async def import_indicators(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    items = body.get('Indicators') if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        return bad_body('Indicators must be a non-empty list')
    if len(items) > MAX_IMPORT:
        return bad_body(f'A batch can hold at most {MAX_IMPORT} indicators')
    who = acting_identity(principal)
    store = request_store(request)
    results = []
    with store.lock:
        for item in items:
            shown = item.get('indicatorValue') if isinstance(item, dict) else None
            try:
                saved, _ = store.upsert_indicator(validate_indicator(item, who))
            except ValueError as exc:
                results.append({'id': None, 'indicator': shown, 'isFailed': True, 'failureReason': str(exc)})
                continue
            results.append({'id': saved['id'], 'indicator': saved['indicatorValue'], 'isFailed': False,
                            'failureReason': None})
    return JSONResponse({'@odata.context': odata_context(request, 'Collection(microsoft.windowsDefenderATP.api.'
                                                             'ImportIndicatorResult)'), 'value': results})


@module.route('/api/indicators/{indicator_id}', methods=['DELETE'], permissions=TI)
async def delete_indicator(request: Request, principal: Principal) -> Response:
    indicator_id = request.path_params['indicator_id']
    try:
        request_store(request).delete_indicator(indicator_id)
    except NotFound:
        return defender_error(404, 'ResourceNotFound', f'Indicator {indicator_id} was not found')
    return Response(status_code=204)


