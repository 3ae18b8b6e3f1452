"""Defender for Endpoint's query options over the core OData engine: ``$filter`` (with ``startswith/endswith/
contains(prop,'x')`` and ``machineTags/any(t: t eq 'x')``; strings compare case-insensitively), ``$top`` (at most
10,000, the documented maximum and default page), ``$skip``, and ``$orderby`` where documented."""
from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request

from ..core.odata import Node, ODataError, Prop, parse_count, parse_filter, parse_orderby, query_options

MAX_TOP = 10_000    # the documented maximum and default page


@dataclass
class Query:
    node: Node | None
    top: int
    skip: int
    order: list[tuple[str, bool]]
    top_given: bool


_STRING_LITERAL = re.compile(r"('(?:[^']|'')*')")
_PLUS_JOINED = re.compile(r'\+(eq|ne|gt|ge|lt|le|and|or)\+', re.IGNORECASE)


def plus_as_space(expression: str) -> str:
    """``alertCreationTime+gt+2024-01-01T00:00:00Z``: a filter whose words are joined by '+' (form-style spaces) that
    reached the server as literal '+' characters. The official integration's alert fetch sends its filter this way
    and Defender for Endpoint answers it, so the emulator reads such a '+' around an operator as a space. String
    literals are left alone, and so is a '+' anywhere else (a time zone offset, say)."""
    parts = _STRING_LITERAL.split(expression)
    return ''.join(part if i % 2 else _PLUS_JOINED.sub(r' \1 ', part) for i, part in enumerate(parts))


def parse_query(request: Request, props: dict[str, Prop], type_name: str,
                orderable: tuple[str, ...] = ()) -> Query:
    options = query_options(request.query_params.items())
    top = parse_count('$top', options.get('$top'))
    skip = parse_count('$skip', options.get('$skip')) or 0
    if top is not None and top > MAX_TOP:
        raise ODataError(f"The limit of '{MAX_TOP}' for Top query has been exceeded. The value from the incoming "
                         f"request is '{top}'.")
    node = parse_filter(plus_as_space(options['$filter']), props, type_name, functions=True, lambdas=True) \
        if '$filter' in options else None
    order = parse_orderby(options['$orderby'], {o: o for o in orderable}) if '$orderby' in options else []
    return Query(node, MAX_TOP if top is None else top, skip, order, top is not None)
