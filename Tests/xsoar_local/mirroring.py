"""What the server does with an instance's stored incidents while they are mirrored (fetch stores them: see
:func:`xsoar_local.incidents.ingest_fetched`):

- **incoming mirroring**: ask ``get-modified-remote-data`` which mirrored incidents changed, run ``get-remote-data``
  for each, map the returned object into the stored incident through the same incoming mapper, add its entries to the
  war room, and close or reopen the incident when an entry says so;
- **outgoing mirroring**: when a field changes locally, send ``update-remote-system`` the delta through the outgoing
  mapper; a note tagged with one of the incident's mirror tags goes out as an entry.
"""
from __future__ import annotations

import copy
from typing import Any

from .content import IncomingSetup, incoming_setup, load_pack, outgoing_mapper
from .incidents import ACTIVE, CLOSED, IncidentStore, now_iso
from .instances import Instance
from .integrations import Integration
from .mapping import MappingError, apply_incoming, map_outgoing, outgoing_delta
from .runner import RunOptions, RunResult, run_command
from .state import InstanceStore

INCOMING = ('In', 'Both')
OUTGOING = ('Out', 'Both')


class MirroringError(RuntimeError):
    """A mirroring command failed; the message carries the command's error."""


def _run(integration: Integration, instance: Instance, command: str, args: dict, options: RunOptions | None) \
        -> RunResult:
    result = run_command(integration, instance, command, args, options)
    if result.has_error:
        raise MirroringError(f'{command} failed: {"; ".join(result.errors) or result.crash}')
    return result


def _remote_entries(result: RunResult) -> tuple[dict, list[dict]]:
    """get-remote-data returns the mirrored object first, then the entries (possibly as one list entry)."""
    entries = result.entries[0] if result.entries and isinstance(result.entries[0], list) else result.entries
    if not entries:
        raise MirroringError('get-remote-data returned nothing.')
    first, *rest = entries
    mirrored = first.get('Contents') if isinstance(first, dict) and 'Contents' in first and 'Type' in first \
        and not isinstance(first.get('Contents'), str) else first
    return mirrored if isinstance(mirrored, dict) else {}, rest


def apply_remote_data(incident: dict, mirrored: dict, entries: list[dict], setup: IncomingSetup) -> dict:
    """Map a get-remote-data object into the stored incident and play its entries, as the server does."""
    if setup.mapper:
        apply_incoming(incident, mirrored, incident.get('type', ''), setup.mapper, setup.content)
    for entry in entries:
        contents = entry.get('Contents')
        if isinstance(contents, dict) and contents.get('dbotIncidentClose'):
            incident.update(status=CLOSED, closeReason=contents.get('closeReason', ''),
                            closeNotes=contents.get('closeNotes', ''), closed=now_iso())
        elif isinstance(contents, dict) and contents.get('dbotIncidentReopen'):
            incident.update(status=ACTIVE, closeReason='', closeNotes='')
        else:
            incident.setdefault('warRoom', []).append(entry)
    incident['dbotMirrorLastSync'] = now_iso()
    return incident


def mirror_in(integration: Integration, instance: Instance, options: RunOptions | None = None) -> list[dict]:
    """One incoming-mirroring cycle over the instance's incidents; returns the incidents it updated."""
    store = IncidentStore(InstanceStore(instance.name, (options or RunOptions()).home))
    mirrored = [i for i in store if i.get('dbotMirrorDirection') in INCOMING and i.get('dbotMirrorId')]
    if not mirrored:
        return []
    since = min(i.get('dbotMirrorLastSync') or i.get('created') or '' for i in mirrored)
    modified = _run(integration, instance, 'get-modified-remote-data', {'lastUpdate': since}, options)
    ids = {str(x) for e in modified.entries for x in (e.get('Contents') or []) if isinstance(e, dict)} \
        if modified.entries and isinstance(modified.entries[0], dict) else set()
    setup = incoming_setup(integration, instance.params)
    updated = []
    for incident in (i for i in mirrored if str(i['dbotMirrorId']) in ids):
        result = _run(integration, instance, 'get-remote-data',
                      {'id': incident['dbotMirrorId'],
                       'lastUpdate': incident.get('dbotMirrorLastSync') or incident.get('created')}, options)
        remote, entries = _remote_entries(result)
        try:
            apply_remote_data(incident, remote, entries, setup)
        except MappingError as error:
            raise MirroringError(f'incident {incident["id"]}: {error}') from error
        store.save(incident)
        updated.append(incident)
    return updated


def _set(incident: dict, changes: dict[str, Any], custom: set[str]) -> None:
    for name, value in changes.items():
        if name in custom or name not in incident:
            incident.setdefault('CustomFields', {})[name] = value
        else:
            incident[name] = value


def update_incident(integration: Integration, instance: Instance, incident_id: str, changes: dict[str, Any],
                    options: RunOptions | None = None) -> dict:
    """Change fields of a stored incident (custom fields by machine name, or system fields such as ``status``) and
    mirror the change out through the outgoing mapper; returns the delta that was sent (empty when nothing went)."""
    store = IncidentStore(InstanceStore(instance.name, (options or RunOptions()).home))
    before = store.get(incident_id)
    after = copy.deepcopy(before)
    content = load_pack(integration.pack_dir)
    _set(after, changes, {f.cli_name for f in content.fields.values()})
    mapper = outgoing_mapper(integration, instance.params)
    delta = outgoing_delta(before, after, mapper, content) if mapper else {}
    for key in ('closeReason', 'closeNotes', 'closingUserId'):
        if key in changes and changes[key] != before.get(key):
            delta[key] = changes[key]
    store.save(after)
    if not delta or after.get('dbotMirrorDirection') not in OUTGOING:
        return {}
    _update_remote(integration, instance, after, delta, [], options)
    return delta


def add_note(integration: Integration, instance: Instance, incident_id: str, text: str, user: str = 'admin',
             tags: list[str] | None = None, options: RunOptions | None = None) -> bool:
    """Add a war-room note; it is mirrored out when one of its tags is a mirror tag of the incident. Returns whether
    it was sent."""
    store = IncidentStore(InstanceStore(instance.name, (options or RunOptions()).home))
    incident = store.get(incident_id)
    note_tags = list(tags or [])
    entry = {'contents': text, 'user': user, 'tags': note_tags, 'format': 'markdown', 'type': 1, 'created': now_iso()}
    incident.setdefault('warRoom', []).append({'Type': 1, 'Contents': text, 'Note': True, 'Tags': note_tags,
                                               'User': user})
    store.save(incident)
    mirror_tags = set(incident.get('dbotMirrorTags') or [])
    if incident.get('dbotMirrorDirection') not in OUTGOING or not mirror_tags & set(note_tags):
        return False
    _update_remote(integration, instance, incident, {}, [entry], options)
    return True


def _update_remote(integration: Integration, instance: Instance, incident: dict, delta: dict, entries: list[dict],
                   options: RunOptions | None) -> None:
    mapper = outgoing_mapper(integration, instance.params)
    content = load_pack(integration.pack_dir)
    data = map_outgoing(incident, mapper, content) if mapper else {}
    _run(integration, instance, 'update-remote-system', {
        'remoteId': incident['dbotMirrorId'], 'status': incident.get('status', ACTIVE),
        'incidentChanged': bool(delta), 'delta': delta, 'data': {**data, **delta}, 'entries': entries}, options)
