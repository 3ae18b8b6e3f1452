"""``xsoar-local``: run integration commands locally the way the Cortex XSOAR server runs them.

    xsoar-local run <Integration> <command> [name=value ...] [--instance FILE] [--json] [--source] [--strict]
    xsoar-local fetch <Integration> [--instance FILE] [--cycles N] [--json]
    xsoar-local incidents|mirror|set|note <Integration> ...   (see cli_incidents.py)
    xsoar-local playbook run <playbook> [--incident FILE] [--input name=value ...]   (see cli_playbooks.py)
    xsoar-local build [--all | <Integration> ...] [--zip]
    xsoar-local reset <Integration> [--instance FILE]
    xsoar-local docs <Integration> [--instance FILE]
    xsoar-local emulator start|stop|status

Exit status: 0 success; 1 an error entry (or an uncaught exception); 2 a context path not declared in the YAML
outputs under --strict; 64 bad usage.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from . import build, emulator
from .cli_incidents import add_commands as add_incident_commands
from .cli_incidents import render_mapped
from .cli_playbooks import add_commands as add_playbook_commands
from .instances import (
    EMULATOR_VARIABLES,
    InstanceError,
    build_instance,
    default_instance_file,
    read_instance_file,
    variables_used,
)
from .integrations import Integration, all_integrations, find_integration, repo_root
from .render import render_result
from .runner import RunOptions, RunResult, run_fetch, run_with_polling
from .state import InstanceStore

EXIT_ERROR_ENTRY = 1
EXIT_UNDECLARED = 2
EXIT_USAGE = 64


def _parse_command_args(pairs: list[str]) -> dict[str, str]:
    args = {}
    for pair in pairs:
        name, sep, value = pair.partition('=')
        if not sep or not name:
            raise ValueError(f'Arguments are written name=value; got "{pair}".')
        args[name] = value
    return args


def _resolve_instance(integration: Integration, instance_file: str | None):
    path = Path(instance_file) if instance_file else default_instance_file(integration)
    raw = read_instance_file(path) if path else {}
    env: dict[str, str] = {}
    if variables_used(raw) & set(EMULATOR_VARIABLES):
        env = emulator.emulator_env()
    return build_instance(integration, raw, env, source=path), env


def _options(ns: argparse.Namespace, env: dict[str, str]) -> RunOptions:
    return RunOptions(source=ns.source, timeout_s=ns.timeout, debug=ns.debug, env=env)


def _exit_code(results: list[RunResult], strict: bool) -> int:
    if any(r.has_error for r in results):
        return EXIT_ERROR_ENTRY
    if strict and any(r.problems for r in results):
        return EXIT_UNDECLARED
    return 0


def cmd_run(ns: argparse.Namespace, console: Console) -> int:
    integration = find_integration(ns.integration)
    instance, env = _resolve_instance(integration, ns.instance)
    args = _parse_command_args(ns.args)

    def progress(result: RunResult, wait: float) -> None:
        if not ns.json:
            render_result(console, result, show_logs=ns.debug)
            scheduled = result.scheduled or {}
            console.print(f'[cyan]… polling {scheduled.get("PollingCommand")} again in {wait:g} s[/cyan]')

    rounds = run_with_polling(integration, instance, ns.command, args, _options(ns, env), progress)
    if ns.json:
        final = rounds[-1]
        payload = final.to_json() | {'rounds': [r.to_json() for r in rounds[:-1]]}
        print(json.dumps(payload, indent=2, default=str))  # noqa: T201 - the CLI's output
    else:
        render_result(console, rounds[-1], show_logs=ns.debug)
    return _exit_code(rounds, ns.strict)


def cmd_fetch(ns: argparse.Namespace, console: Console) -> int:
    integration = find_integration(ns.integration)
    instance, env = _resolve_instance(integration, ns.instance)

    def progress(cycle: int, result: RunResult) -> None:
        if not ns.json:
            count = len(result.incidents or [])
            status = '[red]failed[/red]' if result.has_error else f'{count} incident(s)'
            console.print(f'cycle {cycle}/{ns.cycles}: {status}')
            if result.has_error:
                render_result(console, result)
            elif count:
                render_mapped(console, result.mapped_incidents, f'Cycle {cycle}')

    results = run_fetch(integration, instance, ns.cycles, _options(ns, env), progress)
    if ns.json:
        payload = {'cycles': [r.to_json() for r in results],
                   'last_run': InstanceStore(instance.name).get_last_run()}
        print(json.dumps(payload, indent=2, default=str))  # noqa: T201 - the CLI's output
    return _exit_code(results, strict=False)


def cmd_build(ns: argparse.Namespace, console: Console) -> int:
    targets = all_integrations(include_fixtures=False) if ns.all else [find_integration(n) for n in ns.integrations]
    if not targets:
        console.print('Nothing to build: name integrations or pass --all.')
        return 0 if ns.all else EXIT_USAGE
    for integration in targets:
        path = build.unified_yml(integration)
        console.print(f'unified: {path.relative_to(repo_root())}')
    if ns.zip:
        packs = sorted({i.pack_dir for i in targets})
        out = build.zip_packs(packs)
        for zipped in sorted(out.rglob('*.zip')):
            console.print(f'pack zip: {zipped.relative_to(repo_root())}')
    return 0


def cmd_docs(ns: argparse.Namespace, console: Console) -> int:
    from .docs import generate_readme

    if ns.all:
        targets = [i for i in all_integrations(include_fixtures=False) if (i.directory / 'command_examples').exists()]
    elif ns.integration:
        targets = [find_integration(ns.integration)]
    else:
        raise ValueError('Name an integration or pass --all.')
    for integration in targets:
        readme = generate_readme(integration, Path(ns.instance) if ns.instance else None)
        console.print(f'README written: {readme.relative_to(repo_root())}')
    return 0


def cmd_reset(ns: argparse.Namespace, console: Console) -> int:
    integration = find_integration(ns.integration)
    instance, _ = _resolve_instance(integration, ns.instance) if ns.instance else (build_instance(integration, {}), {})
    InstanceStore(instance.name).reset()
    console.print(f'State of instance {instance.name} cleared (integration context, lastRun, fetched incidents).')
    return 0


def cmd_emulator(ns: argparse.Namespace, console: Console) -> int:
    if ns.action == 'stop':
        console.print('stopped' if emulator.stop_emulator() else 'no embedded emulator was running')
        return 0
    info = emulator.running_emulator()
    if ns.action == 'start' and info is None:
        info = emulator.start_emulator()
    if info is None:
        console.print('no embedded emulator is running')
    else:
        console.print(f'EMULATOR_URL={info["url"]}\nEMULATOR_CA={info["ca"]}')
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='xsoar-local', description='Run XSOAR integration commands locally.')
    sub = parser.add_subparsers(dest='action_name', required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument('integration', help='integration name, e.g. Microsoft365Defender')
        p.add_argument('--instance', help='instance YAML file (default: Tests/instances/<Integration>/default.yml)')
        p.add_argument('--json', action='store_true', help='print entries and context as JSON')
        p.add_argument('--source', action='store_true', help='run the source tree instead of the unified script')
        p.add_argument('--timeout', type=float, default=300, help='seconds one execution may take (default 300)')
        p.add_argument('--debug', action='store_true', help='debug logging on; show the script logs')

    run = sub.add_parser('run', help='run one command (following polling until it is done)')
    common(run)
    run.add_argument('command', help='command name, e.g. test-module')
    run.add_argument('args', nargs='*', help='arguments as name=value')
    run.add_argument('--strict', action='store_true', help='fail when the context has paths the YAML does not declare')
    run.set_defaults(handler=cmd_run)

    fetch = sub.add_parser('fetch', help='run fetch-incidents in cycles, carrying lastRun')
    common(fetch)
    fetch.add_argument('--cycles', type=int, default=1, help='how many fetch cycles (default 1)')
    fetch.set_defaults(handler=cmd_fetch)
    add_incident_commands(sub, common, _resolve_instance, _options)
    add_playbook_commands(sub)

    build_p = sub.add_parser('build', help='build unified YAMLs (and pack zips)')
    build_p.add_argument('integrations', nargs='*')
    build_p.add_argument('--all', action='store_true', help='every integration under Packs/')
    build_p.add_argument('--zip', action='store_true', help='also zip the packs into build/packs/')
    build_p.set_defaults(handler=cmd_build)

    docs = sub.add_parser('docs', help='regenerate an integration README with examples run against the emulator')
    docs.add_argument('integration', nargs='?')
    docs.add_argument('--all', action='store_true', help='every integration under Packs/ with command_examples')
    docs.add_argument('--instance', help='instance file for the examples (default: the default instance)')
    docs.set_defaults(handler=cmd_docs)

    reset = sub.add_parser('reset', help="clear an instance's local state")
    reset.add_argument('integration')
    reset.add_argument('--instance')
    reset.set_defaults(handler=cmd_reset)

    emu = sub.add_parser('emulator', help='manage the embedded Microsoft emulator')
    emu.add_argument('action', choices=['start', 'stop', 'status'])
    emu.set_defaults(handler=cmd_emulator)
    return parser


def main(argv: list[str] | None = None) -> int:
    ns = _parser().parse_args(argv)
    console = Console(stderr=bool(getattr(ns, 'json', False)))
    try:
        return int(ns.handler(ns, console))
    except (LookupError, ValueError, InstanceError, build.BuildError, emulator.EmulatorError) as error:
        console.print(f'[red]xsoar-local: {error}[/red]')
        return EXIT_USAGE


if __name__ == '__main__':
    sys.exit(main())
