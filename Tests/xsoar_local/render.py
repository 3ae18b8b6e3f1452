"""War-room entries for a terminal: markdown through rich, errors in red, warnings in yellow, files by path."""
from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table

from .runner import ERROR_ENTRY, FILE_ENTRY, RunResult

WARNING_ENTRY = 11


def _entry_text(entry: dict) -> str:
    readable = entry.get('HumanReadable')
    if readable:
        return str(readable)
    contents = entry.get('Contents')
    if isinstance(contents, dict | list):
        return '```json\n' + json.dumps(contents, indent=2, default=str) + '\n```'
    return '' if contents is None else str(contents)


def render_entry(console: Console, entry: dict, saved_files: dict[str, str]) -> None:
    kind = entry.get('Type')
    if kind == ERROR_ENTRY:
        console.print(Panel(str(entry.get('Contents')), title='Error', border_style='red', style='red'))
    elif kind == WARNING_ENTRY:
        console.print(Panel(_entry_text(entry), title='Warning', border_style='yellow'))
    elif kind in (FILE_ENTRY, 9):
        path = saved_files.get(entry.get('FileID') or '', '(not written)')
        console.print(f'[bold]File:[/bold] {entry.get("File")} → {path}')
    elif entry.get('PollingCommand') and not entry.get('HumanReadable') and not entry.get('Contents'):
        return
    else:
        text = _entry_text(entry)
        if text:
            console.print(Markdown(text))


def render_result(console: Console, result: RunResult, show_logs: bool = False) -> None:
    saved = {file_id: str(path) for file_id, path in result.files.items()}
    for warning in result.warnings:
        console.print(f'[yellow]Warning: {warning}[/yellow]')
    for entry in result.entries:
        render_entry(console, entry, saved)
    if result.problems:
        console.print('[yellow]Context paths not matching the YAML outputs:[/yellow]')
        for problem in result.problems:
            console.print(f'[yellow]  - {problem}[/yellow]')
    if show_logs:
        for line in result.logs:
            console.print(f'[dim]{line["level"]}: {line["message"]}[/dim]')


def render_incidents(console: Console, incidents: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    for column in ('name', 'occurred', 'severity', 'dbotMirrorId'):
        table.add_column(column)
    for incident in incidents:
        table.add_row(*(str(incident.get(c, '')) for c in ('name', 'occurred', 'severity', 'dbotMirrorId')))
    console.print(table)
