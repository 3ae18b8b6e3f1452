"""``/api/machines``: list, get, find by IP, logon users, tags, and the machines related to a file, domain or
user."""
from __future__ import annotations

import ipaddress
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..core.clock import TICKS_PER_SECOND, now_ticks, parse_time
from ..core.http import defender_error, json_body
from ..core.odata import ODataError, Prop
from ..tokens import Principal
from .common import (
    HUNTING_WINDOW,
    MACHINE_READ,
    MACHINE_WRITE,
    bad_body,
    format_times,
    module,
    odata_context,
    odata_error,
    page,
    request_store,
)
from .odata import parse_query
from .store import Machine, MdeStore, NotFound

MACHINE_TIMES = ('firstSeen', 'lastSeen')
MACHINE_PROPS = {n: Prop(n, k) for n, k in [
    ('id', 'string'), ('computerDnsName', 'string'), ('firstSeen', 'datetime'), ('lastSeen', 'datetime'),
    ('osPlatform', 'string'), ('version', 'string'), ('lastIpAddress', 'string'),
    ('lastExternalIpAddress', 'string'), ('healthStatus', 'string'), ('rbacGroupId', 'number'),
    ('rbacGroupName', 'string'), ('riskScore', 'string'), ('exposureLevel', 'string'), ('aadDeviceId', 'string'),
    ('machineTags', 'list'), ('onboardingStatus', 'string'), ('isAadJoined', 'bool'), ('osProcessor', 'string'),
    ('agentVersion', 'string'), ('deviceValue', 'string')]}


def machine_raw(m: Machine) -> dict[str, Any]:
    return {
        'id': m.id, 'computerDnsName': m.computer_dns_name, 'firstSeen': m.first_seen, 'lastSeen': m.last_seen,
        'osPlatform': m.os_platform, 'osVersion': m.os_version, 'osProcessor': m.os_processor, 'version': m.version,
        'lastIpAddress': m.last_ip, 'lastExternalIpAddress': m.last_external_ip, 'agentVersion': m.agent_version,
        'osBuild': m.os_build, 'healthStatus': m.health_status, 'deviceValue': 'Normal',
        'rbacGroupId': m.rbac_group_id, 'rbacGroupName': m.rbac_group_name, 'riskScore': m.risk_score,
        'exposureLevel': m.exposure_level, 'isAadJoined': m.aad_device_id is not None,
        'aadDeviceId': m.aad_device_id, 'machineTags': list(m.tags), 'defenderAvStatus': 'Updated',
        'onboardingStatus': m.onboarding_status, 'osArchitecture': m.os_architecture,
        'managedBy': 'MicrosoftDefenderForEndpoint', 'managedByStatus': 'Success',
        'ipAddresses': [{'ipAddress': m.last_ip, 'macAddress': m.mac_address, 'type': 'Ethernet',
                         'operationalStatus': 'Up'}],
        'vmMetadata': None,
    }


def render_machine(raw: dict[str, Any]) -> dict[str, Any]:
    return format_times(raw, MACHINE_TIMES)


def machine_or_404(store: MdeStore, key: str) -> Machine | JSONResponse:
    try:
        return store.machine(key)
    except NotFound:
        return defender_error(404, 'ResourceNotFound', f'Machine {key} was not found')


@module.route('/api/machines', permissions=MACHINE_READ)
async def list_machines(request: Request, principal: Principal) -> Response:
    try:
        query = parse_query(request, MACHINE_PROPS, 'microsoft.windowsDefenderATP.api.PublicMachine',
                            orderable=('computerDnsName', 'lastSeen', 'firstSeen', 'riskScore', 'healthStatus'))
    except ODataError as exc:
        return odata_error(exc)
    store = request_store(request)
    with store.lock:
        items = [machine_raw(m) for m in store.machines.values()]
    return page(request, '/api/machines', 'Machines', items, query, render_machine)


_FINDBYIP = re.compile(r"^\s*ip\s*=\s*'([^']*)'\s*,\s*timestamp\s*=\s*'?([^')]+?)'?\s*$", re.IGNORECASE)


@module.route('/api/machines/findbyip({args})', permissions=MACHINE_READ)
async def find_by_ip(request: Request, principal: Principal) -> Response:
    match = _FINDBYIP.match(request.path_params['args'])
    if not match:
        return defender_error(400, 'InvalidRequest', "Expected findbyip(ip='<address>',timestamp=<date-time>)")
    ip, stamp = match.groups()
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return defender_error(400, 'InvalidRequest', f"Invalid IP address '{ip}'")
    try:
        when = parse_time(stamp)
    except ValueError:
        return defender_error(400, 'InvalidRequest', f"Invalid timestamp '{stamp}'")
    now = now_ticks()
    if when < now - HUNTING_WINDOW:
        return defender_error(400, 'InvalidRequest', 'The timestamp must be within the last 30 days.')
    margin = 15 * 60 * TICKS_PER_SECOND
    store = request_store(request)
    with store.lock:
        found = [machine_raw(m) for m in store.machines.values()
                 if m.last_ip == ip and m.first_seen - margin <= when and when <= max(now, m.last_seen) + margin]
    return JSONResponse({'@odata.context': odata_context(request, 'Machines'),
                         'value': [render_machine(m) for m in found]})


@module.route('/api/machines/{machine_id}', permissions=MACHINE_READ)
async def get_machine(request: Request, principal: Principal) -> Response:
    store = request_store(request)
    with store.lock:
        machine = machine_or_404(store, request.path_params['machine_id'])
        if isinstance(machine, JSONResponse):
            return machine
        raw = machine_raw(machine)
    return JSONResponse({'@odata.context': odata_context(request, 'Machines/$entity'), **render_machine(raw)})


USER_TIMES = ('firstSeen', 'lastSeen')


@module.route('/api/machines/{machine_id}/logonusers', permissions=['User.Read.All', 'User.Read'])
async def logon_users(request: Request, principal: Principal) -> Response:
    store = request_store(request)
    with store.lock:
        machine = machine_or_404(store, request.path_params['machine_id'])
        if isinstance(machine, JSONResponse):
            return machine
        users = [format_times(u, USER_TIMES) for u in machine.logon_users]
    return JSONResponse({'@odata.context': odata_context(request, 'Users'), 'value': users})


@module.route('/api/machines/{machine_id}/tags', methods=['POST'], permissions=MACHINE_WRITE)
async def machine_tags(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        return bad_body()
    value, action = body.get('Value'), body.get('Action')
    if not isinstance(value, str) or not value.strip():
        return bad_body('Value is required')
    if not isinstance(action, str) or action.lower() not in ('add', 'remove'):
        return bad_body("Action must be 'Add' or 'Remove'")
    if len(value) > 200:
        return bad_body('Tag value is too long (maximum 200 characters)')
    store = request_store(request)
    with store.lock:
        machine = machine_or_404(store, request.path_params['machine_id'])
        if isinstance(machine, JSONResponse):
            return machine
        if action.lower() == 'add' and value not in machine.tags:
            machine.tags.append(value)
        elif action.lower() == 'remove' and value in machine.tags:
            machine.tags.remove(value)
        store.bump()
        raw = machine_raw(machine)
    return JSONResponse({'@odata.context': odata_context(request, 'Machines/$entity'), **render_machine(raw)})


def _related(request: Request, machine_ids: list[str]) -> JSONResponse:
    store = request_store(request)
    with store.lock:
        items = [machine_raw(store.machines[i]) for i in machine_ids if i in store.machines]
    return JSONResponse({'@odata.context': odata_context(request, 'Machines'),
                         'value': [render_machine(i) for i in items]})


@module.route('/api/files/{file_hash}/machines', permissions=MACHINE_READ)
async def file_machines(request: Request, principal: Principal) -> Response:
    store = request_store(request)
    observation = store.files.get(request.path_params['file_hash'].lower())
    return _related(request, observation.machine_ids if observation else [])


@module.route('/api/domains/{domain}/machines', permissions=MACHINE_READ)
async def domain_machines(request: Request, principal: Principal) -> Response:
    store = request_store(request)
    observation = store.domains.get(request.path_params['domain'].lower())
    return _related(request, observation.machine_ids if observation else [])


@module.route('/api/users/{user}/machines', permissions=MACHINE_READ)
async def user_machines(request: Request, principal: Principal) -> Response:
    wanted = request.path_params['user'].lower()
    wanted = wanted.split('\\')[-1].split('@')[0]
    store = request_store(request)
    with store.lock:
        ids = [m.id for m in store.machines.values()
               if any(u['accountName'].lower() == wanted for u in m.logon_users)]
    return _related(request, ids)


