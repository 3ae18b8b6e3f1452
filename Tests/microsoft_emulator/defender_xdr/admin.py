"""Admin routes for the incident store and the hunting tables (logical host ``admin``: no token, not logged, never
faulted or rate limited). Ground truth for tests and a way to play the Defender portal.

* ``POST /_emulator/xdr/generate`` ``{count, start?, spacing_seconds?, tie_every?, tie_size?}``: add incidents ->
  ``{created, first_id, last_id}``.
* ``GET /_emulator/xdr/incidents``: ``[{incidentId, createdTime, lastUpdateTime, status}]``, oldest first.
* ``POST /_emulator/xdr/incidents`` (incident fields): create one (201) -> the incident, Defender XDR shape.
* ``DELETE /_emulator/xdr/incidents``: remove every incident -> ``{deleted}``.
* ``GET /_emulator/xdr/incidents/{id}``: one incident, Defender XDR shape.
* ``PATCH /_emulator/xdr/incidents/{id}`` ``{fields..., comment?, comment_by?}`` (or ``{fields: {...}, comment?}``):
  a change made in the portal; bumps lastUpdateTime unless one is given.
* ``POST /_emulator/xdr/reset``: the store and the hunting tables back to their seed.
* ``GET``/``POST /_emulator/xdr/hunting-rows`` ``{table, count?, rows?}``: table sizes / resize a generated table,
  append rows.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..adminkit import AdminError, Endpoint, admin_handler, json_body
from ..context import EmuRoute, emulator_context
from ..core.clock import now_ticks, parse_time
from ..core.ids import mix
from ..core.odata import enum_lookup
from . import hunting
from . import seed as xdr_seed
from .instance import get_store
from .routes import legacy_incident
from .store import (
    CLASSIFICATION,
    DETECTION_SOURCES,
    DETERMINATION,
    INCIDENT_STATUS,
    LEGACY_DETERMINATION_ALIASES,
    SERVICE_SOURCES,
    SEVERITY,
    Alert,
    Comment,
    Incident,
    NotFound,
    XdrStore,
)


def _handler(fn: Endpoint) -> Endpoint:
    return admin_handler(fn, not_found=(NotFound, 'no incident {}'))




def _store(request: Request) -> XdrStore:
    return get_store(emulator_context(request))


def _time(spec: dict[str, Any], *names: str) -> int | None:
    for name in names:
        value = spec.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise AdminError(f'{name} must be an ISO 8601 string')
            return parse_time(value)
    return None


def _enum(value: Any, table: dict[str, str], name: str, aliases: dict[str, str] | None = None) -> str:
    canonical = enum_lookup(value, table, aliases)
    if canonical is None:
        raise AdminError(f"{name} {value!r} is not one of {', '.join(table.values())} (or {', '.join(table)})")
    return canonical


def _source(value: Any, table: dict[str, tuple[str, str]], name: str) -> str:
    for key, (legacy, graph) in table.items():
        if isinstance(value, str) and value.lower() in (key, legacy.lower(), graph.lower()):
            return key
    raise AdminError(f'{name} {value!r} is not one of {", ".join(v[0] for v in table.values())}')


def _string_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AdminError(f'{name} must be a list of strings')
    return list(value)


def incident_changes(spec: dict[str, Any]) -> dict[str, Any]:
    """Incident fields (Defender XDR or Graph names, any enum spelling) -> store attribute changes."""
    changes: dict[str, Any] = {}
    for name in ('incidentName', 'displayName'):
        if name in spec:
            changes['name'] = str(spec[name])
    if 'status' in spec:
        changes['status'] = _enum(spec['status'], INCIDENT_STATUS, 'status')
    if 'severity' in spec:
        changes['severity'] = _enum(spec['severity'], SEVERITY, 'severity')
    if 'classification' in spec:
        changes['classification'] = _enum(spec['classification'], CLASSIFICATION, 'classification')
    if 'determination' in spec:
        changes['determination'] = _enum(spec['determination'], DETERMINATION, 'determination',
                                         LEGACY_DETERMINATION_ALIASES)
    if 'assignedTo' in spec:
        changes['assigned_to'] = spec['assignedTo'] or None
    for name in ('tags', 'customTags'):
        if name in spec:
            changes['tags'] = _string_list(spec[name], name)
    if 'systemTags' in spec:
        changes['system_tags'] = _string_list(spec['systemTags'], 'systemTags')
    if 'description' in spec:
        changes['description'] = spec['description']
    if 'redirectIncidentId' in spec:
        changes['redirect_incident_id'] = int(spec['redirectIncidentId']) if spec['redirectIncidentId'] else None
    return changes


def _alert_from_spec(spec: Any, incident_id: int, n: int, created: int, last_update: int) -> Alert:
    h = mix(mix(incident_id) + n)
    if not isinstance(spec, dict):
        spec = {}
    template = xdr_seed.TEMPLATES[spec['template'] % len(xdr_seed.TEMPLATES)] if isinstance(spec.get('template'), int) \
        else xdr_seed.TEMPLATES[h % len(xdr_seed.TEMPLATES)]
    alert = xdr_seed.make_alert(template, incident_id, n, created, last_update, h)
    if 'title' in spec:
        alert.title = str(spec['title'])
    if 'description' in spec:
        alert.description = str(spec['description'])
    if 'category' in spec:
        alert.category = str(spec['category'])
    if 'severity' in spec:
        alert.severity = _enum(spec['severity'], SEVERITY, 'alert severity')
    if 'serviceSource' in spec:
        alert.service_source = _source(spec['serviceSource'], SERVICE_SOURCES, 'serviceSource')
    if 'detectionSource' in spec:
        alert.detection_source = _source(spec['detectionSource'], DETECTION_SOURCES, 'detectionSource')
    if 'mitreTechniques' in spec:
        alert.mitre_techniques = tuple(_string_list(spec['mitreTechniques'], 'mitreTechniques'))
    if 'threatFamilyName' in spec:
        alert.threat_family = spec['threatFamilyName']
    if 'entities' in spec:
        entities = spec['entities']
        if not isinstance(entities, list) or not all(isinstance(e, dict) and e.get('entityType') for e in entities):
            raise AdminError('entities must be a list of objects with an entityType')
        alert.entities = tuple({k: v for k, v in e.items() if v is not None} for e in entities)
    if 'devices' in spec:
        devices = spec['devices']
        if not isinstance(devices, list) or not all(isinstance(d, dict) for d in devices):
            raise AdminError('devices must be a list of objects')
        base = xdr_seed.DEVICES[0]
        alert.devices = tuple({**{k: None for k in base}, 'ipAddress': None, **d} for d in devices)
    if 'mailboxes' in spec:
        mailboxes = spec['mailboxes']
        if not isinstance(mailboxes, list) or not all(isinstance(m, dict) for m in mailboxes):
            raise AdminError('mailboxes must be a list of objects')
        alert.mailboxes = tuple(dict(m) for m in mailboxes)
    return alert


def create_incident(store: XdrStore, spec: dict[str, Any]) -> Incident:
    with store.lock:
        raw_id = spec.get('incidentId', spec.get('id'))
        incident_id = int(raw_id) if raw_id is not None else store.allocate_ids(1)
        if incident_id in store.incidents:
            raise AdminError(f'incident {incident_id} already exists')
        created = _time(spec, 'createdTime', 'createdDateTime') or now_ticks()
        last_update = _time(spec, 'lastUpdateTime', 'lastUpdateDateTime') or created
        alerts_spec = spec.get('alerts', 1)
        if isinstance(alerts_spec, bool) or not isinstance(alerts_spec, (int, list)):
            raise AdminError('alerts must be a number or a list of alert objects')
        specs: list[Any] = list(alerts_spec) if isinstance(alerts_spec, list) else [{}] * alerts_spec
        alerts = [_alert_from_spec(s, incident_id, n, created, last_update) for n, s in enumerate(specs)]
        incident = Incident(incident_id=incident_id, name='', created=created, last_update=last_update,
                            tenant_id=store.tenant_id, alerts=alerts)
        incident.name = xdr_seed.incident_name(alerts) if alerts else 'Suspicious activity'
        if alerts:
            incident.severity = max((a.severity for a in alerts), key=list(SEVERITY).index)
        for key, value in incident_changes(spec).items():
            setattr(incident, key, value)
        comments = spec.get('comments') or []
        if not isinstance(comments, list):
            raise AdminError('comments must be a list')
        for c in comments:
            if not isinstance(c, dict) or not isinstance(c.get('comment'), str):
                raise AdminError('each comment needs a comment string')
            incident.comments.append(Comment(comment=c['comment'], created_by=str(c.get('createdBy') or
                                                                                    xdr_seed.PORTAL_ANALYST),
                                             created=_time(c, 'createdTime') or last_update))
        for alert in alerts:
            alert.assigned_to = incident.assigned_to
            if incident.status == 'resolved':
                alert.status, alert.resolved = 'resolved', last_update
            if incident.classification != 'unknown':
                alert.classification, alert.determination = incident.classification, incident.determination
        return store.add(incident)


# ----- routes -------------------------------------------------------------------------------------------------------

async def generate(request: Request) -> Response:
    body = await json_body(request)
    if 'count' not in body:
        raise AdminError('count is required')
    start = _time(body, 'start')
    first, last = xdr_seed.generate(_store(request), int(body['count']), start=start,
                                    spacing_seconds=float(body.get('spacing_seconds', 60)),
                                    tie_every=int(body.get('tie_every', 0)), tie_size=int(body.get('tie_size', 0)))
    return JSONResponse({'created': last - first + 1, 'first_id': first, 'last_id': last})


async def incidents(request: Request) -> Response:
    store = _store(request)
    if request.method == 'GET':
        return JSONResponse(store.ground_truth())
    if request.method == 'DELETE':
        return JSONResponse({'deleted': store.clear()})
    incident = create_incident(store, await json_body(request))
    with store.lock:
        return JSONResponse(legacy_incident(incident), status_code=201)


async def incident_detail(request: Request) -> Response:
    store = _store(request)
    try:
        incident_id = int(request.path_params['incident_id'])
    except ValueError as exc:
        raise AdminError('the incident ID must be a number') from exc
    if request.method == 'GET':
        with store.lock:
            return JSONResponse(legacy_incident(store.get(incident_id)))
    body = await json_body(request)
    nested = body.get('fields')
    fields: dict[str, Any] = nested if isinstance(nested, dict) else {
        k: v for k, v in body.items() if k not in ('comment', 'comment_by')}
    comment = body.get('comment')
    if comment is not None and not isinstance(comment, str):
        raise AdminError('comment must be a string')
    with store.lock:
        incident = store.get(incident_id)
        created = _time(fields, 'createdTime', 'createdDateTime')
        when = _time(fields, 'lastUpdateTime', 'lastUpdateDateTime')
        changes = incident_changes(fields)
        if created is not None:
            store.set_created(incident, created)
        store.update(incident_id, changes, comment=comment or None,
                     comment_by=str(body.get('comment_by') or xdr_seed.PORTAL_ANALYST),
                     modified_by=xdr_seed.PORTAL_ANALYST, when=when)
        return JSONResponse(legacy_incident(incident))


async def reset_store(request: Request) -> Response:
    _store(request).reset()
    return JSONResponse({'reset': True})


async def hunting_rows(request: Request) -> Response:
    store = _store(request)
    if request.method == 'POST':
        body = await json_body(request)
        table = body.get('table')
        if not isinstance(table, str):
            raise AdminError('table is required')
        if 'count' in body:
            hunting.set_table_size(store, table, int(body['count']))
        if 'rows' in body:
            if not isinstance(body['rows'], list):
                raise AdminError('rows must be a list of objects')
            hunting.add_rows(store, table, body['rows'])
    with store.lock:
        sizes = {name: len(hunting.table_rows(store, name)) if name == 'AlertInfo' else None for name in hunting.table_names()}
        state = store.hunting
        for name in sizes:
            if name != 'AlertInfo':
                sizes[name] = state.get('sizes', xdr_seed.DEFAULT_ROWS).get(name, 0) + len(
                    state.get('extra', {}).get(name, []))
    return JSONResponse(sizes)


def routes() -> list[EmuRoute]:
    def r(path: str, fn: Callable[[Request], Awaitable[Response]], methods: list[str]) -> EmuRoute:
        return EmuRoute(f'/_emulator/xdr{path}', _handler(fn), host='admin', methods=methods)

    return [
        r('/generate', generate, ['POST']),
        r('/incidents', incidents, ['GET', 'POST', 'DELETE']),
        r('/incidents/{incident_id}', incident_detail, ['GET', 'PATCH']),
        r('/reset', reset_store, ['POST']),
        r('/hunting-rows', hunting_rows, ['GET', 'POST']),
    ]
