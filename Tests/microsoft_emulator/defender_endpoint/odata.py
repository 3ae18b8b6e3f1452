"""Defender for Endpoint's OData: ``$filter`` (eq ne gt ge lt le, ``in (...)``, ``startswith/endswith/contains(prop,'x')``,
``machineTags/any(t: t eq 'x')``; and, or, not, parentheses; strings compare case-insensitively), ``$top`` (at most
10,000, the documented maximum and default page), ``$skip``, ``$orderby`` where documented."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ..core.clock import parse_time

MAX_TOP = 10_000    # the documented maximum and default page


class ODataError(ValueError):
    pass


@dataclass(frozen=True)
class Prop:
    name: str
    kind: str                  # string | datetime | number | bool | list


_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<punct>[(),])|(?P<word>[^\s(),']+))")
_FUNCTIONS = ('startswith', 'endswith', 'contains')
_OPS = ('eq', 'ne', 'gt', 'ge', 'lt', 'le')


class Node:
    def test(self, item: dict[str, Any]) -> bool:
        raise NotImplementedError


@dataclass
class Compare(Node):
    prop: Prop
    op: str
    value: Any

    def test(self, item: dict[str, Any]) -> bool:
        actual = _norm(item.get(self.prop.name), self.prop)
        if self.prop.kind == 'list':
            return False
        return _compare(actual, self.op, self.value)


@dataclass
class AnyLambda(Node):
    prop: Prop
    op: str
    value: Any

    def test(self, item: dict[str, Any]) -> bool:
        values = item.get(self.prop.name) or []
        return any(_compare(_norm(v, Prop(self.prop.name, 'string')), self.op, self.value) for v in values)


@dataclass
class Function(Node):
    name: str
    prop: Prop
    value: str

    def test(self, item: dict[str, Any]) -> bool:
        actual = item.get(self.prop.name)
        if actual is None:
            return False
        text = str(actual).lower()
        if self.name == 'startswith':
            return text.startswith(self.value)
        if self.name == 'endswith':
            return text.endswith(self.value)
        return self.value in text


@dataclass
class Logical(Node):
    op: str
    left: Node
    right: Node

    def test(self, item: dict[str, Any]) -> bool:
        if self.op == 'and':
            return self.left.test(item) and self.right.test(item)
        return self.left.test(item) or self.right.test(item)


@dataclass
class Negation(Node):
    operand: Node

    def test(self, item: dict[str, Any]) -> bool:
        return not self.operand.test(item)


def _norm(value: Any, prop: Prop) -> Any:
    if isinstance(value, str) and prop.kind == 'string':
        return value.lower()
    return value


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


class FilterParser:
    def __init__(self, text: str, props: dict[str, Prop], type_name: str):
        self.text = text
        self.props = {k.lower(): v for k, v in props.items()}
        self.type_name = type_name
        self.tokens: list[tuple[str, str, int]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                if not text[position:].strip():
                    break
                raise ODataError(f"Syntax error at position {position} in '{text}'.")
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
        if token is not None and token[1] == '(':
            self.take()
            node = self.expression()
            self.expect(')')
            return node
        if token is not None and token[0] == 'word' and token[1].lower() in _FUNCTIONS:
            following = self.tokens[self.index + 1] if self.index + 1 < len(self.tokens) else None
            if following is not None and following[1] == '(':
                return self.function()
        return self.comparison()

    def prop(self, name: str) -> Prop:
        prop = self.props.get(name.lower())
        if prop is None:
            raise ODataError(f"Could not find a property named '{name}' on type '{self.type_name}'.")
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
        if '/' in name:
            collection, _, operator = name.partition('/')
            if operator.lower() != 'any':
                raise ODataError(f"The lambda operator '{operator}' is not supported (at position {position} in "
                                 f"'{self.text}').")
            return self.lambda_any(self.prop(collection))
        prop = self.prop(name)
        op_kind, op_raw, op_position = self.take()
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
        if op not in _OPS:
            raise ODataError(f"Syntax error: '{op_raw}' is not a supported operator (at position {op_position} in "
                             f"'{self.text}').")
        return Compare(prop, op, self.literal(prop))

    def lambda_any(self, prop: Prop) -> Node:
        if prop.kind != 'list':
            raise ODataError(f"The 'any' operator requires a collection property; '{prop.name}' is not one.")
        self.expect('(')
        variable = self.take()[1].rstrip(':')
        token = self.peek()
        if token is not None and token[1] == ':':
            self.take()
        kind, used, position = self.take()
        if used.lower() != variable.lower():
            raise ODataError(f"Could not find a property named '{used}' on the lambda variable (at position "
                             f"{position} in '{self.text}').")
        op = self.take()[1].lower()
        if op not in _OPS:
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
        if prop.kind == 'datetime':
            try:
                return parse_time(value)
            except ValueError as exc:
                raise ODataError(f"The DateTimeOffset text '{value}' should be in format "
                                 f"'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid "
                                 f"range.") from exc
        if prop.kind == 'number':
            try:
                return float(value) if "." in value else int(value)
            except ValueError as exc:
                raise ODataError(f"'{value}' is not a valid value for the property '{prop.name}'.") from exc
        if prop.kind == 'bool':
            if value.lower() not in ('true', 'false'):
                raise ODataError(f"'{value}' is not a valid value for the property '{prop.name}'.")
            return value.lower() == 'true'
        if not quoted:
            raise ODataError(f"Syntax error: the value '{raw}' for '{prop.name}' must be a quoted string (at "
                             f"position {position} in '{self.text}').")
        return value.lower()


def time_bounds(node: Node | None, name: str) -> tuple[int | None, int | None]:
    """The inclusive range a top-level ``and`` chain puts on a date-time property (to bisect an index)."""
    low: int | None = None
    high: int | None = None

    def walk(n: Node | None) -> None:
        nonlocal low, high
        if isinstance(n, Logical) and n.op == 'and':
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Compare) and n.prop.name == name and isinstance(n.value, int):
            if n.op in ('gt', 'ge', 'eq'):
                low = n.value if low is None else max(low, n.value)
            if n.op in ('lt', 'le', 'eq'):
                high = n.value if high is None else min(high, n.value)

    walk(node)
    return low, high


@dataclass
class Query:
    node: Node | None
    top: int
    skip: int
    order: list[tuple[str, bool]]
    top_given: bool


def _count(name: str, raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise ODataError(f"Invalid value '{raw}' for {name} query option found. The {name} query option requires a "
                         f"non-negative integer value.")
    return value


def parse_query(request: Request, props: dict[str, Prop], type_name: str,
                orderable: tuple[str, ...] = ()) -> Query:
    options = {k.lower(): v for k, v in request.query_params.items() if k.startswith('$')}
    top = _count('$top', options.get('$top'))
    skip = _count('$skip', options.get('$skip')) or 0
    if top is not None and top > MAX_TOP:
        raise ODataError(f"The limit of '{MAX_TOP}' for Top query has been exceeded. The value from the incoming "
                         f"request is '{top}'.")
    node = FilterParser(options['$filter'], props, type_name).parse() if '$filter' in options else None
    order: list[tuple[str, bool]] = []
    if '$orderby' in options:
        allowed = {o.lower(): o for o in orderable}
        for part in options['$orderby'].split(','):
            words = part.split()
            if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ('asc', 'desc')):
                raise ODataError(f"Syntax error in $orderby: '{options['$orderby']}'.")
            if words[0].lower() not in allowed:
                raise ODataError(f"Order by '{words[0]}' is not allowed. Allowed properties: "
                                 f"{', '.join(orderable) or 'none'}.")
            order.append((allowed[words[0].lower()], len(words) == 2 and words[1].lower() == 'desc'))
    return Query(node, MAX_TOP if top is None else top, skip, order, top is not None)


