"""Test and case counts per stage, recorded by each pytest session and compared with a checked-in floor.

A stage (unit, e2e, reliability) may be several pytest sessions: the parallel one (``-n 2``) and the serial one for
tests that need the whole machine. Each session started by ``make`` (which sets ``SUITE_STAGE``) writes one small
JSON file under ``build/test-counts/``; a stage's figures are the sum of its files. The floor in ``floor.json`` is
what the suite had when it was last raised: a case that silently disappears (a parametrization lost, a test file no
longer collected) brings a figure under it and fails ``make test``.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COUNTS_DIR = ROOT / 'build' / 'test-counts'
FLOOR_PATH = Path(__file__).with_name('floor.json')
STAGES = ('lint+validate', 'lint', 'validate', 'unit', 'e2e', 'reliability')
# What each stage's figure counts: passed tests, or (reliability) the cases its ledger recorded.
FLOOR_FIGURES = {'unit': 'tests', 'e2e': 'tests', 'reliability': 'cases'}


@dataclass
class StageFigures:
    stage: str
    tests: int = 0
    failed: int = 0
    skipped: int = 0
    cases: int = 0
    wall_s: float | None = None


def current_stage() -> str | None:
    """The stage ``make`` is running (``SUITE_STAGE``); None when pytest was started by hand."""
    return os.environ.get('SUITE_STAGE') or None


def record_session(stage: str, tests: int, failed: int, skipped: int, cases: int = 0,
                   directory: Path = COUNTS_DIR) -> Path:
    """One pytest session's figures, in a file of its own (sessions of a stage never overwrite each other)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f'{stage}-session-{uuid.uuid4().hex[:8]}.json'
    path.write_text(json.dumps({'stage': stage, 'tests': tests, 'failed': failed, 'skipped': skipped,
                                'cases': cases}), encoding='utf-8')
    return path


def record_time(stage: str, wall_s: float, directory: Path = COUNTS_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f'{stage}-time.json').write_text(json.dumps({'stage': stage, 'wall_s': round(wall_s, 1)}),
                                                  encoding='utf-8')


def clear(stage: str, directory: Path = COUNTS_DIR) -> None:
    """Forget a stage's earlier figures (files, and folders a suite keeps beside them) before it runs again."""
    for path in directory.glob(f'{stage}-*'):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def totals(directory: Path = COUNTS_DIR) -> dict[str, StageFigures]:
    """Every recorded stage, sessions summed, in the order make runs them."""
    found: dict[str, StageFigures] = {}
    for path in sorted(directory.glob('*.json')) if directory.exists() else []:
        data = json.loads(path.read_text(encoding='utf-8'))
        figures = found.setdefault(data['stage'], StageFigures(data['stage']))
        if 'wall_s' in data:
            figures.wall_s = data['wall_s']
            continue
        figures.tests += data['tests']
        figures.failed += data['failed']
        figures.skipped += data['skipped']
        figures.cases += data['cases']
    order = {name: i for i, name in enumerate(STAGES)}
    return dict(sorted(found.items(), key=lambda item: order.get(item[0], len(order))))


def floor(path: Path = FLOOR_PATH) -> dict[str, int]:
    return json.loads(path.read_text(encoding='utf-8'))


def shortfalls(figures: dict[str, StageFigures], minimum: dict[str, int]) -> list[str]:
    """Each floor figure that was not reached (a stage that recorded nothing counts as zero)."""
    missing = []
    for stage, wanted in minimum.items():
        what = FLOOR_FIGURES[stage]
        got = getattr(figures.get(stage) or StageFigures(stage), what)
        if got < wanted:
            missing.append(f'{stage}: {got} {what}, the floor is {wanted}')
    return missing


def table(figures: dict[str, StageFigures]) -> str:
    """Stage wall times and counts, as `make test` prints them at its end."""
    lines = [f'{"stage":<12} {"wall time":>10} {"tests":>8} {"cases":>8}']
    total = 0.0
    for fig in figures.values():
        wall = '-' if fig.wall_s is None else f'{fig.wall_s:.0f} s'
        total += fig.wall_s or 0.0
        tests = str(fig.tests) if fig.stage in FLOOR_FIGURES else '-'
        cases = str(fig.cases) if fig.cases else '-'
        lines.append(f'{fig.stage:<12} {wall:>10} {tests:>8} {cases:>8}')
    lines.append(f'{"total":<12} {total:>8.0f} s')
    return '\n'.join(lines)
