"""Per-instance state that outlives one command: integration context (versioned), lastRun, fetched incidents.

Everything is a small JSON file under ``.xsoar-local/instances/<instance>/``. Writers take an exclusive ``flock`` so
that several processes of one instance behave like the server: a context write based on a stale version fails with a
conflict instead of silently overwriting another execution's update.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .integrations import repo_root


class VersionConflict(ValueError):
    """Raised like the server's ValueError when setIntegrationContextVersioned is based on an old version."""


def state_home() -> Path:
    return Path(os.environ.get('XSOAR_LOCAL_HOME') or repo_root() / '.xsoar-local')


def _safe(name: str) -> str:
    return re.sub(r'[^A-Za-z0-9_.-]+', '_', name).strip('._') or 'instance'


def _write_json_atomic(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.')
    with os.fdopen(fd, 'w', encoding='utf-8') as handle:
        json.dump(value, handle, indent=1, sort_keys=True, default=str)
    os.replace(tmp, path)


def _read_json(path: Path, default: Any) -> Any:
    try:
        with open(path, encoding='utf-8') as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


class InstanceStore:
    """The persisted state of one integration instance."""

    def __init__(self, instance_name: str, home: Path | None = None) -> None:
        self.name = instance_name
        self.directory = (home or state_home()) / 'instances' / _safe(instance_name)
        self.directory.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def lock(self) -> Iterator[None]:
        with open(self.directory / '.lock', 'w') as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- integration context ---------------------------------------------------------------------------
    @property
    def _context_path(self) -> Path:
        return self.directory / 'integration_context.json'

    def get_context(self) -> dict:
        """``{'context': {...}, 'version': n}``, as getIntegrationContextVersioned returns it."""
        with self.lock():
            stored = _read_json(self._context_path, {'context': {}, 'version': 0})
        return {'context': stored.get('context') or {}, 'version': int(stored.get('version', 0))}

    def set_context(self, context: dict, version: int = -1) -> int:
        """Write the context; ``version`` -1 skips the check. Returns the new version."""
        if not isinstance(context, dict):
            raise TypeError(f'The integration context must be a dict, got {type(context).__name__}.')
        with self.lock():
            current = int(_read_json(self._context_path, {'version': 0}).get('version', 0))
            if version not in (-1, None) and int(version) != current:
                raise VersionConflict(
                    f'Integration context version conflict: the stored version is {current}, the update was based on '
                    f'version {version}. Another execution changed the context; read it again and retry.'
                )
            _write_json_atomic(self._context_path, {'context': context, 'version': current + 1})
            return current + 1

    # -- fetch state -----------------------------------------------------------------------------------
    def get_last_run(self) -> dict:
        return _read_json(self.directory / 'last_run.json', {})

    def set_last_run(self, value: dict) -> None:
        _write_json_atomic(self.directory / 'last_run.json', value)

    def get_last_mirror_run(self) -> dict:
        return _read_json(self.directory / 'last_mirror_run.json', {})

    def set_last_mirror_run(self, value: dict) -> None:
        _write_json_atomic(self.directory / 'last_mirror_run.json', value)

    def append_incidents(self, incidents: list[dict]) -> None:
        """Keep every fetched incident, one JSON line each, so tests can check for duplicates and misses."""
        with self.lock(), open(self.directory / 'incidents.jsonl', 'a', encoding='utf-8') as handle:
            for incident in incidents:
                handle.write(json.dumps(incident, sort_keys=True, default=str) + '\n')

    def fetched_incidents(self) -> list[dict]:
        path = self.directory / 'incidents.jsonl'
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding='utf-8').splitlines() if line.strip()]

    def reset(self) -> None:
        for path in self.directory.iterdir():
            if path.is_file() and path.name != '.lock':
                path.unlink()
        shutil.rmtree(self.directory / 'incidents', ignore_errors=True)  # the mapped incidents (incidents.py)


class FileStore:
    """War-room files by entry ID: what commands returned, and what a later command may read by entry ID."""

    def __init__(self, home: Path | None = None) -> None:
        self.directory = (home or state_home()) / 'files'
        self.directory.mkdir(parents=True, exist_ok=True)
        self._index_path = self.directory / 'index.json'

    def add(self, entry_id: str, name: str, source: Path) -> Path:
        target = self.directory / f'{_safe(entry_id)}-{_safe(name)}'
        os.replace(source, target)
        self._update_index(entry_id, {'path': str(target), 'name': name})
        return target

    def register(self, entry_id: str, path: Path) -> None:
        """Make an existing local file available to commands under ``entry_id`` (e.g. for put-file)."""
        self._update_index(entry_id, {'path': str(path.resolve()), 'name': path.name})

    def lookup(self, entry_id: str) -> dict | None:
        return _read_json(self._index_path, {}).get(entry_id)

    def _update_index(self, entry_id: str, value: dict) -> None:
        with open(self.directory / '.lock', 'w') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            index = _read_json(self._index_path, {})
            index[entry_id] = value
            _write_json_atomic(self._index_path, index)
            fcntl.flock(lock, fcntl.LOCK_UN)
