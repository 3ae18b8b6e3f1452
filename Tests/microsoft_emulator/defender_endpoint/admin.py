"""Admin routes for the Defender for Endpoint store (logical host ``admin``: no token, not logged, never faulted or
rate limited): ground truth for tests, a way to play the portal, and the investigation-package downloads.

* ``POST /_emulator/mde/generate`` ``{machines?, alerts?, alert_spacing_seconds?, alert_end?, tie_every?,
  tie_size?}``: add machines, then alerts on the machines -> ``{machines, alerts, machine_count, alert_count,
  alert_ids}``.
* ``GET /_emulator/mde/machines``: ``[{id, computerDnsName, lastIpAddress, isolation, restricted, broken,
  machineTags, onboardingStatus, healthStatus}]``.
* ``POST /_emulator/mde/machines/{id}/break`` (``{"broken": false}`` to repair): the machine's next actions fail.
* ``GET /_emulator/mde/alerts``: ``[{id, alertCreationTime, lastUpdateTime, status, severity, machineId}]``, oldest
  first (ties by id). ``POST /_emulator/mde/alerts`` (alert fields; ``machineId`` optional): create one (201).
* ``GET /_emulator/mde/actions``: every machine action, API shape.
* ``POST /_emulator/mde/actions/{id}/step`` ``{steps?: 1}``: move one action that many status steps on (Pending ->
  InProgress -> Succeeded/Failed) without waiting, so a test can see each status deterministically.
* ``GET``/``POST /_emulator/mde/settings`` ``{action_step_seconds}``: seconds per machine-action step.
* ``POST /_emulator/mde/hunting-rows`` ``{table, rows}``: append hunting rows (missing columns null).
* ``POST /_emulator/mde/reset``: the store back to its seed, with the legacy Graph tiIndicators the integration also
  manages (also done by the emulator's reset).
* ``GET /_emulator/mde/packages/{action_id}.zip``: the investigation package (the URL getPackageUri hands out).
"""
from __future__ import annotations

import io
import zipfile
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..adminkit import AdminError, Endpoint, admin_handler, json_body
from ..context import EmuRoute, emulator_context
from ..core.clock import format_time, now_ticks, parse_time
from ..core.hunting import TABLE_SCHEMAS
from . import seed as mde_seed
from .actions import action_raw, render_action
from .alert_routes import render_alert
from .instance import get_store
from .store import ALERT_SEVERITIES, ALERT_STATUSES, MdeStore, NotFound


def _handler(fn: Endpoint) -> Endpoint:
    return admin_handler(fn, not_found=(NotFound, 'not found: {}'))




def _store(request: Request) -> MdeStore:
    return get_store(emulator_context(request))


async def generate(request: Request) -> Response:
    body = await json_body(request)
    store = _store(request)
    end = parse_time(body['alert_end']) if isinstance(body.get('alert_end'), str) else None
    with store.lock:
        first, last = mde_seed.add_machines(store, int(body.get('machines', 0)))
        ids = mde_seed.add_alerts(store, int(body.get('alerts', 0)), end=end,
                                  spacing_seconds=float(body.get('alert_spacing_seconds', 60)),
                                  tie_every=int(body.get('tie_every', 0)), tie_size=int(body.get('tie_size', 0)))
        return JSONResponse({'machines': max(0, last - first + 1), 'alerts': len(ids),
                             'machine_count': len(store.machines), 'alert_count': len(store.alerts),
                             'alert_ids': ids})


async def machines(request: Request) -> Response:
    return JSONResponse(_store(request).ground_truth_machines())


async def break_machine(request: Request) -> Response:
    body = await json_body(request)
    store = _store(request)
    with store.lock:
        machine = store.machine(request.path_params['machine_id'])
        machine.broken = bool(body.get('broken', True))
        store.bump()
        return JSONResponse({'id': machine.id, 'broken': machine.broken})


def _alert_truth(alert: dict[str, Any]) -> dict[str, Any]:
    return {'id': alert['id'], 'alertCreationTime': format_time(alert['alertCreationTime']),
            'lastUpdateTime': format_time(alert['lastUpdateTime']), 'status': alert['status'],
            'severity': alert['severity'], 'machineId': alert['machineId']}


TIME_FIELDS = ('alertCreationTime', 'firstEventTime', 'lastEventTime', 'lastUpdateTime', 'resolvedTime')


async def alerts(request: Request) -> Response:
    store = _store(request)
    if request.method == 'GET':
        with store.lock:
            return JSONResponse([_alert_truth(a) for a in store.alerts_between(None, None)])
    spec = await json_body(request)
    with store.lock:
        if not store.machines:
            raise AdminError('there are no machines')
        machine = store.machine(spec['machineId']) if spec.get('machineId') else next(iter(store.machines.values()))
        created = parse_time(spec['alertCreationTime']) if spec.get('alertCreationTime') else now_ticks()
        n = len(store.alerts)
        while mde_seed.alert_id(n) in store.alerts:
            n += 1
        alert = mde_seed.make_alert(n, machine, created, store)
        for key, value in spec.items():
            if key == 'machineId':
                continue
            if key not in alert:
                raise AdminError(f'unknown alert field {key!r}')
            if key == 'status' and value not in ALERT_STATUSES:
                raise AdminError(f"status must be one of {', '.join(ALERT_STATUSES)}")
            if key == 'severity' and value not in ALERT_SEVERITIES:
                raise AdminError(f"severity must be one of {', '.join(ALERT_SEVERITIES)}")
            alert[key] = parse_time(value) if key in TIME_FIELDS and isinstance(value, str) else value
        if 'lastUpdateTime' not in spec:
            alert['lastUpdateTime'] = max(alert['alertCreationTime'], alert.get('resolvedTime') or 0)
        store.add_alerts([alert])
        return JSONResponse(render_alert(alert, True), status_code=201)


async def actions(request: Request) -> Response:
    store = _store(request)
    with store.lock:
        now = now_ticks()
        store.advance(now)
        return JSONResponse([render_action(action_raw(store.actions[i], now)) for i in store.action_order])


async def step_action(request: Request) -> Response:
    store = _store(request)
    body = await json_body(request)
    steps = body.get('steps', 1)
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise AdminError('steps must be a whole number, 0 or more')
    with store.lock:
        action = store.step_action(request.path_params['action_id'], steps)
        return JSONResponse(render_action(action_raw(action, now_ticks())))


async def settings(request: Request) -> Response:
    store = _store(request)
    if request.method == 'POST':
        body = await json_body(request)
        unknown = set(body) - {'action_step_seconds'}
        if unknown:
            raise AdminError(f'unknown setting(s): {", ".join(sorted(unknown))}')
        if 'action_step_seconds' in body:
            value = float(body['action_step_seconds'])
            if value < 0:
                raise AdminError('action_step_seconds must not be negative')
            with store.lock:
                store.settings.action_step_seconds = value
    return JSONResponse({'action_step_seconds': store.settings.action_step_seconds})


async def hunting_rows(request: Request) -> Response:
    body = await json_body(request)
    table = body.get('table')
    schema = TABLE_SCHEMAS.get(table) if isinstance(table, str) else None
    if schema is None or table not in mde_seed.HUNTING_TABLES or table == 'AlertInfo':
        raise AdminError(f"table must be one of {', '.join(t for t in mde_seed.HUNTING_TABLES if t != 'AlertInfo')}")
    rows = body.get('rows')
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise AdminError('rows must be a list of objects')
    names = {name for name, _ in schema}
    converted = []
    for row in rows:
        unknown = set(row) - names
        if unknown:
            raise AdminError(f"unknown column(s) for {table}: {', '.join(sorted(unknown))}")
        out = {name: row.get(name) for name, _ in schema}
        stamp = row.get('Timestamp')
        out['Timestamp'] = parse_time(stamp) if isinstance(stamp, str) else now_ticks() if stamp is None else stamp
        converted.append(out)
    store = _store(request)
    with store.lock:
        store.hunting_extra.setdefault(table, []).extend(converted)
        return JSONResponse({'table': table, 'added': len(converted),
                             'extra_rows': len(store.hunting_extra[table])})


async def reset_store(request: Request) -> Response:
    from .graph_indicators import reset_indicators

    _store(request).reset()
    reset_indicators(request)
    return JSONResponse({'reset': True})


def package_zip(action_id: str, machine_name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
        archive.writestr('Summary.txt', f'Investigation package\r\nMachine: {machine_name}\r\n'
                                        f'Machine action: {action_id}\r\n')
        archive.writestr('Processes/processes.csv', 'ProcessName,Id,Path\r\nexplorer.exe,4120,C:\\Windows\r\n'
                                                    'svchost.exe,912,C:\\Windows\\System32\r\n')
        archive.writestr('Network connections/ActiveNetConnections.txt',
                         'Proto  Local Address          Foreign Address        State\r\n'
                         'TCP    10.1.0.2:49710         198.51.100.23:443      ESTABLISHED\r\n')
        archive.writestr('Autoruns/Run.txt', 'HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\r\n')
    return buffer.getvalue()


async def package(request: Request) -> Response:
    store = _store(request)
    action_id = request.path_params['action_id']
    with store.lock:
        action = store.action(action_id)
        if action.type != 'CollectInvestigationPackage' or action.status_at(now_ticks()) != 'Succeeded':
            raise NotFound(action_id)
        data = package_zip(action.id, action.computer_dns_name)
    return Response(data, media_type='application/zip',
                    headers={'Content-Disposition': f'attachment; filename="{action_id}.zip"'})


def routes() -> list[EmuRoute]:
    def r(path: str, fn: Callable[[Request], Awaitable[Response]], methods: list[str]) -> EmuRoute:
        return EmuRoute(f'/_emulator/mde{path}', _handler(fn), host='admin', methods=methods)

    return [
        r('/generate', generate, ['POST']),
        r('/machines', machines, ['GET']),
        r('/machines/{machine_id}/break', break_machine, ['POST']),
        r('/alerts', alerts, ['GET', 'POST']),
        r('/actions', actions, ['GET']),
        r('/actions/{action_id}/step', step_action, ['POST']),
        r('/settings', settings, ['GET', 'POST']),
        r('/hunting-rows', hunting_rows, ['POST']),
        r('/reset', reset_store, ['POST']),
        r('/packages/{action_id}.zip', package, ['GET']),
    ]
