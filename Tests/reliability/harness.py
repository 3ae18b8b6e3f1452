"""Running many commands under injected faults quickly, the way xsoar-local runs them.

A ``Lane`` is one HTTPS emulator, one xsoar-local state home and one long-lived executor process
(``xsoar_local.executors.WorkerProcess``, waits scaled to ``SLEEP_SCALE``).
Faults are global to an emulator, so cases run in parallel only across lanes, never within one. Every run goes
through ``xsoar_local.runner`` (argument defaults, polling, state, context merge, YAML output check); only the
process is reused. ``Lane.run(..., fresh=True)`` uses a real fresh process instead, to prove both paths agree.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from microsoft_emulator.server import EmulatorServer
from xsoar_local.commandline import first_examples as example_lines
from xsoar_local.emulator import emulator_env
from xsoar_local.executors import FreshProcess, Limits, WorkerProcess
from xsoar_local.instances import Instance, build_instance, read_instance_file
from xsoar_local.integrations import Integration, find_integration, repo_root
from xsoar_local.runner import RunOptions, RunResult, run_with_polling
from xsoar_local.state import InstanceStore, VersionConflict

INTEGRATIONS = ('Microsoft365Defender', 'MicrosoftDefenderThreatIntelligence',
                'MicrosoftDefenderAdvancedThreatProtection')
API_HOSTS = {'Microsoft365Defender': 'm365d', 'MicrosoftDefenderThreatIntelligence': 'graph',
             'MicrosoftDefenderAdvancedThreatProtection': 'mde'}
CASE_TIMEOUT_S = 90.0      # a case still running after this is a hang
SLEEP_SCALE = 0.01         # waits the integration asks for are really waited for 1 % of their length
MAX_ROUNDS = 40            # polling rounds a case may take
# How a round says Microsoft asked to retry later and a rerun is scheduled: retry_after_results, and the MDE
# machine actions (which keep the machines already started and continue with the rest)
RETRY_LATER = ('will run again automatically', 'continue automatically', '(throttled)')


def integration(name: str) -> Integration:
    """The integration from xsoar_local's catalog (its YAML parsed once per content)."""
    return find_integration(name)


# Commands that cannot have a line in command_examples — which the docs and the benchmark run as-is against the
# default (client credentials) instance and expect to succeed with exactly one token request when cold: the auth
# commands of other flows (an error on that instance), auth-reset (no request at all), the mirroring commands the
# server calls itself, and a read of a machine action made at run time. They are still run here, with these
# arguments. Any other command without an example is a case that does not hold ("no example").
NO_EXAMPLE_LINE: dict[str, dict[str, str]] = {
    'microsoft-365-defender-auth-start': {}, 'microsoft-365-defender-auth-complete': {},
    'microsoft-365-defender-auth-reset': {},
    'msg-defender-threat-intel-auth-start': {}, 'msg-defender-threat-intel-auth-complete': {},
    'msg-defender-threat-intel-auth-reset': {},
    'microsoft-atp-generate-login-url': {}, 'microsoft-atp-auth-reset': {},
    'get-remote-data': {'id': '1001', 'lastUpdate': '2020-01-01T00:00:00Z'},
    'get-modified-remote-data': {'lastUpdate': '2020-01-01T00:00:00Z'},
    'get-mapping-fields': {}, 'update-remote-system': {'remoteId': '1001'},
    'microsoft-atp-get-investigation-package-sas-uri': {'action_id': '7c3e1f0a-5b2d-4e8f-9a6c-1d2e3f4a5b6c'},
}


def first_examples(integration: Integration) -> dict[str, dict[str, str] | None]:
    """Every YAML command → the arguments of its first line in ``command_examples`` (else NO_EXAMPLE_LINE; None:
    no example at all)."""
    found = example_lines(integration.directory)
    return {name: found.get(name, NO_EXAMPLE_LINE.get(name)) for name in integration.commands}


@dataclass
class Lane:
    """An emulator, a state home and a worker: where one case at a time runs."""

    server: EmulatorServer
    home: Path
    worker: WorkerProcess

    @classmethod
    @contextmanager
    def open(cls, root: Path) -> Iterator[Lane]:
        root.mkdir(parents=True, exist_ok=True)
        with EmulatorServer(tls=True, auto_approve=True, state_dir=root / 'emulator') as server:
            env = emulator_env(root / 'home', url=server.url, ca=str(server.ca_path))
            lane = cls(server, root / 'home', WorkerProcess(env, root / 'worker.log', Limits(sleep_scale=SLEEP_SCALE)))
            lane.reset_stores()
            try:
                yield lane
            finally:
                lane.worker.stop()

    @property
    def env(self) -> dict[str, str]:
        return emulator_env(self.home, url=self.server.url, ca=str(self.server.ca_path))

    def instance(self, name: str, flow: str = 'default', **overrides: Any) -> Instance:
        found = integration(name)
        path = repo_root() / 'Tests' / 'instances' / name / f'{flow}.yml'
        raw = read_instance_file(path) | overrides
        return build_instance(found, raw, self.env, source=path)

    def options(self, fresh: bool = False, timeout_s: float = CASE_TIMEOUT_S) -> RunOptions:
        executor = FreshProcess() if fresh else self.worker
        return RunOptions(env=self.env, home=self.home, timeout_s=timeout_s, executor=executor)

    def run(self, instance: Instance, command: str, args: dict[str, str] | None = None, *,
            fresh: bool = False, http_timeout: float | None = None) -> RunResult:
        """Run a command and follow its scheduled reruns with xsoar_local's polling, without waiting between rounds
        (machine actions end at once here); the last round, carrying every round's entries. A rerun scheduled
        because Microsoft asked to retry later ends the case: the command answered clearly and will run again by
        itself."""
        self.worker.limits.http_timeout = http_timeout
        rounds = run_with_polling(integration(instance.integration), instance, command, dict(args or {}),
                                  self.options(fresh), sleep=_no_wait, max_rounds=MAX_ROUNDS, until=retry_scheduled)
        final = rounds[-1]
        final.entries = [e for r in rounds[:-1] for e in r.entries] + final.entries
        return final

    def reset_stores(self, *, xdr: bool = True, mde: bool = True) -> None:
        """Incidents (``xdr``), machines, actions and indicators (``mde``) back to the seed; machine actions end at
        once."""
        if xdr:
            self.admin('POST', '/xdr/reset')
        if mde:
            self.admin('POST', '/mde/reset')
            self.admin('POST', '/mde/settings', json={'action_step_seconds': 0})

    def store(self, instance: Instance) -> InstanceStore:
        return InstanceStore(instance.name, self.home)

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        res = requests.request(method, f'{self.server.url}/_emulator{path}', verify=str(self.server.ca_path),
                               timeout=30, **kwargs)
        res.raise_for_status()
        return res.json() if res.content else None

    def clear_tokens(self, instance: Instance) -> None:
        """Forget the instance's integration context (its token cache), so the next run signs in again."""
        store = self.store(instance)
        store.set_context({})


def _no_wait(seconds: float) -> None:
    """A lane does not wait between polling rounds: what the integration waits for is already done."""


def retry_scheduled(result: RunResult) -> bool:
    """The round ended with a rerun scheduled because Microsoft asked to retry later (see retry_after_results)."""
    return result.scheduled is not None and any(m in t for m in RETRY_LATER for t in entry_texts(result))


def entry_texts(result: RunResult) -> list[str]:
    texts = []
    for entry in result.entries:
        for key in ('Contents', 'HumanReadable', 'ReadableContentsFormat'):
            value = entry.get(key)
            if value is not None:
                texts.append(value if isinstance(value, str) else json.dumps(value, default=str))
    return texts


def verdict(result: RunResult, cause_words: tuple[str, ...] = (), own_errors: list[str] | None = None) -> tuple[bool, str]:
    """Did the pack hold? Success, or a clear error entry (no traceback, names the cause); never a crash.
    ``own_errors``: what the command answers without any fault (e.g. a 404 for its example), also accepted."""
    if result.crash:
        return False, 'uncaught exception: ' + result.crash.strip().splitlines()[-1][:160]
    if any('Traceback (most recent call last)' in t for t in entry_texts(result)):
        return False, 'traceback in an entry'
    if any('did not finish within' in e for e in result.errors):
        return False, 'hang: ' + result.errors[0][:120]
    if not result.errors:
        return True, ''
    text = ' '.join(result.errors)
    if own_errors and result.errors == own_errors:
        return True, ''
    if not text.strip():
        return False, 'empty error entry'
    if cause_words and not any(w.lower() in text.lower() for w in cause_words):
        return False, f'error does not name the cause: {text[:200]!r}'
    return True, ''


CACHE_KEY = 'microsoft_auth'    # MicrosoftApiModule's token cache in the integration context


def age_tokens(store: InstanceStore, seconds_left: float) -> None:
    """Make every cached access token about to expire: a versioned write, like any other writer of the context."""
    for _ in range(50):
        current = store.get_context()
        context = current['context']
        for account in (context.get(CACHE_KEY) or {}).get('accounts', {}).values():
            for token in (account.get('tokens') or {}).values():
                token['expires_at'] = time.time() + seconds_left
        try:
            store.set_context(context, current['version'])
            return
        except VersionConflict:
            time.sleep(0.01)
