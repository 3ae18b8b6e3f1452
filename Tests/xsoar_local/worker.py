"""A long-lived executor process: ``python -m xsoar_local.worker`` reads one job per stdin line (JSON: a job carries
credentials, so it never goes through a file) and answers ``done <output path>`` when the job's outcome is written
(see ``executors.WorkerProcess``).

Each job runs exactly as ``python -m xsoar_local.executor`` runs it (``executor.run_job``: fresh ``__main__``
namespace, fresh demistomock backend, same state store), so what is saved is interpreter start-up, imports and
loading the code of CommonServerPython and the script (``executor._code`` keeps it per process). Two knobs make
fault checks fast without changing what the integration decides:

* waits (``time.sleep``) are multiplied by the job's ``limits.sleep_scale``; the waits asked for are summed per job
  and returned as ``requested_wait_s`` so a suite can check they stay bounded;
* ``limits.http_timeout`` caps every HTTP request's timeout to that many seconds, which stands in for the
  integration's own timeout when a response hangs.
"""
from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import requests

from xsoar_local import executor

_REAL_SLEEP = time.sleep
_REAL_REQUEST = requests.Session.request
_state: dict[str, Any] = {'waits': 0.0, 'timeout': None, 'scale': 1.0}


def _scaled_sleep(seconds: float) -> None:
    _state['waits'] += max(0.0, float(seconds))
    _REAL_SLEEP(max(0.0, float(seconds)) * _state['scale'])


def _capped(timeout: Any, cap: float) -> Any:
    if isinstance(timeout, tuple):
        return tuple(cap if t is None else min(float(t), cap) for t in timeout)
    return cap if timeout is None else min(float(timeout), cap)


def _request(self: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    cap = _state['timeout']
    if cap:
        kwargs['timeout'] = _capped(kwargs.get('timeout'), cap)
    return _REAL_REQUEST(self, method, url, **kwargs)


def run_one(job: dict) -> None:
    limits = job.get('limits') or {}
    _state.update(waits=0.0, timeout=limits.get('http_timeout'), scale=float(limits.get('sleep_scale', 1.0)))
    os.chdir(os.path.dirname(job['output']))  # fileResult writes to the working directory, as in a fresh process
    outcome = executor.run_job(job)
    outcome['requested_wait_s'] = round(_state['waits'], 3)
    executor.write_outcome(job, outcome)


def main() -> int:
    replies = sys.stdout
    sys.stdout = sys.stderr     # whatever a script prints must not reach the reply channel
    time.sleep = _scaled_sleep  # type: ignore[assignment]
    requests.Session.request = _request  # type: ignore[method-assign,assignment]
    for line in sys.stdin:
        if line.strip():
            job = json.loads(line)
            run_one(job)
            replies.write(f'done {job["output"]}\n')
            replies.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
