"""Drop-in content: every object the official packs ship for incident types, fields, mappers, layouts, layout rules
and scripts exists in ours under the same ID or name.

Our packs keep the official pack IDs, so uploading ours over the official pack replaces it: an object the official
ships and we do not would vanish from the customer's server, with the incidents, playbooks and layouts that use it.
`Tests/compat/official/content/objects.json` records the official IDs, names, cliNames and field types (and the
commits they were read from). A field's ID is the official one even where it breaks the content rule
``incident_<cliName>`` (demisto-sdk's BA116, ignored for those files in the pack's .pack-ignore): a server matches an
uploaded field to the installed one by ID, so another ID would clash on the cliName.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL = json.loads((Path(__file__).resolve().parent / 'official' / 'content' / 'objects.json').read_text())
PACKS = sorted(OFFICIAL['packs'])
# Fields of the Common Types pack (a dependency of every server) that the official mappers fill and ours too.
COMMON_TYPES_FIELDS = {'Alert Category', 'Alert ID', 'Alert Name', 'Assigned User', 'Categories', 'Classification',
                       'Cloud Instance ID', 'Comment', 'Description', 'Device Id', 'Event Type', 'Hostnames',
                       'Incident Link', 'Investigation Stage', 'Last Update Time', 'Start Time', 'State', 'Technique',
                       'Threat Family Name', 'Threat Name', 'category'}


@cache
def ours(pack: str, folder: str) -> list[dict]:
    """Every JSON object of one content folder of our pack."""
    return [json.loads(path.read_text()) for path in sorted((ROOT / 'Packs' / pack / folder).glob('*.json'))]


@cache
def our_scripts(pack: str) -> dict[str, dict]:
    return {data['name']: data for data in (yaml.safe_load(path.read_text())
                                            for path in (ROOT / 'Packs' / pack / 'Scripts').glob('*/*.yml'))}


def integration_yaml(pack: str) -> dict:
    [path] = [p for p in (ROOT / 'Packs' / pack / 'Integrations').glob('*/*.yml')]
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize('pack', PACKS)
def test_incident_types(pack):
    """Given the official incident types, Then ours has each, by ID and name."""
    names = {(t['id'], t['name']) for t in ours(pack, 'IncidentTypes')}
    assert {(n, n) for n in OFFICIAL['packs'][pack]['incident_types']} <= names


@pytest.mark.parametrize('pack, folder, key', [(p, f, k) for p in PACKS for f, k in
                                               (('IncidentFields', 'incident_fields'),
                                                ('IndicatorFields', 'indicator_fields'))])
def test_fields(pack, folder, key):
    """Given the official incident and indicator fields, Then ours has each with the same name, cliName and type, and
    the same ID unless an exception says why not."""
    mine = {f['cliName']: f for f in ours(pack, folder)}
    for official in OFFICIAL['packs'][pack][key]:
        field = mine.get(official['cliName'])
        assert field, f'{pack}: the official field {official["name"]!r} ({official["cliName"]}) is missing'
        assert (field['name'], field['type']) == (official['name'], official['type']), official['cliName']
        assert field['id'] == official['id'], (official['id'], field['id'])


@pytest.mark.parametrize('pack', PACKS)
def test_mappers(pack):
    """Given the official mappers, Then ours has each by ID and direction; an outgoing mapper sends the same keys."""
    mine = {m['id']: m for m in ours(pack, 'Classifiers')}
    for official in OFFICIAL['packs'][pack]['mappers']:
        mapper = mine.get(official['id'])
        assert mapper and mapper['name'] == official['id'] and mapper['type'] == official['type'], official['id']
        if 'keys' in official:
            keys = mapper['mapping']['dbot_classification_incident_type_all']['internalMapping']
            assert sorted(keys) == official['keys']


@pytest.mark.parametrize('pack', PACKS)
def test_layouts_and_rules(pack):
    """Given the official layouts and layout rules, Then ours has each by ID, and each rule points at its layout."""
    layouts = {layout['id'] for layout in ours(pack, 'Layouts')}
    assert set(OFFICIAL['packs'][pack]['layouts']) <= layouts
    rules = {(r['rule_id'], r['layout_id']) for r in ours(pack, 'LayoutRules')}
    assert {(r['rule_id'], r['layout_id']) for r in OFFICIAL['packs'][pack]['layout_rules']} <= rules


@pytest.mark.parametrize('pack', PACKS)
def test_scripts(pack):
    """Given the official scripts, Then ours has each by name, accepting every official argument."""
    mine = our_scripts(pack)
    for official in OFFICIAL['packs'][pack]['scripts']:
        script = mine.get(official['name'])
        assert script, f'{pack}: the official script {official["name"]} is missing'
        assert set(official['args']) <= {a['name'] for a in script.get('args') or []}, official['name']


@pytest.mark.parametrize('pack', PACKS)
def test_integration_names_its_mappers(pack):
    """Given the official integration's default mappers, Then our integration YAML names the same ones, and every
    object our YAML or mapper names exists in the pack."""
    official = OFFICIAL['packs'][pack]['integration']
    data = integration_yaml(pack)
    assert data['commonfields']['id'] == official['id']
    mappers = {m['id'] for m in ours(pack, 'Classifiers')}
    for key in ('defaultmapperin', 'defaultmapperout'):
        assert data.get(key) == official.get(key)
        assert data.get(key) is None or data[key] in mappers


@pytest.mark.parametrize('pack', PACKS)
def test_references_resolve(pack):
    """Given our mappers, types and layouts, Then every incident type, field and script they name is in the pack (or
    is a system field or one of the Common Types pack's fields the official mappers also fill), so nothing arrives on
    a server pointing at an object that is not there."""
    types = {t['name'] for t in ours(pack, 'IncidentTypes')}
    fields = {f['name'] for f in ours(pack, 'IncidentFields')}
    scripts = set(our_scripts(pack))
    system = COMMON_TYPES_FIELDS | {'name', 'severity', 'dbotMirrorId', 'dbotMirrorDirection', 'dbotMirrorInstance',
                                    'dbotMirrorTags'}
    for mapper in ours(pack, 'Classifiers'):
        if mapper['type'] != 'mapping-incoming':
            continue
        for type_name, mapping in mapper['mapping'].items():
            assert type_name in types | {'dbot_classification_incident_type_all'}
            for field, rule in mapping['internalMapping'].items():
                assert field in fields | system, f'{mapper["id"]}: unknown field {field!r}'
                for step in (rule.get('complex') or {}).get('transformers') or []:
                    assert step['operator'][0].islower() or step['operator'] in scripts | {
                        'ConvertKeysToTableFieldFormat', 'RegexReplace'}, step['operator']
    layouts = {layout['id'] for layout in ours(pack, 'Layouts')}
    assert all(t.get('layout') in layouts for t in ours(pack, 'IncidentTypes'))
