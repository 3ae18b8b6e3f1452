"""``xsoar-local playbook run|list``: run a playbook YAML against the integrations (and the emulator) locally.

    xsoar-local playbook run <playbook> [--incident FILE] [--input name=value ...] [--instance Integration=FILE ...]
                                        [--json] [--source] [--timeout S] [--time-scale X] [--debug]
    xsoar-local playbook list
    xsoar-local playbook image [<playbook> ...] [--output FILE]

``image`` draws a playbook as a PNG flow diagram (``playbooks/diagram.py``): with no playbook, every pack playbook's
image in its pack's ``doc_files/`` (the file the playbook README links); with ``--output``, one playbook's image there.

``<playbook>`` is a YAML path, or the ID or name of a playbook in a pack's Playbooks/ or TestPlaybooks/. Each task is
printed as it ends (time, state, task, duration); polling rounds print as "waiting". Exit status 0 when the playbook
completed, 1 when a task failed, 3 when the playbook uses a construct xsoar-local does not support, 64 bad usage.
"""
from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.markup import escape

from .playbooks import PlaybookError, PlaybookLibrary, Session, TaskRecord, run_playbook
from .playbooks.diagram import image_path, write_image
from .runner import RunOptions

EXIT_FAILED = 1
EXIT_UNSUPPORTED = 3
STYLES = {'completed': 'green', 'error': 'red', 'error-continued': 'yellow', 'skipped': 'dim', 'waiting': 'cyan',
          'running': 'blue'}


def _input_value(text: str) -> Any:
    """``--input`` values are text; a JSON list or object is passed as that list or object."""
    if text[:1] in '[{':
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def _pairs(pairs: list[str], what: str) -> dict[str, str]:
    found = {}
    for pair in pairs:
        name, sep, value = pair.partition('=')
        if not sep or not name:
            raise ValueError(f'{what} are written name=value; got "{pair}".')
        found[name] = value
    return found


def read_incident(path: str | None) -> dict:
    """The incident the playbook runs on (JSON or YAML): its fields, custom fields under CustomFields."""
    incident: dict = {'id': '1', 'name': 'xsoar-local playbook run', 'CustomFields': {}}
    if path:
        loaded = yaml.safe_load(Path(path).read_text(encoding='utf-8'))
        if not isinstance(loaded, dict):
            raise ValueError(f'The incident file {path} must hold one incident object.')
        incident.update(loaded)
        incident.setdefault('CustomFields', {})
    return incident


def print_record(console: Console, record: TaskRecord) -> None:
    if record.state == 'running' and record.kind != 'playbook':
        return
    style = STYLES.get(record.state, 'white')
    indent = '  ' * record.depth
    state = 'started' if record.state == 'running' else record.state
    took = '' if record.state in ('running', 'waiting') else f'  {record.duration_s:.2f} s'
    detail = f'  {escape(record.detail)}' if record.detail else ''
    at = datetime.now(UTC).strftime('%H:%M:%S') if record.state == 'waiting' else record.started
    console.print(f'{at}  {indent}[{style}]{state:<15}[/{style}] #{record.task_id} {escape(record.name)} '
                  f'({record.kind}){took}{detail}', highlight=False, soft_wrap=True)


def cmd_image(ns: argparse.Namespace, library: PlaybookLibrary, console: Console) -> int:
    """Write playbook diagrams: the named playbooks, or every playbook in a pack's ``Playbooks/`` folder."""
    if ns.output and len(ns.playbooks) != 1:
        console.print('[red]xsoar-local: --output takes exactly one playbook.[/red]')
        return 64
    chosen = [library.resolve(ref) for ref in ns.playbooks] or \
        [p for p in library.all() if p.path.parent.name == 'Playbooks' and p.path.parent.parent.parent.name == 'Packs']
    for playbook in chosen:
        target = Path(ns.output) if ns.output else image_path(playbook.path)
        write_image(playbook.data, target)
        console.print(f'{escape(playbook.name)} -> {target}', highlight=False, soft_wrap=True)
    return 0


def cmd_playbook(ns: argparse.Namespace, console: Console) -> int:
    library = PlaybookLibrary()
    if ns.playbook_action == 'list':
        for playbook in library.all():
            console.print(f'{escape(playbook.id)}  [dim]{playbook.path}[/dim]', highlight=False, soft_wrap=True)
        return 0
    if ns.playbook_action == 'image':
        return cmd_image(ns, library, console)
    if ns.time_scale is not None:
        os.environ['XSOAR_LOCAL_TIME_SCALE'] = str(ns.time_scale)
    playbook = library.resolve(ns.playbook)
    inputs = {name: _input_value(value) for name, value in _pairs(ns.input, 'Inputs').items()}
    session = Session(options=RunOptions(source=ns.source, timeout_s=ns.timeout, debug=ns.debug),
                      incident=read_incident(ns.incident), library=library,
                      instance_files={k: Path(v) for k, v in _pairs(ns.instance, 'Instances').items()},
                      report=None if ns.json else lambda record: print_record(console, record))
    if not ns.json:
        console.print(f'[bold]{escape(playbook.name)}[/bold] [dim]({playbook.path})[/dim]', highlight=False,
                      soft_wrap=True)
    try:
        result = run_playbook(playbook, session, inputs)
    except PlaybookError as error:
        console.print(f'[red]xsoar-local: unsupported or invalid playbook: {escape(str(error))}[/red]')
        return EXIT_UNSUPPORTED
    if ns.json:
        print(json.dumps(result.to_json() | {'undeclared_outputs': session.undeclared}, indent=2,  # noqa: T201
                         default=str))
    elif result.failed:
        console.print(f'[red]{escape(playbook.name)}: failed — {escape(result.error or "")}[/red]')
    else:
        console.print(f'[green]{escape(playbook.name)}: completed[/green] ({len(result.records)} task(s))')
    return EXIT_FAILED if result.failed else 0


def add_commands(sub: Any) -> None:
    playbook = sub.add_parser('playbook', help='run a playbook against the integrations locally')
    actions = playbook.add_subparsers(dest='playbook_action', required=True)
    run = actions.add_parser('run', help='run a playbook (YAML path, or ID/name from the packs)')
    run.add_argument('playbook')
    run.add_argument('--incident', help='incident file (JSON or YAML) the playbook runs on')
    run.add_argument('--input', action='append', default=[], help='playbook input as name=value (repeatable)')
    run.add_argument('--instance', action='append', default=[],
                     help='Integration=FILE: the instance file for an integration (default: its default instance)')
    run.add_argument('--json', action='store_true', help='print tasks, outputs, context and war room as JSON')
    run.add_argument('--source', action='store_true', help='run the source tree instead of the unified scripts')
    run.add_argument('--timeout', type=float, default=300, help='seconds one command execution may take')
    run.add_argument('--time-scale', type=float, help='multiply polling and loop waits (e.g. 0.01 in tests)')
    run.add_argument('--debug', action='store_true', help='debug logging on in the integrations')
    run.set_defaults(handler=cmd_playbook)
    listing = actions.add_parser('list', help='the playbooks of the packs, by ID')
    listing.set_defaults(handler=cmd_playbook)
    image = actions.add_parser('image', help="draw playbooks as PNG diagrams (default: every pack playbook's "
                                             'doc_files image)')
    image.add_argument('playbooks', nargs='*', help='YAML paths, or IDs/names from the packs')
    image.add_argument('--output', help='the PNG file to write (one playbook only)')
    image.set_defaults(handler=cmd_playbook)
