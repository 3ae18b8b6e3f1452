"""Fidelity tests for CommonServerPython: they pin the strings, dicts and behaviours the platform runtime produces."""
import copy
import json
import os
import sys
import urllib.parse
from datetime import UTC, datetime, timedelta

import CommonServerPython
import demistomock as demisto
import pytest
import requests
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
    ExecutionMetrics,
    GetMappingFieldsResponse,
    GetModifiedRemoteDataArgs,
    GetModifiedRemoteDataResponse,
    GetRemoteDataArgs,
    GetRemoteDataResponse,
    IndicatorsTimeline,
    IntegrationLogger,
    JsonTransformer,
    PollResult,
    ScheduledCommand,
    SchemeTypeMapping,
    UpdateRemoteSystemArgs,
    arg_to_datetime,
    arg_to_number,
    argToBoolean,
    argToList,
    assign_params,
    camelize_string,
    dict_safe_get,
    fileResult,
    get_demisto_version,
    get_demisto_version_as_str,
    get_integration_context,
    get_x_content_info_headers,
    handle_proxy,
    is_demisto_version_ge,
    merge_lists,
    polling_function,
    remove_empty_elements,
    return_error,
    return_outputs,
    return_results,
    return_warning,
    set_integration_context,
    set_to_integration_context_with_retries,
    string_to_table_header,
    tableToMarkdown,
    timestamp_to_datestring,
    underscoreToCamelCase,
    urljoin,
)
from freezegun import freeze_time

DBOT_KEY = 'DBotScore(val.Indicator && val.Indicator == obj.Indicator && val.Vendor == obj.Vendor && val.Type == obj.Type)'
IP_KEY = 'IP(val.Address && val.Address == obj.Address)'
BASE_URL = 'https://example.com/api/v2/'


@pytest.fixture(autouse=True)
def isolate_global_state(mocker):
    """Each test starts with a fresh version cache, an empty calling context and the environment restored."""
    environ = dict(os.environ)
    get_demisto_version._version = None
    mocker.patch.object(demisto, 'callingContext', {})
    saved_replace_strs, saved_messages = list(LOG.replace_strs), list(LOG.messages)
    yield
    get_demisto_version._version = None
    LOG.replace_strs[:] = saved_replace_strs
    LOG.messages[:] = saved_messages
    os.environ.clear()
    os.environ.update(environ)


def server_version(mocker, version, build='50000'):
    mocker.patch.object(demisto, 'demistoVersion', return_value={'version': version, 'buildNumber': build})


def good_score(indicator, indicator_type, score=Common.DBotScore.GOOD, **kwargs):
    return Common.DBotScore(indicator=indicator, indicator_type=indicator_type, integration_name='Test', score=score,
                            **kwargs)


DATA = [{'header_1': f'a{i}', 'header_2': f'b{i}', 'header_3': f'c{i}'} for i in (1, 2, 3)]


# ================================================================================================ tableToMarkdown
class TestTableToMarkdown:
    def test_sanity(self):
        """
        Given: a list of flat dicts.
        When: rendering a table.
        Then: the header, the separator and one row per dict, headers sorted.
        """
        assert tableToMarkdown('tableToMarkdown test', DATA) == (
            '### tableToMarkdown test\n'
            '|header_1|header_2|header_3|\n'
            '|---|---|---|\n'
            '| a1 | b1 | c1 |\n'
            '| a2 | b2 | c2 |\n'
            '| a3 | b3 | c3 |\n'
        )

    def test_pipe_in_header_is_escaped(self):
        """
        Given: a key containing a pipe.
        When: rendering a table.
        Then: the header escapes the pipe.
        """
        data = [{'header_1|with_pipe': 'a1', 'header_2': 'b1'}]
        assert tableToMarkdown('t', data) == '### t\n|header_1\\|with_pipe|header_2|\n|---|---|\n| a1 | b1 |\n'

    def test_header_transform(self):
        """
        Given: a header transform.
        When: rendering a table.
        Then: the headers are transformed and the rows are unchanged.
        """
        table = tableToMarkdown('t', DATA, headerTransform=underscoreToCamelCase)
        assert table.splitlines()[1] == '|Header1|Header2|Header3|'
        assert table.splitlines()[3] == '| a1 | b1 | c1 |'

    def test_multiline_and_pipe_values(self):
        """
        Given: values with new lines and pipes.
        When: rendering a table.
        Then: new lines become <br> and pipes are escaped.
        """
        data = copy.deepcopy(DATA)
        for i, row in enumerate(data, start=1):
            row['header_2'] = f'b{i}.1\nb{i}.2'
            row['header_3'] = f'c{i}|1'
        assert tableToMarkdown('t', data).splitlines()[3:] == [
            '| a1 | b1.1<br>b1.2 | c1\\|1 |', '| a2 | b2.1<br>b2.2 | c2\\|1 |', '| a3 | b3.1<br>b3.2 | c3\\|1 |']

    def test_none_value_and_markdown_link(self):
        """
        Given: None values and values already holding markdown links.
        When: rendering a table.
        Then: None renders as an empty cell; links are left alone.
        """
        data = [{'header_1': 'a1', 'header_2': None, 'header_3': '[url](https:\\demisto.com)'}]
        assert tableToMarkdown('t', data).splitlines()[3] == '| a1 |  | [url](https:\\demisto.com) |'

    @pytest.mark.parametrize('headers', [['header_1'], 'header_1'])
    def test_single_column(self, headers):
        """
        Given: a single header, as a list or as a string.
        When: rendering a table.
        Then: a one-column table.
        """
        assert tableToMarkdown('t', DATA, headers) == '### t\n|header_1|\n|---|\n| a1 |\n| a2 |\n| a3 |\n'

    @pytest.mark.parametrize('headers', [['header_1'], 'header_1'])
    def test_list_of_strings_with_header(self, headers):
        """
        Given: a list of strings and a header.
        When: rendering a table.
        Then: each string is a row.
        """
        assert tableToMarkdown('t', ['foo', 'bar'], headers) == '### t\n|header_1|\n|---|\n| foo |\n| bar |\n'

    def test_list_of_strings_without_headers_raises(self):
        """
        Given: a list of strings and no headers.
        When: rendering a table.
        Then: an exception asks for headers.
        """
        with pytest.raises(Exception, match=r"Missing headers param for tableToMarkdown. Example: headers=\['Some Header'\]"):
            tableToMarkdown('t', ['foo', 'bar'])

    def test_single_key_dict(self):
        """
        Given: a dict with a single key holding a list.
        When: rendering a table without headers.
        Then: a one-column table named after the key.
        """
        table = tableToMarkdown('t', {'single': ['Arthur', 'Blob', 'Cactus']})
        assert table == '### t\n|single|\n|---|\n| Arthur |\n| Blob |\n| Cactus |\n'

    def test_list_cells(self):
        """
        Given: list values.
        When: rendering a table.
        Then: list items are joined with ',' and a line break.
        """
        data = [{'header_1': 'a1', 'header_2': 'hi', 'header_3': [1, 'second item']}]
        assert tableToMarkdown('t', data).splitlines()[3] == '| a1 | hi | 1,<br>second item |'

    def test_dict_cells_and_backtick(self):
        """
        Given: a dict value holding a backtick.
        When: rendering a table with a header missing from some rows.
        Then: the dict renders as 'k: v' lines, the backtick is escaped and missing cells are empty.
        """
        data = copy.deepcopy(DATA)
        data[1]['extra_header'] = {'sample': 'qwerty', 'sample2': '`asdf'}
        table = tableToMarkdown('t', data, headers=['header_1', 'header_2', 'extra_header'])
        assert table == ('### t\n|header_1|header_2|extra_header|\n|---|---|---|\n| a1 | b1 |  |\n'
                         '| a2 | b2 | sample: qwerty<br>sample2: \\`asdf |\n| a3 | b3 |  |\n')

    def test_scalar_cells_render_as_json(self):
        """
        Given: booleans, numbers and a nested dict inside a dict cell.
        When: rendering a table.
        Then: scalars render as JSON (true, 0, 1.5) and nested dicts as compact JSON.
        """
        table = tableToMarkdown('t', [{'a': True, 'b': 0, 'c': 1.5, 'd': {'x': {'y': 1}}}])
        assert table.splitlines()[3] == '| true | 0 | 1.5 | x: {"y": 1} |'

    def test_all_none_fields(self):
        """
        Given: rows whose values are all None.
        When: rendering with and without removeNull.
        Then: empty cells, or "No entries" once every column is removed.
        """
        data = [{'a': None, 'b': None, 'c': None} for _ in range(2)]
        assert tableToMarkdown('t', data) == '### t\n|a|b|c|\n|---|---|---|\n|  |  |  |\n|  |  |  |\n'
        assert tableToMarkdown('t', data, removeNull=True) == '### t\n**No entries.**\n'

    def test_remove_null_keeps_headers_argument_intact(self):
        """
        Given: a headers list and removeNull.
        When: rendering a table where one header is empty.
        Then: that column is dropped but the caller's list is not modified.
        """
        headers = ['header_1', 'header_2']
        table = tableToMarkdown('t', {'header_1': 'foo'}, removeNull=True, headers=headers)
        assert table == '### t\n|header_1|\n|---|\n| foo |\n'
        assert headers == ['header_1', 'header_2']

    @pytest.mark.parametrize('empty', [[], {}, None])
    def test_empty_table(self, empty):
        """
        Given: no data.
        When: rendering a table with metadata.
        Then: the name, the metadata and "No entries".
        """
        assert tableToMarkdown('t', empty, metadata='meta') == '### t\nmeta\n**No entries.**\n'

    def test_no_name(self):
        """
        Given: an empty name.
        When: rendering a table.
        Then: no title line.
        """
        assert tableToMarkdown('', [{'a': 1}]) == '|a|\n|---|\n| 1 |\n'

    def test_url_keys(self):
        """
        Given: url_keys.
        When: rendering a table.
        Then: those values become clickable links.
        """
        data = [{'header_1': 'a1', 'url1': 'b1', 'url2': 'c1'}]
        assert tableToMarkdown('t', data, url_keys=['url1', 'url2']).splitlines()[3] == '| a1 | [b1](b1) | [c1](c1) |'

    @pytest.mark.parametrize('sort_headers, header_line', [(True, '|a|b|c|'), (False, '|c|b|a|')])
    def test_sort_headers(self, sort_headers, header_line):
        """
        Given: rows with unsorted keys.
        When: rendering with and without sort_headers.
        Then: headers are sorted only when asked.
        """
        data = [{'c': 1, 'b': 2, 'a': 3}]
        assert tableToMarkdown('t', data, sort_headers=sort_headers).splitlines()[1] == header_line

    def test_date_fields(self):
        """
        Given: epoch-millisecond values (int and str) in date_fields.
        When: rendering a table.
        Then: they show as local '%Y-%m-%d %H:%M:%S'.
        """
        data = [{'name': 'x', 'created': '1631521313466'}, {'name': 'y', 'created': 1631521521466}]
        table = tableToMarkdown('t', data, headers=['name', 'created'], date_fields=['created'])
        first = datetime.fromtimestamp(1631521313.466).strftime('%Y-%m-%d %H:%M:%S')
        second = datetime.fromtimestamp(1631521521.466).strftime('%Y-%m-%d %H:%M:%S')
        assert table.splitlines()[3:] == [f'| x | {first} |', f'| y | {second} |']

    def test_auto_json_transform(self):
        """
        Given: a nested cell and is_auto_json_transform.
        When: rendering a table.
        Then: the cell is an indented outline (**key**:, **-** list items, ***leaf***: value).
        """
        data = [{'Commands': [{'startTime': None, 'errors': ['e1', 'e2'],
                               'command': {'type': 'GetFile', 'params': [{'key': 'Path', 'value': 't.txt'}]}}], 'Id': 'x'}]
        table = tableToMarkdown('t', data, is_auto_json_transform=True)
        assert table.splitlines()[3] == (
            '| **-**\t***startTime***: null<br>\t**errors**:<br>\t\t***values***: e1, e2<br>\t**command**:<br>'
            '\t\t***type***: GetFile<br>\t\t**params**:<br>\t\t\t**-**\t***key***: Path<br>\t\t\t\t***value***: t.txt | x |')

    def test_json_transformer_keys_and_func(self):
        """
        Given: a JsonTransformer limited to some keys, and one with a custom function.
        When: rendering a table.
        Then: only the chosen keys are shown, or the function's output is used.
        """
        data = [{'name': {'first': {'a': 'val'}, 'second': 'b', 'third': 'c'}, 'value': 'v'}]
        table = tableToMarkdown('t', data, json_transform_mapping={'name': JsonTransformer(keys=['first', 'second'])})
        assert table.splitlines()[3] == '| **first**:<br>\t***a***: val<br>***second***: b | v |'
        table = tableToMarkdown('t', data, json_transform_mapping={'name': JsonTransformer(func=lambda d: ', '.join(d))})
        assert table.splitlines()[3] == '| first, second, third | v |'


# ================================================================================================ CommandResults
class TestCommandResults:
    @pytest.mark.parametrize('outputs, prefix', [([], None), ([], ''), ({}, '.'), ('text', None)])
    def test_outputs_without_prefix_raise(self, outputs, prefix):
        """
        Given: non-dict outputs without a prefix, or a '.' prefix.
        When: building CommandResults.
        Then: ValueError mentioning outputs_prefix.
        """
        with pytest.raises(ValueError, match='outputs_prefix'):
            CommandResults(outputs=outputs, outputs_prefix=prefix)

    def test_minimal_entry_keys(self):
        """
        Given: only a readable output.
        When: converting to context.
        Then: exactly the platform's entry keys and defaults.
        """
        assert CommandResults(readable_output='## Something').to_context() == {
            'Type': EntryType.NOTE, 'ContentsFormat': EntryFormat.JSON, 'Contents': None, 'HumanReadable': '## Something',
            'EntryContext': {}, 'IndicatorTimeline': [], 'IgnoreAutoExtract': False, 'Note': False, 'Relationships': []}

    def test_list_outputs_with_key_field(self):
        """
        Given: a list of outputs, a prefix and a key field.
        When: converting to context.
        Then: the DT key, the raw response defaulting to outputs and a default 'Results' table.
        """
        tickets = [{'ticket_id': 1, 'title': 'foo'}, {'ticket_id': 2, 'title': 'goo'}]
        context = CommandResults(outputs_prefix='Jira.Ticket', outputs_key_field='ticket_id', outputs=tickets).to_context()
        assert context['EntryContext'] == {'Jira.Ticket(val.ticket_id && val.ticket_id == obj.ticket_id)': tickets}
        assert context['Contents'] == tickets
        assert context['HumanReadable'] == tableToMarkdown('Results', tickets)

    def test_multiple_key_fields(self):
        """
        Given: several key fields.
        When: converting to context.
        Then: the conditions are joined with ' && '.
        """
        results = CommandResults(outputs_prefix='File', outputs_key_field=['sha1', 'sha256', 'md5'], outputs=[{'md5': '1'}])
        assert list(results.to_context()['EntryContext']) == [
            'File(val.sha1 && val.sha1 == obj.sha1 && val.sha256 && val.sha256 == obj.sha256 && val.md5 && val.md5 == obj.md5)']

    def test_prefix_without_key_field_and_legacy_dict(self):
        """
        Given: a prefix holding its own DT expression, and (separately) a dict of ready-made context keys.
        When: converting to context.
        Then: the prefix is used verbatim; the dict is merged as is.
        """
        prefixed = CommandResults(outputs_prefix='File(val.sha1 == obj.sha1)', outputs_key_field='', outputs=[{'k': 'v'}])
        assert list(prefixed.to_context()['EntryContext']) == ['File(val.sha1 == obj.sha1)']
        legacy = CommandResults(outputs={'Jira.Ticket(val.id == obj.id)': [{'id': 1}]}, raw_response={'raw': 1})
        assert legacy.to_context()['EntryContext'] == {'Jira.Ticket(val.id == obj.id)': [{'id': 1}]}
        assert legacy.to_context()['HumanReadable'].startswith('### Results\n')

    def test_replace_existing(self):
        """
        Given: replace_existing with a nested prefix, then with a flat prefix.
        When: converting to context.
        Then: the '(true)' form; a flat prefix raises.
        """
        results = CommandResults(outputs_prefix='Path.To.NextToken', outputs='abc', replace_existing=True)
        assert results.to_context()['EntryContext'] == {'Path.To(true)': {'NextToken': 'abc'}}
        with pytest.raises(DemistoException, match='outputs_prefix must be a nested path'):
            CommandResults(outputs_prefix='NextToken', outputs='abc', replace_existing=True).to_context()

    @pytest.mark.parametrize('outputs', [None, []])
    def test_empty_outputs(self, outputs):
        """
        Given: outputs None or [].
        When: converting to context.
        Then: no context and no generated readable output.
        """
        context = CommandResults(outputs_prefix='Found', outputs_key_field='value', outputs=outputs).to_context()
        assert context['EntryContext'] == {}
        assert context['HumanReadable'] is None

    def test_scalar_outputs(self):
        """
        Given: string and boolean outputs.
        When: converting to context.
        Then: the readable output is the raw value and Contents keeps the value.
        """
        assert CommandResults(outputs='outputs_test', outputs_prefix='p').to_context()['HumanReadable'] == 'outputs_test'
        assert CommandResults(outputs=False, outputs_prefix='Bool', readable_output='x').to_context()['Contents'] is False

    @pytest.mark.parametrize('content_format, outputs, expected', [
        (None, {}, 'json'), (None, 'foo', 'text'), (None, 1, 'text'), ('html', '', 'html'), ('html', {}, 'html')])
    def test_contents_format(self, content_format, outputs, expected):
        """
        Given: various raw values and explicit formats.
        When: converting to context.
        Then: text for str/bytes/int, json otherwise, unless a format is given.
        """
        results = CommandResults(outputs=outputs, readable_output='hr', outputs_prefix='p', content_format=content_format)
        assert results.to_context()['ContentsFormat'] == expected

    def test_invalid_arguments(self):
        """
        Given: both indicator and indicators, a bad key field type, a bad content format.
        When: building CommandResults.
        Then: the platform's errors.
        """
        ip = Common.IP('1.1.1.1', good_score('1.1.1.1', DBotScoreType.IP))
        with pytest.raises(ValueError, match='^indicators is DEPRECATED, use only indicator$'):
            CommandResults(indicator=ip, indicators=[ip])
        with pytest.raises(TypeError, match='outputs_key_field must be of type str or list'):
            CommandResults(outputs_prefix='p', outputs_key_field=5, outputs={})
        with pytest.raises(TypeError, match='content_format'):
            CommandResults(content_format='pdf')

    def test_indicators_are_wrapped_in_lists(self):
        """
        Given: two IP indicators.
        When: converting to context.
        Then: each context key holds a list with one item per indicator.
        """
        ips = [Common.IP(ip=ip, dbot_score=good_score(ip, DBotScoreType.IP), asn='some asn', hostname='test.com')
               for ip in ('8.8.8.8', '5.5.5.5')]
        context = CommandResults(indicators=ips).to_context()
        assert context['EntryContext'] == {
            IP_KEY: [{'Address': '8.8.8.8', 'ASN': 'some asn', 'Hostname': 'test.com'},
                     {'Address': '5.5.5.5', 'ASN': 'some asn', 'Hostname': 'test.com'}],
            DBOT_KEY: [{'Indicator': '8.8.8.8', 'Type': 'ip', 'Vendor': 'Test', 'Score': 1},
                       {'Indicator': '5.5.5.5', 'Type': 'ip', 'Vendor': 'Test', 'Score': 1}],
        }

    def test_single_indicator_with_outputs(self):
        """
        Given: one indicator plus regular outputs.
        When: converting to context.
        Then: both the indicator keys and the outputs are in the context.
        """
        ip = Common.IP('1.1.1.1', good_score('1.1.1.1', DBotScoreType.IP, reliability=DBotScoreReliability.B))
        context = CommandResults(indicator=ip, outputs_prefix='Vendor.IP', outputs={'id': 1}).to_context()['EntryContext']
        assert context[IP_KEY] == [{'Address': '1.1.1.1'}]
        assert context[DBOT_KEY] == [{'Indicator': '1.1.1.1', 'Type': 'ip', 'Vendor': 'Test', 'Score': 1,
                                      'Reliability': 'B - Usually reliable'}]
        assert context['Vendor.IP'] == {'id': 1}

    def test_tags_note_auto_extract_timeline(self):
        """
        Given: tags, mark_as_note, ignore_auto_extract and a timeline.
        When: converting to context.
        Then: Tags is added and the flags and timeline are set.
        """
        timeline = IndicatorsTimeline(indicators=['8.8.8.8', '1.1.1.1'], category='test', message='message')
        context = CommandResults(tags=['tag1', 'tag2'], mark_as_note=True, ignore_auto_extract=True,
                                 indicators_timeline=timeline).to_context()
        assert context['Tags'] == ['tag1', 'tag2']
        assert context['Note'] is True and context['IgnoreAutoExtract'] is True
        # As the platform: one shared entry, appended once per indicator, holding the last value.
        assert context['IndicatorTimeline'] == [{'Value': '1.1.1.1', 'Category': 'test', 'Message': 'message'}] * 2
        assert context['IndicatorTimeline'][0] is context['IndicatorTimeline'][1]
        assert 'Tags' not in CommandResults().to_context()

    def test_default_timeline_category(self):
        """
        Given: a timeline without a category.
        When: built in an integration.
        Then: the category is 'Integration Update'.
        """
        assert IndicatorsTimeline(indicators=['8.8.8.8']).indicators_timeline == [
            {'Value': '8.8.8.8', 'Category': 'Integration Update'}]

    def test_scheduled_command_keys(self):
        """
        Given: a ScheduledCommand.
        When: converting to context.
        Then: the polling keys are merged into the entry.
        """
        scheduled = ScheduledCommand('my-command', 30, args={'id': '1'}, timeout_in_seconds=600, items_remaining=2)
        context = CommandResults(readable_output='wait', scheduled_command=scheduled).to_context()
        assert {k: context[k] for k in ('PollingCommand', 'NextRun', 'PollingArgs', 'Timeout', 'PollingItemsRemaining')} \
            == {'PollingCommand': 'my-command', 'NextRun': '30', 'PollingArgs': {'id': '1'}, 'Timeout': '600',
                'PollingItemsRemaining': 2}

    def test_relationships(self):
        """
        Given: relationships, one with an empty entity B.
        When: converting to context.
        Then: only the valid one is sent, as its entry form.
        """
        good = EntityRelationship(name='related-to', entity_a='a.com', entity_a_type='Domain', entity_b='1.1.1.1',
                                  entity_b_type='IP')
        empty = EntityRelationship(name='related-to', entity_a='a.com', entity_a_type='Domain', entity_b='',
                                   entity_b_type='IP')
        assert CommandResults(relationships=[good, empty]).to_context()['Relationships'] == [good.to_entry()]


# ================================================================================================ return_* functions
class TestReturnResults:
    def test_none(self, mocker):
        """
        Given: None.
        When: returning results.
        Then: demisto.results(None), for backward compatibility.
        """
        results = mocker.patch.object(demisto, 'results')
        return_results(None)
        results.assert_called_once_with(None)

    def test_command_results_and_strings(self, mocker):
        """
        Given: a CommandResults and a plain string.
        When: returning each.
        Then: the entry dict and the string are sent as is.
        """
        results = mocker.patch.object(demisto, 'results')
        command_results = CommandResults(outputs_prefix='Mock', outputs={'a': 1})
        return_results(command_results)
        return_results('ok')
        assert results.call_args_list[0].args[0] == command_results.to_context()
        assert results.call_args_list[1].args[0] == 'ok'

    def test_mixed_list(self, mocker):
        """
        Given: a list with a CommandResults and two dict entries.
        When: returning results.
        Then: the CommandResults is sent first and the dicts together in one call.
        """
        results = mocker.patch.object(demisto, 'results')
        command_results = CommandResults(outputs_prefix='Mock', outputs={'MockContext': 0})
        return_results([command_results, {'MockContext': 1}, {'MockContext': 2}])
        assert results.call_count == 2
        assert results.call_args_list[0].args[0] == command_results.to_context()
        assert results.call_args_list[1].args[0] == [{'MockContext': 1}, {'MockContext': 2}]

    def test_metrics_dropped_for_scripts(self, mocker):
        """
        Given: metrics entries, returned from a script and then from an integration.
        When: returning results.
        Then: scripts drop them; integrations send them.
        """
        results = mocker.patch.object(demisto, 'results')
        entries = [CommandResults(outputs_prefix='Mock', outputs={'a': 0}, entry_type=19),
                   CommandResults(outputs_prefix='Mock', outputs={'a': 1}), {'a': 1, 'Type': 19}, {'a': 1, 'Type': 1}]
        mocker.patch.object(demisto, 'callingContext', {'context': {'ExecutedCommands': [{'moduleBrand': 'Scripts'}]}})
        return_results(entries)
        assert results.call_count == 2
        assert results.call_args_list[1].args[0] == [{'a': 1, 'Type': 1}]
        results.reset_mock()
        mocker.patch.object(demisto, 'callingContext', {'context': {'ExecutedCommands': [{'moduleBrand': 'integration'}]}})
        return_results(entries)
        assert results.call_count == 3

    def test_mirroring_responses(self, mocker):
        """
        Given: mirroring responses.
        When: returning them.
        Then: each is converted to what the server expects.
        """
        results = mocker.patch.object(demisto, 'results')
        return_results(GetRemoteDataResponse({'id': '1'}, [{'entry': 1}]))
        return_results(GetModifiedRemoteDataResponse(['1', '2']))
        return_results(GetMappingFieldsResponse([SchemeTypeMapping('Incident', {'severity': 'The severity'})]))
        assert [c.args[0] for c in results.call_args_list] == [
            [{'id': '1'}, {'entry': 1}],
            {'Contents': ['1', '2'], 'Type': 1, 'ContentsFormat': 'json'},
            {'Incident': {'severity': 'The severity'}},
        ]


class TestReturnError:
    def test_regular_command(self, mocker):
        """
        Given: a regular command.
        When: returning an error.
        Then: an error entry is posted and the script exits 0.
        """
        mocker.patch.object(demisto, 'command', return_value='test-command')
        results = mocker.patch.object(demisto, 'results')
        with pytest.raises(SystemExit) as exit_info:
            return_error('Testing unicode Ё', '', {'output': 'error'})
        assert exit_info.value.code == 0
        results.assert_called_once_with({'Type': 4, 'ContentsFormat': 'text', 'Contents': 'Testing unicode Ё',
                                         'EntryContext': {'output': 'error'}})

    @pytest.mark.parametrize('command', ['fetch-incidents', 'fetch-credentials', 'long-running-execution',
                                         'fetch-indicators'])
    def test_server_handled_commands_raise(self, mocker, command):
        """
        Given: a command whose failures the server handles.
        When: returning an error.
        Then: Exception(message) is raised and nothing is posted.
        """
        mocker.patch.object(demisto, 'command', return_value=command)
        results = mocker.patch.object(demisto, 'results')
        with pytest.raises(Exception, match='^Testing error$') as exc_info:
            return_error('Testing error')
        assert type(exc_info.value) is Exception
        results.assert_not_called()

    def test_script_without_command(self, mocker, monkeypatch):
        """
        Given: a script (the demisto object has no command()).
        When: returning an error.
        Then: the error entry is posted.
        """
        monkeypatch.delattr(demisto, 'command')
        results = mocker.patch.object(demisto, 'results')
        with pytest.raises(SystemExit):
            return_error('script failed')
        assert results.call_args.args[0]['Contents'] == 'script failed'

    def test_long_message_is_truncated(self, mocker):
        """
        Given: a message over 50,000 characters.
        When: returning an error.
        Then: the middle is replaced by the truncation notice.
        """
        mocker.patch.object(demisto, 'command', return_value='test-command')
        results = mocker.patch.object(demisto, 'results')
        with pytest.raises(SystemExit):
            return_error('a' * 30000 + 'b' * 30000)
        contents = results.call_args.args[0]['Contents']
        assert contents == 'a' * 25000 + '...This error body was truncated...' + 'b' * 25000

    def test_get_modified_remote_data_prefix(self, mocker):
        """
        Given: get-modified-remote-data failing, with and without NotImplementedError.
        When: returning an error.
        Then: 'skip update. error: ' is prefixed unless the command is not implemented.
        """
        mocker.patch.object(demisto, 'command', return_value='get-modified-remote-data')
        results = mocker.patch.object(demisto, 'results')
        with pytest.raises(SystemExit):
            return_error('Test Error')
        assert results.call_args.args[0]['Contents'] == 'skip update. error: Test Error'
        with pytest.raises(SystemExit):
            try:
                raise NotImplementedError('Command not implemented')
            except NotImplementedError:
                return_error('Test Error')
        assert results.call_args.args[0]['Contents'] == 'Test Error'

    @pytest.mark.parametrize('debug_mode', [True, False])
    def test_traceback_only_in_debug_mode(self, mocker, debug_mode):
        """
        Given: an active exception.
        When: returning an error with debug mode on or off.
        Then: the traceback is appended only in debug mode.
        """
        mocker.patch.object(demisto, 'command', return_value='test-command')
        mocker.patch.object(CommonServerPython, 'is_debug_mode', return_value=debug_mode)
        results = mocker.patch.object(demisto, 'results')
        with pytest.raises(SystemExit):
            try:
                raise Exception('This is a test string')
            except Exception:
                return_error('some text')
        contents = results.call_args.args[0]['Contents']
        assert contents.startswith('some text')
        assert ('Traceback' in contents) is debug_mode

    def test_secret_is_masked(self, mocker):
        """
        Given: a registered secret inside the error message.
        When: returning an error.
        Then: the posted message is masked.
        """
        mocker.patch.object(demisto, 'command', return_value='test-command')
        results = mocker.patch.object(demisto, 'results')
        LOG.add_replace_strs('s3cr3t-token-value')
        with pytest.raises(SystemExit):
            return_error('token s3cr3t-token-value rejected')
        assert results.call_args.args[0]['Contents'] == 'token <XX_REPLACED> rejected'

    def test_return_warning(self, mocker):
        """
        Given: a warning.
        When: returning it without exit.
        Then: a type 11 entry and no exit.
        """
        results = mocker.patch.object(demisto, 'results')
        return_warning('careful', outputs={'a': 1})
        results.assert_called_once_with({'Type': 11, 'ContentsFormat': 'text', 'IgnoreAutoExtract': False,
                                         'Contents': 'careful', 'EntryContext': {'a': 1}})


class TestReturnOutputs:
    def test_outputs_and_raw(self, mocker):
        """
        Given: markdown, outputs and raw response.
        When: calling the legacy return_outputs.
        Then: one note entry with json contents.
        """
        results = mocker.patch.object(demisto, 'results')
        return_outputs('md', {'Event': 1}, {'event': 1}, [{'Value': 'v', 'Message': 'm'}])
        entry = results.call_args.args[0]
        assert entry['Contents'] == {'event': 1} and entry['ContentsFormat'] == 'json'
        assert entry['EntryContext'] == {'Event': 1} and entry['HumanReadable'] == 'md'
        assert entry['IndicatorTimeline'][0]['Category'] == 'Integration Update'

    def test_only_markdown(self, mocker):
        """
        Given: markdown only.
        When: calling return_outputs.
        Then: the markdown is also the text contents.
        """
        results = mocker.patch.object(demisto, 'results')
        return_outputs('md')
        assert results.call_args.args[0]['Contents'] == 'md'
        assert results.call_args.args[0]['ContentsFormat'] == 'text'


@pytest.mark.parametrize('data, expected', [('this is a test', b'this is a test'), ('עברית', 'עברית'.encode()),
                                            (b'binary\x15\x00', b'binary\x15\x00')])
def test_file_result(mocker, tmp_path, monkeypatch, data, expected):
    """
    Given: text or binary data.
    When: creating a file result.
    Then: <investigation id>_<unique id> holds the bytes and the entry points at it.
    """
    monkeypatch.chdir(tmp_path)
    mocker.patch.object(demisto, 'uniqueFile', return_value='test_file_result')
    mocker.patch.object(demisto, 'investigation', return_value={'id': '7'})
    entry = fileResult('../test.txt', data)
    assert entry == {'Contents': '', 'ContentsFormat': 'text', 'Type': 3, 'File': 'test.txt', 'FileID': 'test_file_result'}
    assert (tmp_path / '7_test_file_result').read_bytes() == expected


# ================================================================================================ polling
class TestScheduledCommand:
    @pytest.mark.parametrize('requested, next_run', [(1, '10'), (9, '10'), (10, '10'), (45, '45')])
    def test_minimum_interval(self, requested, next_run):
        """
        Given: intervals below and above 10 seconds.
        When: scheduling.
        Then: NextRun is at least '10'.
        """
        assert ScheduledCommand('cmd', requested).to_results()['NextRun'] == next_run

    def test_to_results_drops_empty_values(self):
        """
        Given: no args and no timeout.
        When: converting to results.
        Then: only the present keys (items remaining 0 is kept).
        """
        assert ScheduledCommand('cmd', 20).to_results() == {'PollingCommand': 'cmd', 'NextRun': '20',
                                                            'PollingItemsRemaining': 0}

    def test_version_support(self, mocker):
        """
        Given: a server reporting a version before 6.2.0 (the content mock reports 5.5.0).
        When: scheduling a command.
        Then: nothing is refused, as in the real ScheduledCommand (supports_polling and
              raise_error_if_not_supported no longer check the version).
        """
        server_version(mocker, '6.1.0')
        get_demisto_version._version = None
        assert ScheduledCommand.supports_polling() is True and ScheduledCommand.raise_error_if_not_supported() is True
        assert ScheduledCommand('cmd', 10).to_results()['PollingCommand'] == 'cmd'


class TestPollingFunction:
    @staticmethod
    def make_command(continue_to_poll):
        @polling_function('my-poll', interval=15, timeout=300)
        def command(args):
            return PollResult(response=CommandResults(readable_output='done'), continue_to_poll=continue_to_poll,
                              args_for_next_run={'id': args.get('id'), 'polling': True})
        return command

    def test_continue_polling(self):
        """
        Given: a polling command that is not done.
        When: running it with polling=true.
        Then: a "Fetching Results" entry scheduling the next run.
        """
        result = self.make_command(True)({'id': '1', 'polling': 'true'})
        context = result.to_context()
        assert context['HumanReadable'] == 'Fetching Results:'
        assert context['PollingCommand'] == 'my-poll' and context['NextRun'] == '15' and context['Timeout'] == '300'
        assert context['PollingArgs'] == {'id': '1', 'polling': True, 'hide_polling_output': True}

    def test_done_and_not_polling(self):
        """
        Given: a finished poll, and a run without the polling argument.
        When: running the command.
        Then: the final response is returned.
        """
        assert self.make_command(False)({'polling': 'true'}).readable_output == 'done'
        assert self.make_command(True)({}).readable_output == 'done'


# ================================================================================================ indicators
class TestDBotScore:
    def test_context(self):
        """
        Given: a score with reliability and message.
        When: converting to context.
        Then: the DBotScore key and value.
        """
        score = good_score('8.8.8.8', DBotScoreType.IP, reliability=DBotScoreReliability.A, message='test comment')
        assert score.to_context() == {DBOT_KEY: {'Indicator': '8.8.8.8', 'Type': 'ip', 'Vendor': 'Test', 'Score': 1,
                                                 'Reliability': 'A - Completely reliable', 'Message': 'test comment'}}

    @pytest.mark.parametrize('kwargs', [{'indicator_type': 'bad'}, {'score': None}, {'score': 100},
                                        {'reliability': 'Not a reliability'}])
    def test_invalid_values_raise_type_error(self, kwargs):
        """
        Given: an invalid type, score or reliability.
        When: building a DBotScore.
        Then: TypeError.
        """
        params = {'indicator': '1.1.1.1', 'indicator_type': DBotScoreType.IP, 'score': 0, **kwargs}
        with pytest.raises(TypeError):
            Common.DBotScore(**params)

    def test_vendor_is_the_integration_brand(self, mocker):
        """
        Given: an integration run with a brand.
        When: building a DBotScore with another integration name.
        Then: the vendor is the brand.
        """
        mocker.patch.object(demisto, 'callingContext', {'integration': True, 'context': {'IntegrationBrand': 'Brand'}})
        assert good_score('a.com', DBotScoreType.DOMAIN).integration_name == 'Brand'

    @pytest.mark.parametrize('score, readable', [(0, 'Unknown'), (1, 'Good'), (2, 'Suspicious'), (3, 'Bad'), (7, 'Undefined')])
    def test_readable(self, score, readable):
        """
        Given: each score.
        When: asking for the readable form.
        Then: the platform's words.
        """
        dbot_score = good_score('8.8.8.8', DBotScoreType.IP, score=0)
        dbot_score.score = score
        assert dbot_score.to_readable() == readable

    def test_reliability_helper(self):
        """
        Given: a valid and an invalid reliability string.
        When: validating it.
        Then: the value is returned or an exception raised.
        """
        assert DBotScoreReliability.get_dbot_score_reliability_from_str('C - Fairly reliable') == DBotScoreReliability.C
        with pytest.raises(Exception, match='Please use supported reliability only.'):
            DBotScoreReliability.get_dbot_score_reliability_from_str('Z')


class TestIndicators:
    def test_ip_context(self):
        """
        Given: an IP with many fields.
        When: converting to context.
        Then: the standard IP context (Registrar.Abuse, Geo, Organization, tables).
        """
        ip = Common.IP(
            ip='8.8.8.8', dbot_score=good_score('8.8.8.8', DBotScoreType.IP), asn='some asn', hostname='test.com',
            geo_country='geo_country', geo_description='geo_description', geo_latitude='lat', geo_longitude='long',
            positive_engines=5, detection_engines=10, region='region', port='port', registrar_abuse_name='Mr Registrar',
            registrar_abuse_email='registrar@test.com', campaign='campaign', traffic_light_protocol='tlp',
            threat_types=[Common.ThreatTypes('cat', 'conf')], community_notes=[Common.CommunityNotes('note', 'ts')],
            organization_name='Org', organization_type='Type', tags=['tag1'], malware_family=['fam'], blocked=False,
            description='desc', stix_id='stix', whois_records=[Common.WhoisRecord('k', 'v', 'd')])
        assert ip.to_context()[IP_KEY] == {
            'Address': '8.8.8.8', 'ASN': 'some asn', 'Region': 'region', 'Port': 'port', 'STIXID': 'stix',
            'Registrar': {'Abuse': {'Name': 'Mr Registrar', 'Email': 'registrar@test.com'}}, 'Campaign': 'campaign',
            'Description': 'desc', 'TrafficLightProtocol': 'tlp', 'CommunityNotes': [{'note': 'note', 'timestamp': 'ts'}],
            'ThreatTypes': [{'threatcategory': 'cat', 'threatcategoryconfidence': 'conf'}],
            'WhoisRecords': [{'key': 'k', 'value': 'v', 'date': 'd'}], 'Hostname': 'test.com',
            'Geo': {'Location': 'lat:long', 'Country': 'geo_country', 'Description': 'geo_description'},
            'Organization': {'Name': 'Org', 'Type': 'Type'}, 'DetectionEngines': 10, 'PositiveDetections': 5,
            'Tags': ['tag1'], 'MalwareFamily': ['fam']}

    def test_bad_ip_is_malicious_and_ipv6_path(self):
        """
        Given: a BAD IPv6 address with zero detections.
        When: converting to context.
        Then: the IPv6 key, Malicious with vendor and description, and 0 counts kept.
        """
        score = good_score('::1', DBotScoreType.IP, score=Common.DBotScore.BAD, malicious_description='malicious!')
        context = Common.IP('::1', score, ip_type='IPv6', positive_engines=0).to_context()
        assert context['IPv6(val.Address && val.Address == obj.Address)'] == {
            'Address': '::1', 'PositiveDetections': 0, 'Malicious': {'Vendor': 'Test', 'Description': 'malicious!'}}
        assert context[DBOT_KEY]['Score'] == 3

    def test_domain_context_with_whois(self):
        """
        Given: a domain with registrar, registrant, admin and dates.
        When: converting to context.
        Then: the WHOIS facts appear both at the top level and under WHOIS, party objects with all their keys.
        """
        domain = Common.Domain(
            domain='somedomain.com', dbot_score=good_score('somedomain.com', DBotScoreType.DOMAIN), dns='dns.somedomain',
            detection_engines=10, positive_detections=5, organization='Some Organization', admin_phone='18000000',
            admin_email='admin@test.com', registrant_name='Mr Registrant', registrar_name='Mr Registrar',
            registrar_abuse_email='registrar@test.com', creation_date='2019-01-01T00:00:00',
            updated_date='2019-01-02T00:00:00', domain_status='ACTIVE', name_servers=['PNS31.CLOUDNS.NET'],
            sub_domains=['sub.somedomain.com'], tags=['tag1'], geo_location='loc', tech_name='tech',
            feed_related_indicators=[Common.FeedRelatedIndicators('8.8.8.8', 'IP', 'test')],
            dns_records=[Common.DNSRecord('A', '60', '1.1.1.1')], blocked=True)  # no stix_id: Blocked not written
        whois = {
            'Registrar': {'Name': 'Mr Registrar', 'AbuseEmail': 'registrar@test.com', 'AbusePhone': None},
            'Registrant': {'Name': 'Mr Registrant', 'Email': None, 'Phone': None, 'Country': None},
            'Admin': {'Name': None, 'Email': 'admin@test.com', 'Phone': '18000000', 'Country': None},
            'DomainStatus': 'ACTIVE', 'CreationDate': '2019-01-01T00:00:00', 'UpdatedDate': '2019-01-02T00:00:00',
            'NameServers': ['PNS31.CLOUDNS.NET'],
        }
        assert domain.to_context()['Domain(val.Name && val.Name == obj.Name)'] == {
            'Name': 'somedomain.com', 'DNS': 'dns.somedomain', 'DetectionEngines': 10, 'PositiveDetections': 5,
            'Organization': 'Some Organization', 'Subdomains': ['sub.somedomain.com'], 'Tags': ['tag1'],
            'FeedRelatedIndicators': [{'value': '8.8.8.8', 'type': 'IP', 'description': 'test'}],
            'DNSRecords': [{'type': 'A', 'ttl': '60', 'data': '1.1.1.1'}], 'Geo': {'Location': 'loc'},
            'Tech': {'Name': 'tech'}, **whois, 'WHOIS': whois}

    def test_url_context(self):
        """
        Given: a URL with detections and geo country.
        When: converting to context.
        Then: the standard URL context.
        """
        url = Common.URL(url='https://somedomain.com', dbot_score=good_score('https://somedomain.com', DBotScoreType.URL),
                         positive_detections=5, detection_engines=10, category='cat', asn='asn', as_owner='owner',
                         geo_country='IL', organization='org', port='443', stix_id='stix')
        assert url.to_context()['URL(val.Data && val.Data == obj.Data)'] == {
            'Data': 'https://somedomain.com', 'DetectionEngines': 10, 'PositiveDetections': 5, 'Category': 'cat',
            'ASN': 'asn', 'ASOwner': 'owner', 'Geo': {'Country': 'IL'}, 'Organization': 'org', 'Port': '443',
            'STIXID': 'stix'}

    def test_file_context_and_hashes(self):
        """
        Given: a malicious file with all hashes plus custom ones.
        When: converting to context.
        Then: the long File key, Hashes (custom first) and Malicious.
        """
        md5 = '63347f5d946164a23faca26b78a91e1c'
        score = good_score(md5, DBotScoreType.FILE, score=3, malicious_description='malicious!')
        file = Common.File(dbot_score=score, md5=md5, sha1='s1', sha256='s256', sha512='s512', ssdeep='ss',
                           imphash='imp', name='n', size=1000, file_type='pe',
                           hashes=[Common.Hash('test_type1', 'test_value1')])
        context = file.to_context()
        assert list(context) == [CommonServerPython.outputPaths['file'], DBOT_KEY]
        assert context[Common.File.CONTEXT_PATH] == {
            'Hashes': [{'type': 'test_type1', 'value': 'test_value1'}, {'type': 'MD5', 'value': md5},
                       {'type': 'SHA1', 'value': 's1'}, {'type': 'SHA256', 'value': 's256'},
                       {'type': 'SHA512', 'value': 's512'}, {'type': 'SSDeep', 'value': 'ss'},
                       {'type': 'Imphash', 'value': 'imp'}],
            'Name': 'n', 'Size': 1000, 'MD5': md5, 'SHA1': 's1', 'SHA256': 's256', 'SHA512': 's512', 'SSDeep': 'ss',
            'Type': 'pe', 'Imphash': 'imp', 'Malicious': {'Vendor': 'Test', 'Description': 'malicious!'}}

    def test_cve_context(self):
        """
        Given: a CVE.
        When: converting to context.
        Then: the CVE key, the CVSS object and an automatic NONE DBotScore without vendor.
        """
        cve = Common.CVE('CVE-2015-1653', '10.0', '2022-04-28', '2022-04-30', 'desc', cvss_version='3.1',
                         cvss_vector='AV:N', tags=['t'])
        assert cve.to_context() == {
            'CVE(val.ID && val.ID == obj.ID)': {'ID': 'CVE-2015-1653', 'CVSS': {'Score': '10.0', 'Version': '3.1',
                                                                                 'Vector': 'AV:N'},
                                                'Published': '2022-04-28', 'Modified': '2022-04-30',
                                                'Description': 'desc', 'Tags': ['t']},
            DBOT_KEY: {'Indicator': 'CVE-2015-1653', 'Type': 'cve', 'Vendor': None, 'Score': 0}}

    def test_email_and_account(self):
        """
        Given: an email and an account indicator.
        When: converting to context.
        Then: their standard keys.
        """
        email = Common.EMAIL('user@example.com', good_score('user@example.com', DBotScoreType.EMAIL), domain='example.com',
                             internal=True)
        assert email.to_context()['Account(val.Email.Address && val.Email.Address == obj.Email.Address)'] == {
            'Email': {'Address': 'user@example.com'}, 'Domain': 'example.com', 'Internal': True}
        account = Common.Account(id='acc', username='user', display_name='User', email_address='u@test.com',
                                 is_enabled=False, dbot_score=good_score('acc', DBotScoreType.ACCOUNT))
        assert account.to_context()['Account(val.id && val.id == obj.id)'] == {
            'Id': 'acc', 'Username': 'user', 'DisplayName': 'User', 'Email': {'Address': 'u@test.com'}, 'Enabled': False}

    def test_endpoint(self):
        """
        Given: an endpoint, and one with an invalid status.
        When: building it.
        Then: the Endpoint context without a DBotScore; invalid statuses raise.
        """
        endpoint = Common.Endpoint(id='e1', hostname='host', ip_address='10.0.0.1', os='Windows', status='Online')
        assert endpoint.to_context() == {'Endpoint(val.ID && val.ID == obj.ID && val.Vendor == obj.Vendor)': {
            'ID': 'e1', 'Hostname': 'host', 'IPAddress': '10.0.0.1', 'OS': 'Windows', 'Status': 'Online'}}
        with pytest.raises(ValueError):
            Common.Endpoint(id='e1', status='Sleeping')

    def test_indicator_requires_dbot_score_and_known_fields(self):
        """
        Given: an IP without a DBotScore object, and one with an unknown field.
        When: building it.
        Then: ValueError and TypeError.
        """
        with pytest.raises(ValueError, match='dbot_score must be of type DBotScore'):
            Common.IP('1.1.1.1', dbot_score='')
        with pytest.raises(TypeError):
            Common.IP('1.1.1.1', good_score('1.1.1.1', DBotScoreType.IP), not_a_field=1)

    def test_custom_indicator(self):
        """
        Given: a custom indicator type.
        When: converting to context.
        Then: the prefix key on value, the data fields and the DBotScore typed as the custom type.
        """
        score = Common.DBotScore('test', DBotScoreType.CUSTOM, 'VirusTotal', score=Common.DBotScore.BAD)
        indicator = Common.CustomIndicator('test', 'test_value', score, {'param': 'value'}, 'prefix')
        context = indicator.to_context()
        assert indicator.CONTEXT_PATH == 'prefix(val.value && val.value == obj.value)'
        assert context[indicator.CONTEXT_PATH] == {'value': 'test_value', 'param': 'value'}
        assert context[DBOT_KEY]['Type'] == 'test'
        with pytest.raises(ValueError):
            Common.CustomIndicator('ip', 'v', score, {}, 'prefix')

    def test_relationships_in_indicator_context(self):
        """
        Given: an indicator with a relationship.
        When: converting to context.
        Then: Relationships holds the relationship's context form.
        """
        relationship = EntityRelationship(name='resolves-to', entity_a='a.com', entity_a_type='Domain',
                                          entity_b='1.1.1.1', entity_b_type='IP')
        domain = Common.Domain('a.com', good_score('a.com', DBotScoreType.DOMAIN), relationships=[relationship])
        assert domain.to_context()['Domain(val.Name && val.Name == obj.Name)']['Relationships'] == [
            {'Relationship': 'resolves-to', 'EntityA': 'a.com', 'EntityAType': 'Domain', 'EntityB': '1.1.1.1',
             'EntityBType': 'IP'}]


# ================================================================================================ relationships
class TestEntityRelationship:
    @staticmethod
    def make(**kwargs):
        params = {'name': 'related-to', 'entity_a': 'test1', 'entity_a_type': 'Domain', 'entity_b': 'test2',
                  'entity_b_type': 'Domain', **kwargs}
        return EntityRelationship(**params)

    def test_to_entry(self):
        """
        Given: a relationship with reliability and brand.
        When: converting to an entry.
        Then: the server's relationship entry keys.
        """
        assert self.make(source_reliability='F - Reliability cannot be judged', brand='test').to_entry() == {
            'name': 'related-to', 'reverseName': 'related-to', 'type': 'IndicatorToIndicator', 'entityA': 'test1',
            'entityAFamily': 'Indicator', 'entityAType': 'Domain', 'entityB': 'test2', 'entityBFamily': 'Indicator',
            'entityBType': 'Domain', 'fields': {}, 'reliability': 'F - Reliability cannot be judged', 'brand': 'test'}

    def test_to_context_and_indicator(self):
        """
        Given: a relationship.
        When: converting to context and to the indicator form.
        Then: the context keys; the indicator form has no reliability or brand.
        """
        relationship = self.make(brand='test', fields={'a': 1})
        assert relationship.to_context() == {'Relationship': 'related-to', 'EntityA': 'test1', 'EntityAType': 'Domain',
                                             'EntityB': 'test2', 'EntityBType': 'Domain'}
        assert relationship.to_indicator()['fields'] == {'a': 1}
        assert 'brand' not in relationship.to_indicator()

    @pytest.mark.parametrize('name, reverse', [('indicator-of', 'indicated-by'), ('uses', 'used-by'),
                                               ('resolves-to', 'resolved-from'), ('hosts', 'hosted-on'),
                                               ('drops', 'dropped-by'), ('exploits', 'exploited-by'),
                                               ('part-of', 'contains'), ('unknown-name', 'related-to')])
    def test_reverse_names(self, name, reverse):
        """
        Given: relationship names, one unknown.
        When: building the relationship without a reverse name.
        Then: the reverse comes from the table, falling back to related-to.
        """
        assert self.make(name=name).to_entry()['reverseName'] == reverse
        assert EntityRelationship.Relationships.RELATED_TO == 'related-to'

    @pytest.mark.parametrize('kwargs, message', [
        ({'relationship_type': 'TestRelationshipType'}, 'Invalid relationship type: TestRelationshipType'),
        ({'entity_a_family': 'IndicatorIlegal'}, 'Invalid entity A Family type: IndicatorIlegal'),
        ({'entity_b_family': 'IndicatorIlegal'}, 'Invalid entity B Family type: IndicatorIlegal'),
        ({'source_reliability': 'Z'}, 'Invalid source reliability value')])
    def test_invalid_values(self, kwargs, message):
        """
        Given: an invalid type, family or reliability.
        When: building the relationship.
        Then: ValueError.
        """
        with pytest.raises(ValueError, match=message):
            self.make(**kwargs)

    def test_empty_entity_b(self):
        """
        Given: an empty entity B.
        When: converting.
        Then: every form is empty.
        """
        relationship = self.make(entity_b='')
        assert relationship.to_entry() == relationship.to_context() == relationship.to_indicator() == {}


# ================================================================================================ arguments
@pytest.mark.parametrize('arg, kwargs, expected', [
    (['a', 'b'], {}, ['a', 'b']), ('a,b,c', {}, ['a', 'b', 'c']), (' a , b ', {}, ['a', 'b']),
    ('["a","b"]', {}, ['a', 'b']), ('a;b', {'separator': ';'}, ['a', 'b']), (1, {}, [1]), ('1', {}, ['1']),
    (True, {}, [True]), ([1, 2], {'transform': str}, ['1', '2']), ('[test.com]', {}, ['[test.com]']),
    ('', {}, []), (None, {}, []), ([], {}, [])])
def test_arg_to_list(arg, kwargs, expected):
    """
    Given: the argument shapes integrations receive.
    When: converting to a list.
    Then: the platform's result.
    """
    assert argToList(arg, **kwargs) == expected


@pytest.mark.parametrize('value, expected', [('true', True), ('yes', True), ('TrUe', True), (True, True), ('false', False),
                                             ('NO', False), (False, False)])
def test_arg_to_boolean(value, expected):
    """
    Given: boolean-like values.
    When: converting.
    Then: the boolean.
    """
    assert argToBoolean(value) is expected


@pytest.mark.parametrize('value', ['maybe', 1, None])
def test_arg_to_boolean_invalid(value):
    """
    Given: values that are not boolean-like.
    When: converting.
    Then: ValueError.
    """
    with pytest.raises(ValueError):
        argToBoolean(value)


@pytest.mark.parametrize('arg, expected', [('5', 5), ('2.0', 2), ('1.5', 1), ('-3', -3), (3, 3), ('', None), (None, None)])
def test_arg_to_number(arg, expected):
    """
    Given: numeric arguments.
    When: converting to a number.
    Then: an int (floats truncated) or None for empty values.
    """
    assert arg_to_number(arg, 'foo') == expected


@pytest.mark.parametrize('arg, arg_name, required, message', [
    (1.5, 'foo', False, 'Invalid number: "foo"="1.5"'), ('aa', 'foo', False, 'Invalid number: "foo"="aa"'),
    ('goo', None, False, '"goo" is not a valid number'), (None, 'foo', True, 'Missing "foo"'),
    ('', None, True, 'Missing required argument'), ('1e309', 'foo', False, 'Invalid number: "foo"="1e309"'),
    ('\u00b9', 'foo', False, "invalid literal for int\\(\\) with base 10: '\u00b9'")])
def test_arg_to_number_invalid(arg, arg_name, required, message):
    """
    Given: a float object, bad strings, missing required values.
    When: converting to a number.
    Then: ValueError with the platform's message.
    """
    with pytest.raises(ValueError, match=f'^{message}$'):
        arg_to_number(arg, arg_name, required)


class TestArgToDatetime:
    def test_epoch_beyond_the_platform_range_is_an_overflow_error(self):
        """
        Given: an epoch number far beyond what the platform's clock can represent.
        When: converting to a datetime.
        Then: Python's OverflowError, as the platform raises (it does not wrap it).
        """
        with pytest.raises(OverflowError):
            arg_to_datetime('9' * 40, 'since')

    @pytest.mark.parametrize('arg', [1581982463, '1581982463', 1581982463000, '1581982463000', 1581982463.0])
    def test_epoch_seconds_and_milliseconds(self, arg):
        """
        Given: epoch values in seconds and (above 2e9) milliseconds.
        When: converting.
        Then: the same aware UTC datetime.
        """
        assert arg_to_datetime(arg) == datetime(2020, 2, 17, 23, 34, 23, tzinfo=UTC)

    def test_iso_string(self):
        """
        Given: an ISO 8601 string.
        When: converting.
        Then: an aware UTC datetime.
        """
        assert arg_to_datetime('2020-11-10T21:43:43Z') == datetime(2020, 11, 10, 21, 43, 43, tzinfo=UTC)

    @freeze_time('2022-11-03 13:40:00')
    def test_relative_date(self):
        """
        Given: '3 days'.
        When: converting.
        Then: three days before now.
        """
        assert arg_to_datetime('3 days') == datetime(2022, 10, 31, 13, 40, 0)

    def test_not_utc(self):
        """
        Given: is_utc=False.
        When: converting an epoch.
        Then: a naive local datetime.
        """
        assert arg_to_datetime(1581982463, is_utc=False) == datetime.fromtimestamp(1581982463)

    @pytest.mark.parametrize('arg, arg_name, required, message', [
        (None, 'foo', True, 'Missing "foo"'), ('aaaa', 'foo', False, 'Invalid date: "foo"="aaaa"'),
        ('2010-32-01', None, False, '"2010-32-01" is not a valid date'), ({}, 'foo', False, 'Invalid date')])
    def test_invalid(self, arg, arg_name, required, message):
        """
        Given: missing or unparsable dates.
        When: converting.
        Then: ValueError with the platform's message.
        """
        with pytest.raises(ValueError, match=message):
            arg_to_datetime(arg, arg_name, required=required)

    def test_none_not_required(self):
        """
        Given: None and not required.
        When: converting.
        Then: None.
        """
        assert arg_to_datetime(None) is None


# ================================================================================================ small helpers
def test_assign_params_and_remove_empty_elements():
    """
    Given: dicts with empty values.
    When: cleaning them.
    Then: empty values go, 0 and False stay.
    """
    assert assign_params(a='1', b=True, c=None, d='', e=[], f={}, g=(), h=0, i=False) == {'a': '1', 'b': True, 'h': 0,
                                                                                             'i': False}
    assert assign_params(keys_to_ignore=['rnd'], values_to_ignore=(15,), ID='1', rnd=2, b=15) == {'ID': '1'}
    data = {'foo': 'bar', 'baz': {}, 'empty': [], 'nested': {'empty_list': [], 'hummus': 'pita'}, 'zero': 0}
    assert remove_empty_elements(data) == {'foo': 'bar', 'nested': {'hummus': 'pita'}, 'zero': 0}


@pytest.mark.parametrize('url, suffix, expected', [
    ('https://google.com/', '/', 'https://google.com/'), ('https://google.com', '/', 'https://google.com/'),
    ('https://google.com', 'api', 'https://google.com/api'), ('https://google.com', '/api', 'https://google.com/api'),
    ('https://google.com/', 'api', 'https://google.com/api'), ('https://google.com/', '/api', 'https://google.com/api')])
def test_urljoin(url, suffix, expected):
    """
    Given: base URLs and suffixes with and without slashes.
    When: joining.
    Then: exactly one slash between them.
    """
    assert urljoin(url, suffix) == expected


def test_string_helpers():
    """
    Given: the string helpers integrations use for headers and keys.
    When: converting.
    Then: the platform's results.
    """
    assert string_to_table_header('one_two three') == 'One Two Three'
    assert underscoreToCamelCase('ab_c') == 'AbC' and underscoreToCamelCase('ab_c', upper_camel=False) == 'abC'
    assert camelize_string('fgh_ijk') == 'FghIjk'
    assert CommonServerPython.pascalToSpace('IPAddress') == 'IP Address'
    assert CommonServerPython.b64_encode('§t`e§s`t§') == 'wqd0YGXCp3NgdMKn'
    assert CommonServerPython.hash_djb2('test') == 2090756197
    assert dict_safe_get({'a': {'b': [1, 2]}}, ['a', 'b', 1]) == 2
    assert dict_safe_get({'a': {'b': '2'}}, ['a', 'c'], 'test') == 'test'
    assert CommonServerPython.SmartGetDict({'t1': None}).get('t1', 2) == 2


def test_timestamp_to_datestring():
    """
    Given: epoch milliseconds.
    When: formatting with the default (Z) format and with is_utc.
    Then: UTC strings.
    """
    assert timestamp_to_datestring(1541494441222) == '2018-11-06T08:54:01.000Z'
    assert timestamp_to_datestring('1541494441222', '%Y-%m-%d %H:%M', is_utc=True) == '2018-11-06 08:54'


def test_merge_lists():
    """
    Given: an original and an updated list with a removal.
    When: merging by id.
    Then: updates replace, new items are added, removed ones dropped.
    """
    original = [{'id': '1', 'updated': 'n'}, {'id': '2', 'updated': 'n'}, {'id': '11', 'updated': 'n'}]
    updated = [{'id': '1', 'updated': 'y'}, {'id': '3', 'updated': 'y'}, {'id': '11', 'remove': True}]
    assert merge_lists(original, updated, 'id') == [{'id': '1', 'updated': 'y'}, {'id': '2', 'updated': 'n'},
                                                    {'id': '3', 'updated': 'y'}]


# ================================================================================================ BaseClient
class TestBaseClient:
    text = {'status': 'ok'}

    @pytest.fixture
    def client(self):
        return BaseClient(BASE_URL, ok_codes=(200, 201))

    @pytest.mark.parametrize('resp_type, expected', [('json', {'status': 'ok'}), ('text', '{"status": "ok"}'),
                                                     ('content', b'{"status": "ok"}')])
    def test_resp_types(self, client, requests_mock, resp_type, expected):
        """
        Given: a JSON body.
        When: requesting with each resp_type.
        Then: the parsed, text or bytes body.
        """
        requests_mock.get(f'{BASE_URL}event', text=json.dumps(self.text))
        assert client._http_request('get', 'event', resp_type=resp_type) == expected

    @pytest.mark.parametrize('resp_type', ['response', '', 'other', 'xml'])
    def test_resp_types_returning_response(self, client, requests_mock, resp_type):
        """
        Given: response, empty, unknown and xml resp_types.
        When: requesting.
        Then: the Response object itself.
        """
        requests_mock.get(f'{BASE_URL}event', text='<a>1</a>')
        assert isinstance(client._http_request('get', 'event', resp_type=resp_type), requests.Response)

    def test_json_parse_failure(self, client, requests_mock):
        """
        Given: a body that is not JSON.
        When: requesting JSON.
        Then: DemistoException 'Failed to parse json' carrying the response.
        """
        requests_mock.get(f'{BASE_URL}event', text='notjson')
        with pytest.raises(DemistoException, match="Failed to parse json object from response: b'notjson'") as exc_info:
            client._http_request('get', 'event')
        assert exc_info.value.res.text == 'notjson'

    def test_error_message_with_json_body(self, client, requests_mock):
        """
        Given: a 400 with a JSON body.
        When: requesting.
        Then: 'Error in API call [400] - <reason>' and the JSON on the next line.
        """
        requests_mock.get(f'{BASE_URL}event', status_code=400, reason='Bad Request', json={'error': 'additional text'})
        with pytest.raises(DemistoException) as exc_info:
            client._http_request('get', 'event')
        assert str(exc_info.value) == 'Error in API call [400] - Bad Request\n{"error": "additional text"}'
        assert exc_info.value.res.status_code == 400

    def test_error_message_with_text_body(self, client, requests_mock):
        """
        Given: a 500 with a text body.
        When: requesting.
        Then: the text is appended to the message.
        """
        requests_mock.get(f'{BASE_URL}event', status_code=500, reason='Server Error', text='boom')
        with pytest.raises(DemistoException, match=r'^Error in API call \[500\] - Server Error\nboom$'):
            client._http_request('get', 'event')

    def test_ok_codes_override(self, client, requests_mock):
        """
        Given: a 500 and ok_codes including it.
        When: requesting.
        Then: it is accepted.
        """
        requests_mock.get(f'{BASE_URL}event', status_code=500)
        assert client._http_request('get', 'event', resp_type='response', ok_codes=(500,)).status_code == 500

    def test_no_ok_codes_uses_response_ok(self, requests_mock):
        """
        Given: a client without ok codes.
        When: checking statuses.
        Then: response.ok decides, and the codes are a tuple (the MS module appends 429).
        """
        client = BaseClient(BASE_URL)
        assert client._ok_codes == () and client._ok_codes + (429,) == (429,)
        requests_mock.get(f'{BASE_URL}event', status_code=202, json={})
        assert client._http_request('get', 'event') == {}
        requests_mock.get(f'{BASE_URL}event', status_code=404, json={})
        with pytest.raises(DemistoException, match=r'\[404\]'):
            client._http_request('get', 'event')

    def test_error_handler_may_accept(self, client, requests_mock):
        """
        Given: an error handler that returns without raising.
        When: the response is an error.
        Then: success handling continues.
        """
        requests_mock.get(f'{BASE_URL}event', status_code=404, json={'value': []})
        seen = []
        assert client._http_request('get', 'event', error_handler=seen.append) == {'value': []}
        assert seen[0].status_code == 404

    def test_error_handler_may_raise(self, client, requests_mock):
        """
        Given: an error handler that raises.
        When: the response is an error.
        Then: its exception propagates.
        """
        requests_mock.get(f'{BASE_URL}event', status_code=403)

        def handler(res):
            raise DemistoException(f'custom {res.status_code}')
        with pytest.raises(DemistoException, match='^custom 403$'):
            client._http_request('get', 'event', error_handler=handler)

    def test_empty_response(self, client, requests_mock):
        """
        Given: a 204.
        When: requesting with return_empty_response, with resp_type json, and with resp_type ''.
        Then: the Response, a parse error, and the Response.
        """
        client = BaseClient(BASE_URL, ok_codes=(200, 204))
        requests_mock.delete(f'{BASE_URL}item', status_code=204)
        assert client._http_request('delete', 'item', return_empty_response=True).status_code == 204
        with pytest.raises(DemistoException, match='Failed to parse json'):
            client._http_request('delete', 'item')
        assert client._http_request('delete', 'item', resp_type='').status_code == 204

    def test_empty_valid_codes(self, client, requests_mock):
        """
        Given: a 201 with an empty body listed in empty_valid_codes.
        When: requesting with return_empty_response.
        Then: the Response.
        """
        requests_mock.post(f'{BASE_URL}item', status_code=201)
        res = client._http_request('post', 'item', return_empty_response=True, empty_valid_codes=[201])
        assert isinstance(res, requests.Response)

    @pytest.mark.parametrize('exc, message', [
        (requests.exceptions.ConnectTimeout, 'Connection Timeout Error - potential reasons'),
        (requests.exceptions.SSLError, 'SSL Certificate Verification Failed'),
        (requests.exceptions.ProxyError, 'Proxy Error - if the '),
        (requests.exceptions.ConnectionError, 'Verify that the server URL parameter is correct and that you have access '
                                              'to the server from your host.\nError Type: '
                                              '<requests.exceptions.ConnectionError>'),
        (requests.exceptions.RetryError, 'Max Retries Error- Request attempts with 0 retries failed.')])
    def test_connection_errors_are_wrapped(self, client, requests_mock, exc, message):
        """
        Given: transport failures.
        When: requesting.
        Then: DemistoException with the platform's hint, keeping the original exception.
        """
        requests_mock.get(f'{BASE_URL}event', exc=exc)
        with pytest.raises(DemistoException) as exc_info:
            client._http_request('get', 'event')
        assert str(exc_info.value).startswith(message)
        assert isinstance(exc_info.value.exception, exc)

    def test_ssl_error_reraised_when_insecure(self, requests_mock):
        """
        Given: an insecure client.
        When: an SSL error happens.
        Then: the original error is re-raised.
        """
        requests_mock.get(f'{BASE_URL}event', exc=requests.exceptions.SSLError('test ssl'))
        with pytest.raises(requests.exceptions.SSLError, match='^test ssl$'):
            BaseClient(BASE_URL, verify=False)._http_request('get', 'event')

    def test_read_timeout_is_not_wrapped(self, client, requests_mock):
        """
        Given: a read timeout.
        When: requesting.
        Then: it propagates unchanged.
        """
        requests_mock.get(f'{BASE_URL}event', exc=requests.exceptions.ReadTimeout)
        with pytest.raises(requests.exceptions.ReadTimeout):
            client._http_request('get', 'event')

    def test_timeouts(self, mocker, monkeypatch, requests_mock):
        """
        Given: the default, an explicit, a per-call, a system and a per-integration timeout.
        When: requesting.
        Then: the right timeout reaches requests.
        """
        requests_mock.get(f'{BASE_URL}event', json={})
        BaseClient(BASE_URL)._http_request('get', 'event')
        assert requests_mock.last_request.timeout == 60
        BaseClient(BASE_URL, timeout=44)._http_request('get', 'event', timeout=120)
        assert requests_mock.last_request.timeout == 120
        monkeypatch.setenv('REQUESTS_TIMEOUT', '10')
        BaseClient(BASE_URL, timeout=44)._http_request('get', 'event')
        assert requests_mock.last_request.timeout == 10
        mocker.patch.object(demisto, 'callingContext', {'context': {'IntegrationBrand': 'Test'}})
        monkeypatch.setenv('REQUESTS_TIMEOUT.Test', '180.1')
        BaseClient(BASE_URL)._http_request('get', 'event')
        assert requests_mock.last_request.timeout == 180.1

    def test_proxy_and_verify_environment(self, monkeypatch, requests_mock):
        """
        Given: proxy variables without a scheme and a CA bundle.
        When: building clients with and without proxy/verify.
        Then: the scheme is added, or the variables removed; verify=False removes the CA bundle.
        """
        for name in ('HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'NO_PROXY', 'no_proxy'):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv('http_proxy', 'testproxy:8899')
        monkeypatch.setenv('https_proxy', 'testproxy:8899')
        monkeypatch.setenv('REQUESTS_CA_BUNDLE', '/test1.pem')
        requests_mock.get(f'{BASE_URL}event', json={})
        BaseClient(BASE_URL, proxy=True)._http_request('get', 'event')
        assert os.environ['https_proxy'] == 'http://testproxy:8899'
        assert requests_mock.last_request.proxies['https'] == 'http://testproxy:8899'
        assert requests_mock.last_request.verify == '/test1.pem'
        BaseClient(BASE_URL, proxy=False, verify=False)._http_request('get', 'event')
        assert 'https_proxy' not in os.environ and 'REQUESTS_CA_BUNDLE' not in os.environ
        assert 'https' not in requests_mock.last_request.proxies
        assert requests_mock.last_request.verify is False

    def test_retries_mount_https_adapter(self, client, requests_mock):
        """
        Given: retries.
        When: requesting.
        Then: an HTTPAdapter with the urllib3 Retry settings is mounted on https:// only.
        """
        requests_mock.get(f'{BASE_URL}event', json={})
        http_adapter = client._session.get_adapter('http://example.com')
        client._http_request('get', 'event', retries=3, status_list_to_retry=[429, 500], backoff_factor=2)
        retry = client._session.get_adapter(BASE_URL).max_retries
        assert (retry.total, retry.connect, retry.read, retry.status) == (3, 3, 3, 3)
        assert retry.backoff_factor == 2 and set(retry.status_forcelist) == {429, 500}
        assert retry.allowed_methods == frozenset({'GET', 'POST', 'PUT', 'PATCH', 'DELETE'})
        assert client._session.get_adapter('http://example.com') is http_adapter

    def test_request_arguments(self, client, requests_mock):
        """
        Given: full_url, headers, params with a quote function and a JSON body.
        When: requesting.
        Then: they reach the server as given.
        """
        requests_mock.post('https://other.example.com/x', json={})
        client._http_request('post', full_url='https://other.example.com/x', headers={'H': 'v'},
                             params={'key': 'value with spaces'}, params_parser=urllib.parse.quote, json_data={'a': 1})
        request = requests_mock.last_request
        assert request.headers['H'] == 'v' and request.json() == {'a': 1}
        assert request.query == 'key=value%20with%20spaces'

    def test_metrics(self, requests_mock):
        """
        Given: with_metrics, a success and an auth failure.
        When: requesting.
        Then: the counters are updated.
        """
        client = BaseClient(BASE_URL)
        requests_mock.get(f'{BASE_URL}ok', json={})
        requests_mock.get(f'{BASE_URL}denied', status_code=401)
        client._http_request('get', 'ok', with_metrics=True)
        with pytest.raises(DemistoException):
            client._http_request('get', 'denied', with_metrics=True)
        assert client.execution_metrics.get_metric_list() == [{'Type': 'Successful', 'APICallsCount': 1},
                                                              {'Type': 'AuthError', 'APICallsCount': 1}]
        client.execution_metrics = ExecutionMetrics()  # nothing to report when the client is collected


# ================================================================================================ metrics
class TestExecutionMetrics:
    def test_entry_and_live_updates(self):
        """
        Given: metrics counted before and after taking the entry.
        When: converting the entry.
        Then: an EXECUTION_METRICS entry reflecting the latest counts.
        """
        metrics = ExecutionMetrics()
        assert metrics.metrics is None
        metrics.success += 1
        collected = metrics.metrics
        metrics.quota_error += 26
        assert collected.to_context() == {
            'Type': 19, 'ContentsFormat': 'text', 'Contents': 'Metrics reported successfully.', 'HumanReadable': None,
            'EntryContext': {}, 'IndicatorTimeline': [], 'IgnoreAutoExtract': False, 'Note': False, 'Relationships': [],
            'APIExecutionMetrics': [{'Type': 'Successful', 'APICallsCount': 1},
                                    {'Type': 'QuotaError', 'APICallsCount': 26}]}

    @pytest.mark.parametrize('version, supported', [('6.8.0', True), ('6.7.9', False), ('8.9.0', True)])
    def test_is_supported(self, mocker, version, supported):
        """
        Given: server versions around 6.8.0.
        When: checking support.
        Then: supported from 6.8.0.
        """
        server_version(mocker, version)
        assert ExecutionMetrics.is_supported() is supported
        metrics = ExecutionMetrics(general_error=1)
        assert len(CommonServerPython.append_metrics(metrics, [])) == int(supported)


# ================================================================================================ context and version
class TestIntegrationContext:
    def test_versioned_get_and_set(self, mocker):
        """
        Given: a server with versioned context.
        When: getting and setting the context.
        Then: the versioned API is used and the version is passed through.
        """
        server_version(mocker, '8.9.0')
        mocker.patch.object(demisto, 'getIntegrationContextVersioned', return_value={'context': {'a': 1}, 'version': 4})
        setter = mocker.patch.object(demisto, 'setIntegrationContextVersioned')
        assert get_integration_context() == {'a': 1}
        assert get_integration_context(with_version=True) == {'context': {'a': 1}, 'version': 4}
        set_integration_context({'b': 2}, version=4)
        setter.assert_called_once_with({'b': 2}, 4, True)

    def test_old_server_uses_plain_context(self, mocker):
        """
        Given: a 5.5.0 server.
        When: getting and setting the context.
        Then: the non-versioned API is used.
        """
        server_version(mocker, '5.5.0')
        mocker.patch.object(demisto, 'getIntegrationContext', return_value={'old': True})
        setter = mocker.patch.object(demisto, 'setIntegrationContext')
        assert get_integration_context() == {'old': True}
        set_integration_context({'x': 1})
        setter.assert_called_once_with({'x': 1})

    def test_mock_backend_round_trip_and_conflict(self, monkeypatch):
        """
        Given: the runtime backend base (what xsoar-local installs), which acts as a current server.
        When: setting with the current version, then with a stale one.
        Then: the first write is stored; the stale one raises ValueError.
        """
        monkeypatch.setattr(demisto, 'integrationContext', {})
        demisto.set_backend(demisto.MockBackend())
        monkeypatch.setattr(get_demisto_version, '_version', None)
        try:
            self._round_trip()
        finally:
            demisto.set_backend(None)

    @staticmethod
    def _round_trip():
        current = get_integration_context(with_version=True)
        set_integration_context({'token': 't'}, version=current['version'])
        assert get_integration_context() == {'token': 't'}
        with pytest.raises(ValueError):
            set_integration_context({'token': 'u'}, version=current['version'])

    def test_set_with_retries(self, mocker):
        """
        Given: a version conflict on the first write.
        When: setting with retries.
        Then: the context is re-read and written again.
        """
        server_version(mocker, '8.9.0')
        mocker.patch.object(demisto, 'getIntegrationContextVersioned', return_value={'context': {}, 'version': 3})
        setter = mocker.patch.object(demisto, 'setIntegrationContextVersioned', side_effect=[ValueError('conflict'), None])
        mocker.patch.object(CommonServerPython.time, 'sleep')
        set_to_integration_context_with_retries({'k': [1]})
        assert setter.call_count == 2
        assert setter.call_args.args == ({'k': '[1]'}, 3, True)


class TestServerVersion:
    def test_cached(self, mocker):
        """
        Given: a server version.
        When: asking twice.
        Then: demistoVersion is called once and the string form is version-build.
        """
        server_version(mocker, '5.0.0')
        assert get_demisto_version() == get_demisto_version() == {'version': '5.0.0', 'buildNumber': '50000'}
        assert demisto.demistoVersion.call_count == 1
        assert get_demisto_version_as_str() == '5.0.0-50000'

    @pytest.mark.parametrize('version, build, expected', [
        ('6.5.0', '', True), ('6.5', '', True), ('6.10.0', '', True), ('6.10.1', '', False), ('7.0.0', '', False),
        ('6.10.0', '49999', True), ('6.10.0', '50001', False), ('6.10.0', '1-dev', True), ('5.5.0', '99999', True)])
    def test_is_demisto_version_ge(self, mocker, version, build, expected):
        """
        Given: a 6.10.0 build 50000 server.
        When: comparing versions (zero-filled), builds and dev builds.
        Then: the platform's answers.
        """
        server_version(mocker, '6.10.0')
        assert is_demisto_version_ge(version, build) is expected

    def test_default_mock_version_is_the_content_mock(self):
        """
        Given: the project's demistomock with nothing installed (the content repository's mock reports 5.5.0).
        When: checking the versioned context threshold.
        Then: it is not available, so CommonServerPython uses the plain integration context, as under the real mock.
        """
        assert demisto.demistoVersion() == {'version': '5.5.0', 'buildNumber': '12345'}
        assert not is_demisto_version_ge('6.0.0') and not CommonServerPython.is_versioned_context_available()


# ================================================================================================ logging
class TestIntegrationLogger:
    def test_secret_params_are_masked(self, mocker):
        """
        Given: secret parameters (key, password, token, a credentials object) and a plain one.
        When: logging them and the basic-auth header.
        Then: secrets, their base64 and the basic-auth string are masked; the plain value is not.
        """
        mocker.patch.object(demisto, 'params', return_value={
            'apikey': 'my_apikey', 'client_secret': 'my_secret', 'refresh_token': 'my_token', 'url': 'https://x.com',
            'credentials': {'identifier': 'admin', 'password': 'ident_pass'}})
        ilog = IntegrationLogger()
        basic = CommonServerPython.b64_encode('admin:ident_pass')
        text = ilog(f'my_apikey my_secret my_token ident_pass {basic} {CommonServerPython.b64_encode("my_apikey")} '
                    'https://x.com admin')
        assert text == ' '.join(['<XX_REPLACED>'] * 6) + ' https://x.com admin'

    def test_escaped_and_encoded_variants(self, mocker):
        """
        Given: a run-time secret with special characters, and an empty string.
        When: registering and logging it url-encoded.
        Then: both spellings are masked and the empty string is not registered.
        """
        mocker.patch.object(demisto, 'params', return_value={})
        ilog = IntegrationLogger()
        ilog.add_replace_strs('ZAQ!@#$%&*', '')
        assert '' not in ilog.replace_strs
        assert ilog('raw ZAQ!@#$%&* encoded ZAQ%21%40%23%24%25%26%2A') == 'raw <XX_REPLACED> encoded <XX_REPLACED>'

    def test_print_log_goes_to_info(self, mocker):
        """
        Given: buffered messages with a secret.
        When: printing the log.
        Then: one masked 'Full Integration Log' info line, and the buffer is emptied.
        """
        mocker.patch.object(demisto, 'params', return_value={'password': 'my_password'})
        info = mocker.patch.object(demisto, 'info')
        ilog = IntegrationLogger()
        ilog('first my_password')
        ilog.write('second\n')
        ilog.print_log()
        info.assert_called_once_with('Full Integration Log:\nfirst <XX_REPLACED>\nsecond')
        assert ilog.messages == []

    def test_global_log_and_add_sensitive_log_strs(self, mocker):
        """
        Given: a token learnt at run time.
        When: registering it through add_sensitive_log_strs.
        Then: LOG and mask_secrets mask it.
        """
        CommonServerPython.add_sensitive_log_strs('eyJ0eXAiOiJKV1Qi.token')
        assert LOG('Bearer eyJ0eXAiOiJKV1Qi.token') == 'Bearer <XX_REPLACED>'
        assert CommonServerPython.mask_secrets({'t': 'eyJ0eXAiOiJKV1Qi.token'}) == "{'t': '<XX_REPLACED>'}"

    def test_debug_logging_and_unbuffered(self, mocker):
        """
        Given: a debug-mode logger and an unbuffered one.
        When: logging.
        Then: debug mode also sends to demisto.debug; unbuffered goes straight to demisto.info.
        """
        mocker.patch.object(demisto, 'params', return_value={'token': 'abc123'})
        debug = mocker.patch.object(demisto, 'debug')
        info = mocker.patch.object(demisto, 'info')
        IntegrationLogger(debug_logging=True)('x abc123')
        debug.assert_called_once_with('x <XX_REPLACED>')
        unbuffered = IntegrationLogger()
        unbuffered.set_buffering(False)
        unbuffered('y abc123')
        info.assert_called_once_with('y <XX_REPLACED>')

    def test_logger_decorator(self, mocker):
        """
        Given: a function decorated with @logger.
        When: calling it.
        Then: the call is recorded in LOG and the result returned.
        """
        @CommonServerPython.logger
        def add(a, b=0):
            return a + b
        assert add(1, b=2) == 3
        assert LOG.messages[-1] == "calling add(1,'b'=2)"


# ================================================================================================ misc runtime
def test_register_module_line_and_line(mocker):
    """
    Given: module boundaries registered by unified code.
    When: registering valid and invalid lines.
    Then: valid ones are stored with wrappers; invalid ones are ignored; __line__ is the caller's line.
    """
    mapping = mocker.patch.dict(CommonServerPython._MODULES_LINE_MAPPING, clear=False)
    CommonServerPython.register_module_line('Sanity', 'start', 5, wrapper=-3)
    CommonServerPython.register_module_line('Sanity', 'end', 50, wrapper=1)
    CommonServerPython.register_module_line('Cactus', 'statr', 5)
    CommonServerPython.register_module_line('Cactus', 'start', '5')
    assert mapping['Sanity'] == {'start': 5, 'start_wrapper': 2, 'end': 50, 'end_wrapper': 51}
    assert 'Cactus' not in mapping
    assert CommonServerPython.__line__() == sys._getframe().f_lineno


def test_fix_traceback_line_numbers(mocker):
    """
    Given: a unified script with an inlined API module.
    When: fixing a traceback.
    Then: each frame names its module and the line inside it.
    """
    mocker.patch.object(CommonServerPython, '_MODULES_LINE_MAPPING', {
        'CommonServerPython': {'start': 200, 'end': 865, 'end_wrapper': 900},
        'TestTracebackLines': {'start': 901, 'end': float('inf'), 'start_wrapper': 901},
        'TestingApiModule': {'start': 1004, 'end': 1032, 'start_wrapper': 1001, 'end_wrapper': 1033},
    })
    trace = ('  File "<string>", line 1043, in <module>\n  File "<string>", line 600, in func_wrapper\n'
             '  File "<string>", line 1031, in api_call\n  File "<string>", line 927, in call_func')
    assert CommonServerPython.fix_traceback_line_numbers(trace) == (
        '  File "<TestTracebackLines>", line 110, in <module>\n  File "<CommonServerPython>", line 400, in func_wrapper\n'
        '  File "<TestingApiModule>", line 27, in api_call\n  File "<TestTracebackLines>", line 26, in call_func')


def test_handle_proxy(mocker, monkeypatch):
    """
    Given: the proxy and insecure checkboxes.
    When: handling the proxy.
    Then: proxies with an http:// prefix, or the variables removed; insecure removes the CA bundle.
    """
    monkeypatch.setenv('HTTP_PROXY', 'testproxy:8899')
    monkeypatch.setenv('HTTPS_PROXY', 'https://testproxy:8899')
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', '/test1.pem')
    mocker.patch.object(demisto, 'params', return_value={'proxy': True})
    assert handle_proxy() == {'http': 'http://testproxy:8899', 'https': 'https://testproxy:8899'}
    assert os.environ['REQUESTS_CA_BUNDLE'] == '/test1.pem'
    mocker.patch.object(demisto, 'params', return_value={'unsecure': True})
    assert handle_proxy() == {}
    assert 'HTTP_PROXY' not in os.environ and 'REQUESTS_CA_BUNDLE' not in os.environ


def test_x_content_info_headers(mocker):
    """
    Given: an integration calling context.
    When: building the X-Content headers.
    Then: the brand, license and server version are reported.
    """
    mocker.patch.object(demisto, 'getLicenseID', return_value='LICENSE')
    mocker.patch.object(demisto, 'callingContext', {'context': {'IntegrationBrand': 'Brand', 'IntegrationInstance': 'i'}})
    headers = get_x_content_info_headers()
    assert headers['X-Content-LicenseID'] == 'LICENSE' and headers['X-Content-Name'] == 'Brand'
    assert headers['X-Content-Server-Version'] == '5.5.0-12345'
    assert set(headers) == {'X-Content-Version', 'X-Content-Name', 'X-Content-LicenseID', 'X-Content-Branch',
                            'X-Content-Server-Version'}


def test_mirroring_args():
    """
    Given: the mirroring commands' arguments.
    When: parsing them.
    Then: the attributes integrations read.
    """
    remote = GetRemoteDataArgs({'id': '12', 'lastUpdate': '2024-01-01T00:00:00Z'})
    assert (remote.remote_incident_id, remote.last_update) == ('12', '2024-01-01T00:00:00Z')
    assert GetModifiedRemoteDataArgs({'lastUpdate': 'x'}).last_update == 'x'
    update = UpdateRemoteSystemArgs({'data': {'a': 1}, 'entries': [], 'incidentChanged': True, 'remoteId': '7',
                                     'status': 2, 'delta': {'a': 1}})
    assert (update.data, update.incident_changed, update.remote_incident_id, update.inc_status, update.delta) == (
        {'a': 1}, True, '7', 2, {'a': 1})


def test_star_import_surface():
    """
    Given: an integration's star import.
    When: importing.
    Then: the standard-library and third-party names integrations rely on are available.
    """
    namespace: dict = {}
    exec('from CommonServerPython import *', namespace)  # noqa: S102 - the import integrations perform
    for name in ('json', 'os', 're', 'sys', 'time', 'base64', 'datetime', 'timedelta', 'timezone', 'requests', 'Optional',
                 'Dict', 'List', 'Any', 'Union', 'Set', 'cast', 'dateparser', 'ET', 'traceback', 'logging',
                 'demisto', 'LOG', 'register_module_line', 'BaseClient', 'CommandResults'):
        assert name in namespace, name
    assert namespace['timedelta'] is timedelta
    # Names the platform library does not export: code must not come to depend on them through us.
    for name in ('UTC', 'uuid', 'urllib3', 'Tuple', 'random', 'TYPE_CHECKING'):
        assert name not in namespace, name
    # Like any underscore name, __line__ is not star-imported; unified code gets it because CSP is prepended.
    assert callable(CommonServerPython.__line__)


def test_calling_context_params_without_nulls():
    """
    Given: the import-time setup.
    When: reading params through the calling context's SmartGetDict.
    Then: get() returns the default for None values.
    """
    smart = CommonServerPython.SmartGetDict({'a': None, 'b': 1})
    assert smart.get('a', 'default') == 'default' and smart.get('b') == 1


@freeze_time('2022-11-03 13:40:00')
def test_parse_date_range(mocker):
    """
    Given: valid and invalid date ranges.
    When: parsing them.
    Then: (start, end) for valid ones; an error entry for invalid ones.
    """
    start, end = CommonServerPython.parse_date_range('2 Days ', utc=True)
    assert (start, end) == (datetime(2022, 11, 1, 13, 40), datetime(2022, 11, 3, 13, 40))
    assert CommonServerPython.parse_date_range('3 hours', date_format='%H:%M') == ('10:40', '13:40')
    mocker.patch.object(demisto, 'command', return_value='test-command')
    results = mocker.patch.object(demisto, 'results')
    for bad, message in (('2 Days ago', 'date_range must be "number date_range_unit"'),
                         ('ten days', 'The time value is invalid'), ('2 nights', 'The unit of date_range is invalid')):
        with pytest.raises(SystemExit):
            CommonServerPython.parse_date_range(bad)
        assert message in results.call_args.args[0]['Contents']


def test_execute_command_and_errors(mocker):
    """
    Given: executeCommand results with and without error entries.
    When: running commands through execute_command.
    Then: contents are extracted, errors raise or are returned with fail_on_error=False.
    """
    mocker.patch.object(demisto, 'executeCommand', return_value=[{'Type': 1, 'Contents': {'hello': 'world'}}])
    assert CommonServerPython.execute_command('cmd', {}) == {'hello': 'world'}
    errors = [{'Type': 4, 'Contents': 'error number 1'}, {'Type': 1, 'Contents': 'ok'}, {'Type': 4, 'Contents': 'e2'}]
    mocker.patch.object(demisto, 'executeCommand', return_value=errors)
    assert CommonServerPython.is_error(errors) and not CommonServerPython.is_error(None)
    assert CommonServerPython.get_error(errors) == 'error number 1\ne2'
    with pytest.raises(DemistoException, match='Failed to execute bad. Error details:\nerror number 1'):
        CommonServerPython.execute_command('bad', {})
    assert CommonServerPython.execute_command('bad', {}, fail_on_error=False) == (False, 'error number 1\ne2')
