"""The incident commands of ``xsoar-local``: the stored incidents as the server shows them, and mirroring.

    xsoar-local incidents <Integration> [<id>] [--raw] [--json]     list incidents, or show one with its fields
    xsoar-local mirror <Integration>                                 one incoming-mirroring cycle
    xsoar-local set <Integration> <id> field=value ...               change fields (mirrored out when outgoing is on)
    xsoar-local note <Integration> <id> <text> [--tag TAG]           add a note (mirrored out when tagged)

Field values written as JSON (``[...]``, ``{...}``, numbers) are parsed; anything else is text.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from .incidents import IncidentStore
from .integrations import find_integration
from .mirroring import add_note, mirror_in, update_incident
from .render import markdown_table
from .state import InstanceStore

Resolve = Callable[[Any, str | None], tuple[Any, dict]]
Options = Callable[[argparse.Namespace, dict], Any]


def render_mapped(console: Console, incidents: list[dict], title: str) -> None:
    """One row per created incident: its ID, type, name, severity, mirror ID and how many fields were mapped."""
    columns = ['id', 'type', 'name', 'severity', 'dbotMirrorId', 'fields']
    rows = [[str(incident.get(c, '')) for c in columns[:-1]] + [str(len(incident.get('CustomFields') or {}))]
            for incident in incidents]
    console.print(markdown_table([columns, *rows], console.width, title))


def render_incident(console: Console, incident: dict, raw: bool) -> None:
    """An incident's system fields, then its custom fields by machine name; the raw JSON on request."""
    table = Table(title=f'Incident {incident.get("id")}: {incident.get("name")}', show_header=False)
    table.add_column('field', style='bold', no_wrap=True)
    table.add_column('value', overflow='fold')
    hidden = {'CustomFields', 'rawJSON', 'warRoom'}
    for key, value in [*((k, v) for k, v in incident.items() if k not in hidden),
                       *sorted((incident.get('CustomFields') or {}).items())]:
        table.add_row(key, value if isinstance(value, str) else json.dumps(value, default=str))
    console.print(table)
    notes = incident.get('warRoom') or []
    if notes:
        console.print(f'{len(notes)} war-room entr{"y" if len(notes) == 1 else "ies"} from mirroring and notes.')
    if raw:
        console.print_json(incident.get('rawJSON') or '{}')


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def add_commands(sub: Any, common: Callable[[argparse.ArgumentParser], None], resolve: Resolve,
                 options: Options) -> None:
    """Register the incident commands on the xsoar-local parser."""

    def store_of(ns: argparse.Namespace) -> tuple[Any, Any, dict, IncidentStore]:
        integration = find_integration(ns.integration)
        instance, env = resolve(integration, ns.instance)
        return integration, instance, env, IncidentStore(InstanceStore(instance.name))

    def cmd_incidents(ns: argparse.Namespace, console: Console) -> int:
        _, _, _, store = store_of(ns)
        if ns.id:
            incident = store.get(ns.id)
            if ns.json:
                print(json.dumps(incident, indent=2, default=str))  # noqa: T201 - the CLI's output
            else:
                render_incident(console, incident, ns.raw)
            return 0
        incidents = list(store)
        if ns.json:
            print(json.dumps(incidents, indent=2, default=str))  # noqa: T201 - the CLI's output
        else:
            render_mapped(console, incidents, f'{len(incidents)} incident(s)')
        return 0

    def cmd_mirror(ns: argparse.Namespace, console: Console) -> int:
        integration, instance, env, _ = store_of(ns)
        updated = mirror_in(integration, instance, options(ns, env))
        render_mapped(console, updated, f'{len(updated)} incident(s) updated by mirroring')
        return 0

    def cmd_set(ns: argparse.Namespace, console: Console) -> int:
        integration, instance, env, _ = store_of(ns)
        changes = {}
        for pair in ns.fields:
            name, sep, text = pair.partition('=')
            if not sep or not name:
                raise ValueError(f'Fields are written name=value; got "{pair}".')
            changes[name] = _value(text)
        delta = update_incident(integration, instance, ns.id, changes, options(ns, env))
        console.print(f'Incident {ns.id} updated; ' + (f'mirrored out: {json.dumps(delta)}' if delta else
                                                       'nothing to mirror out.'))
        return 0

    def cmd_note(ns: argparse.Namespace, console: Console) -> int:
        integration, instance, env, _ = store_of(ns)
        sent = add_note(integration, instance, ns.id, ns.text, tags=ns.tag, options=options(ns, env))
        console.print(f'Note added to incident {ns.id}' + ('; mirrored out.' if sent else
                                                           ' (not mirrored: no mirror tag, or outgoing is off).'))
        return 0

    show = sub.add_parser('incidents', help='list the incidents fetch created, or show one with its mapped fields')
    common(show)
    show.add_argument('id', nargs='?', help='incident ID (as listed)')
    show.add_argument('--raw', action='store_true', help="also print the incident's raw JSON")
    show.set_defaults(handler=cmd_incidents)
    mirror = sub.add_parser('mirror', help='one incoming-mirroring cycle over the mirrored incidents')
    common(mirror)
    mirror.set_defaults(handler=cmd_mirror)
    set_p = sub.add_parser('set', help="change an incident's fields; mirrored out through the outgoing mapper")
    common(set_p)
    set_p.add_argument('id')
    set_p.add_argument('fields', nargs='+', help='field=value (custom fields by machine name, or e.g. status=2)')
    set_p.set_defaults(handler=cmd_set)
    note = sub.add_parser('note', help='add a war-room note; mirrored out when it carries a mirror tag')
    common(note)
    note.add_argument('id')
    note.add_argument('text')
    note.add_argument('--tag', action='append', default=[], help='a tag (repeatable)')
    note.set_defaults(handler=cmd_note)
