"""The OData query subset of the incident APIs: ``$filter`` (eq, ne, gt, ge, lt, le, in; and, or, not; parentheses),
``$orderby``, ``$top``, ``$skip``.

A filter is parsed against a table of the properties the API allows (:class:`Prop`), which also says how literals
are read: date-times (unquoted ISO 8601 as OData writes them, or quoted), enumerations (quoted; Graph or legacy
spelling, any case), strings (quoted, ``''`` escapes a quote; compared case-insensitively), numbers and ``null``.
:func:`time_bounds` pulls the range a top-level ``and`` chain puts on one date-time property, so the store can
bisect its index instead of scanning.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..core.clock import parse_time
from .store import (
    Incident,
    XdrStore,
    enum_lookup,
    sort_incidents,
)


class ODataError(ValueError):
    """A query the service would refuse (400)."""

    def __init__(self, message: str, kind: str = 'filter'):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Prop:
    name: str
    kind: str                                   # datetime | enum | string | int
    get: Callable[[Any], Any]
    enum: dict[str, str] | None = None          # Graph value -> legacy value (for enums)
    attribute: str | None = None                # the store index this date-time property can use


COMPARISONS = ('eq', 'ne', 'gt', 'ge', 'lt', 'le')
_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<punct>[(),])|(?P<word>[^\s(),']+))")


@dataclass
class Compare:
    prop: Prop
    op: str
    value: Any

    def test(self, item: Any) -> bool:
        actual = self.prop.get(item)
        expected = self.value
        if self.prop.kind == 'string':
            actual = actual.lower() if isinstance(actual, str) else actual
        if self.op == 'in':
            return actual in expected
        if self.op == 'eq':
            return actual == expected
        if self.op == 'ne':
            return actual != expected
        if actual is None or expected is None:
            return False
        if self.op == 'gt':
            return actual > expected
        if self.op == 'ge':
            return actual >= expected
        if self.op == 'lt':
            return actual < expected
        return actual <= expected


@dataclass
class Logical:
    op: str                  # and | or
    left: Any
    right: Any

    def test(self, item: Any) -> bool:
        if self.op == 'and':
            return self.left.test(item) and self.right.test(item)
        return self.left.test(item) or self.right.test(item)


@dataclass
class Negation:
    operand: Any

    def test(self, item: Any) -> bool:
        return not self.operand.test(item)


class _Parser:
    def __init__(self, text: str, props: dict[str, Prop], type_name: str, known: Iterable[str] = ()):
        self.text = text
        self.props = {k.lower(): v for k, v in props.items()}
        self.known = {k.lower(): k for k in known}
        self.type_name = type_name
        self.tokens: list[tuple[str, str, int]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                if text[position:].strip() == '':
                    break
                raise ODataError(f"Syntax error at position {position} in '{text}'.")
            kind = match.lastgroup or 'word'
            self.tokens.append((kind, match.group(kind), match.start(kind)))
            position = match.end()
        self.index = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise ODataError(f"Syntax error: unexpected end of the expression '{self.text}'.")
        self.index += 1
        return token

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token[0] == 'word' and token[1].lower() in words:
            self.index += 1
            return token[1].lower()
        return None

    def parse(self) -> Any:
        node = self.expression()
        token = self.peek()
        if token is not None:
            raise ODataError(f"Syntax error at position {token[2]} in '{self.text}'.")
        return node

    def expression(self) -> Any:
        node = self.conjunction()
        while self.keyword('or'):
            node = Logical('or', node, self.conjunction())
        return node

    def conjunction(self) -> Any:
        node = self.unary()
        while self.keyword('and'):
            node = Logical('and', node, self.unary())
        return node

    def unary(self) -> Any:
        if self.keyword('not'):
            return Negation(self.unary())
        token = self.peek()
        if token is not None and token[0] == 'punct' and token[1] == '(':
            self.take()
            node = self.expression()
            closing = self.take()
            if closing[1] != ')':
                raise ODataError(f"Syntax error at position {closing[2]} in '{self.text}'.")
            return node
        return self.comparison()

    def comparison(self) -> Compare:
        kind, name, position = self.take()
        if kind != 'word':
            raise ODataError(f"Syntax error at position {position} in '{self.text}'.")
        prop = self.props.get(name.lower())
        if prop is None and name.lower() in self.known:
            raise ODataError(f"The property '{self.known[name.lower()]}' cannot be used in the $filter query option.",
                             'property')
        if prop is None:
            raise ODataError(f"Could not find a property named '{name}' on type '{self.type_name}'.", 'property')
        op_token = self.take()
        op = op_token[1].lower()
        if op == 'in':
            opening = self.take()
            if opening[1] != '(':
                raise ODataError(f"Syntax error at position {opening[2]} in '{self.text}'.")
            values = [self.literal(prop)]
            while True:
                token = self.take()
                if token[1] == ')':
                    break
                if token[1] != ',':
                    raise ODataError(f"Syntax error at position {token[2]} in '{self.text}'.")
                values.append(self.literal(prop))
            return Compare(prop, 'in', values)
        if op not in COMPARISONS:
            raise ODataError(f"Syntax error: '{op_token[1]}' is not a supported operator (at position {op_token[2]} "
                             f"in '{self.text}').")
        if prop.kind == 'enum' and op not in ('eq', 'ne'):
            raise ODataError(f"The operator '{op}' is not supported for the property '{prop.name}'.")
        return Compare(prop, op, self.literal(prop))

    def literal(self, prop: Prop) -> Any:
        kind, raw, position = self.take()
        if kind == 'punct':
            raise ODataError(f"Syntax error at position {position} in '{self.text}'.")
        quoted = kind == 'string'
        value = raw[1:-1].replace("''", "'") if quoted else raw
        if not quoted and raw.lower() == 'null':
            return None
        if prop.kind == 'datetime':
            try:
                return parse_time(value)
            except ValueError as exc:
                raise ODataError(f"The DateTimeOffset text '{value}' should be in format "
                                 f"'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid "
                                 f"range.") from exc
        if prop.kind == 'int':
            try:
                return int(value)
            except ValueError as exc:
                raise ODataError(f"'{value}' is not a valid value for the property '{prop.name}'.") from exc
        if not quoted:
            raise ODataError(f"Syntax error: the value '{raw}' for '{prop.name}' must be a quoted string "
                             f"(at position {position} in '{self.text}').")
        if prop.kind == 'enum':
            assert prop.enum is not None
            canonical = enum_lookup(value, prop.enum)
            if canonical is None:
                raise ODataError(f"The string '{value}' is not a valid enumerated type constant for the property "
                                 f"'{prop.name}'.", 'value')
            return canonical
        return value.lower()


def parse_filter(text: str, props: dict[str, Prop], type_name: str, known: Iterable[str] = ()) -> Any:
    """``known``: properties of the type that exist but may not be filtered on (a different error)."""
    if not text.strip():
        raise ODataError('The $filter expression must not be empty.')
    return _Parser(text, props, type_name, known).parse()


def time_bounds(node: Any, attribute: str) -> tuple[int | None, bool, int | None, bool] | None:
    """(low, low_inclusive, high, high_inclusive) that the top-level ``and`` chain of ``node`` puts on the
    date-time property indexed as ``attribute``; None when it puts none."""
    comparisons: list[Compare] = []

    def walk(n: Any) -> None:
        if isinstance(n, Logical) and n.op == 'and':
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Compare) and n.prop.attribute == attribute and n.value is not None:
            comparisons.append(n)

    walk(node)
    if not comparisons:
        return None
    low: int | None = None
    low_inclusive = True
    high: int | None = None
    high_inclusive = True
    for c in comparisons:
        if c.op in ('gt', 'ge', 'eq') and (low is None or c.value > low or (c.value == low and c.op == 'gt')):
            low, low_inclusive = c.value, c.op != 'gt'
        if c.op in ('lt', 'le', 'eq') and (high is None or c.value < high or (c.value == high and c.op == 'lt')):
            high, high_inclusive = c.value, c.op != 'lt'
    if low is None and high is None:
        return None
    return low, low_inclusive, high, high_inclusive


def parse_orderby(text: str, allowed: dict[str, str]) -> list[tuple[str, bool]]:
    """``createdDateTime desc, id`` -> [(attribute, descending)], with ``allowed`` mapping property names to
    attributes."""
    lowered = {k.lower(): v for k, v in allowed.items()}
    keys: list[tuple[str, bool]] = []
    for part in text.split(','):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ('asc', 'desc')):
            raise ODataError(f"Syntax error in $orderby: '{text}'.", 'orderby')
        attribute = lowered.get(words[0].lower())
        if attribute is None:
            raise ODataError(f"Order by '{words[0]}' is not supported.", 'orderby')
        keys.append((attribute, len(words) == 2 and words[1].lower() == 'desc'))
    return keys


def parse_count(name: str, raw: str | None) -> int | None:
    """``$top``/``$skip``: a non-negative integer, or None when absent."""
    if raw is None:
        return None
    try:
        value = int(raw.strip())
    except ValueError as exc:
        raise ODataError(f"Invalid value '{raw}' for {name} query option found. The {name} query option requires a "
                         f"non-negative integer value.", 'count') from exc
    if value < 0:
        raise ODataError(f"Invalid value '{raw}' for {name} query option found. The {name} query option requires a "
                         f"non-negative integer value.", 'count')
    return value


def run_incident_query(store: XdrStore, node: Any, order: list[tuple[str, bool]], skip: int,
                       top: int) -> tuple[list[Incident], int]:
    """One page of incidents matching ``node`` in ``order`` (default: newest first), and the number matching.
    Call with ``store.lock`` held if the page is rendered afterwards."""
    with store.lock:
        index_attribute: str | None = None
        bounds = None
        if node is not None:
            for attribute in ('last_update', 'created'):
                bounds = time_bounds(node, attribute)
                if bounds is not None:
                    index_attribute = attribute
                    break
        if bounds is not None:
            low, low_inclusive, high, high_inclusive = bounds
            candidates = store.candidates(index_attribute, low, low_inclusive, high, high_inclusive)
        else:
            index_attribute = 'created'
            candidates = store.candidates()
        if node is not None:
            candidates = [i for i in candidates if node.test(i)]
        order = order or [('created', True)]
        if len(order) == 1 and order[0][0] == index_attribute:
            ordered = candidates[::-1] if order[0][1] else candidates
        else:
            ordered = sort_incidents(candidates, order)
        return ordered[skip:skip + top], len(ordered)
