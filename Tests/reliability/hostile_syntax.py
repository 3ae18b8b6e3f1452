"""Reading back what the integrations sent: URL path templates, OData ``$filter`` literals and KQL string literals.

An injection holds when the request a hostile value produced has the same *shape* as the one a harmless marker
produced — the same route with the value as one path segment, the same filter or query with only the literal's
content changed — and the value comes back intact from that one segment or literal.
"""
from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

from microsoft_emulator.core import kql

_ODATA_STRING = re.compile(r"'(?:[^']|'')*'")


def split_url(url: str) -> tuple[list[str], set[str], str]:
    """Raw path segments (still percent-encoded), query option names, fragment."""
    parts = urllib.parse.urlsplit(url)
    return parts.path.split('/'), set(urllib.parse.parse_qs(parts.query, keep_blank_values=True)), parts.fragment


def segment_of(url: str, value: str) -> int | None:
    """Index of the path segment that decodes to ``value`` (as sent, or trimmed/lower-cased), if any."""
    wanted = {value, value.strip(), value.lower(), value.strip().lower()}
    for index, segment in enumerate(split_url(url)[0]):
        if segment and urllib.parse.unquote(segment) in wanted:
            return index
    return None


def same_route_with(url: str, template_url: str, index: int, value: str) -> str:
    """'' when ``url`` is ``template_url`` with segment ``index`` replaced by ``value`` as one segment; else why not."""
    segments, options, fragment = split_url(url)
    expected, expected_options, _ = split_url(template_url)
    if fragment:
        return f'a fragment reached the URL: {url}'
    if len(segments) != len(expected):
        return f'the path has {len(segments)} segments, the route {len(expected)}: {url}'
    if [s for i, s in enumerate(segments) if i != index] != [s for i, s in enumerate(expected) if i != index]:
        return f'the route changed: {urllib.parse.urlsplit(url).path}'
    if urllib.parse.unquote(segments[index]) not in {value, value.strip(), value.lower(), value.strip().lower()}:
        return f'the segment decodes to {urllib.parse.unquote(segments[index])!r}, not the value'
    if not options <= expected_options:
        return f'new query options appeared: {sorted(options - expected_options)}'
    return ''


def odata_filters(url: str) -> list[str]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get('$filter', [])


def odata_literals(text: str) -> tuple[str, list[str]]:
    """(the filter's shape: every string literal as '?', grouping parentheses dropped — a builder may add redundant
    ones —, and the literals' decoded values)."""
    values = [m.group(0)[1:-1].replace("''", "'") for m in _ODATA_STRING.finditer(text)]
    shape = re.sub(r'[()]', ' ', _ODATA_STRING.sub("'?'", text))
    return ' '.join(shape.split()), values


def kql_queries(sent: Any) -> list[str]:
    body = sent.json_body() if sent.body else None
    if isinstance(body, dict):
        return [str(body[k]) for k in ('Query', 'query') if isinstance(body.get(k), str)]
    return []


def kql_literals(query: str) -> tuple[str, list[str]]:
    """(the query's token kinds and texts with each string literal as '?', the literals' decoded values) — tokenized
    by the emulator's KQL lexer, the same one that answers the hunting APIs."""
    tokens = kql.tokenize(query)
    shape = ' '.join('?' if t.kind == 'string' else t.text for t in tokens)
    return shape, [t.value for t in tokens if t.kind == 'string']


def find_marker(outcome: Any, marker: str) -> tuple[str, int] | None:
    """Where a marker value landed: ('filter', call index) or ('kql', call index), or None."""
    for index, sent in enumerate(outcome.api_calls):
        if any(marker in odata_literals(f)[1] for f in odata_filters(sent.url)):
            return 'filter', index
        for query in kql_queries(sent):
            try:
                if marker in kql_literals(query)[1]:
                    return 'kql', index
            except kql.KqlError:
                continue
    return None


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)[:160]
