"""Values in a playbook: context paths, ``${}`` references, complex arguments, condition operators, transformers.

What the server evaluates when a task reads an argument, and what xsoar-local supports of it:

- a *path* (``MicrosoftATP.Machine.ID``, ``inputs.Device_id``, ``incident.deviceid``, ``[0]`` for a list item) is
  read from the scope: the playbook's inputs, the incident, ``lastCompletedTaskEntries``, else the context; a key
  applied to a list is applied to each item. DT selectors (``Path(val.x == 1)``, ``${.=...}``) are not supported and
  are an error naming the expression.
- ``simple`` values substitute ``${path}``: a value that is exactly one reference takes the referenced value as is
  (a list stays a list); references inside text are written into it (lists comma-joined).
- ``complex`` values take ``root``, keep the items that pass ``filters`` (AND of OR groups; a ``left`` path under the
  root is read from each item), read ``accessor`` from each, then apply ``transformers`` in order.

Every operator and transformer is in a table below; any other is a :class:`PlaybookError` naming it.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Protocol

from ..mapping import get_path


class PlaybookError(ValueError):
    """The playbook uses what xsoar-local does not support, or is not valid; the message names the construct."""


class Scope(Protocol):
    def lookup(self, path: str) -> Any: ...


_REFERENCE = re.compile(r'\$\{([^{}]*)\}')
EMPTY: tuple[Any, ...] = (None, '', [], {})


def is_empty(value: Any) -> bool:
    if isinstance(value, list):
        return all(is_empty(item) for item in value)
    return value in EMPTY


def as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def check_path(path: str) -> str:
    path = str(path).strip()
    if '(' in path or path.startswith('.='):
        raise PlaybookError(f'the context expression "{path}" uses a DT selector, which xsoar-local does not '
                            'support (write a plain path, or a complex argument with filters).')
    return path


def read_path(data: Any, path: str) -> Any:
    """``path`` read from ``data`` (dots, ``[n]``, keys applied to each list item); None when missing."""
    return get_path(data, check_path(path))


def text_of(value: Any) -> str:
    """A value written into text, as the server writes it: lists comma-joined, objects as JSON."""
    if value is None:
        return ''
    if isinstance(value, list):
        return ','.join(text_of(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def substitute(text: Any, scope: Scope) -> Any:
    """A ``simple`` value with its ``${}`` references resolved."""
    if not isinstance(text, str) or '${' not in text:
        return text
    whole = _REFERENCE.fullmatch(text.strip())
    if whole:
        return scope.lookup(whole.group(1))
    return _REFERENCE.sub(lambda match: text_of(scope.lookup(match.group(1))), text)


def evaluate(spec: Any, scope: Scope) -> Any:
    """A task argument, input value or operand: ``{simple: ...}``, ``{complex: ...}`` or ``{}`` (no value)."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        return substitute(spec, scope)
    if 'complex' in spec and spec['complex'] is not None:
        return evaluate_complex(spec['complex'], scope)
    if 'simple' in spec:
        return substitute(spec['simple'], scope)
    return None


def operand(spec: Any, scope: Scope, item: Any = None, root: str | None = None) -> Any:
    """One side of a condition or filter: ``{value: {simple|complex}, iscontext: bool}``. A context path under
    ``root`` is read from ``item`` (the list item a filter is looking at)."""
    if not isinstance(spec, dict) or not spec.get('value'):
        return None
    value = spec['value']
    if not spec.get('iscontext'):
        return evaluate(value, scope)
    if 'complex' in value and value['complex'] is not None:
        return evaluate_complex(value['complex'], scope)
    path = value.get('simple')
    if path is None:
        return None
    path = check_path(substitute(path, scope) if '${' in str(path) else str(path))
    if root is not None and (path == root or path.startswith(root + '.')):
        return read_path(item, path[len(root) + 1:]) if path != root else item
    return scope.lookup(path)


def evaluate_complex(spec: dict, scope: Scope) -> Any:
    root = spec.get('root')
    if not root:
        raise PlaybookError('a complex value has no root.')
    root = check_path(root)
    value = scope.lookup(root)
    if spec.get('filters'):
        kept = [item for item in as_list(value) if holds(spec['filters'], scope, item=item, root=root)]
        value = kept if kept else None
    if spec.get('accessor'):
        value = read_path(value, spec['accessor'])
    for step in spec.get('transformers') or []:
        value = transform(value, step, scope)
    return value


# ---- operators (conditions, filters, loop exit conditions) ------------------------------------------------------

def _fold(value: Any, ignore_case: bool) -> str:
    text = text_of(value)
    return text.lower() if ignore_case else text


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _any_pair(left: Any, right: Any, test: Callable[[Any, Any], bool]) -> bool:
    lefts, rights = as_list(left), as_list(right) or [None]
    return any(test(a, b) for a in lefts for b in rights)


def _compare(test: Callable[[float, float], bool]) -> Callable[[Any, Any, bool], bool]:
    def check(left: Any, right: Any, _: bool) -> bool:
        def pair(a: Any, b: Any) -> bool:
            x, y = _number(a), _number(b)
            return x is not None and y is not None and test(x, y)
        return _any_pair(left, right, pair)
    return check


def _members(right: Any) -> list:
    """The right side of inList/in: a list, or a comma-separated string."""
    if isinstance(right, list):
        return right
    return [part.strip() for part in text_of(right).split(',')] if right not in (None, '') else []


def _in(left: Any, right: Any, ignore_case: bool) -> bool:
    members = {_fold(m, ignore_case) for m in _members(right)}
    return any(_fold(item, ignore_case) in members for item in as_list(left))


def _contains_general(left: Any, right: Any, ignore_case: bool) -> bool:
    if isinstance(left, list):
        return any(_fold(item, ignore_case) == _fold(r, ignore_case) for item in left for r in as_list(right))
    return _any_pair(left, right, lambda a, b: _fold(b, ignore_case) in _fold(a, ignore_case))


def _exists(value: Any) -> bool:
    return value is not None and value != []


def _regex(left: Any, right: Any, ignore_case: bool) -> bool:
    try:
        pattern = re.compile(text_of(right), re.IGNORECASE if ignore_case else 0)
    except re.error as error:
        raise PlaybookError(f'the regular expression {text_of(right)!r} of a "match" condition is not valid '
                            f'({error}).') from error
    return any(pattern.search(text_of(item)) for item in as_list(left))


def _truth(value: Any) -> bool | None:
    text = text_of(value).strip().lower()
    return True if text == 'true' else False if text == 'false' else None


OPERATORS: dict[str, Callable[[Any, Any, bool], bool]] = {
    'isExists': lambda left, _, __: _exists(left),
    'isNotExists': lambda left, _, __: not _exists(left),
    'isEmpty': lambda left, _, __: is_empty(left),
    'isNotEmpty': lambda left, _, __: not is_empty(left),
    'isEqualString': lambda left, right, ic: _any_pair(left, right, lambda a, b: _fold(a, ic) == _fold(b, ic)),
    'isNotEqualString': lambda left, right, ic: not _any_pair(left, right,
                                                              lambda a, b: _fold(a, ic) == _fold(b, ic)),
    'isEqualNumber': _compare(lambda a, b: a == b),
    'isNotEqualNumber': lambda left, right, ic: not _compare(lambda a, b: a == b)(left, right, ic),
    'greaterThan': _compare(lambda a, b: a > b),
    'greaterThanOrEqual': _compare(lambda a, b: a >= b),
    'lessThan': _compare(lambda a, b: a < b),
    'lessThanOrEqual': _compare(lambda a, b: a <= b),
    'containsString': lambda left, right, ic: _any_pair(left, right, lambda a, b: _fold(b, ic) in _fold(a, ic)),
    'notContainsString': lambda left, right, ic: not _any_pair(left, right,
                                                               lambda a, b: _fold(b, ic) in _fold(a, ic)),
    'containsGeneral': _contains_general,
    'notContainsGeneral': lambda left, right, ic: not _contains_general(left, right, ic),
    'inList': _in,
    'notInList': lambda left, right, ic: not _in(left, right, ic),
    'in': _in,
    'notIn': lambda left, right, ic: not _in(left, right, ic),
    'startWith': lambda left, right, ic: _any_pair(left, right,
                                                   lambda a, b: _fold(a, ic).startswith(_fold(b, ic))),
    'endWith': lambda left, right, ic: _any_pair(left, right, lambda a, b: _fold(a, ic).endswith(_fold(b, ic))),
    'match': _regex,
    'isTrue': lambda left, _, __: any(_truth(item) is True for item in as_list(left)),
    'isFalse': lambda left, _, __: any(_truth(item) is False for item in as_list(left)),
}


def condition_holds(condition: dict, scope: Scope, item: Any = None, root: str | None = None) -> bool:
    operator = condition.get('operator', '')
    test = OPERATORS.get(operator)
    if test is None:
        raise PlaybookError(f'the condition operator "{operator}" is not supported by xsoar-local (supported: '
                            f'{", ".join(sorted(OPERATORS))}).')
    left = operand(condition.get('left'), scope, item, root)
    right = operand(condition.get('right'), scope, item, root)
    return test(left, right, bool(condition.get('ignorecase')))


def holds(groups: list, scope: Scope, item: Any = None, root: str | None = None) -> bool:
    """Condition groups: every group must hold, a group holds when any of its conditions does."""
    return all(any(condition_holds(c, scope, item, root) for c in group) for group in groups or [])


# ---- transformers -----------------------------------------------------------------------------------------------

def _each(function: Callable[[Any, dict], Any]) -> Callable[[Any, dict], Any]:
    """String transformers apply to every item of a list."""
    def apply(value: Any, args: dict) -> Any:
        if isinstance(value, list):
            return [function(item, args) for item in value]
        return None if value is None else function(value, args)
    return apply


def _split(value: Any, args: dict, trim: bool = False) -> Any:
    separator = args.get('delimiter') or args.get('separator') or ','
    items = []
    for item in as_list(value):
        parts = str(item).split(str(separator))
        items += [part.strip() for part in parts] if trim else parts
    return [part for part in items if part != ''] if trim else items


def _uniq(value: Any, _: dict) -> Any:
    if not isinstance(value, list):
        return value
    seen: dict[str, Any] = {}
    for item in value:
        seen.setdefault(json.dumps(item, sort_keys=True, default=str), item)
    return list(seen.values())


def _join(value: Any, args: dict) -> Any:
    if value is None:
        return None
    return str(args.get('separator') if args.get('separator') is not None else ',').join(
        text_of(item) for item in as_list(value))


def _replace(value: Any, args: dict) -> Any:
    limit = int(args['limit']) if str(args.get('limit') or '').strip() else -1
    return str(value).replace(str(args.get('toReplace') or ''), str(args.get('replaceWith') or ''), limit)


def _regex_replace(value: Any, args: dict) -> Any:
    flags = (re.IGNORECASE if str(args.get('ignore_case')).lower() == 'true' else 0)
    try:
        pattern = re.compile(str(args.get('regex') or ''), flags)
    except re.error as error:
        raise PlaybookError(f'RegexReplace: the regex {args.get("regex")!r} is not valid ({error}).') from error
    match = pattern.search(str(value))
    return match.expand(str(args.get('output_format') or r'\0').replace(r'\0', r'\g<0>')) if match else value


def _at_index(value: Any, args: dict) -> Any:
    items = as_list(value)
    try:
        return items[int(args.get('index') or 0)]
    except (IndexError, ValueError):
        return None


def _append(value: Any, args: dict) -> Any:
    return as_list(value) + as_list(args.get('item'))


def _parse_json(value: Any, _: dict) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as error:
        raise PlaybookError(f'ParseJSON: the value is not JSON ({error}).') from error


def _stringify(value: Any, _: dict) -> Any:
    return value if isinstance(value, str) else json.dumps(value)


def _set_if_empty(value: Any, args: dict) -> Any:
    return args.get('defaultValue') if is_empty(value) else value


def _map_values(value: Any, args: dict) -> Any:
    """MapValuesTransformer (CommonScripts): the value at the same position of ``mapped_values`` as the value has in
    ``input_values``; a value not listed stays as it is. Both lists are split on commas and not trimmed, as the
    server's script does (``"0.5, 1"`` maps to ``" 1"``), and must have as many values."""
    def values(name: str) -> list[str]:
        raw = args.get(name)
        return [text_of(v) for v in raw] if isinstance(raw, list) else text_of(raw).split(',')
    inputs, mapped = values('input_values'), values('mapped_values')
    if len(inputs) != len(mapped):
        raise PlaybookError(f'MapValuesTransformer: input_values has {len(inputs)} values and mapped_values '
                            f'{len(mapped)}; they must have as many.')
    table = dict(zip(inputs, mapped, strict=True))
    if isinstance(value, dict):
        raise PlaybookError('MapValuesTransformer: mapping an object\'s "key: value" pairs is not supported by '
                            'xsoar-local.')
    if value is None or isinstance(value, list):
        return value
    return table.get(text_of(value), value)


def _slice(value: Any, args: dict) -> Any:
    start = int(args.get('from') or 0)
    end = int(args['to']) if str(args.get('to') or '').strip() else None
    return value[start:end] if isinstance(value, list | str) else value


TRANSFORMERS: dict[str, Callable[[Any, dict], Any]] = {
    'uniq': _uniq,
    'join': _join,
    'split': lambda value, args: None if value is None else _split(value, args),
    'splitAndTrim': lambda value, args: None if value is None else _split(value, args, trim=True),
    'trim': _each(lambda value, _: str(value).strip()),
    'toLowerCase': _each(lambda value, _: str(value).lower()),
    'toUpperCase': _each(lambda value, _: str(value).upper()),
    'concat': _each(lambda value, args: f'{args.get("prefix") or ""}{text_of(value)}{args.get("suffix") or ""}'),
    'replace': _each(_replace),
    'RegexReplace': _each(_regex_replace),
    'Stringify': _stringify,
    'ParseJSON': _parse_json,
    'FirstArrayElement': lambda value, _: as_list(value)[0] if as_list(value) else None,
    'LastArrayElement': lambda value, _: as_list(value)[-1] if as_list(value) else None,
    'atIndex': _at_index,
    'slice': _slice,
    'append': _append,
    'count': lambda value, _: len(value) if isinstance(value, list) else int(not is_empty(value)),
    'SetIfEmpty': _set_if_empty,
    'MapValuesTransformer': _map_values,
}


def transform(value: Any, step: dict, scope: Scope) -> Any:
    operator = step.get('operator', '')
    function = TRANSFORMERS.get(operator)
    if function is None:
        raise PlaybookError(f'the transformer "{operator}" is not supported by xsoar-local (supported: '
                            f'{", ".join(sorted(TRANSFORMERS))}).')
    args = {name: operand(spec, scope) for name, spec in (step.get('args') or {}).items()}
    return function(value, args)
