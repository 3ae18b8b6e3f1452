"""The mapping engine of xsoar-local: selectors, transformers, filters, classification, incoming and outgoing
mapping, with the packs' own mappers where it matters."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from xsoar_local.content import ContentError, IncomingSetup, PackContent, incoming_setup, load_pack, outgoing_mapper
from xsoar_local.integrations import find_integration
from xsoar_local.mapping import MappingError, evaluate, get_path, map_incoming, outgoing_delta

M365D = find_integration('Microsoft365Defender')
RAW = {
    'incidentId': 7, 'incidentName': 'Multi-stage incident', 'status': 'Active', 'classification': 'TruePositive',
    'determination': 'Malware', 'tags': ['vip'], 'Active alerts': '1 / 2', 'Categories': ['Malware', 'Malware', 'Exec'],
    'Impacted entities': ['bob', 'alice', 'bob'], 'Devices': [{'device name': 'pc1', 'risk level': 'High', 'tags': ''}],
    'alerts': [{'alertId': 'a1', 'Title': 'Mimikatz', 'category': 'Malware'}, {'alertId': 'a2', 'category': 'Exec'}],
    'Mailboxes': [], 'comments': [{'comment': 'seen', 'createdBy': 'soc', 'createdTime': '2024-01-01T00:00:00Z'}],
    'mirror_direction': 'Both', 'mirror_instance': 'm365d', 'mirror_tags': ['CommentToMicrosoft365Defender'],
}


def m365d_setup() -> IncomingSetup:
    return incoming_setup(M365D, {'incidentType': 'Microsoft 365 Defender Incident'})


@pytest.mark.parametrize('path, expected', [
    ('alerts.alertId', ['a1', 'a2']),
    ('alerts.[1].category', 'Exec'),
    ('alerts', RAW['alerts']),
    ('Active alerts', '1 / 2'),
    ('missing.key', None),
])
def test_get_path(path, expected):
    """Given server selector paths, When read, Then keys apply to each list item and misses are None."""
    assert get_path(RAW, path) == expected


def test_get_path_index_then_key():
    """Given an accessor with a list index, When read, Then the item's key is returned."""
    assert get_path(RAW['alerts'], '[1].category') == 'Exec'


def test_m365d_incoming_mapper_fills_the_official_fields():
    """Given a fetched M365D incident, When mapped through the pack's incoming mapper, Then the type, every mapped
    field (grids with table keys, the two script transformers, counts) and the mirroring fields are set."""
    incident = map_incoming({'name': 'Microsoft 365 Defender 7', 'rawJSON': json.dumps(RAW), 'severity': 2},
                            m365d_setup())
    fields = incident['CustomFields']
    assert incident['type'] == 'Microsoft 365 Defender Incident'
    assert (incident['dbotMirrorId'], incident['dbotMirrorDirection'], incident['dbotMirrorInstance']) == \
        ('7', 'Both', 'm365d')
    assert fields['microsoft365defenderid'] == 7
    assert fields['microsoft365defenderclassification'] == 'TruePositive - Malware'
    assert fields['microsoft365defendercategoriescount'] == [{'category': 'Malware', 'count': 2},
                                                             {'category': 'Exec', 'count': 1}]
    assert fields['microsoft365defenderusers'] == [{'user': 'bob'}, {'user': 'alice'}]
    assert fields['microsoft365defenderdevices'] == [{'devicename': 'pc1', 'risklevel': 'High', 'tags': ''}]
    assert fields['microsoft365defenderalerts'][0] == {'alertid': 'a1', 'title': 'Mimikatz', 'category': 'Malware'}
    assert fields['microsoft365defendercomments'][0]['createdby'] == 'soc'
    assert (fields['impacteddevices'], fields['impactedentities']) == ('1', '2')
    assert 'microsoft365defendermailboxes' not in fields          # empty values are not set, as on the server


def test_m365d_outgoing_mapper_splits_the_classification():
    """Given a mapped incident, When its classification and status change, Then the outgoing delta carries the
    remote names, classification and determination split apart, and nothing unchanged."""
    setup = m365d_setup()
    before = map_incoming({'name': 'x', 'rawJSON': json.dumps(RAW)}, setup)
    after = json.loads(json.dumps(before))
    after['CustomFields'].update(microsoft365defenderclassification='FalsePositive - NotMalicious',
                                 microsoft365defenderstatus='Resolved')
    delta = outgoing_delta(before, after, outgoing_mapper(M365D, {}), setup.content)
    assert delta == {'status': 'Resolved', 'classification': 'FalsePositive', 'determination': 'NotMalicious'}


def test_classifier_and_default_type(tmp_path: Path):
    """Given a classifier, When an incident's key is in its map, Then that type; otherwise its default type; and
    without a classifier the instance's incident type."""
    classifier = {'id': 'c', 'type': 'classification', 'defaultIncidentType': 'Fallback', 'keyTypeMap': {'mail': 'Phish'},
                  'transformer': {'simple': 'source'}}
    content = PackContent(tmp_path)
    setup = IncomingSetup(content, classifier, None, 'Instance type')
    assert map_incoming({'rawJSON': json.dumps({'source': 'mail'})}, setup)['type'] == 'Phish'
    assert map_incoming({'rawJSON': json.dumps({'source': 'edr'})}, setup)['type'] == 'Fallback'
    assert map_incoming({'rawJSON': '{}'}, IncomingSetup(content, None, None, 'Instance type'))['type'] == \
        'Instance type'
    assert map_incoming({'rawJSON': '{}'}, IncomingSetup(content, None, None, None))['type'] == 'Unclassified'


@pytest.mark.parametrize('steps, expected', [
    ([{'operator': 'replace', 'args': {'toReplace': {'value': {'simple': 'High'}},
                                       'replaceWith': {'value': {'simple': '3'}}}}], '3'),
    ([{'operator': 'RegexReplace', 'args': {'regex': {'value': {'simple': r'(\w)(\w+)'}},
                                            'output_format': {'value': {'simple': r'\2\1'}}}}], 'ighH'),
    ([{'operator': 'concat', 'args': {'prefix': {'value': {'simple': 'Sev '}},
                                      'suffix': {'isContext': True, 'value': {'simple': 'unit'}}}}], 'Sev High!'),
])
def test_builtin_transformers(steps, expected):
    """Given built-in transformers with literal and context arguments, When applied, Then the server's results."""
    rule = {'complex': {'root': 'severity', 'transformers': steps}}
    assert evaluate(rule, {'severity': 'High', 'unit': '!'}, PackContent(Path('.'))) == expected


def test_filters_keep_matching_items():
    """Given a filter on list items, When applied, Then only matching items remain."""
    rule = {'complex': {'root': 'alerts', 'accessor': '', 'filters': [[{
        'operator': 'isEqualString', 'left': {'isContext': True, 'value': {'simple': 'category'}},
        'right': {'value': {'simple': 'Exec'}}}]], 'transformers': []}}
    assert evaluate(rule, RAW, PackContent(Path('.'))) == [RAW['alerts'][1]]


@pytest.mark.parametrize('rule, message', [
    ({'complex': {'root': 'x', 'transformers': [{'operator': 'Base64Decode'}]}}, 'transformer "Base64Decode"'),
    ({'complex': {'root': 'x', 'filters': [[{'operator': 'inRange'}]]}}, 'filter "inRange"'),
])
def test_unsupported_steps_are_named(rule, message):
    """Given a transformer or filter xsoar-local does not implement, When evaluated, Then an error names it."""
    with pytest.raises(MappingError, match=message):
        evaluate(rule, {'x': 'v'}, PackContent(Path('.')))


def test_unknown_mapper_is_a_clear_error():
    """Given an instance naming a mapper the pack does not have, When set up, Then the error names it."""
    with pytest.raises(ContentError, match='"No such mapper" is not in Microsoft365Defender/Classifiers'):
        incoming_setup(M365D, {'incomingMapperId': 'No such mapper'})


def test_script_transformer_error_is_reported(tmp_path: Path):
    """Given a transformer script that fails, When mapped, Then the script's error message is raised."""
    script = tmp_path / 'Broken' / 'Broken.py'
    script.parent.mkdir()
    script.write_text('from CommonServerPython import *\n\ndef main():\n    return_error("bad value")\n')
    content = PackContent(tmp_path, scripts={'Broken': script})
    with pytest.raises(ValueError, match='Broken failed: bad value'):
        evaluate({'complex': {'root': 'x', 'transformers': [{'operator': 'Broken'}]}}, {'x': 1}, content)


def test_mde_mapper_reads_evidence():
    """Given an MDE alert with evidence, When mapped, Then the evidence fields list each piece's values."""
    mde = find_integration('MicrosoftDefenderAdvancedThreatProtection')
    alert = {'id': 'da1', 'title': 'Suspicious PowerShell', 'incidentId': 12, 'investigationId': 4,
             'detectionSource': 'EDR', 'evidence': [{'entityType': 'Process', 'processId': 42, 'url': None},
                                                    {'entityType': 'Url', 'url': 'http://x.test'}]}
    incident = map_incoming({'name': 'n', 'rawJSON': json.dumps(alert)},
                            incoming_setup(mde, {'incidentType': 'Microsoft Defender For Endpoint'}))
    fields = incident['CustomFields']
    assert incident['name'] == 'Microsoft Defender for Endpoint Alert - Suspicious PowerShell'
    assert fields['microsoftdefenderforendpointevidencetype'] == ['Process', 'Url']
    assert fields['microsoftdefenderforendpointprocessid'] == ['42']
    assert fields['microsoftdefenderforendpointurl'] == ['http://x.test']
    assert (fields['microsoftdefenderincid'], fields['microsoftdefenderdetectionmechanism']) == ('12', 'EDR')
    assert load_pack(mde.pack_dir).incident_types['Microsoft Defender For Endpoint']
