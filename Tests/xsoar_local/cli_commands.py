"""``xsoar-local commands <Integration> [command]``: what an integration's YAML offers, read at the terminal.

Without a command: every command with the first sentence of its description. With one: its description, its
arguments (name, required, default, predefined values, isArray, description) and its outputs (context path, type,
description). Hidden commands and arguments — the server's UI does not offer them either — appear with ``--hidden``.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
from dataclasses import asdict

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .integrations import Command, Integration, find_integration

_SENTENCE_END = re.compile(r'(?<=[.!?])\s')
SHORT_DESCRIPTION = 120


def short_description(text: str) -> str:
    """The first sentence, at most ``SHORT_DESCRIPTION`` characters (cut at a word, marked with …)."""
    first = _SENTENCE_END.split(' '.join(text.split()), maxsplit=1)[0]
    if len(first) <= SHORT_DESCRIPTION:
        return first
    return first[:SHORT_DESCRIPTION].rsplit(' ', 1)[0] + '…'


def _command_or_error(integration: Integration, name: str) -> Command:
    spec = integration.command(name)
    if spec is not None:
        return spec
    close = difflib.get_close_matches(name, list(integration.commands), n=3)
    hint = f' Did you mean: {", ".join(close)}?' if close else ''
    raise LookupError(f'{integration.name} has no command "{name}".{hint} '
                      f'"xsoar-local commands {integration.name}" lists them.')


def _flags(spec: Command) -> str:
    return ', '.join(flag for flag, on in (('deprecated', spec.deprecated), ('polling', spec.polling),
                                           ('hidden', spec.hidden)) if on)


def render_command_list(console: Console, integration: Integration, show_hidden: bool) -> None:
    table = Table(title=f'{integration.name}: commands', box=box.SIMPLE_HEAVY)
    table.add_column('command', no_wrap=True, overflow='fold', style='bold')
    table.add_column('description', overflow='fold')
    for spec in integration.commands.values():
        if spec.hidden and not show_hidden:
            continue
        flags = _flags(spec)
        table.add_row(spec.name, short_description(spec.description) + (f' ({flags})' if flags else ''))
    console.print(table)
    console.print(f'Arguments and outputs of one: xsoar-local commands {integration.name} <command>')


def render_command(console: Console, spec: Command, show_hidden: bool) -> None:
    flags = _flags(spec)
    console.print(Text(spec.name + (f' ({flags})' if flags else ''), style='bold'))
    console.print(' '.join(spec.description.split()) or '(no description)')
    arguments = [a for a in spec.arguments if show_hidden or not a.hidden]
    if arguments:
        table = Table(title='Arguments', box=box.SIMPLE_HEAVY)
        for column, options in (('name', {'no_wrap': True, 'style': 'bold'}), ('required', {'no_wrap': True}),
                                ('default', {}), ('predefined', {}), ('isArray', {'no_wrap': True}),
                                ('description', {})):
            table.add_column(column, overflow='fold', **options)
        for arg in arguments:
            table.add_row(arg.name + (' (hidden)' if arg.hidden else ''), 'yes' if arg.required else '',
                          '' if arg.default_value is None else str(arg.default_value), ', '.join(arg.predefined),
                          'yes' if arg.is_array else '', ' '.join(arg.description.split()))
        console.print(table)
    else:
        console.print('Arguments: none')
    if spec.outputs:
        outputs = Table(title='Outputs', box=box.SIMPLE_HEAVY)
        outputs.add_column('context path', no_wrap=True, overflow='fold', style='bold')
        outputs.add_column('type', no_wrap=True)
        outputs.add_column('description', overflow='fold')
        for output in spec.outputs:
            outputs.add_row(output.path, output.type, ' '.join(output.description.split()))
        console.print(outputs)
    else:
        console.print('Outputs: none')


def cmd_commands(ns: argparse.Namespace, console: Console) -> int:
    integration = find_integration(ns.integration)
    if ns.command:
        spec = _command_or_error(integration, ns.command)
        if ns.json:
            print(json.dumps(asdict(spec), indent=2, default=str))  # noqa: T201 - the CLI's output
        else:
            render_command(console, spec, ns.hidden)
        return 0
    if ns.json:
        listing = [{'name': c.name, 'description': c.description, 'deprecated': c.deprecated, 'hidden': c.hidden}
                   for c in integration.commands.values() if ns.hidden or not c.hidden]
        print(json.dumps(listing, indent=2))  # noqa: T201 - the CLI's output
    else:
        render_command_list(console, integration, ns.hidden)
    return 0


def add_command(sub: argparse._SubParsersAction) -> None:
    commands = sub.add_parser('commands', help="list an integration's commands, or one command's arguments and outputs")
    commands.add_argument('integration')
    commands.add_argument('command', nargs='?', help='a command name: its arguments and outputs')
    commands.add_argument('--hidden', action='store_true', help='include hidden commands and arguments')
    commands.add_argument('--json', action='store_true', help='print the YAML facts as JSON')
    commands.set_defaults(handler=cmd_commands)
