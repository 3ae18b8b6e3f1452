"""The Microsoft Defender XDR API (``https://api.security.microsoft.com``, logical host ``m365d``): incidents and
advanced hunting, as documented under "Microsoft Defender XDR APIs".

* ``GET /api/incidents`` - ``$filter`` on lastUpdateTime, createdTime (eq ne gt ge lt le), status, assignedTo (eq ne,
  in); ``$top`` (default and maximum 100), ``$skip``; any other query option (``$orderby``, ``$select``...) is
  refused, as the API refuses it. Newest first. ``@odata.nextLink`` (a ``$skip`` link) while more remain.
* ``GET /api/incidents/{id}``, ``PATCH /api/incidents/{id}`` (status, assignedTo, classification, determination,
  tags, comment; enum values and the classification/determination pairs are checked).
* ``POST /api/advancedhunting/run`` ``{"Query": ...}`` -> ``{"Stats", "Schema", "Results"}`` (see core/kql.py).

Errors are shaped like the service's: ``{"error": {"code", "message", "target"}}``. :func:`modules` returns this
module and the Graph security module; this module also carries the ``/_emulator/xdr/...`` admin routes.
"""
from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..context import emulator_context
from ..core.api import ApiModule
from ..core.clock import TICKS_PER_SECOND, format_time, now_ticks
from ..core.http import acting_identity, base_url, defender_error, json_body, next_link
from ..core.hunting import hunting_stats
from ..core.kql import KqlError, run_query
from ..core.odata import ODataError, Prop, enum_lookup, parse_count, parse_filter, query_options
from ..ratelimits import M365D_HUNTING, M365D_INCIDENTS
from ..tokens import Principal
from .hunting import XdrTables
from .instance import get_store
from .query import run_incident_query
from .store import (
    ALERT_STATUS,
    CLASSIFICATION,
    DEPRECATED_DETERMINATIONS,
    DETECTION_SOURCES,
    DETERMINATION,
    INCIDENT_STATUS,
    LEGACY_DETERMINATION_ALIASES,
    SERVICE_SOURCES,
    SEVERITY,
    Alert,
    Incident,
    NotFound,
    XdrStore,
    determination_allowed,
)

MAX_TOP = 100
HUNTING_WINDOW = 30 * 86400 * TICKS_PER_SECOND

READ = ['Incident.Read.All', 'Incident.ReadWrite.All', 'Incident.Read', 'Incident.ReadWrite']
WRITE = ['Incident.ReadWrite.All', 'Incident.ReadWrite']
HUNT = ['AdvancedHunting.Read.All', 'AdvancedHunting.Read']


# The package's modules() mounts the store's admin routes (admin.py, no token needed) on this module.
module = ApiModule('defender_xdr', host='m365d', audiences=('m365d',), error_style='defender',
                   rate_limits=[*M365D_INCIDENTS, *M365D_HUNTING])


# ----- rendering ----------------------------------------------------------------------------------------------------

ENTITY_FIELDS = ('entityType', 'sha1', 'sha256', 'fileName', 'filePath', 'processId', 'processCommandLine',
                 'processCreationTime', 'parentProcessId', 'parentProcessCreationTime', 'ipAddress', 'url',
                 'accountName', 'domainName', 'userSid', 'aadUserId', 'userPrincipalName', 'mailboxDisplayName',
                 'mailboxAddress', 'clusterBy', 'sender', 'recipient', 'subject', 'deliveryAction', 'securityGroupId',
                 'securityGroupName', 'registryHive', 'registryKey', 'registryValueType', 'registryValue', 'deviceId')
DEVICE_FIELDS = ('mdatpDeviceId', 'aadDeviceId', 'deviceDnsName', 'osPlatform', 'version', 'osProcessor', 'osBuild',
                 'healthStatus', 'riskScore', 'rbacGroupName', 'rbacGroupId', 'firstSeen')


def legacy_entity(alert: Alert, entity: dict[str, Any]) -> dict[str, Any]:
    """An alert entity: the documented fields (null when not set) and the evidence facts the live API adds
    (evidenceCreationTime, verdict, remediationStatus), as Graph's evidence of the same alert carries them."""
    return {**{k: entity.get(k) for k in ENTITY_FIELDS}, 'evidenceCreationTime': format_time(alert.created),
            'verdict': 'Suspicious', 'remediationStatus': 'None'}


def legacy_alert(alert: Alert) -> dict[str, Any]:
    return {
        'alertId': alert.alert_id,
        'providerAlertId': alert.alert_id,
        'incidentId': alert.incident_id,
        'serviceSource': SERVICE_SOURCES[alert.service_source][0],
        'creationTime': format_time(alert.created),
        'lastUpdatedTime': format_time(alert.last_update),
        'resolvedTime': format_time(alert.resolved),
        'firstActivity': format_time(alert.first_activity),
        'lastActivity': format_time(alert.last_activity),
        'title': alert.title,
        'description': alert.description,
        'category': alert.category,
        'status': ALERT_STATUS[alert.status],
        'severity': SEVERITY[alert.severity],
        'investigationId': alert.investigation_id,
        'investigationState': alert.investigation_state,
        'classification': CLASSIFICATION[alert.classification] if alert.classification else None,
        'determination': DETERMINATION[alert.determination] if alert.determination else None,
        'detectionSource': DETECTION_SOURCES[alert.detection_source][0],
        'detectorId': alert.detector_id,
        'assignedTo': alert.assigned_to,
        'actorName': alert.actor,
        'threatFamilyName': alert.threat_family,
        'mitreTechniques': list(alert.mitre_techniques),
        'devices': [{k: d.get(k) for k in DEVICE_FIELDS} for d in alert.devices],
        'entities': [legacy_entity(alert, e) for e in alert.entities],
        'mailboxes': [dict(m) for m in alert.mailboxes],
    }


def legacy_incident(incident: Incident) -> dict[str, Any]:
    return {
        'incidentId': incident.incident_id,
        'incidentUri': f'https://security.microsoft.com/incidents/{incident.incident_id}?tid={incident.tenant_id}',
        'redirectIncidentId': incident.redirect_incident_id,
        'incidentName': incident.name,
        'createdTime': format_time(incident.created),
        'lastUpdateTime': format_time(incident.last_update),
        'assignedTo': incident.assigned_to,
        'classification': CLASSIFICATION[incident.classification],
        'determination': DETERMINATION[incident.determination],
        'status': INCIDENT_STATUS[incident.status],
        'severity': SEVERITY[incident.severity],
        'tags': list(incident.tags),
        'comments': [{'comment': c.comment, 'createdBy': c.created_by, 'createdTime': format_time(c.created)}
                     for c in incident.comments],
        'alerts': [legacy_alert(a) for a in incident.alerts],
    }


# ----- incidents ----------------------------------------------------------------------------------------------------

FILTER_PROPS = {
    'lastUpdateTime': Prop('lastUpdateTime', 'datetime', lambda i: i.last_update, attribute='last_update'),
    'createdTime': Prop('createdTime', 'datetime', lambda i: i.created, attribute='created'),
    'status': Prop('status', 'enum', lambda i: i.status, enum=INCIDENT_STATUS),
    'assignedTo': Prop('assignedTo', 'string', lambda i: i.assigned_to),
}
KNOWN_PROPS = ('incidentId', 'redirectIncidentId', 'incidentName', 'severity', 'classification', 'determination',
               'tags', 'comments', 'alerts')
ALLOWED_OPTIONS = ('$filter', '$top', '$skip')


def _odata_error(message: str) -> JSONResponse:
    return defender_error(400, 'ODataError', f'Invalid OData URI query - {message}')


@module.route('/api/incidents', permissions=READ)
async def list_incidents(request: Request, principal: Principal) -> Response:
    try:
        options = query_options(request.query_params.items(), ALLOWED_OPTIONS)
        top = parse_count('$top', options.get('$top'))
        skip = parse_count('$skip', options.get('$skip')) or 0
        node = parse_filter(options['$filter'], FILTER_PROPS, 'Incident', KNOWN_PROPS) if '$filter' in options \
            else None
    except ODataError as exc:
        return _odata_error(str(exc))
    if top is not None and top > MAX_TOP:
        return _odata_error(f"The limit of '{MAX_TOP}' for Top query has been exceeded. The value from the incoming "
                            f"request is '{top}'.")
    page_size = MAX_TOP if top is None else top
    store = get_store(emulator_context(request))
    with store.lock:
        page, total = run_incident_query(store, node, [], skip, page_size)
        value = [legacy_incident(i) for i in page]
    body: dict[str, Any] = {'@odata.context': f'{base_url(request)}/api/$metadata#Incidents', 'value': value}
    if page_size and skip + page_size < total:
        body['@odata.nextLink'] = next_link(request, '/api/incidents', skip + page_size)
    return JSONResponse(body)


def _incident_id(raw: str) -> int | None:
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value > 0 else None


@module.route('/api/incidents/{incident_id}', permissions=READ)
async def get_incident(request: Request, principal: Principal) -> Response:
    raw = request.path_params['incident_id']
    incident_id = _incident_id(raw)
    if incident_id is None:
        return defender_error(400, 'InvalidInput', f'Invalid input {raw}: the incident ID must be a number.')
    store = get_store(emulator_context(request))
    with store.lock:
        try:
            incident = store.get(incident_id)
        except NotFound:
            return defender_error(404, 'ResourceNotFound', f'Incident {incident_id} was not found')
        body = {'@odata.context': f'{base_url(request)}/api/$metadata#Incidents/$entity', **legacy_incident(incident)}
    return JSONResponse(body)


def validate_changes(store: XdrStore, incident: Incident, body: dict[str, Any], *,
                     fields: dict[str, str], legacy: bool) -> dict[str, Any]:
    """Validated changes in store terms. ``fields`` maps the API's property names to status, assigned_to,
    classification, determination, tags. Raises ValueError with the message to return."""
    changes: dict[str, Any] = {}
    names = {v: k for k, v in fields.items()}
    if 'status' in names and names['status'] in body:
        value = body[names['status']]
        status = enum_lookup(value, INCIDENT_STATUS)
        if status is None:
            valid = ', '.join(INCIDENT_STATUS.values() if legacy else INCIDENT_STATUS)
            raise ValueError(f"{names['status']} '{value}' is not valid. Valid values are: {valid}.")
        changes['status'] = status
    if 'assigned_to' in names and names['assigned_to'] in body:
        value = body[names['assigned_to']]
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{names['assigned_to']} must be a string.")
        changes['assigned_to'] = value or None
    if 'classification' in names and names['classification'] in body:
        value = body[names['classification']]
        classification = enum_lookup(value, CLASSIFICATION)
        if classification is None:
            valid = ', '.join(CLASSIFICATION.values() if legacy else CLASSIFICATION)
            raise ValueError(f"{names['classification']} '{value}' is not valid. Valid values are: {valid}.")
        changes['classification'] = classification
    if 'determination' in names and names['determination'] in body:
        value = body[names['determination']]
        determination = enum_lookup(value, DETERMINATION, LEGACY_DETERMINATION_ALIASES if legacy else None)
        if determination is None:
            valid = ', '.join(DETERMINATION.values() if legacy else DETERMINATION)
            raise ValueError(f"{names['determination']} '{value}' is not valid. Valid values are: {valid}.")
        if determination in DEPRECATED_DETERMINATIONS:
            raise ValueError(f"{names['determination']} '{value}' is deprecated and can no longer be set.")
        classification = changes.get('classification', incident.classification)
        if not determination_allowed(classification, determination):
            shown = CLASSIFICATION[classification] if legacy else classification
            raise ValueError(f"{names['determination']} '{value}' cannot be set when the classification is "
                             f"'{shown}'.")
        changes['determination'] = determination
    if 'tags' in names and names['tags'] in body:
        value = body[names['tags']]
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise ValueError(f"{names['tags']} must be a list of strings.")
        changes['tags'] = list(value)
    return changes


LEGACY_FIELDS = {'status': 'status', 'assignedTo': 'assigned_to', 'classification': 'classification',
                 'determination': 'determination', 'tags': 'tags'}


@module.route('/api/incidents/{incident_id}', methods=['PATCH'], permissions=WRITE)
async def update_incident(request: Request, principal: Principal) -> Response:
    raw = request.path_params['incident_id']
    incident_id = _incident_id(raw)
    if incident_id is None:
        return defender_error(400, 'InvalidInput', f'Invalid input {raw}: the incident ID must be a number.')
    body = await json_body(request)
    if not isinstance(body, dict):
        return defender_error(400, 'InvalidRequestBody', 'Request body is incorrect')
    store = get_store(emulator_context(request))
    with store.lock:
        try:
            incident = store.get(incident_id)
        except NotFound:
            return defender_error(404, 'ResourceNotFound', f'Incident {incident_id} was not found')
        try:
            changes = validate_changes(store, incident, body, fields=LEGACY_FIELDS, legacy=True)
        except ValueError as exc:
            return defender_error(400, 'InvalidInput', f'Invalid input {exc}')
        comment = body.get('comment')
        if comment is not None and not isinstance(comment, str):
            return defender_error(400, 'InvalidInput', 'Invalid input comment must be a string.')
        if changes or comment:
            who = acting_identity(principal)
            store.update(incident_id, changes, comment=comment or None, comment_by=who, modified_by=who)
        body_out = {'@odata.context': f'{base_url(request)}/api/$metadata#Incidents/$entity',
                    **legacy_incident(incident)}
    return JSONResponse(body_out)


# ----- advanced hunting ---------------------------------------------------------------------------------------------

@module.route('/api/advancedhunting/run', methods=['POST'], permissions=HUNT)
async def run_hunting(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        return defender_error(400, 'InvalidRequestBody', 'Request body is incorrect')
    query = body.get('Query')
    if not isinstance(query, str) or not query.strip():
        return defender_error(400, 'InvalidRequestBody', 'Missing query.')
    store = get_store(emulator_context(request))
    now = now_ticks()
    try:
        result = run_query(XdrTables(store), query, (now - HUNTING_WINDOW, now))
    except KqlError as exc:
        return defender_error(400, 'BadRequest', str(exc))
    return JSONResponse({
        'Stats': hunting_stats(result.seconds, result.rows),
        'Schema': [{'Name': name, 'Type': kind} for name, kind in result.columns],
        'Results': result.rows,
    })

