"""``make demo``: what the project can do today, run for real and shown in the terminal.

Each scene runs commands through xsoar-local exactly as a SOC engineer would in the war room. The demo keeps its state
in a temporary folder, so it never disturbs a developer's own ``.xsoar-local``.
"""
from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from .instances import build_instance
from .integrations import find_integration
from .render import render_incidents, render_result
from .runner import RunOptions, run_fetch, run_with_polling, summarize_incidents

Scene = Callable[[Console, RunOptions], None]


def _runtime_scene(console: Console, options: RunOptions) -> None:
    integration = find_integration('XSOARLocalFixture')
    instance = build_instance(integration, {'name': 'demo-fixture'})
    for command, args in (('test-module', {}), ('fixture-echo', {'message': 'hello from xsoar-local', 'count': '2'}),
                          ('fixture-fail', {'reason': 'an error entry, shown in red'})):
        console.print(f'[bold]![/bold][bold cyan]{command}[/bold cyan] {" ".join(f"{k}={v}" for k, v in args.items())}')
        render_result(console, run_with_polling(integration, instance, command, args, options)[-1])
    console.print('[bold]![/bold][bold cyan]fixture-poll[/bold cyan] rounds=3  (a ScheduledCommand polled to the end)')
    rounds = run_with_polling(integration, instance, 'fixture-poll', {'rounds': '3'}, options,
                              lambda n, wait, s: console.print(f'[cyan]… round {n} done, next in {wait:g} s[/cyan]'))
    render_result(console, rounds[-1])
    console.print('[bold]fetch-incidents[/bold], two cycles carrying lastRun')
    for cycle, result in enumerate(run_fetch(integration, instance, 2, options), start=1):
        render_incidents(console, summarize_incidents(result.incidents or []), f'Fetch cycle {cycle}')


SCENES: list[tuple[str, Scene]] = [
    ('The local runtime on its fixture integration', _runtime_scene),
]


def main() -> int:
    console = Console()
    with tempfile.TemporaryDirectory(prefix='xsoar-local-demo-') as home:
        os.environ['XSOAR_LOCAL_HOME'] = home
        os.environ.setdefault('XSOAR_LOCAL_TIME_SCALE', '0.05')
        options = RunOptions(home=Path(home))
        for title, scene in SCENES:
            console.print(Rule(title))
            scene(console, options)
    return 0


if __name__ == '__main__':
    sys.exit(main())
