"""The Defender for Endpoint API's routes, one file per area, registered on ``common.module`` in this order (the
order matters: ``/api/machines/findbyip(...)`` must be matched before ``/api/machines/{machine_id}``)."""
from __future__ import annotations

from . import actions, alert_routes, files, hunting_routes, indicators, investigations, machines
from .common import module

AREAS = (machines, actions, investigations, files, indicators, alert_routes, hunting_routes)

__all__ = ['AREAS', 'module']
