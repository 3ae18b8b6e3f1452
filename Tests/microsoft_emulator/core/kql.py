"""A small Kusto (KQL) engine for advanced hunting, over the tables a product supplies (:class:`HuntingTables`;
schemas in ``core/hunting.py``). Defender XDR's tables are generated rows plus its incident store's alerts, Defender
for Endpoint's are derived from its machines. Supported query language::

    [let name = <scalar literal>; | let name = <tabular expression>; | let name = (<tabular expression>);]...
    Table-or-let-name [| operator]... [;]
    where <predicate>          == != =~ !~ < <= > >=  has !has has_cs contains !contains contains_cs
                               startswith !startswith endswith !endswith  in (..) !in (..) in~ (..)
                               has_any (..) has_all (..)
                               isempty(c) isnotempty(c) isnull(c) isnotnull(c); and, or, not(..), parentheses
    project c1, c2, New = c3    project-away c1, c2
    take N | limit N            order by c [asc|desc], ...  (also sort by; descending by default, as in KQL)
    top N by c [asc|desc]       count                          distinct c1, c2
    summarize [Name =] count() | dcount(c), ... [by c1, c2]   (groups in first-seen order, the by columns first)
    join [kind=innerunique|inner|leftouter|leftsemi|leftanti] (<tabular expression>) on c1, c2
                               (or ``join Table on c``; the right side's columns follow the left's, a name the left
                               already has gets a number: NetworkMessageId1, Timestamp1, as Kusto names them)

Literals: strings ("..." or '...' with backslash escapes, @"..." verbatim, h"..." obfuscated), integers, reals,
true/false, datetime(2026-01-01T10:00:00Z), ago(1d), now(), timespans (1d, 2h, 30m, 10s, 100ms). ``//`` comments.

Anything else is refused with Microsoft's wording: ``Query could not be parsed at '<token>' on line [line,pos]``
for syntax (and for real KQL operators this engine does not implement), and ``'where' operator: Failed to resolve
column or scalar expression named 'X'. Fix semantic errors in your query.``-style semantic errors. Results are capped
at 100,000 rows, Microsoft's documented limit; a time window (default: the last 30 days) applies to ``Timestamp``.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .clock import TICKS_PER_SECOND, format_time, now_ticks, parse_time
from .hunting import TABLE_SCHEMAS, HuntingTables, Row

MAX_RESULT_ROWS = 100_000
DEFAULT_WINDOW = 30 * 86400 * TICKS_PER_SECOND

# Real KQL tabular operators this engine does not implement: refused with a pointer to the emulator's subset.
KNOWN_UNSUPPORTED = frozenset({
    'extend', 'union', 'mv-expand', 'mvexpand', 'parse', 'evaluate', 'render', 'make-series',
    'lookup', 'project-rename', 'project-reorder', 'serialize', 'search', 'sample', 'sample-distinct', 'top-nested',
    'as', 'invoke', 'facet', 'fork', 'getschema', 'reduce', 'scan', 'partition', 'parse-where', 'mv-apply',
    'top-hitters', 'find', 'extend-keep',
})




class KqlError(ValueError):
    def __init__(self, message: str, kind: str = 'syntax'):
        super().__init__(message)
        self.kind = kind


# ----- tokens -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    kind: str          # ident, string, number, timespan, op, end
    value: Any
    text: str
    line: int
    col: int


_TIMESPAN_UNITS = {'d': 86400 * TICKS_PER_SECOND, 'day': 86400 * TICKS_PER_SECOND, 'days': 86400 * TICKS_PER_SECOND,
                   'h': 3600 * TICKS_PER_SECOND, 'hr': 3600 * TICKS_PER_SECOND, 'hrs': 3600 * TICKS_PER_SECOND,
                   'hour': 3600 * TICKS_PER_SECOND, 'hours': 3600 * TICKS_PER_SECOND,
                   'm': 60 * TICKS_PER_SECOND, 'min': 60 * TICKS_PER_SECOND, 'minute': 60 * TICKS_PER_SECOND,
                   'minutes': 60 * TICKS_PER_SECOND, 's': TICKS_PER_SECOND, 'sec': TICKS_PER_SECOND,
                   'second': TICKS_PER_SECOND, 'seconds': TICKS_PER_SECOND, 'ms': TICKS_PER_SECOND // 1000,
                   'milli': TICKS_PER_SECOND // 1000, 'millis': TICKS_PER_SECOND // 1000,
                   'millisecond': TICKS_PER_SECOND // 1000, 'milliseconds': TICKS_PER_SECOND // 1000,
                   'microsecond': 10, 'microseconds': 10, 'tick': 1, 'ticks': 1}
_NUMBER = re.compile(r'(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)([A-Za-z]+)?')
_IDENT = re.compile(r'[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z]+)*')
_OPERATORS = ('==', '!=', '=~', '!~', '<=', '>=', '<>', '..', '|', '(', ')', ',', ';', '<', '>', '=', '[', ']', '.',
              '+', '-', '*', '/', '%', '{', '}', ':', '!')
_ESCAPES = {'n': '\n', 't': '\t', 'r': '\r', '\\': '\\', '"': '"', "'": "'", '0': '\0'}


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    i, line, line_start = 0, 1, 0
    n = len(query)

    def fail(at: int, text: str) -> KqlError:
        return KqlError(f"Query could not be parsed at '{text}' on line [{line},{at - line_start}]")

    while i < n:
        ch = query[i]
        if ch == '\n':
            i += 1
            line, line_start = line + 1, i
            continue
        if ch in ' \t\r':
            i += 1
            continue
        if query.startswith('//', i):
            while i < n and query[i] != '\n':
                i += 1
            continue
        col = i - line_start
        verbatim = ch == '@' and i + 1 < n and query[i + 1] in '"\''
        hidden = ch in 'hH' and i + 1 < n and query[i + 1] in '"\''
        if ch in '"\'' or verbatim or hidden:
            start = i
            if verbatim or hidden:
                i += 1
            quote = query[i]
            i += 1
            chars: list[str] = []
            while True:
                if i >= n or query[i] == '\n':
                    raise fail(start, query[start:i].split('\n')[0][:40])
                c = query[i]
                if verbatim:
                    if c == quote:
                        if i + 1 < n and query[i + 1] == quote:
                            chars.append(quote)
                            i += 2
                            continue
                        i += 1
                        break
                    chars.append(c)
                    i += 1
                    continue
                if c == '\\':
                    if i + 1 >= n:
                        raise fail(start, query[start:i + 1])
                    e = query[i + 1]
                    if e in _ESCAPES:
                        chars.append(_ESCAPES[e])
                        i += 2
                    elif e == 'u' and re.fullmatch(r'[0-9A-Fa-f]{4}', query[i + 2:i + 6] or ''):
                        chars.append(chr(int(query[i + 2:i + 6], 16)))
                        i += 6
                    else:
                        raise fail(i, query[i:i + 2])
                    continue
                if c == quote:
                    i += 1
                    break
                chars.append(c)
                i += 1
            tokens.append(Token('string', ''.join(chars), query[start:i], line, col))
            continue
        if ch.isdigit():
            match = _NUMBER.match(query, i)
            assert match is not None
            number, unit = match.groups()
            text = match.group(0)
            if unit:
                if unit.lower() not in _TIMESPAN_UNITS:
                    raise fail(i, text)
                tokens.append(Token('timespan', int(float(number) * _TIMESPAN_UNITS[unit.lower()]), text, line, col))
            else:
                value: Any = float(number) if any(c in number for c in '.eE') else int(number)
                tokens.append(Token('number', value, text, line, col))
            i = match.end()
            continue
        if ch == '!' and i + 1 < n and (query[i + 1].isalpha()):
            match = _IDENT.match(query, i + 1)
            assert match is not None
            word = '!' + match.group(0)
            end = match.end()
            if query.startswith('~', end):
                word, end = word + '~', end + 1
            tokens.append(Token('op', word.lower(), word, line, col))
            i = end
            continue
        if ch.isalpha() or ch == '_':
            match = _IDENT.match(query, i)
            assert match is not None
            word = match.group(0)
            end = match.end()
            if word.lower() == 'in' and query.startswith('~', end):
                word, end = word + '~', end + 1
            tokens.append(Token('ident', word, word, line, col))
            i = end
            if word.lower() == 'datetime':
                # datetime(2026-01-01T10:00:00.5Z): the argument is raw text, not tokens
                j = i
                while j < n and query[j] in ' \t':
                    j += 1
                if j < n and query[j] == '(':
                    close = query.find(')', j)
                    if close < 0 or '\n' in query[j:close]:
                        raise fail(j, '(')
                    tokens.append(Token('op', '(', '(', line, j - line_start))
                    tokens.append(Token('raw', query[j + 1:close].strip(), query[j + 1:close], line,
                                        j + 1 - line_start))
                    tokens.append(Token('op', ')', ')', line, close - line_start))
                    i = close + 1
            continue
        for op in _OPERATORS:
            if query.startswith(op, i):
                tokens.append(Token('op', op, op, line, col))
                i += len(op)
                break
        else:
            raise fail(i, ch)
    tokens.append(Token('end', None, '<end of query>', line, n - line_start))
    return tokens


# ----- syntax tree --------------------------------------------------------------------------------------------------

@dataclass
class Column:
    name: str
    token: Token


@dataclass
class Literal:
    value: Any
    type: str            # String, Int64, Double, Boolean, DateTime, TimeSpan, Null


@dataclass
class Condition:
    op: str                                   # comparison operator, 'and', 'or', 'not', or a function name
    left: Any = None
    right: Any = None
    items: list[Literal] = field(default_factory=list)
    token: Token | None = None


@dataclass
class Operator:
    name: str
    token: Token
    condition: Condition | None = None
    columns: list[tuple[str, Column]] = field(default_factory=list)   # (output name, source column)
    count: int = 0
    keys: list[tuple[Column, bool]] = field(default_factory=list)      # (column, descending)
    aggregates: list[tuple[str, str, Column | None]] = field(default_factory=list)   # summarize: (name, fn, column)
    right: Query | None = None      # join: the right side
    kind: str = ''                  # join: its kind


@dataclass
class Query:
    table: Token
    operators: list[Operator]
    source: Query | None = None     # the tabular ``let`` the query starts from (None: the table named ``table``)


STRING_OPS = {'has', '!has', 'has_cs', '!has_cs', 'contains', '!contains', 'contains_cs', '!contains_cs',
              'startswith', '!startswith', 'startswith_cs', '!startswith_cs', 'endswith', '!endswith',
              'endswith_cs', '!endswith_cs', '=~', '!~'}
COMPARE_OPS = {'==', '!=', '<', '<=', '>', '>=', '<>'}
IN_OPS = {'in', '!in', 'in~', '!in~'}
TERM_LIST_OPS = {'has_any', 'has_all'}   # whole-term matches against a list, case-insensitive
LIST_OPS = IN_OPS | TERM_LIST_OPS
# Join kinds this engine implements (Kusto's default is innerunique); the others are refused by name.
JOIN_KINDS = {'innerunique', 'inner', 'leftouter', 'leftsemi', 'leftanti'}
KUSTO_JOIN_KINDS = JOIN_KINDS | {'rightouter', 'fullouter', 'rightsemi', 'rightanti'}


_SCALAR_STARTS = {'true', 'false', 'datetime', 'ago', 'now', 'timespan', 'time', 'long', 'int', 'real', 'double',
                  'bool', 'boolean', 'dynamic'}


class Parser:
    def __init__(self, query: str):
        self.tokens = tokenize(query)
        self.i = 0
        self.scalars: dict[str, Literal] = {}     # let name = scalar;
        self.tabular: dict[str, Query] = {}       # let name = tabular expression;

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    @staticmethod
    def error(token: Token) -> KqlError:
        return KqlError(f"Query could not be parsed at '{token.text}' on line [{token.line},{token.col}]")

    def expect_op(self, op: str) -> Token:
        token = self.next()
        if token.kind != 'op' or token.value != op:
            raise self.error(token)
        return token

    def word(self, *words: str) -> Token | None:
        token = self.peek()
        if token.kind == 'ident' and token.value.lower() in words:
            return self.next()
        return None

    def parse(self) -> Query:
        """``[let name = scalar | tabular expression;]... tabular expression [;]``."""
        while self.word('let'):
            self.let_statement()
        query = self.tabular_expression()
        if self.peek().kind == 'op' and self.peek().value == ';':
            self.next()
        if self.peek().kind != 'end':
            raise self.error(self.peek())
        return query

    def let_statement(self) -> None:
        name = self.next()
        if name.kind != 'ident':
            raise self.error(name)
        self.expect_op('=')
        token = self.peek()
        if token.kind == 'op' and token.value == '(' and self.peek(1).kind == 'ident' \
                and self.peek(1).value.lower() not in _SCALAR_STARTS:
            self.next()
            self.bind(name.value, tabular=self.tabular_expression())
            self.expect_op(')')
        elif token.kind == 'ident' and token.value.lower() not in _SCALAR_STARTS and token.value not in self.scalars:
            self.bind(name.value, tabular=self.tabular_expression())
        else:
            self.bind(name.value, scalar=self.literal())
        self.expect_op(';')

    def bind(self, name: str, *, scalar: Literal | None = None, tabular: Query | None = None) -> None:
        """A later ``let`` of the same name replaces the earlier one, as in KQL."""
        self.scalars.pop(name, None)
        self.tabular.pop(name, None)
        if scalar is not None:
            self.scalars[name] = scalar
        if tabular is not None:
            self.tabular[name] = tabular

    def tabular_expression(self) -> Query:
        table = self.next()
        if table.kind != 'ident':
            raise self.error(table)
        operators = []
        while self.peek().kind == 'op' and self.peek().value == '|':
            self.next()
            operators.append(self.operator())
        return Query(table, operators, self.tabular.get(table.value))

    def operator(self) -> Operator:
        token = self.next()
        if token.kind != 'ident':
            raise self.error(token)
        name = token.value.lower()
        if name in ('where', 'filter'):
            return Operator('where', token, condition=self.condition())
        if name == 'project':
            return Operator('project', token, columns=self.projection(allow_rename=True))
        if name == 'project-away':
            return Operator('project-away', token, columns=self.projection(allow_rename=False))
        if name == 'distinct':
            return Operator('distinct', token, columns=self.projection(allow_rename=False))
        if name in ('take', 'limit'):
            return Operator('take', token, count=self.integer())
        if name in ('order', 'sort'):
            if not self.word('by'):
                raise self.error(self.peek())
            return Operator('order', token, keys=self.sort_keys())
        if name == 'top':
            count = self.integer()
            if not self.word('by'):
                raise self.error(self.peek())
            return Operator('top', token, count=count, keys=self.sort_keys(single=True))
        if name == 'count':
            return Operator('count', token)
        if name == 'summarize':
            aggregates = self.aggregates()
            by = self.projection(allow_rename=False) if self.word('by') else []
            return Operator('summarize', token, aggregates=aggregates, columns=by)
        if name == 'join':
            return self.join(token)
        if name in KNOWN_UNSUPPORTED:
            raise KqlError(f"Query could not be parsed at '{token.text}' on line [{token.line},{token.col}] "
                           f"(the Microsoft emulator does not implement the '{name}' operator)")
        raise self.error(token)

    def join(self, token: Token) -> Operator:
        """``join [kind=K] (<tabular expression>) on c1[, c2]`` or ``join [kind=K] Table on c``."""
        kind = 'innerunique'
        if self.word('kind'):
            self.expect_op('=')
            chosen = self.next()
            if chosen.kind != 'ident' or chosen.value.lower() not in KUSTO_JOIN_KINDS:
                raise self.error(chosen)
            kind = chosen.value.lower()
            if kind not in JOIN_KINDS:
                raise KqlError(f"Query could not be parsed at '{chosen.text}' on line [{chosen.line},{chosen.col}] "
                               f"(the Microsoft emulator does not implement join kind={kind})")
        if self.peek().kind == 'op' and self.peek().value == '(':
            self.next()
            right = self.tabular_expression()
            self.expect_op(')')
        else:
            right = self.tabular_expression()
        if not self.word('on'):
            raise self.error(self.peek())
        return Operator('join', token, columns=self.projection(allow_rename=False), right=right, kind=kind)

    def aggregates(self) -> list[tuple[str, str, Column | None]]:
        """``[Name =] count() | dcount(Column)``, comma-separated; KQL names an unnamed one count_ / dcount_<Column>."""
        found: list[tuple[str, str, Column | None]] = []
        while True:
            name = None
            if self.peek().kind == 'ident' and self.peek(1).kind == 'op' and self.peek(1).value == '=':
                name = self.next().value
                self.next()
            function = self.next()
            if function.kind != 'ident' or function.value.lower() not in ('count', 'dcount'):
                raise self.error(function)
            self.expect_op('(')
            column = None
            if function.value.lower() == 'dcount':
                column = self.column()
            self.expect_op(')')
            fn = function.value.lower()
            found.append((name or (f'dcount_{column.name}' if column else 'count_'), fn, column))
            if self.peek().kind == 'op' and self.peek().value == ',':
                self.next()
                continue
            return found

    def integer(self) -> int:
        token = self.next()
        bound = self.scalars.get(token.value) if token.kind == 'ident' else None
        if bound is not None and bound.type == 'Int64' and bound.value >= 0:
            return int(bound.value)
        if token.kind != 'number' or not isinstance(token.value, int):
            raise self.error(token)
        return token.value

    def column(self) -> Column:
        token = self.next()
        if token.kind != 'ident' or token.value.lower() in ('and', 'or', 'by'):
            raise self.error(token)
        return Column(token.value, token)

    def projection(self, allow_rename: bool) -> list[tuple[str, Column]]:
        columns = []
        while True:
            first = self.column()
            if allow_rename and self.peek().kind == 'op' and self.peek().value == '=':
                self.next()
                columns.append((first.name, self.column()))
            else:
                columns.append((first.name, first))
            if self.peek().kind == 'op' and self.peek().value == ',':
                self.next()
                continue
            return columns

    def sort_keys(self, single: bool = False) -> list[tuple[Column, bool]]:
        keys = []
        while True:
            column = self.column()
            descending = True
            direction = self.word('asc', 'desc')
            if direction is not None:
                descending = direction.value.lower() == 'desc'
            if self.word('nulls') and not self.word('first', 'last'):
                raise self.error(self.peek())
            keys.append((column, descending))
            if not single and self.peek().kind == 'op' and self.peek().value == ',':
                self.next()
                continue
            return keys

    # predicates
    def condition(self) -> Condition:
        left = self.conjunction()
        while self.word('or'):
            left = Condition('or', left, self.conjunction())
        return left

    def conjunction(self) -> Condition:
        left = self.primary()
        while self.word('and'):
            left = Condition('and', left, self.primary())
        return left

    def primary(self) -> Condition:
        token = self.peek()
        if token.kind == 'op' and token.value == '(':
            self.next()
            inner = self.condition()
            self.expect_op(')')
            return inner
        if token.kind == 'ident' and token.value.lower() == 'not' and self.peek(1).value == '(':
            self.next()
            self.next()
            inner = self.condition()
            self.expect_op(')')
            return Condition('not', inner, token=token)
        if token.kind == 'ident' and token.value.lower() in ('isempty', 'isnotempty', 'isnull', 'isnotnull') \
                and self.peek(1).value == '(':
            self.next()
            self.next()
            column = self.column()
            self.expect_op(')')
            return Condition(token.value.lower(), column, token=token)
        column = self.column()
        op_token = self.next()
        op = str(op_token.value).lower() if op_token.kind in ('op', 'ident') else ''
        if op in LIST_OPS:
            self.expect_op('(')
            items = [self.literal()]
            while self.peek().kind == 'op' and self.peek().value == ',':
                self.next()
                items.append(self.literal())
            self.expect_op(')')
            return Condition(op, column, items=items, token=op_token)
        if op in STRING_OPS or op in COMPARE_OPS:
            return Condition(op, column, self.literal(), token=op_token)
        raise self.error(op_token)

    def literal(self) -> Literal:
        token = self.next()
        if token.kind == 'string':
            return Literal(token.value, 'String')
        if token.kind == 'number':
            return Literal(token.value, 'Double' if isinstance(token.value, float) else 'Int64')
        if token.kind == 'timespan':
            return Literal(token.value, 'TimeSpan')
        if token.kind == 'op' and token.value == '-' and self.peek().kind in ('number', 'timespan'):
            inner = self.literal()
            return Literal(-inner.value, inner.type)
        if token.kind == 'ident':
            if token.value in self.scalars:
                return self.scalars[token.value]
            word = token.value.lower()
            if word in ('true', 'false'):
                return Literal(word == 'true', 'Boolean')
            if word in ('datetime', 'ago', 'now', 'timespan', 'time', 'long', 'int', 'real', 'double', 'bool',
                        'boolean', 'dynamic'):
                return self.function_literal(token, word)
        raise self.error(token)

    def function_literal(self, token: Token, word: str) -> Literal:
        self.expect_op('(')
        if word == 'now':
            self.expect_op(')')
            return Literal(now_ticks(), 'DateTime')
        if word == 'ago':
            span = self.literal()
            if span.type != 'TimeSpan':
                raise self.error(token)
            self.expect_op(')')
            return Literal(now_ticks() - span.value, 'DateTime')
        if word == 'datetime':
            raw = self.next()
            if raw.kind != 'raw':
                raise self.error(raw)
            self.expect_op(')')
            try:
                return Literal(parse_time(str(raw.value).strip('"\'')), 'DateTime')
            except ValueError as exc:
                raise self.error(raw) from exc
        if word in ('timespan', 'time'):
            span = self.literal()
            self.expect_op(')')
            return Literal(span.value, 'TimeSpan')
        if word in ('long', 'int'):
            value = self.literal()
            self.expect_op(')')
            return Literal(int(value.value), 'Int64')
        if word in ('real', 'double'):
            value = self.literal()
            self.expect_op(')')
            return Literal(float(value.value), 'Double')
        if word in ('bool', 'boolean'):
            value = self.literal()
            self.expect_op(')')
            return Literal(bool(value.value), 'Boolean')
        raise self.error(token)


# ----- evaluation ---------------------------------------------------------------------------------------------------

_NUMERIC = {'Int64', 'Int32', 'Double'}


def _type_name(kql_type: str) -> str:
    return {'String': 'string', 'Int64': 'long', 'Int32': 'int', 'Double': 'real', 'Boolean': 'bool',
            'DateTime': 'datetime', 'TimeSpan': 'timespan', 'Object': 'dynamic'}.get(kql_type, kql_type.lower())


def _has_term(haystack: str, needle: str) -> bool:
    """KQL ``has``: the needle's terms are whole terms of the haystack. A needle that starts or ends with a
    separator (``@"\\Startup"``, ``" cl "``) carries its own boundary on that side."""
    if not needle:
        return True
    start = 0
    while True:
        index = haystack.find(needle, start)
        if index < 0:
            return False
        before = haystack[index - 1] if index and needle[0].isalnum() else ' '
        after_index = index + len(needle)
        after = haystack[after_index] if after_index < len(haystack) and needle[-1].isalnum() else ' '
        if not before.isalnum() and not after.isalnum():
            return True
        start = index + 1


def _string_test(op: str, value: str) -> Callable[[Any], bool]:
    if op in ('==', '!='):
        kind, cs, negate = 'eq', True, op == '!='
    elif op in ('=~', '!~'):
        kind, cs, negate = 'eq', False, op == '!~'
    else:
        negate = op.startswith('!')
        base = op.lstrip('!')
        cs = base.endswith('_cs')
        kind = base.removesuffix('_cs')
    needle = value if cs else value.lower()

    def test(actual: Any) -> bool:
        text = '' if actual is None else str(actual) if cs else str(actual).lower()
        if kind == 'eq':
            result = text == needle
        elif kind == 'has':
            result = _has_term(text, needle)
        elif kind == 'contains':
            result = needle in text
        elif kind == 'startswith':
            result = text.startswith(needle)
        else:
            result = text.endswith(needle)
        return not result if negate else result
    return test


class Executor:
    def __init__(self, tables: HuntingTables):
        self.tables = tables

    def compile(self, condition: Condition, schema: dict[str, str], operator: str) -> Callable[[Row], bool]:
        op = condition.op
        if op in ('and', 'or'):
            left = self.compile(condition.left, schema, operator)
            right = self.compile(condition.right, schema, operator)
            return (lambda r: left(r) and right(r)) if op == 'and' else (lambda r: left(r) or right(r))
        if op == 'not':
            inner = self.compile(condition.left, schema, operator)
            return lambda r: not inner(r)
        column: Column = condition.left
        name = self.resolve(column, schema, operator)
        column_type = schema[name]
        if op in ('isempty', 'isnotempty', 'isnull', 'isnotnull'):
            empty = (lambda v: v is None or v == '') if op.endswith('empty') else (lambda v: v is None)
            return (lambda r: empty(r.get(name))) if op in ('isempty', 'isnull') else (lambda r: not empty(r.get(name)))
        if op in TERM_LIST_OPS:
            terms = [str(i.value).lower() for i in condition.items]
            match_all = op == 'has_all'

            def has_terms(r: Row) -> bool:
                text = '' if r.get(name) is None else str(r.get(name)).lower()
                found = (_has_term(text, t) for t in terms)
                return all(found) if match_all else any(found)
            return has_terms
        if op in IN_OPS:
            for item in condition.items:
                self.check_types(column_type, item, operator, op)
            insensitive = op.endswith('~')
            values = {str(i.value).lower() if insensitive else i.value for i in condition.items}
            negate = op.startswith('!')

            def member(r: Row) -> bool:
                v = r.get(name)
                found = (str(v).lower() if insensitive and v is not None else v) in values
                return not found if negate else found
            return member
        literal: Literal = condition.right
        self.check_types(column_type, literal, operator, op)
        if column_type == 'String' and (op in STRING_OPS or op in ('==', '!=', '<>')):
            test = _string_test('!=' if op == '<>' else op, str(literal.value))
            return lambda r: test(r.get(name))
        if op in STRING_OPS:
            test = _string_test(op, str(literal.value))
            return lambda r: test(r.get(name))
        expected = literal.value

        def compare(r: Row) -> bool:
            v = r.get(name)
            if v is None:
                return op in ('!=', '<>') and expected is not None
            if op == '==':
                return bool(v == expected)
            if op in ('!=', '<>'):
                return bool(v != expected)
            if op == '<':
                return bool(v < expected)
            if op == '<=':
                return bool(v <= expected)
            if op == '>':
                return bool(v > expected)
            return bool(v >= expected)
        return compare

    @staticmethod
    def check_types(column_type: str, literal: Literal, operator: str, op: str) -> None:
        if op in STRING_OPS:
            if literal.type != 'String':
                raise KqlError(f"'{operator}' operator: The operator '{op}' expects a string argument. Fix semantic "
                               f"errors in your query.", 'semantic')
            return
        ok = (column_type == literal.type or (column_type in _NUMERIC and literal.type in _NUMERIC)
              or (column_type == 'Boolean' and literal.type == 'Boolean'))
        if not ok:
            raise KqlError(f"'{operator}' operator: Cannot compare values of types {_type_name(column_type)} and "
                           f"{_type_name(literal.type)}. Try adding explicit casts. Fix semantic errors in your "
                           f"query.", 'semantic')

    @staticmethod
    def resolve(column: Column, schema: dict[str, str], operator: str) -> str:
        if column.name in schema:
            return column.name
        raise KqlError(f"'{operator}' operator: Failed to resolve column or scalar expression named "
                       f"'{column.name}'. Fix semantic errors in your query.", 'semantic')

    def summarize(self, op: Operator, schema: dict[str, str], rows: list[Row]) -> tuple[list[tuple[str, str]], list[Row]]:
        """One row per distinct value of the by columns (one row in all without them): the by columns, then each
        aggregate (count() rows, dcount(c) distinct non-null values of c)."""
        by = [self.resolve(src, schema, 'summarize') for _, src in op.columns]
        measured = [(name, fn, self.resolve(column, schema, 'summarize') if column else None)
                    for name, fn, column in op.aggregates]
        groups: dict[tuple[Any, ...], list[Row]] = {}
        for r in rows:
            groups.setdefault(tuple(r.get(n) for n in by), []).append(r)
        if not by and not groups:
            groups[()] = []
        out = []
        for key, members in groups.items():
            row: Row = dict(zip(by, key, strict=True))
            for name, _, column in measured:                   # count() has no column, dcount(c) has one
                row[name] = len(members) if column is None else len({m.get(column) for m in members} - {None})
            out.append(row)
        return [(n, schema[n]) for n in by] + [(name, 'Int64') for name, _, _ in measured], out

    def join(self, op: Operator, columns: list[tuple[str, str]], rows: list[Row],
             window: tuple[int, int] | None) -> tuple[list[tuple[str, str]], list[Row]]:
        """Rows of the left side paired with the right side's rows of equal keys (a null key matches nothing), as
        Kusto joins: innerunique keeps the first left row of each key, leftouter keeps unmatched left rows with empty
        right columns, leftsemi/leftanti keep the left rows that have (have no) match, with the left columns only."""
        assert op.right is not None
        right_columns, right_rows = self.evaluate(op.right, window)
        left_schema, right_schema = dict(columns), dict(right_columns)
        keys = [self.resolve(c, left_schema, 'join') for _, c in op.columns]
        for _, c in op.columns:
            self.resolve(c, right_schema, 'join')
        index: dict[tuple[Any, ...], list[Row]] = {}
        for r in right_rows:
            key = tuple(r.get(k) for k in keys)
            if None not in key:
                index.setdefault(key, []).append(r)
        if op.kind == 'innerunique':
            first: dict[tuple[Any, ...], Row] = {}
            for r in rows:
                first.setdefault(tuple(r.get(k) for k in keys), r)
            rows = list(first.values())
        if op.kind in ('leftsemi', 'leftanti'):
            wanted = op.kind == 'leftsemi'
            return columns, [r for r in rows if (tuple(r.get(k) for k in keys) in index) == wanted]
        taken = {name for name, _ in columns}
        renamed = []                                     # (right name, output name, type)
        for name, kql_type in right_columns:
            out, n = name, 0
            while out in taken:
                n += 1
                out = f'{name}{n}'
            taken.add(out)
            renamed.append((name, out, kql_type))
        joined = []
        for r in rows:
            matches = index.get(tuple(r.get(k) for k in keys), [])
            if not matches and op.kind == 'leftouter':
                joined.append({**r, **{out: None for _, out, _ in renamed}})
            joined.extend({**r, **{out: m.get(name) for name, out, _ in renamed}} for m in matches)
        return columns + [(out, t) for _, out, t in renamed], joined

    def run(self, query_text: str, window: tuple[int, int] | None) -> tuple[list[tuple[str, str]], list[Row]]:
        return self.evaluate(Parser(query_text).parse(), window)

    def evaluate(self, query: Query, window: tuple[int, int] | None) -> tuple[list[tuple[str, str]], list[Row]]:
        """A tabular expression: its source (a ``let``-bound expression, or a table within the time window), then
        its operators."""
        columns: list[tuple[str, str]]
        rows: list[Row]
        if query.source is not None:
            columns, rows = self.evaluate(query.source, window)
        else:
            table = query.table.value
            schema_list = TABLE_SCHEMAS.get(table)
            if schema_list is None:
                first = query.operators[0].token.value.lower() if query.operators else None
                prefix = f"'{first}' operator: " if first else ''
                raise KqlError(f"{prefix}Failed to resolve table or column expression named '{table}'. Fix semantic "
                               f"errors in your query.", 'semantic')
            columns = list(schema_list)
            rows = self.tables.rows(table)
            if window is not None and any(name == 'Timestamp' for name, _ in columns):
                start, end = window
                rows = [r for r in rows if r['Timestamp'] is not None and start <= r['Timestamp'] <= end]
        for op in query.operators:
            schema = dict(columns)
            if op.name == 'where':
                assert op.condition is not None
                test = self.compile(op.condition, schema, 'where')
                rows = [r for r in rows if test(r)]
            elif op.name == 'project':
                mapping = [(out, self.resolve(src, schema, 'project')) for out, src in op.columns]
                columns = [(out, schema[src]) for out, src in mapping]
                rows = [{out: r.get(src) for out, src in mapping} for r in rows]
            elif op.name == 'project-away':
                drop = {self.resolve(src, schema, 'project-away') for _, src in op.columns}
                columns = [(n, t) for n, t in columns if n not in drop]
                rows = [{n: r.get(n) for n, _ in columns} for r in rows]
            elif op.name == 'distinct':
                names = [self.resolve(src, schema, 'distinct') for _, src in op.columns]
                columns = [(n, schema[n]) for n in names]
                seen: dict[tuple[Any, ...], Row] = {}
                for r in rows:
                    key = tuple(r.get(n) for n in names)
                    if key not in seen:
                        seen[key] = {n: r.get(n) for n in names}
                rows = list(seen.values())
            elif op.name == 'take':
                rows = rows[:op.count]
            elif op.name in ('order', 'top'):
                keys = [(self.resolve(c, schema, 'top' if op.name == 'top' else 'order'), d) for c, d in op.keys]
                rows = list(rows)
                for name, descending in reversed(keys):
                    present = [r for r in rows if r.get(name) is not None]
                    missing = [r for r in rows if r.get(name) is None]
                    present.sort(key=lambda r, n=name: r[n], reverse=descending)   # type: ignore[misc]
                    rows = present + missing if descending else missing + present
                if op.name == 'top':
                    rows = rows[:op.count]
            elif op.name == 'count':
                columns = [('Count', 'Int64')]
                rows = [{'Count': len(rows)}]
            elif op.name == 'summarize':
                columns, rows = self.summarize(op, schema, rows)
            elif op.name == 'join':
                columns, rows = self.join(op, columns, rows, window)
        return columns, rows[:MAX_RESULT_ROWS]


def render_rows(columns: list[tuple[str, str]], rows: list[Row]) -> list[Row]:
    dates = [name for name, kind in columns if kind == 'DateTime']
    if not dates:
        return [dict(r) for r in rows]
    out = []
    for r in rows:
        item = dict(r)
        for name in dates:
            item[name] = format_time(item.get(name))
        out.append(item)
    return out


_DURATION = re.compile(r'^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?'
                       r'(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$', re.IGNORECASE)


def parse_duration(text: str) -> int:
    match = _DURATION.match(text.strip())
    if not match or text.strip().upper() in ('P', 'PT') or text.strip().upper().endswith('T'):
        raise ValueError(f'not an ISO 8601 duration: {text!r}')
    years, months, weeks, days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = (((years * 365 + months * 30 + weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds
    return int(total * TICKS_PER_SECOND)


def parse_timespan(text: str | None, now: int | None = None) -> tuple[int, int]:
    """Graph's ``Timespan``: ``P30D``, ``start/end``, ``P30D/end``, ``start/P30D`` or a start date; none means the
    last 30 days. Returns (start, end) ticks. Raises ``ValueError``."""
    now = now_ticks() if now is None else now
    if text is None or not str(text).strip():
        return now - DEFAULT_WINDOW, now
    text = str(text).strip()
    if '/' in text:
        first, _, second = text.partition('/')
        if first.upper().startswith('P'):
            end = parse_time(second)
            return end - parse_duration(first), end
        start = parse_time(first)
        if second.upper().startswith('P'):
            return start, start + parse_duration(second)
        return start, parse_time(second)
    if text.upper().startswith('P'):
        return now - parse_duration(text), now
    return parse_time(text), now


@dataclass
class HuntingResult:
    columns: list[tuple[str, str]]
    rows: list[Row]
    seconds: float


def run_query(tables: HuntingTables, query: str, window: tuple[int, int] | None) -> HuntingResult:
    started = time.perf_counter()
    columns, rows = Executor(tables).run(query, window)
    return HuntingResult(columns, render_rows(columns, rows), time.perf_counter() - started)
