"""Unified scripts and pack zips, built by demisto-sdk in its own environment and cached by content hash.

The unified script is what the server runs: the integration code with every API module inlined. Building it takes
demisto-sdk a couple of seconds, so each build is cached and redone only when a source changed: the shipped
integrations' under build/unified/ (what a customer uploads), the runtime's test fixtures' apart, under
build/fixtures/unified/, so the folder of uploadable YAMLs never holds a fixture.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import catalog
from .integrations import Integration, all_integrations, repo_root

API_MODULE_IMPORT = 'ApiModule import *'


class BuildError(RuntimeError):
    """demisto-sdk could not build an artefact; the message carries its output."""


def sdk_executable(root: Path | None = None) -> Path:
    root = root or repo_root()
    sdk = root / '.venv-sdk' / 'bin' / 'demisto-sdk'
    if not sdk.exists():
        raise BuildError(f'demisto-sdk is not installed at {sdk}. Run "make sdk-env" (make demo/test do it for you).')
    return sdk


def sdk_environment(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        'DEMISTO_SDK_CONTENT_PATH': str(root),
        'DEMISTO_SDK_IGNORE_CONTENT_WARNING': '1',
        'DEMISTO_SDK_SKIP_VERSION_CHECK': '1',
        'DEMISTO_SDK_OFFLINE_ENV': 'false',
        'CI': env.get('CI', 'true'),
    })
    return env


def api_modules_used(integration: Integration, root: Path) -> list[Path]:
    """The API module files an integration star-imports (and those they import in turn)."""
    seen: list[Path] = []
    pending = [integration.py_path]
    while pending:
        text = pending.pop().read_text(encoding='utf-8')
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith('from ') and stripped.split('#')[0].rstrip().endswith(API_MODULE_IMPORT):
                module = stripped.split()[1]
                path = root / 'Packs' / 'ApiModules' / 'Scripts' / module / f'{module}.py'
                if path.exists() and path not in seen:
                    seen.append(path)
                    pending.append(path)
    return seen


def source_digest(integration: Integration, root: Path) -> str:
    """The hash of every source of the unified script. A process running many commands (a test session) reads and
    hashes the sources again only when one of them changed (size or modification time, as make decides)."""
    files = integration.source_files() + _api_modules(integration, root)
    stamps = (str(root), *map(_stamp, files))
    if stamps not in _DIGESTS:
        digest = hashlib.sha256()
        for path in files:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes() if path.exists() else b'')
        _DIGESTS[stamps] = digest.hexdigest()
    return _DIGESTS[stamps]


_DIGESTS: dict[tuple, str] = {}
_MODULES: dict[tuple, tuple[list[Path], tuple]] = {}


def _stamp(path: Path) -> tuple:
    try:
        stat = path.stat()
    except OSError:
        return (str(path), None, None)
    return (str(path), stat.st_mtime_ns, stat.st_size)


def _api_modules(integration: Integration, root: Path) -> list[Path]:
    """``api_modules_used``, scanned again only when the integration's code or one of those modules changed."""
    key = (str(root), _stamp(integration.py_path))
    known = _MODULES.get(key)
    if known is None or tuple(map(_stamp, known[0])) != known[1]:
        modules = api_modules_used(integration, root)
        known = _MODULES[key] = (modules, tuple(map(_stamp, modules)))
    return list(known[0])


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, 'w') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def unified_dir(integration: Integration, root: Path | None = None) -> Path:
    """build/unified/ for a shipped integration, build/fixtures/unified/ for a test fixture."""
    build_dir = (root or repo_root()) / 'build'
    return build_dir / 'fixtures' / 'unified' if integration.is_fixture else build_dir / 'unified'


def prune_unified(root: Path | None = None) -> list[Path]:
    """Remove from build/unified/ what is not a shipped integration's build (fixture builds of earlier versions,
    which built everything there, and integrations since removed); returns what was removed."""
    root = root or repo_root()
    out_dir = root / 'build' / 'unified'
    shipped = {i.name for i in all_integrations(root, include_fixtures=False)}
    removed = []
    for path in sorted(out_dir.glob('*')) if out_dir.is_dir() else []:
        stem = path.name.lstrip('.').split('.')[0]
        if path.is_file() and stem not in shipped:
            path.unlink()
            removed.append(path)
    return removed


def unified_yml(integration: Integration, root: Path | None = None, force: bool = False) -> Path:
    """Path of the integration's unified YAML, rebuilt first if any source changed since the cached build."""
    root = root or repo_root()
    out_dir = unified_dir(integration, root)
    target = out_dir / f'{integration.name}.yml'
    stamp = out_dir / f'.{integration.name}.sha256'
    with _locked(out_dir / f'.{integration.name}.lock'):
        digest = source_digest(integration, root)
        if not force and target.exists() and stamp.exists() and stamp.read_text() == digest:
            return target
        _prepare_content(integration, root, target)
        stamp.write_text(digest)
    return target


def _prepare_content(integration: Integration, root: Path, target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix='unify-') as scratch:
        cmd = [str(sdk_executable(root)), 'prepare-content', '-i', str(integration.directory), '-o', scratch]
        proc = subprocess.run(cmd, cwd=root, env=sdk_environment(root), capture_output=True, text=True, timeout=300,
                              check=False)
        built = list(Path(scratch).glob('*.yml'))
        if proc.returncode != 0 or len(built) != 1:
            raise BuildError(f'demisto-sdk prepare-content failed for {integration.name}: '
                             f'{_sdk_failure(proc.stdout + proc.stderr)}')
        shutil.move(str(built[0]), target)


def _sdk_failure(output: str) -> str:
    """The line that says what went wrong, without demisto-sdk's traceback and repository-discovery chatter."""
    lines = [line.strip() for line in output.splitlines()
             if line.strip() and not line.startswith('Could not get repository properties') and not line[:1].isspace()]
    errors = [line for line in lines if 'Error' in line or 'Exception' in line or 'rror:' in line]
    return (errors or lines or ['(no output)'])[-1]


def unified_script(integration: Integration, root: Path | None = None) -> tuple[Path, str]:
    """The unified YAML path and the script text the server would execute (the YAML parsed once per content, by
    the catalog)."""
    path = unified_yml(integration, root)
    return path, catalog.load_yaml(path)['script']['script']


def zip_packs(packs: list[Path], root: Path | None = None, out_dir: Path | None = None) -> list[Path]:
    """One uploadable zip per pack, <out_dir>/<Pack>.zip (build/packs/ by default), and no other zip there.

    demisto-sdk zip-packs takes the packs as ONE comma-separated -i value (a repeated -i keeps only the last) and
    writes into <output>/uploadable_packs/; it runs in a scratch directory so zips of earlier runs (a pack since
    removed, a renamed one) never sit beside the new ones looking freshly built.
    """
    root = root or repo_root()
    out_dir = out_dir or root / 'build' / 'packs'
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob('*.zip'):
        stale.unlink()
    shutil.rmtree(out_dir / 'uploadable_packs', ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix='zip-packs-', dir=out_dir.parent) as scratch:
        cmd = [str(sdk_executable(root)), 'zip-packs', '-i', ','.join(str(pack) for pack in packs), '-o', scratch]
        proc = subprocess.run(cmd, cwd=root, env=sdk_environment(root), capture_output=True, text=True, timeout=600,
                              check=False)
        built = {path.stem: path for path in Path(scratch).rglob('*.zip')}
        expected = [pack.name for pack in packs]
        if proc.returncode != 0 or sorted(built) != sorted(expected):
            raise BuildError(f'demisto-sdk zip-packs failed (zips {sorted(built)}, expected {sorted(expected)}): '
                             f'{_sdk_failure(proc.stdout + proc.stderr)}')
        return [Path(shutil.move(str(built[name]), out_dir / f'{name}.zip')) for name in expected]
