"""``make demo``: what the project can do today, run for real and shown in the terminal.

Each scene runs commands through xsoar-local exactly as a SOC engineer would in the war room, against one emulator
started for the demo (HTTPS, device codes and consents approved at once). The demo keeps its state in a temporary
folder, so it never disturbs a developer's own ``.xsoar-local``.
"""
from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from microsoft_emulator.server import EmulatorServer

from .emulator import emulator_env
from .instances import Instance, build_instance, read_instance_file
from .integrations import Integration, find_integration, repo_root
from .render import markdown_table, render_incidents, render_result
from .runner import RunOptions, run_fetch, run_with_polling, summarize_incidents


@dataclass
class Stage:
    console: Console
    server: EmulatorServer
    options: RunOptions


def _runtime_scene(stage: Stage) -> None:
    console, options = stage.console, stage.options
    integration = find_integration('XSOARLocalFixture')
    instance = build_instance(integration, {'name': 'demo-fixture'})
    for command, args in (('test-module', {}), ('fixture-echo', {'message': 'hello from xsoar-local', 'count': '2'}),
                          ('fixture-fail', {'reason': 'an error entry, shown in red'})):
        console.print(f'[bold]![/bold][bold cyan]{command}[/bold cyan] {" ".join(f"{k}={v}" for k, v in args.items())}')
        render_result(console, run_with_polling(integration, instance, command, args, options)[-1])
    console.print('[bold]![/bold][bold cyan]fixture-poll[/bold cyan] rounds=3  (a ScheduledCommand polled to the end)')
    rounds = run_with_polling(integration, instance, 'fixture-poll', {'rounds': '3'}, options,
                              lambda result, wait: console.print(f'[cyan]… {result.entries[0]["HumanReadable"]} '
                                                                 f'Next round in {wait:g} s[/cyan]'))
    render_result(console, rounds[-1])
    console.print('[bold]fetch-incidents[/bold], two cycles carrying lastRun')
    for cycle, result in enumerate(run_fetch(integration, instance, 2, options), start=1):
        render_incidents(console, summarize_incidents(result.incidents or []), f'Fetch cycle {cycle}')


def _identity_scene(stage: Stage) -> None:
    from .demo_identity import identity_scene

    identity_scene(stage.console, stage.server)


AUTH_FLOWS = ('client-secret', 'certificate', 'device-code', 'managed-identity', 'managed-identity-user', 'xsoar-app')


def _instance(stage: Stage, integration_name: str, flow: str, **overrides: object) -> tuple[Integration, Instance]:
    integration = find_integration(integration_name)
    path = repo_root() / 'Tests' / 'instances' / integration.name / f'{flow}.yml'
    raw = read_instance_file(path) | overrides
    return integration, build_instance(integration, raw, stage.options.env, source=path)


def _show(stage: Stage, integration: Integration, instance: Instance, command: str, **args: str) -> None:
    stage.console.print(f'[bold]![/bold][bold cyan]{command}[/bold cyan] '
                        f'{" ".join(f"{k}={v!r}" if " " in v else f"{k}={v}" for k, v in args.items())}')
    render_result(stage.console, run_with_polling(integration, instance, command, args, stage.options)[-1])


def _m365d_scene(stage: Stage) -> None:
    integration, instance = _instance(stage, 'Microsoft365Defender', 'client-secret', max_fetch='5')
    _show(stage, integration, instance, 'microsoft-365-defender-incidents-list', limit='3')
    _show(stage, integration, instance, 'microsoft-365-defender-incident-update', id='1001', status='InProgress',
          classification='TruePositive', determination='Malware', comment='Contained by the SOC')
    _show(stage, integration, instance, 'microsoft-365-defender-advanced-hunting',
          query='DeviceProcessEvents | where FileName == "powershell.exe" | project Timestamp, DeviceName, '
                'ProcessCommandLine', limit='5')
    stage.console.print('[bold]fetch-incidents[/bold], three cycles of at most 5 incidents')
    for cycle, result in enumerate(run_fetch(integration, instance, 3, stage.options), start=1):
        render_incidents(stage.console, summarize_incidents(result.incidents or []), f'Fetch cycle {cycle}')


def _mdti_scene(stage: Stage) -> None:
    integration, instance = _instance(stage, 'MicrosoftDefenderThreatIntelligence', 'client-secret')
    _show(stage, integration, instance, 'domain', domain='fake-malicious.site')
    _show(stage, integration, instance, 'ip', ip='203.0.113.66')


def _mde_scene(stage: Stage) -> None:
    """Contain a device and release it, each action polled until Defender reports it done."""
    from microsoft_emulator.testing import admin

    url, ca = stage.server.url, str(stage.server.ca_path)
    admin(url, 'POST', '/mde/settings', verify=ca, json={'action_step_seconds': 1})
    target = next(m for m in admin(url, 'GET', '/mde/machines', verify=ca) if not m.get('broken'))
    integration, instance = _instance(stage, 'MicrosoftDefenderAdvancedThreatProtection', 'client-secret')
    _show(stage, integration, instance, 'microsoft-atp-get-machine-details', machine_id=target['id'])
    for command in ('microsoft-atp-isolate-machine', 'microsoft-atp-unisolate-machine'):
        stage.console.print(f'[bold]![/bold][bold cyan]{command}[/bold cyan] machine_id={target["id"]} polling=true')
        args = {'machine_id': target['id'], 'comment': 'make demo', 'polling': 'true'}
        if command == 'microsoft-atp-isolate-machine':
            args['isolation_type'] = 'Full'
        rounds = run_with_polling(integration, instance, command, args, stage.options,
                                  lambda result, wait: stage.console.print(
                                      f'[cyan]… action still running; checking again in {wait:g} s[/cyan]'))
        render_result(stage.console, rounds[-1])
        state = next(m for m in admin(url, 'GET', '/mde/machines', verify=ca) if m['id'] == target['id'])
        stage.console.print(f'Defender now reports isolation: [bold]{state["isolation"] or "none"}[/bold]')


def _auth_module_scene(stage: Stage) -> None:
    """MicrosoftApiModule inside a unified script: each flow signs in once, then the cached token is reused."""
    integration = find_integration('MicrosoftAuthFixture')
    rows = [['instance', 'client ID', 'as', 'first run', 'second run']]
    for flow in AUTH_FLOWS:
        path = repo_root() / 'Tests' / 'instances' / integration.name / f'{flow}.yml'
        instance = build_instance(integration, read_instance_file(path), stage.options.env, source=path)
        counts, identity = [], ['failed', '']
        for command in (['msauth-fixture-auth-start'] if flow == 'device-code' else []) + ['msauth-fixture-whoami'] * 2:
            stage.server.log.clear()
            result = run_with_polling(integration, instance, command, {}, stage.options)[-1]
            if result.has_error:
                stage.console.print(f'[red]{flow}: {result.errors[0][:300]}[/red]')
                break
            if command.endswith('whoami'):
                counts.append(sum(e.get('host') in ('login', 'imds', 'oproxy') for e in stage.server.requests()))
                who = result.context['MSAuthFixture']['WhoAmI']
                identity = [who['client_id'], 'app' if who['app_only'] else 'user']
        rows.append([f'{flow}.yml', *identity, *(str(c) for c in counts)])
    # IDs in full (markdown_table never cuts them)
    stage.console.print(markdown_table(rows, stage.console.width,
                                       'MicrosoftApiModule flows through xsoar-local (token requests: first run / '
                                       'second run)'))


SCENES: list[tuple[str, Callable[[Stage], None]]] = [
    ('The local runtime on its fixture integration', _runtime_scene),
    ('The Microsoft cloud emulator: every way to obtain a token (msal and plain HTTP)', _identity_scene),
    ('MicrosoftApiModule: each authentication flow end to end', _auth_module_scene),
    ('Microsoft 365 Defender: incidents, an update, advanced hunting and fetch', _m365d_scene),
    ('Microsoft Defender Threat Intelligence: domain and IP enrichment', _mdti_scene),
    ('Microsoft Defender for Endpoint: isolate, poll to completion, release', _mde_scene),
]


def main() -> int:
    console = Console()
    with tempfile.TemporaryDirectory(prefix='xsoar-local-demo-') as home, \
            EmulatorServer(tls=True, auto_approve=True) as server:
        os.environ['XSOAR_LOCAL_HOME'] = home
        os.environ.setdefault('XSOAR_LOCAL_TIME_SCALE', '0.05')
        env = emulator_env(Path(home), url=server.url, ca=str(server.ca_path))
        stage = Stage(console, server, RunOptions(home=Path(home), env=env))
        for title, scene in SCENES:
            console.print(Rule(title))
            scene(stage)
    return 0


if __name__ == '__main__':
    sys.exit(main())
