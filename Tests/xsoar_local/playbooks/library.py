"""Finding playbooks: by file path, or by ID or name among the packs' ``Playbooks/`` and ``TestPlaybooks/`` — the
way a server resolves a sub-playbook task (``playbookId``, else ``playbookName``) among installed content."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import catalog
from ..integrations import repo_root
from .values import PlaybookError


@dataclass(frozen=True)
class Playbook:
    id: str
    name: str
    path: Path
    data: dict = field(repr=False, compare=False)

    @property
    def tasks(self) -> dict:
        return self.data.get('tasks') or {}


def load_playbook(path: Path) -> Playbook:
    data = catalog.load_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get('tasks'), dict) or 'starttaskid' not in data:
        raise PlaybookError(f'{path} is not a playbook (it needs "tasks" and "starttaskid").')
    return Playbook(id=str(data.get('id') or data.get('name')), name=str(data.get('name') or data.get('id')),
                    path=path, data=data)


def default_roots(root: Path | None = None) -> list[Path]:
    root = root or repo_root()
    return [root / 'Packs', root / 'Tests' / 'fixtures' / 'Packs']


class PlaybookLibrary:
    """Every playbook under ``roots`` (``<Pack>/Playbooks/*.yml`` and ``<Pack>/TestPlaybooks/*.yml``) by ID and by
    name; files given directly are added too, so a playbook run from a path can call its neighbours."""

    def __init__(self, roots: list[Path] | None = None, extra: list[Path] | None = None) -> None:
        self.roots = roots if roots is not None else default_roots()
        self._by_key: dict[str, Playbook] | None = None
        self._extra = list(extra or [])

    def _index(self) -> dict[str, Playbook]:
        if self._by_key is None:
            self._by_key = {}
            files = [p for r in self.roots for folder in ('Playbooks', 'TestPlaybooks')
                     for p in sorted(r.glob(f'*/{folder}/*.yml'))] + self._extra
            for path in files:
                try:
                    playbook = load_playbook(path)
                except PlaybookError:
                    continue
                self._by_key.setdefault(playbook.id, playbook)
                self._by_key.setdefault(playbook.name, playbook)
        return self._by_key

    def all(self) -> list[Playbook]:
        return sorted({p.path: p for p in self._index().values()}.values(), key=lambda p: str(p.path))

    def find(self, key: str) -> Playbook | None:
        return self._index().get(key)

    def resolve(self, ref: str | Path) -> Playbook:
        """A playbook named on the command line: a YAML path, else an ID or name."""
        path = Path(ref)
        if path.suffix in ('.yml', '.yaml') and path.exists():
            playbook = load_playbook(path)
            self._index().setdefault(playbook.id, playbook)
            return playbook
        found = self.find(str(ref))
        if found is None:
            raise LookupError(f'No playbook with the ID or name "{ref}" (looked in Playbooks/ and TestPlaybooks/ of '
                              f'{", ".join(str(r) for r in self.roots)}); pass a YAML path to run another file.')
        return found
