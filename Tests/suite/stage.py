"""``python -m suite.stage time NAME CMD...`` runs one stage of `make test` and records its wall time;
``python -m suite.stage report`` prints every stage's wall time and counts (the end of `make test`);
``python -m suite.stage clear NAME`` forgets a stage's figures before it runs again."""
from __future__ import annotations

import subprocess
import sys
import time

from suite import counts


def time_stage(stage: str, command: list[str]) -> int:
    """Run the stage's command; its wall time is recorded whether it passed or not (a failure is worth timing)."""
    started = time.monotonic()
    code = subprocess.call(command)
    wall = time.monotonic() - started
    counts.record_time(stage, wall)
    print(f'--- stage {stage}: {wall:.0f} s wall time', flush=True)
    return code


def main(argv: list[str]) -> int:
    if argv[:1] == ['time'] and len(argv) > 2:
        return time_stage(argv[1], argv[2:])
    if argv[:1] == ['clear'] and len(argv) == 2:
        counts.clear(argv[1])
        return 0
    if argv == ['report']:
        print(counts.table(counts.totals()))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
