"""The content objects of a pack that the server applies to fetched incidents: classifiers, mappers, incident types
and incident fields, and the scripts that mappers call as transformers.

Loaded from the pack's content folders (``Classifiers/``, ``IncidentTypes/``, ``IncidentFields/``, ``Scripts/``)
exactly as they would be uploaded, so xsoar-local maps through the same objects a server would install.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .integrations import Integration

ALL_TYPES = 'dbot_classification_incident_type_all'


class ContentError(ValueError):
    """A content object is missing or cannot be used as written."""


def cli_name(name: str) -> str:
    """The server's machine name of a field: lower case, letters and digits only."""
    return re.sub(r'[^a-z0-9]', '', name.lower())


@dataclass(frozen=True)
class FieldDef:
    name: str
    cli_name: str
    type: str


@dataclass
class PackContent:
    """One pack's classifiers and mappers (by ID), incident types, incident fields (by name) and scripts (by name)."""

    directory: Path
    classifiers: dict[str, dict] = field(default_factory=dict)
    incident_types: dict[str, dict] = field(default_factory=dict)
    fields: dict[str, FieldDef] = field(default_factory=dict)
    scripts: dict[str, Path] = field(default_factory=dict)

    def mapper(self, mapper_id: str, kind: str) -> dict:
        """The mapper with that ID, checked to be of the expected direction (mapping-incoming/-outgoing)."""
        mapper = self.classifiers.get(mapper_id)
        if mapper is None:
            raise ContentError(f'The mapper "{mapper_id}" is not in {self.directory.name}/Classifiers.')
        if mapper.get('type') != kind:
            raise ContentError(f'"{mapper_id}" is a {mapper.get("type")}, not a {kind}.')
        return mapper

    def field_by_name(self, name: str) -> FieldDef:
        """The pack's field of that name, or a field the pack does not define (system or another pack's) by its
        machine name, typed as free text."""
        return self.fields.get(name) or FieldDef(name, cli_name(name), 'shortText')


def _json_objects(folder: Path) -> list[dict]:
    objects = []
    for path in sorted(folder.glob('*.json')) if folder.is_dir() else []:
        try:
            objects.append(json.loads(path.read_text(encoding='utf-8')))
        except json.JSONDecodeError as error:
            raise ContentError(f'{path}: not valid JSON ({error}).') from error
    return objects


@cache
def load_pack(directory: Path) -> PackContent:
    """Read the pack's content folders once per process (the objects do not change during a run)."""
    content = PackContent(directory)
    for obj in _json_objects(directory / 'Classifiers'):
        content.classifiers[obj['id']] = obj
    for obj in _json_objects(directory / 'IncidentTypes'):
        content.incident_types[obj['name']] = obj
    for obj in _json_objects(directory / 'IncidentFields'):
        content.fields[obj['name']] = FieldDef(obj['name'], obj['cliName'], obj.get('type', 'shortText'))
    for path in sorted(directory.glob('Scripts/*/*.py')):
        if not path.name.endswith('_test.py') and path.stem == path.parent.name:
            content.scripts[path.stem] = path
    return content


@dataclass(frozen=True)
class IncomingSetup:
    """What the server applies to an instance's fetched incidents: its classifier, incoming mapper, default type."""

    content: PackContent
    classifier: dict | None
    mapper: dict | None
    default_type: str | None


def incoming_setup(integration: Integration, params: dict[str, Any]) -> IncomingSetup:
    """The classifier and mapper the YAML names (or an instance overrides), and the instance's incident type."""
    content = load_pack(integration.pack_dir)
    manifest = integration.manifest
    classifier_id = params.get('classifier') or manifest.get('defaultclassifier')
    mapper_id = params.get('incomingMapperId') or manifest.get('defaultmapperin')
    classifier = content.classifiers.get(classifier_id) if classifier_id else None
    if classifier_id and classifier is None:
        raise ContentError(f'The classifier "{classifier_id}" is not in {integration.pack_dir.name}/Classifiers.')
    mapper = content.mapper(mapper_id, 'mapping-incoming') if mapper_id else None
    return IncomingSetup(content, classifier, mapper, params.get('incidentType') or None)


def outgoing_mapper(integration: Integration, params: dict[str, Any]) -> dict | None:
    mapper_id = params.get('outgoingMapperId') or integration.manifest.get('defaultmapperout')
    return load_pack(integration.pack_dir).mapper(mapper_id, 'mapping-outgoing') if mapper_id else None
