"""Advanced hunting: POST /api/advancedhunting/run (Defender XDR) and POST /security/runHuntingQuery (Graph) over the
emulator's KQL subset."""
from __future__ import annotations

import pytest
import requests

from microsoft_emulator.core.clock import format_time, now_ticks, parse_time
from microsoft_emulator.core.kql import KqlError, Parser, parse_duration, parse_timespan, tokenize
from microsoft_emulator.testing import GRAPH, M365D, NO_PERMISSIONS_APP_ID, NO_PERMISSIONS_APP_SECRET, access_token, admin

DAY = 86400 * 10_000_000


@pytest.fixture(scope='module')
def tokens(emulator):
    return {'graph': access_token(emulator.url, scope=f'{GRAPH}/.default'),
            'm365d': access_token(emulator.url, scope=f'{M365D}/.default')}


@pytest.fixture
def hunt(emulator, emulator_reset, tokens):
    """Run a query through one API; returns (status, body)."""
    def run(query, api='m365d', token=None, **extra):
        if api == 'm365d':
            path, body = '/api/advancedhunting/run', {'Query': query}
        else:
            path, body = '/v1.0/security/runHuntingQuery', {'Query': query, **extra}
        response = requests.post(f'{emulator.url}{path}', json=body, timeout=60,
                                 headers={'Authorization': f'Bearer {token or tokens[api]}'})
        return response.status_code, response.json()
    return run


def rows(hunt, query, api='m365d', **extra):
    status, body = hunt(query, api, **extra)
    assert status == 200, body
    return body['Results'] if api == 'm365d' else body['results']


def add_rows(emulator, table, *items):
    admin(emulator.url, 'POST', '/xdr/hunting-rows', json={'table': table, 'rows': list(items)})


def test_documented_example_legacy(hunt):
    status, body = hunt('DeviceProcessEvents | where InitiatingProcessFileName =~ "powershell.exe" | project '
                        'Timestamp, FileName, InitiatingProcessFileName | order by Timestamp desc | limit 2')
    assert status == 200
    assert list(body) == ['Stats', 'Schema', 'Results']
    assert body['Schema'] == [{'Name': 'Timestamp', 'Type': 'DateTime'}, {'Name': 'FileName', 'Type': 'String'},
                              {'Name': 'InitiatingProcessFileName', 'Type': 'String'}]
    assert len(body['Results']) == 2
    assert all(r['InitiatingProcessFileName'] == 'powershell.exe' for r in body['Results'])
    assert body['Results'][0]['Timestamp'] >= body['Results'][1]['Timestamp']
    assert body['Results'][0]['Timestamp'].endswith('Z')
    assert body['Stats']['dataset_statistics'][0]['table_row_count'] == 2
    assert {'ExecutionTime', 'resource_usage'} <= set(body['Stats'])


def test_documented_example_graph(hunt, emulator):
    status, body = hunt('DeviceProcessEvents | where InitiatingProcessFileName =~ "powershell.exe" | project '
                        'Timestamp, FileName, InitiatingProcessFileName | order by Timestamp desc | limit 2', 'graph')
    assert status == 200
    assert body['@odata.context'] == f'{emulator.url}/v1.0/$metadata#microsoft.graph.security.huntingQueryResults'
    assert body['schema'][0] == {'name': 'Timestamp', 'type': 'DateTime'}
    assert len(body['results']) == 2


def test_tables_and_schemas(hunt, emulator):
    counts = admin(emulator.url, 'GET', '/xdr/hunting-rows')
    assert counts['DeviceInfo'] == 200 and counts['DeviceProcessEvents'] == 500 and counts['EmailEvents'] == 300
    for table in ('DeviceInfo', 'DeviceProcessEvents', 'DeviceNetworkEvents', 'EmailEvents', 'DeviceEvents'):
        assert len(rows(hunt, table)) == counts[table], table
    alert_rows = rows(hunt, 'AlertInfo')
    assert len(alert_rows) == counts['AlertInfo'] > 25
    legacy_alerts = {a['alertId'] for i in requests.get(
        f'{emulator.url}/api/incidents', timeout=30,
        headers={'Authorization': f"Bearer {access_token(emulator.url, scope=f'{M365D}/.default')}"}).json()['value']
        for a in i['alerts']}
    assert {r['AlertId'] for r in alert_rows} == legacy_alerts
    _, body = hunt('DeviceInfo | take 1')
    types = {s['Name']: s['Type'] for s in body['Schema']}
    assert types['OSBuild'] == 'Int64' and types['IsAzureADJoined'] == 'Boolean' and types['Timestamp'] == 'DateTime'


def test_where_operators(hunt, emulator):
    add_rows(emulator, 'DeviceProcessEvents',
             {'DeviceName': 'emu-a', 'FileName': 'Evil.EXE', 'ProcessCommandLine': 'evil.exe --steal creds',
              'ProcessId': 7},
             {'DeviceName': 'emu-b', 'FileName': 'evil.exe', 'ProcessCommandLine': 'evilish.exe run', 'ProcessId': 9},
             {'DeviceName': 'emu-c', 'FileName': 'good.exe', 'ProcessCommandLine': 'good.exe', 'ProcessId': 11})
    base = 'DeviceProcessEvents | where DeviceName startswith "emu-" '

    def names(condition):
        return sorted(r['DeviceName'] for r in rows(hunt, f'{base}| where {condition} | project DeviceName'))

    assert names('FileName == "evil.exe"') == ['emu-b']                     # case-sensitive
    assert names('FileName =~ "EVIL.exe"') == ['emu-a', 'emu-b']
    assert names('FileName != "evil.exe"') == ['emu-a', 'emu-c']
    assert names('FileName !~ "evil.exe"') == ['emu-c']
    assert names('ProcessCommandLine has "evil"') == ['emu-a']               # whole terms only
    assert names('ProcessCommandLine contains "evil"') == ['emu-a', 'emu-b']
    assert names('ProcessCommandLine !contains "evil"') == ['emu-c']
    assert names('ProcessCommandLine has_cs "Steal"') == []
    assert names('FileName endswith ".exe" and ProcessId > 7') == ['emu-b', 'emu-c']
    assert names('ProcessId >= 9 or FileName == "Evil.EXE"') == ['emu-a', 'emu-b', 'emu-c']
    assert names('not(ProcessId == 9)') == ['emu-a', 'emu-c']
    assert names('(ProcessId < 8 or ProcessId > 10) and FileName !has "good"') == ['emu-a']
    assert names('DeviceName in ("emu-a", "emu-c")') == ['emu-a', 'emu-c']
    assert names('DeviceName !in ("emu-a")') == ['emu-b', 'emu-c']
    assert names('FileName in~ ("EVIL.EXE")') == ['emu-a', 'emu-b']
    assert names('isnotempty(FolderPath)') == []
    assert names('isempty(FolderPath)') == ['emu-a', 'emu-b', 'emu-c']


def test_has_any_and_has_all(hunt, emulator):
    """Given command lines, When filtered with has_any / has_all, Then whole terms match case-insensitively."""
    add_rows(emulator, 'DeviceProcessEvents',
             {'DeviceName': 'term-a', 'ProcessCommandLine': 'Set-MpPreference -DisableRealtimeMonitoring $true'},
             {'DeviceName': 'term-b', 'ProcessCommandLine': 'sc stop WinDefend'},
             {'DeviceName': 'term-c', 'ProcessCommandLine': 'notepad.exe readme.txt'})
    base = 'DeviceProcessEvents | where DeviceName startswith "term-" '

    def names(condition):
        return sorted(r['DeviceName'] for r in rows(hunt, f'{base}| where {condition} | project DeviceName'))

    assert names('ProcessCommandLine has_any ("windefend", "disablerealtimemonitoring")') == ['term-a', 'term-b']
    assert names('ProcessCommandLine has_all ("sc", "stop")') == ['term-b']
    assert names('ProcessCommandLine has_any ("defen")') == []            # terms, not substrings


def test_string_literals_are_kql_literals(hunt, emulator):
    tricky = [r'C:\Users\Public\payload.exe', 'say "hi"', "it's", 'tab\there', 'back\\slash"quote\'mix']
    add_rows(emulator, 'DeviceEvents', *({'DeviceName': f'lit-{n}', 'FolderPath': v} for n, v in enumerate(tricky)))

    def escape_double(value):
        return '"' + value.replace('\\', '\\\\').replace('"', '\\"').replace('\t', '\\t') + '"'

    def escape_single(value):
        return "'" + value.replace('\\', '\\\\').replace("'", "\\'").replace('\t', '\\t') + "'"

    for n, value in enumerate(tricky):
        for literal in (escape_double(value), escape_single(value)):
            found = rows(hunt, f'DeviceEvents | where FolderPath == {literal} | project DeviceName')
            assert found == [{'DeviceName': f'lit-{n}'}], literal
    verbatim = rows(hunt, r"DeviceEvents | where FolderPath == @'C:\Users\Public\payload.exe' | project DeviceName")
    assert verbatim == [{'DeviceName': 'lit-0'}]
    doubled = rows(hunt, """DeviceEvents | where FolderPath == @"say ""hi\"\"" | project DeviceName""")
    assert doubled == [{'DeviceName': 'lit-1'}]
    obfuscated = rows(hunt, "DeviceEvents | where FolderPath == h'it\\'s' | project DeviceName")
    assert obfuscated == [{'DeviceName': 'lit-2'}]
    assert tokenize('"\\u0041"')[0].value == 'A'


def test_project_take_order_top_count_distinct(hunt):
    projected = rows(hunt, 'DeviceInfo | project Name = DeviceName, DeviceId | take 3')
    assert len(projected) == 3 and all(list(r) == ['Name', 'DeviceId'] for r in projected)
    assert len(rows(hunt, 'DeviceInfo | limit 7')) == 7
    ascending = rows(hunt, 'DeviceInfo | order by OSBuild asc, DeviceName asc | project OSBuild, DeviceName')
    assert ascending == sorted(ascending, key=lambda r: (r['OSBuild'], r['DeviceName']))
    default = rows(hunt, 'DeviceInfo | sort by ReportId | project ReportId')          # KQL sorts descending
    assert [r['ReportId'] for r in default] == sorted((r['ReportId'] for r in default), reverse=True)
    top = rows(hunt, 'DeviceNetworkEvents | top 5 by RemotePort asc | project RemotePort')
    assert len(top) == 5 and top == sorted(top, key=lambda r: r['RemotePort'])
    status, body = hunt('EmailEvents | where ThreatTypes == "Phish" | count')
    assert status == 200 and body['Schema'] == [{'Name': 'Count', 'Type': 'Int64'}]
    phish = len(rows(hunt, 'EmailEvents | where ThreatTypes == "Phish"'))
    assert body['Results'] == [{'Count': phish}] and phish > 0
    distinct = rows(hunt, 'DeviceNetworkEvents | distinct Protocol')
    assert distinct == [{'Protocol': 'Tcp'}]
    away = rows(hunt, 'DeviceInfo | project-away ReportId, PublicIP | take 1')
    assert 'ReportId' not in away[0] and 'DeviceName' in away[0]
    commented = rows(hunt, 'DeviceInfo // the inventory\n| take 2;')
    assert len(commented) == 2


def test_has_with_a_separator_at_an_edge(hunt, emulator):
    """Given a needle that starts or ends with a separator, Then it carries its own boundary there (as in KQL): a
    path fragment or a spaced word matches, a part of a term still does not."""
    add_rows(emulator, 'DeviceProcessEvents', {'DeviceName': 'edge-host',
                                               'ProcessCommandLine': r'C:\Users\alex\Startup\run.exe cl Security'})
    def found(needle):
        return rows(hunt, f'DeviceProcessEvents | where DeviceName == "edge-host" and ProcessCommandLine has '
                          f'{needle} | project DeviceName')
    assert found(r'@"\Startup"') == found('" cl "') == found(r'@"alex\Startup\"') == [{'DeviceName': 'edge-host'}]
    assert found('"tartup"') == found(r'@"\Start"') == []


def test_summarize_count_and_dcount(hunt):
    """Given events, When summarized by columns, Then one row per group with the by columns first and each count;
    unnamed aggregates take KQL's names, and without by there is one row."""
    events = rows(hunt, 'DeviceNetworkEvents | project DeviceName, RemotePort, RemoteIP')
    status, body = hunt('DeviceNetworkEvents | summarize Connections = count(), dcount(RemoteIP) by DeviceName')
    assert status == 200 and body['Schema'] == [{'Name': 'DeviceName', 'Type': 'String'},
                                                {'Name': 'Connections', 'Type': 'Int64'},
                                                {'Name': 'dcount_RemoteIP', 'Type': 'Int64'}]
    by_device = {r['DeviceName']: r for r in body['Results']}
    assert set(by_device) == {e['DeviceName'] for e in events}
    for name, row in by_device.items():
        mine = [e for e in events if e['DeviceName'] == name]
        assert row['Connections'] == len(mine) and row['dcount_RemoteIP'] == len({e['RemoteIP'] for e in mine})
    assert rows(hunt, 'DeviceNetworkEvents | summarize count()') == [{'count_': len(events)}]
    assert rows(hunt, 'DeviceNetworkEvents | where RemotePort == -1 | summarize count()') == [{'count_': 0}]
    top = rows(hunt, 'DeviceNetworkEvents | summarize N = count() by RemotePort | where N > 0 | top 1 by N')
    assert len(top) == 1 and set(top[0]) == {'RemotePort', 'N'}


def test_datetime_and_number_comparisons(hunt, emulator):
    add_rows(emulator, 'DeviceEvents',
             {'DeviceName': 'old', 'Timestamp': format_time(now_ticks() - 10 * DAY), 'ReportId': 1},
             {'DeviceName': 'new', 'Timestamp': format_time(now_ticks() - DAY // 24), 'ReportId': 2})
    recent = rows(hunt, 'DeviceEvents | where DeviceName in ("old", "new") and Timestamp > ago(1d) '
                        '| project DeviceName')
    assert recent == [{'DeviceName': 'new'}]
    stamp = format_time(now_ticks() - 5 * DAY)
    older = rows(hunt, f'DeviceEvents | where DeviceName in ("old", "new") and Timestamp < datetime({stamp}) '
                       f'| project DeviceName')
    assert older == [{'DeviceName': 'old'}]
    assert rows(hunt, 'DeviceEvents | where ReportId == 2 and DeviceName == "new" | project DeviceName') == [
        {'DeviceName': 'new'}]
    assert rows(hunt, 'DeviceInfo | where IsAzureADJoined == true | take 1')[0]['IsAzureADJoined'] is True


@pytest.mark.parametrize(('query', 'message'), [
    ('DeviceInfo | where DeviceName = "x"', "Query could not be parsed at '=' on line [1,30]"),
    ('DeviceInfo | wher DeviceName == "x"', "Query could not be parsed at 'wher' on line [1,13]"),
    ('DeviceInfo\n| where DeviceName == "x', 'Query could not be parsed at \'"x\' on line [2,22]'),
    ('DeviceInfo | take', "Query could not be parsed at '<end of query>' on line [1,17]"),
    ('DeviceInfo | project', "Query could not be parsed at '<end of query>' on line [1,20]"),
    ('DeviceInfo | where DeviceName == "a\\qb"', "Query could not be parsed at '\\q' on line [1,35]"),
    ('DeviceInfo | extend Os = OSPlatform',
     "Query could not be parsed at 'extend' on line [1,13] (the Microsoft emulator does not implement the "
     "'extend' operator)"),
    ('DeviceInfo | summarize avg(OSBuild)', "Query could not be parsed at 'avg' on line [1,23]"),
    ('DeviceInfo | summarize dcount(Colour)', "'summarize' operator: Failed to resolve column or scalar expression "
                                              "named 'Colour'."),
    ('NoSuchTable | take 1', "'take' operator: Failed to resolve table or column expression named 'NoSuchTable'. "
                             "Fix semantic errors in your query."),
    ('NoSuchTable', "Failed to resolve table or column expression named 'NoSuchTable'. Fix semantic errors in your "
                    "query."),
    ('DeviceInfo | where Colour == "red"', "'where' operator: Failed to resolve column or scalar expression named "
                                           "'Colour'. Fix semantic errors in your query."),
    ('DeviceInfo | project Colour', "'project' operator: Failed to resolve column or scalar expression named "
                                    "'Colour'."),
    ('DeviceInfo | where OSBuild == "19045"', "'where' operator: Cannot compare values of types long and string. "
                                              "Try adding explicit casts."),
    ('DeviceInfo | where DeviceName has 5', "The operator 'has' expects a string argument."),
    ('DeviceInfo | project DeviceName | where OSBuild > 1', "Failed to resolve column or scalar expression named "
                                                            "'OSBuild'"),
])
def test_errors_both_apis(hunt, query, message):
    status, body = hunt(query)
    assert status == 400
    assert body['error']['code'] == 'BadRequest' and message in body['error']['message'] and body['error']['target']
    status, body = hunt(query, 'graph')
    assert status == 400
    assert body['error']['code'] == 'BadRequest' and message in body['error']['message']


def test_request_body_errors(hunt, emulator, tokens):
    headers = {'Authorization': f"Bearer {tokens['m365d']}"}
    missing = requests.post(f'{emulator.url}/api/advancedhunting/run', json={'query': 'DeviceInfo'}, headers=headers,
                            timeout=10)      # body parameters are case-sensitive on this API
    assert missing.status_code == 400
    assert missing.json()['error'] | {'target': None} == {'code': 'InvalidRequestBody', 'message': 'Missing query.',
                                                          'target': None}
    not_json = requests.post(f'{emulator.url}/api/advancedhunting/run', data='Query=x', headers=headers, timeout=10)
    assert not_json.status_code == 400 and not_json.json()['error']['code'] == 'InvalidRequestBody'
    graph_headers = {'Authorization': f"Bearer {tokens['graph']}"}
    lower = requests.post(f'{emulator.url}/v1.0/security/runHuntingQuery', json={'query': 'DeviceInfo | take 1'},
                          headers=graph_headers, timeout=10)
    assert lower.status_code == 200 and len(lower.json()['results']) == 1
    empty = requests.post(f'{emulator.url}/v1.0/security/runHuntingQuery', json={'Query': ''}, headers=graph_headers,
                          timeout=10)
    assert empty.status_code == 400 and empty.json()['error']['code'] == 'BadRequest'
    assert hunt('DeviceInfo', 'graph', Timespan='sometime')[0] == 400


def test_100k_row_limit(hunt, emulator):
    admin(emulator.url, 'POST', '/xdr/hunting-rows', json={'table': 'DeviceEvents', 'count': 120_000})
    legacy = rows(hunt, 'DeviceEvents')
    assert len(legacy) == 100_000
    assert rows(hunt, 'DeviceEvents | count') == [{'Count': 120_000}]
    graph = rows(hunt, 'DeviceEvents | project Timestamp, DeviceName', 'graph')
    assert len(graph) == 100_000 and list(graph[0]) == ['Timestamp', 'DeviceName']
    assert len(rows(hunt, 'DeviceEvents | where ReportId > 100000 | take 50000')) == 29_999
    assert admin(emulator.url, 'GET', '/xdr/hunting-rows')['DeviceEvents'] == 120_000
    emulator.reset()
    assert admin(emulator.url, 'GET', '/xdr/hunting-rows')['DeviceEvents'] == 300


def test_time_window(hunt, emulator):
    add_rows(emulator, 'EmailEvents', {'Subject': 'ancient', 'Timestamp': format_time(now_ticks() - 45 * DAY)},
             {'Subject': 'recent', 'Timestamp': format_time(now_ticks() - 2 * DAY)})
    query = 'EmailEvents | where Subject in ("ancient", "recent") | project Subject'
    assert rows(hunt, query) == [{'Subject': 'recent'}]                         # legacy: the last 30 days
    assert rows(hunt, query, 'graph') == [{'Subject': 'recent'}]                # Graph default: 30 days
    assert sorted(r['Subject'] for r in rows(hunt, query, 'graph', Timespan='P60D')) == ['ancient', 'recent']
    assert rows(hunt, query, 'graph', Timespan='PT24H') == []
    end = format_time(now_ticks() - 40 * DAY)
    assert rows(hunt, query, 'graph', Timespan=f'P10D/{end}') == [{'Subject': 'ancient'}]
    start = format_time(now_ticks() - 50 * DAY)
    assert rows(hunt, query, 'graph', Timespan=f'{start}/P10D') == [{'Subject': 'ancient'}]
    assert rows(hunt, query, 'graph', Timespan=f'{start}/{end}') == [{'Subject': 'ancient'}]
    assert sorted(r['Subject'] for r in rows(hunt, query, 'graph', Timespan=start)) == ['ancient', 'recent']


def test_timespan_parsing():
    now = parse_time('2024-02-15T08:00:00Z')
    assert parse_timespan('P30D', now) == (now - 30 * DAY, now)
    assert parse_timespan('2024-02-01T08:00:00Z/2024-02-15T08:00:00Z') == (parse_time('2024-02-01T08:00:00Z'), now)
    assert parse_timespan('P30D/2024-02-15T08:00:00Z') == (now - 30 * DAY, now)
    assert parse_timespan('2024-02-01T08:00:00Z/P14D') == (parse_time('2024-02-01T08:00:00Z'), now)
    assert parse_timespan('2024-02-01T08:00:00Z', now) == (parse_time('2024-02-01T08:00:00Z'), now)
    assert parse_timespan(None, now) == (now - 30 * DAY, now)
    assert parse_duration('PT1H30M') == 5400 * 10_000_000
    assert parse_duration('P1W') == 7 * DAY
    for bad in ('P', 'PT', '30D', 'P1DT'):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_parser_positions():
    with pytest.raises(KqlError, match=r"at '\|' on line \[3,2\]"):
        Parser('DeviceInfo\n| take 1\n| | take 2').parse()
    query = Parser('DeviceInfo | where A == "x" and (B has "y" or not(C != 1)) | sort by A desc, B').parse()
    assert [op.name for op in query.operators] == ['where', 'order']


def test_permissions(hunt, emulator, tokens):
    nothing = access_token(emulator.url, client_id=NO_PERMISSIONS_APP_ID, secret=NO_PERMISSIONS_APP_SECRET,
                           scope=f'{M365D}/.default')
    status, body = hunt('DeviceInfo', token=nothing)
    assert status == 403 and 'AdvancedHunting.Read.All' in body['error']['message']
    nothing_graph = access_token(emulator.url, client_id=NO_PERMISSIONS_APP_ID, secret=NO_PERMISSIONS_APP_SECRET,
                                 scope=f'{GRAPH}/.default')
    status, body = hunt('DeviceInfo', 'graph', token=nothing_graph)
    assert status == 403 and 'ThreatHunting.Read.All' in body['error']['message']
    delegated = admin(emulator.url, 'POST', '/tokens/mint', json={'resource': M365D, 'scp': 'AdvancedHunting.Read'})
    assert hunt('DeviceInfo | take 1', token=delegated['access_token'])[0] == 200
    assert hunt('DeviceInfo | take 1', 'graph', token=tokens['m365d'])[0] == 401


def test_hunting_rate_limit_is_per_tenant(hunt, emulator):
    admin(emulator.url, 'POST', '/rate-limits', json={'enabled': True})
    statuses = [hunt('DeviceInfo | take 1')[0] for _ in range(45)]
    assert statuses == [200] * 45
    other_app = admin(emulator.url, 'POST', '/tokens/mint', json={
        'resource': M365D, 'roles': ['AdvancedHunting.Read.All'], 'client_id': '99999999-9999-4999-8999-999999999999'})
    status, body = hunt('DeviceInfo | take 1', token=other_app['access_token'])
    assert status == 429 and body['error']['code'] == 'TooManyRequests'


def test_let_scalar_statements(hunt, emulator):
    """Given scalar `let` statements (a string, a datetime from ago(), a number), When the query after them uses the
    names, Then they stand for their values, as Defender's hunting accepts."""
    add_rows(emulator, 'DeviceInfo', {'DeviceName': 'let-target.contoso.local', 'OSPlatform': 'Windows11'},
             {'DeviceName': 'let-target.contoso.local', 'OSPlatform': 'Windows11'})
    query = ('let host = "let-target.contoso.local";\n'
             'let since = ago(1h);\n'
             'let n = 1;\n'
             'DeviceInfo | where DeviceName == host and Timestamp > since | project DeviceName | take n')
    assert rows(hunt, query) == [{'DeviceName': 'let-target.contoso.local'}]
    assert rows(hunt, 'let hosts = "let-target.contoso.local"; DeviceInfo | where DeviceName in (hosts) | count',
                api='graph') == [{'Count': 2}]


def test_let_tabular_statements(hunt, emulator):
    """Given `let name = tabular expression;` (bare or in parentheses, one built on another), When the final query
    starts from the name, Then it runs over that expression's result."""
    add_rows(emulator, 'DeviceInfo', {'DeviceName': 'let-tab.contoso.local', 'OSPlatform': 'Linux'})
    query = ('let linux = DeviceInfo | where OSPlatform == "Linux";\n'
             'let mine = (linux | where DeviceName startswith "let-tab");\n'
             'mine | project DeviceName, OSPlatform')
    assert rows(hunt, query) == [{'DeviceName': 'let-tab.contoso.local', 'OSPlatform': 'Linux'}]
    status, body = hunt('let t = DeviceInfo | take 3; t | count;')
    assert status == 200 and body['Results'] == [{'Count': 3}]


@pytest.mark.parametrize('query', [
    'let x = 5;',                                   # no tabular expression after the statements
    'let = 5; DeviceInfo',                          # no name
    'let x 5; DeviceInfo',                          # no '='
    'let x = 5 DeviceInfo',                         # no ';'
    'let x = Nope | take 1; x',                     # unknown table inside the let
    'DeviceInfo | where DeviceName == unbound',     # a name no let bound
])
def test_let_errors(hunt, query):
    """Given a malformed or unresolvable let, When it runs, Then the answer is 400 BadRequest, not a crash."""
    status, body = hunt(query)
    assert status == 400 and body['error']['code'] == 'BadRequest', body


def test_email_tables_belong_to_their_messages(hunt):
    """Given the generated email tables, Then each link, attachment and click belongs to a message of EmailEvents
    (same NetworkMessageId and time), with the columns Microsoft's schema documents."""
    messages = {r['NetworkMessageId']: r for r in rows(hunt, 'EmailEvents | project NetworkMessageId, Timestamp')}
    for table, column in (('EmailUrlInfo', 'UrlDomain'), ('EmailAttachmentInfo', 'SHA256'),
                          ('UrlClickEvents', 'AccountUpn')):
        found = rows(hunt, f'{table} | take 20')
        assert found and all(r['NetworkMessageId'] in messages and r[column] for r in found), table
        assert all(r['Timestamp'] == messages[r['NetworkMessageId']]['Timestamp'] for r in found), table


def test_join_pairs_rows_on_their_keys_as_kusto_does(hunt):
    """Given `join kind=inner (subquery) on NetworkMessageId`, Then every link is paired with its message, the right
    side's columns follow with a number where the left has the name (NetworkMessageId1, Timestamp1), and
    project-away drops them; the default kind (innerunique) keeps one left row per key; leftsemi/leftanti split the left
    rows by whether they match; an unimplemented kind is refused by name."""
    links = rows(hunt, 'EmailUrlInfo | project NetworkMessageId, Url')
    joined = rows(hunt, 'EmailUrlInfo | project NetworkMessageId, Url | join kind=inner (EmailEvents | project '
                        'NetworkMessageId, Subject, Timestamp) on NetworkMessageId')
    assert len(joined) == len(links)
    assert set(joined[0]) == {'NetworkMessageId', 'Url', 'NetworkMessageId1', 'Subject', 'Timestamp'}
    assert all(r['NetworkMessageId'] == r['NetworkMessageId1'] for r in joined)
    away = rows(hunt, 'EmailUrlInfo | join kind=inner EmailEvents on NetworkMessageId | project-away NetworkMessageId1, '
                      'Timestamp1, ReportId1 | take 1')
    assert 'NetworkMessageId1' not in away[0] and 'Timestamp1' not in away[0] and 'SenderFromAddress' in away[0]
    subject = joined[0]['Subject']
    unique = rows(hunt, f'EmailEvents | where Subject == "{subject}" | project Subject | join (EmailEvents | where '
                        f'Subject == "{subject}" | project Subject, NetworkMessageId) on Subject')
    every = rows(hunt, f'EmailEvents | where Subject == "{subject}" | project Subject')
    assert len(unique) == len(every)        # one left row per key, paired with each matching right row
    some = rows(hunt, 'EmailEvents | take 5 | project NetworkMessageId')
    ids = ', '.join(f'"{r["NetworkMessageId"]}"' for r in some[:2])
    semi = rows(hunt, f'EmailEvents | take 5 | project NetworkMessageId | join kind=leftsemi (EmailEvents | where '
                      f'NetworkMessageId in ({ids})) on NetworkMessageId')
    anti = rows(hunt, f'EmailEvents | take 5 | project NetworkMessageId | join kind=leftanti (EmailEvents | where '
                      f'NetworkMessageId in ({ids})) on NetworkMessageId')
    assert len(semi) == 2 and len(anti) == 3 and set(semi[0]) == {'NetworkMessageId'}
    status, body = hunt('EmailEvents | join kind=fullouter EmailUrlInfo on NetworkMessageId')
    assert status == 400 and 'join kind=fullouter' in str(body)
    status, body = hunt('EmailEvents | join kind=inner EmailUrlInfo on Nope')
    assert status == 400 and "named 'Nope'" in str(body)
