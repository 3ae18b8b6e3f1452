"""Running a playbook the way the server does, task by task, against integrations run through xsoar-local.

The task graph: a task runs once every task leading to it has either run or can no longer run (a branch not taken),
and at least one of them chose it; tasks become ready in the order they were reached. A task reached a second time
(a cycle) is an error. Task types:

- ``start``, ``title``: pass through to ``#none#``.
- ``regular``: an integration command (``Brand|||command``, ``|||command`` on every integration that has it — with
  ``ScheduledCommand`` polling followed to the end), a built-in script or server command (``builtins.py``). Its
  entries go to the war room, their EntryContext into the context (unless ``ignore-outputs=true``).
- ``condition``: the first ``conditions`` label whose condition holds, or the label a condition script returns,
  else ``#default#``.
- ``playbook``: a sub-playbook by ``playbookId``/``playbookName``, its ``scriptarguments`` as its inputs; with
  ``separatecontext`` it works on a copy of the context and only its declared outputs come back (each output's
  object at its first two levels, e.g. ``MicrosoftATP.MachineAction`` for ``MicrosoftATP.MachineAction.ID``). ``loop``: for-each
  over the list inputs, or repeat until ``builtincondition`` holds (``max`` iterations, ``wait`` seconds apart).

A task that returns an error entry fails: with ``continueonerror`` the run goes on (``continueonerrortype:
errorPath`` takes ``#error#``), otherwise the playbook stops and so do its parents. ``skipunavailable`` skips a task
whose integration, script or sub-playbook is not available. A construct xsoar-local does not support is a
:class:`PlaybookError` naming it, found by checking the whole playbook (and its sub-playbooks) before any task runs.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ..context import merge_entry_context
from ..emulator import emulator_env
from ..instances import EMULATOR_VARIABLES, Instance, build_instance, default_instance_file, read_instance_file, variables_used
from ..integrations import Integration, all_integrations
from ..runner import RunOptions, RunResult, run_with_polling, time_scale
from . import builtins
from .library import Playbook, PlaybookLibrary
from .values import OPERATORS, TRANSFORMERS, PlaybookError, evaluate, holds, is_empty, read_path

ERROR_ENTRY = 4
MAX_DEPTH = 20
DEFAULT_LOOP_MAX = 100
# Arguments every command accepts on the server; the ones xsoar-local does not implement are an error.
GENERIC_ARGS_UNSUPPORTED = ('extend-context', 'using', 'using-brand', 'using-category', 'retry-count',
                            'retry-interval', 'retry-err-msg', 'raw-response')
TASK_KEYS = {'id', 'taskid', 'type', 'task', 'nexttasks', 'separatecontext', 'continueonerror', 'continueonerrortype',
             'view', 'note', 'timertriggers', 'ignoreworker', 'skipunavailable', 'quietmode', 'isoversize',
             'isautoswitchedtoquietmode', 'scriptarguments', 'conditions', 'loop', 'results', 'reputationcalc',
             'fieldMapping', 'defaultassigneecomplex', 'evidencedata', 'restrictedcompletion', 'sla', 'slareminder',
             'form', 'message', 'timerTriggers', 'playbookInputs', 'continueOnErrorType'}
TASK_TYPES = ('start', 'title', 'regular', 'condition', 'playbook')


class TaskFailed(Exception):
    """A task failed and did not continue on error: the playbook (and every parent) stops."""


@dataclass
class TaskRecord:
    """One task as the work plan shows it: what ran, how it ended and how long it took."""

    playbook: str
    task_id: str
    name: str
    kind: str
    depth: int
    state: str = 'running'      # running, waiting, completed, error, error-continued, skipped
    started: str = ''
    duration_s: float = 0.0
    detail: str = ''

    def to_json(self) -> dict:
        return self.__dict__.copy()


Reporter = Callable[[TaskRecord], None]


@dataclass
class Session:
    """What one ``playbook run`` shares across its playbooks: the incident, the war room, the integrations' instances
    and how to wait."""

    options: RunOptions = field(default_factory=RunOptions)
    incident: dict = field(default_factory=lambda: {'id': '1', 'name': 'xsoar-local playbook run', 'CustomFields': {}})
    library: PlaybookLibrary = field(default_factory=PlaybookLibrary)
    instance_files: dict[str, Any] = field(default_factory=dict)   # integration name → instance file
    resolver: Callable[[Integration], tuple[Instance, dict[str, str]]] | None = None
    report: Reporter | None = None
    sleep: Callable[[float], None] = time.sleep
    war_room: list[dict] = field(default_factory=list)
    records: list[TaskRecord] = field(default_factory=list)
    undeclared: list[str] = field(default_factory=list)   # context paths a command wrote that its YAML lacks
    _instances: dict[str, tuple[Instance, dict[str, str]]] = field(default_factory=dict)
    _integrations: list[Integration] | None = None

    # ---- integrations -------------------------------------------------------------------------------------------

    def integrations(self) -> list[Integration]:
        if self._integrations is None:
            self._integrations = all_integrations()
        return self._integrations

    def integrations_by_brand(self, brand: str) -> list[Integration]:
        """An integration's brand is its YAML ``commonfields.id`` (also accepted: its name, display name, folder)."""
        def names(i: Integration) -> set[str]:
            manifest = i.manifest
            return {str(manifest.get('commonfields', {}).get('id')), str(manifest.get('name')),
                    str(manifest.get('display')), i.name}
        return [i for i in self.integrations() if brand in names(i)]

    def integrations_for(self, brand: str, command: str) -> list[Integration]:
        candidates = self.integrations_by_brand(brand) if brand else self.integrations()
        return [i for i in candidates if i.command(command) is not None]

    def instance_for(self, integration: Integration) -> tuple[Instance, dict[str, str]]:
        if integration.name not in self._instances:
            if self.resolver is not None:
                self._instances[integration.name] = self.resolver(integration)
            else:
                self._instances[integration.name] = self._default_instance(integration)
        return self._instances[integration.name]

    def _default_instance(self, integration: Integration) -> tuple[Instance, dict[str, str]]:
        """The instance ``xsoar-local run`` would use: the file given for it, else its default instance file."""
        path = self.instance_files.get(integration.name) or default_instance_file(integration)
        raw = read_instance_file(path) if path else {}
        env = emulator_env() if variables_used(raw) & set(EMULATOR_VARIABLES) else {}
        return build_instance(integration, raw, env, source=path), env

    # ---- war room and time --------------------------------------------------------------------------------------

    def post(self, entries: list[dict], task: TaskRecord) -> list[str]:
        """Add entries to the war room; returns their entry IDs."""
        ids = []
        for entry in entries:
            entry_id = f'{len(self.war_room) + 1}@local'
            self.war_room.append({**entry, 'ID': entry_id, 'Playbook': task.playbook, 'TaskID': task.task_id})
            ids.append(entry_id)
        return ids

    def wait(self, seconds: float) -> None:
        """Wait as the server would, scaled like polling waits (XSOAR_LOCAL_TIME_SCALE)."""
        if seconds > 0:
            self.sleep(seconds * time_scale())

    def emit(self, record: TaskRecord) -> None:
        if self.report is not None:
            self.report(record)


@dataclass
class PlaybookResult:
    playbook: str
    state: str                      # completed or failed
    context: dict
    outputs: dict
    records: list[TaskRecord]
    war_room: list[dict]
    incident: dict
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.state != 'completed'

    def to_json(self) -> dict:
        return {'playbook': self.playbook, 'state': self.state, 'error': self.error,
                'tasks': [r.to_json() for r in self.records], 'outputs': self.outputs, 'context': self.context,
                'incident': self.incident, 'war_room': self.war_room}


# ---- checking a playbook before it runs --------------------------------------------------------------------------

def _check_conditions(groups: Any, where: str) -> None:
    for group in groups or []:
        for condition in group:
            if condition.get('operator') not in OPERATORS:
                raise PlaybookError(f'{where}: the condition operator "{condition.get("operator")}" is not supported '
                                    f'by xsoar-local (supported: {", ".join(sorted(OPERATORS))}).')
            for side in ('left', 'right'):
                _check_value(((condition.get(side) or {}).get('value') or {}), where)


def _check_value(spec: Any, where: str) -> None:
    complex_spec = spec.get('complex') if isinstance(spec, dict) else None
    if not isinstance(complex_spec, dict):
        return
    _check_conditions(complex_spec.get('filters'), where)
    for step in complex_spec.get('transformers') or []:
        if step.get('operator') not in TRANSFORMERS:
            raise PlaybookError(f'{where}: the transformer "{step.get("operator")}" is not supported by xsoar-local '
                                f'(supported: {", ".join(sorted(TRANSFORMERS))}).')
        for arg in (step.get('args') or {}).values():
            _check_value((arg or {}).get('value'), where)


def check_playbook(playbook: Playbook, library: PlaybookLibrary, seen: set[str] | None = None) -> None:
    """Every construct of the playbook and of the sub-playbooks it can reach, before anything runs."""
    seen = seen if seen is not None else set()
    if playbook.id in seen:
        return
    seen.add(playbook.id)
    tasks = playbook.tasks
    if str(playbook.data.get('starttaskid')) not in tasks:
        raise PlaybookError(f'{playbook.name}: the start task "{playbook.data.get("starttaskid")}" is not a task.')
    for task_id, task in tasks.items():
        where = f'{playbook.name}, task {task_id} ({(task.get("task") or {}).get("name") or task.get("type")})'
        kind = task.get('type')
        if kind not in TASK_TYPES:
            raise PlaybookError(f'{where}: the task type "{kind}" is not supported by xsoar-local (supported: '
                                f'{", ".join(TASK_TYPES)}).')
        for key, value in task.items():
            if key not in TASK_KEYS and value not in (None, '', [], {}, False, 0):
                raise PlaybookError(f'{where}: the task setting "{key}" is not supported by xsoar-local.')
        for key in ('timertriggers', 'fieldMapping', 'form', 'message', 'timerTriggers'):
            if task.get(key):
                raise PlaybookError(f'{where}: "{key}" is not supported by xsoar-local.')
        for label, targets in (task.get('nexttasks') or {}).items():
            for target in targets or []:
                if str(target) not in tasks:
                    raise PlaybookError(f'{where}: the next task "{target}" (branch {label}) is not a task.')
        _check_task_body(playbook, task, kind, where)
        for spec in (task.get('scriptarguments') or {}).values():
            _check_value(spec, where)
        _check_conditions([g for c in task.get('conditions') or [] for g in c.get('condition') or []], where)
        if kind == 'playbook':
            sub = library.find(_sub_playbook_key(task))
            if sub is not None:
                check_playbook(sub, library, seen)
    for spec in playbook.data.get('inputs') or []:
        where = f'{playbook.name}, input {spec.get("key") or "(indicators)"}'
        if spec.get('playbookInputQuery'):
            raise PlaybookError(f'{where}: an indicator query input (playbookInputQuery) is not supported by '
                                'xsoar-local.')
        _check_value((spec or {}).get('value'), where)


def _check_task_body(playbook: Playbook, task: dict, kind: str, where: str) -> None:
    body = task.get('task') or {}
    loop = task.get('loop')
    if loop and kind != 'playbook':
        raise PlaybookError(f'{where}: a loop on a {kind} task is not supported by xsoar-local (only sub-playbook '
                            'loops are).')
    if loop:
        if loop.get('iscommand') or loop.get('exitCondition'):
            raise PlaybookError(f'{where}: a loop exit condition run by a script or command ("exitCondition": '
                                f'{loop.get("exitCondition")!r}) is not supported by xsoar-local; use a built-in '
                                'exit condition.')
        _check_conditions(loop.get('builtincondition'), where)
    if kind == 'regular' and not (body.get('script') or body.get('scriptName')):
        raise PlaybookError(f'{where}: a manual task (no script or command) is not supported by xsoar-local.')
    if kind == 'playbook' and not _sub_playbook_key(task):
        raise PlaybookError(f'{where}: the sub-playbook task names no playbook.')
    if kind == 'condition' and not task.get('conditions') and not (body.get('script') or body.get('scriptName')):
        raise PlaybookError(f'{where}: a manual condition (an analyst picks the branch) is not supported by '
                            'xsoar-local.')


def _sub_playbook_key(task: dict) -> str:
    body = task.get('task') or {}
    return str(body.get('playbookId') or body.get('playbookName') or '')


# ---- running ----------------------------------------------------------------------------------------------------

class Frame:
    """One playbook being run: its tasks, inputs and the context it reads and writes."""

    def __init__(self, playbook: Playbook, session: Session, context: dict, inputs: dict[str, Any],
                 depth: int = 0) -> None:
        self.playbook = playbook
        self.session = session
        self.context = context
        self.depth = depth
        self.declared_inputs = {str(i.get('key')): i for i in playbook.data.get('inputs') or [] if i.get('key')}
        unknown = sorted(set(inputs) - set(self.declared_inputs))
        if unknown:
            known = ', '.join(sorted(self.declared_inputs)) or 'none'
            raise PlaybookError(f'{playbook.name} has no input named {", ".join(unknown)} (its inputs: {known}).')
        self.given_inputs = inputs
        self.last_entries: list[str] = []
        self._evaluating: set[str] = set()

    # ---- reading values (the Scope protocol of values.py) -------------------------------------------------------

    def lookup(self, path: str) -> Any:
        path = path.strip()
        head, _, rest = path.partition('.')
        if head == 'inputs':
            return self._input(rest)
        if head == 'incident':
            return read_path(self._incident_view(), rest) if rest else self._incident_view()
        if head == 'lastCompletedTaskEntries':
            return list(self.last_entries)
        return read_path(self.context, path)

    def _incident_view(self) -> dict:
        incident = self.session.incident
        return {**{k: v for k, v in incident.items() if k != 'CustomFields'}, **(incident.get('CustomFields') or {})}

    def _input(self, rest: str) -> Any:
        name = max((k for k in self.declared_inputs if rest == k or rest.startswith(k + '.')), key=len, default=None)
        if name is None:
            return None
        value = self.input_value(name)
        return read_path(value, rest[len(name) + 1:]) if rest != name else value

    def input_value(self, name: str) -> Any:
        if name in self.given_inputs:
            return self.given_inputs[name]
        if name in self._evaluating:
            raise PlaybookError(f'{self.playbook.name}: the default value of input {name} refers to itself.')
        self._evaluating.add(name)
        try:
            return evaluate(self.declared_inputs[name].get('value'), self)
        finally:
            self._evaluating.discard(name)

    def outputs(self) -> dict:
        found = {}
        for output in self.playbook.data.get('outputs') or []:
            path = str(output.get('contextPath') or '')
            if path:
                found[path] = read_path(self.context, path)
        return found

    # ---- the task graph ---------------------------------------------------------------------------------------

    def run(self) -> None:
        tasks = self.playbook.tasks
        start = str(self.playbook.data['starttaskid'])
        edges: dict[tuple[str, str], bool | None] = {}
        for source, task in tasks.items():
            for targets in (task.get('nexttasks') or {}).values():
                for target in targets or []:
                    edges[(str(source), str(target))] = None
        incoming: dict[str, list[tuple[str, str]]] = {t: [] for t in tasks}
        for edge in edges:
            incoming[edge[1]].append(edge)
        status = {str(t): 'pending' for t in tasks}
        order = [start]
        while True:
            self._settle_dead(status, edges, incoming, start)
            ready = [t for t in order if status[t] == 'pending' and
                     all(edges[e] is not None for e in incoming[t])]
            if not ready:
                stuck = [t for t in order if status[t] == 'pending']
                if not stuck:
                    return
                ready = stuck[:1]   # reached, but waiting on a task that waits on it: run it as the server would
            task_id = ready[0]
            chosen = self.run_task(task_id, tasks[task_id])
            status[task_id] = 'done'
            for target in chosen:
                if status[target] == 'done':
                    raise PlaybookError(f'{self.playbook.name}: task {target} is reached a second time (a cycle in '
                                        'the task graph), which xsoar-local does not support.')
                if target not in order:
                    order.append(target)
            for (source, target) in list(edges):
                if source == task_id:
                    edges[(source, target)] = target in chosen

    @staticmethod
    def _settle_dead(status: dict, edges: dict, incoming: dict, start: str) -> None:
        """A task no branch chose can never run; neither can the tasks only it leads to."""
        changed = True
        while changed:
            changed = False
            for task_id, state in status.items():
                if state != 'pending' or task_id == start or not incoming[task_id]:
                    continue
                if all(edges[e] is False for e in incoming[task_id]):
                    status[task_id] = 'dead'
                    for edge in edges:
                        if edge[0] == task_id:
                            edges[edge] = False
                    changed = True

    # ---- one task ---------------------------------------------------------------------------------------------

    def run_task(self, task_id: str, task: dict) -> list[str]:
        """Run one task; returns the IDs of the tasks it leads to."""
        kind = task.get('type')
        body = task.get('task') or {}
        record = TaskRecord(playbook=self.playbook.name, task_id=task_id, name=str(body.get('name') or kind),
                            kind=str(kind), depth=self.depth, started=datetime.now(UTC).strftime('%H:%M:%S'))
        self.session.records.append(record)
        nexttasks = task.get('nexttasks') or {}
        started = time.monotonic()
        try:
            if kind in ('start', 'title'):
                record.state = 'completed'
                return _targets(nexttasks, '#none#')
            if kind != 'playbook':
                self.session.emit(record)
            if kind == 'condition':
                return self._condition(task, body, record, nexttasks)
            if kind == 'playbook':
                failure = self._sub_playbook(task, body, record)
            else:
                failure = self._regular(task, body, record)
            return self._after(task, record, failure, nexttasks)
        finally:
            record.duration_s = round(time.monotonic() - started, 3)
            if kind not in ('start',):
                self.session.emit(record)

    def _after(self, task: dict, record: TaskRecord, failure: str | None, nexttasks: dict) -> list[str]:
        if record.state == 'skipped':
            return _targets(nexttasks, '#none#')
        if failure is None:
            record.state = 'completed'
            return _targets(nexttasks, '#none#')
        record.detail = failure
        if not task.get('continueonerror'):
            record.state = 'error'
            raise TaskFailed(f'{self.playbook.name}, task {record.task_id} "{record.name}" failed: {failure}')
        record.state = 'error-continued'
        error_type = task.get('continueonerrortype') or task.get('continueOnErrorType') or ''
        if error_type == 'errorPath':
            return _targets(nexttasks, '#error#')
        return _targets(nexttasks, '#none#')

    def _arguments(self, task: dict) -> dict:
        args = {}
        for name, spec in (task.get('scriptarguments') or {}).items():
            value = evaluate(spec, self)
            if not is_empty(value):
                args[str(name)] = value
        return args

    def _regular(self, task: dict, body: dict, record: TaskRecord) -> str | None:
        script = str(body.get('script') or body.get('scriptName') or '')
        args = self._arguments(task)
        if '|||' in script:
            brand, _, command = script.partition('|||')
            entries = self._command(task, brand, command, args, record)
        elif script in builtins.SCRIPTS:
            entries = builtins.run_builtin(builtins.SCRIPTS, script, self, args)
        else:
            entries = self._unavailable(task, record, f'the script "{script}" is not available in xsoar-local '
                                        f'(built-in scripts: {", ".join(sorted(builtins.SCRIPTS))})')
        if entries is None:
            return None
        self.last_entries = self.session.post(entries, record)
        errors = [str(e.get('Contents')) for e in entries if e.get('Type') == ERROR_ENTRY]
        return '; '.join(errors) if errors else None

    def _unavailable(self, task: dict, record: TaskRecord, what: str) -> list[dict] | None:
        """Skip the task under ``skipunavailable`` (None: no entries); otherwise the run stops naming what is
        missing."""
        if not task.get('skipunavailable'):
            raise PlaybookError(f'{self.playbook.name}, task {record.task_id} "{record.name}": {what}.')
        record.state = 'skipped'
        record.detail = f'skipped: {what}'
        return None

    def _command(self, task: dict, brand: str, command: str, args: dict, record: TaskRecord) -> list[dict] | None:
        for generic in GENERIC_ARGS_UNSUPPORTED:
            if generic in args:
                raise PlaybookError(f'{self.playbook.name}, task {record.task_id}: the generic argument "{generic}" '
                                    'is not supported by xsoar-local.')
        ignore_outputs = str(args.pop('ignore-outputs', 'false')).lower() == 'true'
        timeout = args.pop('execution-timeout', None)
        if brand in ('', 'Builtin') and command in builtins.SERVER_COMMANDS:
            return builtins.run_builtin(builtins.SERVER_COMMANDS, command, self, args)
        integrations = self.session.integrations_for(brand, command)
        if not integrations:
            where = f'the integration "{brand}"' if brand else 'no integration'
            return self._unavailable(task, record, f'{where} has the command "{command}"' if not brand else
                                     f'{where} is not available or has no command "{command}"')
        entries: list[dict] = []
        for integration in integrations:
            instance, env = self.session.instance_for(integration)
            options = replace(self.session.options, env={**self.session.options.env, **env})
            if timeout is not None:
                options = replace(options, timeout_s=float(timeout))

            def progress(result: RunResult, wait: float) -> None:
                record.state = 'waiting'
                record.detail = f'polling {(result.scheduled or {}).get("PollingCommand")} again in {wait:g} s'
                self.session.emit(record)

            rounds = run_with_polling(integration, instance, command, args, options, progress,
                                      sleep=self.session.sleep)
            for result in rounds:
                entries += result.entries
                self.session.undeclared += [f'{command}: {p}' for p in result.problems]
                if not ignore_outputs:
                    for entry in result.entries:
                        if isinstance(entry.get('EntryContext'), dict):
                            merge_entry_context(self.context, entry['EntryContext'])
        record.detail = ''
        return entries

    def _condition(self, task: dict, body: dict, record: TaskRecord, nexttasks: dict) -> list[str]:
        script = str(body.get('script') or body.get('scriptName') or '')
        if script:
            failure = self._regular(task, body, record)
            if record.state == 'skipped':
                return _targets(nexttasks, '#default#')
            if failure is not None:
                return self._after(task, record, failure, nexttasks)
            entries = [e for e in self.session.war_room if e['ID'] in self.last_entries]
            label = str(entries[-1].get('Contents')) if entries else ''
        else:
            label = next((str(c.get('label')) for c in task.get('conditions') or []
                          if holds(c.get('condition') or [], self)), '#default#')
        record.state = 'completed'
        record.detail = f'branch {label}'
        return _targets(nexttasks, label) if label in nexttasks else _targets(nexttasks, '#default#')

    # ---- sub-playbooks and loops ------------------------------------------------------------------------------

    def _sub_playbook(self, task: dict, body: dict, record: TaskRecord) -> str | None:
        key = _sub_playbook_key(task)
        sub = self.session.library.find(key)
        if sub is None:
            self._unavailable(task, record, f'the sub-playbook "{key}" is not in the packs')
            return None
        if self.depth + 1 > MAX_DEPTH:
            raise PlaybookError(f'{self.playbook.name}: sub-playbooks nest deeper than {MAX_DEPTH} levels.')
        record.detail = f'sub-playbook {sub.name}'
        self.session.emit(record)
        loop = task.get('loop') or {}
        separate = bool(task.get('separatecontext'))
        try:
            if loop.get('forEach'):
                self._for_each(task, sub, loop, separate, record)
            elif loop.get('builtincondition'):
                self._until(task, sub, loop, separate, record)
            else:
                self._run_child(sub, self._arguments(task), separate)
        except TaskFailed as failed:
            return str(failed)
        return None

    def _run_child(self, sub: Playbook, inputs: dict, separate: bool) -> None:
        context = copy.deepcopy(self.context) if separate else self.context
        child = Frame(sub, self.session, context, inputs, self.depth + 1)
        child.run()
        if separate:
            for output in sub.data.get('outputs') or []:
                path = _copy_root(child.context, str(output.get('contextPath') or ''))
                if path:
                    value = read_path(child.context, path)
                    if value is not None:
                        builtins.set_path(self.context, path, value)

    def _for_each(self, task: dict, sub: Playbook, loop: dict, separate: bool, record: TaskRecord) -> None:
        """One run per item of the list inputs (the n-th item of each list; other inputs as they are)."""
        inputs = self._arguments(task)
        count = max((len(v) for v in inputs.values() if isinstance(v, list)), default=1 if inputs else 0)
        limit = int(loop.get('max') or DEFAULT_LOOP_MAX)
        for index in range(min(count, limit)):
            item = {k: (v[index] if index < len(v) else None) if isinstance(v, list) else v
                    for k, v in inputs.items()}
            record.detail = f'sub-playbook {sub.name}, iteration {index + 1} of {min(count, limit)}'
            self._run_child(sub, item, separate)
            if index + 1 < min(count, limit):
                self.session.wait(float(loop.get('wait') or 0))

    def _until(self, task: dict, sub: Playbook, loop: dict, separate: bool, record: TaskRecord) -> None:
        """Run, then check the exit condition; at most ``max`` runs, ``wait`` seconds apart."""
        limit = int(loop.get('max') or DEFAULT_LOOP_MAX)
        for iteration in range(1, limit + 1):
            record.detail = f'sub-playbook {sub.name}, iteration {iteration}'
            self._run_child(sub, self._arguments(task), separate)
            if holds(loop['builtincondition'], self):
                return
            if iteration < limit:
                self.session.wait(float(loop.get('wait') or 0))
        record.detail = f'sub-playbook {sub.name}: the exit condition did not hold after {limit} iterations'


def _targets(nexttasks: dict, label: str) -> list[str]:
    return [str(t) for t in nexttasks.get(label) or []]


def _copy_root(context: dict, path: str) -> str:
    """What an output path brings back from a private context: the whole object at its first two levels
    (``MicrosoftATP.MachineAction.ID`` brings ``MicrosoftATP.MachineAction``, every action with all its fields);
    empty when the child never wrote it."""
    root = '.'.join([p for p in path.split('.') if p][:2])
    return root if root and read_path(context, root) is not None else ''


def run_playbook(playbook: Playbook, session: Session, inputs: dict[str, Any] | None = None,
                 context: dict | None = None) -> PlaybookResult:
    """Run ``playbook`` to its end. A failed task (not continued) ends the run as failed; a construct xsoar-local does
    not support raises :class:`PlaybookError` before any task runs."""
    check_playbook(playbook, session.library)
    frame = Frame(playbook, session, context if context is not None else {}, dict(inputs or {}))
    state, error = 'completed', None
    try:
        frame.run()
    except TaskFailed as failed:
        state, error = 'failed', str(failed)
    return PlaybookResult(playbook=playbook.name, state=state, context=frame.context, outputs=frame.outputs(),
                          records=session.records, war_room=session.war_room, incident=session.incident, error=error)

