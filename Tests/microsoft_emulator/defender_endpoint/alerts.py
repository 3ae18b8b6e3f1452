"""Defender for Endpoint alert routes beyond list/get/update (which live in defender_endpoint): creating an alert
from a hunting event, the entities related to an alert, and the alerts related to an entity.

* ``POST /api/alerts/CreateAlertByReference`` ``{machineId, severity, title, description, recommendedAction,
  eventTime, reportId, category}`` -> the new alert (201 ``Created``, detection source ``CustomDetection``).
* ``GET /api/alerts/{id}/user`` (the alert's related user as a User resource; 404 when it has none),
  ``/files`` (File resources of the hashes in its evidence), ``/ips`` (``[{"id": ip}]``) and ``/domains``
  (``[{"host": domain}]``): the IPs and domains observed on the alert's machine.
* ``GET /api/domains/{domain}/alerts``, ``/api/ips/{ip}/alerts`` (alerts on machines that saw it),
  ``/api/files/{sha1}/alerts`` (alerts whose evidence holds the file), ``/api/users/{user}/alerts`` (the related
  user, by account name), ``/api/machines/{id}/alerts`` (by machine ID or DNS name).

Alert relations are derived from the MDE store, so they agree with the statistics and machine routes.
"""
from __future__ import annotations

import ipaddress
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..core.api import ApiModule
from ..core.clock import now_ticks, parse_time
from ..core.http import defender_error, json_body
from ..ratelimits import MDE_DEFAULT
from ..tokens import Principal
from .alert_routes import render_alert
from .common import ALERT_READ, ALERT_WRITE, format_times, odata_context, request_store
from .files import FILE_FIELDS
from .machines import USER_TIMES, machine_or_404
from .store import MdeStore

module = ApiModule('mde_alerts', host='mde', audiences=('mde',), error_style='defender',
                   rate_limits=list(MDE_DEFAULT))

CREATE_SEVERITIES = ('Informational', 'Low', 'Medium', 'High')
CREATE_REQUIRED = ('machineId', 'severity', 'title', 'description', 'recommendedAction', 'eventTime', 'reportId',
                   'category')


def _alert_or_404(store: MdeStore, alert_id: str) -> dict[str, Any] | JSONResponse:
    alert = store.alerts.get(alert_id)
    if alert is None:
        return defender_error(404, 'ResourceNotFound', f'Alert {alert_id} was not found')
    return alert


def _alerts_page(request: Request, alerts: list[dict[str, Any]]) -> JSONResponse:
    ordered = sorted(alerts, key=lambda a: (a['alertCreationTime'], a['id']))
    return JSONResponse({'@odata.context': odata_context(request, 'Alerts'),
                         'value': [render_alert(a, False) for a in ordered]})


# ----- create -------------------------------------------------------------------------------------------------------

def _new_alert(store: MdeStore, body: dict[str, Any], machine: Any, event_time: int, who: str) -> dict[str, Any]:
    now = now_ticks()
    number = len(store.alerts)
    alert_id = f'da{now}_{number}'
    return {
        'id': alert_id, 'incidentId': None, 'investigationId': None, 'assignedTo': None,
        'severity': next(s for s in CREATE_SEVERITIES if s.lower() == str(body['severity']).lower()),
        'status': 'New', 'classification': None, 'determination': None, 'investigationState': 'UnsupportedAlertType',
        'detectionSource': 'CustomDetection', 'detectorId': None, 'category': body['category'],
        'threatFamilyName': None, 'title': body['title'], 'description': body['description'],
        'alertCreationTime': now, 'firstEventTime': event_time, 'lastEventTime': event_time, 'lastUpdateTime': now,
        'resolvedTime': None, 'machineId': machine.id, 'computerDnsName': machine.computer_dns_name,
        'rbacGroupName': machine.rbac_group_name, 'aadTenantId': store.tenant_id, 'threatName': None,
        'mitreTechniques': [], 'relatedUser': None,
        'loggedOnUsers': [{'accountName': u['accountName'], 'domainName': u['accountDomain'].upper()}
                          for u in machine.logon_users],
        'comments': [], 'evidence': [], 'recommendedAction': body['recommendedAction'], 'reportId': body['reportId'],
        'createdBy': who,
    }


@module.route('/api/alerts/CreateAlertByReference', methods=['POST'], permissions=ALERT_WRITE)
async def create_alert(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        return defender_error(400, 'InvalidRequestBody', 'Request body is incorrect')
    missing = [name for name in CREATE_REQUIRED if not isinstance(body.get(name), str) or not body[name].strip()]
    if missing:
        return defender_error(400, 'InvalidRequestBody', f'Missing or empty required field(s): {", ".join(missing)}')
    if str(body['severity']).lower() not in [s.lower() for s in CREATE_SEVERITIES]:
        return defender_error(400, 'InvalidRequestBody', f"severity '{body['severity']}' is not valid. Valid values "
                                                         f"are: {', '.join(CREATE_SEVERITIES)}.")
    try:
        event_time = parse_time(body['eventTime'])
    except ValueError:
        return defender_error(400, 'InvalidRequestBody', f"eventTime '{body['eventTime']}' is not a valid date-time")
    store = request_store(request)
    with store.lock:
        machine = machine_or_404(store, body['machineId'])
        if isinstance(machine, JSONResponse):
            return machine
        alert = _new_alert(store, body, machine, event_time, f'API-App:{principal.client_id}')
        store.add_alerts([alert])
        store.bump()
        out = render_alert(alert, False)
    # create-alert-by-reference: "If successful, this method returns 200 OK, and a new alert object".
    return JSONResponse({'@odata.context': odata_context(request, 'Alerts/$entity'), **out})


# ----- entities of an alert -----------------------------------------------------------------------------------------

@module.route('/api/alerts/{alert_id}/user', permissions=['User.Read.All', 'User.Read'])
async def alert_user(request: Request, principal: Principal) -> Response:
    store = request_store(request)
    with store.lock:
        alert = _alert_or_404(store, request.path_params['alert_id'])
        if isinstance(alert, JSONResponse):
            return alert
        related = alert.get('relatedUser') or {}
        machine = store.machines.get(alert['machineId'])
        users = machine.logon_users if machine else []
        user = next((u for u in users if u['accountName'].lower() == str(related.get('userName', '')).lower()), None)
        if user is None:
            return defender_error(404, 'ResourceNotFound', f"Alert {alert['id']} has no related user")
        out = format_times(dict(user), USER_TIMES)
        out['mostPrevalentMachineId'] = out.get('mostPrevalentMachineId') or alert['machineId']
        out['leastPrevalentMachineId'] = out.get('leastPrevalentMachineId') or alert['machineId']
    return JSONResponse({'@odata.context': odata_context(request, 'Users/$entity'), **out})


@module.route('/api/alerts/{alert_id}/files', permissions=['File.Read.All', 'File.Read'])
async def alert_files(request: Request, principal: Principal) -> Response:
    store = request_store(request)
    with store.lock:
        alert = _alert_or_404(store, request.path_params['alert_id'])
        if isinstance(alert, JSONResponse):
            return alert
        hashes = list(dict.fromkeys(e['sha1'] for e in alert.get('evidence') or [] if e.get('sha1')))
        files = []
        for sha1 in hashes:
            observation = store.files.get(sha1.lower())
            if observation is not None:
                files.append(format_times({k: observation.extra.get(k) for k in FILE_FIELDS},
                                           ('globalFirstObserved', 'globalLastObserved')))
    return JSONResponse({'@odata.context': odata_context(request, 'Files'), 'value': files})


def _observed_on(observations: dict[str, Any], machine_id: str) -> list[str]:
    return sorted(key for key, o in observations.items() if machine_id in o.machine_ids)


@module.route('/api/alerts/{alert_id}/ips', permissions=['Ip.Read.All', 'Ip.Read'])
async def alert_ips(request: Request, principal: Principal) -> Response:
    store = request_store(request)
    with store.lock:
        alert = _alert_or_404(store, request.path_params['alert_id'])
        if isinstance(alert, JSONResponse):
            return alert
        ips = _observed_on(store.ips, alert['machineId'])
    return JSONResponse({'@odata.context': odata_context(request, 'Ips'), 'value': [{'id': ip} for ip in ips]})


@module.route('/api/alerts/{alert_id}/domains', permissions=['URL.Read.All', 'Url.Read.All', 'URL.Read', 'Url.Read'])
async def alert_domains(request: Request, principal: Principal) -> Response:
    store = request_store(request)
    with store.lock:
        alert = _alert_or_404(store, request.path_params['alert_id'])
        if isinstance(alert, JSONResponse):
            return alert
        domains = _observed_on(store.domains, alert['machineId'])
    return JSONResponse({'@odata.context': odata_context(request, 'Domains'), 'value': [{'host': d} for d in domains]})


# ----- alerts of an entity ------------------------------------------------------------------------------------------

@module.route('/api/domains/{domain}/alerts', permissions=ALERT_READ)
async def domain_alerts(request: Request, principal: Principal) -> Response:
    store = request_store(request)
    with store.lock:
        observation = store.domains.get(request.path_params['domain'].lower())
        machines = set(observation.machine_ids) if observation else set()
        alerts = [a for a in store.alerts.values() if a['machineId'] in machines]
        return _alerts_page(request, alerts)


@module.route('/api/ips/{ip}/alerts', permissions=ALERT_READ)
async def ip_alerts(request: Request, principal: Principal) -> Response:
    ip = request.path_params['ip']
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return defender_error(400, 'InvalidRequest', f"Invalid IP address '{ip}'")
    store = request_store(request)
    with store.lock:
        observation = store.ips.get(ip)
        machines = set(observation.machine_ids) if observation else set()
        alerts = [a for a in store.alerts.values() if a['machineId'] in machines]
        return _alerts_page(request, alerts)


@module.route('/api/files/{file_hash}/alerts', permissions=ALERT_READ)
async def file_alerts(request: Request, principal: Principal) -> Response:
    wanted = request.path_params['file_hash'].lower()
    if len(wanted) != 40 or any(c not in '0123456789abcdef' for c in wanted):
        return defender_error(400, 'InvalidRequest', f'Invalid SHA1 {wanted}')
    store = request_store(request)
    with store.lock:
        alerts = [a for a in store.alerts.values()
                  if any(str(e.get('sha1') or '').lower() == wanted for e in a.get('evidence') or [])]
        return _alerts_page(request, alerts)


@module.route('/api/users/{user}/alerts', permissions=ALERT_READ)
async def user_alerts(request: Request, principal: Principal) -> Response:
    wanted = request.path_params['user'].lower()
    store = request_store(request)
    with store.lock:
        alerts = [a for a in store.alerts.values()
                  if str((a.get('relatedUser') or {}).get('userName') or '').lower() == wanted]
        return _alerts_page(request, alerts)


@module.route('/api/machines/{machine_id}/alerts', permissions=ALERT_READ)
async def machine_alerts(request: Request, principal: Principal) -> Response:
    store = request_store(request)
    with store.lock:
        machine = machine_or_404(store, request.path_params['machine_id'])
        if isinstance(machine, JSONResponse):
            return machine
        alerts = [a for a in store.alerts.values() if a['machineId'] == machine.id]
        return _alerts_page(request, alerts)
