"""The incident store's query: one page of incidents matching a parsed ``$filter`` in an order, using the store's
time indexes when the filter bounds a date-time property (shared by the Defender XDR and Graph security lists)."""
from __future__ import annotations

from ..core.odata import Node, time_bounds
from .store import Incident, XdrStore, sort_incidents


def run_incident_query(store: XdrStore, node: Node | None, order: list[tuple[str, bool]], skip: int,
                       top: int) -> tuple[list[Incident], int]:
    """One page of incidents matching ``node`` in ``order`` (default: newest first), and the number matching.
    Call with ``store.lock`` held if the page is rendered afterwards."""
    with store.lock:
        index_attribute: str | None = None
        bounds = None
        if node is not None:
            for attribute in ('last_update', 'created'):
                bounds = time_bounds(node, attribute)
                if bounds is not None:
                    index_attribute = attribute
                    break
        if bounds is not None:
            low, low_inclusive, high, high_inclusive = bounds
            candidates = store.candidates(index_attribute, low, low_inclusive, high, high_inclusive)
        else:
            index_attribute = 'created'
            candidates = store.candidates()
        if node is not None:
            candidates = [i for i in candidates if node.test(i)]
        order = order or [('created', True)]
        if len(order) == 1 and order[0][0] == index_attribute:
            ordered = candidates[::-1] if order[0][1] else candidates
        else:
            ordered = sort_incidents(candidates, order)
        return ordered[skip:skip + top], len(ordered)
