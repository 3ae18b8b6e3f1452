"""Running integration commands in-process for the hostile-input checks, and judging what came back.

Each command runs through xsoar_local's runner (arguments get their YAML defaults, as on a server) with the
``InProcess`` executor keeping the script's namespace: the unified script runs once per integration and session, then
only its ``main()`` per case, as an integration's unit tests import it once. The instance's state lives in a state
home of its own; every HTTP request goes over real HTTPS to the session's emulator and is recorded (method, URL
exactly as sent, headers) by a spy on ``requests.Session.send``, which may also rewrite the real response first.
Commands and arguments come from each integration's YAML, so commands added later are covered without edits here.

What counts as a *clear error* (the suite's testable definition):
- the script ends normally or through ``return_error`` — no exception escapes it and no entry or error log carries a
  traceback;
- the exception behind the error entry (``RunResult.error_causes``) is a deliberate one: ``ValueError`` or the
  ``DemistoException`` family (not ``JSONDecodeError``/``UnicodeError``, which are ValueErrors Python raises on its
  own), and the message has none of the phrases Python puts in its own exceptions (``object has no attribute``,
  ``invalid literal for int()``...);
- when the command refused its input before any API request, the message names one of the command's arguments.
"""
from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from unittest import mock

import requests

from xsoar_local import catalog
from xsoar_local.commandline import examples_by_command
from xsoar_local.emulator import emulator_env
from xsoar_local.executors import InProcess
from xsoar_local.instances import build_instance, read_instance_file
from xsoar_local.integrations import find_integration
from xsoar_local.runner import RunOptions, run_command

ROOT = Path(__file__).resolve().parents[2]
INTEGRATIONS = ('Microsoft365Defender', 'MicrosoftDefenderThreatIntelligence',
                'MicrosoftDefenderAdvancedThreatProtection')
PACK_OF = {'Microsoft365Defender': 'Microsoft365Defender',
           'MicrosoftDefenderThreatIntelligence': 'MicrosoftDefenderThreatIntelligence',
           'MicrosoftDefenderAdvancedThreatProtection': 'MicrosoftDefenderAdvancedThreatProtection'}
TOKEN_PATH = re.compile(r'/(oauth2/|metadata/identity|msi/token|obtain-token)')
# Commands that only manage the sign-in (no product API, nothing to fuzz beyond the auth module's own tests).
AUTH_SUFFIXES = ('-auth-start', '-auth-complete', '-auth-reset', '-auth-test', '-generate-login-url', '-test')
PYTHON_PHRASES = ('Traceback (most recent call last)', 'object has no attribute', 'invalid literal for int()',
                  'is not subscriptable', 'unsupported operand', 'object is not iterable', 'NoneType',
                  'Expecting value', 'not JSON serializable', 'takes no arguments', 'missing 1 required positional',
                  'list index out of range', 'could not convert string to float', 'codec can\'t')
# By class name, the exception or one of its bases: the script's classes live in its own namespace.
DELIBERATE_ERRORS = ('ValueError', 'DemistoException', 'NotFoundError', 'MicrosoftAuthError', 'RetryAfterError')
BUILTIN_VALUE_ERRORS = ('JSONDecodeError', 'UnicodeError')


def integration_dir(name: str) -> Path:
    return ROOT / 'Packs' / PACK_OF[name] / 'Integrations' / name


# ---------------------------------------------------------------------------------------------------------------
# The YAML: commands, arguments, examples
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ArgSpec:
    name: str
    required: bool = False
    predefined: tuple[str, ...] = ()
    is_array: bool = False
    default: str | None = None


@dataclass(frozen=True)
class CommandSpec:
    integration: str
    name: str
    args: tuple[ArgSpec, ...] = ()
    examples: tuple[dict[str, str], ...] = field(default=(), compare=False)

    @property
    def arg_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.args)

    @property
    def is_auth(self) -> bool:
        return self.name.endswith(AUTH_SUFFIXES)

    def __str__(self) -> str:
        return self.name


def _examples(integration: str) -> dict[str, list[dict[str, str]]]:
    """The integration's command_examples, parsed into argument dicts per command."""
    return examples_by_command(integration_dir(integration))


def command_specs(integration: str) -> list[CommandSpec]:
    manifest = catalog.load_yaml(integration_dir(integration) / f'{integration}.yml')
    examples = _examples(integration)
    specs = []
    for command in manifest['script']['commands']:
        args = tuple(ArgSpec(a['name'], bool(a.get('required')), tuple(str(v) for v in a.get('predefined') or ()),
                             bool(a.get('isArray')),
                             None if a.get('defaultValue') is None else str(a['defaultValue']))
                     for a in command.get('arguments') or ())
        specs.append(CommandSpec(integration, command['name'], args, tuple(examples.get(command['name'], ()))))
    return specs


def baseline_args(spec: CommandSpec) -> dict[str, str] | None:
    """Arguments that make the command work against the emulator: its first example, else (for each required
    argument) a value the same argument has in another command's example; None when there is no such value."""
    if spec.examples:
        return dict(spec.examples[0])
    pool: dict[str, str] = {}
    for other in command_specs(spec.integration):
        for example in other.examples:
            for name, value in example.items():
                pool.setdefault(name, value)
    args = {}
    for arg in spec.args:
        if arg.required and arg.name not in pool and not arg.predefined:
            return None
        if arg.required or arg.name == 'comment':
            args[arg.name] = pool.get(arg.name) or arg.predefined[0]
    return args


def all_commands(with_args: bool = True) -> list[CommandSpec]:
    """Every product command of every integration (auth management commands left out)."""
    return [c for i in INTEGRATIONS for c in command_specs(i) if not c.is_auth and (c.args or not with_args)]


# ---------------------------------------------------------------------------------------------------------------
# Running one command in-process
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class Sent:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | str | None
    status: int | None = None
    answer: Any = None  # the response's JSON, when it had one

    def json_body(self) -> Any:
        try:
            return json.loads(self.body or b'null')
        except ValueError:
            return None

    @property
    def is_token(self) -> bool:
        return bool(TOKEN_PATH.search(self.url))


@dataclass
class Outcome:
    command: str
    args: dict[str, Any]
    entries: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    error_cause: list[str] = field(default_factory=list)  # the exception behind the last error entry, with its bases
    crash: str | None = None                                # the traceback of an exception that escaped the script
    logged_errors: list[str] = field(default_factory=list)  # demisto.error() messages
    sent: list[Sent] = field(default_factory=list)

    @property
    def api_calls(self) -> list[Sent]:
        return [s for s in self.sent if not s.is_token]

    def text(self) -> str:
        return json.dumps([*self.entries, *self.logged_errors], default=str)


def rewrite(response: requests.Response, body: bytes, status: int = 200,
            content_type: str = 'application/json; charset=utf-8') -> None:
    """Make a real response say something else (a malformed body, another status)."""
    response._content = body
    response.status_code = status
    response.encoding = 'utf-8'
    response.headers['Content-Type'] = content_type
    response.headers['Content-Length'] = str(len(body))


def refused(request: requests.PreparedRequest) -> requests.Response:
    """What a request to anywhere but the emulator gets: a 403 (not retried), so a test never leaves the machine."""
    response = requests.Response()
    response.request, response.url = request, request.url or ''
    rewrite(response, b'{"error": {"code": "Forbidden", "message": "(test) outside the emulator"}}', status=403)
    return response


class HostileRunner:
    """One integration and one instance (its default instance file) with a state home of its own: the access token
    stays cached across a session's cases, as on a server."""

    def __init__(self, integration: str, server: Any, home: Path, instance: str = 'default', **overrides: Any) -> None:
        self.integration = find_integration(integration)
        self.server = server
        env = emulator_env(home, url=server.url, ca=str(server.ca_path))
        path = ROOT / 'Tests' / 'instances' / integration / f'{instance}.yml'
        self.instance = build_instance(self.integration, read_instance_file(path) | overrides, env, source=path)
        self.options = RunOptions(env=env, home=home, executor=InProcess(keep_namespace=True),
                                  check_args=False)
        self.origin = urllib.parse.urlsplit(server.url)[:2]

    def run(self, command: str, args: dict[str, Any], tamper: Callable[[Sent, requests.Response], None] | None = None
            ) -> Outcome:
        """Run ``command`` with ``args`` once; ``tamper(sent, response)`` may rewrite each real API response first."""
        outcome = Outcome(command, dict(args))
        with mock.patch.object(requests.Session, 'send', self._spy(outcome.sent, tamper)):
            result = run_command(self.integration, self.instance, command, dict(args), self.options)
        outcome.entries = result.entries
        outcome.errors = result.errors
        outcome.error_cause = next((c for c in reversed(result.error_causes) if c), [])
        outcome.crash = result.crash
        outcome.logged_errors = [log['message'] for log in result.logs if log.get('level') == 'error']
        return outcome

    def _spy(self, sent: list[Sent], tamper: Callable[[Sent, requests.Response], None] | None) -> Callable[..., Any]:
        """``requests.Session.send`` recording each request; one to anywhere but the emulator is never sent."""
        real_send = requests.Session.send

        def send(session: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
            record = Sent(request.method or '', request.url or '', dict(request.headers), request.body)
            sent.append(record)
            if urllib.parse.urlsplit(record.url)[:2] != self.origin:  # recorded, never really sent
                return refused(request)
            response = real_send(session, request, **kwargs)
            record.status = response.status_code
            try:
                record.answer = response.json()
            except ValueError:
                record.answer = None
            if tamper is not None and not record.is_token:
                tamper(record, response)
            return response
        return send


# ---------------------------------------------------------------------------------------------------------------
# Judging an outcome
# ---------------------------------------------------------------------------------------------------------------

def _message_body(command: str, message: str) -> str:
    """The error without the integration's "Failed to execute <command> command." preamble."""
    return message.replace(f'Failed to execute {command} command.', '')


def names_an_argument(message: str, names: tuple[str, ...]) -> bool:
    return any(re.search(rf'(?<![\w-]){re.escape(n)}(?![\w-])', message) for n in names)


def judge(outcome: Outcome, spec: CommandSpec) -> str:
    """'' when the outcome is a result or a clear error (see the module docstring); else why not (one line)."""
    return ' '.join(_judge(outcome, spec).split())


def _judge(outcome: Outcome, spec: CommandSpec) -> str:
    if outcome.crash is not None:
        return f'an exception escaped the script: {outcome.crash.strip().splitlines()[-1][:160]}'
    text = outcome.text()
    for phrase in ('Traceback (most recent call last)',):
        if phrase in text:
            return 'an entry carries a traceback'
    if not outcome.entries:
        return 'no entry at all'
    if not outcome.errors:
        return ''
    message = _message_body(outcome.command, '\n'.join(outcome.errors))
    cause = outcome.error_cause
    if cause:
        deliberate = any(name in DELIBERATE_ERRORS for name in cause)
        if not deliberate or any(name in BUILTIN_VALUE_ERRORS for name in cause):
            return f'error from a {cause[0]}: {message.strip()[:120]}'
    phrase = next((p for p in PYTHON_PHRASES if p in message), None)
    if phrase:
        return f'Python\'s own wording ({phrase!r}): {message.strip()[:120]}'
    if not message.strip():
        return 'an empty error'
    if not outcome.api_calls and not names_an_argument(message, spec.arg_names):
        return f'refused before the API without naming an argument: {message.strip()[:120]}'
    return ''
