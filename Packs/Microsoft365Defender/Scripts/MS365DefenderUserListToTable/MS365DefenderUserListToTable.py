"""Transformer: turns the users impacted by an incident into the rows of the Microsoft 365 Defender Users grid.

The incoming mapper joins the user names with commas before calling this script; a playbook may pass a list.
Duplicates are dropped, the first spelling wins.
"""
from typing import Any

import demistomock as demisto
from CommonServerPython import *  # noqa: F401,F403


def users_to_rows(value: Any) -> list[dict[str, str]]:
    """One grid row per distinct user, in the order given."""
    items = value if isinstance(value, list) else str(value or '').split(',')
    users = [text for text in (str(item).strip() for item in items) if text]
    return [{'user': user} for user in dict.fromkeys(users)]


def main() -> None:  # pragma: no cover - exercised through the tests of users_to_rows
    try:
        demisto.results(users_to_rows(demisto.args().get('value')))
    except Exception as error:
        return_error(f'MS365DefenderUserListToTable failed: {error}')


if __name__ in ('__main__', '__builtin__', 'builtins'):
    main()
