"""``/api/investigations`` and starting an automated investigation on a machine."""
from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..core.clock import now_ticks
from ..core.http import defender_error, json_body
from ..core.odata import ODataError, Prop
from ..tokens import Principal
from .common import ALERT_READ, ALERT_WRITE, bad_body, format_times, module, odata_context, odata_error, page, request_store
from .machines import machine_or_404
from .odata import parse_query
from .store import Investigation

INVESTIGATION_TIMES = ('startTime', 'endTime')
INVESTIGATION_PROPS = {n: Prop(n, k) for n, k in [
    ('id', 'string'), ('startTime', 'datetime'), ('endTime', 'datetime'), ('state', 'string'),
    ('machineId', 'string'), ('computerDnsName', 'string'), ('triggeringAlertId', 'string')]}


def investigation_raw(investigation: Investigation, now: int) -> dict[str, Any]:
    state, end = investigation.state_at(now)
    # Microsoft Learn's investigation entity names the state 'state' (investigation.md, get-investigation-collection).
    return {'id': str(investigation.id), 'startTime': investigation.start, 'endTime': end, 'state': state,
            'cancelledBy': investigation.cancelled_by,
            'statusDetails': investigation.status_details, 'machineId': investigation.machine_id,
            'computerDnsName': investigation.computer_dns_name,
            'triggeringAlertId': investigation.triggering_alert_id}


def render_investigation(raw: dict[str, Any]) -> dict[str, Any]:
    return format_times(raw, INVESTIGATION_TIMES)


@module.route('/api/investigations', permissions=ALERT_READ)
async def list_investigations(request: Request, principal: Principal) -> Response:
    try:
        query = parse_query(request, INVESTIGATION_PROPS, 'microsoft.windowsDefenderATP.api.Investigation',
                            orderable=('startTime', 'endTime'))
    except ODataError as exc:
        return odata_error(exc)
    store = request_store(request)
    now = now_ticks()
    with store.lock:
        items = [investigation_raw(i, now) for i in sorted(store.investigations.values(), key=lambda i: i.id)]
    return page(request, '/api/investigations', 'Investigations', items, query, render_investigation)


@module.route('/api/investigations/{investigation_id}', permissions=ALERT_READ)
async def get_investigation(request: Request, principal: Principal) -> Response:
    raw_id = request.path_params['investigation_id']
    store = request_store(request)
    with store.lock:
        investigation = store.investigations.get(int(raw_id)) if raw_id.isdigit() else None
        if investigation is None:
            return defender_error(404, 'ResourceNotFound', f'Investigation {raw_id} was not found')
        raw = investigation_raw(investigation, now_ticks())
    return JSONResponse({'@odata.context': odata_context(request, 'Investigations/$entity'),
                         **render_investigation(raw)})


@module.route('/api/machines/{machine_id}/startInvestigation', methods=['POST'], permissions=ALERT_WRITE)
@module.route('/api/machines/{machine_id}/startinvestigation', methods=['POST'], permissions=ALERT_WRITE)
@module.route('/api/machines/{machine_id}/StartInvestigation', methods=['POST'], permissions=ALERT_WRITE)
async def start_investigation(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        return bad_body()
    comment = body.get('Comment')
    if not isinstance(comment, str) or not comment.strip():
        return bad_body('Comment is required')
    store = request_store(request)
    with store.lock:
        machine = machine_or_404(store, request.path_params['machine_id'])
        if isinstance(machine, JSONResponse):
            return machine
        investigation = store.add_investigation(Investigation(
            id=0, start=now_ticks(), machine_id=machine.id, computer_dns_name=machine.computer_dns_name,
            triggering_alert_id=None, state='Failed' if machine.broken else 'SuccessfullyRemediated',
            step=store.step_ticks(), status_details=comment))
        raw = investigation_raw(investigation, now_ticks())
    return JSONResponse({'@odata.context': odata_context(request, 'Investigations/$entity'),
                         **render_investigation(raw)}, status_code=201)


