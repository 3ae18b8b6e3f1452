"""Defender for Endpoint live response (host ``mde``), as documented under "Run live response commands on a device"
and "Get live response result", plus the storage-account downloads the result links point at (host ``blob``).

* ``POST /api/machines/{id}/runliveresponse`` ``{"Commands": [{"type", "params": [{"key", "value"}]}], "Comment"}``
  (``Machine.LiveResponse``): ``PutFile`` needs ``FileName``, ``RunScript`` needs ``ScriptName`` (``Args``
  optional), ``GetFile`` needs ``Path``; commands go in that order (repeats allowed). One live response action per
  machine at a time: another while one is pending or running is 400 ``ActiveRequestAlreadyExists``. Answers 201 with
  the machine action (type ``LiveResponse``) and its ``commands``.
* The action moves like every machine action, with steps twice as long (``action_step_seconds`` x 2: Pending,
  InProgress, then Succeeded or Failed). Its ID is predictable like every machine action's (see
  ``MdeStore.next_action_id``), so documentation examples can name an action an earlier example started. Each
  command carries ``index``, ``startTime``, ``endTime``, ``commandStatus`` (Created, InProgress, Completed, Failed,
  Cancelled) and ``errors``. A command fails when its file or script is not in the live response
  library, when the machine is broken, or when an admin hook asked for it; the commands after a failed one never run.
* ``GET /api/machineactions/{id}/GetLiveResponseResultDownloadLink(index=N)`` (``Machine.Read.All``,
  ``Machine.ReadWrite.All``, ``Machine.LiveResponse``) -> ``{"value": "<SAS URL>"}`` once command N completed
  (GetFile and RunScript only). The URL is valid for 30 minutes, carries its own signature and must be fetched
  without an ``Authorization`` header (storage refuses one next to a SAS, 403 ``AuthenticationFailed``).
* The download serves, for GetFile, a gzip of :func:`get_file_content` (the path alone decides the bytes, and the gzip
  header has no time or name, so a test can recompute them); for RunScript, the JSON
  ``{"script_name", "exit_code", "script_output", "script_errors"}`` of :func:`script_result`.
* Cancelling uses the shared ``POST /api/machineactions/{id}/cancel`` route of defender_endpoint.

Admin (``/_emulator/mde/live-response/...``, no token): ``GET``/``POST library`` ``{"name"}`` (list / add a file),
``POST fail-next`` ``{"type": "RunScript"|"GetFile"|"PutFile", "errors": [...]?}`` (the next command of that type
fails), ``GET results/{action_id}/{index}`` (the bytes a download would serve, for tests).
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..adminkit import AdminError, admin_handler
from ..adminkit import json_body as admin_json
from ..context import EmuRoute
from ..core.api import ApiModule
from ..core.clock import TICKS_PER_SECOND, format_time, now_ticks, parse_time
from ..core.http import acting_identity, base_url, defender_error, json_body
from ..ratelimits import MDE_DEFAULT, RateLimitRule
from ..tokens import Principal
from .actions import action_or_404, action_raw, render_action
from .common import bad_body, odata_context, request_store
from .machines import machine_or_404
from .store import ActiveRequestExists, MachineAction, MdeStore

COMMAND_ORDER = ('PutFile', 'RunScript', 'GetFile')
PARAMS = {'PutFile': ({'FileName'}, set()), 'RunScript': ({'ScriptName'}, {'Args'}), 'GetFile': ({'Path'}, set())}
DEFAULT_LIBRARY = ('minidump.ps1', 'collect-logs.ps1', 'Get-Processes.ps1', 'cleanup.sh', 'tools.zip',
                   'remediation.ps1')
LINK_SECONDS = 30 * 60
UNREACHABLE = 'The device could not be reached: the command was not delivered.'
LR_MINUTE = RateLimitRule('mde-live-response-minute', 10, 60, path_regex=r'/runliveresponse$', methods=('POST',))
LIVE_RESPONSE_READ = ['Machine.Read.All', 'Machine.ReadWrite.All', 'Machine.LiveResponse', 'Machine.Read',
                      'Machine.ReadWrite']
LIVE_RESPONSE = ['Machine.LiveResponse']
LIVE_STEPS = 2            # a live response takes twice as long as other machine actions in each status
_SIGNING_KEY = secrets.token_bytes(32)


class _LiveResponseModule(ApiModule):
    """The live response routes, plus the result downloads (host ``blob``) and the admin hooks."""

    def starlette_routes(self) -> list[EmuRoute]:
        def admin(path: str, fn: Any, methods: list[str]) -> EmuRoute:
            return EmuRoute(f'/_emulator/mde/live-response{path}', admin_handler(fn), host='admin', methods=methods)

        return [*super().starlette_routes(),
                EmuRoute('/_emulator/blob/live-response/{action_id}/{index}/{name}', download, host='blob',
                         methods=['GET']),
                admin('/library', library, ['GET', 'POST']),
                admin('/fail-next', fail_next, ['POST']),
                admin('/results/{action_id}/{index}', stored_result, ['GET'])]


module = _LiveResponseModule('mde_live_response', host='mde', audiences=('mde',), error_style='defender',
                             rate_limits=[*MDE_DEFAULT, LR_MINUTE])


# ----- state --------------------------------------------------------------------------------------------------------

@dataclass
class LiveState:
    """Per store (cleared with it): the library and the failures asked for by the admin hook."""
    library: set[str] = field(default_factory=lambda: {n.lower() for n in DEFAULT_LIBRARY})
    fail_next: dict[str, list[str]] = field(default_factory=dict)      # command type -> errors


def live_state(store: MdeStore) -> LiveState:
    with store.lock:
        state = store.extensions.get('live_response')
        if state is None:
            state = store.extensions['live_response'] = LiveState()
        return state


@dataclass
class LiveCommand:
    type: str
    params: list[dict[str, str]]
    errors: list[str] = field(default_factory=list)   # non-empty: this command fails

    def param(self, key: str) -> str:
        return next((p['value'] for p in self.params if p['key'] == key), '')


@dataclass
class LiveResponse:
    """Attached to a LiveResponse MachineAction: what actions.action_raw shows as ``commands``."""
    commands: list[LiveCommand]

    @property
    def failed_index(self) -> int | None:
        return next((i for i, c in enumerate(self.commands) if c.errors), None)

    def commands_at(self, action: MachineAction, now: int) -> list[dict[str, Any]]:
        status = action.status_at(now)
        failed = self.failed_index
        out = []
        for index, command in enumerate(self.commands):
            state, start, end, errors = self._state(action, status, index, failed)
            out.append({'index': index, 'startTime': format_time(start), 'endTime': format_time(end),
                        'commandStatus': state, 'errors': errors,
                        'command': {'type': command.type, 'params': [dict(p) for p in command.params]}})
        return out

    def _state(self, action: MachineAction, status: str, index: int,
               failed: int | None) -> tuple[str, int | None, int | None, list[str]]:
        started, finished = action.created + action.step, action.created + 2 * action.step
        if status == 'Pending':
            return 'Created', None, None, []
        if status == 'InProgress':
            return ('InProgress', started, None, []) if index == 0 else ('Created', None, None, [])
        if status == 'Cancelled':
            return 'Cancelled', None, action.cancelled, []
        if failed is not None and index > failed:
            return 'Created', None, None, []            # never ran: a command before it failed
        if failed is not None and index == failed:
            return 'Failed', started, finished, list(self.commands[index].errors)
        return 'Completed', started, finished, []


# ----- results ------------------------------------------------------------------------------------------------------

def get_file_content(path: str) -> bytes:
    """What GetFile "collects" for a path: text that names the path, the same bytes every time."""
    digest = hashlib.sha256(path.encode('utf-8')).hexdigest()
    return (f'Live response GetFile result (emulated)\r\nPath: {path}\r\nSHA-256 of the path: {digest}\r\n'
            ).encode()


def get_file_gzip(path: str) -> bytes:
    """The gzip the download serves: no file name and a zero time in the header, so the bytes are reproducible."""
    return gzip.compress(get_file_content(path), compresslevel=9, mtime=0)


def script_result(script: str, args: str) -> dict[str, Any]:
    shown = f' {args}' if args else ''
    return {'script_name': script, 'exit_code': 0,
            'script_output': f'Ran {script}{shown}: completed.', 'script_errors': ''}


def result_bytes(command: LiveCommand) -> bytes:
    if command.type == 'GetFile':
        return get_file_gzip(command.param('Path'))
    return json.dumps(script_result(command.param('ScriptName'), command.param('Args'))).encode('utf-8')


# ----- validation ---------------------------------------------------------------------------------------------------

def _field(body: dict[str, Any], name: str) -> Any:
    """ASP.NET binds JSON properties case-insensitively."""
    return next((v for k, v in body.items() if isinstance(k, str) and k.lower() == name.lower()), None)


def parse_command(raw: Any, position: int) -> LiveCommand:
    if not isinstance(raw, dict):
        raise ValueError(f'Commands[{position}] must be an object with type and params')
    kind_raw = _field(raw, 'type')
    kind = next((k for k in COMMAND_ORDER if isinstance(kind_raw, str) and k.lower() == kind_raw.lower()), None)
    if kind is None:
        raise ValueError(f"Commands[{position}].type '{kind_raw}' is not valid. Valid values are: "
                         f"{', '.join(COMMAND_ORDER)}.")
    params_raw = _field(raw, 'params')
    if not isinstance(params_raw, list):
        raise ValueError(f'Commands[{position}].params must be a list of key/value pairs')
    required, optional = PARAMS[kind]
    params: list[dict[str, str]] = []
    for item in params_raw:
        key, value = (_field(item, 'key'), _field(item, 'value')) if isinstance(item, dict) else (None, None)
        name = next((k for k in required | optional if isinstance(key, str) and k.lower() == key.lower()), None)
        if name is None:
            raise ValueError(f"Commands[{position}]: '{key}' is not a parameter of {kind}. Valid parameters: "
                             f"{', '.join(sorted(required | optional))}.")
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f'Commands[{position}]: the value of {name} must be a non-empty string')
        if any(p['key'] == name for p in params):
            raise ValueError(f'Commands[{position}]: {name} is given twice')
        params.append({'key': name, 'value': value})
    missing = required - {p['key'] for p in params}
    if missing:
        raise ValueError(f"Commands[{position}]: {kind} needs the parameter {', '.join(sorted(missing))}")
    return LiveCommand(kind, params)


def parse_request(body: Any) -> tuple[list[LiveCommand], str]:
    if not isinstance(body, dict):
        raise ValueError('Request body is incorrect')
    comment = _field(body, 'Comment')
    if not isinstance(comment, str) or not comment.strip():
        raise ValueError('Comment is required')
    raw = _field(body, 'Commands')
    if not isinstance(raw, list) or not raw:
        raise ValueError('Commands must be a non-empty list')
    commands = [parse_command(c, i) for i, c in enumerate(raw)]
    ranks = [COMMAND_ORDER.index(c.type) for c in commands]
    if ranks != sorted(ranks):
        raise ValueError(f"Commands must be in the order {', '.join(COMMAND_ORDER)}")
    return commands, comment


def plan_failures(commands: list[LiveCommand], state: LiveState, broken: bool) -> None:
    """Decide now which command fails (the first one that would), so every later read tells the same story."""
    for command in commands:
        if broken:
            command.errors = [UNREACHABLE]
        elif command.type in state.fail_next:
            command.errors = state.fail_next.pop(command.type) or [f'{command.type} failed on the device.']
        elif command.type == 'PutFile' and command.param('FileName').lower() not in state.library:
            command.errors = [f"File '{command.param('FileName')}' was not found in the live response library."]
        elif command.type == 'RunScript' and command.param('ScriptName').lower() not in state.library:
            command.errors = [f"Script '{command.param('ScriptName')}' was not found in the live response library."]
        if command.errors:
            return


# ----- routes -------------------------------------------------------------------------------------------------------

@module.route('/api/machines/{machine_id}/runliveresponse', methods=['POST'], permissions=LIVE_RESPONSE)
@module.route('/api/machines/{machine_id}/Runliveresponse', methods=['POST'], permissions=LIVE_RESPONSE)
@module.route('/api/machines/{machine_id}/runLiveResponse', methods=['POST'], permissions=LIVE_RESPONSE)
@module.route('/api/machines/{machine_id}/RunLiveResponse', methods=['POST'], permissions=LIVE_RESPONSE)
async def run_live_response(request: Request, principal: Principal) -> Response:
    try:
        commands, comment = parse_request(await json_body(request))
    except ValueError as exc:
        return bad_body(str(exc))
    store = request_store(request)
    with store.lock:
        machine = machine_or_404(store, request.path_params['machine_id'])
        if isinstance(machine, JSONResponse):
            return machine
        if machine.onboarding_status == 'Offboarded':
            return defender_error(400, 'InvalidRequest', f'Machine {machine.id} is offboarded')
        try:
            action = store.create_action(machine, 'LiveResponse', requestor=acting_identity(principal),
                                         comment=comment, title=f'Live response on {machine.computer_dns_name}')
        except ActiveRequestExists:
            return defender_error(400, 'ActiveRequestAlreadyExists', 'Action is already in progress')
        plan_failures(commands, live_state(store), machine.broken)
        action.live = LiveResponse(commands)
        action.fail = any(c.errors for c in commands)
        action.step *= LIVE_STEPS
        raw = action_raw(action, now_ticks())
    return JSONResponse({'@odata.context': odata_context(request, 'MachineActions/$entity'), **render_action(raw)},
                        status_code=201)


def _signature(action_id: str, index: int, expiry: str) -> str:
    mac = hmac.new(_SIGNING_KEY, f'{action_id}/{index}/{expiry}'.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip('=')


def _command_or_error(store: MdeStore, action_id: str, raw_index: str) -> tuple[MachineAction, int] | JSONResponse:
    action = action_or_404(store, action_id)
    if isinstance(action, JSONResponse):
        return action
    if action.live is None:
        return defender_error(400, 'InvalidRequest', f'Machine action {action.id} is not a live response action')
    if not re.fullmatch(r'\d+', raw_index) or int(raw_index) >= len(action.live.commands):
        return defender_error(400, 'InvalidRequest', f"Command index '{raw_index}' is out of range: live response "
                                                     f'action {action.id} has {len(action.live.commands)} command(s)')
    return action, int(raw_index)


@module.route('/api/machineactions/{action_id}/GetLiveResponseResultDownloadLink(index={index})',
              permissions=LIVE_RESPONSE_READ)
@module.route('/api/machineactions/{action_id}/getliveresponseresultdownloadlink(index={index})',
              permissions=LIVE_RESPONSE_READ)
@module.route('/api/machineactions/{action_id}/getLiveResponseResultDownloadLink(index={index})',
              permissions=LIVE_RESPONSE_READ)
async def result_link(request: Request, principal: Principal) -> Response:
    store = request_store(request)
    with store.lock:
        found = _command_or_error(store, request.path_params['action_id'], request.path_params['index'])
        if isinstance(found, JSONResponse):
            return found
        action, index = found
        command = action.live.commands[index]
        status = action.live.commands_at(action, now_ticks())[index]['commandStatus']
        if command.type == 'PutFile':
            return defender_error(400, 'InvalidRequest', f'Command {index} (PutFile) has no result to download')
        if status != 'Completed':
            return defender_error(404, 'ResourceNotFound', f'The result of command {index} of live response action '
                                                           f'{action.id} is not available (command status {status})')
    expiry = format_time(now_ticks() + LINK_SECONDS * TICKS_PER_SECOND) or ''
    name = 'response.gz' if command.type == 'GetFile' else 'response.json'
    url = (f'{base_url(request)}/_emulator/blob/live-response/{action.id}/{index}/{name}?sv=2020-08-04&se='
           f'{quote(expiry)}&sr=b&sp=r&sig={_signature(action.id, index, expiry)}')
    return JSONResponse({'@odata.context': odata_context(request, 'Edm.String'), 'value': url})


def _storage_error(status: int, code: str, message: str) -> Response:
    body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}</Message>'
            f'</Error>')
    return Response(body, status_code=status, media_type='application/xml')


async def download(request: Request) -> Response:
    """The storage side of a result link: a SAS, checked like Azure Storage checks one (signature, expiry)."""
    if request.headers.get('authorization'):
        return _storage_error(403, 'AuthenticationFailed', 'A request with a shared access signature must not '
                                                           'carry an Authorization header.')
    action_id, raw_index = request.path_params['action_id'], request.path_params['index']
    expiry, sig = request.query_params.get('se', ''), request.query_params.get('sig', '')
    index = int(raw_index) if raw_index.isdigit() else -1
    if not sig or not hmac.compare_digest(sig, _signature(action_id, index, expiry)):
        return _storage_error(403, 'AuthenticationFailed', 'Signature did not match.')
    try:
        expired = parse_time(expiry) < now_ticks()
    except ValueError:
        expired = True
    if expired:
        return _storage_error(403, 'AuthenticationFailed', 'Signed expiry time has passed.')
    store = request_store(request)
    with store.lock:
        found = _command_or_error(store, action_id, raw_index)
        if isinstance(found, JSONResponse):
            return _storage_error(404, 'BlobNotFound', 'The specified blob does not exist.')
        action, index = found
        data = result_bytes(action.live.commands[index])
    kind = 'application/gzip' if action.live.commands[index].type == 'GetFile' else 'application/json'
    return Response(data, media_type=kind)


# ----- admin --------------------------------------------------------------------------------------------------------

async def library(request: Request) -> Response:
    store = request_store(request)
    state = live_state(store)
    if request.method == 'POST':
        name = (await admin_json(request)).get('name')
        if not isinstance(name, str) or not name.strip():
            raise AdminError('name must be a non-empty string')
        with store.lock:
            state.library.add(name.strip().lower())
    return JSONResponse(sorted(state.library))


async def fail_next(request: Request) -> Response:
    body = await admin_json(request)
    kind = body.get('type')
    if kind not in COMMAND_ORDER:
        raise AdminError(f"type must be one of {', '.join(COMMAND_ORDER)}")
    errors = body.get('errors') or [f'{kind} failed on the device.']
    if not isinstance(errors, list) or not all(isinstance(e, str) for e in errors):
        raise AdminError('errors must be a list of strings')
    store = request_store(request)
    with store.lock:
        live_state(store).fail_next[kind] = list(errors)
    return JSONResponse({'type': kind, 'errors': errors})


async def stored_result(request: Request) -> Response:
    store = request_store(request)
    with store.lock:
        found = _command_or_error(store, request.path_params['action_id'], request.path_params['index'])
        if isinstance(found, JSONResponse):
            raise AdminError('no such live response command', 404)
        action, index = found
        return Response(result_bytes(action.live.commands[index]), media_type='application/octet-stream')
