"""Running commands the way the server does: one fresh process per execution, state carried between executions.

``run_command`` executes one command once. ``run_with_polling`` follows ScheduledCommand entries (waiting ``NextRun``
seconds, rerunning with ``PollingArgs``) until nothing more is scheduled or the polling timeout passes.
``run_fetch`` runs fetch-incidents in cycles, carrying lastRun between them and keeping every incident it returned.
"""
from __future__ import annotations

import dataclasses
import difflib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import build
from .context import OutputProblem, check_outputs, merge_entry_context
from .executors import Executor, FreshProcess
from .incidents import ingest_fetched
from .instances import Instance
from .integrations import BUILTIN_COMMANDS, Integration, repo_root
from .state import FileStore, InstanceStore, state_home

ERROR_ENTRY = 4
FILE_ENTRY = 3
DEFAULT_TIMEOUT_S = 300
DEFAULT_POLLING_TIMEOUT_S = 600


def time_scale() -> float:
    """Polling waits are multiplied by XSOAR_LOCAL_TIME_SCALE (tests use a small value; default real time)."""
    try:
        return max(0.0, float(os.environ.get('XSOAR_LOCAL_TIME_SCALE', '1')))
    except ValueError:
        return 1.0


def error_entry(message: str) -> dict:
    return {'Type': ERROR_ENTRY, 'ContentsFormat': 'text', 'Contents': message}


@dataclass
class RunResult:
    """What one execution produced, as the war room and the context would see it."""

    command: str
    args: dict
    entries: list[dict] = field(default_factory=list)
    context: dict = field(default_factory=dict)
    incidents: list[dict] | None = None
    mapped_incidents: list[dict] = field(default_factory=list)  # fetch: as the server created them (classified, mapped)
    logs: list[dict] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)  # file entry ID → where the file was saved
    problems: list[OutputProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # arguments the YAML does not declare
    crash: str | None = None
    # One per error entry of the script, in order: the class names (most derived first) of the exception it was
    # returned for, [] when none was being handled (executor._handled_exception).
    error_causes: list[list[str]] = field(default_factory=list)
    stderr: str = ''
    duration_s: float = 0.0

    @property
    def errors(self) -> list[str]:
        return [str(e.get('Contents')) for e in self.entries if e.get('Type') == ERROR_ENTRY]

    @property
    def has_error(self) -> bool:
        return bool(self.errors) or self.crash is not None

    @property
    def scheduled(self) -> dict | None:
        return next((e for e in self.entries if e.get('PollingCommand')), None)

    def to_json(self) -> dict:
        return {
            'command': self.command,
            'args': self.args,
            'entries': self.entries,
            'context': self.context,
            'incidents': self.incidents,
            'mapped_incidents': self.mapped_incidents,
            'files': {k: str(v) for k, v in self.files.items()},
            'undeclared_outputs': [str(p) for p in self.problems],
            'warnings': self.warnings,
            'crash': self.crash,
            'duration_s': self.duration_s,
        }


@dataclass
class RunOptions:
    source: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S
    debug: bool = False
    env: dict[str, str] = field(default_factory=dict)
    home: Path | None = None
    # Where a prepared job runs (xsoar_local.executors): a fresh process per execution unless a suite chooses a
    # long-lived worker or this process.
    executor: Executor = field(default_factory=FreshProcess)
    # Arguments the YAML does not declare: a warning, or under ``strict`` an error entry without running. Checked on
    # the arguments a caller gives, not on the PollingArgs an integration schedules itself.
    check_args: bool = True
    strict: bool = False
    # Polling waits are NextRun times this (None: XSOAR_LOCAL_TIME_SCALE, see time_scale()).
    time_scale: float | None = None


def prepare_args(integration: Integration, command: str, args: dict) -> tuple[dict, str | None]:
    """Fill YAML default values and check required arguments, as the server does before running a command."""
    spec = integration.command(command)
    if spec is None:
        if command in BUILTIN_COMMANDS:
            return dict(args), None
        known = ', '.join(sorted(integration.commands)) or 'none'
        return args, f'Unsupported command "{command}" for {integration.name}. Commands: {known}.'
    filled = {a.name: str(a.default_value) for a in spec.arguments if a.default_value is not None}
    filled.update(args)
    missing = [a.name for a in spec.arguments if a.required and filled.get(a.name) in (None, '')]
    if missing:
        return filled, f'Missing required argument(s) for {command}: {", ".join(missing)}.'
    return filled, None


def undeclared_args(integration: Integration, command: str, args: dict, strict: bool = False) -> list[str]:
    """One message per argument the command's YAML does not declare (a misspelt ``limt=2`` would otherwise be
    ignored without a word), with the closest declared name when there is one."""
    spec = integration.command(command)
    if spec is None:
        return []
    declared = [a.name for a in spec.arguments]
    outcome = 'the command was not run (--strict)' if strict else 'the command ignores it'
    messages = []
    for name in args:
        if name in declared:
            continue
        close = difflib.get_close_matches(name, declared, n=1)
        hint = f' Did you mean "{close[0]}"?' if close else ''
        messages.append(f'{command} has no argument "{name}": {outcome}.{hint} '
                        f'Its arguments: {", ".join(declared) or "none"}.')
    return messages


def _import_paths(integration: Integration, source: bool) -> list[str]:
    root = repo_root()
    paths = [root / 'Packs' / 'Base' / 'Scripts' / 'CommonServerPython', root / 'Tests' / 'demistomock', root / 'Tests']
    if source:
        paths += sorted((root / 'Packs' / 'ApiModules' / 'Scripts').glob('*')) + [integration.directory]
    return [str(p) for p in paths]


def _job(integration: Integration, instance: Instance, command: str, args: dict, options: RunOptions,
         work_dir: Path) -> dict:
    root = repo_root()
    csp_dir = root / 'Packs' / 'Base' / 'Scripts' / 'CommonServerPython'
    if options.source:
        script = integration.py_path
    else:
        yml, text = build.unified_script(integration, root)
        script = yml.with_suffix('.py')
        if not script.exists() or script.read_text(encoding='utf-8') != text:
            _write_atomic(script, text)
    return {
        'mode': 'source' if options.source else 'unified',
        'script': str(script),
        'csp': str(csp_dir / 'CommonServerPython.py'),
        'csup': str(csp_dir / 'CommonServerUserPython.py'),
        'integration': integration.name,
        'instance': instance.name,
        'params': instance.params,
        'command': command,
        'args': args,
        'state_home': str(options.home or state_home()),
        'investigation_id': 'local',
        'import_paths': _import_paths(integration, options.source),
        'debug': options.debug,
        'timeout': options.timeout_s,
        'output': str(work_dir / 'outcome.json'),
        'docker_image': integration.manifest.get('script', {}).get('dockerimage', ''),
        'code_cache': None if options.source else str(root / 'build' / 'code-cache'),
    }


def _write_atomic(path: Path, text: str) -> None:
    """Replace the file in one step: parallel test workers start commands from the same script file, and a reader
    must never see it half written."""
    scratch = path.with_name(f'.{path.name}.{uuid.uuid4().hex[:8]}')
    scratch.write_text(text, encoding='utf-8')
    os.replace(scratch, path)


def _collect_files(entries: list[dict], work_dir: Path, home: Path | None) -> dict[str, Path]:
    """Move files the script wrote with fileResult into the file store, keyed by their entry's FileID."""
    store = FileStore(home)
    saved = {}
    for entry in entries:
        file_id = entry.get('FileID')
        if entry.get('Type') in (FILE_ENTRY, 9) and file_id:
            produced = next(work_dir.glob(f'*_{file_id}'), None)
            if produced is not None:
                saved[file_id] = store.add(file_id, entry.get('File') or file_id, produced)
    return saved


RUN_PREFIX = 'p'       # a run directory is p<pid of the xsoar-local process>-<random>


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_runs(runs: Path) -> None:
    """Remove the run directories of xsoar-local processes that are gone (killed mid-command, so their temporary
    directory was never cleaned up) and those of earlier versions, which named them differently."""
    for directory in runs.iterdir():
        owner = directory.name[len(RUN_PREFIX):].partition('-')[0]
        if directory.name.startswith(RUN_PREFIX) and owner.isdigit() and _alive(int(owner)):
            continue
        shutil.rmtree(directory, ignore_errors=True)


def run_command(integration: Integration, instance: Instance, command: str, args: dict | None = None,
                options: RunOptions | None = None) -> RunResult:
    """Execute one command once (in a fresh process unless ``options.executor`` says otherwise) and collect its
    entries, context and state changes."""
    options = options or RunOptions()
    filled, problem = prepare_args(integration, command, dict(args or {}))
    result = RunResult(command=command, args=filled)
    if options.check_args:
        result.warnings = undeclared_args(integration, command, dict(args or {}), options.strict)
        if result.warnings and options.strict and not problem:
            problem, result.warnings = '\n'.join(result.warnings), []
    if problem:
        result.entries = [error_entry(problem)]
        return result
    home = options.home or state_home()
    runs = home / 'runs'
    runs.mkdir(parents=True, exist_ok=True)
    remove_stale_runs(runs)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f'{RUN_PREFIX}{os.getpid()}-', dir=runs) as scratch:
        work_dir = Path(scratch)
        try:
            job = _job(integration, instance, command, filled, options, work_dir)
        except build.BuildError as error:
            result.entries = [error_entry(str(error))]
            return result
        outcome, stderr = options.executor(job, work_dir, options)
        result.stderr = stderr
        if outcome is None:
            result.entries = [error_entry(stderr)]
            return result
        result.entries = outcome['entries']
        result.files = _collect_files(result.entries, work_dir, options.home)
    result.duration_s = round(time.monotonic() - started, 4)
    result.logs = outcome['logs']
    result.incidents = outcome['incidents']
    result.crash = outcome['crash']
    result.error_causes = outcome.get('error_causes') or []
    if result.crash:
        result.entries.append(error_entry(f'The script ended with an uncaught exception:\n{result.crash}'))
    _apply_state(instance, outcome, result, options.home)
    _build_context(integration, result)
    return result


def _apply_state(instance: Instance, outcome: dict, result: RunResult, home: Path | None) -> None:
    """lastRun and the mirror run are kept only when the execution succeeded, as the server does."""
    if result.crash is not None:
        return
    store = InstanceStore(instance.name, home)
    if outcome.get('last_run') is not None:
        store.set_last_run(outcome['last_run'])
    if outcome.get('last_mirror_run') is not None:
        store.set_last_mirror_run(outcome['last_mirror_run'])


def _build_context(integration: Integration, result: RunResult) -> None:
    spec = integration.command(result.command)
    declared = spec.outputs if spec else ()
    for entry in result.entries:
        entry_context = entry.get('EntryContext')
        if isinstance(entry_context, dict):
            merge_entry_context(result.context, entry_context)
            result.problems += [p for p in check_outputs(declared, entry_context) if p not in result.problems]


ProgressCallback = Callable[[RunResult, float], None]  # a round that scheduled another, and the wait


def run_with_polling(integration: Integration, instance: Instance, command: str, args: dict | None = None,
                     options: RunOptions | None = None, progress: ProgressCallback | None = None,
                     sleep: Callable[[float], None] | None = None, *, max_rounds: int | None = None,
                     until: Callable[[RunResult], bool] | None = None) -> list[RunResult]:
    """Run a command and follow its ScheduledCommand reruns; returns every round's result, the last one final.
    ``sleep`` waits between rounds (default time.sleep; a playbook run passes its own clock, a suite that needs no
    real wait a no-op: the polling timeout still counts the waits as the server would have waited them).
    ``until(round)`` stops following after a round it holds for (that round's rerun stays scheduled);
    ``max_rounds`` bounds the rounds, the last one getting an error entry if it still scheduled another."""
    rounds: list[RunResult] = []
    started, waited_scaled, waited_server = time.monotonic(), 0.0, 0.0
    current_command, current_args = command, dict(args or {})
    options = options or RunOptions()
    scale = time_scale() if options.time_scale is None else options.time_scale
    while True:
        result = run_command(integration, instance, current_command, current_args,
                             options if not rounds else dataclasses.replace(options, check_args=False))
        rounds.append(result)
        scheduled = result.scheduled
        if scheduled is None or result.has_error or (until is not None and until(result)):
            return rounds
        if max_rounds is not None and len(rounds) >= max_rounds:
            result.entries.append(error_entry(f'{command} was still polling after {max_rounds} rounds.'))
            return rounds
        timeout = float((rounds[0].scheduled or scheduled).get('Timeout') or DEFAULT_POLLING_TIMEOUT_S)
        wait = float(scheduled.get('NextRun') or 10)
        # Server time: the commands' real run time plus the waits as the server would have waited them.
        elapsed = time.monotonic() - started - waited_scaled + waited_server
        if elapsed + wait > timeout:
            result.entries.append(error_entry(
                f'Polling for {command} timed out after {len(rounds)} round(s): the command was still not done when '
                f'its timeout of {timeout:g} seconds ran out.'))
            return rounds
        if progress:
            progress(result, wait * scale)
        (sleep or time.sleep)(wait * scale)
        waited_scaled += wait * scale
        waited_server += wait
        current_command = scheduled['PollingCommand']
        current_args = dict(scheduled.get('PollingArgs') or {})


def run_fetch(integration: Integration, instance: Instance, cycles: int = 1, options: RunOptions | None = None,
              progress: Callable[[int, RunResult], None] | None = None) -> list[RunResult]:
    """Run fetch-incidents ``cycles`` times; each successful cycle's incidents are kept in the instance store."""
    if not integration.is_fetch:
        raise ValueError(f'{integration.name} does not fetch incidents (isfetch is not set in its YAML).')
    results = []
    store = InstanceStore(instance.name, (options or RunOptions()).home)
    for cycle in range(1, cycles + 1):
        result = run_command(integration, instance, 'fetch-incidents', {}, options)
        if not result.has_error and result.incidents:
            store.append_incidents(result.incidents)
            result.mapped_incidents = ingest_fetched(integration, instance, result.incidents, store)
        results.append(result)
        if progress:
            progress(cycle, result)
    return results


def summarize_incidents(incidents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{'name': i.get('name'), 'occurred': i.get('occurred'), 'severity': i.get('severity'),
             'dbotMirrorId': i.get('dbotMirrorId')} for i in incidents]
