"""Writing an integration's test playbook from its ``command_examples``: one task per example, in file order.

    python -m xsoar_local.playbooks.testgen [--check]

The test playbooks, their integration, ID, description and extra lines are listed in ``test_playbooks.yml``.

Each line becomes: clear the command's context prefix, run the command (``polling=false`` in an example becomes
``polling=true``, so response actions are followed to their end; extra lines run as written), then a condition that
the prefix is in the context again and, for a response action followed by polling, that its status is Succeeded
(``#default#`` leads to one error task, so the playbook fails). ``extra`` adds command lines after the examples (or
instead of them, with ``examples: false``), e.g. commands another authentication flow needs; ``skip`` leaves examples
out. Commands with no outputs, and those listed under ``unchecked`` (their example legitimately writes nothing), run
without the check. The playbook starts by clearing the whole context and ends with a ``Done`` title.
"""
from __future__ import annotations

import argparse
import uuid
from pathlib import Path
from typing import Any

import yaml

from ..commandline import parse_lines, read_examples
from ..integrations import Integration, find_integration, repo_root

NAMESPACE = uuid.UUID('0f6c1c7e-6a0b-4d0e-9d55-1b8f9f1c2a10')
STANDARD_PREFIXES = ('DBotScore', 'Endpoint', 'File', 'Domain', 'IP', 'URL', 'Account', 'InfoFile')


def _task_id(playbook_id: str, task: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f'{playbook_id}/{task}'))


def check_prefix(integration: Integration, command: str) -> str | None:
    """The context prefix the command writes (its outputs' first two levels), preferring the integration's own over
    the standard indicator paths; None when it declares no outputs."""
    spec = integration.command(command)
    paths = [o.path for o in spec.outputs] if spec else []
    own = [p for p in paths if p.split('.')[0] not in STANDARD_PREFIXES] or paths
    if not own:
        return None
    return '.'.join(own[0].split('.')[:2])


def action_status(integration: Integration, command: str, args: dict[str, str], prefix: str) -> str | None:
    """The status path (``<prefix>.Status``) of a command with a ``polling`` argument run with polling: a response
    action followed to its end, which must have Succeeded. None for other commands."""
    spec = integration.command(command)
    if spec is None or spec.argument('polling') is None or str(args.get('polling', 'true')).lower() != 'true':
        return None
    return next((o.path for o in spec.outputs if o.path.lower() == f'{prefix}.status'.lower()), None)


def _arg(value: Any) -> dict:
    return {'simple': str(value)}


class Builder:
    def __init__(self, playbook_id: str) -> None:
        self.playbook_id = playbook_id
        self.tasks: dict[str, dict] = {}
        self.y = 50

    def add(self, kind: str, name: str, body: dict | None = None, **extra: Any) -> str:
        task_id = str(len(self.tasks))
        uid = _task_id(self.playbook_id, task_id)
        task_body = {'id': uid, 'version': -1, 'name': name, 'iscommand': False, 'brand': '', **(body or {})}
        if kind != 'start':
            task_body['type'] = kind
        self.tasks[task_id] = {
            'id': task_id, 'taskid': uid, 'type': kind, 'task': task_body, 'nexttasks': {},
            'separatecontext': False, 'continueonerrortype': '',
            'view': f'{{\n  "position": {{\n    "x": 450,\n    "y": {self.y}\n  }}\n}}',
            'note': False, 'timertriggers': [], 'ignoreworker': False, 'skipunavailable': False, 'quietmode': 0,
            'isoversize': False, 'isautoswitchedtoquietmode': False, **extra,
        }
        self.y += 175
        return task_id

    def link(self, source: str, target: str, label: str = '#none#') -> None:
        self.tasks[source]['nexttasks'].setdefault(label, []).append(target)


def build(integration: Integration, lines: list[tuple[str, dict[str, str]]], playbook_id: str, name: str,
          description: str, unchecked: frozenset[str] = frozenset()) -> dict:
    brand = integration.manifest.get('commonfields', {}).get('id') or integration.name
    b = Builder(playbook_id)
    previous = b.add('start', '', {'description': ''})
    clear = b.add('regular', 'Clear the context', {'description': 'Starts from an empty context.',
                                                   'scriptName': 'DeleteContext', 'type': 'regular'},
                  scriptarguments={'all': _arg('yes')})
    b.link(previous, clear)
    previous = clear
    failure = None
    checks: list[tuple[str, str]] = []
    for command, args in lines:
        prefix = None if command in unchecked else check_prefix(integration, command)
        if prefix:
            reset = b.add('regular', f'Clear {prefix}', {'description': f'So the check after {command} sees only '
                                                         'what it wrote.', 'scriptName': 'DeleteContext',
                                                         'type': 'regular'},
                          scriptarguments={'key': _arg(prefix)})
            b.link(previous, reset)
            previous = reset
        run_args = args
        task = b.add('regular', command, {'description': f'Runs {command}.', 'script': f'{brand}|||{command}',
                                          'type': 'regular', 'iscommand': True, 'brand': brand},
                     scriptarguments={k: _arg(v) for k, v in run_args.items()} if run_args else {})
        if not run_args:
            del b.tasks[task]['scriptarguments']
        b.link(previous, task)
        previous = task
        if prefix:
            exists = {'operator': 'isExists', 'left': {'value': {'simple': prefix}, 'iscontext': True}}
            groups: list[list[dict[str, Any]]] = [[exists]]
            status = action_status(integration, command, run_args, prefix)
            if status:
                groups.append([{'operator': 'isEqualString', 'left': {'value': {'simple': status}, 'iscontext': True},
                                'right': {'value': {'simple': 'Succeeded'}}, 'ignorecase': True}])
            question = f'Did {command} succeed?' if status else f'Did {command} write {prefix}?'
            check = b.add('condition', question, {'description': f'Checks {status or prefix}.', 'type': 'condition'},
                          conditions=[{'label': 'yes', 'condition': groups}])
            b.link(previous, check)
            checks.append((check, prefix))
            previous = check
    done = b.add('title', 'Done', {'type': 'title', 'description': ''})
    if checks:
        failure = b.add('regular', 'A command wrote nothing', {
            'description': 'Fails the test: the command before the failed check wrote no context.',
            'scriptName': 'PrintErrorEntry', 'type': 'regular'},
            scriptarguments={'message': _arg('A command did not write the context it declares; see the check that '
                                             'took the #default# branch.')})
    for check, _ in checks:
        b.tasks[check]['nexttasks'].setdefault('#default#', []).append(failure)
    last_label = 'yes' if checks and previous == checks[-1][0] else '#none#'
    b.link(previous, done, last_label)
    # Condition tasks continue on "yes" to the next task.
    for check, _ in checks:
        nexts = b.tasks[check]['nexttasks']
        if '#none#' in nexts:
            nexts['yes'] = nexts.pop('#none#')
    return {
        'id': playbook_id, 'version': -1, 'name': name, 'description': description,
        'starttaskid': '0', 'tasks': b.tasks,
        'view': '{\n  "linkLabelsPosition": {},\n  "paper": {\n    "dimensions": {\n      "height": '
                f'{b.y + 200},\n      "width": 380,\n      "x": 450,\n      "y": 50\n    }}\n  }}\n}}',
        'inputs': [], 'outputs': [], 'fromversion': '6.10.0',
    }


SPEC = Path(__file__).with_name('test_playbooks.yml')


def load_spec() -> list[dict]:
    return yaml.safe_load(SPEC.read_text(encoding='utf-8'))


def render(entry: dict) -> str:
    """The YAML text of one test playbook of the spec."""
    integration = find_integration(entry['integration'])
    skipped = set(entry.get('skip') or [])
    lines = [(c, _polled(a)) for c, a in read_examples(integration.directory) if c not in skipped] \
        if entry.get('examples', True) else []
    lines += parse_lines(entry.get('extra') or [])
    playbook = build(integration, lines, entry['id'], entry.get('name') or entry['id'], entry['description'],
                     frozenset(entry.get('unchecked') or []))
    return yaml.safe_dump(playbook, sort_keys=False, allow_unicode=True, width=120)


def _polled(args: dict[str, str]) -> dict[str, str]:
    """An example's arguments with ``polling=false`` (how the docs show a response action) turned into
    ``polling=true``: a test playbook follows the action to its end."""
    return {k: ('true' if k == 'polling' and v == 'false' else v) for k, v in args.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--check', action='store_true', help='fail when a test playbook differs from its spec')
    ns = parser.parse_args(argv)
    root = repo_root()
    stale = []
    for entry in load_spec():
        path, text = root / entry['file'], render(entry)
        if ns.check:
            if not path.exists() or path.read_text(encoding='utf-8') != text:
                stale.append(entry['file'])
        else:
            path.write_text(text, encoding='utf-8')
    for name in stale:
        print(f'out of date: {name} (run python -m xsoar_local.playbooks.testgen)')  # noqa: T201 - a CLI
    return 1 if stale else 0


if __name__ == '__main__':
    raise SystemExit(main())
