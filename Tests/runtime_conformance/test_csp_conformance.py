"""Conformance of our CommonServerPython stand-in with the real library, for everything the packs call.

Every expected value is a fact about the real library (its documented or observed behaviour in demisto/content's
``Packs/Base/Scripts/CommonServerPython/CommonServerPython.py`` and the CI/CD template's copy of November 2024), not
a copy of its code. Each test's docstring starts with ``Pins`` and the real names it pins;
``test_every_csp_call_is_pinned`` fails when the integrations or the module call a CommonServerPython name that no
test here pins.
"""
from __future__ import annotations

import inspect
import logging
from datetime import UTC, datetime

import demistomock as demisto
import pytest
from CommonServerPython import (
    LOG,
    BaseClient,
    CommandResults,
    Common,
    DBotScoreReliability,
    DBotScoreType,
    DemistoException,
    EntityRelationship,
    EntryFormat,
    EntryType,
    FeedIndicatorType,
    GetMappingFieldsResponse,
    GetModifiedRemoteDataArgs,
    GetModifiedRemoteDataResponse,
    GetRemoteDataArgs,
    GetRemoteDataResponse,
    IncidentSeverity,
    IncidentStatus,
    ScheduledCommand,
    SchemeTypeMapping,
    UpdateRemoteSystemArgs,
    add_sensitive_log_strs,
    arg_to_datetime,
    arg_to_number,
    argToBoolean,
    argToList,
    assign_params,
    fileResult,
    get_demisto_version,
    get_integration_context,
    get_integration_context_with_version,
    get_x_content_info_headers,
    remove_empty_elements,
    return_error,
    return_results,
    set_integration_context,
    tableToMarkdown,
)

DBOT_PATH = ('DBotScore(val.Indicator && val.Indicator == obj.Indicator && val.Vendor == obj.Vendor '
             '&& val.Type == obj.Type)')


def optional_params(cls: type) -> list[str]:
    """The constructor's parameters that have a default, in declared order."""
    return [p.name for p in inspect.signature(cls.__init__).parameters.values()
            if p.default is not inspect.Parameter.empty]


def required_params(cls: type) -> list[str]:
    return [p.name for p in inspect.signature(cls.__init__).parameters.values()
            if p.default is inspect.Parameter.empty and p.name != 'self']


@pytest.fixture(autouse=True)
def content_mock_version():
    """Every test starts from the content mock's server version (the cached version is reset)."""
    get_demisto_version._version = None
    yield
    get_demisto_version._version = None


def score(indicator='x', kind=DBotScoreType.IP, value=Common.DBotScore.BAD):
    return Common.DBotScore(indicator=indicator, indicator_type=kind, integration_name='Vendor', score=value,
                            malicious_description='bad', reliability=DBotScoreReliability.B)


# ---- enums ------------------------------------------------------------------------------------------------------

def test_entry_enums():
    """Pins EntryType, EntryFormat: the entry type numbers and format names the server reads."""
    assert (EntryType.NOTE, EntryType.FILE, EntryType.ERROR, EntryType.WARNING) == (1, 3, 4, 11)
    assert (EntryFormat.JSON, EntryFormat.MARKDOWN, EntryFormat.TEXT, EntryFormat.TABLE) == (
        'json', 'markdown', 'text', 'table')


def test_incident_enums():
    """Pins IncidentStatus, IncidentSeverity."""
    assert (IncidentStatus.PENDING, IncidentStatus.ACTIVE, IncidentStatus.DONE, IncidentStatus.ARCHIVE) == (0, 1, 2, 3)
    assert (IncidentSeverity.UNKNOWN, IncidentSeverity.INFO, IncidentSeverity.LOW, IncidentSeverity.MEDIUM,
            IncidentSeverity.HIGH, IncidentSeverity.CRITICAL) == (0, 0.5, 1, 2, 3, 4)


def test_dbot_score_type_and_reliability():
    """Pins DBotScoreType, DBotScoreReliability: values, including CIDR's one-element tuple."""
    assert (DBotScoreType.IP, DBotScoreType.FILE, DBotScoreType.DOMAIN, DBotScoreType.URL, DBotScoreType.CVE,
            DBotScoreType.EMAIL) == ('ip', 'file', 'domain', 'url', 'cve', 'email')
    assert DBotScoreType.CIDR == ('cidr',) and DBotScoreType.is_valid_type(DBotScoreType.CIDR)
    assert not DBotScoreType.is_valid_type('cidr')
    assert DBotScoreReliability.B == 'B - Usually reliable' and DBotScoreReliability.A_PLUS == 'A+ - 3rd party enrichment'
    assert DBotScoreReliability.is_valid_type('C - Fairly reliable') and not DBotScoreReliability.is_valid_type('C')


def test_feed_indicator_type():
    """Pins FeedIndicatorType."""
    assert (FeedIndicatorType.IP, FeedIndicatorType.IPv6, FeedIndicatorType.Domain, FeedIndicatorType.URL,
            FeedIndicatorType.File, FeedIndicatorType.CVE) == ('IP', 'IPv6', 'Domain', 'URL', 'File', 'CVE')


# ---- indicators -------------------------------------------------------------------------------------------------

def test_dbot_score():
    """Pins Common, Common.DBotScore: constants, context path and keys; a bad type is a TypeError."""
    assert (Common.DBotScore.NONE, Common.DBotScore.GOOD, Common.DBotScore.SUSPICIOUS, Common.DBotScore.BAD) == (0, 1, 2, 3)
    assert Common.DBotScore.CONTEXT_PATH == DBOT_PATH
    assert score('1.1.1.1').to_context() == {DBOT_PATH: {'Indicator': '1.1.1.1', 'Type': 'ip', 'Vendor': 'Vendor',
                                                         'Score': 3, 'Reliability': 'B - Usually reliable'}}
    with pytest.raises(TypeError):
        Common.DBotScore('x', 'not-a-type', 'Vendor', 0)


def test_ip_signature_and_context():
    """Pins Common.IP: ip and dbot_score required, optional fields positional in the platform's order."""
    assert required_params(Common.IP) == ['ip', 'dbot_score']
    assert optional_params(Common.IP)[:8] == ['asn', 'as_owner', 'region', 'port', 'internal', 'updated_date',
                                              'registrar_abuse_name', 'registrar_abuse_address']
    ip = Common.IP('1.1.1.1', score('1.1.1.1'), 'AS1', 'Owner')
    context = ip.to_context()
    assert context['IP(val.Address && val.Address == obj.Address)'] == {
        'Address': '1.1.1.1', 'ASN': 'AS1', 'ASOwner': 'Owner', 'Malicious': {'Vendor': 'Vendor', 'Description': 'bad'}}
    with pytest.raises(ValueError, match='dbot_score must be of type DBotScore'):
        Common.IP('1.1.1.1', None)


def test_domain_signature_and_whois():
    """Pins Common.Domain: optional order and the WHOIS sub-object next to the flat keys."""
    assert required_params(Common.Domain) == ['domain', 'dbot_score']
    assert optional_params(Common.Domain)[:6] == ['dns', 'detection_engines', 'positive_detections', 'organization',
                                                  'sub_domains', 'creation_date']
    context = Common.Domain('a.example', score('a.example', DBotScoreType.DOMAIN, 0),
                            registrar_name='Reg').to_context()['Domain(val.Name && val.Name == obj.Name)']
    assert context['Name'] == 'a.example' and context['WHOIS']['Registrar']['Name'] == 'Reg'


def test_url_signature():
    """Pins Common.URL."""
    assert required_params(Common.URL) == ['url', 'dbot_score']
    assert optional_params(Common.URL)[:3] == ['detection_engines', 'positive_detections', 'category']
    context = Common.URL('https://a.example/', score('u', DBotScoreType.URL, 1), 5, 0).to_context()
    assert context['URL(val.Data && val.Data == obj.Data)'] == {'Data': 'https://a.example/', 'DetectionEngines': 5,
                                                                'PositiveDetections': 0}


def test_file_signature_and_context_path():
    """Pins Common.File: dbot_score is the one required argument; the DT key covers every hash."""
    assert required_params(Common.File) == ['dbot_score']
    assert optional_params(Common.File)[:6] == ['name', 'entry_id', 'size', 'md5', 'sha1', 'sha256']
    assert Common.File.CONTEXT_PATH == (
        'File(val.MD5 && val.MD5 == obj.MD5 || val.SHA1 && val.SHA1 == obj.SHA1 || '
        'val.SHA256 && val.SHA256 == obj.SHA256 || val.SHA512 && val.SHA512 == obj.SHA512 || '
        'val.CRC32 && val.CRC32 == obj.CRC32 || val.CTPH && val.CTPH == obj.CTPH || '
        'val.SSDeep && val.SSDeep == obj.SSDeep)')
    context = Common.File(None, sha1='a' * 40).to_context()[Common.File.CONTEXT_PATH]
    assert context == {'SHA1': 'a' * 40, 'Hashes': [{'type': 'SHA1', 'value': 'a' * 40}]}


def test_cve():
    """Pins Common.CVE: the five required values, dbot_score and the CPE lists; CVSS always present."""
    assert required_params(Common.CVE) == ['id', 'cvss', 'published', 'modified', 'description']
    assert {'dbot_score', 'publications', 'vulnerable_products', 'vulnerable_configurations'} <= set(
        optional_params(Common.CVE))
    context = Common.CVE('CVE-2024-1', None, None, None, None).to_context()
    assert context['CVE(val.ID && val.ID == obj.ID)'] == {'ID': 'CVE-2024-1', 'CVSS': {}}
    assert context[DBOT_PATH]['Score'] == 0 and context[DBOT_PATH]['Type'] == 'cve'
    cve = Common.CVE('CVE-2024-1', '9.8', 'p', 'm', 'd', cvss_vector='AV:N',
                     vulnerable_products=[Common.CPE('cpe:2.3:a:x')]).to_context()['CVE(val.ID && val.ID == obj.ID)']
    assert cve['CVSS'] == {'Score': '9.8', 'Vector': 'AV:N'} and cve['VulnerableProducts'] == [{'CPE': 'cpe:2.3:a:x'}]


def test_endpoint():
    """Pins Common.Endpoint: the DT key merges per ID and vendor."""
    assert Common.Endpoint.CONTEXT_PATH == 'Endpoint(val.ID && val.ID == obj.ID && val.Vendor == obj.Vendor)'
    assert required_params(Common.Endpoint) == ['id']
    context = Common.Endpoint('m1', 'host', vendor='V', status='Online').to_context()
    assert context[Common.Endpoint.CONTEXT_PATH] == {'ID': 'm1', 'Hostname': 'host', 'Vendor': 'V', 'Status': 'Online'}


def test_email_indicator():
    """Pins Common.EMAIL: written under Account, keyed on Email.Address."""
    assert Common.EMAIL.CONTEXT_PATH == 'Account(val.Email.Address && val.Email.Address == obj.Email.Address)'
    context = Common.EMAIL('a@b.example', score('a@b.example', DBotScoreType.EMAIL, 1)).to_context()
    assert context[Common.EMAIL.CONTEXT_PATH] == {'Email': {'Address': 'a@b.example'}}


def test_entity_relationship():
    """Pins EntityRelationship: names, reverse names and the context keys."""
    rel = EntityRelationship(name=EntityRelationship.Relationships.INDICATOR_OF, entity_a='1.1.1.1',
                             entity_a_type=FeedIndicatorType.IP, entity_b='Actor', entity_b_type='Threat Actor',
                             brand='B')
    assert rel.to_context()['Relationship'] == 'indicator-of' and rel.to_context()['EntityB'] == 'Actor'
    assert rel.to_entry()['reverseName'] == 'indicated-by'
    with pytest.raises(ValueError):
        EntityRelationship(name='related-to', entity_a='a', entity_a_type='IP', entity_b='b', entity_b_type='IP',
                           source_reliability='not a reliability')


# ---- arguments ---------------------------------------------------------------------------------------------------

def test_arg_to_list():
    """Pins argToList: comma split with stripping, JSON lists, lists pass through, empty is []."""
    assert argToList('a, b') == ['a', 'b'] and argToList('["a","b"]') == ['a', 'b']
    assert argToList(None) == [] and argToList(['x']) == ['x'] and argToList('a;b', separator=';') == ['a', 'b']


def test_arg_to_boolean():
    """Pins argToBoolean: yes/true/no/false in any case, bools pass through, anything else is a ValueError."""
    assert argToBoolean('True') is True and argToBoolean('yes') is True and argToBoolean(False) is False
    assert argToBoolean('no') is False
    with pytest.raises(ValueError, match='Argument does not contain a valid boolean-like value'):
        argToBoolean('maybe')


@pytest.mark.parametrize('arg, expected', [('5', 5), ('5.7', 5), (3, 3), (None, None), ('', None)])
def test_arg_to_number(arg, expected):
    """Pins arg_to_number: digits and float strings truncate to int; empty is None."""
    assert arg_to_number(arg) == expected


def test_arg_to_number_errors():
    """Pins arg_to_number: the platform's messages, and Python's own for Unicode digits."""
    with pytest.raises(ValueError, match='^Invalid number: "limit"="aa"$'):
        arg_to_number('aa', 'limit')
    with pytest.raises(ValueError, match='^Missing "limit"$'):
        arg_to_number(None, 'limit', required=True)
    with pytest.raises(ValueError, match='invalid literal for int'):
        arg_to_number('\u00b9', 'limit')


def test_arg_to_datetime():
    """Pins arg_to_datetime: epoch seconds/milliseconds in UTC, ISO strings, and OverflowError far out of range."""
    expected = datetime(2020, 2, 17, 23, 34, 23, tzinfo=UTC)
    assert arg_to_datetime('1581982463') == expected == arg_to_datetime(1581982463000)
    assert arg_to_datetime('2020-02-17T23:34:23Z') == expected
    with pytest.raises(OverflowError):
        arg_to_datetime('9' * 40, 'since')


def test_assign_params_and_remove_empty_elements():
    """Pins assign_params, remove_empty_elements: None and empty values are dropped."""
    assert assign_params(a=1, b=None, c='', d=0) == {'a': 1, 'd': 0}
    assert remove_empty_elements({'a': None, 'b': {}, 'c': [], 'd': 'x', 'e': {'f': None}}) == {'d': 'x'}


# ---- output ------------------------------------------------------------------------------------------------------

def test_table_to_markdown():
    """Pins tableToMarkdown: title, header row, separator, padded cells; an empty table says No entries."""
    assert tableToMarkdown('T', {'a': 1, 'b': 'x'}) == '### T\n|a|b|\n|---|---|\n| 1 | x |\n'
    assert tableToMarkdown('T', []) == '### T\n**No entries.**\n'


def test_table_to_markdown_auto_json_transform_rejects_scalars():
    """Pins tableToMarkdown: with is_auto_json_transform a list of plain values is not a table and raises."""
    with pytest.raises(Exception):  # noqa: B017 - the platform raises; the exception class is not part of the contract
        tableToMarkdown('T', [1, 2], is_auto_json_transform=True)


def test_command_results_context():
    """Pins CommandResults: the DT key from prefix and key field, entry type and formats."""
    entry = CommandResults(outputs_prefix='Vendor.Item', outputs_key_field='id', outputs={'id': 1},
                           readable_output='md').to_context()
    assert entry['Type'] == 1 and entry['ContentsFormat'] == 'json' and entry['HumanReadable'] == 'md'
    assert entry['EntryContext'] == {'Vendor.Item(val.id && val.id == obj.id)': {'id': 1}}


def test_return_results_and_error(mocker):
    """Pins return_results, return_error: one results() call per entry; an error entry (type 4) then exit 0."""
    results = mocker.patch.object(demisto, 'results')
    return_results(CommandResults(readable_output='ok'))
    assert results.call_args.args[0]['HumanReadable'] == 'ok'
    mocker.patch.object(demisto, 'command', return_value='test-module')
    mocker.patch.object(demisto, 'error')
    with pytest.raises(SystemExit) as exited:
        return_error('failed')
    assert exited.value.code == 0
    assert results.call_args.args[0]['Type'] == 4 and results.call_args.args[0]['Contents'] == 'failed'


def test_file_result(tmp_path, monkeypatch):
    """Pins fileResult: a file entry (type 3) naming the file, its content written under the file ID."""
    monkeypatch.chdir(tmp_path)
    entry = fileResult('report.txt', 'content')
    assert entry['Type'] == 3 and entry['File'] == 'report.txt' and entry['Contents'] == ''
    assert (tmp_path / f'1_{entry["FileID"]}').read_text() == 'content'


def test_scheduled_command():
    """Pins ScheduledCommand: entry keys, the 10-second minimum, no server-version refusal."""
    scheduled = ScheduledCommand('cmd', 5, args={'a': 1}, timeout_in_seconds=60).to_results()
    assert scheduled == {'PollingCommand': 'cmd', 'NextRun': '10', 'PollingArgs': {'a': 1}, 'Timeout': '60',
                         'PollingItemsRemaining': 0}


def test_demisto_exception():
    """Pins DemistoException: the message is str(), the response is kept in res."""
    error = DemistoException('message', res='response')
    assert str(error) == 'message' and error.res == 'response'


def test_mirroring_classes():
    """Pins GetRemoteDataArgs, GetModifiedRemoteDataArgs, GetModifiedRemoteDataResponse, GetRemoteDataResponse,
    UpdateRemoteSystemArgs, SchemeTypeMapping, GetMappingFieldsResponse."""
    args = GetRemoteDataArgs({'id': '7', 'lastUpdate': '2024-01-01'})
    assert (args.remote_incident_id, args.last_update) == ('7', '2024-01-01')
    assert GetModifiedRemoteDataArgs({'lastUpdate': 'x'}).last_update == 'x'
    assert GetModifiedRemoteDataResponse(['1']).to_entry() == {'Contents': ['1'], 'Type': 1, 'ContentsFormat': 'json'}
    assert GetRemoteDataResponse({'id': 1}, [{'e': 1}]).extract_for_local() == [{'id': 1}, {'e': 1}]
    update = UpdateRemoteSystemArgs({'remoteId': '7', 'status': 2, 'data': {}, 'entries': [], 'incidentChanged': True,
                                     'delta': {'a': 1}})
    assert (update.remote_incident_id, update.inc_status, update.incident_changed, update.delta) == ('7', 2, True, {'a': 1})
    mapping = SchemeTypeMapping(type_name='Incident')
    mapping.add_field('status', 'The status')
    assert mapping.extract_mapping() == {'Incident': {'status': 'The status'}}
    assert GetMappingFieldsResponse([mapping]).extract_mapping() == {'Incident': {'status': 'The status'}}


# ---- state, logging, HTTP ----------------------------------------------------------------------------------------

def test_integration_context_on_the_content_mock(monkeypatch):
    """Pins get_integration_context, set_integration_context, get_integration_context_with_version: below server
    6.0.0 (the content mock reports 5.5.0) the plain API is used and the version is -1."""
    monkeypatch.setattr(demisto, 'integrationContext', {})
    set_integration_context({'k': 'v'})
    assert demisto.integrationContext == {'k': 'v'}
    assert get_integration_context() == {'k': 'v'}
    assert get_integration_context_with_version() == ({'k': 'v'}, -1)


def test_x_content_info_headers(mocker):
    """Pins get_x_content_info_headers: the integration's brand, the license and the server version."""
    mocker.patch.object(demisto, 'callingContext', {'context': {'IntegrationBrand': 'Brand'}})
    headers = get_x_content_info_headers()
    assert headers['X-Content-Name'] == 'Brand' and headers['X-Content-Server-Version'] == '5.5.0-12345'
    assert {'X-Content-Version', 'X-Content-LicenseID', 'X-Content-Branch'} <= set(headers)


def test_add_sensitive_log_strs(caplog):
    """Pins add_sensitive_log_strs: the string is masked as <XX_REPLACED> in what LOG writes."""
    add_sensitive_log_strs('conformance-secret-1234')
    LOG('token conformance-secret-1234 sent')
    assert 'conformance-secret-1234' not in ' '.join(LOG.messages)
    assert '<XX_REPLACED>' in ' '.join(LOG.messages)
    LOG.messages.clear()
    caplog.set_level(logging.INFO)


def test_base_client_error(requests_mock):
    """Pins BaseClient: base URL plus suffix; a failing status is a DemistoException naming status and reason."""
    requests_mock.get('https://api.example/v1/items', status_code=404, reason='Not Found', text='missing')
    client = BaseClient('https://api.example/v1', verify=True, proxy=False)
    with pytest.raises(DemistoException, match=r'Error in API call \[404\] - Not Found'):
        client._http_request('GET', '/items')


def test_demisto_functions_the_packs_call():
    """Pins demisto.args, demisto.command, demisto.params, demisto.debug, demisto.getLastRun, demisto.setLastRun,
    demisto.incidents, demisto.integrationInstance, demisto.demistoVersion: the content mock's values."""
    assert demisto.getLastRun() == {'lastRun': '2018-10-24T14:13:20+00:00'} and demisto.setLastRun({'a': 1}) is None
    assert demisto.integrationInstance() == '' and demisto.demistoVersion()['version'] == '5.5.0'
    assert isinstance(demisto.params(), dict) and isinstance(demisto.args(), dict) and demisto.command() == ''
    assert demisto.debug('x') is None and isinstance(demisto.incidents(), list)
    assert demisto.getAutoFocusApiKey() == '1234' and demisto.getAllSupportedCommands() == {}


def test_star_import_names():
    """Pins re, requests, Any: names integrations use through the star import, which the platform exports too."""
    namespace: dict = {}
    exec('from CommonServerPython import *', namespace)  # noqa: S102 - the import integrations perform
    assert {'re', 'requests', 'Any', 'json', 'Dict', 'List'} <= set(namespace)
    assert not {'UTC', 'uuid', 'urllib3', 'Tuple'} & set(namespace)


def test_logger_format(mocker):
    """Pins logger, formatAllArgs: "calling f(<reprs>,<'key'=value>)" with spaces removed, then the return value in
    debug mode."""
    from CommonServerPython import formatAllArgs, logger
    assert formatAllArgs((1, 'a'), {'b': 'x y'}) == "1,'a','b'='xy'"
    log = mocker.patch('CommonServerPython.LOG')

    @logger
    def add(a, b=0):
        return a + b

    assert add(1, b=2) == 3
    assert log.call_args_list[0].args[0] == "calling add(1,'b'=2)"
    assert add.__name__ == 'func_wrapper'


def test_domain_blocked_follows_stix_id():
    """Pins Common.Domain: Blocked is written only when a STIX ID is set (the platform's check tests stix_id)."""
    dbot = score('a.example', DBotScoreType.DOMAIN, 0)
    path = 'Domain(val.Name && val.Name == obj.Name)'
    assert 'Blocked' not in Common.Domain('a.example', dbot, blocked=True).to_context()[path]
    assert Common.Domain('a.example', dbot, blocked=True, stix_id='s').to_context()[path]['Blocked'] is True


def test_account_id_is_optional():
    """Pins Common.Account: every argument, id included, is optional."""
    assert required_params(Common.Account) == [] and optional_params(Common.Account)[:3] == ['id', 'type', 'username']
