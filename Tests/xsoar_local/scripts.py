"""Pack scripts used as transformers by mappers, run in this process the way the server runs a transformer script:
the value (and the step's arguments) as the script's arguments, what the script returns with ``demisto.results`` or
``return_results`` as the new value, an error entry as a failure.

Each script is imported once (CommonServerPython and demistomock from the repository, as for unit tests); a private
backend of demistomock serves its arguments and catches its results for the duration of one call.
"""
from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from .integrations import repo_root

ERROR_ENTRY = 4


class ScriptError(ValueError):
    """A transformer script failed or returned nothing usable."""


def _import_paths() -> None:
    root = repo_root()
    for path in (root / 'Packs' / 'Base' / 'Scripts' / 'CommonServerPython', root / 'Tests' / 'demistomock'):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


@cache
def _load(path: Path) -> ModuleType:
    _import_paths()
    spec = importlib.util.spec_from_file_location(f'xsoar_local_script_{path.stem}', path)
    if spec is None or spec.loader is None:
        raise ScriptError(f'{path} cannot be imported.')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, 'main', None)):
        raise ScriptError(f'{path.stem} has no main() to run.')
    return module


def run_transformer(path: Path, value: Any, args: dict[str, Any]) -> Any:
    """Run the script's main() with ``value`` and the step's arguments; return what it produced."""
    module = _load(path)
    import demistomock

    class Backend(demistomock.MockBackend):
        def __init__(self) -> None:
            super().__init__()
            self.produced: list[Any] = []

        def args(self) -> dict:
            return {**{k: v for k, v in args.items() if v is not None}, 'value': value}

        def results(self, results: Any) -> None:
            self.produced.append(results)

    previous, backend = demistomock.get_backend(), Backend()
    demistomock.set_backend(backend)
    try:
        module.main()
    except SystemExit:
        pass
    finally:
        demistomock.set_backend(previous)
    return _value(path.stem, backend.produced)


def _value(name: str, produced: list[Any]) -> Any:
    if not produced:
        return None
    last = produced[-1]
    if isinstance(last, dict) and last.get('Type') == ERROR_ENTRY:
        raise ScriptError(f'the transformer script {name} failed: {last.get("Contents")}')
    if isinstance(last, dict) and 'Contents' in last:
        return last['Contents']
    return last
