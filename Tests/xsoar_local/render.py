"""War-room entries for a terminal: markdown through rich, errors in red, warnings in yellow, files by path.

Markdown tables are drawn here rather than by rich's markdown renderer, which cuts every cell that does not fit
(``10…``): an ID cut short is useless, so identifier columns (by their header, or values that look like IDs or
hashes) are never shortened — other columns wrap instead, and an ID wider than the whole terminal folds onto the next
line whole. Links show their URL (a login URL is something to open).
"""
from __future__ import annotations

import json
import re
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

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


_ID_HEADER_WORD = re.compile(r'(?:^|[\s_.-])(?:ids?|sha1|sha256|md5|guid|uuid)(?:$|[\s_.-])', re.IGNORECASE)
_ID_HEADER_CAMEL = re.compile(r'[a-z0-9]Ids?$|[a-z0-9](?:Sha1|Sha256|Md5|Guid)$|ID(?:s|$|[\s_.-])')
_ID_VALUE = re.compile(r'^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}|[0-9]+'
                       r'|[A-Za-z]{2,}[0-9]{6,}|[A-Za-z0-9_-]*[0-9][A-Za-z0-9_-]*[0-9a-f]{12,})$', re.IGNORECASE)
_CELL_SPLIT = re.compile(r'(?<!\\)\|')
_SEPARATOR = re.compile(r'^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$')
_LINK = re.compile(r'\[([^\]]*)\]\((https?://[^)\s]+)\)')


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith('|') else inner
    inner = inner[:-1] if inner.endswith('|') and not inner.endswith('\\|') else inner
    return [c.strip().replace('\\|', '|').replace('<br>', '\n').replace('\\`', '`') for c in _CELL_SPLIT.split(inner)]


def is_id_column(header: str, values: list[str]) -> bool:
    """An identifier or hash column: named like one (ID, Machine ID, machineId, SHA256) or holding only values
    that look like one (GUIDs, long hex strings, numbers, machine-made tokens)."""
    if _ID_HEADER_WORD.search(header.strip()) or _ID_HEADER_CAMEL.search(header.strip()):
        return True
    present = [v for v in values if v]
    return bool(present) and all(_ID_VALUE.match(v) for v in present)


_NARROWEST = 16   # a column keeps its longest word whole up to this width; longer words may fold


def _column(rows: list[list[str]], index: int) -> list[str]:
    return [row[index] if index < len(row) else '' for row in rows]


def _longest_word(values: list[str]) -> int:
    return max((len(word) for value in values for word in value.split()), default=0)


def markdown_table(rows: list[list[str]], width: int, title: str | None = None) -> RenderableType:
    """A rich table where identifier columns keep their full width and other columns share what is left (wrapping
    within it). When the IDs plus a readable width for every other column do not fit in ``width``, each row becomes
    a record (field, value lines) instead of a table whose other columns are crushed to a letter."""
    header, body = rows[0], [(row + [''] * len(rows[0]))[:len(rows[0])] for row in rows[1:]]
    ids = [is_id_column(name, _column(body, i)) for i, name in enumerate(header)]
    natural = [_id_width(name, _column(body, i)) if ids[i] else _widest_line(_column(body, i) + [name])
               for i, name in enumerate(header)]
    budget = width - 1 - 3 * len(header) - sum(w for w, is_id in zip(natural, ids, strict=True) if is_id)
    others = [i for i in range(len(header)) if not ids[i]]
    floors = [min(_longest_word(_column(body, i) + [header[i]]), _NARROWEST) for i in others]
    shares = _share(budget, [natural[i] for i in others], floors)
    if shares is None:
        return Group(*([Text(title, style='italic')] if title else []), *(_record(header, row, ids, width) for row in body))
    table = Table(box=box.SIMPLE_HEAVY, title=title)
    share = iter(shares)
    for index, name in enumerate(header):
        fixed = natural[index] if ids[index] else next(share)
        # Fixed widths that add up to the terminal's: rich never has to shrink a column, so never cuts an ID.
        table.add_column(name, overflow='fold', width=fixed)
    for row in body:
        table.add_row(*(Text(value) for value in row))
    return table


def _share(budget: int, wanted: list[int], floors: list[int]) -> list[int] | None:
    """Widths for the non-ID columns within ``budget``: every column its floor (its longest word, up to a limit),
    then what is left goes to the columns that want more, the least demanding first; None when even the floors do
    not fit."""
    if budget < 0 or sum(floors) > budget:
        return None
    widths = list(floors)
    left = budget - sum(floors)
    hungry = sorted((i for i in range(len(wanted)) if wanted[i] > floors[i]), key=lambda i: wanted[i] - floors[i])
    while hungry and left > 0:
        fair = max(1, left // len(hungry))
        index = hungry.pop(0)
        extra = min(wanted[index] - widths[index], fair)
        widths[index] += extra
        left -= extra
    return widths


def _id_width(header: str, values: list[str]) -> int:
    """An ID column is as wide as its widest ID; its header may wrap at spaces."""
    return max(_widest_line(values), _longest_word([header]))


def _widest_line(values: list[str]) -> int:
    return max((len(line) for value in values for line in value.splitlines()), default=0)


def _record(header: list[str], row: list[str], ids: list[bool], width: int) -> Table:
    """One row as field/value lines. The value column is as wide as the row's longest ID (as far as the terminal
    allows: beyond that it folds, whole), field names wrap."""
    longest_id = max((len(value) for value, is_id in zip(row, ids, strict=True) if is_id), default=0)
    field_width = max(8, min(30, max(len(name) for name in header), width - 6 - longest_id))
    record = Table(box=box.SIMPLE, show_header=False, pad_edge=False)
    record.add_column('field', style='bold', overflow='fold', max_width=field_width)
    record.add_column('value', overflow='fold', min_width=max(1, min(longest_id, width - 6 - field_width)))
    for name, value in zip(header, row, strict=True):
        record.add_row(Text(name), Text(value))
    return record


def _blocks(text: str) -> list[tuple[str, Any]]:
    """The text split into ('markdown', str) and ('table', rows) blocks."""
    lines = text.splitlines()
    blocks: list[tuple[str, Any]] = []
    pending: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i].strip().startswith('|') and i + 1 < len(lines) and _SEPARATOR.match(lines[i + 1]):
            if pending:
                blocks.append(('markdown', '\n'.join(pending)))
                pending = []
            rows = [_cells(lines[i])]
            i += 2
            while i < len(lines) and lines[i].strip().startswith('|'):
                rows.append(_cells(lines[i]))
                i += 1
            blocks.append(('table', rows))
            continue
        pending.append(lines[i])
        i += 1
    if pending:
        blocks.append(('markdown', '\n'.join(pending)))
    return blocks


def render_markdown(console: Console, text: str) -> None:
    """Markdown with tables drawn by :func:`markdown_table`; links show their URL, and a URL too long for one line is
    printed again on a line of its own, unbroken, so it can be copied."""
    for kind, block in _blocks(text):
        if kind == 'table':
            console.print(markdown_table(block, console.width))
        elif block.strip():
            console.print(Markdown(block, hyperlinks=False))
            for _, url in _LINK.findall(block):
                if len(url) > console.width - 8:
                    console.print(url, soft_wrap=True, highlight=False, markup=False)


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
            render_markdown(console, text)


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
    columns = ['name', 'occurred', 'severity', 'dbotMirrorId']
    rows = [[str(incident.get(c, '')) for c in columns] for incident in incidents]
    console.print(markdown_table([columns, *rows], console.width, title))
