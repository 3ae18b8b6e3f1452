"""The scripts and server commands a playbook task can run without an integration, implemented by xsoar-local.

Only what the packs' playbooks use, each with the server script's arguments and effect:

=========================  ==================================================================================
``Set``                    ``key``, ``value``, ``append`` (default false: replace), ``stringify``
``SetAndHandleEmpty``      as Set, but an empty value changes nothing unless ``force=true``
``DeleteContext``          ``key`` (a path), or ``all=yes`` for the whole context
``Print``                  ``value`` as a note in the war room
``PrintErrorEntry``        ``message`` as an error entry (the task fails)
``Sleep``                  ``seconds`` (scaled by XSOAR_LOCAL_TIME_SCALE, like polling waits)
``VerifyContext``          ``path`` must exist; with ``expectedValue`` its value must equal it (test playbooks)
``IsIntegrationAvailable`` condition: ``yes`` when an integration with ``brandname`` is configured, else ``no``
``isError``                condition: ``yes`` when one of the entries in ``entryId`` is an error, else ``no``
``AreValuesEqual``         condition: ``yes`` when ``left`` equals ``right`` (as text), else ``no``
``StringSimilarity``       (CommonScripts) ``string_A``, ``string_B`` (each a text or a list), ``similarity_threshold``
                           (also spelt ``similiarity_threshold``, default 0.1): every pair whose similarity ratio
                           (difflib) reaches it, to ``StringSimilarity`` (``StringA``, ``StringB``,
                           ``SimilarityScore``)
``setIncident``            (``Builtin|||setIncident``) sets incident fields: top-level ones, others as custom;
                           ``tags`` with ``appendTags=true`` adds to the incident's tags instead of replacing them
``closeInvestigation``     (``Builtin|||closeInvestigation``) closes the incident (``closeReason``,
                           ``closeNotes``)
=========================  ==================================================================================
"""
from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..context import merge_entry_context
from .values import PlaybookError, as_list, is_empty, text_of

if TYPE_CHECKING:
    from .engine import Frame

NOTE_ENTRY = 1
ERROR_ENTRY = 4
INCIDENT_FIELDS = {'name', 'type', 'severity', 'details', 'owner', 'status', 'closeReason', 'closeNotes', 'occurred',
                   'phase', 'tags'}


def note(text: str, contents: Any = None) -> dict:
    return {'Type': NOTE_ENTRY, 'ContentsFormat': 'markdown', 'Contents': text if contents is None else contents,
            'HumanReadable': text}


def error(text: str) -> dict:
    return {'Type': ERROR_ENTRY, 'ContentsFormat': 'text', 'Contents': text}


def _true(value: Any) -> bool:
    return text_of(value).strip().lower() in ('true', 'yes')


def _required(args: dict, name: str, script: str) -> Any:
    if is_empty(args.get(name)):
        raise ArgumentMissing(f'{script}: the argument "{name}" is required.')
    return args[name]


class ArgumentMissing(ValueError):
    """A built-in script was called without a required argument: an error entry, as the server shows it."""


# ---- context helpers --------------------------------------------------------------------------------------------

def _parts(path: str) -> list[str]:
    if '(' in path:
        raise PlaybookError(f'the context key "{path}" uses a DT selector, which xsoar-local does not support.')
    return [part for part in path.split('.') if part]


def delete_path(context: dict, path: str) -> None:
    parts = _parts(path)
    parent: Any = context
    for part in parts[:-1]:
        parent = parent.get(part) if isinstance(parent, dict) else None
    if isinstance(parent, dict):
        parent.pop(parts[-1], None)


def set_path(context: dict, path: str, value: Any) -> None:
    parts = _parts(path)
    parent = context
    for part in parts[:-1]:
        child = parent.get(part)
        if not isinstance(child, dict):
            child = parent[part] = {}
        parent = child
    parent[parts[-1]] = value


# ---- scripts ----------------------------------------------------------------------------------------------------

def _set(frame: Frame, args: dict, handle_empty: bool) -> list[dict]:
    script = 'SetAndHandleEmpty' if handle_empty else 'Set'
    key = str(_required(args, 'key', script))
    value = args.get('value')
    if handle_empty and is_empty(value) and not _true(args.get('force')):
        return [note(f'{script}: the value is empty; {key} is left as it was.')]
    if _true(args.get('stringify')):
        value = value if isinstance(value, str) else json.dumps(value)
    if not _true(args.get('append')):
        delete_path(frame.context, key)
    merge_entry_context(frame.context, {key: value})
    return [note(f'Key {key} set.')]


def _delete_context(frame: Frame, args: dict) -> list[dict]:
    if _true(args.get('all')):
        frame.context.clear()
        return [note('The context was cleared.')]
    key = str(_required(args, 'key', 'DeleteContext'))
    delete_path(frame.context, key)
    return [note(f'Key {key} deleted.')]


def _print(_: Frame, args: dict) -> list[dict]:
    return [note(text_of(args.get('value')))]


def _print_error(_: Frame, args: dict) -> list[dict]:
    return [error(text_of(args.get('message')))]


def _sleep(frame: Frame, args: dict) -> list[dict]:
    seconds = float(text_of(args.get('seconds')) or 0)
    frame.session.wait(seconds)
    return [note(f'Slept {seconds:g} seconds.')]


def _verify_context(frame: Frame, args: dict) -> list[dict]:
    path = str(_required(args, 'path', 'VerifyContext'))
    value = frame.lookup(path)
    if value is None:
        return [error(f'VerifyContext: {path} is not in the context.')]
    for name in (f.strip() for f in text_of(args.get('fields')).split(',') if f.strip()):
        if all(isinstance(item, dict) and item.get(name) is None for item in as_list(value)):
            return [error(f'VerifyContext: {path} has no {name}.')]
    expected = args.get('expectedValue')
    if not is_empty(expected) and text_of(value) != text_of(expected):
        return [error(f'VerifyContext: {path} is {text_of(value)!r}, expected {text_of(expected)!r}.')]
    return [note(f'{path} verified.')]


def _integration_available(frame: Frame, args: dict) -> list[dict]:
    brand = text_of(_required(args, 'brandname', 'IsIntegrationAvailable'))
    available = bool(frame.session.integrations_by_brand(brand))
    return [note('yes' if available else 'no', 'yes' if available else 'no')]


def _is_error(frame: Frame, args: dict) -> list[dict]:
    ids = {text_of(i) for i in as_list(args.get('entryId'))}
    failed = any(e.get('Type') == ERROR_ENTRY for e in frame.session.war_room if e.get('ID') in ids)
    return [note('yes' if failed else 'no', 'yes' if failed else 'no')]


def _values_equal(_: Frame, args: dict) -> list[dict]:
    same = text_of(args.get('left')) == text_of(args.get('right'))
    return [note('yes' if same else 'no', 'yes' if same else 'no')]


def _string_similarity(frame: Frame, args: dict) -> list[dict]:
    """CommonScripts' StringSimilarity over every pair of the two inputs: the pairs at or above the threshold."""
    first = [text_of(a) for a in as_list(_required(args, 'string_A', 'StringSimilarity'))]
    second = [text_of(b) for b in as_list(_required(args, 'string_B', 'StringSimilarity'))]
    raw = args.get('similarity_threshold', args.get('similiarity_threshold'))
    try:
        threshold = float(text_of(raw)) if not is_empty(raw) else 0.1
    except ValueError:
        return [error(f'StringSimilarity: the similarity threshold "{text_of(raw)}" is not a number.')]
    found = [{'StringA': a, 'StringB': b, 'SimilarityScore': ratio} for a in first for b in second
             if (ratio := difflib.SequenceMatcher(None, a, b).ratio()) >= threshold]
    if found:
        merge_entry_context(frame.context, {'StringSimilarity': found})
    return [note(f'{len(found)} pair(s) at or above the similarity threshold {threshold:g}.', found)]


def _set_incident(frame: Frame, args: dict) -> list[dict]:
    incident = frame.session.incident
    args = dict(args)
    if _true(args.pop('appendTags', None)) and 'tags' in args:
        added = [text_of(t).strip() for t in as_list(args['tags'])]
        added = [t for part in added for t in part.split(',') if t.strip()]
        args['tags'] = list(dict.fromkeys([*as_list(incident.get('tags')), *(t.strip() for t in added)]))
    for name, value in args.items():
        if name in INCIDENT_FIELDS:
            incident[name] = value
        else:
            incident.setdefault('CustomFields', {})[name] = value
    return [note(f'Incident fields set: {", ".join(sorted(args)) or "none"}.')]


def _close_investigation(frame: Frame, args: dict) -> list[dict]:
    incident = frame.session.incident
    incident['status'] = 2
    for name in ('closeReason', 'closeNotes'):
        if args.get(name) is not None:
            incident[name] = args[name]
    return [note('The investigation was closed.')]


Script = Callable[['Frame', dict], list[dict]]

SCRIPTS: dict[str, Script] = {
    'Set': lambda frame, args: _set(frame, args, handle_empty=False),
    'SetAndHandleEmpty': lambda frame, args: _set(frame, args, handle_empty=True),
    'DeleteContext': _delete_context,
    'Print': _print,
    'PrintErrorEntry': _print_error,
    'Sleep': _sleep,
    'VerifyContext': _verify_context,
    'IsIntegrationAvailable': _integration_available,
    'isError': _is_error,
    'AreValuesEqual': _values_equal,
    'StringSimilarity': _string_similarity,
}

SERVER_COMMANDS: dict[str, Script] = {
    'setIncident': _set_incident,
    'closeInvestigation': _close_investigation,
}


def run_builtin(table: dict[str, Script], name: str, frame: Frame, args: dict) -> list[dict]:
    try:
        return table[name](frame, args)
    except ArgumentMissing as missing:
        return [error(str(missing))]
