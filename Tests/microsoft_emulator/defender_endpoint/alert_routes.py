"""``/api/alerts``: list (``$expand=evidence``), get and update alerts."""
from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..core.clock import now_ticks
from ..core.http import acting_identity, defender_error, json_body
from ..core.odata import ODataError, Prop, parse_expand, query_options, time_bounds
from ..tokens import Principal
from .common import ALERT_READ, ALERT_WRITE, bad_body, format_times, module, odata_context, odata_error, page, request_store
from .indicators import enum_value
from .odata import parse_query
from .store import ALERT_CLASSIFICATIONS, ALERT_DETERMINATIONS, ALERT_STATUSES

ALERT_TIMES = ('alertCreationTime', 'firstEventTime', 'lastEventTime', 'lastUpdateTime', 'resolvedTime')
EVIDENCE_TIMES = ('evidenceCreationTime', 'processCreationTime', 'parentProcessCreationTime')
ALERT_FIELDS = ('id', 'incidentId', 'investigationId', 'assignedTo', 'severity', 'status', 'classification',
                'determination', 'investigationState', 'detectionSource', 'detectorId', 'category',
                'threatFamilyName', 'title', 'description', 'alertCreationTime', 'firstEventTime', 'lastEventTime',
                'lastUpdateTime', 'resolvedTime', 'machineId', 'computerDnsName', 'rbacGroupName', 'aadTenantId',
                'threatName', 'mitreTechniques', 'relatedUser', 'loggedOnUsers', 'comments')
ALERT_PROPS = {n: Prop(n, k) for n, k in [
    ('alertCreationTime', 'datetime'), ('lastUpdateTime', 'datetime'), ('lastEventTime', 'datetime'),
    ('firstEventTime', 'datetime'), ('incidentId', 'number'), ('investigationId', 'number'), ('id', 'string'),
    ('assignedTo', 'string'), ('detectionSource', 'string'), ('status', 'string'), ('severity', 'string'),
    ('category', 'string'), ('machineId', 'string'), ('computerDnsName', 'string'), ('title', 'string'),
    ('classification', 'string'), ('determination', 'string')]}


def render_alert(alert: dict[str, Any], evidence: bool) -> dict[str, Any]:
    out = format_times({k: alert.get(k) for k in ALERT_FIELDS}, ALERT_TIMES)
    out['mitreTechniques'] = list(alert['mitreTechniques'])
    out['relatedUser'] = dict(alert['relatedUser']) if alert.get('relatedUser') else None
    out['loggedOnUsers'] = [dict(u) for u in alert.get('loggedOnUsers') or []]
    out['comments'] = [format_times(c, ('createdTime',)) for c in alert.get('comments') or []]
    # Without $expand=evidence Microsoft still sends the property, empty (get-alerts, Example 1).
    out['evidence'] = [format_times(e, EVIDENCE_TIMES) for e in alert.get('evidence') or []] if evidence else []
    return out


def _expand_evidence(request: Request) -> bool | JSONResponse:
    try:
        raw = query_options(request.query_params.items()).get('$expand')
        return bool(parse_expand(raw, ('evidence',), lambda name: f"Could not find a property named '{name}' to "
                                                                  f"expand."))
    except ODataError as exc:
        return odata_error(exc)


@module.route('/api/alerts', permissions=ALERT_READ)
async def list_alerts(request: Request, principal: Principal) -> Response:
    try:
        query = parse_query(request, ALERT_PROPS, 'microsoft.windowsDefenderATP.api.PublicAlert',
                            orderable=('alertCreationTime', 'lastUpdateTime', 'severity'))
    except ODataError as exc:
        return odata_error(exc)
    evidence = _expand_evidence(request)
    if isinstance(evidence, JSONResponse):
        return evidence
    store = request_store(request)
    with store.lock:
        bounds = time_bounds(query.node, 'alertCreationTime')     # inclusive either way: the filter decides ties
        low, high = (bounds[0], bounds[2]) if bounds is not None else (None, None)
        items = store.alerts_between(low, high)          # oldest first, ties by id
        return page(request, '/api/alerts', 'Alerts', items, query, lambda a: render_alert(a, evidence))


@module.route('/api/alerts/{alert_id}', permissions=ALERT_READ)
async def get_alert(request: Request, principal: Principal) -> Response:
    evidence = _expand_evidence(request)
    if isinstance(evidence, JSONResponse):
        return evidence
    alert_id = request.path_params['alert_id']
    store = request_store(request)
    with store.lock:
        alert = store.alerts.get(alert_id)
        if alert is None:
            return defender_error(404, 'ResourceNotFound', f'Alert {alert_id} was not found')
        out = render_alert(alert, evidence)
    return JSONResponse({'@odata.context': odata_context(request, 'Alerts/$entity'), **out})


@module.route('/api/alerts/{alert_id}', methods=['PATCH'], permissions=ALERT_WRITE)
async def update_alert(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        return bad_body()
    changes: dict[str, Any] = {}
    for name, allowed in (('status', ALERT_STATUSES[1:]), ('classification', ALERT_CLASSIFICATIONS),
                          ('determination', ALERT_DETERMINATIONS)):
        if name in body:
            value = enum_value(body[name], allowed)
            if value is None:
                return bad_body(f"{name} '{body[name]}' is not valid. Valid values are: {', '.join(allowed)}.")
            changes[name] = value
    if 'assignedTo' in body:
        if body['assignedTo'] is not None and not isinstance(body['assignedTo'], str):
            return bad_body('assignedTo must be a string')
        changes['assignedTo'] = body['assignedTo'] or None
    comment = body.get('comment')
    if comment is not None and not isinstance(comment, str):
        return bad_body('comment must be a string')
    alert_id = request.path_params['alert_id']
    store = request_store(request)
    with store.lock:
        alert = store.alerts.get(alert_id)
        if alert is None:
            return defender_error(404, 'ResourceNotFound', f'Alert {alert_id} was not found')
        now = now_ticks()
        alert.update(changes)
        if changes.get('status') == 'Resolved' and not alert.get('resolvedTime'):
            alert['resolvedTime'] = now
        elif 'status' in changes and changes['status'] != 'Resolved':
            alert['resolvedTime'] = None
        if comment:
            alert['comments'] = [*alert.get('comments', []),
                                 {'comment': comment, 'createdBy': acting_identity(principal), 'createdTime': now}]
        alert['lastUpdateTime'] = max(now, alert['lastUpdateTime'] + 1)
        store.bump()
        out = render_alert(alert, False)
    return JSONResponse({'@odata.context': odata_context(request, 'Alerts/$entity'), **out})


