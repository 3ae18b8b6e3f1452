"""Microsoft Graph security (logical host ``graph``, under ``/v1.0`` and ``/beta``): incidents, alerts_v2 and
advanced hunting, backed by the same store as the Defender XDR API (values in Graph's camelCase).

* ``GET /security/incidents`` - ``$filter`` on assignedTo, classification, createdDateTime, determination,
  lastUpdateDateTime, severity, status; ``$orderby`` createdDateTime / lastUpdateDateTime / id; ``$top`` (default
  and maximum 50; more is refused with Graph's message), ``$skip``, ``$count``, ``$expand=alerts``, ``$select``.
* ``GET|PATCH /security/incidents/{id}`` (PATCH: assignedTo, classification, determination, status, customTags),
  ``POST /security/incidents/{id}/comments`` (answers the incident's whole comment collection).
* ``GET /security/alerts_v2`` (``$filter`` on incidentId, createdDateTime, lastUpdateDateTime, status, severity,
  serviceSource, detectionSource, classification, determination, assignedTo; ``$top`` up to 2,000; ``$skip``;
  ``$orderby``), ``GET /security/alerts_v2/{id}``.
* ``POST /security/runHuntingQuery`` ``{"Query", "Timespan"?}`` -> ``{"schema": [{"name", "type"}], "results"}``.
"""
from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..context import emulator_context
from ..core.api import ApiModule
from ..core.clock import format_time
from ..core.http import acting_identity, base_url, json_body, next_link
from ..core.hunting import tenant_hunting_tables
from ..core.kql import KqlError, parse_timespan, run_query
from ..core.odata import (
    ODataError,
    Prop,
    parse_bool,
    parse_count,
    parse_expand,
    parse_filter,
    parse_orderby,
    parse_select,
    query_options,
)
from ..errors import api_error, api_error_body
from ..ratelimits import GRAPH_SECURITY
from ..requestlog import annotate
from ..tokens import Principal
from .instance import get_store
from .query import run_incident_query
from .routes import validate_changes
from .store import (
    CLASSIFICATION,
    DETECTION_SOURCES,
    DETERMINATION,
    INCIDENT_STATUS,
    SERVICE_SOURCES,
    SEVERITY,
    Alert,
    Incident,
    NotFound,
)

MAX_INCIDENTS_TOP = 50
MAX_ALERTS_TOP = 2000
ALERT_STATUS_GRAPH = {'new': 'new', 'inProgress': 'inProgress', 'resolved': 'resolved'}

module = ApiModule('graph_security', host='graph', audiences=('graph',), error_style='graph',
                   rate_limits=list(GRAPH_SECURITY), prefixes=('/v1.0', '/beta'))

INCIDENT_READ = ['SecurityIncident.Read.All', 'SecurityIncident.ReadWrite.All']
INCIDENT_WRITE = ['SecurityIncident.ReadWrite.All']
ALERT_READ = ['SecurityAlert.Read.All', 'SecurityAlert.ReadWrite.All']
HUNT = ['ThreatHunting.Read.All']


def _version(request: Request) -> str:
    return 'beta' if request.url.path.startswith('/beta/') else 'v1.0'


def _bad_request(message: str, code: str = 'BadRequest') -> JSONResponse:
    return api_error(400, code, message)


# ----- rendering ----------------------------------------------------------------------------------------------------

def _evidence_common(alert: Alert, verdict: str = 'suspicious') -> dict[str, Any]:
    return {'createdDateTime': format_time(alert.created), 'verdict': verdict, 'remediationStatus': 'none',
            'remediationStatusDetails': None, 'roles': [], 'detailedRoles': [], 'tags': []}


def _user_account(entity: dict[str, Any]) -> dict[str, Any]:
    return {'accountName': entity.get('accountName'), 'domainName': entity.get('domainName'),
            'userSid': entity.get('userSid'), 'azureAdUserId': entity.get('aadUserId'),
            'userPrincipalName': entity.get('userPrincipalName'),
            'displayName': entity.get('mailboxDisplayName')}


def evidence(alert: Alert) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for device in alert.devices:
        out.append({'@odata.type': '#microsoft.graph.security.deviceEvidence', **_evidence_common(alert, 'unknown'),
                    'firstSeenDateTime': device['firstSeen'], 'mdeDeviceId': device['mdatpDeviceId'],
                    'azureAdDeviceId': device['aadDeviceId'], 'deviceDnsName': device['deviceDnsName'],
                    'osPlatform': device['osPlatform'], 'osBuild': device['osBuild'], 'version': device['version'],
                    'healthStatus': str(device['healthStatus']).lower(), 'riskScore': str(device['riskScore']).lower(),
                    'rbacGroupId': device['rbacGroupId'], 'rbacGroupName': device['rbacGroupName'],
                    'onboardingStatus': 'onboarded', 'defenderAvStatus': 'updated',
                    'ipInterfaces': [device['ipAddress']], 'loggedOnUsers': [], 'vmMetadata': None})
    for entity in alert.entities:
        kind = entity['entityType']
        common = _evidence_common(alert)
        if kind == 'User':
            out.append({'@odata.type': '#microsoft.graph.security.userEvidence', **common,
                        'userAccount': _user_account(entity)})
        elif kind == 'Ip':
            out.append({'@odata.type': '#microsoft.graph.security.ipEvidence', **common,
                        'ipAddress': entity['ipAddress'], 'countryLetterCode': None})
        elif kind == 'Url':
            out.append({'@odata.type': '#microsoft.graph.security.urlEvidence', **common, 'url': entity['url']})
        elif kind == 'File':
            out.append({'@odata.type': '#microsoft.graph.security.fileEvidence', **common,
                        'detectionStatus': 'detected', 'mdeDeviceId': entity.get('deviceId'),
                        'fileDetails': {'sha1': entity.get('sha1'), 'sha256': entity.get('sha256'),
                                        'fileName': entity.get('fileName'), 'filePath': entity.get('filePath'),
                                        'fileSize': None, 'filePublisher': None, 'signer': None, 'issuer': None}})
        elif kind == 'Process':
            out.append({'@odata.type': '#microsoft.graph.security.processEvidence', **common,
                        'processId': entity.get('processId'), 'parentProcessId': entity.get('parentProcessId'),
                        'processCommandLine': entity.get('processCommandLine'),
                        'processCreationDateTime': entity.get('processCreationTime'),
                        'parentProcessCreationDateTime': entity.get('parentProcessCreationTime'),
                        'detectionStatus': 'detected', 'mdeDeviceId': entity.get('deviceId'),
                        'imageFile': {'sha1': entity.get('sha1'), 'fileName': entity.get('fileName'),
                                      'filePath': entity.get('filePath')}})
        elif kind in ('Mailbox', 'MailBox'):
            out.append({'@odata.type': '#microsoft.graph.security.mailboxEvidence', **common,
                        'displayName': entity.get('mailboxDisplayName'),
                        'primaryAddress': entity.get('mailboxAddress'), 'upn': entity.get('userPrincipalName'),
                        'userAccount': _user_account(entity)})
        elif kind == 'MailMessage':
            out.append({'@odata.type': '#microsoft.graph.security.analyzedMessageEvidence', **common,
                        'recipientEmailAddress': entity.get('recipient'), 'subject': entity.get('subject'),
                        'deliveryAction': entity.get('deliveryAction'),
                        'p1Sender': {'emailAddress': entity.get('sender')}})
        elif kind == 'MailCluster':
            out.append({'@odata.type': '#microsoft.graph.security.mailClusterEvidence', **common,
                        'clusterBy': entity.get('clusterBy')})
        elif kind == 'Registry':
            out.append({'@odata.type': '#microsoft.graph.security.registryValueEvidence', **common,
                        'registryHive': entity.get('registryHive'), 'registryKey': entity.get('registryKey'),
                        'registryValueType': entity.get('registryValueType'),
                        'registryValue': entity.get('registryValue'), 'mdeDeviceId': entity.get('deviceId')})
    return out


def graph_alert(alert: Alert, tenant_id: str) -> dict[str, Any]:
    return {
        '@odata.type': '#microsoft.graph.security.alert',
        'id': alert.alert_id,
        'providerAlertId': alert.alert_id,
        'incidentId': str(alert.incident_id),
        'status': alert.status,
        'severity': alert.severity,
        'classification': alert.classification or 'unknown',
        'determination': alert.determination or 'unknown',
        'serviceSource': SERVICE_SOURCES[alert.service_source][1],
        'detectionSource': DETECTION_SOURCES[alert.detection_source][1],
        'detectorId': alert.detector_id,
        'tenantId': tenant_id,
        'title': alert.title,
        'description': alert.description,
        'recommendedActions': alert.recommended_actions,
        'category': alert.category,
        'assignedTo': alert.assigned_to,
        'alertWebUrl': f'https://security.microsoft.com/alerts/{alert.alert_id}?tid={tenant_id}',
        'incidentWebUrl': f'https://security.microsoft.com/incidents/{alert.incident_id}?tid={tenant_id}',
        'actorDisplayName': alert.actor,
        'threatDisplayName': alert.threat_family,
        'threatFamilyName': alert.threat_family,
        'mitreTechniques': list(alert.mitre_techniques),
        'createdDateTime': format_time(alert.created),
        'lastUpdateDateTime': format_time(alert.last_update),
        'resolvedDateTime': format_time(alert.resolved),
        'firstActivityDateTime': format_time(alert.first_activity),
        'lastActivityDateTime': format_time(alert.last_activity),
        'systemTags': [],
        'comments': [],
        'evidence': evidence(alert),
    }


def graph_incident(incident: Incident, expand_alerts: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        '@odata.type': '#microsoft.graph.security.incident',
        'id': str(incident.incident_id),
        'incidentWebUrl': f'https://security.microsoft.com/incidents/{incident.incident_id}?tid={incident.tenant_id}',
        'redirectIncidentId': str(incident.redirect_incident_id) if incident.redirect_incident_id else None,
        'tenantId': incident.tenant_id,
        'displayName': incident.name,
        'createdDateTime': format_time(incident.created),
        'lastUpdateDateTime': format_time(incident.last_update),
        'assignedTo': incident.assigned_to,
        'classification': incident.classification,
        'determination': incident.determination,
        'status': incident.status,
        'severity': incident.severity,
        'customTags': list(incident.tags),
        'systemTags': list(incident.system_tags),
        'description': incident.description,
        'summary': None,
        'lastModifiedBy': incident.last_modified_by,
        'comments': [comment_json(c) for c in incident.comments],
    }
    if expand_alerts:
        out['alerts'] = [graph_alert(a, incident.tenant_id) for a in incident.alerts]
    return out


def comment_json(comment: Any) -> dict[str, Any]:
    return {'comment': comment.comment, 'createdByDisplayName': comment.created_by,
            'createdDateTime': format_time(comment.created)}


# ----- incidents ----------------------------------------------------------------------------------------------------

INCIDENT_FILTER = {
    'assignedTo': Prop('assignedTo', 'string', lambda i: i.assigned_to),
    'classification': Prop('classification', 'enum', lambda i: i.classification, enum=CLASSIFICATION),
    'createdDateTime': Prop('createdDateTime', 'datetime', lambda i: i.created, attribute='created'),
    'determination': Prop('determination', 'enum', lambda i: i.determination, enum=DETERMINATION),
    'lastUpdateDateTime': Prop('lastUpdateDateTime', 'datetime', lambda i: i.last_update, attribute='last_update'),
    'severity': Prop('severity', 'enum', lambda i: i.severity, enum=SEVERITY),
    'status': Prop('status', 'enum', lambda i: i.status, enum=INCIDENT_STATUS),
}
INCIDENT_PROPERTIES = ('id', 'incidentWebUrl', 'redirectIncidentId', 'tenantId', 'displayName', 'createdDateTime',
                       'lastUpdateDateTime', 'assignedTo', 'classification', 'determination', 'status', 'severity',
                       'customTags', 'systemTags', 'description', 'summary', 'lastModifiedBy', 'comments', 'alerts')
INCIDENT_ORDER = {'createdDateTime': 'created', 'lastUpdateDateTime': 'last_update', 'id': 'incident_id'}
INCIDENT_TYPE = 'microsoft.graph.security.incident'


def _select(items: list[dict[str, Any]], select: str | None, properties: tuple[str, ...],
            type_name: str) -> list[dict[str, Any]]:
    names = parse_select(select, properties, type_name)
    if names is None:
        return items
    keep = {'@odata.type', 'id', *names, 'alerts'}
    return [{k: v for k, v in item.items() if k in keep} for item in items]


def _parse_expand(raw: str | None) -> bool:
    return bool(parse_expand(raw, ('alerts',),
                             lambda name: f"Could not find a property named '{name}' on type '{INCIDENT_TYPE}'."))


def _top_exceeded(limit: int, top: int) -> JSONResponse:
    # Graph's own answer, code and all (an empty code).
    body = api_error_body('', f"The query specified in the URI is not valid. The limit of '{limit}' for Top query "
                              f"has been exceeded. The value from the incoming request is '{top}'.")
    body['error']['details'] = []
    annotate(error='TopLimitExceeded')
    return JSONResponse(body, status_code=400)


def _odata_response(exc: ODataError) -> JSONResponse:
    if exc.kind in ('filter', 'property', 'value'):
        return _bad_request(f'Invalid filter clause: {exc}')
    return _bad_request(str(exc))


@module.route('/security/incidents', permissions=INCIDENT_READ)
async def list_incidents(request: Request, principal: Principal) -> Response:
    try:
        options = query_options(request.query_params.items(),
                                ('$filter', '$orderby', '$top', '$skip', '$count', '$expand', '$select'))
        top = parse_count('$top', options.get('$top'))
        skip = parse_count('$skip', options.get('$skip')) or 0
        node = parse_filter(options.get('$filter') or '', INCIDENT_FILTER, INCIDENT_TYPE, INCIDENT_PROPERTIES) \
            if options.get('$filter') is not None else None
        order = parse_orderby(options.get('$orderby') or '', INCIDENT_ORDER) \
            if options.get('$orderby') is not None else []
        expand = _parse_expand(options.get('$expand'))
        count = parse_bool('$count', options.get('$count'))
    except ODataError as exc:
        return _odata_response(exc)
    if top is not None and top > MAX_INCIDENTS_TOP:
        return _top_exceeded(MAX_INCIDENTS_TOP, top)
    page_size = MAX_INCIDENTS_TOP if top is None else top
    store = get_store(emulator_context(request))
    with store.lock:
        page, total = run_incident_query(store, node, order, skip, page_size)
        items = [graph_incident(i, expand) for i in page]
    try:
        items = _select(items, options.get('$select'), INCIDENT_PROPERTIES, INCIDENT_TYPE)
    except ODataError as exc:
        return _odata_response(exc)
    context = f'{base_url(request)}/{_version(request)}/$metadata#security/incidents'
    body: dict[str, Any] = {'@odata.context': context + ('(alerts())' if expand else '')}
    if count:
        body['@odata.count'] = total
    body['value'] = items
    if page_size and skip + page_size < total:
        body['@odata.nextLink'] = next_link(request, f'/{_version(request)}/security/incidents', skip + page_size)
    return JSONResponse(body)


def _find_incident(request: Request) -> tuple[Any, Incident | None, JSONResponse | None]:
    raw = request.path_params['incident_id']
    store = get_store(emulator_context(request))
    try:
        incident_id = int(raw)
        return store, store.get(incident_id), None
    except (ValueError, NotFound):
        return store, None, api_error(404, 'NotFound', f"Incident with id '{raw}' was not found.")


@module.route('/security/incidents/{incident_id}', permissions=INCIDENT_READ)
async def get_incident(request: Request, principal: Principal) -> Response:
    try:
        options = query_options(request.query_params.items(), ('$expand', '$select'))
        expand = _parse_expand(options.get('$expand'))
    except ODataError as exc:
        return _odata_response(exc)
    store, incident, error = _find_incident(request)
    if error is not None or incident is None:
        return error or api_error(404, 'NotFound', 'Not found.')
    with store.lock:
        item = graph_incident(incident, expand)
    try:
        item = _select([item], options.get('$select'), INCIDENT_PROPERTIES, INCIDENT_TYPE)[0]
    except ODataError as exc:
        return _odata_response(exc)
    context = f'{base_url(request)}/{_version(request)}/$metadata#security/incidents'
    return JSONResponse({'@odata.context': context + ('(alerts())' if expand else '') + '/$entity', **item})


GRAPH_FIELDS = {'status': 'status', 'assignedTo': 'assigned_to', 'classification': 'classification',
                'determination': 'determination', 'customTags': 'tags'}


@module.route('/security/incidents/{incident_id}', methods=['PATCH'], permissions=INCIDENT_WRITE)
async def update_incident(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        return _bad_request('The request body must be a JSON object.')
    for key in body:
        if key not in GRAPH_FIELDS and key != '@odata.type':
            return _bad_request(f"Invalid property '{key}' for an update of {INCIDENT_TYPE}. Updatable properties: "
                                f"{', '.join(GRAPH_FIELDS)}.")
    store, incident, error = _find_incident(request)
    if error is not None or incident is None:
        return error or api_error(404, 'NotFound', 'Not found.')
    with store.lock:
        try:
            changes = validate_changes(store, incident, body, fields=GRAPH_FIELDS, legacy=False)
        except ValueError as exc:
            return _bad_request(f'Invalid value: {exc}')
        if changes:
            who = acting_identity(principal)
            store.update(incident.incident_id, changes, modified_by=who)
        item = graph_incident(incident)
    return JSONResponse({'@odata.context': f'{base_url(request)}/{_version(request)}/$metadata#security/incidents/'
                                           f'$entity', **item})


@module.route('/security/incidents/{incident_id}/comments', methods=['POST'], permissions=INCIDENT_WRITE)
async def add_comment(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        return _bad_request('The request body must be a JSON object.')
    comment = body.get('comment')
    if not isinstance(comment, str) or not comment.strip():
        return _bad_request("The 'comment' property is required and must be a non-empty string.")
    odata_type = body.get('@odata.type')
    if odata_type is not None and str(odata_type).lstrip('#') != 'microsoft.graph.security.alertComment':
        return _bad_request(f"A type named '{odata_type}' could not be resolved by the model.")
    store, incident, error = _find_incident(request)
    if error is not None or incident is None:
        return error or api_error(404, 'NotFound', 'Not found.')
    with store.lock:
        who = acting_identity(principal)
        store.update(incident.incident_id, {}, comment=comment, comment_by=who)
        comments = [comment_json(c) for c in incident.comments]
    return JSONResponse({'@odata.context': f"{base_url(request)}/{_version(request)}/$metadata#security/incidents("
                                           f"'{incident.incident_id}')/comments", 'value': comments})


# ----- alerts_v2 ----------------------------------------------------------------------------------------------------

ALERT_TYPE = 'microsoft.graph.security.alert'
_SERVICE_ENUM = {graph: legacy for legacy, graph in SERVICE_SOURCES.values()}
_DETECTION_ENUM = {graph: legacy for legacy, graph in DETECTION_SOURCES.values()}
ALERT_FILTER = {
    'incidentId': Prop('incidentId', 'string', lambda a: str(a.incident_id)),
    'createdDateTime': Prop('createdDateTime', 'datetime', lambda a: a.created),
    'lastUpdateDateTime': Prop('lastUpdateDateTime', 'datetime', lambda a: a.last_update),
    'status': Prop('status', 'enum', lambda a: a.status, enum=ALERT_STATUS_GRAPH),
    'severity': Prop('severity', 'enum', lambda a: a.severity, enum=SEVERITY),
    'serviceSource': Prop('serviceSource', 'enum', lambda a: SERVICE_SOURCES[a.service_source][1],
                          enum=_SERVICE_ENUM),
    'detectionSource': Prop('detectionSource', 'enum', lambda a: DETECTION_SOURCES[a.detection_source][1],
                            enum=_DETECTION_ENUM),
    'classification': Prop('classification', 'enum', lambda a: a.classification or 'unknown', enum=CLASSIFICATION),
    'determination': Prop('determination', 'enum', lambda a: a.determination or 'unknown', enum=DETERMINATION),
    'assignedTo': Prop('assignedTo', 'string', lambda a: a.assigned_to),
}
ALERT_PROPERTIES = ('id', 'providerAlertId', 'incidentId', 'status', 'severity', 'classification', 'determination',
                    'serviceSource', 'detectionSource', 'detectorId', 'tenantId', 'title', 'description',
                    'recommendedActions', 'category', 'assignedTo', 'alertWebUrl', 'incidentWebUrl',
                    'actorDisplayName', 'threatDisplayName', 'threatFamilyName', 'mitreTechniques', 'createdDateTime',
                    'lastUpdateDateTime', 'resolvedDateTime', 'firstActivityDateTime', 'lastActivityDateTime',
                    'systemTags', 'comments', 'evidence')
ALERT_ORDER = {'createdDateTime': 'created', 'lastUpdateDateTime': 'last_update'}


@module.route('/security/alerts_v2', permissions=ALERT_READ)
async def list_alerts(request: Request, principal: Principal) -> Response:
    try:
        options = query_options(request.query_params.items(), ('$filter', '$orderby', '$top', '$skip', '$count', '$select'))
        top = parse_count('$top', options.get('$top'))
        skip = parse_count('$skip', options.get('$skip')) or 0
        node = parse_filter(options.get('$filter') or '', ALERT_FILTER, ALERT_TYPE, ALERT_PROPERTIES) \
            if options.get('$filter') is not None else None
        order = parse_orderby(options.get('$orderby') or '', ALERT_ORDER) \
            if options.get('$orderby') is not None else [('created', True)]
        count = parse_bool('$count', options.get('$count'))
    except ODataError as exc:
        return _odata_response(exc)
    if top is not None and top > MAX_ALERTS_TOP:
        return _top_exceeded(MAX_ALERTS_TOP, top)
    page_size = MAX_ALERTS_TOP if top is None else top
    store = get_store(emulator_context(request))
    with store.lock:
        alerts = list(store.alerts.values())
        if node is not None:
            alerts = [a for a in alerts if node.test(a)]
        alerts.sort(key=lambda a: a.alert_id, reverse=order[0][1])
        for attribute, descending in reversed(order):
            alerts.sort(key=lambda a, n=attribute: getattr(a, n), reverse=descending)   # type: ignore[misc]
        total = len(alerts)
        items = [graph_alert(a, store.tenant_id) for a in alerts[skip:skip + page_size]]
    try:
        items = _select(items, options.get('$select'), ALERT_PROPERTIES, ALERT_TYPE)
    except ODataError as exc:
        return _odata_response(exc)
    body: dict[str, Any] = {'@odata.context': f'{base_url(request)}/{_version(request)}/$metadata#security/alerts_v2'}
    if count:
        body['@odata.count'] = total
    body['value'] = items
    if page_size and skip + page_size < total:
        body['@odata.nextLink'] = next_link(request, f'/{_version(request)}/security/alerts_v2', skip + page_size)
    return JSONResponse(body)


@module.route('/security/alerts_v2/{alert_id}', permissions=ALERT_READ)
async def get_alert(request: Request, principal: Principal) -> Response:
    store = get_store(emulator_context(request))
    alert_id = request.path_params['alert_id']
    with store.lock:
        alert = store.alerts.get(alert_id)
        if alert is None:
            return api_error(404, 'NotFound', f"Alert with id '{alert_id}' was not found.")
        item = graph_alert(alert, store.tenant_id)
    return JSONResponse({'@odata.context': f'{base_url(request)}/{_version(request)}/$metadata#security/alerts_v2/'
                                           f'$entity', **item})


# ----- advanced hunting ---------------------------------------------------------------------------------------------

@module.route('/security/runHuntingQuery', methods=['POST'], permissions=HUNT)
async def run_hunting_query(request: Request, principal: Principal) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        return _bad_request('The request body must be a JSON object.')
    fields = {k.lower(): v for k, v in body.items()}
    query = fields.get('query')
    if not isinstance(query, str) or not query.strip():
        return _bad_request("The parameter 'Query' is required and must be a non-empty string.")
    timespan = fields.get('timespan')
    if timespan is not None and not isinstance(timespan, str):
        return _bad_request("The parameter 'Timespan' must be an ISO 8601 string.")
    try:
        window = parse_timespan(timespan)
    except ValueError:
        return _bad_request(f"The Timespan '{timespan}' is not valid. Use an ISO 8601 duration (P30D), a date-time, "
                            f"or start/end, duration/end or start/duration.")
    try:
        result = run_query(tenant_hunting_tables(emulator_context(request)), query, window)
    except KqlError as exc:
        return _bad_request(str(exc))
    return JSONResponse({
        '@odata.context': f'{base_url(request)}/{_version(request)}/$metadata#microsoft.graph.security.'
                          f'huntingQueryResults',
        'schema': [{'name': name, 'type': kind} for name, kind in result.columns],
        'results': result.rows,
    })
