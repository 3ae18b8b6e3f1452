"""``/api/machines/{id}/<action>`` (isolate, scan, collect an investigation package...) and ``/api/machineactions``.
An action's status follows from its age (see ``store.py``): no timers."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..core.clock import TICKS_PER_SECOND, format_time, now_ticks
from ..core.http import acting_identity, base_url, defender_error, json_body
from ..core.odata import ODataError, Prop
from ..tokens import Principal
from .common import CANCEL, MACHINE_READ, bad_body, format_times, module, odata_context, odata_error, page, request_store
from .machines import machine_or_404
from .odata import parse_query
from .store import (
    FAILED_HRESULT,
    ActiveRequestExists,
    MachineAction,
    MdeStore,
    NotFound,
)

ACTION_TIMES = ('creationDateTimeUtc', 'lastUpdateDateTimeUtc', 'cancellationDateTimeUtc')
ACTION_PROPS = {n: Prop(n, k) for n, k in [
    ('id', 'string'), ('status', 'string'), ('machineId', 'string'), ('type', 'string'), ('requestor', 'string'),
    ('creationDateTimeUtc', 'datetime'), ('lastUpdateDateTimeUtc', 'datetime'), ('computerDnsName', 'string'),
    ('scope', 'string'), ('requestSource', 'string')]}


def action_raw(action: MachineAction, now: int) -> dict[str, Any]:
    status = action.status_at(now)
    commands: list[dict[str, Any]] = action.live.commands_at(action, now) if action.live is not None else []
    return {
        'id': action.id, 'type': action.type, 'title': action.title, 'requestor': action.requestor,
        'requestorComment': action.comment, 'status': status, 'machineId': action.machine_id,
        'computerDnsName': action.computer_dns_name, 'creationDateTimeUtc': action.created,
        'lastUpdateDateTimeUtc': action.updated_at(now), 'cancellationRequestor': action.cancellation_requestor,
        'cancellationComment': action.cancellation_comment, 'cancellationDateTimeUtc': action.cancelled,
        'errorHResult': FAILED_HRESULT if status == 'Failed' else 0, 'scope': action.scope,
        'externalId': action.external_id, 'requestSource': action.request_source,
        'relatedFileInfo': dict(action.related_file) if action.related_file else None, 'commands': commands,
        'troubleshootInfo': None,
    }


def render_action(raw: dict[str, Any]) -> dict[str, Any]:
    return format_times(raw, ACTION_TIMES)


@dataclass(frozen=True)
class ActionSpec:
    type: str
    permissions: tuple[str, ...]
    scope_field: str | None = None
    scopes: tuple[str, ...] = ()
    scope_required: bool = False
    default_scope: str | None = None
    # The documented spelling first, then the ones clients send (ASP.NET matches paths case-insensitively).
    paths: tuple[str, ...] = ()


ACTION_SPECS = [
    ActionSpec('Isolate', ('Machine.Isolate',), 'IsolationType', ('Full', 'Selective', 'UnManagedDevice'),
               default_scope='Full',
               paths=('/api/machines/{machine_id}/isolate',
                      '/api/machines/{machine_id}/Isolate')),
    ActionSpec('Unisolate', ('Machine.Isolate',),
               paths=('/api/machines/{machine_id}/unisolate',
                      '/api/machines/{machine_id}/Unisolate')),
    ActionSpec('RunAntiVirusScan', ('Machine.Scan',), 'ScanType', ('Quick', 'Full'), scope_required=True,
               paths=('/api/machines/{machine_id}/runAntiVirusScan',
                      '/api/machines/{machine_id}/runantivirusscan',
                      '/api/machines/{machine_id}/RunAntiVirusScan')),
    ActionSpec('RestrictCodeExecution', ('Machine.RestrictExecution',),
               paths=('/api/machines/{machine_id}/restrictCodeExecution',
                      '/api/machines/{machine_id}/restrictcodeexecution',
                      '/api/machines/{machine_id}/RestrictCodeExecution')),
    ActionSpec('UnrestrictCodeExecution', ('Machine.RestrictExecution',),
               paths=('/api/machines/{machine_id}/unrestrictCodeExecution',
                      '/api/machines/{machine_id}/unrestrictcodeexecution',
                      '/api/machines/{machine_id}/UnrestrictCodeExecution')),
    ActionSpec('StopAndQuarantineFile', ('Machine.StopAndQuarantine',),
               paths=('/api/machines/{machine_id}/stopAndQuarantineFile',
                      '/api/machines/{machine_id}/stopandquarantinefile',
                      '/api/machines/{machine_id}/StopAndQuarantineFile')),
    ActionSpec('CollectInvestigationPackage', ('Machine.CollectForensics',),
               paths=('/api/machines/{machine_id}/collectInvestigationPackage',
                      '/api/machines/{machine_id}/collectinvestigationpackage',
                      '/api/machines/{machine_id}/CollectInvestigationPackage')),
    ActionSpec('Offboard', ('Machine.Offboard',),
               paths=('/api/machines/{machine_id}/offboard',
                      '/api/machines/{machine_id}/Offboard')),
]

_SHA1 = re.compile(r'^[0-9a-fA-F]{40}$')


def _action_handler(spec: ActionSpec) -> Callable[[Request, Principal], Any]:
    async def handler(request: Request, principal: Principal) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict):
            return bad_body()
        comment = body.get('Comment')
        if not isinstance(comment, str) or not comment.strip():
            return bad_body('Comment is required')
        scope: str | None = None
        if spec.scope_field:
            raw_scope = body.get(spec.scope_field)
            if raw_scope is None:
                if spec.scope_required:
                    return bad_body(f'{spec.scope_field} is required')
                scope = spec.default_scope
            else:
                scope = next((s for s in spec.scopes if isinstance(raw_scope, str) and s.lower() == raw_scope.lower()),
                             None)
                if scope is None:
                    return bad_body(f"{spec.scope_field} '{raw_scope}' is not valid. Valid values are: "
                                     f"{', '.join(spec.scopes)}.")
        related = None
        if spec.type == 'StopAndQuarantineFile':
            sha1 = body.get('Sha1')
            if not isinstance(sha1, str) or not _SHA1.match(sha1):
                return bad_body('Sha1 must be a valid SHA-1 hash')
            related = {'fileIdentifier': sha1.lower(), 'fileIdentifierType': 'Sha1'}
        external_id = body.get('ExternalID') if isinstance(body.get('ExternalID'), str) else None
        store = request_store(request)
        with store.lock:
            machine = machine_or_404(store, request.path_params['machine_id'])
            if isinstance(machine, JSONResponse):
                return machine
            if machine.onboarding_status == 'Offboarded':
                return defender_error(400, 'InvalidRequest', f'Machine {machine.id} is offboarded')
            try:
                action = store.create_action(machine, spec.type, requestor=acting_identity(principal),
                                             comment=comment, scope=scope, related_file=related,
                                             external_id=external_id)
            except ActiveRequestExists:
                return defender_error(400, 'ActiveRequestAlreadyExists', 'Action is already in progress')
            raw = action_raw(action, now_ticks())
        return JSONResponse({'@odata.context': odata_context(request, 'MachineActions/$entity'), **render_action(raw)},
                            status_code=201)
    handler.__name__ = f'action_{spec.type}'
    return handler


for _spec in ACTION_SPECS:
    for _path in _spec.paths:
        module.add_route(_path, _action_handler(_spec), methods=['POST'], permissions=_spec.permissions)


@module.route('/api/machineactions', permissions=MACHINE_READ)
async def list_actions(request: Request, principal: Principal) -> Response:
    try:
        query = parse_query(request, ACTION_PROPS, 'microsoft.windowsDefenderATP.api.MachineAction',
                            orderable=('creationDateTimeUtc', 'lastUpdateDateTimeUtc'))
    except ODataError as exc:
        return odata_error(exc)
    store = request_store(request)
    with store.lock:
        now = now_ticks()
        store.advance(now)
        items = [action_raw(store.actions[i], now) for i in store.action_order]
    return page(request, '/api/machineactions', 'MachineActions', items, query, render_action)


def action_or_404(store: MdeStore, action_id: str) -> MachineAction | JSONResponse:
    try:
        return store.action(action_id)
    except NotFound:
        return defender_error(404, 'ResourceNotFound', f'Machine action {action_id} was not found')


@module.route('/api/machineactions/{action_id}', permissions=MACHINE_READ)
async def get_action(request: Request, principal: Principal) -> Response:
    store = request_store(request)
    with store.lock:
        action = action_or_404(store, request.path_params['action_id'])
        if isinstance(action, JSONResponse):
            return action
        raw = action_raw(action, now_ticks())
    return JSONResponse({'@odata.context': odata_context(request, 'MachineActions/$entity'), **render_action(raw)})


@module.route('/api/machineactions/{action_id}/getPackageUri', permissions=MACHINE_READ)
@module.route('/api/machineactions/{action_id}/getpackageuri', permissions=MACHINE_READ)
@module.route('/api/machineactions/{action_id}/GetPackageUri', permissions=MACHINE_READ)
async def package_uri(request: Request, principal: Principal) -> Response:
    store = request_store(request)
    with store.lock:
        action = action_or_404(store, request.path_params['action_id'])
        if isinstance(action, JSONResponse):
            return action
        if action.type != 'CollectInvestigationPackage':
            return defender_error(400, 'InvalidRequest',
                                  f'Machine action {action.id} is not an investigation package collection')
        status = action.status_at(now_ticks())
        if status != 'Succeeded':
            return defender_error(404, 'ResourceNotFound',
                                  f'The investigation package of machine action {action.id} is not available '
                                  f'(status {status})')
    url = f'{base_url(request)}/_emulator/mde/packages/{action.id}.zip?sv=2020-08-04&se=' \
          f"{format_time(now_ticks() + 3600 * TICKS_PER_SECOND)}&sr=b&sp=r&sig=emulator"
    # As documented (get-package-sas-uri, response example): the string's text is the link inside literal double
    # quotes, so clients have to unwrap it.
    return JSONResponse({'@odata.context': odata_context(request, 'Edm.String'), 'value': f'"{url}"'})


@module.route('/api/machineactions/{action_id}/cancel', methods=['POST'], permissions=CANCEL)
@module.route('/api/machineactions/{action_id}/Cancel', methods=['POST'], permissions=CANCEL)
async def cancel_action(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        return bad_body()
    comment = body.get('Comment')
    if not isinstance(comment, str) or not comment.strip():
        return bad_body('Comment is required')
    store = request_store(request)
    with store.lock:
        action_id = request.path_params['action_id']
        try:
            action = store.cancel_action(action_id, acting_identity(principal), comment)
        except NotFound:
            return defender_error(404, 'ResourceNotFound', f'Machine action {action_id} was not found')
        except ValueError as exc:
            return defender_error(400, 'InvalidRequest',
                                  f'Machine action {action_id} cannot be cancelled: its status is {exc}')
        raw = action_raw(action, now_ticks())
    return JSONResponse({'@odata.context': odata_context(request, 'MachineActions/$entity'), **render_action(raw)})
