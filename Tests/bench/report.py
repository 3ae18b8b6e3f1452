"""Benchmark results as rows (figure, target, met) rendered as markdown (build/bench.md, the README) or with rich."""
from __future__ import annotations

from dataclasses import dataclass

from .scenarios import BulkFigures, FetchFigures, HuntingFigures, Overhead, RoundTrip, TokenReuse, same_calls

LAST_RUN_TARGET = 64 * 1024


@dataclass
class Row:
    section: str
    item: str
    figure: str
    target: str = ''
    met: bool | None = None          # None: measured only (times, memory) or pending
    note: str = ''

    @property
    def verdict(self) -> str:
        return {True: 'yes', False: 'NO', None: '—'}[self.met]


def _calls(calls: list[str]) -> str:
    return ', '.join(c.split(' ', 2)[0] + ' ' + c.split(' ', 2)[1] for c in calls) or 'none'


def round_trip_rows(results: list[RoundTrip]) -> list[Row]:
    rows = []
    for r in results:
        expected = r.expected
        figure = f'cold {len(r.cold)} ({r.cold_tokens} token), warm {len(r.warm)} ({r.warm_tokens} token)'
        target = ('no expectation recorded' if expected is None
                  else f'warm {expected.count}, cold {expected.count + expected.cold_tokens}')
        notes = []
        if r.errors:
            notes.append('error: ' + r.errors[0][:120])
        if expected is not None and expected.count != 1:
            notes.append(f'{_calls(r.warm_api)}: {expected.reason}')
        if not same_calls(r.cold_api, r.warm_api):
            notes.append(f'cold API calls differ: {_calls(r.cold_api)}')
        rows.append(Row('1. Round trips', f'{r.integration} [{r.variant}] {r.command}', figure, target,
                        r.met, '; '.join(notes)))
    return rows


def overhead_rows(results: list[Overhead]) -> list[Row]:
    return [Row('2. Overhead', f'{o.integration} warm {o.command}',
                f'{o.overhead_s * 1000:.0f} ms (command {o.command_median_s * 1000:.0f} ms − bare runtime '
                f'{o.bare_median_s * 1000:.0f} ms, median of {o.runs})', 'measured', None) for o in results]


def fetch_rows(results: list[FetchFigures], pending: list[tuple[str, str]]) -> list[Row]:
    rows = []
    for f in results:
        name = f'{f.label}: {f.incidents:,} incidents'
        problems = '; '.join(f.errors[:1])
        complete = f.unique == f.fetched == f.incidents and not f.errors
        rows += [
            Row('3. Fetch', f'{name}, requests', f'{f.api_requests} API + {f.token_requests} token in {f.cycles} cycles',
                f'≤ ceil({f.incidents:,}/{f.page_size}) + {f.cycles} = {f.minimum}', f.api_requests <= f.minimum,
                problems or (f'{f.api_requests - f.minimum} above the minimum ({f.api_requests / f.minimum:.2f}×)'
                             if f.api_requests > f.minimum else '')),
            Row('3. Fetch', f'{name}, completeness', f'{f.unique:,} unique of {f.fetched:,} fetched',
                f'{f.incidents:,}, no duplicates', complete),
            Row('3. Fetch', f'{name}, lastRun size', f'{f.last_run_bytes} bytes', '< 64 KB',
                f.last_run_bytes < LAST_RUN_TARGET),
            Row('3. Fetch', f'{name}, peak memory', f'{f.peak_kb / 1024:.0f} MiB (largest cycle process)', 'measured'),
            Row('3. Fetch', f'{name}, throughput', f'{f.per_second:,.0f} incidents/s ({f.seconds:.1f} s)', 'measured'),
        ]
    rows += [Row('3. Fetch', label, f'pending: {name_of(integration)}', '') for integration, label in pending]
    return rows


def hunting_rows(results: list[HuntingFigures]) -> list[Row]:
    rows = []
    for h in results:
        name = f'{h.label}, {h.rows_requested:,} rows'
        rows += [
            Row('4. Hunting', f'{name}, rows and requests', f'{h.rows:,} rows in {h.api_requests} API request(s)',
                f'{h.rows_requested:,} rows, 1 request', h.rows == h.rows_requested and h.api_requests == 1,
                '; '.join(h.errors[:1])[:160]),
            Row('4. Hunting', f'{name}, time to entry', f'{h.seconds:.2f} s', 'measured'),
            Row('4. Hunting', f'{name}, peak memory', f'{h.peak_kb / 1024:.0f} MiB', 'measured'),
            Row('4. Hunting', f'{name}, war-room entry', f'{h.entry_bytes / 1024 / 1024:.1f} MiB entry, '
                f'{h.human_readable_bytes / 1024:.0f} KiB human readable', 'measured'),
        ]
    return rows


def bulk_rows(pending: list[tuple[str, str]]) -> list[Row]:
    return [Row('5. Bulk under rate limits', label, f'pending: {name_of(integration)}', '') for integration, label
            in pending]


def bulk_figure_rows(b: BulkFigures) -> list[Row]:
    name = f'{b.label}, {b.limit} calls per {b.window_s:g} s'
    problem = '; '.join(b.errors[:1])[:160]
    return [
        Row('5. Bulk under rate limits', f'{name}, wall time', f'{b.seconds:.1f} s against a floor of {b.floor_s:.1f} s '
            f'({b.accepted} accepted calls)', 'measured', None,
            f'{b.seconds / b.floor_s:.2f}× the floor' if b.floor_s else ''),
        Row('5. Bulk under rate limits', f'{name}, 429s received', f'{b.throttled} (each retried after Retry-After)',
            'measured'),
        Row('5. Bulk under rate limits', f'{name}, failed calls', f'{b.failed}', '0', b.failed == 0, problem),
        Row('5. Bulk under rate limits', f'{name}, machines isolated',
            f'{b.isolated} of {b.machines} ({b.isolations} isolation requests accepted)',
            f'{b.machines}, one request each', b.isolated == b.isolations == b.machines),
    ]


def name_of(integration: str) -> str:
    return 'Defender for Endpoint' if integration == 'MicrosoftDefenderAdvancedThreatProtection' else integration


def token_rows(results: list[TokenReuse]) -> list[Row]:
    rows = []
    for t in results:
        first = t.tokens_per_process[0] if t.tokens_per_process else 0
        hosts = sorted(set(t.token_hosts))
        rows += [
            Row('6. Tokens', f'{t.label}: requests for one token', f'{first} ({", ".join(hosts) or "none"})', '1',
                first == 1 and not t.errors, '; '.join(t.errors[:1])[:160]),
            Row('6. Tokens', f'{t.label}: {t.processes} processes in a row',
                f'{t.total_tokens} token request(s), {t.api_requests} API', '1 token request',
                t.total_tokens == 1 and not t.errors),
        ]
    return rows


HEADER = ('Section', 'Measured', 'Figure', 'Target', 'Met', 'Notes')


def _cell(text: str) -> str:
    return text.replace('|', '\\|').replace('\n', ' ')


def to_markdown(rows: list[Row], title: str = 'Benchmarks') -> str:
    lines = [f'# {title}', '', '| ' + ' | '.join(HEADER) + ' |', '|' + '---|' * len(HEADER)]
    for r in rows:
        lines.append('| ' + ' | '.join(_cell(c) for c in (r.section, r.item, r.figure, r.target, r.verdict, r.note))
                     + ' |')
    met = sum(1 for r in rows if r.met)
    judged = sum(1 for r in rows if r.met is not None)
    lines += ['', f'{met} of {judged} targets met.', '']
    return '\n'.join(lines)


def print_rich(rows: list[Row], title: str = 'Benchmarks') -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for column in HEADER:
        table.add_column(column, overflow='fold')
    colours = {True: 'green', False: 'red', None: 'dim'}
    for r in rows:
        table.add_row(r.section, r.item, r.figure, r.target, f'[{colours[r.met]}]{r.verdict}[/]', r.note)
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(table)
