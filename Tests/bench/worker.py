"""``python -m bench.worker -``: runs one measurement in a fresh interpreter (see scenarios._in_fresh_process). The
job comes as JSON on stdin (it carries an instance's credentials, so it is never written to a file); the result is
written as JSON to the job's ``output`` path."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import scenarios


def main(source: str = '-') -> int:
    job = json.loads(sys.stdin.read() if source == '-' else Path(source).read_text(encoding='utf-8'))
    workers: dict[str, Callable[..., dict[str, Any]]] = {'fetch': scenarios.fetch_worker,
                                                         'command': scenarios.command_worker}
    worker = workers[job['kind']]
    result = worker(**job['kwargs'])
    Path(job['output']).write_text(json.dumps(result), encoding='utf-8')
    return 0


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:2]))
