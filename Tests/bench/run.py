"""``.venv/bin/python -m bench.run [--quick] [--only SECTION ...] [--output build/bench.md]``: run the benchmarks
against an embedded emulator, print the table and write it as markdown. Exit status 0 whatever the figures are:
benchmarks measure; the exact counts are asserted by Tests/bench/test_bench_*.py."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from xsoar_local.integrations import repo_root

from . import report, scenarios

SECTIONS = ('roundtrips', 'overhead', 'fetch', 'hunting', 'bulk', 'tokens')
FULL = {'fetch': 10_000, 'hunting': 100_000, 'overhead_runs': 7, 'bulk_time_percent': 100}
QUICK = {'fetch': 300, 'hunting': 1_000, 'overhead_runs': 3, 'bulk_time_percent': 5}   # bulk: a 3-second minute


def run(sections: tuple[str, ...], sizes: dict[str, int], progress=print) -> list[report.Row]:
    rows: list[report.Row] = []
    with scenarios.Bench.start() as bench:
        def step(name: str) -> None:
            progress(f'[bench] {name}...', file=sys.stderr, flush=True)

        if 'roundtrips' in sections:
            step('round trips per command, cold and warm')
            rows += report.round_trip_rows(scenarios.round_trips(bench))
        if 'overhead' in sections:
            step('per-command overhead')
            rows += report.overhead_rows([scenarios.command_overhead(bench, i, sizes['overhead_runs'])
                                          for i in scenarios.bench_integrations()])
        if 'fetch' in sections:
            fetched = []
            for scenario in scenarios.FETCH_SCENARIOS:
                step(f'fetch: {scenario.label}, {sizes["fetch"]:,} incidents')
                fetched.append(scenarios.fetch_throughput(bench, scenario, sizes['fetch']))
            covered = {f.integration for f in scenarios.FETCH_SCENARIOS}
            rows += report.fetch_rows(fetched, [p for p in scenarios.FETCH_PENDING if p[0] not in covered])
        if 'hunting' in sections:
            hunted = []
            for backend in (scenarios.GRAPH, scenarios.LEGACY):
                step(f'advanced hunting: {sizes["hunting"]:,} rows, {backend}')
                hunted.append(scenarios.advanced_hunting(bench, sizes['hunting'], backend))
            rows += report.hunting_rows(hunted)
        if 'bulk' in sections:
            for bulk in scenarios.BULK_SCENARIOS:
                step(f'bulk: {bulk.label}')
                rows += bulk.run(bench, sizes['bulk_time_percent'] / 100)
            done = {b.integration for b in scenarios.BULK_SCENARIOS}
            rows += report.bulk_rows([p for p in scenarios.BULK_PENDING if p[0] not in done])
        if 'tokens' in sections:
            step('token reuse across processes')
            rows += report.token_rows([scenarios.token_reuse(bench, s) for s in scenarios.TOKEN_SCENARIOS])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m bench.run', description=__doc__)
    parser.add_argument('--quick', action='store_true', help='small sizes (300 incidents, 1,000 hunting rows)')
    parser.add_argument('--only', nargs='+', choices=SECTIONS, help='run only these sections')
    parser.add_argument('--output', type=Path, default=repo_root() / 'build' / 'bench.md')
    options = parser.parse_args(argv)
    sizes = QUICK if options.quick else FULL
    started = time.monotonic()
    rows = run(tuple(options.only or SECTIONS), sizes)
    title = f'Benchmarks ({"quick" if options.quick else "full"} run, {time.monotonic() - started:.0f} s)'
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(report.to_markdown(rows, title), encoding='utf-8')
    report.print_rich(rows, title)
    print(f'Written to {options.output}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
