"""The one OData engine: ``$filter``, ``$orderby``, ``$top``/``$skip``, ``$count``, ``$select`` and ``$expand``, each
product taking the parts its API supports.

``$filter`` grammar: ``eq ne gt ge lt le``, ``in (...)``, ``and``/``or``/``not``, parentheses; with
``functions=True`` also ``startswith/endswith/contains(prop, 'x')``, with ``lambdas=True`` also
``collection/any(t: t eq 'x')``. A filter is parsed against a table of the properties the API allows
(:class:`Prop`), which also says how literals are read:

* ``datetime``: unquoted ISO 8601 as OData writes it, or quoted -> ticks;
* ``enum``: quoted, either spelling of a two-spelling table (Graph's camelCase or the legacy PascalCase), any case;
* ``string``: quoted, ``''`` escapes a quote, compared case-insensitively;
* ``int``, ``number``, ``bool``; ``list`` (only through ``any``); ``null`` for every kind;
* ``any``: the type-less properties of an API without a schema table (``props=None``: Threat Intelligence), where a
  property is a path (``parentHost/id``), a literal's syntax gives its type, and a collection matches when one of
  its values does.

Items are objects read through ``Prop.get`` or dicts read by the property's name. :func:`time_bounds` pulls the range
a top-level ``and`` chain puts on one date-time property, so a store can bisect its index instead of scanning.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .clock import parse_time


class ODataError(ValueError):
    """A query the service would refuse (400). ``kind`` says which option (filter, property, value, orderby, count,
    select, expand, option) so a product can word its envelope."""

    def __init__(self, message: str, kind: str = 'filter'):
        super().__init__(message)
        self.kind = kind


def lookup(item: Any, path: str) -> Any:
    """``a/b`` in nested dicts (None when a step is missing)."""
    for part in path.split('/'):
        item = item.get(part) if isinstance(item, dict) else None
    return item


def enum_lookup(value: Any, table: dict[str, str], aliases: dict[str, str] | None = None) -> str | None:
    """Either spelling (any case) of a ``{canonical: other spelling}`` table -> the canonical value, or None."""
    if not isinstance(value, str):
        return None
    lowered = value.strip().lower()
    for canonical, other in table.items():
        if lowered in (canonical.lower(), other.lower()):
            return canonical
    if aliases and lowered in aliases:
        return aliases[lowered]
    return None


@dataclass(frozen=True)
class Prop:
    name: str
    kind: str                                   # datetime | enum | string | int | number | bool | list | any
    get: Callable[[Any], Any] | None = None     # how to read it from an item (default: the dict key / path)
    enum: dict[str, str] | None = None          # canonical value -> other spelling (for enums)
    attribute: str | None = None                # the store index this date-time property can use

    def value(self, item: Any) -> Any:
        return self.get(item) if self.get is not None else lookup(item, self.name)


COMPARISONS = ('eq', 'ne', 'gt', 'ge', 'lt', 'le')
FUNCTIONS = ('startswith', 'endswith', 'contains')
_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<punct>[(),])|(?P<word>[^\s(),']+))")
_NUMBER = re.compile(r'^-?\d+(?:\.\d+)?$')
_DATE = re.compile(r'^\d{4}-\d{2}-\d{2}(?:T[\d:.]+Z?)?$')


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op == 'in':
        return actual in expected
    if op == 'eq':
        return bool(actual == expected)
    if op == 'ne':
        return bool(actual != expected)
    if actual is None or expected is None:
        return False
    try:
        if op == 'gt':
            return bool(actual > expected)
        if op == 'ge':
            return bool(actual >= expected)
        if op == 'lt':
            return bool(actual < expected)
        return bool(actual <= expected)
    except TypeError:
        return False


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _loose(op: str, actual: Any, expected: Any) -> bool:
    """Comparison of a type-less property: a collection matches when one value does; eq/ne ignore case."""
    if op == 'in':
        return any(_loose('eq', actual, v) for v in expected)
    if isinstance(actual, list):
        return any(_loose(op, v, expected) for v in actual)
    if op in ('eq', 'ne'):
        return _compare(_fold(actual), op, _fold(expected))
    return _compare(actual, op, expected)


class Node:
    def test(self, item: Any) -> bool:
        raise NotImplementedError


@dataclass
class Compare(Node):
    prop: Prop
    op: str
    value: Any

    def test(self, item: Any) -> bool:
        actual = self.prop.value(item)
        if self.prop.kind == 'list':
            return False
        if self.prop.kind == 'any':
            return _loose(self.op, actual, self.value)
        if self.prop.kind == 'string' and isinstance(actual, str):
            actual = actual.lower()
        return _compare(actual, self.op, self.value)


@dataclass
class AnyLambda(Node):
    prop: Prop
    op: str
    value: Any

    def test(self, item: Any) -> bool:
        return any(_compare(_fold(v), self.op, self.value) for v in self.prop.value(item) or [])


@dataclass
class Function(Node):
    name: str
    prop: Prop
    value: str

    def test(self, item: Any) -> bool:
        actual = self.prop.value(item)
        if self.prop.kind == 'any':
            values = actual if isinstance(actual, list) else [actual]
            return any(isinstance(v, str) and self._matches(v.lower()) for v in values)
        return actual is not None and self._matches(str(actual).lower())

    def _matches(self, text: str) -> bool:
        if self.name == 'startswith':
            return text.startswith(self.value)
        if self.name == 'endswith':
            return text.endswith(self.value)
        return self.value in text


@dataclass
class Logical(Node):
    op: str                  # and | or
    left: Node
    right: Node

    def test(self, item: Any) -> bool:
        if self.op == 'and':
            return self.left.test(item) and self.right.test(item)
        return self.left.test(item) or self.right.test(item)


@dataclass
class Negation(Node):
    operand: Node

    def test(self, item: Any) -> bool:
        return not self.operand.test(item)


class FilterParser:
    """Recursive descent over the tokens of one ``$filter`` expression."""

    def __init__(self, text: str, props: dict[str, Prop] | None, type_name: str, known: Iterable[str] = (), *,
                 functions: bool = False, lambdas: bool = False):
        self.text = text
        self.props = {k.lower(): v for k, v in props.items()} if props is not None else None
        self.known = {k.lower(): k for k in known}
        self.type_name = type_name
        self.functions = functions
        self.lambdas = lambdas
        self.tokens: list[tuple[str, str, int]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                if not text[position:].strip():
                    break
                raise self.error(position)
            kind = match.lastgroup or 'word'
            self.tokens.append((kind, match.group(kind), match.start(kind)))
            position = match.end()
        self.index = 0

    def error(self, position: int | None = None) -> ODataError:
        if position is None:
            return ODataError(f"Syntax error: unexpected end of the expression '{self.text}'.")
        return ODataError(f"Syntax error at position {position} in '{self.text}'.")

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise self.error()
        self.index += 1
        return token

    def expect(self, punct: str) -> None:
        token = self.take()
        if token[1] != punct:
            raise self.error(token[2])

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == 'word' and token[1].lower() == word:
            self.index += 1
            return True
        return False

    def parse(self) -> Node:
        if not self.tokens:
            raise ODataError('The $filter expression must not be empty.')
        node = self.expression()
        token = self.peek()
        if token is not None:
            raise self.error(token[2])
        return node

    def expression(self) -> Node:
        node = self.conjunction()
        while self.keyword('or'):
            node = Logical('or', node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.unary()
        while self.keyword('and'):
            node = Logical('and', node, self.unary())
        return node

    def unary(self) -> Node:
        if self.keyword('not'):
            return Negation(self.unary())
        token = self.peek()
        if token is not None and token[0] == 'punct' and token[1] == '(':
            self.take()
            node = self.expression()
            self.expect(')')
            return node
        if self.functions and token is not None and token[0] == 'word' and token[1].lower() in FUNCTIONS:
            following = self.tokens[self.index + 1] if self.index + 1 < len(self.tokens) else None
            if following is not None and following[1] == '(':
                return self.function()
        return self.comparison()

    def prop(self, name: str) -> Prop:
        if self.props is None:
            return Prop(name, 'any')
        prop = self.props.get(name.lower())
        if prop is None and name.lower() in self.known:
            raise ODataError(f"The property '{self.known[name.lower()]}' cannot be used in the $filter query option.",
                             'property')
        if prop is None:
            raise ODataError(f"Could not find a property named '{name}' on type '{self.type_name}'.", 'property')
        return prop

    def function(self) -> Node:
        name = self.take()[1].lower()
        self.expect('(')
        kind, prop_name, position = self.take()
        if kind != 'word':
            raise self.error(position)
        prop = self.prop(prop_name)
        self.expect(',')
        kind, raw, position = self.take()
        if kind != 'string':
            raise ODataError(f"The function '{name}' expects a string literal (at position {position} in "
                             f"'{self.text}').")
        self.expect(')')
        return Function(name, prop, raw[1:-1].replace("''", "'").lower())

    def comparison(self) -> Node:
        kind, name, position = self.take()
        if kind != 'word':
            raise self.error(position)
        if self.lambdas and '/' in name:
            collection, _, operator = name.partition('/')
            if operator.lower() != 'any':
                raise ODataError(f"The lambda operator '{operator}' is not supported (at position {position} in "
                                 f"'{self.text}').")
            return self.lambda_any(self.prop(collection))
        prop = self.prop(name)
        _, op_raw, op_position = self.take()
        op = op_raw.lower()
        if op == 'in':
            self.expect('(')
            values = [self.literal(prop)]
            while True:
                token = self.take()
                if token[1] == ')':
                    break
                if token[1] != ',':
                    raise self.error(token[2])
                values.append(self.literal(prop))
            return Compare(prop, 'in', values)
        if op not in COMPARISONS:
            raise ODataError(f"Syntax error: '{op_raw}' is not a supported operator (at position {op_position} in "
                             f"'{self.text}').")
        if prop.kind == 'enum' and op not in ('eq', 'ne'):
            raise ODataError(f"The operator '{op}' is not supported for the property '{prop.name}'.")
        return Compare(prop, op, self.literal(prop))

    def lambda_any(self, prop: Prop) -> Node:
        if prop.kind != 'list':
            raise ODataError(f"The 'any' operator requires a collection property; '{prop.name}' is not one.")
        self.expect('(')
        variable = self.take()[1].rstrip(':')
        token = self.peek()
        if token is not None and token[1] == ':':
            self.take()
        _, used, position = self.take()
        if used.lower() != variable.lower():
            raise ODataError(f"Could not find a property named '{used}' on the lambda variable (at position "
                             f"{position} in '{self.text}').")
        op = self.take()[1].lower()
        if op not in COMPARISONS:
            raise ODataError(f"Syntax error: '{op}' is not a supported operator in '{self.text}'.")
        value = self.literal(Prop(prop.name, 'string'))
        self.expect(')')
        return AnyLambda(prop, op, value)

    def literal(self, prop: Prop) -> Any:
        kind, raw, position = self.take()
        if kind == 'punct':
            raise self.error(position)
        quoted = kind == 'string'
        value = raw[1:-1].replace("''", "'") if quoted else raw
        if not quoted and raw.lower() == 'null':
            return None
        if prop.kind == 'any':
            return value if quoted else self._typed(raw, prop, position)
        if prop.kind == 'datetime':
            try:
                return parse_time(value)
            except ValueError as exc:
                raise ODataError(f"The DateTimeOffset text '{value}' should be in format "
                                 f"'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid "
                                 f"range.") from exc
        if prop.kind in ('int', 'number'):
            try:
                return float(value) if prop.kind == 'number' and '.' in value else int(value)
            except ValueError as exc:
                raise ODataError(f"'{value}' is not a valid value for the property '{prop.name}'.") from exc
        if prop.kind == 'bool':
            if value.lower() not in ('true', 'false'):
                raise ODataError(f"'{value}' is not a valid value for the property '{prop.name}'.")
            return value.lower() == 'true'
        if not quoted:
            raise self._unquoted(raw, prop, position)
        if prop.kind == 'enum':
            assert prop.enum is not None
            canonical = enum_lookup(value, prop.enum)
            if canonical is None:
                raise ODataError(f"The string '{value}' is not a valid enumerated type constant for the property "
                                 f"'{prop.name}'.", 'value')
            return canonical
        return value.lower()

    def _typed(self, raw: str, prop: Prop, position: int) -> Any:
        """An unquoted literal of a type-less property: boolean, number or date (kept as text, which compares in
        order against ISO 8601 values)."""
        if raw.lower() in ('true', 'false'):
            return raw.lower() == 'true'
        if _NUMBER.match(raw):
            return float(raw) if '.' in raw else int(raw)
        if _DATE.match(raw):
            return raw
        raise self._unquoted(raw, prop, position)

    def _unquoted(self, raw: str, prop: Prop, position: int) -> ODataError:
        return ODataError(f"Syntax error: the value '{raw}' for '{prop.name}' must be a quoted string "
                          f"(at position {position} in '{self.text}').")


def parse_filter(text: str, props: dict[str, Prop] | None, type_name: str = '', known: Iterable[str] = (), *,
                 functions: bool = False, lambdas: bool = False) -> Node:
    """``props``: the filterable properties (None: any property path, type-less). ``known``: properties of the type
    that exist but may not be filtered on (a different error)."""
    return FilterParser(text, props, type_name, known, functions=functions, lambdas=lambdas).parse()


def time_bounds(node: Node | None, attribute: str) -> tuple[int | None, bool, int | None, bool] | None:
    """(low, low_inclusive, high, high_inclusive) that the top-level ``and`` chain of ``node`` puts on the
    date-time property indexed as ``attribute`` (its ``Prop.attribute``, else its name); None when it puts none."""
    comparisons: list[Compare] = []

    def walk(n: Node | None) -> None:
        if isinstance(n, Logical) and n.op == 'and':
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Compare) and (n.prop.attribute or n.prop.name) == attribute and n.prop.kind == 'datetime' \
                and isinstance(n.value, int):
            comparisons.append(n)

    walk(node)
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


def parse_orderby(text: str, allowed: dict[str, str] | None) -> list[tuple[str, bool]]:
    """``createdDateTime desc, id`` -> [(key, descending)]; ``allowed`` maps the orderable property names to the
    keys the product sorts by (None: any property, kept as written)."""
    lowered = {k.lower(): v for k, v in allowed.items()} if allowed is not None else None
    keys: list[tuple[str, bool]] = []
    for part in text.split(','):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ('asc', 'desc')):
            raise ODataError(f"Syntax error in $orderby: '{text}'.", 'orderby')
        key = words[0] if lowered is None else lowered.get(words[0].lower())
        if key is None:
            assert allowed is not None
            raise ODataError(f"Order by '{words[0]}' is not supported. Allowed properties: "
                             f"{', '.join(allowed) or 'none'}.", 'orderby')
        keys.append((key, len(words) == 2 and words[1].lower() == 'desc'))
    return keys


def parse_count(name: str, raw: str | None) -> int | None:
    """``$top``/``$skip``: a non-negative integer, or None when absent."""
    if raw is None:
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise ODataError(f"Invalid value '{raw}' for {name} query option found. The {name} query option requires a "
                         f"non-negative integer value.", 'count')
    return value


def parse_bool(name: str, raw: str | None) -> bool:
    """``$count=true|false`` (absent: false)."""
    if raw is None:
        return False
    if raw.lower() in ('true', 'false'):
        return raw.lower() == 'true'
    raise ODataError(f"'{raw}' is not a valid count option.", 'count')


def parse_select(raw: str | None, properties: Sequence[str] | None, type_name: str) -> list[str] | None:
    """``$select=a,b`` -> the names (None when absent), each checked against ``properties`` (None: any)."""
    if raw is None:
        return None
    names = [s.strip() for s in raw.split(',') if s.strip()]
    for name in names:
        if properties is not None and name not in properties:
            raise ODataError(f"Could not find a property named '{name}' on type '{type_name}'.", 'select')
    return names


def parse_expand(raw: str | None, expandable: Sequence[str], message: Callable[[str], str]) -> set[str]:
    """``$expand=a,b`` -> the (lower-case) navigation properties asked for; ``message(name)`` words the refusal of
    one that is not in ``expandable``."""
    if raw is None:
        return set()
    parts = [p.strip() for p in raw.split(',') if p.strip()]
    allowed = {e.lower() for e in expandable}
    for part in parts:
        if part.lower() not in allowed:
            raise ODataError(message(part), 'expand')
    return {p.lower() for p in parts}


def query_options(request_params: Iterable[tuple[str, str]], allowed: Sequence[str] | None = None) -> dict[str, str]:
    """The request's ``$`` options by lower-case name; with ``allowed``, any other option is refused (as an ASP.NET
    OData service with AllowedQueryOptions refuses it)."""
    options: dict[str, str] = {}
    for key, value in request_params:
        if not key.startswith('$'):
            continue
        if allowed is not None and key.lower() not in allowed:
            raise ODataError(f"Query option '{key}' is not allowed. To allow it, set the 'AllowedQueryOptions' "
                             f"property on EnableQueryAttribute or QueryValidationSettings.", 'option')
        options[key.lower()] = value
    return options
