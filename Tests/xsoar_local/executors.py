"""Executors: how a prepared job (``runner._job``) becomes an outcome. The runner's only seam for running a command.

Everything before and after the execution is the same whatever the executor — argument defaults, the unified build,
state, polling, context merge and the YAML output check live in ``runner`` — so an executor only decides where the
unified script runs:

* :class:`FreshProcess` — a new Python process per execution (``python -m xsoar_local.executor``), as the server
  does. The default, and what the end-to-end tests use: it proves what a customer's command does.
* :class:`WorkerProcess` — one long-lived process (``python -m xsoar_local.worker``) that runs each job in a fresh
  ``__main__`` namespace with a fresh demistomock backend; it saves interpreter start-up and imports, and can scale
  waits and cap HTTP timeouts (:class:`Limits`) so fault checks run fast. :class:`WorkerPool` shares several.
* :class:`InProcess` — ``executor.run_job`` in the calling process: unit-test speed, for checks that need neither
  process isolation nor a killable command.

An executor is any callable ``(job, work_dir, options) -> (outcome or None, stderr)``; None means no outcome (the
reason is in the stderr text, which becomes the error entry).
"""
from __future__ import annotations

import importlib
import json
import os
import queue
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .runner import RunOptions

Outcome = tuple[dict | None, str]


class Executor(Protocol):
    def __call__(self, job: dict, work_dir: Path, options: RunOptions) -> Outcome: ...


def script_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a script process. The certificate key is for substituting into instance files (done
    already); a script on a real server has no instance's key in its environment, and debug mode logs it all."""
    return {k: v for k, v in (dict(os.environ) | extra).items() if k != 'EMULATOR_CERT_PRIVATE_KEY'}


def _job_line(job: dict) -> str:
    """The job as one line of JSON, handed to the child through its stdin pipe. A job carries the instance's
    credentials, so it is never written to disk: a command killed mid-run must not leave them in a file."""
    return json.dumps(job, separators=(',', ':'))


def _read_outcome(job: dict) -> dict | None:
    path = Path(job['output'])
    return json.loads(path.read_text(encoding='utf-8')) if path.exists() else None


def _timed_out(options: RunOptions) -> str:
    return f'The command did not finish within {options.timeout_s:g} seconds and was stopped.'


class FreshProcess:
    """One fresh interpreter per execution, stopped when it outlives the command timeout."""

    def __call__(self, job: dict, work_dir: Path, options: RunOptions) -> Outcome:
        env = script_env(options.env)
        try:
            proc = subprocess.run([sys.executable, '-m', 'xsoar_local.executor', '-'], cwd=work_dir, env=env,
                                  input=_job_line(job), capture_output=True, text=True, timeout=options.timeout_s,
                                  check=False)
        except subprocess.TimeoutExpired:
            return None, _timed_out(options)
        outcome = _read_outcome(job)
        if outcome is None:
            return None, f'The command process ended without a result (exit code {proc.returncode}).\n' \
                         f'{proc.stderr[-4000:]}'
        return outcome, proc.stderr


@dataclass
class Limits:
    """What a worker changes to make slow paths fast: waits run at ``sleep_scale`` of their length (and are summed
    as ``requested_wait_s``), and every HTTP timeout is capped at ``http_timeout`` seconds (None: not capped)."""

    sleep_scale: float = 1.0
    http_timeout: float | None = None


class WorkerProcess:
    """One long-lived ``xsoar_local.worker`` process running one job at a time; restarted after a job it had to
    abandon (stuck past the timeout, or the process died)."""

    def __init__(self, env: dict[str, str], log: Path, limits: Limits | None = None) -> None:
        self.env = script_env(env)
        self.log = log
        self.limits = limits or Limits()
        self.proc: subprocess.Popen | None = None
        self.last_wait_s = 0.0

    def _start(self) -> subprocess.Popen:
        with self.log.open('ab') as log:
            return subprocess.Popen([sys.executable, '-m', 'xsoar_local.worker'], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=log, env=self.env, text=True, cwd=self.log.parent,
                                    bufsize=1)

    def __call__(self, job: dict, work_dir: Path, options: RunOptions) -> Outcome:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        job['limits'] = {'sleep_scale': self.limits.sleep_scale, 'http_timeout': self.limits.http_timeout}
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(f'{_job_line(job)}\n')
            self.proc.stdin.flush()
        except OSError:
            self.stop()
            return None, 'The worker process ended before it took the job.'
        if not self._await(f'done {job["output"]}', time.monotonic() + options.timeout_s):
            self.stop()
            return None, _timed_out(options)
        outcome = _read_outcome(job)
        if outcome is None:
            return None, 'The worker answered without writing a result.'
        self.last_wait_s = float(outcome.get('requested_wait_s') or 0.0)
        return outcome, ''

    def _await(self, reply: str, deadline: float) -> bool:
        """Wait for the worker's reply to this job (a reply to an abandoned job is skipped). The worker may be
        killed meanwhile (a test killing a command mid-cycle): that is a job without a reply."""
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        while time.monotonic() < deadline:
            try:
                ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
                line = proc.stdout.readline() if ready else ''
            except (OSError, ValueError):
                return False
            if not ready or not line:
                return False        # timed out, or the worker died
            if line.strip() == reply:
                return True
        return False

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.kill()
            proc.wait(10)


class WorkerPool:
    """Several worker processes; each job goes to an idle one (callers in several threads run in parallel)."""

    def __init__(self, workers: list[WorkerProcess]) -> None:
        self.workers = workers
        self._idle: queue.Queue[WorkerProcess] = queue.Queue()
        for worker in workers:
            self._idle.put(worker)

    @classmethod
    @contextmanager
    def open(cls, size: int, env: dict[str, str], logs: Path, limits: Limits | None = None) -> Iterator[WorkerPool]:
        logs.mkdir(parents=True, exist_ok=True)
        pool = cls([WorkerProcess(env, logs / f'worker{i}.log', limits) for i in range(size)])
        try:
            yield pool
        finally:
            pool.stop()

    def __call__(self, job: dict, work_dir: Path, options: RunOptions) -> Outcome:
        worker = self._idle.get()
        try:
            return worker(job, work_dir, options)
        finally:
            self._idle.put(worker)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


class InProcess:
    """``executor.run_job`` in this process: a fresh ``__main__`` namespace and backend per job, no isolation (the
    script shares this interpreter's modules and cannot be stopped). One job at a time per process.

    The job runs with ``options.env`` in the environment and in the work directory, as a fresh process would, and
    the process is left as it was found (:func:`restored_process`): a unit test that runs after a command must not
    see that command's demistomock backend, calling context or debug flag.

    ``keep_namespace``: the namespace where a script (the same code) ran before is reused, and only its ``main()``
    runs again — what an integration's unit tests do when they import it once, at a tenth of the cost of running
    CommonServerPython and the script's module code per job. Module-level state then lives on between jobs, so this
    is for checks of many cases against one instance (the hostile-input suite), not for proving a command."""

    def __init__(self, keep_namespace: bool = False) -> None:
        self.kept: dict | None = {} if keep_namespace else None

    def __call__(self, job: dict, work_dir: Path, options: RunOptions) -> Outcome:
        from . import executor

        with restored_process(script_env(options.env), job['import_paths']):
            os.chdir(work_dir)          # fileResult writes to the working directory, as in a fresh process
            outcome = executor.run_job(job, self.kept)
        return json.loads(json.dumps(outcome, default=str)), ''   # what a process would have written


@contextmanager
def restored_process(env: dict[str, str], import_paths: list[str]) -> Iterator[None]:
    """Run with ``env`` as the environment, then put back what a job changes in this process: the environment,
    ``sys.path`` (the job's import paths), the working directory, ``__main__``, and every global of demistomock
    (``executor.run_job`` sets its backend, ``is_debug`` and ``callingContext``; a script may set others).
    demistomock is imported first if it was not yet, so the module a script (or a kept namespace) holds stays the
    one in ``sys.modules``."""
    saved_env, saved_path, saved_cwd = dict(os.environ), list(sys.path), os.getcwd()
    saved_main = sys.modules.get('__main__')
    if 'demistomock' not in sys.modules:
        sys.path[:0] = [p for p in import_paths if p not in sys.path]
        importlib.import_module('demistomock')
    demistomock = sys.modules['demistomock']
    saved_mock = dict(vars(demistomock))
    _replace(os.environ, env)
    try:
        yield
    finally:
        _replace(os.environ, saved_env)
        sys.path[:] = saved_path
        os.chdir(saved_cwd)
        if saved_main is not None:
            sys.modules['__main__'] = saved_main
        sys.modules['demistomock'] = demistomock
        _replace(vars(demistomock), saved_mock)


def _replace(mapping: Any, saved: dict) -> None:
    """Make ``mapping`` hold exactly ``saved`` again (the same objects), touching only the keys that differ (each
    change to ``os.environ`` is a ``putenv``)."""
    for key in [k for k in mapping if k not in saved]:
        del mapping[key]
    for key, value in saved.items():
        current = mapping.get(key, _MISSING)
        if current is not value and not (isinstance(value, str) and current == value):
            mapping[key] = value


_MISSING = object()
