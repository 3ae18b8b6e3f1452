"""Defender XDR's advanced hunting tables: generated rows (the size of each can be changed, up to 1,000,000, with
``POST /_emulator/xdr/hunting-rows``), rows a test added, and AlertInfo (the incident store's alerts). Kept in the
incident store's ``hunting`` dict so a store reset drops them."""
from __future__ import annotations

from typing import Any

from ..core.clock import TICKS_PER_SECOND, now_ticks, parse_time
from ..core.hunting import TABLE_SCHEMAS, Row, register_hunting_source
from .instance import get_store
from .seed import DEFAULT_ROWS, hunting_row
from .store import DETECTION_SOURCES, SERVICE_SOURCES, SEVERITY, XdrStore

MAX_TABLE_ROWS = 1_000_000


def _hunting(store: XdrStore) -> dict[str, Any]:
    state = store.hunting
    if 'anchor' not in state:
        state['anchor'] = now_ticks() // TICKS_PER_SECOND * TICKS_PER_SECOND
        state['sizes'] = dict(DEFAULT_ROWS)
        state['rows'] = {}
        state['extra'] = {}
    return state


def table_names() -> list[str]:
    return list(TABLE_SCHEMAS)


def set_table_size(store: XdrStore, table: str, count: int) -> int:
    """Generated rows of ``table`` (not AlertInfo, which reflects the incident store)."""
    if table not in TABLE_SCHEMAS or table == 'AlertInfo':
        raise ValueError(f"unknown or read-only table {table!r}; tables: "
                         f"{', '.join(t for t in TABLE_SCHEMAS if t != 'AlertInfo')}")
    if not 0 <= count <= MAX_TABLE_ROWS:
        raise ValueError(f'count must be between 0 and {MAX_TABLE_ROWS}')
    with store.lock:
        state = _hunting(store)
        state['sizes'][table] = count
        state['rows'].pop(table, None)
    return count


def add_rows(store: XdrStore, table: str, rows: list[dict[str, Any]]) -> int:
    """Append rows given by a test (missing columns are null; Timestamp defaults to now; ISO strings accepted)."""
    schema = TABLE_SCHEMAS.get(table)
    if schema is None or table == 'AlertInfo':
        raise ValueError(f'unknown or read-only table {table!r}')
    names = {name for name, _ in schema}
    converted = []
    for row in rows:
        if not isinstance(row, dict):
            raise ValueError('rows must be objects')
        unknown = set(row) - names
        if unknown:
            raise ValueError(f"unknown column(s) for {table}: {', '.join(sorted(unknown))}")
        out = {name: row.get(name) for name, _ in schema}
        stamp = row.get('Timestamp')
        out['Timestamp'] = parse_time(stamp) if isinstance(stamp, str) else now_ticks() if stamp is None else stamp
        converted.append(out)
    with store.lock:
        state = _hunting(store)
        state['extra'].setdefault(table, []).extend(converted)
        return len(state['extra'][table])


def table_rows(store: XdrStore, table: str) -> list[Row]:
    with store.lock:
        state = _hunting(store)
        if table == 'AlertInfo':
            cached = state['rows'].get(table)
            if cached is None or cached[0] != store.version:
                rows: list[Row] = [{
                    'Timestamp': a.created, 'AlertId': a.alert_id, 'Title': a.title, 'Category': a.category,
                    'Severity': SEVERITY[a.severity], 'ServiceSource': SERVICE_SOURCES[a.service_source][0],
                    'DetectionSource': DETECTION_SOURCES[a.detection_source][0],
                    'AttackTechniques': str(list(a.mitre_techniques)).replace("'", '"'),
                } for a in store.alerts.values()]
                rows.sort(key=lambda r: r['Timestamp'], reverse=True)
                cached = (store.version, rows)
                state['rows'][table] = cached
            return cached[1]
        rows = state['rows'].get(table)
        if rows is None:
            anchor = state['anchor']
            rows = [hunting_row(table, i, anchor) for i in range(state['sizes'].get(table, 0))]
            state['rows'][table] = rows
        extra = state['extra'].get(table)
        return rows + extra if extra else rows


class XdrTables:
    """The :class:`~microsoft_emulator.core.hunting.HuntingTables` of one incident store."""

    def __init__(self, store: XdrStore):
        self.store = store

    def rows(self, table: str) -> list[Row]:
        return table_rows(self.store, table)


def _tenant_source(ctx: Any) -> XdrTables:
    return XdrTables(get_store(ctx))


# Graph runHuntingQuery (module graph_security) sees the Defender XDR tables too.
register_hunting_source('graph_security', _tenant_source, rank=0)
