"""The investigation context: merging entries' EntryContext the way the server does, and checking the written paths
against the command's YAML ``outputs``.

Entry context keys carry an optional DT selector: ``Prefix.Sub(val.id && val.id == obj.id)`` means "under
Prefix.Sub, update the item whose ``id`` equals the new item's ``id``, or append". ``(true)`` matches everything, so
the new value replaces what was there. Only the operators CommonServerPython generates are supported: ``&&``,
``||``, ``==`` and bare truthiness.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .integrations import Output

_DT_KEY = re.compile(r'^(?P<path>[^(]+?)\s*(?:\((?P<expr>.*)\))?$', re.DOTALL)


def parse_key(key: str) -> tuple[list[str], str | None]:
    """``'A.B(val.x == obj.x)'`` → (['A', 'B'], 'val.x == obj.x')."""
    match = _DT_KEY.match(key.strip())
    if not match:
        return [key], None
    return match.group('path').split('.'), match.group('expr')


def _resolve(ref: str, val: Any, obj: Any) -> Any:
    ref = ref.strip()
    if ref == 'true':
        return True
    if ref == 'false':
        return False
    if ref[:1] in '\'"' and ref[-1:] == ref[:1]:
        return ref[1:-1]
    root, _, rest = ref.partition('.')
    current = {'val': val, 'obj': obj}.get(root)
    for part in rest.split('.') if rest else []:
        current = current.get(part) if isinstance(current, dict) else None
    return current


def _term_holds(term: str, val: Any, obj: Any) -> bool:
    if '==' in term:
        left, right = term.split('==', 1)
        return _resolve(left, val, obj) == _resolve(right, val, obj)
    return bool(_resolve(term, val, obj))


def dt_matches(expr: str, val: Any, obj: Any) -> bool:
    return any(all(_term_holds(t, val, obj) for t in group.split('&&')) for group in expr.split('||'))


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _merge_items(existing: Any, new: Any, expr: str | None) -> Any:
    if expr is None:
        if existing is None:
            return new
        return _as_list(existing) + _as_list(new)
    items = _as_list(existing)
    for obj in _as_list(new):
        for index, val in enumerate(items):
            if isinstance(val, dict) and isinstance(obj, dict) and dt_matches(expr, val, obj):
                items[index] = {**val, **obj}
                break
            if not isinstance(obj, dict) and dt_matches(expr, val, obj):
                items[index] = obj
                break
        else:
            items.append(obj)
    return items[0] if len(items) == 1 else items


def merge_entry_context(context: dict, entry_context: dict | None) -> dict:
    """Merge one entry's EntryContext into ``context`` (in place) and return it."""
    for key, value in (entry_context or {}).items():
        path, expr = parse_key(key)
        parent = context
        for part in path[:-1]:
            child = parent.get(part)
            if not isinstance(child, dict):
                child = {}
                parent[part] = child
            parent = child
        leaf = path[-1]
        if expr is not None and expr.strip() == 'true' and isinstance(value, dict) and isinstance(parent.get(leaf), dict):
            parent[leaf] = {**parent[leaf], **value}
        else:
            parent[leaf] = _merge_items(parent.get(leaf), value, expr)
    return context


def written_paths(entry_context: dict | None) -> Iterator[tuple[str, Any]]:
    """Every leaf path an EntryContext writes, with its value; list items share their list's path."""
    for key, value in (entry_context or {}).items():
        path, _ = parse_key(key)
        yield from _flatten('.'.join(path), value)


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        if not value:
            yield prefix, value
        for key, child in value.items():
            yield from _flatten(f'{prefix}.{key}', child)
    elif isinstance(value, list):
        if not value:
            yield prefix, value
        for item in value:
            yield from _flatten(prefix, item)
    else:
        yield prefix, value


_TYPE_CHECKS = {
    'string': lambda v: isinstance(v, str),
    'number': lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    'boolean': lambda v: isinstance(v, bool),
    'date': lambda v: isinstance(v, str | int | float) and not isinstance(v, bool),
}


@dataclass(frozen=True)
class OutputProblem:
    path: str
    problem: str

    def __str__(self) -> str:
        return f'{self.path}: {self.problem}'


def check_outputs(declared: tuple[Output, ...] | list[Output], entry_context: dict | None) -> list[OutputProblem]:
    """Paths written but not declared in the YAML, and values whose type contradicts the declared type.

    A path is declared when the YAML lists it, or lists an ancestor of type ``Unknown`` (an opaque structure).
    """
    by_path = {o.path: o.type for o in declared}
    problems: dict[str, OutputProblem] = {}
    for path, value in written_paths(entry_context):
        if path in problems:
            continue
        declared_type = by_path.get(path)
        if declared_type is None:
            if not _covered_by_unknown_ancestor(path, by_path):
                problems[path] = OutputProblem(path, 'written to context but not declared in the YAML outputs')
            continue
        check = _TYPE_CHECKS.get(declared_type.lower())
        if check and value is not None and value != [] and value != {} and not check(value):
            problems[path] = OutputProblem(
                path, f'declared {declared_type} but the value is {type(value).__name__} ({str(value)[:60]!r})')
    return list(problems.values())


def _covered_by_unknown_ancestor(path: str, by_path: dict[str, str]) -> bool:
    parts = path.split('.')
    for cut in range(len(parts) - 1, 0, -1):
        ancestor_type = by_path.get('.'.join(parts[:cut]))
        if ancestor_type is not None:
            return ancestor_type.lower() == 'unknown'
    return False
