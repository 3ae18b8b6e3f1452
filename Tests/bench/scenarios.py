"""The benchmark scenarios: each drives commands through xsoar-local (unified script, one fresh process per execution)
against the Microsoft emulator and returns exact request counts read from the emulator's request log, plus timings
and memory figures that are measured but never judged.

New integrations are picked up by :func:`bench_integrations` (every pack integration with a ``command_examples``
file or lines in :data:`EXTRA_LINES`); fetch, token and bulk scenarios are lists to append to.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from microsoft_emulator.server import EmulatorServer
from microsoft_emulator.testing import admin
from xsoar_local.commandline import examples_file, parse_lines
from xsoar_local.emulator import emulator_env
from xsoar_local.instances import Instance, build_instance, read_instance_file
from xsoar_local.integrations import Integration, all_integrations, find_integration, repo_root
from xsoar_local.runner import RunOptions, RunResult, run_command, run_with_polling
from xsoar_local.state import InstanceStore

from .expected import Expected, expected_for

TOKEN_HOSTS = ('login', 'imds', 'appservice', 'oproxy')
NOT_COUNTED = ('admin',)
GRAPH = 'Microsoft Graph security'
LEGACY = 'Defender XDR API (legacy)'
LAST_RUN_LIMIT = 64 * 1024
ROUND_TRIP_TIME_SCALE = 0.01    # polling waits of the round-trip runs: request counts do not depend on them
MDE = 'MicrosoftDefenderAdvancedThreatProtection'


# ============================================================================================================
# What is measured: integrations, variants, extra command lines
# ============================================================================================================

@dataclass(frozen=True)
class Variant:
    """One way to configure an instance: an instance file of Tests/instances/<Integration>/ plus overrides."""

    name: str
    flow: str = 'client-secret'
    overrides: tuple[tuple[str, Any], ...] = ()


VARIANTS: dict[str, list[Variant]] = {
    'Microsoft365Defender': [Variant('graph', overrides=(('api_backend', GRAPH),)),
                             Variant('legacy', overrides=(('api_backend', LEGACY),))],
}
DEFAULT_VARIANTS = [Variant('default')]

# Command lines measured in addition to an integration's command_examples (a per-integration scenario list): the
# commands the examples leave out.
_MACHINE = '7a092a307dabfd41c69e9d175e75beb4eab22a49'                      # a seeded MDE machine
EXTRA_LINES: dict[str, list[str]] = {}

# An instance file other than the variant's for one command (generate-login-url exists for the auth-code flow only).
COMMAND_FLOWS: dict[str, dict[str, str]] = {MDE: {'microsoft-atp-generate-login-url': 'auth-code'}}

# Store preparation before an integration's commands run (admin API path, body): the examples refer to seeded IDs.
PREPARE: dict[str, list[tuple[str, str, dict | None]]] = {
    'Microsoft365Defender': [('POST', '/xdr/reset', None)],
}
# Store preparation before every single execution (cold and warm alike): MDE's response actions change the machine
# (a second isolation of the same machine is refused, an offboarded machine takes no action), so each run starts
# from the seed, and machine actions complete at once.
BEFORE_EACH_RUN: dict[str, list[tuple[str, str, dict | None]]] = {
    MDE: [('POST', '/mde/reset', None), ('POST', '/mde/settings', {'action_step_seconds': 0})],
}


def _collected_package(bench: Bench) -> dict[str, str]:
    """An investigation-package collection on the seeded machine, made from a state home of its own (the measured
    one stays cold): its action ID."""
    session = bench.session(MDE)
    result = session.run(session.instance('client-secret'), 'microsoft-atp-collect-investigation-package',
                         {'machine_id': _MACHINE, 'comment': 'Bench', 'polling': 'false'})
    action = result.context['MicrosoftATP']['MachineAction']
    return {'action_id': str((action[0] if isinstance(action, list) else action)['ID'])}


def _live_response(bench: Bench, steps: float) -> str:
    """A GetFile live response on the seeded machine, started from a state home of its own: its action ID. With
    ``steps`` seconds per step it is still running when the measured command comes."""
    bench.admin('POST', '/mde/settings', {'action_step_seconds': steps})
    session = bench.session(MDE)
    result = session.run(session.instance('client-secret'), 'microsoft-atp-live-response-get-file',
                         {'machine_id': _MACHINE, 'comment': 'Bench', 'path': r'C:\temp\bench.txt', 'polling': 'false'})
    action = result.context['MicrosoftATP']['LiveResponseAction']
    return str((action[0] if isinstance(action, list) else action)['id'])


def _graph_indicator(bench: Bench) -> dict[str, str]:
    """A legacy Graph indicator to delete (the Graph store is not reset between runs), made from its own home."""
    session = bench.session(MDE)
    result = session.run(session.instance('client-secret'), 'microsoft-atp-indicator-create-network',
                         {'action': 'alert', 'description': 'Bench', 'threat_type': 'C2',
                          'domain_name': 'bench.example'})
    indicator = result.context['MicrosoftATP']['Indicators']
    return {'indicator_id': str((indicator[0] if isinstance(indicator, list) else indicator)['id'])}


# Arguments made by running other commands first (before each execution, outside the counted requests).
ARG_SETUP: dict[str, Callable[[Bench], dict[str, str]]] = {
    'microsoft-atp-get-investigation-package-sas-uri': _collected_package,
    'microsoft-atp-live-response-result': lambda bench: {'machine_action_id': _live_response(bench, 0),
                                                         'command_index': '0'},
    'microsoft-atp-live-response-cancel-action': lambda bench: {'machine_action_id': _live_response(bench, 60)},
    'microsoft-atp-indicator-delete': _graph_indicator,
}


def bench_integrations(root: Path | None = None) -> list[Integration]:
    """Every shipped integration with example command lines: Defender for Endpoint joins once its examples exist."""
    return [i for i in all_integrations(root, include_fixtures=False)
            if examples_file(i.directory) or i.name in EXTRA_LINES]


def command_lines(integration: Integration) -> list[tuple[str, dict[str, str]]]:
    """The first example line of each command (command_examples, then EXTRA_LINES), in file order."""
    examples = examples_file(integration.directory)
    lines = examples.read_text(encoding='utf-8').splitlines() if examples else []
    chosen: dict[str, dict[str, str]] = {}
    for command, args in parse_lines(lines + EXTRA_LINES.get(integration.name, [])):
        chosen.setdefault(command, args)
    return list(chosen.items())


# ============================================================================================================
# Driving the emulator and the runtime
# ============================================================================================================

class Session:
    """One integration with its own xsoar-local state home: a fresh session has no cached token (cold start)."""

    def __init__(self, bench: Bench, integration: str, home: Path, time_scale: float | None = None) -> None:
        self.bench = bench
        self.integration = find_integration(integration)
        self.home = home
        self.env = emulator_env(home, url=bench.url, ca=bench.ca)
        self.options = RunOptions(env=self.env, home=home, timeout_s=600, time_scale=time_scale)

    def raw_instance(self, flow: str, **overrides: Any) -> dict:
        path = repo_root() / 'Tests' / 'instances' / self.integration.name / f'{flow}.yml'
        return read_instance_file(path) | overrides

    def instance(self, flow: str, **overrides: Any) -> Instance:
        path = repo_root() / 'Tests' / 'instances' / self.integration.name / f'{flow}.yml'
        return build_instance(self.integration, self.raw_instance(flow, **overrides), self.env, source=path)

    def run(self, instance: Instance, command: str, args: dict | None = None, time_scale: float | None = None
            ) -> RunResult:
        """The command with its polling rounds followed; ``time_scale`` scales the polling waits of this run."""
        options = self.options if time_scale is None else dataclasses.replace(self.options, time_scale=time_scale)
        return run_with_polling(self.integration, instance, command, dict(args or {}), options)[-1]


class Bench:
    """The emulator (HTTPS, auto-approve) and a scratch directory for state homes."""

    def __init__(self, server: EmulatorServer, work: Path) -> None:
        self.server = server
        self.work = work
        self.url = server.url
        self.ca = str(server.ca_path)
        self._homes = 0

    @classmethod
    @contextmanager
    def start(cls) -> Iterator[Bench]:
        with tempfile.TemporaryDirectory(prefix='bench-') as work, \
                EmulatorServer(tls=True, auto_approve=True) as server:
            yield cls(server, Path(work))

    def session(self, integration: str, time_scale: float | None = None) -> Session:
        """A session with a state home of its own; ``time_scale`` scales its polling waits (None: as xsoar-local
        does, XSOAR_LOCAL_TIME_SCALE)."""
        self._homes += 1
        return Session(self, integration, self.work / f'home-{self._homes}', time_scale)

    def admin(self, method: str, path: str, body: dict | None = None) -> Any:
        return admin(self.url, method, path, verify=self.ca, **({'json': body} if body is not None else {}))

    def clear(self) -> None:
        self.server.log.clear()

    def requests(self) -> list[dict]:
        return [r for r in self.server.requests() if r.get('host') not in NOT_COUNTED]


def token_calls(requests: list[dict]) -> list[dict]:
    return [r for r in requests if r.get('host') in TOKEN_HOSTS]


def api_calls(requests: list[dict]) -> list[dict]:
    return [r for r in requests if r.get('host') not in TOKEN_HOSTS]


def describe(request: dict) -> str:
    return f"{request.get('method')} {request.get('host')} {request.get('path')}"


_VARYING = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z?|[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}')


def same_calls(first: list[str], second: list[str]) -> bool:
    """The same calls, apart from what differs between runs by nature: a relative time argument ("1 hour")
    resolving to a later instant, the GUID of a machine action created by the run."""
    return [_VARYING.sub('{v}', c) for c in first] == [_VARYING.sub('{v}', c) for c in second]


# ============================================================================================================
# 1. Round trips per command
# ============================================================================================================

@dataclass
class RoundTrip:
    integration: str
    variant: str
    command: str
    args: dict[str, str]
    cold: list[dict]
    warm: list[dict]
    errors: list[str]
    expected: Expected | None

    @property
    def cold_tokens(self) -> int:
        return len(token_calls(self.cold))

    @property
    def warm_tokens(self) -> int:
        return len(token_calls(self.warm))

    @property
    def warm_api(self) -> list[str]:
        return [describe(r) for r in api_calls(self.warm)]

    @property
    def cold_api(self) -> list[str]:
        return [describe(r) for r in api_calls(self.cold)]

    @property
    def met(self) -> bool:
        return (not self.errors and self.expected is not None and self.warm_tokens == 0
                and self.cold_tokens == self.expected.cold_tokens and len(self.warm_api) == self.expected.count
                and same_calls(self.cold_api, self.warm_api))


def round_trips(bench: Bench, integrations: list[Integration] | None = None) -> list[RoundTrip]:
    """Each command on a cold start (fresh state home: no cached token), then again warm in the same home."""
    return _round_trips(bench, integrations)


def _round_trips(bench: Bench, integrations: list[Integration] | None) -> list[RoundTrip]:
    results = []
    for integration in integrations if integrations is not None else bench_integrations():
        for variant in VARIANTS.get(integration.name, DEFAULT_VARIANTS):
            for method, path, body in PREPARE.get(integration.name, []):
                bench.admin(method, path, body)
            for command, args in command_lines(integration):
                phases: list[list[dict]] = [[], []]
                errors: list[str] = []
                try:
                    session = bench.session(integration.name, time_scale=ROUND_TRIP_TIME_SCALE)
                    flow = COMMAND_FLOWS.get(integration.name, {}).get(command, variant.flow)
                    instance = session.instance(flow, **dict(variant.overrides))
                    for phase in (0, 1):                              # cold, then warm
                        for method, path, body in BEFORE_EACH_RUN.get(integration.name, []):
                            bench.admin(method, path, body)
                        extra = ARG_SETUP[command](bench) if command in ARG_SETUP else {}
                        bench.clear()
                        result = session.run(instance, command, args | extra)
                        errors += result.errors
                        phases[phase] = bench.requests()
                except Exception as error:  # noqa: BLE001 - a missing instance file or a broken build is a row
                    errors.append(f'{type(error).__name__}: {error}')
                results.append(RoundTrip(integration.name, variant.name, command, args, phases[0], phases[1], errors,
                                         expected_for(integration.name, command, variant.name)))
    return results


# ============================================================================================================
# Child-process measurements: peak memory of the command processes
# ============================================================================================================

def _peak_children_kb() -> int:
    import resource
    return int(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def _in_fresh_process(kind: str, **kwargs: Any) -> dict:
    """Run ``WORKERS[kind](**kwargs)`` in a fresh interpreter (``python -m bench.worker``): RUSAGE_CHILDREN there
    covers only the command processes it starts, so its ru_maxrss is their peak resident memory (KiB on Linux).
    The job (an instance's parameters, credentials included) goes through the child's stdin, never a file, as
    xsoar_local hands jobs to its executors; only the measurement comes back in a file."""
    with tempfile.TemporaryDirectory(prefix='bench-worker-') as scratch:
        output = Path(scratch) / 'out.json'
        job = json.dumps({'kind': kind, 'kwargs': kwargs, 'output': str(output)})
        done = subprocess.run([sys.executable, '-m', 'bench.worker', '-'], input=job, capture_output=True, text=True,
                              check=False, timeout=1800)
        if not output.exists():
            raise RuntimeError(f'bench worker {kind} failed (exit {done.returncode}):\n{done.stderr[-4000:]}')
        return json.loads(output.read_text(encoding='utf-8'))


def _worker_session(integration: str, raw: dict, env: dict[str, str], home: str
                    ) -> tuple[Integration, Instance, RunOptions]:
    found = find_integration(integration)
    instance = build_instance(found, raw, env)
    return found, instance, RunOptions(env=env, home=Path(home), timeout_s=600)


# ============================================================================================================
# 3. Fetch throughput
# ============================================================================================================

def xdr_backlog(count: int, start: datetime, spacing: int) -> dict:
    """Body of POST /_emulator/xdr/generate: ``count`` incidents from ``start``, 3 of every 7 sharing their time."""
    return {'count': count, 'start': start.strftime('%Y-%m-%dT%H:%M:%SZ'), 'spacing_seconds': spacing,
            'tie_every': 7, 'tie_size': 3}


def mde_backlog(count: int, start: datetime, spacing: int) -> dict:
    """Body of POST /_emulator/mde/generate: the same backlog as alerts on the seeded machines (it names its end)."""
    end = start + timedelta(seconds=spacing * (count - 1))
    return {'alerts': count, 'alert_spacing_seconds': spacing, 'alert_end': end.strftime('%Y-%m-%dT%H:%M:%SZ'),
            'tie_every': 7, 'tie_size': 3}


def mde_alerts_since(bench: Bench, since: datetime) -> int:
    """The alerts a fetch from ``since`` must bring: the generated backlog plus any seeded alert that recent."""
    cutoff = since.strftime('%Y-%m-%dT%H:%M:%S')
    return sum(1 for a in bench.admin('GET', '/mde/alerts') if a['alertCreationTime'][:19] >= cutoff)


@dataclass(frozen=True)
class FetchScenario:
    integration: str
    label: str
    page_size: int
    overrides: tuple[tuple[str, Any], ...]
    generate: str = '/xdr/generate'
    clear: tuple[str, ...] = ('/xdr/reset', '/xdr/incidents')
    backlog: Callable[[int, datetime, int], dict] = xdr_backlog        # the generate body
    truth: Callable[[Bench, datetime], int] | None = None               # what must be fetched (default: the backlog)


FETCH_SCENARIOS = [
    FetchScenario('Microsoft365Defender', 'M365D incidents (Defender XDR API)', 100,
                  (('api_backend', LEGACY), ('max_fetch', '1000'), ('first_fetch', '3 days'), ('fetch_timeout', '300'))),
    FetchScenario('Microsoft365Defender', 'M365D incidents (Graph)', 50,
                  (('api_backend', GRAPH), ('max_fetch', '1000'), ('first_fetch', '3 days'), ('fetch_timeout', '300'))),
    FetchScenario(MDE, 'MDE alerts', 10_000,                        # /api/alerts takes $top up to 10,000
                  (('isFetch', True), ('max_fetch', '1000'), ('first_fetch_timestamp', '3 days'),
                   ('fetch_status', 'New,InProgress,Resolved')),
                  generate='/mde/generate', clear=('/mde/reset',), backlog=mde_backlog, truth=mde_alerts_since),
]
FETCH_PENDING: list[tuple[str, str]] = []     # (integration, label) rows shown as pending until a scenario exists


@dataclass
class FetchFigures:
    label: str
    incidents: int
    page_size: int
    cycles: int = 0
    api_requests: int = 0
    token_requests: int = 0
    fetched: int = 0
    unique: int = 0
    last_run_bytes: int = 0
    peak_kb: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def minimum(self) -> int:
        return math.ceil(self.incidents / self.page_size) + self.cycles

    @property
    def per_second(self) -> float:
        return self.fetched / self.seconds if self.seconds else 0.0


def fetch_worker(integration: str, raw: dict, env: dict[str, str], home: str, max_cycles: int) -> dict:
    found, instance, options = _worker_session(integration, raw, env, home)
    store = InstanceStore(instance.name, options.home)
    ids: list[Any] = []
    cycles, last_run_bytes, seconds, errors = 0, 0, 0.0, []
    for _ in range(max_cycles):
        started = time.perf_counter()
        result = run_command(found, instance, 'fetch-incidents', {}, options)
        seconds += time.perf_counter() - started
        cycles += 1
        errors += result.errors
        incidents = result.incidents or []
        if not result.has_error and incidents:
            store.append_incidents(incidents)
        ids += [i.get('dbotMirrorId') or json.loads(i['rawJSON']).get('incidentId') for i in incidents]
        last_run_bytes = max(last_run_bytes, len(json.dumps(store.get_last_run()).encode()))
        if result.has_error or not incidents:
            break
    return {'cycles': cycles, 'ids': ids, 'last_run_bytes': last_run_bytes, 'seconds': seconds, 'errors': errors,
            'peak_kb': _peak_children_kb()}


def fetch_throughput(bench: Bench, scenario: FetchScenario, count: int, max_cycles: int = 200) -> FetchFigures:
    """A backlog of ``count`` incidents fetched in cycles until a cycle returns none (that cycle counts)."""
    for path in scenario.clear:
        bench.admin('POST' if path.endswith('reset') else 'DELETE', path)
    now = datetime.now(UTC)
    spacing = max(1, int(timedelta(days=1).total_seconds() // count))
    bench.admin('POST', scenario.generate, scenario.backlog(count, now - timedelta(days=2), spacing))
    expected = scenario.truth(bench, now - timedelta(days=3)) if scenario.truth else count
    session = bench.session(scenario.integration)
    raw = session.raw_instance('client-secret', **dict(scenario.overrides))     # first fetch: 3 days ago
    bench.clear()
    outcome = _in_fresh_process('fetch', integration=scenario.integration, raw=raw, env=session.env,
                                home=str(session.home), max_cycles=max_cycles)
    requests = bench.requests()
    return FetchFigures(scenario.label, expected, scenario.page_size, cycles=outcome['cycles'],
                        api_requests=len(api_calls(requests)), token_requests=len(token_calls(requests)),
                        fetched=len(outcome['ids']), unique=len(set(outcome['ids'])),
                        last_run_bytes=outcome['last_run_bytes'], peak_kb=outcome['peak_kb'],
                        seconds=outcome['seconds'], errors=outcome['errors'])


# ============================================================================================================
# 4. Advanced hunting at scale
# ============================================================================================================

@dataclass
class HuntingFigures:
    label: str
    rows_requested: int
    rows: int = 0
    seconds: float = 0.0
    peak_kb: int = 0
    entry_bytes: int = 0
    human_readable_bytes: int = 0
    api_requests: int = 0
    errors: list[str] = field(default_factory=list)


def command_worker(integration: str, raw: dict, env: dict[str, str], home: str, command: str, args: dict) -> dict:
    found, instance, options = _worker_session(integration, raw, env, home)
    result = run_command(found, instance, command, args, options)
    return {'entries': result.entries, 'context': result.context, 'errors': result.errors,
            'seconds': result.duration_s, 'peak_kb': _peak_children_kb()}


def advanced_hunting(bench: Bench, rows: int, backend: str = GRAPH, table: str = 'DeviceEvents') -> HuntingFigures:
    """``table`` resized to ``rows`` rows, the whole table asked for: time, peak memory and the entry's size (warm)."""
    bench.admin('POST', '/xdr/hunting-rows', {'table': table, 'count': rows})
    session = bench.session('Microsoft365Defender')
    # The Defender XDR back end hunts on Graph by default ("Advanced hunting API" Automatic); this row measures the
    # Defender XDR hunting API itself, so that back end is told to use it.
    overrides = {'api_backend': backend, **({'hunting_api': 'Legacy Defender XDR'} if backend == LEGACY else {})}
    raw = session.raw_instance('client-secret', **overrides)
    command, args = 'microsoft-365-defender-advanced-hunting', {'query': table, 'limit': str(rows),
                                                                 'timeout': '300'}
    session.run(session.instance('client-secret', **overrides), 'microsoft-365-defender-auth-test')
    bench.clear()
    outcome = _in_fresh_process('command', integration='Microsoft365Defender', raw=raw, env=session.env,
                                home=str(session.home), command=command, args=args)
    hunt = outcome['context'].get('Microsoft365Defender', {}).get('Hunt', {})
    results = hunt.get('results', []) if isinstance(hunt, dict) else []
    figures = HuntingFigures(f'{table} via {"Graph" if backend == GRAPH else "Defender XDR API"}', rows,
                             rows=len(results), seconds=outcome['seconds'], peak_kb=outcome['peak_kb'],
                             entry_bytes=len(json.dumps(outcome['entries']).encode()),
                             human_readable_bytes=sum(len(str(e.get('HumanReadable') or '').encode())
                                                      for e in outcome['entries']),
                             api_requests=len(api_calls(bench.requests())), errors=outcome['errors'])
    bench.admin('POST', '/xdr/reset')
    return figures


# ============================================================================================================
# 2. Per-command overhead
# ============================================================================================================

@dataclass
class Overhead:
    integration: str
    command: str
    runs: int
    command_median_s: float
    bare_median_s: float

    @property
    def overhead_s(self) -> float:
        return self.command_median_s - self.bare_median_s


def _bare_runtime_seconds(env: dict[str, str]) -> float:
    root = repo_root()
    paths = [str(root / 'Packs' / 'Base' / 'Scripts' / 'CommonServerPython'), str(root / 'Tests' / 'demistomock'),
             str(root / 'Tests')]
    code = f'import sys; sys.path[:0] = {paths!r}; import demistomock, xsoar_local.executor, xsoar_local.state'
    started = time.perf_counter()
    subprocess.run([sys.executable, '-c', code], env=dict(os.environ) | env, check=True, capture_output=True)
    return time.perf_counter() - started


def command_overhead(bench: Bench, integration: Integration, runs: int = 7) -> Overhead:
    """Median wall time of a warm ``<prefix>-auth-test`` (no HTTP once the token is cached: the script's own cost)
    minus the median of a bare interpreter importing the runtime the executor imports."""
    command = next((c for c, _ in command_lines(integration) if c.endswith('auth-test')), None) \
        or command_lines(integration)[0][0]
    session = bench.session(integration.name)
    variant = VARIANTS.get(integration.name, DEFAULT_VARIANTS)[0]
    instance = session.instance(variant.flow, **dict(variant.overrides))
    session.run(instance, command)                                     # cold: token cached, build cached
    timed = []
    for _ in range(runs):
        started = time.perf_counter()
        session.run(instance, command)
        timed.append(time.perf_counter() - started)
    bare = [_bare_runtime_seconds(session.env) for _ in range(runs)]
    return Overhead(integration.name, command, runs, statistics.median(timed), statistics.median(bare))


# ============================================================================================================
# 6. Token proxy, managed identity: requests per token, reuse across processes
# ============================================================================================================

@dataclass(frozen=True)
class TokenScenario:
    integration: str
    flow: str
    command: str
    label: str


TOKEN_SCENARIOS = [
    TokenScenario('MicrosoftAuthFixture', 'xsoar-app', 'msauth-fixture-whoami', 'token proxy (Cortex XSOAR app)'),
    TokenScenario('MicrosoftAuthFixture', 'managed-identity', 'msauth-fixture-whoami', 'managed identity (IMDS)'),
    TokenScenario('Microsoft365Defender', 'managed-identity', 'microsoft-365-defender-incidents-list',
                  'M365D managed identity'),
    TokenScenario('Microsoft365Defender', 'client-secret', 'microsoft-365-defender-incidents-list',
                  'M365D client secret'),
    TokenScenario('MicrosoftDefenderThreatIntelligence', 'managed-identity', 'msg-defender-threat-intel-article-list',
                  'MDTI managed identity'),
]


@dataclass
class TokenReuse:
    label: str
    processes: int
    tokens_per_process: list[int]
    token_hosts: list[str]
    api_requests: int
    errors: list[str]

    @property
    def total_tokens(self) -> int:
        return sum(self.tokens_per_process)


def token_reuse(bench: Bench, scenario: TokenScenario, processes: int = 5) -> TokenReuse:
    """``processes`` executions in a row sharing one instance's state: how many token requests in all."""
    session = bench.session(scenario.integration)
    instance = session.instance(scenario.flow)
    per_process, hosts, api, errors = [], [], 0, []
    for _ in range(processes):
        bench.clear()
        result = session.run(instance, scenario.command, {'limit': '1'} if 'list' in scenario.command else {})
        errors += result.errors
        requests = bench.requests()
        per_process.append(len(token_calls(requests)))
        hosts += [r['host'] for r in token_calls(requests)]
        api += len(api_calls(requests))
    return TokenReuse(scenario.label, processes, per_process, hosts, api, errors)


# ============================================================================================================
# 5. Bulk actions under rate limits
# ============================================================================================================

@dataclass
class BulkFigures:
    label: str
    machines: int
    limit: int                   # calls the emulator allows per window
    window_s: float              # the window as enforced (scaled by the time scale)
    seconds: float = 0.0         # wall time of the command, polling included
    accepted: int = 0            # API calls answered 2xx
    throttled: int = 0           # 429 answers received (each retried after Retry-After)
    failed: int = 0              # answers other than 2xx and 429, plus error entries
    isolations: int = 0          # isolation requests accepted
    isolated: int = 0            # machines isolated according to the emulator's store
    errors: list[str] = field(default_factory=list)

    @property
    def floor_s(self) -> float:
        """The least wall time the limit allows for the accepted calls: ``limit`` calls per window."""
        return (max(self.accepted - 1, 0) // self.limit) * self.window_s


def mde_bulk_isolation(bench: Bench, machines: int = 100, limit: int = 100, time_scale: float = 1.0) -> BulkFigures:
    """``microsoft-atp-isolate-machine`` on ``machines`` machines at once (polling to completion) while the emulator
    enforces ``limit`` calls a minute on Defender for Endpoint (the documented 100), the minute scaled by
    ``time_scale`` (polling waits too): wall time against the floor, 429s, failures, machines isolated."""
    bench.admin('POST', '/mde/reset')
    bench.admin('POST', '/mde/generate', {'machines': machines})
    bench.admin('POST', '/mde/settings', {'action_step_seconds': 0})
    targets = [m['id'] for m in bench.admin('GET', '/mde/machines') if not m.get('broken')][:machines]
    session = bench.session(MDE)
    instance = session.instance('client-secret')
    session.run(instance, 'microsoft-atp-test')                 # the token is cached before the limit applies
    rule = {'name': 'bench-minute', 'calls': limit, 'period_seconds': 60}
    bench.admin('POST', '/rate-limits', {'enabled': True, 'time_scale': time_scale,
                                         'rules': {'defender_endpoint': [rule]}})
    bench.clear()
    started = time.perf_counter()
    try:
        result = session.run(instance, 'microsoft-atp-isolate-machine',
                             {'machine_id': ','.join(targets), 'comment': 'Bench containment',
                              'isolation_type': 'Full', 'polling': 'true'}, time_scale=time_scale)
        seconds = time.perf_counter() - started
    finally:
        bench.admin('POST', '/rate-limits', {'enabled': False, 'time_scale': 1.0,
                                             'rules': {'defender_endpoint': 'default'}})
    calls = [r for r in bench.requests() if r.get('host') == 'mde']
    ok = [r for r in calls if 200 <= int(r.get('status') or 0) < 300]
    truth = {m['id']: m for m in bench.admin('GET', '/mde/machines')}
    return BulkFigures(
        f'MDE isolation of {len(targets)} machines', len(targets), limit, 60 * time_scale, seconds=seconds,
        accepted=len(ok), throttled=sum(1 for r in calls if r.get('status') == 429),
        failed=len(calls) - len(ok) - sum(1 for r in calls if r.get('status') == 429) + len(result.errors),
        isolations=sum(1 for r in ok if r.get('method') == 'POST' and str(r.get('path')).endswith('/isolate')),
        isolated=sum(1 for t in targets if truth[t].get('isolation') == 'Full'), errors=list(result.errors))


@dataclass(frozen=True)
class BulkScenario:
    integration: str
    label: str
    run: Callable[[Bench, float], list[Any]]  # (bench, time scale) -> report rows


def _mde_bulk_rows(bench: Bench, time_scale: float) -> list[Any]:
    from .report import bulk_figure_rows
    return bulk_figure_rows(mde_bulk_isolation(bench, time_scale=time_scale))


BULK_SCENARIOS: list[BulkScenario] = [
    BulkScenario(MDE, 'MDE isolation of 100 machines under 100 calls/minute', _mde_bulk_rows),
]
BULK_PENDING: list[tuple[str, str]] = []     # (integration, label) rows shown as pending until a scenario exists

