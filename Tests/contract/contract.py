"""Helpers of the contract tests: fixtures as Microsoft documents them, and a shape comparison that says which
documented field is missing or has another JSON type."""
from __future__ import annotations

import json
import urllib.parse
from typing import Any

from contract.endpoints import ENDPOINTS, Endpoint

# Documented differences that are fixed elsewhere: the named check is left out here, with the reason.
KNOWN_DIFFERENCES: dict[str, str] = {}

ODATA_OPTIONS = frozenset({'$filter', '$top', '$skip', '$orderby', '$expand', '$select', '$count', '$search'})


def load(endpoint: Endpoint) -> dict[str, Any]:
    return json.loads(endpoint.fixture.read_text())


def with_fixtures() -> list[Endpoint]:
    return [e for e in ENDPOINTS if e.fixture.exists()]


def json_type(value: Any) -> str:
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, (int, float)):
        return 'number'
    if isinstance(value, str):
        return 'string'
    if isinstance(value, list):
        return 'array'
    return 'object'


def shape_problems(documented: Any, actual: Any, where: str = '$') -> list[str]:
    """Every documented field missing from ``actual`` or of another JSON type (null matches any type: Microsoft
    sends null for unset fields). In arrays, each documented item must match at least one actual item."""
    doc_type, got_type = json_type(documented), json_type(actual)
    if 'null' in (doc_type, got_type):
        return []
    if doc_type != got_type:
        return [f'{where}: documented {doc_type}, got {got_type}']
    if doc_type == 'object':
        problems = []
        for key, value in documented.items():
            if key not in actual:
                problems.append(f'{where}.{key}: missing')
            else:
                problems += shape_problems(value, actual[key], f'{where}.{key}')
        return problems
    if doc_type == 'array' and documented and actual:
        problems = []
        for index, item in enumerate(documented):
            candidates = [shape_problems(item, got, f'{where}[{index}]') for got in actual]
            best = min(candidates, key=len)
            problems += best
        return problems
    return []


def query_names(url: str) -> set[str]:
    return set(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query, keep_blank_values=True))


def same_path(documented: str, sent: str) -> bool:
    """Defender paths are case-insensitive at Microsoft; OData function arguments may be percent-encoded."""
    def norm(path: str) -> str:
        return urllib.parse.unquote(path).rstrip('/').lower()
    return norm(documented) == norm(sent)


def body_problems(documented: Any, sent: Any, where: str = '$') -> list[str]:
    """The sent body has exactly the documented top-level fields; nested objects send no undocumented field."""
    if isinstance(documented, dict) and isinstance(sent, dict):
        problems = [f'{where}.{k}: documented, not sent' for k in documented if k not in sent and where == '$']
        problems += [f'{where}.{k}: sent, not documented' for k in sent if k not in documented]
        for key in set(documented) & set(sent):
            problems += body_problems(documented[key], sent[key], f'{where}.{key}')
        return problems
    if isinstance(documented, list) and isinstance(sent, list) and documented and sent:
        return [p for item in sent for p in body_problems(documented[0], item, f'{where}[]')]
    return []
