"""The one parser of war-room command lines (``!command name=value ...``) and of ``command_examples`` files.

The docs facade runs each example line, the benchmark measures them, the reliability suite takes its arguments from
them: all read lines through here, so a value quoted one way is read the same way everywhere. Quoting follows the war
room: double quotes, single quotes or backticks; backticks let a JSON value keep its double quotes
(``a=`{"k": "v"}```).
"""
from __future__ import annotations

import shlex
from pathlib import Path

EXAMPLES_FILES = ('command_examples', 'command_examples.txt')


def parse_command_line(line: str) -> tuple[str, dict[str, str]]:
    """``!cmd a=1 b="two words"`` → ('cmd', {'a': '1', 'b': 'two words'}); every argument must be ``name=value``."""
    lexer = shlex.shlex(line.strip().lstrip('!'), posix=True)
    lexer.whitespace_split = True
    lexer.quotes = '"\'`'
    parts = list(lexer)
    if not parts:
        raise ValueError('An empty command line.')
    args = {}
    for part in parts[1:]:
        name, sep, value = part.partition('=')
        if not sep:
            raise ValueError(f'Arguments are written name=value; got "{part}" in: {line}')
        args[name] = value
    return parts[0], args


def is_command_line(line: str) -> bool:
    """A line that holds a command (blank lines and ``#`` comments in an examples file do not)."""
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith('#')


def examples_file(directory: Path) -> Path | None:
    """An integration folder's examples file, under either name demisto-sdk accepts."""
    return next((p for p in (directory / name for name in EXAMPLES_FILES) if p.exists()), None)


def parse_lines(lines: list[str]) -> list[tuple[str, dict[str, str]]]:
    """Every command line, parsed, in order."""
    return [parse_command_line(line) for line in lines if is_command_line(line)]


def read_examples(directory: Path) -> list[tuple[str, dict[str, str]]]:
    """Every example of the integration in ``directory`` as (command, arguments), in file order; [] without a file."""
    path = examples_file(directory)
    return parse_lines(path.read_text(encoding='utf-8').splitlines()) if path else []


def examples_by_command(directory: Path) -> dict[str, list[dict[str, str]]]:
    """command → the arguments of each of its examples, in file order."""
    found: dict[str, list[dict[str, str]]] = {}
    for command, args in read_examples(directory):
        found.setdefault(command, []).append(args)
    return found


def first_examples(directory: Path) -> dict[str, dict[str, str]]:
    """command → the arguments of its first example."""
    return {command: found[0] for command, found in examples_by_command(directory).items()}
