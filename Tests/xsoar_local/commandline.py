"""The one parser of war-room command lines (``!command name=value ...``) and of ``command_examples`` files.

The docs facade runs each example line, the benchmark measures them, the reliability suite takes its arguments from
them: all read lines through here, so a value quoted one way is read the same way everywhere. Quoting follows the war
room: double quotes, single quotes or backticks; backticks let a JSON value keep its double quotes
(``a=`{"k": "v"}```).

A bare value binds to the command's default argument (the YAML ``default: true`` flag), as the server does for
``!microsoft-atp-isolate-machine <id> comment=x``: at most one bare value, and only for a command that has a default
argument not also given by name.
"""
from __future__ import annotations

import shlex
from pathlib import Path

from .integrations import Command, Integration

EXAMPLES_FILES = ('command_examples', 'command_examples.txt')


def bind_arguments(command: str, words: list[str], spec: Command | None) -> dict[str, str]:
    """``['id1', 'comment=x']`` → {'machine_id': 'id1', 'comment': 'x'} for a command whose default argument is
    machine_id. Without ``spec`` (the command's YAML), every word must be ``name=value``."""
    args: dict[str, str] = {}
    bare: list[str] = []
    for word in words:
        name, sep, value = word.partition('=')
        if sep and name:
            args[name] = value
        else:
            bare.append(word)
    if not bare:
        return args
    if spec is None:
        raise ValueError(f'Arguments are written name=value; got "{bare[0]}" for {command}.')
    default = spec.default_argument
    if default is None:
        raise ValueError(f'{command} has no default argument, so "{bare[0]}" must be written name=value.')
    if len(bare) > 1:
        raise ValueError(f'{command} takes one value without a name (for its default argument {default}); got '
                         f'{len(bare)}: {", ".join(repr(b) for b in bare)}. Write the others name=value.')
    if default in args:
        raise ValueError(f'{command}: "{bare[0]}" is a value for the default argument {default}, which is also '
                         f'given by name; give it once.')
    return {default: bare[0], **args}


def _words(line: str) -> list[str]:
    lexer = shlex.shlex(line.strip().lstrip('!'), posix=True)
    lexer.whitespace_split = True
    lexer.quotes = '"\'`'
    parts = list(lexer)
    if not parts:
        raise ValueError('An empty command line.')
    return parts


def command_name(line: str) -> str:
    """The command of a line, whatever form its arguments take."""
    return _words(line)[0]


def parse_command_line(line: str, integration: Integration | None = None) -> tuple[str, dict[str, str]]:
    """``!cmd a=1 b="two words"`` → ('cmd', {'a': '1', 'b': 'two words'}). With the ``integration``, a bare value
    binds to the command's default argument; without it, every argument must be ``name=value``."""
    parts = _words(line)
    spec = integration.command(parts[0]) if integration else None
    try:
        return parts[0], bind_arguments(parts[0], parts[1:], spec)
    except ValueError as exc:
        raise ValueError(f'{exc} In: {line}') from None


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
