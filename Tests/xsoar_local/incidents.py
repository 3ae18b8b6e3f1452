"""The incidents an instance created, as the server keeps them: classified and mapped at fetch, with an ID, a status,
their fields and war-room notes, updated in place by mirroring and by local changes between cycles.

One JSON file per incident under ``.xsoar-local/instances/<instance>/incidents/`` (a fetch of thousands of incidents
writes only the new ones) and an index from mirror ID to incident ID for mirroring.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .content import incoming_setup
from .instances import Instance
from .integrations import Integration
from .mapping import map_incoming
from .state import InstanceStore, _read_json, _write_json_atomic

ACTIVE, CLOSED = 1, 2


def now_iso() -> str:
    return datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


class IncidentStore:
    """The mapped incidents of one instance."""

    def __init__(self, store: InstanceStore) -> None:
        self.store = store
        self.directory = store.directory / 'incidents'
        self.directory.mkdir(parents=True, exist_ok=True)
        self._index_path = self.directory / 'index.json'

    def _path(self, incident_id: str) -> Path:
        if not str(incident_id).isdigit():
            raise LookupError(f'"{incident_id}" is not an incident ID (incident IDs are numbers).')
        return self.directory / f'{int(incident_id)}.json'

    def create(self, incidents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Give each new incident the next ID and an active status, as the server does on creation."""
        with self.store.lock():
            index = _read_json(self._index_path, {'next': 1, 'mirror': {}})
            created = []
            for incident in incidents:
                incident = {**incident, 'id': str(index['next']), 'status': incident.get('status', ACTIVE),
                            'created': now_iso()}
                incident.setdefault('warRoom', [])
                _write_json_atomic(self._path(incident['id']), incident)
                if incident.get('dbotMirrorId'):
                    index['mirror'][str(incident['dbotMirrorId'])] = incident['id']
                index['next'] += 1
                created.append(incident)
            _write_json_atomic(self._index_path, index)
        return created

    def get(self, incident_id: str) -> dict[str, Any]:
        incident = _read_json(self._path(incident_id), None)
        if incident is None:
            raise LookupError(f'Incident {incident_id} does not exist in instance {self.store.name}.')
        return incident

    def save(self, incident: dict[str, Any]) -> None:
        with self.store.lock():
            _write_json_atomic(self._path(incident['id']), incident)

    def by_mirror_id(self, mirror_id: str) -> dict[str, Any] | None:
        incident_id = _read_json(self._index_path, {'mirror': {}})['mirror'].get(str(mirror_id))
        return self.get(incident_id) if incident_id else None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        paths = sorted((p for p in self.directory.glob('*.json') if p.stem.isdigit()), key=lambda p: int(p.stem))
        for path in paths:
            yield json.loads(path.read_text(encoding='utf-8'))


def ingest_fetched(integration: Integration, instance: Instance, incidents: list[dict], store: InstanceStore) \
        -> list[dict]:
    """Classify, map and store one fetch cycle's incidents; returns them as the server created them."""
    setup = incoming_setup(integration, instance.params)
    mapped = [map_incoming(incident, setup) for incident in incidents]
    for incident in mapped:
        incident.setdefault('sourceInstance', instance.name)
        incident.setdefault('sourceBrand', integration.manifest.get('commonfields', {}).get('id'))
    return IncidentStore(store).create(mapped)
