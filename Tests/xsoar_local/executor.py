"""The child process that executes one integration command, like the server's Python runner does.

Run as ``python -m xsoar_local.executor -`` with the job as JSON on stdin (the job carries the instance's credentials,
so it is never written to a file; a path instead of ``-`` reads a job file, for debugging). The job names the script,
the instance parameters, the command and its arguments. The executor installs a backend into demistomock so
``demisto.*`` calls reach real per-instance state, executes CommonServerPython and the unified script in one
``__main__`` namespace (the server concatenates them the same way), and writes what happened — entries, incidents,
lastRun, logs, a crash traceback — to the job's output file.
"""
from __future__ import annotations

import builtins
import hashlib
import importlib.util
import json
import marshal
import os
import sys
import time
import traceback
import types
import uuid
from pathlib import Path
from typing import Any


def load_job(path: str) -> dict:
    """The job from stdin (``-``), which is then closed as the server's scripts have no input, or from a file."""
    if path == '-':
        job = json.loads(sys.stdin.read())
        sys.stdin.close()
        sys.stdin = open(os.devnull, encoding='utf-8')  # noqa: SIM115 - stays open for the script's lifetime
        return job
    with open(path, encoding='utf-8') as handle:
        return json.load(handle)


def _make_backend(job: dict) -> Any:
    """Build the runtime backend; imported late because sys.path is set from the job first."""
    import demistomock

    from xsoar_local.state import FileStore, InstanceStore

    store = InstanceStore(job['instance'], Path(job['state_home']))
    files = FileStore(Path(job['state_home']))

    class RuntimeBackend(demistomock.MockBackend):
        """demisto.* served from the instance store; outputs are collected for the parent process."""

        def __init__(self) -> None:
            super().__init__()
            self.entries: list = []
            self.error_causes: list[list[str]] = []
            self.fetched: list | None = None
            self.logs: list[dict] = []
            self.new_last_run: dict | None = None
            self.new_mirror_run: dict | None = None

        def params(self) -> dict:
            return job['params']

        def args(self) -> dict:
            return job['args']

        def command(self) -> str:
            return job['command']

        def integration_instance(self) -> str:
            return job['instance']

        def results(self, results: Any) -> None:
            items = results if isinstance(results, list) else [results]
            for item in items:
                if isinstance(item, dict):
                    self.entries.append(item)
                    if item.get('Type') == ERROR_ENTRY:
                        self.error_causes.append(_handled_exception())
                elif item is not None:
                    self.entries.append({'Type': 1, 'ContentsFormat': 'text', 'Contents': str(item)})

        def incidents(self, incidents: list | None) -> None:
            self.fetched = (self.fetched or []) + list(incidents or [])

        def log(self, level: str, msg: str) -> None:
            self.logs.append({'level': level, 'message': str(msg), 'time': time.time()})

        def get_integration_context_versioned(self, refresh: bool) -> dict:
            return store.get_context()

        def set_integration_context_versioned(self, context: dict, version: int, sync: bool) -> None:
            store.set_context(context, version)

        def get_last_run(self) -> dict:
            return self.new_last_run if self.new_last_run is not None else store.get_last_run()

        def set_last_run(self, obj: dict) -> None:
            self.new_last_run = obj

        def get_last_mirror_run(self) -> dict:
            return self.new_mirror_run if self.new_mirror_run is not None else store.get_last_mirror_run()

        def set_last_mirror_run(self, obj: dict) -> None:
            self.new_mirror_run = obj

        def unique_file(self) -> str:
            return str(uuid.uuid4())

        def get_file_path(self, entry_id: str) -> dict:
            found = files.lookup(entry_id)
            if not found:
                raise ValueError(f'Entry {entry_id} is not a file entry in this investigation.')
            return {'id': entry_id, 'path': found['path'], 'name': found['name']}

        def investigation(self) -> dict:
            return {'id': job['investigation_id']}

    return RuntimeBackend()


ERROR_ENTRY = 4


def _handled_exception() -> list[str]:
    """The class names (most derived first) of the exception being handled while an error entry is returned — what
    ``return_error`` was called for — or [] outside an ``except`` block. The server does not show it; a suite uses it
    to tell a deliberate error (a ``DemistoException``) from one Python raised on its own (a ``KeyError``)."""
    exc_type = sys.exc_info()[0]
    return [cls.__name__ for cls in exc_type.__mro__] if exc_type is not None else []


def _calling_context(job: dict) -> dict:
    return {
        'integration': True,
        'context': {
            'IntegrationBrand': job['integration'],
            'IntegrationInstance': job['instance'],
            'ExecutedCommands': [{'moduleBrand': job['integration'], 'name': job['command']}],
            'ParentEntry': job.get('parent_entry') or {},
            'DockerImage': job.get('docker_image', ''),
            'TimeoutDuration': job.get('timeout', 300),
        },
    }


def _script_paths(job: dict) -> list[str]:
    """The files that run, in execution order (the server concatenates them in one namespace)."""
    return [job['script']] if job['mode'] == 'source' else [job['csp'], job['csup'], job['script']]


_FILES: dict[str, tuple[tuple[int, int], Any]] = {}


def _file_code(path: str, cache_dir: str | None) -> Any:
    """The code of a source file, read and looked up again in this process only when the file changed (size or
    modification time): a process running many jobs (a worker, InProcess) neither rereads nor rehashes 7,000 lines
    per job."""
    stat = os.stat(path)
    stamp = (stat.st_mtime_ns, stat.st_size)
    known = _FILES.get(path)
    if known is None or known[0] != stamp:
        known = _FILES[path] = (stamp, _code(Path(path).read_text(encoding='utf-8'), path, cache_dir))
    return known[1]


def _code(source: str, filename: str, cache_dir: str | None) -> Any:
    """The compiled code of one source, as Python caches a module's bytecode: compiling CommonServerPython and a
    4,000-line unified script costs a fresh process a quarter to half a second, the same code object from a file
    keyed by the source's hash and the interpreter's bytecode version costs milliseconds. The code is what
    ``compile`` gives; only its reuse across processes is new."""
    key = hashlib.sha256(importlib.util.MAGIC_NUMBER + filename.encode() + b'\0' + source.encode()).hexdigest()
    if key not in _LOADED:
        _LOADED[key] = _load_code(source, filename, key, cache_dir)
    return _LOADED[key]


# Code already loaded in this process, by source hash: a process that runs many jobs (a worker, or InProcess in a test
# session) loads each content's code once.
_LOADED: dict[str, Any] = {}


def _load_code(source: str, filename: str, key: str, cache_dir: str | None) -> Any:
    if not cache_dir:
        return compile(source, filename, 'exec')
    path = Path(cache_dir) / f'{key}.code'
    try:
        return marshal.loads(path.read_bytes())  # noqa: S302 - our own cache in build/, like a .pyc
    except (OSError, ValueError, EOFError, TypeError):
        pass
    code = compile(source, filename, 'exec')
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f'.{path.name}.{uuid.uuid4().hex[:8]}')
        scratch.write_bytes(marshal.dumps(code))
        os.replace(scratch, path)       # whole or absent for a process reading it at the same time
    except OSError:
        pass
    return code


def _execute(job: dict, kept: dict | None = None) -> tuple[int, str | None]:
    """Run the script; return (exit code, traceback text of an uncaught exception). With ``kept`` (see
    ``executors.InProcess``), a namespace in which the same code already ran is reused: only ``main()`` runs again."""
    codes = [_file_code(path, job.get('code_cache')) for path in _script_paths(job)]
    key = tuple(map(id, codes))    # the same code objects (_LOADED keeps them) for the same content
    main_module = kept.get(key) if kept is not None else None
    fresh = main_module is None
    if main_module is None:
        main_module = types.ModuleType('__main__')
        main_module.__dict__['__builtins__'] = builtins
        main_module.__file__ = job['script']
    sys.modules['__main__'] = main_module
    try:
        for code in codes if fresh else (_RERUN,):
            exec(code, main_module.__dict__)  # noqa: S102 - running the integration is the point
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        return code, None
    except BaseException:  # noqa: BLE001 - an uncaught error is a result to report, not to re-raise
        return 1, traceback.format_exc()
    finally:
        if kept is not None and fresh and callable(main_module.__dict__.get('main')):
            kept[key] = main_module
    return 0, None


_RERUN = compile('main()\n', '<rerun>', 'exec')


def run_job(job: dict, kept: dict | None = None) -> dict:
    """Execute one job in a fresh ``__main__`` namespace (or, with ``kept``, one where the script already ran) with
    a fresh backend and return its outcome."""
    for path in reversed(job['import_paths']):
        if path not in sys.path:
            sys.path.insert(0, path)
    import demistomock

    backend = _make_backend(job)
    demistomock.set_backend(backend)
    demistomock.is_debug = bool(job.get('debug'))
    demistomock.callingContext = _calling_context(job)
    started = time.monotonic()
    exit_code, crash = _execute(job, kept)
    return {
        'entries': backend.entries,
        'error_causes': backend.error_causes,
        'incidents': backend.fetched,
        'last_run': backend.new_last_run,
        'last_mirror_run': backend.new_mirror_run,
        'logs': backend.logs,
        'exit_code': exit_code,
        'crash': crash,
        'duration_s': round(time.monotonic() - started, 4),
    }


def write_outcome(job: dict, outcome: dict) -> None:
    with open(job['output'], 'w', encoding='utf-8') as handle:
        json.dump(outcome, handle, default=str)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    job = load_job(argv[0])
    write_outcome(job, run_job(job))
    return 0


if __name__ == '__main__':
    sys.exit(main())
