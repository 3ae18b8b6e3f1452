"""Finding integrations in the repository and reading what their YAML manifests declare."""
from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import catalog

# Commands the server runs without the YAML listing them under script.commands.
BUILTIN_COMMANDS = frozenset({'test-module', 'fetch-incidents', 'long-running-execution', 'fetch-indicators'})


def repo_root() -> Path:
    """The content root: the folder holding Packs/ and Tests/ (this file lives in Tests/xsoar_local/)."""
    return Path(__file__).resolve().parents[2]


def integration_search_roots(root: Path) -> list[Path]:
    """Packs of the product first, then the runtime's own fixtures (never shipped, never validated)."""
    return [root / 'Packs', root / 'Tests' / 'fixtures' / 'Packs']


@dataclass(frozen=True)
class Output:
    path: str
    type: str
    description: str = ''


@dataclass(frozen=True)
class Argument:
    name: str
    required: bool = False
    default_value: Any = None
    predefined: tuple[str, ...] = ()
    is_array: bool = False
    secret: bool = False
    default: bool = False           # the YAML default-argument flag: a bare value on the command line binds to it
    description: str = ''
    hidden: bool = False


@dataclass(frozen=True)
class Command:
    name: str
    arguments: tuple[Argument, ...] = ()
    outputs: tuple[Output, ...] = ()
    polling: bool = False
    deprecated: bool = False
    description: str = ''
    hidden: bool = False

    def argument(self, name: str) -> Argument | None:
        return next((a for a in self.arguments if a.name == name), None)

    @property
    def default_argument(self) -> str | None:
        """The argument a bare value binds to (``!cmd value``), or None when the command has none."""
        return next((a.name for a in self.arguments if a.default), None)


@dataclass(frozen=True)
class Parameter:
    name: str
    type: int
    default: Any = None
    required: bool = False
    display: str = ''


@dataclass
class Integration:
    """One integration package: ``<dir>/<name>.py`` + ``<dir>/<name>.yml``."""

    name: str
    directory: Path
    manifest: dict = field(repr=False)

    @property
    def yml_path(self) -> Path:
        return self.directory / f'{self.name}.yml'

    @property
    def py_path(self) -> Path:
        return self.directory / f'{self.name}.py'

    @property
    def pack_dir(self) -> Path:
        return self.directory.parents[1]

    @property
    def is_fixture(self) -> bool:
        """A test fixture of the runtime (Tests/fixtures/Packs): never shipped, so never built beside the packs."""
        return self.directory.parents[3].name == 'fixtures'    # <fixtures>/Packs/<Pack>/Integrations/<Name>

    @property
    def is_fetch(self) -> bool:
        return bool(self.manifest.get('script', {}).get('isfetch'))

    @functools.cached_property
    def commands(self) -> dict[str, Command]:
        return {c['name']: _command(c) for c in self.manifest.get('script', {}).get('commands') or []}

    @functools.cached_property
    def parameters(self) -> dict[str, Parameter]:
        return {p['name']: _parameter(p) for p in self.manifest.get('configuration') or []}

    def command(self, name: str) -> Command | None:
        return self.commands.get(name)

    def source_files(self) -> list[Path]:
        """Every file whose change must rebuild the unified script."""
        files = [p for p in self.directory.iterdir() if p.is_file() and not p.name.endswith('_test.py')]
        return sorted(files) + [self.pack_dir / 'pack_metadata.json']


def _command(raw: dict) -> Command:
    arguments = tuple(
        Argument(
            name=a['name'],
            required=bool(a.get('required')),
            default_value=a.get('defaultValue'),
            predefined=tuple(str(v) for v in a.get('predefined') or ()),
            is_array=bool(a.get('isArray')),
            secret=bool(a.get('secret')),
            default=bool(a.get('default')),
            description=str(a.get('description') or ''),
            hidden=bool(a.get('hidden')),
        )
        for a in raw.get('arguments') or []
    )
    outputs = tuple(
        Output(path=o['contextPath'], type=str(o.get('type') or 'Unknown'), description=o.get('description') or '')
        for o in raw.get('outputs') or []
    )
    return Command(name=raw['name'], arguments=arguments, outputs=outputs, polling=bool(raw.get('polling')),
                   deprecated=bool(raw.get('deprecated')), description=str(raw.get('description') or ''),
                   hidden=bool(raw.get('hidden')))


def _parameter(raw: dict) -> Parameter:
    return Parameter(name=raw['name'], type=int(raw.get('type', 0)), default=raw.get('defaultvalue'),
                     required=bool(raw.get('required')), display=raw.get('display') or raw.get('displaypassword') or '')


def find_integration(name: str, root: Path | None = None) -> Integration:
    root = root or repo_root()
    for search_root in integration_search_roots(root):
        for yml in search_root.glob(f'*/Integrations/{name}/{name}.yml'):
            return load_integration(yml.parent)
    known = ', '.join(sorted(i.name for i in all_integrations(root))) or 'none'
    raise LookupError(f'No integration named "{name}". Known integrations: {known}.')


def load_integration(directory: Path) -> Integration:
    """The integration in ``directory``; one object per YAML content, so its parsed commands are reused too."""
    name = directory.name
    yml = directory / f'{name}.yml'
    manifest = catalog.load_yaml(yml)
    key = (str(yml.resolve()), id(manifest))
    with _integrations_lock:
        found = _integrations.get(key)
        if found is None:
            found = _integrations[key] = Integration(name=name, directory=directory, manifest=manifest)
    return found


_integrations: dict[tuple[str, int], Integration] = {}
_integrations_lock = threading.Lock()


def all_integrations(root: Path | None = None, include_fixtures: bool = True) -> list[Integration]:
    root = root or repo_root()
    roots = integration_search_roots(root) if include_fixtures else [root / 'Packs']
    found = []
    for search_root in roots:
        for yml in sorted(search_root.glob('*/Integrations/*/*.yml')):
            if yml.stem == yml.parent.name:
                found.append(load_integration(yml.parent))
    return found
