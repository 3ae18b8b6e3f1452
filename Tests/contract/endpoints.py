"""Every Microsoft endpoint the pack calls, as data: the contract tests (``Tests/contract``) check each one against
Microsoft Learn's documented example request and response, stored under the owning integration's
``test_data/contract/<key>.json``.

An entry names the HTTP method and path template (as Microsoft documents it), the ``Client`` method that calls it,
and how to drive it from the integration side (``command`` and ``args``, or ``call``: a Client method and its
arguments) and from the emulator side (``emulator_path``: the documented path with ``{placeholders}`` that the
emulator test fills with identifiers of the emulator's seed).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

INTEGRATIONS = {
    'mde': ROOT / 'Packs/MicrosoftDefenderAdvancedThreatProtection/Integrations/MicrosoftDefenderAdvancedThreatProtection',
    'm365d': ROOT / 'Packs/Microsoft365Defender/Integrations/Microsoft365Defender',
    'mdti': ROOT / 'Packs/MicrosoftDefenderThreatIntelligence/Integrations/MicrosoftDefenderThreatIntelligence',
    'auth': ROOT / 'Packs/ApiModules/Scripts/MicrosoftApiModule',
}
MODULES = {'mde': 'MicrosoftDefenderAdvancedThreatProtection', 'm365d': 'Microsoft365Defender',
           'mdti': 'MicrosoftDefenderThreatIntelligence', 'auth': 'MicrosoftApiModule'}


@dataclass(frozen=True)
class Endpoint:
    """One documented Microsoft endpoint as the pack calls it."""
    key: str                  # fixture file stem
    owner: str                # mde | m365d | mdti | auth (which integration's test_data holds the fixture)
    api: str                  # mde | xdr | graph | entra | imds | appservice: the host and token audience
    method: str
    path: str                 # Microsoft's path template
    caller: str               # Class.method in the owner's source (or module function for auth)
    command: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    call: tuple[Any, ...] | None = None       # (Client method, *positional args) when no single command fits
    emulator_path: str | None = None          # the documented path with {placeholders} for the emulator's seed
    emulator_body: dict[str, Any] | None = None
    emulator_query: dict[str, str] | None = None
    expect: dict[str, Any] = field(default_factory=dict)    # context paths the command must write from the example
    headers: dict[str, str] = field(default_factory=dict)   # documented request headers beyond Authorization
    expect_error: bool = False           # Microsoft's documented error answer: the pack must end in a clear error
    unsent_query: tuple[str, ...] = ()   # optional parameters of Microsoft's example the integration does not send

    @property
    def fixture(self) -> Path:
        return INTEGRATIONS[self.owner] / 'test_data' / 'contract' / f'{self.key}.json'


MACHINE = '1e5bc9d7e413ddd7902c2932e418702b84d0cc07'


def _mde(key: str, method: str, path: str, caller: str, **kw: Any) -> Endpoint:
    return Endpoint(key, 'mde', 'mde', method, path, f'Client.{caller}', **kw)


def _mdti(key: str, path: str, caller: str, **kw: Any) -> Endpoint:
    base = '/v1.0/security/threatIntelligence'
    if kw.get('emulator_path'):
        kw['emulator_path'] = base + kw['emulator_path']
    return Endpoint(key, 'mdti', 'graph', 'GET', base + path, f'Client.{caller}', **kw)


TI_POST: dict[str, Any] = {'action': 'alert', 'activityGroupNames': [], 'confidence': 0,
           'description': 'This is a canary indicator for demo purpose. Take no action on any observables set in '
                          'this indicator.',
           'expirationDateTime': '2019-03-01T21:43:37.5031462+00:00', 'externalId': 'Test--8586509942679764298MS501',
           'fileHashType': 'sha256', 'fileHashValue': 'aa64428647b57bf51524d1756b2ed746e5a3f31b67cf7fe5b5d8a9daf07ca313',
           'killChain': [], 'malwareFamilyNames': [], 'severity': 0, 'tags': [], 'targetProduct': 'Azure Sentinel',
           'threatType': 'WatchList', 'tlpLevel': 'green'}
PROFILE = '9b01de37bf66d1760954a16dc2b52fed2a7bd4e093dfc8a4905e108e4843da80'
WHOIS = 'Y29udG9zby5jb20kJDY5NjQ3ODEyMDc3NDY1NzI0MzM='
P = 'microsoft-atp-'
M365D = 'microsoft-365-defender-'
MDTI = 'msg-defender-threat-intel-'

ENDPOINTS: list[Endpoint] = [
    # ---- Defender for Endpoint: machines ----
    _mde('get-machines', 'GET', '/api/machines', 'list_machines', command=f'{P}get-machines', args={}),
    _mde('get-machine-by-id', 'GET', '/api/machines/{id}', 'get_machine',
         command=f'{P}get-machine-details', args={'machine_id': MACHINE}, emulator_path='/api/machines/{machine}'),
    _mde('find-machines-by-ip', 'GET', "/api/machines/findbyip(ip='{ip}',timestamp={timestamp})",
         'find_machines_by_ip', call=('find_machines_by_ip', '10.248.240.38', '2019-09-22T08:44:05Z'),
         emulator_path="/api/machines/findbyip(ip='{ip}',timestamp={now})"),
    _mde('get-file-related-machines', 'GET', '/api/files/{id}/machines', 'file_machines',
         call=('file_machines', '4388963aaa83afe2042a46a3c017ad50bdcdafb3'), emulator_path='/api/files/{sha1}/machines'),
    _mde('get-domain-related-machines', 'GET', '/api/domains/{domain}/machines', 'domain_machines',
         call=('domain_machines', 'api.securitycenter.microsoft.com'),
         emulator_path='/api/domains/{domain}/machines'),
    _mde('get-user-related-machines', 'GET', '/api/users/{id}/machines', 'user_machines',
         call=('user_machines', 'user1'), emulator_path='/api/users/{user}/machines'),
    _mde('get-machine-log-on-users', 'GET', '/api/machines/{id}/logonusers', 'machine_users',
         call=('machine_users', MACHINE), emulator_path='/api/machines/{machine}/logonusers'),
    _mde('add-or-remove-machine-tags', 'POST', '/api/machines/{id}/tags', 'machine_tag',
         call=('machine_tag', MACHINE, 'Add', 'test Tag 2'), emulator_path='/api/machines/{machine}/tags'),
    # ---- Defender for Endpoint: response actions ----
    _mde('isolate-machine', 'POST', '/api/machines/{id}/isolate', 'machine_action',
         call=('machine_action', MACHINE, 'isolate', {'Comment': 'Isolate machine due to alert 1234',
                                                      'IsolationType': 'Full'}),
         emulator_path='/api/machines/{machine}/isolate'),
    _mde('unisolate-machine', 'POST', '/api/machines/{id}/unisolate', 'machine_action',
         call=('machine_action', MACHINE, 'unisolate', {'Comment': 'Unisolate machine since it was clean and '
                                                                   'validated'}),
         emulator_path='/api/machines/{isolated_machine}/unisolate'),
    _mde('run-av-scan', 'POST', '/api/machines/{id}/runAntiVirusScan', 'machine_action',
         call=('machine_action', MACHINE, 'runAntiVirusScan', {'Comment': 'Check machine for viruses due to alert '
                                                                          '3212', 'ScanType': 'Full'}),
         emulator_path='/api/machines/{machine}/runAntiVirusScan'),
    _mde('restrict-code-execution', 'POST', '/api/machines/{id}/restrictCodeExecution', 'machine_action',
         call=('machine_action', MACHINE, 'restrictCodeExecution',
               {'Comment': 'Restrict code execution due to alert 1234'}),
         emulator_path='/api/machines/{machine}/restrictCodeExecution'),
    _mde('unrestrict-code-execution', 'POST', '/api/machines/{id}/unrestrictCodeExecution', 'machine_action',
         call=('machine_action', MACHINE, 'unrestrictCodeExecution',
               {'Comment': 'Unrestrict code execution since machine was cleaned and validated'}),
         emulator_path='/api/machines/{restricted_machine}/unrestrictCodeExecution'),
    _mde('stop-and-quarantine-file', 'POST', '/api/machines/{id}/StopAndQuarantineFile', 'machine_action',
         call=('machine_action', MACHINE, 'StopAndQuarantineFile',
               {'Comment': 'Stop and quarantine file on machine due to alert 441688558380765161_2136280442',
                'Sha1': '87662bc3d60e4200ceaf7aae249d1c343f4b83c9'}),
         emulator_path='/api/machines/{machine}/StopAndQuarantineFile'),
    _mde('collect-investigation-package', 'POST', '/api/machines/{id}/collectInvestigationPackage', 'machine_action',
         call=('machine_action', MACHINE, 'collectInvestigationPackage',
               {'Comment': 'Collect forensics due to alert 1234'}),
         emulator_path='/api/machines/{machine}/collectInvestigationPackage'),
    _mde('offboard-machine-api', 'POST', '/api/machines/{id}/offboard', 'machine_action',
         call=('machine_action', MACHINE, 'offboard', {'Comment': 'Offboard machine by automation'}),
         emulator_path='/api/machines/{machine}/offboard'),
    _mde('run-live-response', 'POST', '/api/machines/{id}/runliveresponse', 'run_live_response',
         call=('run_live_response', MACHINE,
               [{'type': 'RunScript', 'params': [{'key': 'ScriptName', 'value': 'minidump.ps1'},
                                                 {'key': 'Args', 'value': 'OfficeClickToRun'}]},
                {'type': 'GetFile', 'params': [{'key': 'Path', 'value': 'C:\\windows\\TEMP\\OfficeClickToRun.dmp.zip'}]}],
               'Testing Live Response API'),
         emulator_path='/api/machines/{machine}/runliveresponse'),
    _mde('get-machineaction-object', 'GET', '/api/machineactions/{id}', 'get_machine_action',
         call=('get_machine_action', '2e9da30d-27f6-4208-81f2-9cd3d67893ba'),
         emulator_path='/api/machineactions/{action}'),
    _mde('get-machineactions-collection', 'GET', '/api/machineactions', 'list_machine_actions',
         call=('list_machine_actions', "machineId eq 'f46b9bb259ed4a7fb9981b73510e3cc7aa81ec1f'", 2),
         emulator_query={'$filter': "machineId eq '{machine_with_action}'", '$top': '2'}),
    _mde('get-package-sas-uri', 'GET', '/api/machineactions/{id}/GetPackageUri', 'package_uri',
         call=('package_uri', '7327b54fd718525cbca07dacde913b5ac3c85673'),
         emulator_path='/api/machineactions/{package_action}/GetPackageUri'),
    _mde('get-live-response-result', 'GET',
         '/api/machineactions/{id}/GetLiveResponseResultDownloadLink(index={index})', 'live_response_link',
         call=('live_response_link', '988cc94e-7a8f-4b28-ab65-54970c5d5018', 0),
         emulator_path='/api/machineactions/{live_response_action}/GetLiveResponseResultDownloadLink(index=0)'),
    _mde('cancel-machine-action', 'POST', '/api/machineactions/{id}/cancel', 'cancel_machine_action',
         call=('cancel_machine_action', '988cc94e-7a8f-4b28-ab65-54970c5d5018', 'Cancel machine action'),
         emulator_path='/api/machineactions/{pending_action}/cancel'),
    # ---- Defender for Endpoint: investigations ----
    _mde('get-investigation-collection', 'GET', '/api/investigations', 'list_investigations',
         command=f'{P}list-investigations', args={'limit': '10'},
         expect={'MicrosoftATP.Investigation.State': 'Running', 'MicrosoftATP.Investigation.InvestigationState':
                 'Running'}),
    _mde('get-investigation-object', 'GET', '/api/investigations/{id}', 'get_investigation',
         command=f'{P}list-investigations', args={'id': '63017'}, expect={'MicrosoftATP.Investigation.State': 'Running'},
         emulator_path='/api/investigations/{investigation}'),
    _mde('initiate-autoir-investigation', 'POST', '/api/machines/{id}/startInvestigation', 'start_investigation',
         call=('start_investigation', MACHINE, 'Test investigation'),
         emulator_path='/api/machines/{machine}/startInvestigation'),
    # ---- Defender for Endpoint: files, domains, IPs ----
    _mde('get-file-statistics', 'GET', '/api/files/{id}/stats', 'file_stats',
         call=('file_stats', '0991a395da64e1c5fbe8732ed11e6be064081d9f'), unsent_query=('lookBackHours',),
         emulator_path='/api/files/{sha1}/stats'),
    _mde('get-file-information', 'GET', '/api/files/{id}', 'file_info',
         call=('file_info', '4388963aaa83afe2042a46a3c017ad50bdcdafb3'), emulator_path='/api/files/{sha1}'),
    _mde('get-domain-statistics', 'GET', '/api/domains/{domain}/stats', 'domain_stats',
         call=('domain_stats', 'example.com'), unsent_query=('lookBackHours',), emulator_path='/api/domains/{domain}/stats'),
    _mde('get-ip-statistics', 'GET', '/api/ips/{ip}/stats', 'ip_stats',
         call=('ip_stats', '10.209.67.177'), unsent_query=('lookBackHours',), emulator_path='/api/ips/{ip}/stats'),
    # ---- Defender for Endpoint: vulnerability management ----
    _mde('get-software', 'GET', '/api/Software', 'list_software', call=('list_software', None, 50, 0)),
    _mde('get-machines-by-software', 'GET', '/api/Software/{id}/machineReferences', 'software_part',
         call=('software_part', 'microsoft-_-edge', 'machineReferences'),
         emulator_path='/api/Software/{software}/machineReferences'),
    _mde('get-software-ver-distribution', 'GET', '/api/Software/{id}/distributions', 'software_part',
         call=('software_part', 'microsoft-_-edge', 'distributions'),
         emulator_path='/api/Software/{software}/distributions'),
    _mde('get-missing-kbs-software', 'GET', '/api/Software/{id}/getmissingkbs', 'software_part',
         call=('software_part', 'microsoft-_-edge', 'getmissingkbs'),
         emulator_path='/api/Software/{windows_software}/getmissingkbs'),
    _mde('get-vuln-by-software', 'GET', '/api/Software/{id}/vulnerabilities', 'software_part',
         call=('software_part', 'microsoft-_-edge', 'vulnerabilities'),
         emulator_path='/api/Software/{software}/vulnerabilities'),
    _mde('get-all-vulnerabilities', 'GET', '/api/vulnerabilities', 'list_vulnerabilities',
         call=('list_vulnerabilities', None, 25, 0)),
    _mde('get-all-vulnerabilities-by-machines', 'GET', '/api/vulnerabilities/machinesVulnerabilities',
         'machines_vulnerabilities', call=('machines_vulnerabilities', None, 25, 0)),
    _mde('get-machines-by-vulnerability', 'GET', '/api/vulnerabilities/{cveId}/machineReferences',
         'vulnerability_machines', call=('vulnerability_machines', 'CVE-2019-0608'),
         emulator_path='/api/vulnerabilities/{cve}/machineReferences'),
    _mde('get-installed-software', 'GET', '/api/machines/{id}/software', 'machine_part',
         call=('machine_part', 'ac233fa6208e1579620bf44207c4006ed7cc4501', 'software'),
         emulator_path='/api/machines/{machine}/software'),
    _mde('get-missing-kbs-machine', 'GET', '/api/machines/{id}/getmissingkbs', 'machine_part',
         call=('machine_part', '2339ad14a01bd0299afb93dfa2550136057bff96', 'getmissingkbs'),
         emulator_path='/api/machines/{windows_machine}/getmissingkbs'),
    _mde('get-discovered-vulnerabilities', 'GET', '/api/machines/{id}/vulnerabilities', 'machine_part',
         call=('machine_part', 'ac233fa6208e1579620bf44207c4006ed7cc4501', 'vulnerabilities'),
         emulator_path='/api/machines/{machine}/vulnerabilities'),
    # ---- Defender for Endpoint: indicators ----
    _mde('get-ti-indicators-collection', 'GET', '/api/indicators', 'list_indicators',
         call=('list_indicators', None, 50, 0)),
    _mde('get-ti-indicator-by-id', 'GET', '/api/indicators/{id}', 'get_indicator',
         call=('get_indicator', '995'), emulator_path='/api/indicators/{indicator}'),
    _mde('post-ti-indicator', 'POST', '/api/indicators', 'submit_indicator',
         call=('submit_indicator', {'indicatorValue': '220e7d15b011d7fac48f2bd61114db1022197f7f',
                                    'indicatorType': 'FileSha1', 'title': 'test', 'application': 'demo-test',
                                    'expirationTime': '2020-12-12T00:00:00Z', 'action': 'AlertAndBlock',
                                    'severity': 'Informational', 'description': 'test',
                                    'recommendedActions': 'nothing', 'rbacGroupNames': ['group1', 'group2']}),
         emulator_body={'indicatorValue': '220e7d15b011d7fac48f2bd61114db1022197f7f', 'indicatorType': 'FileSha1',
                        'title': 'test', 'application': 'demo-test', 'expirationTime': '{future}',
                        'action': 'AlertAndBlock', 'severity': 'Informational', 'description': 'test',
                        'recommendedActions': 'nothing', 'rbacGroupNames': ['group1', 'group2']}),
    _mde('delete-ti-indicator-by-id', 'DELETE', '/api/indicators/{id}', 'delete_indicator',
         call=('delete_indicator', '995'), emulator_path='/api/indicators/{indicator}'),
    _mde('import-ti-indicators', 'POST', '/api/indicators/import', 'import_indicators',
         call=('import_indicators', [
             {'indicatorValue': '2233223322332233223322332233223322332233223322332233223322332222',
              'indicatorType': 'FileSha256', 'title': 'demo', 'application': 'demo-test', 'action': 'Alert',
              'severity': 'Medium', 'description': 'demo2', 'recommendedActions': 'nothing',
              'expirationTime': '2021-12-12T00:00:00Z', 'rbacGroupNames': ['group1', 'group2']},
             {'indicatorValue': '2244224422442244224422442244224422442244224422442244224422442244',
              'indicatorType': 'FileSha256', 'title': 'demo2', 'application': 'demo-test2', 'action': 'Alert',
              'severity': 'Medium', 'description': 'demo2', 'recommendedActions': 'nothing',
              'expirationTime': '2021-12-12T00:00:00Z', 'rbacGroupNames': []}])),
    # ---- Defender for Endpoint: legacy Microsoft Graph tiIndicators (beta) ----
    Endpoint('graph-tiindicators-list', 'mde', 'graph', 'GET', '/beta/security/tiIndicators', 'Client.ti_list',
             call=('ti_list', 50, 50)),
    Endpoint('graph-tiindicator-get', 'mde', 'graph', 'GET', '/beta/security/tiIndicators/{id}', 'Client.ti_get',
             call=('ti_get', 'e58c072b-c9bb-a5c4-34ce-eb69af44fb1e'), emulator_path='/beta/security/tiIndicators/{ti_indicator}'),
    Endpoint('graph-tiindicator-post', 'mde', 'graph', 'POST', '/beta/security/tiIndicators', 'Client.ti_create',
             call=('ti_create', TI_POST), emulator_body={**TI_POST, 'expirationDateTime': '{future}',
                                                         'description': str(TI_POST['description'])[:100]}),
    Endpoint('graph-tiindicator-update', 'mde', 'graph', 'PATCH', '/beta/security/tiIndicators/{id}',
             'Client.ti_update', call=('ti_update', 'e58c072b-c9bb-a5c4-34ce-eb69af44fb1e', {
                 'additionalInformation': 'additionalInformation-after-update', 'confidence': 42,
                 'description': 'description-after-update'}), headers={'Prefer': 'return=representation'},
             emulator_path='/beta/security/tiIndicators/{ti_indicator}'),
    Endpoint('graph-tiindicator-delete', 'mde', 'graph', 'DELETE', '/beta/security/tiIndicators/{id}',
             'Client.ti_delete', call=('ti_delete', 'e58c072b-c9bb-a5c4-34ce-eb69af44fb1e'),
             emulator_path='/beta/security/tiIndicators/{ti_indicator}'),
    # ---- Defender for Endpoint: hunting and alerts ----
    _mde('run-advanced-query-api', 'POST', '/api/advancedqueries/run', 'run_legacy_query',
         call=('run_legacy_query', 'DeviceProcessEvents | where InitiatingProcessFileName =~ "powershell.exe" | '
                            'project Timestamp, FileName, InitiatingProcessFileName | order by Timestamp desc | '
                            'limit 2', 60)),
    # The same hunting on Microsoft Graph (the instance's "Advanced hunting API"; Automatic tries Graph first).
    Endpoint('mde-graph-run-hunting-query', 'mde', 'graph', 'POST', '/v1.0/security/runHuntingQuery',
             'Client.run_graph_query', call=('run_graph_query', 'DeviceProcessEvents | limit 2', 60)),
    _mde('get-alerts', 'GET', '/api/alerts', 'list_alerts', call=('list_alerts', None, 10, False)),
    _mde('get-alert-info-by-id', 'GET', '/api/alerts/{id}', 'get_alert',
         call=('get_alert', 'da637308392288907382_-880718168'), emulator_path='/api/alerts/{alert}'),
    _mde('update-alert', 'PATCH', '/api/alerts/{id}', 'update_alert',
         call=('update_alert', '121688558380765161_2136280442',
               {'status': 'Resolved', 'assignedTo': 'secop2@contoso.com', 'classification': 'TruePositive',
                'determination': 'Malware', 'comment': 'Resolve my alert and assign to secop2'}),
         emulator_path='/api/alerts/{alert}'),
    _mde('create-alert-by-reference', 'POST', '/api/alerts/CreateAlertByReference', 'create_alert',
         call=('create_alert', {'machineId': MACHINE, 'severity': 'Low', 'title': 'example',
                                'description': 'example alert', 'recommendedAction': 'nothing',
                                'eventTime': '2018-08-03T16:45:21.7115183Z',
                                'reportId': '20776', 'category': 'Exploit'}),
         emulator_body={'machineId': '{machine}', 'severity': 'Low', 'title': 'example', 'description': 'example alert',
                        'recommendedAction': 'nothing', 'eventTime': '{now}', 'reportId': '20776',
                        'category': 'Exploit'}),
    _mde('get-alert-related-user-info', 'GET', '/api/alerts/{id}/user', 'alert_user',
         call=('alert_user', '636688558380765161_2136280442'), emulator_path='/api/alerts/{alert}/user'),
    _mde('get-alert-related-files-info', 'GET', '/api/alerts/{id}/files', 'alert_entities',
         call=('alert_entities', '636688558380765161_2136280442', 'files'),
         emulator_path='/api/alerts/{alert}/files'),
    _mde('get-alert-related-ip-info', 'GET', '/api/alerts/{id}/ips', 'alert_entities',
         call=('alert_entities', '636688558380765161_2136280442', 'ips'), emulator_path='/api/alerts/{alert}/ips'),
    _mde('get-alert-related-domain-info', 'GET', '/api/alerts/{id}/domains', 'alert_entities',
         call=('alert_entities', '636688558380765161_2136280442', 'domains'),
         emulator_path='/api/alerts/{alert}/domains'),
    _mde('get-domain-related-alerts', 'GET', '/api/domains/{domain}/alerts', 'entity_alerts',
         call=('entity_alerts', 'domains', 'client.wns.windows.com', 'domain'),
         emulator_path='/api/domains/{domain}/alerts'),
    _mde('get-file-related-alerts', 'GET', '/api/files/{id}/alerts', 'entity_alerts',
         call=('entity_alerts', 'files', '6532ec91d513acc05f43ee0aa3002599729fd3e1', 'file_hash'),
         emulator_path='/api/files/{sha1}/alerts'),
    _mde('get-ip-related-alerts', 'GET', '/api/ips/{ip}/alerts', 'entity_alerts',
         call=('entity_alerts', 'ips', '10.209.67.177', 'ip'), emulator_path='/api/ips/{alert_ip}/alerts'),
    _mde('get-user-related-alerts', 'GET', '/api/users/{id}/alerts', 'entity_alerts',
         call=('entity_alerts', 'users', 'user1', 'username'), emulator_path='/api/users/{user}/alerts'),
    _mde('get-machine-related-alerts', 'GET', '/api/machines/{id}/alerts', 'entity_alerts',
         call=('entity_alerts', 'machines', MACHINE, 'machine_id'), emulator_path='/api/machines/{machine}/alerts'),
    # ---- Microsoft 365 Defender: Defender XDR API (legacy) ----
    Endpoint('list-incidents', 'm365d', 'xdr', 'GET', '/api/incidents', 'LegacyApi.list_incidents',
             command=f'{M365D}incidents-list', args={'limit': '2'}),
    Endpoint('get-incident', 'm365d', 'xdr', 'GET', '/api/incidents/{id}', 'LegacyApi.get_incident',
             command=f'{M365D}incident-get', args={'id': '924565'},
             emulator_path='/api/incidents/{incident}'),
    Endpoint('update-incident', 'm365d', 'xdr', 'PATCH', '/api/incidents/{id}', 'LegacyApi.update_incident',
             call=('update_incident', 924565, {'status': 'Resolved', 'assignedTo': 'secop2@contoso.com',
                                               'classification': 'TruePositive', 'determination': 'Malware',
                                               'tags': ["Yossi's playground", "Don't mess with the Zohan"]},
                   'pen testing'),
             emulator_path='/api/incidents/{incident}'),
    # The retiring Defender XDR hunting API; on "Automatic" the legacy back end hunts on Graph (GraphApi's entry below).
    Endpoint('run-advanced-hunting', 'm365d', 'xdr', 'POST', '/api/advancedhunting/run', 'LegacyApi.run_legacy_hunting',
             call=('run_legacy_hunting', 'DeviceProcessEvents | limit 2', None, 60)),
    # ---- Microsoft 365 Defender: Microsoft Graph security ----
    Endpoint('graph-list-incidents', 'm365d', 'graph', 'GET', '/v1.0/security/incidents', 'GraphApi.list_incidents',
             command=f'{M365D}incidents-list', args={'limit': '1'}),
    Endpoint('graph-get-incident', 'm365d', 'graph', 'GET', '/v1.0/security/incidents/{id}',
             'GraphApi.get_incident', command=f'{M365D}incident-get', args={'id': '2972395'},
             emulator_path='/v1.0/security/incidents/{graph_incident}'),
    Endpoint('graph-update-incident', 'm365d', 'graph', 'PATCH', '/v1.0/security/incidents/{id}',
             'GraphApi.update_incident', call=('update_incident', 2972395, {
                 'classification': 'TruePositive', 'determination': 'MultiStagedAttack', 'tags': ['Demo']}, None),
             emulator_path='/v1.0/security/incidents/{graph_incident}'),
    Endpoint('graph-incident-comment', 'm365d', 'graph', 'POST', '/v1.0/security/incidents/{id}/comments',
             'GraphApi.update_incident', call=('update_incident', 2972395, {}, 'Demo for docs'),
             emulator_path='/v1.0/security/incidents/{graph_incident}/comments'),
    Endpoint('graph-list-alerts-v2', 'm365d', 'graph', 'GET', '/v1.0/security/alerts_v2', 'GraphApi.list_alerts',
             call=('list_alerts', '2972395')),
    Endpoint('graph-run-hunting-query', 'm365d', 'graph', 'POST', '/v1.0/security/runHuntingQuery',
             'GraphApi.run_hunting_query', command=f'{M365D}advanced-hunting',
             args={'query': 'DeviceProcessEvents | limit 2'}),
    # ---- Defender Threat Intelligence: Microsoft Graph security/threatIntelligence ----
    _mdti('list-articles', '/articles', 'list_articles', command=f'{MDTI}article-list', args={'limit': '1'}),
    _mdti('get-article', '/articles/{id}', 'get_article', call=('get_article', 'a272d5ab'), emulator_path='/articles/{article}'),
    _mdti('list-article-indicators', '/articles/{id}/indicators', 'list_article_indicators',
          call=('list_article_indicators', 'a272d5ab', 10),
          emulator_path='/articles/{article}/indicators'),
    _mdti('get-article-indicator', '/articleIndicators/{id}', 'get_article_indicator',
          call=('get_article_indicator', 'ZmFrZS1tYWxpY2lvdXMuc2l0ZQ=='),
          emulator_path='/articleIndicators/{article_indicator}'),
    _mdti('list-intel-profiles', '/intelProfiles', 'list_profiles', call=('list_profiles', 10)),
    _mdti('get-intel-profile', '/intelProfiles/{id}', 'get_profile', call=('get_profile', PROFILE),
          emulator_path='/intelProfiles/{profile}'),
    _mdti('list-intel-profile-indicators', '/intelProfiles/{id}/indicators', 'list_profile_indicators',
          call=('list_profile_indicators', PROFILE, 10),
          emulator_path='/intelProfiles/{profile}/indicators'),
    _mdti('get-intel-profile-indicator', '/intelligenceProfileIndicators/{id}', 'get_profile_indicator',
          call=('get_profile_indicator', 'ff3eecd2-a2be-27c2-8dc0-40d1c0eada55'),
          emulator_path='/intelligenceProfileIndicators/{profile_indicator}'),
    _mdti('get-host', '/hosts/{id}', 'get_host', call=('get_host', 'contoso.com'), emulator_path='/hosts/{host}'),
    _mdti('get-host-reputation', '/hosts/{id}/reputation', 'get_host_reputation',
          call=('get_host_reputation', 'contoso.com'),
          emulator_path='/hosts/{host}/reputation'),
    _mdti('get-host-whois', '/hosts/{id}/whois', 'get_host_whois', call=('get_host_whois', 'contoso.com'),
          emulator_path='/hosts/{host}/whois'),
    _mdti('get-whois-record', '/whoisRecords/{id}', 'get_whois_record', call=('get_whois_record', WHOIS),
          emulator_path='/whoisRecords/{whois}'),
    _mdti('list-whois-records', '/whoisRecords', 'search_whois_records',
          call=('search_whois_records', 'contoso.com', 10)),
    _mdti('list-host-whois-history', '/hosts/{id}/whois/history', 'list_host_whois_history',
          call=('list_host_whois_history', 'contoso.com', 10),
          emulator_path='/hosts/{host}/whois/history'),
    _mdti('list-whois-record-history', '/whoisRecords/{id}/history', 'list_whois_record_history',
          call=('list_whois_record_history', WHOIS, 10),
          emulator_path='/whoisRecords/{whois}/history'),
    _mdti('list-host-passive-dns', '/hosts/{id}/passiveDns', 'list_passive_dns', call=('list_passive_dns', 'contoso.com', 10),
          emulator_path='/hosts/{host}/passiveDns'),
    _mdti('list-host-passive-dns-reverse', '/hosts/{id}/passiveDnsReverse', 'list_passive_dns_reverse',
          call=('list_passive_dns_reverse', '20.103.85.33', 10),
          emulator_path='/hosts/{ip_host}/passiveDnsReverse'),
    _mdti('list-host-subdomains', '/hosts/{id}/subdomains', 'list_subdomains', call=('list_subdomains', 'contoso.com', 10),
          emulator_path='/hosts/{host}/subdomains'),
    _mdti('list-host-ssl-certificates', '/hosts/{id}/sslCertificates', 'list_ssl_certificates',
          call=('list_ssl_certificates', 'contoso.com', 10),
          emulator_path='/hosts/{host}/sslCertificates'),
    _mdti('list-host-trackers', '/hosts/{id}/trackers', 'list_trackers', call=('list_trackers', 'contoso.com', 10),
          emulator_path='/hosts/{host}/trackers'),
    _mdti('list-host-components', '/hosts/{id}/components', 'list_components', call=('list_components', 'contoso.com', 10),
          emulator_path='/hosts/{host}/components'),
    _mdti('list-host-cookies', '/hosts/{id}/cookies', 'list_cookies', call=('list_cookies', 'contoso.com', 10),
          emulator_path='/hosts/{host}/cookies'),
    _mdti('list-host-pairs', '/hosts/{id}/hostPairs', 'list_host_pairs', call=('list_host_pairs', 'contoso.com', 10),
          emulator_path='/hosts/{host}/hostPairs'),
    _mdti('list-host-child-pairs', '/hosts/{id}/childHostPairs', 'list_host_pairs',
          call=('list_host_pairs', 'contoso.com', 10, 'parent'),
          emulator_path='/hosts/{host}/childHostPairs'),
    _mdti('list-host-parent-pairs', '/hosts/{id}/parentHostPairs', 'list_host_pairs',
          call=('list_host_pairs', 'contoso.com', 10, 'child'),
          emulator_path='/hosts/{host}/parentHostPairs'),
    _mdti('get-vulnerability', '/vulnerabilities/{id}', 'get_vulnerability', call=('get_vulnerability', 'CVE-2021-44228'),
          emulator_path='/vulnerabilities/{vulnerability}'),
    # ---- documented error envelopes (Defender for Endpoint, Microsoft Graph; Entra ID below) ----
    _mde('error-mde-resource-not-found', 'GET', '/api/machines/{id}', 'get_machine', call=('get_machine', '123123123'),
         expect_error=True),
    _mdti('error-graph-not-found', '/hosts/{id}', 'get_host', call=('get_host', 'unknown.contoso.invalid'),
          expect_error=True),
    # ---- MicrosoftApiModule: Microsoft Entra ID and managed identities ----
    Endpoint('entra-token-client-credentials', 'auth', 'entra', 'POST', '/{tenant}/oauth2/v2.0/token',
             'ClientCredentialsCredential.acquire'),
    Endpoint('error-entra-invalid-scope', 'auth', 'entra', 'POST', '/{tenant}/oauth2/v2.0/token',
             'ClientCredentialsCredential.acquire', expect_error=True),
    Endpoint('entra-token-authorization-code', 'auth', 'entra', 'POST', '/{tenant}/oauth2/v2.0/token',
             'AuthorizationCodeCredential.redeem'),
    Endpoint('entra-token-refresh', 'auth', 'entra', 'POST', '/{tenant}/oauth2/v2.0/token', 'RefreshingCredential.refresh'),
    Endpoint('entra-devicecode', 'auth', 'entra', 'POST', '/{tenant}/oauth2/v2.0/devicecode',
             'DeviceCodeCredential.start'),
    Endpoint('entra-token-device-code', 'auth', 'entra', 'POST', '/{tenant}/oauth2/v2.0/token',
             'DeviceCodeCredential.poll'),
    Endpoint('entra-authorize', 'auth', 'entra', 'GET', '/{tenant}/oauth2/v2.0/authorize',
             'AuthorizationCodeCredential.login_url'),
    Endpoint('imds-token', 'auth', 'imds', 'GET', '/metadata/identity/oauth2/token', 'ManagedIdentityCredential.acquire'),
    Endpoint('app-service-token', 'auth', 'appservice', 'GET', '/msi/token', 'ManagedIdentityCredential.acquire'),
]

BY_KEY = {e.key: e for e in ENDPOINTS}

# Commands run on a fixture's documented response (beside the Client call of its entry): each must turn Microsoft's
# example into outputs its YAML declares. Keys are fixture keys; values are (command, arguments).
M2 = 'ac233fa6208e1579620bf44207c4006ed7cc4501'
ALERT_ID = '636688558380765161_2136280442'
COMMAND_CHECKS: dict[str, tuple[str, dict[str, str]]] = {
    'get-machine-log-on-users': (f'{P}get-machine-users', {'machine_id': MACHINE}),
    'get-file-related-machines': (f'{P}get-file-related-machines',
                                  {'file_hash': '4388963aaa83afe2042a46a3c017ad50bdcdafb3'}),
    'get-domain-related-machines': (f'{P}get-domain-machines', {'domain': 'api.securitycenter.microsoft.com'}),
    'get-user-related-machines': (f'{P}get-user-machines', {'username': 'user1'}),
    'find-machines-by-ip': (f'{P}get-machine-by-ip', {'ip': '10.248.240.38', 'timestamp': '2019-09-22T08:44:05Z'}),
    'get-file-statistics': (f'{P}get-file-statistics', {'file_hash': '0991a395da64e1c5fbe8732ed11e6be064081d9f'}),
    'get-file-information': (f'{P}get-file-info', {'hash': '4388963aaa83afe2042a46a3c017ad50bdcdafb3'}),
    'get-domain-statistics': (f'{P}get-domain-statistics', {'domain': 'example.com'}),
    'get-ip-statistics': (f'{P}get-ip-statistics', {'ip': '10.209.67.177'}),
    'get-alert-related-user-info': (f'{P}get-alert-related-user', {'id': ALERT_ID}),
    'get-alert-related-files-info': (f'{P}get-alert-related-files', {'id': ALERT_ID}),
    'get-alert-related-ip-info': (f'{P}get-alert-related-ips', {'id': ALERT_ID}),
    'get-alert-related-domain-info': (f'{P}get-alert-related-domains', {'id': ALERT_ID}),
    'get-domain-related-alerts': (f'{P}get-domain-alerts', {'domain': 'client.wns.windows.com'}),
    'get-file-related-alerts': (f'{P}get-file-alerts', {'file_hash': '6532ec91d513acc05f43ee0aa3002599729fd3e1'}),
    'get-ip-related-alerts': (f'{P}get-ip-alerts', {'ip': '10.209.67.177'}),
    'get-user-related-alerts': (f'{P}get-user-alerts', {'username': 'user1'}),
    'get-machine-related-alerts': (f'{P}get-machine-alerts', {'machine_id': MACHINE}),
    'get-software': (f'{P}list-software', {}),
    'get-machines-by-software': (f'{P}list-machines-by-software', {'id': 'microsoft-_-edge'}),
    'get-software-ver-distribution': (f'{P}list-software-version-distribution', {'id': 'microsoft-_-edge'}),
    'get-missing-kbs-software': (f'{P}list-missing-kb-by-software', {'id': 'microsoft-_-edge'}),
    'get-vuln-by-software': (f'{P}list-vulnerabilities-by-software', {'id': 'microsoft-_-edge'}),
    'get-all-vulnerabilities': (f'{P}list-vulnerabilities', {}),
    'get-all-vulnerabilities-by-machines': (f'{P}list-vulnerabilities-by-machine', {}),
    'get-machines-by-vulnerability': (f'{P}list-machines-by-vulnerability', {'cve_id': 'CVE-2019-0608'}),
    'get-installed-software': (f'{P}get-machine-software', {'machine_id': M2}),
    'get-missing-kbs-machine': (f'{P}get-machine-missing-kbs', {'machine_id': '2339ad14a01bd0299afb93dfa2550136057bff96'}),
    'get-discovered-vulnerabilities': (f'{P}get-machine-vulnerabilities', {'machine_id': M2}),
    'get-ti-indicators-collection': (f'{P}sc-indicator-list', {}),
    'get-ti-indicator-by-id': (f'{P}sc-indicator-get-by-id', {'indicator_id': '995'}),
    'get-alerts': (f'{P}list-alerts', {}),
    'get-alert-info-by-id': (f'{P}get-alert-by-id', {'alert_ids': 'da637308392288907382_-880718168'}),
    'get-machineactions-collection': (f'{P}list-machine-actions-details', {}),
    'get-machineaction-object': (f'{P}list-machine-actions-details', {'id': '2e9da30d-27f6-4208-81f2-9cd3d67893ba'}),
    'get-package-sas-uri': (f'{P}get-investigation-package-sas-uri',
                            {'action_id': '7327b54fd718525cbca07dacde913b5ac3c85673'}),
    'cancel-machine-action': (f'{P}live-response-cancel-action', {
        'machine_action_id': '988cc94e-7a8f-4b28-ab65-54970c5d5018', 'comment': 'Machine action was canceled by automation'}),
    'add-or-remove-machine-tags': (f'{P}add-remove-machine-tag', {'machine_id': MACHINE, 'action': 'Add',
                                                                  'tag': 'test Tag 2'}),
    'graph-tiindicator-get': (f'{P}indicator-get-by-id', {'indicator_id': 'e58c072b-c9bb-a5c4-34ce-eb69af44fb1e'}),
    'initiate-autoir-investigation': (f'{P}start-investigation', {'machine_id': MACHINE,
                                                                  'comment': 'Test investigation'}),
    'get-host': (f'{MDTI}host', {'host_id': 'contoso.com'}),
    'get-host-whois': (f'{MDTI}host-whois', {'host_id': 'contoso.com'}),
    'list-host-whois-history': (f'{MDTI}host-whois-history', {'host_id': 'contoso.com'}),
    'get-host-reputation': (f'{MDTI}host-reputation', {'host_id': 'contoso.com'}),
    'list-host-passive-dns': (f'{MDTI}host-passive-dns', {'host_id': 'contoso.com'}),
    'list-host-passive-dns-reverse': (f'{MDTI}host-passive-dns-reverse', {'host_id': '20.103.85.33'}),
    'list-host-subdomains': (f'{MDTI}host-subdomains', {'host_id': 'contoso.com'}),
    'list-host-ssl-certificates': (f'{MDTI}host-ssl-certificates', {'host_id': 'contoso.com'}),
    'list-host-trackers': (f'{MDTI}host-trackers', {'host_id': 'contoso.com'}),
    'list-host-components': (f'{MDTI}host-components', {'host_id': 'contoso.com'}),
    'list-host-cookies': (f'{MDTI}host-cookies', {'host_id': 'contoso.com'}),
    'list-host-pairs': (f'{MDTI}host-pairs', {'host_id': 'contoso.com'}),
    'get-vulnerability': (f'{MDTI}vulnerability-get', {'cve_id': 'CVE-2021-44228'}),
    'list-intel-profiles': (f'{MDTI}profile-list', {}),
    'list-article-indicators': (f'{MDTI}article-indicators-list', {'article_id': 'a272d5ab'}),
    'update-incident': (f'{M365D}incident-update', {'id': '924565', 'status': 'Resolved',
                                                    'assigned_to': 'secop2@contoso.com',
                                                    'classification': 'TruePositive', 'determination': 'Malware',
                                                    'comment': 'pen testing'}),
    'graph-update-incident': (f'{M365D}incident-update', {'id': '2972395', 'classification': 'TruePositive',
                                                          'determination': 'MultiStagedAttack'}),
}
