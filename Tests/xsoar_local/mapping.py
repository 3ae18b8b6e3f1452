"""Classification and mapping, as the server applies them to fetched and mirrored incidents.

An incoming mapper turns an incident's raw JSON into incident fields: per field either a *simple* path or a *complex*
rule (a root path, an optional accessor, filters on the values, then a chain of transformers). The mapping for all
types (``dbot_classification_incident_type_all``) applies first, then the mapping of the incident's type. An outgoing
mapper does the reverse for ``update-remote-system``: from the incident's fields to the remote system's names.

Paths follow the server's selector rules: dots separate keys, ``[n]`` picks a list item, a key applied to a list is
applied to each item. Transformers are the built-in ones the packs' mappers use, or a pack script tagged
``transformer``; anything else is a :class:`MappingError` that names it, never a silent skip.
"""
from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

from .content import ALL_TYPES, FieldDef, IncomingSetup, PackContent
from .scripts import run_transformer

SEVERITY = {'unknown': 0, 'unspecified': 0, 'informational': 0.5, 'info': 0.5, 'low': 1, 'medium': 2, 'high': 3,
            'critical': 4}
# Fields kept at the top level of an incident rather than under CustomFields.
SYSTEM_FIELDS = {'name', 'type', 'severity', 'details', 'occurred', 'owner', 'status', 'closeReason', 'closeNotes',
                 'dbotMirrorId', 'dbotMirrorDirection', 'dbotMirrorInstance', 'dbotMirrorTags', 'dbotMirrorLastSync'}
UNCLASSIFIED = 'Unclassified'


class MappingError(ValueError):
    """A mapper uses what xsoar-local cannot apply, or a step fails; the message names the mapper, field and step."""


# ---- selectors --------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r'([^.\[\]]+)|\[(-?\d+)\]')


def get_path(data: Any, path: str | None) -> Any:
    """The value at ``path`` (``a.b``, ``[2].c``, ``alerts.entities``); None when any step is missing."""
    if path in (None, ''):
        return data
    value = data
    for key, index in _TOKEN.findall(str(path)):
        value = _step(value, key, index)
        if value is None:
            return None
    return value


def _step(value: Any, key: str, index: str) -> Any:
    if index:
        return value[int(index)] if isinstance(value, list) and -len(value) <= int(index) < len(value) else None
    key = key.strip()
    if isinstance(value, dict):
        return value.get(key)
    if isinstance(value, list):
        found = [_step(item, key, '') for item in value]
        flat = [x for item in found for x in (item if isinstance(item, list) else [item]) if x is not None]
        return flat or None
    return None


def _argument(spec: Any, raw: dict) -> Any:
    """A transformer or filter argument: a literal, or a path into the incident's raw JSON (``isContext``)."""
    if not isinstance(spec, dict) or 'value' not in spec:
        return None
    value = (spec.get('value') or {}).get('simple')
    return get_path(raw, value) if spec.get('isContext') else value


# ---- transformers -----------------------------------------------------------------------------------------------

def _table_keys(value: Any) -> Any:
    """ConvertKeysToTableFieldFormat: grid column keys are lower case without spaces or punctuation."""
    if isinstance(value, list):
        return [_table_keys(item) for item in value]
    if isinstance(value, dict):
        return {re.sub(r'[^a-z0-9]', '', str(k).lower()): v for k, v in value.items()}
    return value


def _join(value: Any, args: dict) -> Any:
    return (args.get('separator') or ',').join(str(v) for v in value) if isinstance(value, list) else value


def _concat(value: Any, args: dict) -> Any:
    if value is None:
        return None
    return f'{args.get("prefix") or ""}{value}{args.get("suffix") or ""}'


def _uniq(value: Any, _: dict) -> Any:
    if not isinstance(value, list):
        return value
    seen: dict[str, Any] = {}
    for item in value:
        seen.setdefault(json.dumps(item, sort_keys=True, default=str), item)
    return list(seen.values())


def _count(value: Any, _: dict) -> int:
    return len(value) if isinstance(value, list) else int(value not in (None, ''))


def _replace(value: Any, args: dict) -> Any:
    if value is None:
        return None
    limit = int(args['limit']) if str(args.get('limit') or '').strip() else -1
    return str(value).replace(str(args.get('toReplace') or ''), str(args.get('replaceWith') or ''), limit)


def _regex_replace(value: Any, args: dict) -> Any:
    """RegexReplace: when the regex matches, the output format with \\1-style groups; otherwise the value unchanged."""
    if value is None:
        return None
    flags = (re.IGNORECASE if _true(args.get('ignore_case')) else 0) | \
        (re.MULTILINE if _true(args.get('multi_line')) else 0) | \
        (re.DOTALL if _true(args.get('period_matches_newline')) else 0)
    try:
        pattern = re.compile(str(args.get('regex') or ''), flags)
    except re.error as error:
        raise MappingError(f'RegexReplace: the regex {args.get("regex")!r} is not valid ({error}).') from error
    match = pattern.search(str(value))
    return match.expand(str(args.get('output_format') or r'\0').replace(r'\0', r'\g<0>')) if match else value


def _true(value: Any) -> bool:
    return str(value).lower() == 'true'


BUILTIN: dict[str, Callable[[Any, dict], Any]] = {
    'ConvertKeysToTableFieldFormat': lambda value, _: _table_keys(value),
    'join': _join, 'concat': _concat, 'uniq': _uniq, 'count': _count, 'replace': _replace,
    'RegexReplace': _regex_replace,
    'toLowerCase': lambda value, _: None if value is None else str(value).lower(),
    'toUpperCase': lambda value, _: None if value is None else str(value).upper(),
}


def transform(value: Any, step: dict, raw: dict, content: PackContent) -> Any:
    """Apply one transformer step: a built-in, or a pack script run like the server runs a transformer script."""
    operator = step.get('operator', '')
    args = {name: _argument(spec, raw) for name, spec in (step.get('args') or {}).items()}
    if operator in BUILTIN:
        return BUILTIN[operator](value, args)
    if operator in content.scripts:
        return run_transformer(content.scripts[operator], value, args)
    raise MappingError(f'the transformer "{operator}" is not supported by xsoar-local (built-in: '
                       f'{", ".join(sorted(BUILTIN))}; or a script of the pack).')


# ---- filters ----------------------------------------------------------------------------------------------------

FILTERS: dict[str, Callable[[Any, Any], bool]] = {
    'isNotEmpty': lambda left, _: left not in (None, '', [], {}),
    'isEmpty': lambda left, _: left in (None, '', [], {}),
    'isEqualString': lambda left, right: str(left) == str(right),
    'isNotEqualString': lambda left, right: str(left) != str(right),
    'containsString': lambda left, right: str(right) in str(left),
    'isEqualNumber': lambda left, right: float(left) == float(right),
}


def _keep(item: Any, groups: list, raw: dict) -> bool:
    """Filters are AND-ed groups of OR-ed conditions; ``left`` is a path into the item (empty: the item itself)."""
    for group in groups:
        if not any(_condition(item, condition, raw) for condition in group):
            return False
    return True


def _condition(item: Any, condition: dict, raw: dict) -> bool:
    operator = condition.get('operator', '')
    if operator not in FILTERS:
        raise MappingError(f'the filter "{operator}" is not supported by xsoar-local (supported: '
                           f'{", ".join(sorted(FILTERS))}).')
    left_spec = condition.get('left') or {}
    left_path = (left_spec.get('value') or {}).get('simple')
    left = get_path(item, left_path) if left_spec.get('isContext') else left_path
    return FILTERS[operator](left, _argument(condition.get('right') or {}, raw))


# ---- one field --------------------------------------------------------------------------------------------------

def evaluate(rule: dict, raw: dict, content: PackContent) -> Any:
    """The value a mapping rule (simple or complex) takes on a raw incident."""
    if 'simple' in rule:
        return get_path(raw, rule['simple'])
    spec = rule.get('complex') or {}
    value = get_path(get_path(raw, spec.get('root')), spec.get('accessor'))
    if spec.get('filters'):
        items = value if isinstance(value, list) else [value]
        value = [item for item in items if _keep(item, spec['filters'], raw)] or None
    for step in spec.get('transformers') or []:
        value = transform(value, step, raw, content)
    return value


def coerce(value: Any, field: FieldDef) -> Any:
    """The value as the server stores a field of that type (grids are row lists, tags and multi-selects lists)."""
    kind = field.type
    if kind == 'grid':
        return [value] if isinstance(value, dict) else value
    if kind in ('tagsSelect', 'multiSelect'):
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if kind == 'number':
        try:
            number = float(value)
        except (TypeError, ValueError):
            return value
        return int(number) if number.is_integer() else number
    if kind == 'boolean':
        return value if isinstance(value, bool) else str(value).lower() == 'true'
    if isinstance(value, list):
        return ', '.join(str(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict) else str(value)


def set_field(incident: dict, field: FieldDef, value: Any) -> None:
    if field.name == 'severity':
        incident['severity'] = _severity(value)
    elif field.name in ('dbotMirrorId', 'dbotMirrorInstance', 'dbotMirrorDirection'):
        incident[field.name] = str(value)
    elif field.name in SYSTEM_FIELDS:
        incident[field.name] = value
    else:
        incident.setdefault('CustomFields', {})[field.cli_name] = coerce(value, field)


def _severity(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in SEVERITY:
        return SEVERITY[value.strip().lower()]
    try:
        return float(value) if '.' in str(value) else int(value)
    except (TypeError, ValueError):
        return value


# ---- incidents --------------------------------------------------------------------------------------------------

def raw_of(incident: dict) -> dict:
    """The incident's raw JSON (what mappers read), or the incident itself when it has none."""
    raw = incident.get('rawJSON')
    if isinstance(raw, str) and raw:
        try:
            loaded = json.loads(raw)
        except json.JSONDecodeError as error:
            raise MappingError(f'the incident "{incident.get("name")}" has a rawJSON that is not JSON ({error}).') \
                from error
        return loaded if isinstance(loaded, dict) else {'value': loaded}
    return incident


def classify(incident: dict, raw: dict, setup: IncomingSetup) -> str:
    """The incident type: the classifier's answer, else the type the integration set, else the instance's type."""
    classifier = setup.classifier
    if classifier:
        key = evaluate(classifier['transformer'], raw, setup.content) if classifier.get('transformer') else None
        mapped = (classifier.get('keyTypeMap') or {}).get(str(key)) if key is not None else None
        if mapped:
            return mapped
        if classifier.get('defaultIncidentType'):
            return classifier['defaultIncidentType']
    return incident.get('type') or setup.default_type or UNCLASSIFIED


def apply_incoming(target: dict, raw: dict, incident_type: str, mapper: dict, content: PackContent) -> dict:
    """Set on ``target`` every field the mapper maps for that type (the all-types mapping first); empty values are
    not set, as on the server."""
    mapping = mapper.get('mapping') or {}
    for section in (ALL_TYPES, incident_type):
        for name, rule in ((mapping.get(section) or {}).get('internalMapping') or {}).items():
            try:
                value = evaluate(rule, raw, content)
            except MappingError as error:
                raise MappingError(f'{mapper["id"]}, field "{name}": {error}') from error
            if value not in (None, '', [], {}):
                set_field(target, content.field_by_name(name), value)
    return target


def map_incoming(incident: dict, setup: IncomingSetup) -> dict:
    """The incident the server would create: classified, mapped, with its raw JSON kept."""
    raw = raw_of(incident)
    mapped = {k: copy.deepcopy(v) for k, v in incident.items() if k != 'CustomFields'}
    mapped['CustomFields'] = dict(incident.get('CustomFields') or {})
    mapped['type'] = classify(incident, raw, setup)
    mapped.setdefault('severity', 0)
    if setup.mapper:
        apply_incoming(mapped, raw, mapped['type'], setup.mapper, setup.content)
    return mapped


def field_view(incident: dict) -> dict:
    """What an outgoing mapper reads: the system fields and the custom fields by machine name, side by side."""
    return {**{k: v for k, v in incident.items() if k != 'CustomFields'}, **(incident.get('CustomFields') or {})}


def map_outgoing(incident: dict, mapper: dict, content: PackContent) -> dict:
    """The remote system's fields for an incident, through the outgoing mapper (for its type, or all types)."""
    mapping = mapper.get('mapping') or {}
    section = mapping.get(incident.get('type')) or mapping.get(ALL_TYPES) or {}
    view = field_view(incident)
    out = {}
    for name, rule in (section.get('internalMapping') or {}).items():
        try:
            out[name] = evaluate(rule, view, content)
        except MappingError as error:
            raise MappingError(f'{mapper["id"]}, field "{name}": {error}') from error
    return out


def outgoing_delta(before: dict, after: dict, mapper: dict, content: PackContent) -> dict:
    """The remote fields whose mapped value changed between two versions of an incident (cleared ones as '')."""
    old, new = map_outgoing(before, mapper, content), map_outgoing(after, mapper, content)
    return {name: ('' if value is None else value) for name, value in new.items() if value != old.get(name)}
