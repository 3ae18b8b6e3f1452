"""The Defender for Endpoint API's routes, one file per area, all registered on ``common.module``. Within a file the
order matters (``/api/machines/findbyip(...)`` is matched before ``/api/machines/{machine_id}``); the areas' paths do
not overlap, so the order of the areas does not."""
from __future__ import annotations

from . import actions, alert_routes, files, hunting_routes, indicators, investigations, machines
from .common import module

AREAS = (machines, actions, investigations, files, indicators, alert_routes, hunting_routes)

__all__ = ['AREAS', 'module']
