"""The Microsoft Defender for Endpoint API (``https://api.securitycenter.microsoft.com``, logical host ``mde``), as
documented under "Microsoft Defender for Endpoint APIs": machines, machine actions, investigations, files, domains,
IPs, indicators, alerts and advanced hunting, each with the application permission its page documents.

OData: ``$filter`` (eq ne gt ge lt le, ``in (...)``, ``startswith/endswith/contains(prop,'x')``,
``machineTags/any(t: t eq 'x')``; and, or, not, parentheses; strings compare case-insensitively), ``$top`` (at most
10,000, the documented maximum and default page), ``$skip``, ``$orderby`` where documented; ``@odata.nextLink`` (a
``$skip`` link) while more remain. Errors are ``{"error": {"code", "message", "target"}}``.

Machine actions change status over time (see mde_store); the admin routes are in mde_admin.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..context import EmuRoute, emulator_context
from ..core.api import ApiModule
from ..core.clock import TICKS_PER_SECOND, format_time, now_ticks, parse_time
from ..core.http import acting_identity, base_url, defender_error, json_body, next_link
from ..core.hunting import hunting_stats
from ..core.kql import KqlError, run_query
from ..ratelimits import MDE_DEFAULT, MDE_HUNTING
from ..tokens import Principal
from .hunting import hunting_view
from .store import (
    ALERT_CLASSIFICATIONS,
    ALERT_DETERMINATIONS,
    ALERT_STATUSES,
    FAILED_HRESULT,
    INDICATOR_ACTIONS,
    INDICATOR_SEVERITIES,
    INDICATOR_TYPES,
    ActiveRequestExists,
    Investigation,
    Machine,
    MachineAction,
    MdeStore,
    NotFound,
    get_store,
)

MAX_TOP = 10_000
HUNTING_WINDOW = 30 * 86400 * TICKS_PER_SECOND
MAX_IMPORT = 500

# Application roles and their delegated counterparts (Microsoft's permission tables list both for each API).
MACHINE_READ = ['Machine.Read.All', 'Machine.ReadWrite.All', 'Machine.Read', 'Machine.ReadWrite']
MACHINE_WRITE = ['Machine.ReadWrite.All', 'Machine.ReadWrite']
ALERT_READ = ['Alert.Read.All', 'Alert.ReadWrite.All', 'Alert.Read', 'Alert.ReadWrite']
ALERT_WRITE = ['Alert.ReadWrite.All', 'Alert.ReadWrite']
TI = ['Ti.ReadWrite', 'Ti.ReadWrite.All']
TI_READ = ['Ti.Read.All', 'Ti.Read', 'Ti.ReadWrite', 'Ti.ReadWrite.All']
CANCEL = ['Machine.CollectForensics', 'Machine.Isolate', 'Machine.RestrictExecution', 'Machine.Scan',
          'Machine.Offboard', 'Machine.StopAndQuarantine', 'Machine.LiveResponse']


class _DefenderEndpointModule(ApiModule):
    """The MDE module, which also mounts the store's admin routes (no token needed)."""

    def starlette_routes(self) -> list[EmuRoute]:
        from .admin import routes as admin_routes
        return [*super().starlette_routes(), *admin_routes()]


module = _DefenderEndpointModule('defender_endpoint', host='mde', audiences=('mde',), error_style='defender',
                                 rate_limits=[*MDE_DEFAULT, *MDE_HUNTING])


def _store(request: Request) -> MdeStore:
    return get_store(emulator_context(request))


def _context(request: Request, entity: str) -> str:
    return f'{base_url(request)}/api/$metadata#{entity}'


def _bad_body(message: str = 'Request body is incorrect') -> JSONResponse:
    return defender_error(400, 'InvalidRequestBody', message)


# ----- OData --------------------------------------------------------------------------------------------------------

class ODataError(ValueError):
    pass


@dataclass(frozen=True)
class Prop:
    name: str
    kind: str                  # string | datetime | number | bool | list


_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<punct>[(),])|(?P<word>[^\s(),']+))")
_FUNCTIONS = ('startswith', 'endswith', 'contains')
_OPS = ('eq', 'ne', 'gt', 'ge', 'lt', 'le')


class Node:
    def test(self, item: dict[str, Any]) -> bool:
        raise NotImplementedError


@dataclass
class Compare(Node):
    prop: Prop
    op: str
    value: Any

    def test(self, item: dict[str, Any]) -> bool:
        actual = _norm(item.get(self.prop.name), self.prop)
        if self.prop.kind == 'list':
            return False
        return _compare(actual, self.op, self.value)


@dataclass
class AnyLambda(Node):
    prop: Prop
    op: str
    value: Any

    def test(self, item: dict[str, Any]) -> bool:
        values = item.get(self.prop.name) or []
        return any(_compare(_norm(v, Prop(self.prop.name, 'string')), self.op, self.value) for v in values)


@dataclass
class Function(Node):
    name: str
    prop: Prop
    value: str

    def test(self, item: dict[str, Any]) -> bool:
        actual = item.get(self.prop.name)
        if actual is None:
            return False
        text = str(actual).lower()
        if self.name == 'startswith':
            return text.startswith(self.value)
        if self.name == 'endswith':
            return text.endswith(self.value)
        return self.value in text


@dataclass
class Logical(Node):
    op: str
    left: Node
    right: Node

    def test(self, item: dict[str, Any]) -> bool:
        if self.op == 'and':
            return self.left.test(item) and self.right.test(item)
        return self.left.test(item) or self.right.test(item)


@dataclass
class Negation(Node):
    operand: Node

    def test(self, item: dict[str, Any]) -> bool:
        return not self.operand.test(item)


def _norm(value: Any, prop: Prop) -> Any:
    if isinstance(value, str) and prop.kind == 'string':
        return value.lower()
    return value


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op == 'in':
        return actual in expected
    if op == 'eq':
        return bool(actual == expected)
    if op == 'ne':
        return bool(actual != expected)
    if actual is None or expected is None:
        return False
    try:
        if op == 'gt':
            return bool(actual > expected)
        if op == 'ge':
            return bool(actual >= expected)
        if op == 'lt':
            return bool(actual < expected)
        return bool(actual <= expected)
    except TypeError:
        return False


class FilterParser:
    def __init__(self, text: str, props: dict[str, Prop], type_name: str):
        self.text = text
        self.props = {k.lower(): v for k, v in props.items()}
        self.type_name = type_name
        self.tokens: list[tuple[str, str, int]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                if not text[position:].strip():
                    break
                raise ODataError(f"Syntax error at position {position} in '{text}'.")
            kind = match.lastgroup or 'word'
            self.tokens.append((kind, match.group(kind), match.start(kind)))
            position = match.end()
        self.index = 0

    def error(self, position: int | None = None) -> ODataError:
        if position is None:
            return ODataError(f"Syntax error: unexpected end of the expression '{self.text}'.")
        return ODataError(f"Syntax error at position {position} in '{self.text}'.")

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise self.error()
        self.index += 1
        return token

    def expect(self, punct: str) -> None:
        token = self.take()
        if token[1] != punct:
            raise self.error(token[2])

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == 'word' and token[1].lower() == word:
            self.index += 1
            return True
        return False

    def parse(self) -> Node:
        if not self.tokens:
            raise ODataError('The $filter expression must not be empty.')
        node = self.expression()
        token = self.peek()
        if token is not None:
            raise self.error(token[2])
        return node

    def expression(self) -> Node:
        node = self.conjunction()
        while self.keyword('or'):
            node = Logical('or', node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.unary()
        while self.keyword('and'):
            node = Logical('and', node, self.unary())
        return node

    def unary(self) -> Node:
        if self.keyword('not'):
            return Negation(self.unary())
        token = self.peek()
        if token is not None and token[1] == '(':
            self.take()
            node = self.expression()
            self.expect(')')
            return node
        if token is not None and token[0] == 'word' and token[1].lower() in _FUNCTIONS:
            following = self.tokens[self.index + 1] if self.index + 1 < len(self.tokens) else None
            if following is not None and following[1] == '(':
                return self.function()
        return self.comparison()

    def prop(self, name: str) -> Prop:
        prop = self.props.get(name.lower())
        if prop is None:
            raise ODataError(f"Could not find a property named '{name}' on type '{self.type_name}'.")
        return prop

    def function(self) -> Node:
        name = self.take()[1].lower()
        self.expect('(')
        kind, prop_name, position = self.take()
        if kind != 'word':
            raise self.error(position)
        prop = self.prop(prop_name)
        self.expect(',')
        kind, raw, position = self.take()
        if kind != 'string':
            raise ODataError(f"The function '{name}' expects a string literal (at position {position} in "
                             f"'{self.text}').")
        self.expect(')')
        return Function(name, prop, raw[1:-1].replace("''", "'").lower())

    def comparison(self) -> Node:
        kind, name, position = self.take()
        if kind != 'word':
            raise self.error(position)
        if '/' in name:
            collection, _, operator = name.partition('/')
            if operator.lower() != 'any':
                raise ODataError(f"The lambda operator '{operator}' is not supported (at position {position} in "
                                 f"'{self.text}').")
            return self.lambda_any(self.prop(collection))
        prop = self.prop(name)
        op_kind, op_raw, op_position = self.take()
        op = op_raw.lower()
        if op == 'in':
            self.expect('(')
            values = [self.literal(prop)]
            while True:
                token = self.take()
                if token[1] == ')':
                    break
                if token[1] != ',':
                    raise self.error(token[2])
                values.append(self.literal(prop))
            return Compare(prop, 'in', values)
        if op not in _OPS:
            raise ODataError(f"Syntax error: '{op_raw}' is not a supported operator (at position {op_position} in "
                             f"'{self.text}').")
        return Compare(prop, op, self.literal(prop))

    def lambda_any(self, prop: Prop) -> Node:
        if prop.kind != 'list':
            raise ODataError(f"The 'any' operator requires a collection property; '{prop.name}' is not one.")
        self.expect('(')
        variable = self.take()[1].rstrip(':')
        token = self.peek()
        if token is not None and token[1] == ':':
            self.take()
        kind, used, position = self.take()
        if used.lower() != variable.lower():
            raise ODataError(f"Could not find a property named '{used}' on the lambda variable (at position "
                             f"{position} in '{self.text}').")
        op = self.take()[1].lower()
        if op not in _OPS:
            raise ODataError(f"Syntax error: '{op}' is not a supported operator in '{self.text}'.")
        value = self.literal(Prop(prop.name, 'string'))
        self.expect(')')
        return AnyLambda(prop, op, value)

    def literal(self, prop: Prop) -> Any:
        kind, raw, position = self.take()
        if kind == 'punct':
            raise self.error(position)
        quoted = kind == 'string'
        value = raw[1:-1].replace("''", "'") if quoted else raw
        if not quoted and raw.lower() == 'null':
            return None
        if prop.kind == 'datetime':
            try:
                return parse_time(value)
            except ValueError as exc:
                raise ODataError(f"The DateTimeOffset text '{value}' should be in format "
                                 f"'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid "
                                 f"range.") from exc
        if prop.kind == 'number':
            try:
                return float(value) if "." in value else int(value)
            except ValueError as exc:
                raise ODataError(f"'{value}' is not a valid value for the property '{prop.name}'.") from exc
        if prop.kind == 'bool':
            if value.lower() not in ('true', 'false'):
                raise ODataError(f"'{value}' is not a valid value for the property '{prop.name}'.")
            return value.lower() == 'true'
        if not quoted:
            raise ODataError(f"Syntax error: the value '{raw}' for '{prop.name}' must be a quoted string (at "
                             f"position {position} in '{self.text}').")
        return value.lower()


def time_bounds(node: Node | None, name: str) -> tuple[int | None, int | None]:
    """The inclusive range a top-level ``and`` chain puts on a date-time property (to bisect an index)."""
    low: int | None = None
    high: int | None = None

    def walk(n: Node | None) -> None:
        nonlocal low, high
        if isinstance(n, Logical) and n.op == 'and':
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Compare) and n.prop.name == name and isinstance(n.value, int):
            if n.op in ('gt', 'ge', 'eq'):
                low = n.value if low is None else max(low, n.value)
            if n.op in ('lt', 'le', 'eq'):
                high = n.value if high is None else min(high, n.value)

    walk(node)
    return low, high


@dataclass
class Query:
    node: Node | None
    top: int
    skip: int
    order: list[tuple[str, bool]]
    top_given: bool


def _count(name: str, raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise ODataError(f"Invalid value '{raw}' for {name} query option found. The {name} query option requires a "
                         f"non-negative integer value.")
    return value


def parse_query(request: Request, props: dict[str, Prop], type_name: str,
                orderable: tuple[str, ...] = ()) -> Query:
    options = {k.lower(): v for k, v in request.query_params.items() if k.startswith('$')}
    top = _count('$top', options.get('$top'))
    skip = _count('$skip', options.get('$skip')) or 0
    if top is not None and top > MAX_TOP:
        raise ODataError(f"The limit of '{MAX_TOP}' for Top query has been exceeded. The value from the incoming "
                         f"request is '{top}'.")
    node = FilterParser(options['$filter'], props, type_name).parse() if '$filter' in options else None
    order: list[tuple[str, bool]] = []
    if '$orderby' in options:
        allowed = {o.lower(): o for o in orderable}
        for part in options['$orderby'].split(','):
            words = part.split()
            if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ('asc', 'desc')):
                raise ODataError(f"Syntax error in $orderby: '{options['$orderby']}'.")
            if words[0].lower() not in allowed:
                raise ODataError(f"Order by '{words[0]}' is not allowed. Allowed properties: "
                                 f"{', '.join(orderable) or 'none'}.")
            order.append((allowed[words[0].lower()], len(words) == 2 and words[1].lower() == 'desc'))
    return Query(node, MAX_TOP if top is None else top, skip, order, top is not None)


def _odata_error(exc: Exception) -> JSONResponse:
    return defender_error(400, 'ODataError', f'Invalid OData URI query - {exc}')


def _sort(items: list[dict[str, Any]], order: list[tuple[str, bool]], tie: str = 'id') -> list[dict[str, Any]]:
    for name, descending in reversed(order + [(tie, False)] if order else []):
        present = [i for i in items if i.get(name) is not None]
        missing = [i for i in items if i.get(name) is None]
        present.sort(key=lambda i, n=name: i[n], reverse=descending)   # type: ignore[misc]
        items = present + missing
    return items


def page(request: Request, path: str, entity: str, items: list[dict[str, Any]], query: Query,
         render: Callable[[dict[str, Any]], dict[str, Any]]) -> JSONResponse:
    """One page of a collection: ``$filter``, ``$orderby`` (ties by id), ``$skip``/``$top`` and the next link."""
    if query.node is not None:
        items = [i for i in items if query.node.test(i)]
    items = _sort(list(items), query.order)
    selected = items[query.skip:query.skip + query.top]
    body: dict[str, Any] = {'@odata.context': _context(request, entity), 'value': [render(i) for i in selected]}
    if query.top and query.skip + query.top < len(items):
        body['@odata.nextLink'] = next_link(request, path, query.skip + query.top)
    return JSONResponse(body)


def _format_times(record: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    out = dict(record)
    for name in names:
        if name in out and isinstance(out[name], int) and not isinstance(out[name], bool):
            out[name] = format_time(out[name])
    return out


# ----- machines -----------------------------------------------------------------------------------------------------

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
    return _format_times(raw, MACHINE_TIMES)


def _machine_or_404(store: MdeStore, key: str) -> Machine | JSONResponse:
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
        return _odata_error(exc)
    store = _store(request)
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
    store = _store(request)
    with store.lock:
        found = [machine_raw(m) for m in store.machines.values()
                 if m.last_ip == ip and m.first_seen - margin <= when and when <= max(now, m.last_seen) + margin]
    return JSONResponse({'@odata.context': _context(request, 'Machines'),
                         'value': [render_machine(m) for m in found]})


@module.route('/api/machines/{machine_id}', permissions=MACHINE_READ)
async def get_machine(request: Request, principal: Principal) -> Response:
    store = _store(request)
    with store.lock:
        machine = _machine_or_404(store, request.path_params['machine_id'])
        if isinstance(machine, JSONResponse):
            return machine
        raw = machine_raw(machine)
    return JSONResponse({'@odata.context': _context(request, 'Machines/$entity'), **render_machine(raw)})


USER_TIMES = ('firstSeen', 'lastSeen')


@module.route('/api/machines/{machine_id}/logonusers', permissions=['User.Read.All', 'User.Read'])
async def logon_users(request: Request, principal: Principal) -> Response:
    store = _store(request)
    with store.lock:
        machine = _machine_or_404(store, request.path_params['machine_id'])
        if isinstance(machine, JSONResponse):
            return machine
        users = [_format_times(u, USER_TIMES) for u in machine.logon_users]
    return JSONResponse({'@odata.context': _context(request, 'Users'), 'value': users})


@module.route('/api/machines/{machine_id}/tags', methods=['POST'], permissions=MACHINE_WRITE)
async def machine_tags(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        return _bad_body()
    value, action = body.get('Value'), body.get('Action')
    if not isinstance(value, str) or not value.strip():
        return _bad_body('Value is required')
    if not isinstance(action, str) or action.lower() not in ('add', 'remove'):
        return _bad_body("Action must be 'Add' or 'Remove'")
    if len(value) > 200:
        return _bad_body('Tag value is too long (maximum 200 characters)')
    store = _store(request)
    with store.lock:
        machine = _machine_or_404(store, request.path_params['machine_id'])
        if isinstance(machine, JSONResponse):
            return machine
        if action.lower() == 'add' and value not in machine.tags:
            machine.tags.append(value)
        elif action.lower() == 'remove' and value in machine.tags:
            machine.tags.remove(value)
        store.bump()
        raw = machine_raw(machine)
    return JSONResponse({'@odata.context': _context(request, 'Machines/$entity'), **render_machine(raw)})


def _related(request: Request, machine_ids: list[str]) -> JSONResponse:
    store = _store(request)
    with store.lock:
        items = [machine_raw(store.machines[i]) for i in machine_ids if i in store.machines]
    return JSONResponse({'@odata.context': _context(request, 'Machines'),
                         'value': [render_machine(i) for i in items]})


@module.route('/api/files/{file_hash}/machines', permissions=MACHINE_READ)
async def file_machines(request: Request, principal: Principal) -> Response:
    store = _store(request)
    observation = store.files.get(request.path_params['file_hash'].lower())
    return _related(request, observation.machine_ids if observation else [])


@module.route('/api/domains/{domain}/machines', permissions=MACHINE_READ)
async def domain_machines(request: Request, principal: Principal) -> Response:
    store = _store(request)
    observation = store.domains.get(request.path_params['domain'].lower())
    return _related(request, observation.machine_ids if observation else [])


@module.route('/api/users/{user}/machines', permissions=MACHINE_READ)
async def user_machines(request: Request, principal: Principal) -> Response:
    wanted = request.path_params['user'].lower()
    wanted = wanted.split('\\')[-1].split('@')[0]
    store = _store(request)
    with store.lock:
        ids = [m.id for m in store.machines.values()
               if any(u['accountName'].lower() == wanted for u in m.logon_users)]
    return _related(request, ids)


# ----- machine actions ----------------------------------------------------------------------------------------------

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
    return _format_times(raw, ACTION_TIMES)


@dataclass(frozen=True)
class ActionSpec:
    path: str
    type: str
    permissions: tuple[str, ...]
    scope_field: str | None = None
    scopes: tuple[str, ...] = ()
    scope_required: bool = False
    default_scope: str | None = None


ACTION_SPECS = [
    ActionSpec('isolate', 'Isolate', ('Machine.Isolate',), 'IsolationType', ('Full', 'Selective', 'UnManagedDevice'),
               default_scope='Full'),
    ActionSpec('unisolate', 'Unisolate', ('Machine.Isolate',)),
    ActionSpec('runAntiVirusScan', 'RunAntiVirusScan', ('Machine.Scan',), 'ScanType', ('Quick', 'Full'),
               scope_required=True),
    ActionSpec('restrictCodeExecution', 'RestrictCodeExecution', ('Machine.RestrictExecution',)),
    ActionSpec('unrestrictCodeExecution', 'UnrestrictCodeExecution', ('Machine.RestrictExecution',)),
    ActionSpec('stopAndQuarantineFile', 'StopAndQuarantineFile', ('Machine.StopAndQuarantine',)),
    ActionSpec('collectInvestigationPackage', 'CollectInvestigationPackage', ('Machine.CollectForensics',)),
    ActionSpec('offboard', 'Offboard', ('Machine.Offboard',)),
]
_SHA1 = re.compile(r'^[0-9a-fA-F]{40}$')


def _spellings(segment: str) -> list[str]:
    """The documented spelling and the ones clients use (ASP.NET routes are case-insensitive)."""
    out = [segment]
    for variant in (segment.lower(), segment[0].upper() + segment[1:], segment[0].lower() + segment[1:]):
        if variant not in out:
            out.append(variant)
    return out


def _action_handler(spec: ActionSpec) -> Callable[[Request, Principal], Any]:
    async def handler(request: Request, principal: Principal) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict):
            return _bad_body()
        comment = body.get('Comment')
        if not isinstance(comment, str) or not comment.strip():
            return _bad_body('Comment is required')
        scope: str | None = None
        if spec.scope_field:
            raw_scope = body.get(spec.scope_field)
            if raw_scope is None:
                if spec.scope_required:
                    return _bad_body(f'{spec.scope_field} is required')
                scope = spec.default_scope
            else:
                scope = next((s for s in spec.scopes if isinstance(raw_scope, str) and s.lower() == raw_scope.lower()),
                             None)
                if scope is None:
                    return _bad_body(f"{spec.scope_field} '{raw_scope}' is not valid. Valid values are: "
                                     f"{', '.join(spec.scopes)}.")
        related = None
        if spec.type == 'StopAndQuarantineFile':
            sha1 = body.get('Sha1')
            if not isinstance(sha1, str) or not _SHA1.match(sha1):
                return _bad_body('Sha1 must be a valid SHA-1 hash')
            related = {'fileIdentifier': sha1.lower(), 'fileIdentifierType': 'Sha1'}
        external_id = body.get('ExternalID') if isinstance(body.get('ExternalID'), str) else None
        store = _store(request)
        with store.lock:
            machine = _machine_or_404(store, request.path_params['machine_id'])
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
        return JSONResponse({'@odata.context': _context(request, 'MachineActions/$entity'), **render_action(raw)},
                            status_code=201)
    handler.__name__ = f'action_{spec.path}'
    return handler


for _spec in ACTION_SPECS:
    for _segment in _spellings(_spec.path):
        module.add_route(f'/api/machines/{{machine_id}}/{_segment}', _action_handler(_spec), methods=['POST'],
                         permissions=_spec.permissions)


@module.route('/api/machineactions', permissions=MACHINE_READ)
async def list_actions(request: Request, principal: Principal) -> Response:
    try:
        query = parse_query(request, ACTION_PROPS, 'microsoft.windowsDefenderATP.api.MachineAction',
                            orderable=('creationDateTimeUtc', 'lastUpdateDateTimeUtc'))
    except ODataError as exc:
        return _odata_error(exc)
    store = _store(request)
    with store.lock:
        now = now_ticks()
        store.advance(now)
        items = [action_raw(store.actions[i], now) for i in store.action_order]
    return page(request, '/api/machineactions', 'MachineActions', items, query, render_action)


def _action_or_404(store: MdeStore, action_id: str) -> MachineAction | JSONResponse:
    try:
        return store.action(action_id)
    except NotFound:
        return defender_error(404, 'ResourceNotFound', f'Machine action {action_id} was not found')


@module.route('/api/machineactions/{action_id}', permissions=MACHINE_READ)
async def get_action(request: Request, principal: Principal) -> Response:
    store = _store(request)
    with store.lock:
        action = _action_or_404(store, request.path_params['action_id'])
        if isinstance(action, JSONResponse):
            return action
        raw = action_raw(action, now_ticks())
    return JSONResponse({'@odata.context': _context(request, 'MachineActions/$entity'), **render_action(raw)})


async def package_uri(request: Request, principal: Principal) -> Response:
    store = _store(request)
    with store.lock:
        action = _action_or_404(store, request.path_params['action_id'])
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
    return JSONResponse({'@odata.context': _context(request, 'Edm.String'), 'value': url})


for _segment in _spellings('getPackageUri'):
    module.add_route(f'/api/machineactions/{{action_id}}/{_segment}', package_uri, permissions=MACHINE_READ)


async def cancel_action(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        return _bad_body()
    comment = body.get('Comment')
    if not isinstance(comment, str) or not comment.strip():
        return _bad_body('Comment is required')
    store = _store(request)
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
    return JSONResponse({'@odata.context': _context(request, 'MachineActions/$entity'), **render_action(raw)})


for _segment in _spellings('cancel'):
    module.add_route(f'/api/machineactions/{{action_id}}/{_segment}', cancel_action, methods=['POST'],
                     permissions=CANCEL)


# ----- investigations -----------------------------------------------------------------------------------------------

INVESTIGATION_TIMES = ('startTime', 'endTime')
INVESTIGATION_PROPS = {n: Prop(n, k) for n, k in [
    ('id', 'string'), ('startTime', 'datetime'), ('endTime', 'datetime'), ('investigationState', 'string'),
    ('machineId', 'string'), ('computerDnsName', 'string'), ('triggeringAlertId', 'string')]}


def investigation_raw(investigation: Investigation, now: int) -> dict[str, Any]:
    state, end = investigation.state_at(now)
    return {'id': str(investigation.id), 'startTime': investigation.start, 'endTime': end,
            'cancelledBy': investigation.cancelled_by, 'investigationState': state,
            'statusDetails': investigation.status_details, 'machineId': investigation.machine_id,
            'computerDnsName': investigation.computer_dns_name,
            'triggeringAlertId': investigation.triggering_alert_id}


def render_investigation(raw: dict[str, Any]) -> dict[str, Any]:
    return _format_times(raw, INVESTIGATION_TIMES)


@module.route('/api/investigations', permissions=ALERT_READ)
async def list_investigations(request: Request, principal: Principal) -> Response:
    try:
        query = parse_query(request, INVESTIGATION_PROPS, 'microsoft.windowsDefenderATP.api.Investigation',
                            orderable=('startTime', 'endTime'))
    except ODataError as exc:
        return _odata_error(exc)
    store = _store(request)
    now = now_ticks()
    with store.lock:
        items = [investigation_raw(i, now) for i in sorted(store.investigations.values(), key=lambda i: i.id)]
    return page(request, '/api/investigations', 'Investigations', items, query, render_investigation)


@module.route('/api/investigations/{investigation_id}', permissions=ALERT_READ)
async def get_investigation(request: Request, principal: Principal) -> Response:
    raw_id = request.path_params['investigation_id']
    store = _store(request)
    with store.lock:
        investigation = store.investigations.get(int(raw_id)) if raw_id.isdigit() else None
        if investigation is None:
            return defender_error(404, 'ResourceNotFound', f'Investigation {raw_id} was not found')
        raw = investigation_raw(investigation, now_ticks())
    return JSONResponse({'@odata.context': _context(request, 'Investigations/$entity'),
                         **render_investigation(raw)})


async def start_investigation(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        return _bad_body()
    comment = body.get('Comment')
    if not isinstance(comment, str) or not comment.strip():
        return _bad_body('Comment is required')
    store = _store(request)
    with store.lock:
        machine = _machine_or_404(store, request.path_params['machine_id'])
        if isinstance(machine, JSONResponse):
            return machine
        investigation = store.add_investigation(Investigation(
            id=0, start=now_ticks(), machine_id=machine.id, computer_dns_name=machine.computer_dns_name,
            triggering_alert_id=None, state='Failed' if machine.broken else 'SuccessfullyRemediated',
            step=store.step_ticks(), status_details=comment))
        raw = investigation_raw(investigation, now_ticks())
    return JSONResponse({'@odata.context': _context(request, 'Investigations/$entity'),
                         **render_investigation(raw)}, status_code=201)


for _segment in _spellings('startInvestigation'):
    module.add_route(f'/api/machines/{{machine_id}}/{_segment}', start_investigation, methods=['POST'],
                     permissions=ALERT_WRITE)


# ----- files, domains, IPs ------------------------------------------------------------------------------------------

FILE_FIELDS = ('sha1', 'sha256', 'md5', 'globalPrevalence', 'globalFirstObserved', 'globalLastObserved', 'size',
               'fileType', 'isPeFile', 'filePublisher', 'fileProductName', 'signer', 'issuer', 'signerHash',
               'isValidCertificate', 'determinationType', 'determinationValue')
_HASH = re.compile(r'^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$')


def _lookback(request: Request) -> int | JSONResponse:
    raw = request.query_params.get('lookBackHours')
    if raw is None:
        return 720
    if not raw.isdigit() or not 1 <= int(raw) <= 720:
        return defender_error(400, 'InvalidRequest', 'lookBackHours must be a whole number of hours between 1 and 720')
    return int(raw)


@module.route('/api/files/{file_hash}', permissions=['File.Read.All', 'File.Read'])
async def get_file(request: Request, principal: Principal) -> Response:
    file_hash = request.path_params['file_hash']
    if not _HASH.match(file_hash):
        return defender_error(400, 'InvalidRequest', f'Invalid file hash {file_hash}')
    observation = _store(request).files.get(file_hash.lower())
    if observation is None:
        return defender_error(404, 'ResourceNotFound', f'File {file_hash} was not found')
    out = {k: observation.extra.get(k) for k in FILE_FIELDS}
    out = _format_times(out, ('globalFirstObserved', 'globalLastObserved'))
    return JSONResponse({'@odata.context': _context(request, 'Files/$entity'), **out})


def _org_stats(observation: Any, lookback: int) -> tuple[str, str | None, str | None]:
    if observation is None or observation.last_seen < now_ticks() - lookback * 3600 * TICKS_PER_SECOND:
        return '0', None, None
    return str(len(observation.machine_ids)), format_time(observation.first_seen), format_time(observation.last_seen)


@module.route('/api/files/{file_hash}/stats', permissions=['File.Read.All', 'File.Read'])
async def file_stats(request: Request, principal: Principal) -> Response:
    file_hash = request.path_params['file_hash']
    if not _HASH.match(file_hash):
        return defender_error(400, 'InvalidRequest', f'Invalid file hash {file_hash}')
    lookback = _lookback(request)
    if isinstance(lookback, JSONResponse):
        return lookback
    observation = _store(request).files.get(file_hash.lower())
    prevalence, first, last = _org_stats(observation, lookback)
    extra = observation.extra if observation else {}
    return JSONResponse({
        '@odata.context': _context(request, 'microsoft.windowsDefenderATP.api.InOrgFileStats'),
        'sha1': extra.get('sha1', file_hash.lower() if len(file_hash) == 40 else None),
        # Learn documents the numbers organizationPrevalence and globallyPrevalence; the service also sends the
        # older string counts orgPrevalence and globalPrevalence, which integrations built on it still read.
        'organizationPrevalence': int(prevalence), 'orgPrevalence': prevalence,
        'orgFirstSeen': first, 'orgLastSeen': last,
        'globallyPrevalence': int(extra['globalPrevalence']) if extra else 0,
        'globalPrevalence': str(extra['globalPrevalence']) if extra else '0',
        'globalFirstObserved': format_time(extra.get('globalFirstObserved')),
        'globalLastObserved': format_time(extra.get('globalLastObserved')),
        'topFileNames': list(extra.get('topFileNames', [])),
    })


@module.route('/api/domains/{domain}/stats', permissions=['URL.Read.All', 'Url.Read.All', 'URL.Read', 'Url.Read'])
async def domain_stats(request: Request, principal: Principal) -> Response:
    lookback = _lookback(request)
    if isinstance(lookback, JSONResponse):
        return lookback
    domain = request.path_params['domain'].lower()
    prevalence, first, last = _org_stats(_store(request).domains.get(domain), lookback)
    return JSONResponse({'@odata.context': _context(request, 'microsoft.windowsDefenderATP.api.InOrgDomainStats'),
                         'host': domain, 'organizationPrevalence': int(prevalence), 'orgPrevalence': prevalence,
                         'orgFirstSeen': first, 'orgLastSeen': last})


@module.route('/api/ips/{ip}/stats', permissions=['Ip.Read.All', 'Ip.Read'])
async def ip_stats(request: Request, principal: Principal) -> Response:
    ip = request.path_params['ip']
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return defender_error(400, 'InvalidRequest', f"Invalid IP address '{ip}'")
    lookback = _lookback(request)
    if isinstance(lookback, JSONResponse):
        return lookback
    prevalence, first, last = _org_stats(_store(request).ips.get(ip), lookback)
    return JSONResponse({'@odata.context': _context(request, 'microsoft.windowsDefenderATP.api.InOrgIPStats'),
                         'ipAddress': ip, 'organizationPrevalence': int(prevalence), 'orgPrevalence': prevalence,
                         'orgFirstSeen': first, 'orgLastSeen': last})


# ----- indicators ---------------------------------------------------------------------------------------------------

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


def _enum_value(value: Any, allowed: tuple[str, ...]) -> str | None:
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
    kind = _enum_value(body['indicatorType'], INDICATOR_TYPES)
    if kind is None:
        raise ValueError(f"indicatorType '{body['indicatorType']}' is not valid. Valid values are: "
                         f"{', '.join(INDICATOR_TYPES)}.")
    action = _enum_value(body['action'], INDICATOR_ACTIONS)
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
        severity = _enum_value(body['severity'], INDICATOR_SEVERITIES)
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
    return _format_times(raw, INDICATOR_TIMES)


@module.route('/api/indicators', permissions=TI_READ)
async def list_indicators(request: Request, principal: Principal) -> Response:
    try:
        query = parse_query(request, INDICATOR_PROPS, 'microsoft.windowsDefenderATP.api.Indicator',
                            orderable=('creationTimeDateTimeUtc', 'lastUpdateTime', 'expirationTime', 'title'))
    except ODataError as exc:
        return _odata_error(exc)
    store = _store(request)
    with store.lock:
        items = [dict(i) for i in sorted(store.indicators.values(), key=lambda i: int(i['id']))]
    return page(request, '/api/indicators', 'Indicators', items, query, render_indicator)


@module.route('/api/indicators/{indicator_id}', permissions=TI_READ)
async def get_indicator(request: Request, principal: Principal) -> Response:
    indicator_id = request.path_params['indicator_id']
    store = _store(request)
    with store.lock:
        record = store.indicators.get(indicator_id)
        if record is None:
            return defender_error(404, 'ResourceNotFound', f'Indicator {indicator_id} was not found')
        out = render_indicator(record)
    return JSONResponse({'@odata.context': _context(request, 'Indicators/$entity'), **out})


@module.route('/api/indicators', methods=['POST'], permissions=TI)
async def submit_indicator(request: Request, principal: Principal) -> Response:
    try:
        record = validate_indicator(await json_body(request), acting_identity(principal))
    except ValueError as exc:
        return _bad_body(str(exc))
    store = _store(request)
    with store.lock:
        saved, _ = store.upsert_indicator(record)
        out = render_indicator(saved)
    return JSONResponse({'@odata.context': _context(request, 'Indicators/$entity'), **out})


@module.route('/api/indicators/import', methods=['POST'], permissions=TI)
async def import_indicators(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    items = body.get('Indicators') if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        return _bad_body('Indicators must be a non-empty list')
    if len(items) > MAX_IMPORT:
        return _bad_body(f'A batch can hold at most {MAX_IMPORT} indicators')
    who = acting_identity(principal)
    store = _store(request)
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
    return JSONResponse({'@odata.context': _context(request, 'Collection(microsoft.windowsDefenderATP.api.'
                                                             'ImportIndicatorResult)'), 'value': results})


@module.route('/api/indicators/{indicator_id}', methods=['DELETE'], permissions=TI)
async def delete_indicator(request: Request, principal: Principal) -> Response:
    indicator_id = request.path_params['indicator_id']
    try:
        _store(request).delete_indicator(indicator_id)
    except NotFound:
        return defender_error(404, 'ResourceNotFound', f'Indicator {indicator_id} was not found')
    return Response(status_code=204)


# ----- alerts -------------------------------------------------------------------------------------------------------

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
    out = _format_times({k: alert.get(k) for k in ALERT_FIELDS}, ALERT_TIMES)
    out['mitreTechniques'] = list(alert['mitreTechniques'])
    out['relatedUser'] = dict(alert['relatedUser']) if alert.get('relatedUser') else None
    out['loggedOnUsers'] = [dict(u) for u in alert.get('loggedOnUsers') or []]
    out['comments'] = [_format_times(c, ('createdTime',)) for c in alert.get('comments') or []]
    if evidence:
        out['evidence'] = [_format_times(e, EVIDENCE_TIMES) for e in alert.get('evidence') or []]
    return out


def _expand_evidence(request: Request) -> bool | JSONResponse:
    expand = next((v for k, v in request.query_params.items() if k.lower() == '$expand'), None)
    if expand is None:
        return False
    parts = {p.strip().lower() for p in expand.split(',') if p.strip()}
    unknown = parts - {'evidence'}
    if unknown:
        return _odata_error(ODataError(f"Could not find a property named '{sorted(unknown)[0]}' to expand."))
    return True


@module.route('/api/alerts', permissions=ALERT_READ)
async def list_alerts(request: Request, principal: Principal) -> Response:
    try:
        query = parse_query(request, ALERT_PROPS, 'microsoft.windowsDefenderATP.api.PublicAlert',
                            orderable=('alertCreationTime', 'lastUpdateTime', 'severity'))
    except ODataError as exc:
        return _odata_error(exc)
    evidence = _expand_evidence(request)
    if isinstance(evidence, JSONResponse):
        return evidence
    store = _store(request)
    with store.lock:
        low, high = time_bounds(query.node, 'alertCreationTime')
        items = store.alerts_between(low, high)          # oldest first, ties by id
        return page(request, '/api/alerts', 'Alerts', items, query, lambda a: render_alert(a, evidence))


@module.route('/api/alerts/{alert_id}', permissions=ALERT_READ)
async def get_alert(request: Request, principal: Principal) -> Response:
    evidence = _expand_evidence(request)
    if isinstance(evidence, JSONResponse):
        return evidence
    alert_id = request.path_params['alert_id']
    store = _store(request)
    with store.lock:
        alert = store.alerts.get(alert_id)
        if alert is None:
            return defender_error(404, 'ResourceNotFound', f'Alert {alert_id} was not found')
        out = render_alert(alert, evidence)
    return JSONResponse({'@odata.context': _context(request, 'Alerts/$entity'), **out})


@module.route('/api/alerts/{alert_id}', methods=['PATCH'], permissions=ALERT_WRITE)
async def update_alert(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        return _bad_body()
    changes: dict[str, Any] = {}
    for name, allowed in (('status', ALERT_STATUSES[1:]), ('classification', ALERT_CLASSIFICATIONS),
                          ('determination', ALERT_DETERMINATIONS)):
        if name in body:
            value = _enum_value(body[name], allowed)
            if value is None:
                return _bad_body(f"{name} '{body[name]}' is not valid. Valid values are: {', '.join(allowed)}.")
            changes[name] = value
    if 'assignedTo' in body:
        if body['assignedTo'] is not None and not isinstance(body['assignedTo'], str):
            return _bad_body('assignedTo must be a string')
        changes['assignedTo'] = body['assignedTo'] or None
    comment = body.get('comment')
    if comment is not None and not isinstance(comment, str):
        return _bad_body('comment must be a string')
    alert_id = request.path_params['alert_id']
    store = _store(request)
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
    return JSONResponse({'@odata.context': _context(request, 'Alerts/$entity'), **out})


# ----- advanced hunting ---------------------------------------------------------------------------------------------

@module.route('/api/advancedqueries/run', methods=['POST'], permissions=['AdvancedQuery.Read.All', 'AdvancedQuery.Read'])
async def run_hunting(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        return _bad_body()
    query = body.get('Query')
    if not isinstance(query, str) or not query.strip():
        return _bad_body('Missing query.')
    tables = hunting_view(_store(request))
    now = now_ticks()
    try:
        result = run_query(tables, query, (now - HUNTING_WINDOW, now))
    except KqlError as exc:
        return defender_error(400, 'BadRequest', str(exc))
    return JSONResponse({
        'Stats': hunting_stats(result.seconds, result.rows),
        'Schema': [{'Name': name, 'Type': kind} for name, kind in result.columns],
        'Results': result.rows,
    })
