"""Drop-in playbooks: customers call the official playbooks as sub-playbooks by name, with their inputs, and read
their outputs. Our packs ship a playbook under the same ID and name for each official one with the same job;
`Tests/compat/official/content/playbooks.json` records the official IDs, names, input keys (with their defaults)
and output paths, and the file and commit each was read from. An official playbook we do not ship is listed there
under ``not_shipped`` with the reason.

The rest checks our playbooks hang together: every command they call exists in the pack's integration with the
arguments given, every script is one the runtime provides, every sub-playbook is in a pack, every task is reachable,
and every README was generated from the current YAML (its inputs and outputs) and links its diagram.
"""
from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
import yaml

from xsoar_local.playbooks.diagram import image_path

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL = json.loads((Path(__file__).resolve().parent / 'official' / 'content' / 'playbooks.json').read_text())
PACKS = sorted(OFFICIAL['packs'])
# Scripts every XSOAR server has (Builtin content, and StringSimilarity of the Common Scripts pack, which the
# official "MDE - Search and Compare Process Executions" also runs), and the built-in commands our playbooks run.
SCRIPTS = {'Set', 'SetAndHandleEmpty', 'DeleteContext', 'Print', 'StringSimilarity'}
BUILTIN_COMMANDS = {'setIncident', 'closeInvestigation'}


@cache
def playbooks(pack: str) -> dict[str, dict]:
    """Our playbooks of one pack by ID, each with the path it was read from."""
    found = {}
    for path in sorted((ROOT / 'Packs' / pack / 'Playbooks').glob('*.yml')):
        data = yaml.safe_load(path.read_text())
        found[data['id']] = dict(data, _path=path)
    return found


def all_playbooks() -> dict[str, dict]:
    return {pid: pb for pack in PACKS for pid, pb in playbooks(pack).items()}


@cache
def integrations() -> dict[str, dict[str, set[str]]]:
    """Every integration of the packs by brand (its ID): command name -> argument names."""
    found = {}
    for path in ROOT.glob('Packs/*/Integrations/*/*.yml'):
        data = yaml.safe_load(path.read_text())
        found[data['commonfields']['id']] = {c['name']: {a['name'] for a in c.get('arguments') or []}
                                             for c in data['script']['commands']}
    return found


def cases(kind: str) -> list:
    return [pytest.param(pack, official, id=official['id']) for pack in PACKS
            for official in OFFICIAL['packs'][pack][kind]]


def test_every_pack_ships_playbooks():
    """Given the three packs, Then each ships at least one playbook."""
    assert all(playbooks(pack) for pack in PACKS)


@pytest.mark.parametrize('pack, official', cases('playbooks'))
def test_official_playbook_shipped_with_its_interface(pack, official):
    """Given an official playbook, Then ours has its ID and name, accepts every official input with the same default
    (a caller that leaves an input out gets the same behaviour), and declares every official output."""
    ours = playbooks(pack).get(official['id'])
    assert ours, f'{pack}: the official playbook {official["id"]!r} is missing'
    assert ours['name'] == official['name']
    values = {i['key']: i.get('value') or {} for i in ours.get('inputs') or []}
    for expected in official['inputs']:
        assert expected['key'] in values, f'{official["id"]}: input {expected["key"]!r} missing'
        value = values[expected['key']]
        assert value.get('simple') == expected.get('default'), (official['id'], expected['key'])
        assert complex_default(value) == expected.get('default_complex'), (official['id'], expected['key'])
    outputs = {o['contextPath'] for o in ours.get('outputs') or []}
    assert set(official['outputs']) <= outputs, sorted(set(official['outputs']) - outputs)


def complex_default(value: dict) -> dict | None:
    """An input's default read from the incident or context (``incident`` → ``agentsid`` → ``uniq``), as the data
    records it: root, accessor and the transformers' operators."""
    spec = value.get('complex')
    if not spec:
        return None
    found = {'root': spec.get('root'), 'accessor': spec.get('accessor'),
             'transformers': [t['operator'] for t in spec.get('transformers') or []]}
    return {k: v for k, v in found.items() if v}


@pytest.mark.parametrize('pack', PACKS)
def test_official_playbooks_not_shipped_say_why(pack):
    """Given an official playbook we do not ship, Then the data says why, and it really is absent (no half-match)."""
    ours = {pb['name'].strip() for pb in playbooks(pack).values()}
    for name, entry in OFFICIAL['packs'][pack]['not_shipped'].items():
        assert entry['reason'] and entry['path']
        assert name not in ours or name.strip() in {o['name'] for o in OFFICIAL['packs'][pack]['playbooks']}


def tasks(pb: dict) -> list[tuple[str, dict]]:
    return list((pb.get('tasks') or {}).items())


@pytest.mark.parametrize('pid', sorted(all_playbooks()))
def test_commands_exist_with_their_arguments(pid):
    """Given a task that runs a command, Then the command is in the integration the task names (or is a built-in),
    and every argument the task passes is one the command declares."""
    for tid, task in tasks(all_playbooks()[pid]):
        script = task['task'].get('script')
        if not script:
            continue
        brand, command = script.split('|||')
        if command in BUILTIN_COMMANDS:
            assert brand in ('', 'Builtin'), (pid, tid, command)
            continue
        assert brand in integrations(), (pid, tid, brand)
        assert command in integrations()[brand], (pid, tid, command)
        unknown = set(task.get('scriptarguments') or {}) - integrations()[brand][command]
        assert not unknown, (pid, tid, command, unknown)


@pytest.mark.parametrize('pid', sorted(all_playbooks()))
def test_scripts_and_sub_playbooks_resolve(pid):
    """Given a task that runs a script or a sub-playbook, Then the script is a built-in one and the sub-playbook is
    one of our playbooks, called with inputs it declares."""
    everything = all_playbooks()
    for tid, task in tasks(everything[pid]):
        if task['task'].get('scriptName'):
            assert task['task']['scriptName'] in SCRIPTS, (pid, tid)
        if task['type'] == 'playbook':
            name = task['task']['playbookName']
            assert name in everything, (pid, tid, name)
            declared = {i['key'] for i in everything[name].get('inputs') or []}
            assert set(task.get('scriptarguments') or {}) <= declared, (pid, tid)


@pytest.mark.parametrize('pid', sorted(all_playbooks()))
def test_task_graph_is_whole(pid):
    """Given a playbook, Then every next task exists, every task is reachable from the start, and every condition
    branch names a label the condition can give."""
    pb = all_playbooks()[pid]
    graph = pb['tasks']
    seen, todo = set(), [pb['starttaskid']]
    while todo:
        tid = todo.pop()
        if tid in seen:
            continue
        seen.add(tid)
        task = graph[tid]
        for label, targets in (task.get('nexttasks') or {}).items():
            assert all(t in graph for t in targets), (pid, tid, targets)
            if task['type'] == 'condition' and label != '#default#':
                assert label in {c['label'] for c in task.get('conditions') or []}, (pid, tid, label)
            todo.extend(targets)
    assert seen == set(graph), sorted(set(graph) - seen)


@pytest.mark.parametrize('pid', sorted(all_playbooks()))
def test_readme_generated_from_the_yaml(pid):
    """Given a playbook, Then its README (demisto-sdk generate-docs, `make playbook-docs`) starts with its
    description, lists its inputs and outputs, ends with the playbook's own diagram (the doc_files image, which exists
    and is a PNG), shows no other image, and neither it nor the description names a test host; the description (what
    the server shows) has no image at all."""
    pb = all_playbooks()[pid]
    path = pb['_path']
    readme = path.with_name(path.stem + '_README.md').read_text()
    assert readme.startswith(pb['description'].strip())
    for item in pb.get('inputs') or []:
        assert f'| {item["key"]} |' in readme, item['key']
    for item in pb.get('outputs') or []:
        assert f'| {item["contextPath"]} |' in readme, item['contextPath']
    image = image_path(path)
    link = f'![{pb["name"]}](../doc_files/{image.name})'
    assert readme.rstrip().endswith(link)
    assert image.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert not re.search(r'!\[|<img', readme.rstrip().removesuffix(link), re.IGNORECASE)
    assert not re.search(r'!\[|<img|Playbook Image', pb['description'], re.IGNORECASE)
    for text in (readme, pb['description']):
        assert not re.search(r'127\.0\.0\.1|localhost|emulator', text, re.IGNORECASE)
