"""Transformer: turns the categories of an incident's alerts into the rows of the Categories count grid.

The incoming mapper joins the alerts' categories (one per alert, repeats kept) with commas before calling this
script, so the value is either that text or, when called from a playbook, a list.
"""
from collections import Counter
from typing import Any

import demistomock as demisto
from CommonServerPython import *  # noqa: F401,F403


def split_values(value: Any) -> list[str]:
    """The non-empty, trimmed items of a comma-separated text or a list (the two shapes a transformer receives)."""
    items = value if isinstance(value, list) else str(value or '').split(',')
    return [text for text in (str(item).strip() for item in items) if text]


def count_categories(value: Any) -> list[dict[str, Any]]:
    """One grid row per category, in the order the categories first appear, with how many alerts have it."""
    return [{'category': category, 'count': count} for category, count in Counter(split_values(value)).items()]


def main() -> None:  # pragma: no cover - exercised through the tests of count_categories
    try:
        demisto.results(count_categories(demisto.args().get('value')))
    except Exception as error:
        return_error(f'MS365DefenderCountIncidentCategories failed: {error}')


if __name__ in ('__main__', '__builtin__', 'builtins'):
    main()
