"""Defender for Endpoint's advanced hunting tables, derived from the store's machines, files and alerts
(``seed.hunting_tables``) plus rows a test added, and cached until the store changes."""
from __future__ import annotations

from typing import Any

from ..core.hunting import Row, register_hunting_source
from .instance import get_store
from .seed import hunting_tables
from .store import MdeStore


class MdeTables:
    """The :class:`~microsoft_emulator.core.hunting.HuntingTables` of one snapshot of the store."""

    def __init__(self, tables: dict[str, list[Row]]):
        self.tables = tables

    def rows(self, table: str) -> list[Row]:
        return self.tables.get(table, [])


def hunting_view(store: MdeStore) -> MdeTables:
    """The tables for a query, rebuilt only when machines, alerts, added rows or the anchor changed."""
    with store.lock:
        key = (len(store.machines), len(store.alerts), sum(len(r) for r in store.hunting_extra.values()),
               store.hunting_anchor)
        cached = store.hunting_cache
        if cached is not None and cached[0] == key:
            view: MdeTables = cached[1]
            return view
        view = MdeTables(hunting_tables(store))
        store.hunting_cache = (key, view)
        return view


def _tenant_source(ctx: Any) -> MdeTables:
    return hunting_view(get_store(ctx))


# Graph runHuntingQuery sees the device tables this product fills, exactly as /api/advancedqueries/run does.
register_hunting_source('defender_endpoint', _tenant_source, rank=1)
