"""The reliability suite's tally: every case a test tries is recorded here, and the session ends with a table.

A row is (area, check): e.g. ("Faults", "429 with Retry-After, first request"). Each case adds one to the row's
count and, if the pack held (success after retry, or a clear error entry with no traceback, hang or partial write),
one to its held count. A case that did not hold keeps a short reason, listed under the table.
"""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Row:
    area: str
    check: str
    cases: int = 0
    held: int = 0
    failures: list[str] = field(default_factory=list)


class Ledger:
    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], Row] = {}
        self._lock = threading.Lock()

    def record(self, area: str, check: str, case: str, held: bool, reason: str = '') -> None:
        """Count one case; ``case`` names it (e.g. the command) so a failure can be found again."""
        with self._lock:
            row = self._rows.setdefault((area, check), Row(area, check))
            row.cases += 1
            row.held += int(held)
            if not held:
                row.failures.append(f'{case}: {reason}' if reason else case)

    @property
    def rows(self) -> list[Row]:
        return list(self._rows.values())

    @property
    def cases(self) -> int:
        return sum(r.cases for r in self.rows)

    def dump(self) -> list[dict]:
        """The rows as plain data: what an xdist worker hands its controller, and what a session leaves on disk."""
        return [asdict(row) for row in self.rows]

    def merge(self, rows: list[dict]) -> None:
        """Add another session's or worker's rows (a row tried in both adds up)."""
        with self._lock:
            for data in rows:
                row = self._rows.setdefault((data['area'], data['check']), Row(data['area'], data['check']))
                row.cases += data['cases']
                row.held += data['held']
                row.failures += data['failures']

    def markdown(self) -> str:
        lines = ['# Reliability and security suite', '',
                 '| Area | What was tried | Cases | Held | Verdict |', '|---|---|---:|---:|---|']
        for row in self.rows:
            verdict = 'holds' if row.held == row.cases else f'**{row.cases - row.held} failed**'
            lines.append(f'| {row.area} | {row.check} | {row.cases} | {row.held} | {verdict} |')
        total = sum(r.cases for r in self.rows)
        held = sum(r.held for r in self.rows)
        lines += ['', f'Total: {held} of {total} cases held.']
        failed = [r for r in self.rows if r.failures]
        if failed:
            lines += ['', '## Cases that did not hold', '']
            for row in failed:
                lines += [f'- {row.area} / {row.check}: {f}' for f in row.failures[:20]]
        return '\n'.join(lines) + '\n'

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.markdown(), encoding='utf-8')


LEDGER = Ledger()
