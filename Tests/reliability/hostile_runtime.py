"""Running integration commands in-process for the hostile-input checks, and judging what came back.

Each integration is imported the way its unit tests import it and driven through its real ``main()``: demistomock
answers ``params``/``args``/``command`` and collects the entries, every HTTP request goes over real HTTPS to the
session's emulator and is recorded (method, URL exactly as sent, headers) by a spy on ``requests.Session.send``.
Commands and arguments come from each integration's YAML, so commands added later are covered without edits here.

What counts as a *clear error* (the suite's testable definition):
- ``main()`` ends normally or through ``return_error`` — no exception escapes it and no entry carries a traceback;
- the exception behind the error entry is a deliberate one: ``ValueError`` or the ``DemistoException`` family
  (not ``JSONDecodeError``/``UnicodeError``, which are ValueErrors Python raises on its own), and the message has none
  of the phrases Python puts in its own exceptions (``object has no attribute``, ``invalid literal for int()``...);
- when the command refused its input before any API request, the message names one of the command's arguments.
"""
from __future__ import annotations

import importlib
import json
import re
import sys
import urllib.parse
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from unittest import mock

import requests

from xsoar_local import catalog
from xsoar_local.commandline import examples_by_command

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
ALLOWED_ERRORS = (ValueError,)
BUILTIN_VALUE_ERRORS = (json.JSONDecodeError, UnicodeError)


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
    error_type: type | None = None
    escaped: BaseException | None = None
    sent: list[Sent] = field(default_factory=list)

    @property
    def api_calls(self) -> list[Sent]:
        return [s for s in self.sent if not s.is_token]

    def text(self) -> str:
        return json.dumps(self.entries, default=str)


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


def import_integration(name: str) -> Any:
    folder = str(integration_dir(name))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)


class InProcess:
    """One integration, one instance (its default instance file), driven through ``main()`` against an emulator."""

    def __init__(self, integration: str, server: Any, instance: str = 'default', **overrides: Any) -> None:
        from xsoar_local.emulator import emulator_env
        from xsoar_local.instances import build_instance, read_instance_file
        from xsoar_local.integrations import find_integration

        self.name = integration
        self.server = server
        self.env = emulator_env(url=server.url, ca=str(server.ca_path))
        raw = read_instance_file(ROOT / 'Tests' / 'instances' / integration / f'{instance}.yml') | overrides
        self.params = build_instance(find_integration(integration), raw, self.env).params
        self.module = import_integration(integration)
        self.demisto = sys.modules['demistomock']
        self.origin = urllib.parse.urlsplit(server.url)[:2]

    def run(self, command: str, args: dict[str, Any], tamper: Callable[[Sent, requests.Response], None] | None = None
            ) -> Outcome:
        """Run ``command`` with ``args``; ``tamper(sent, response)`` may rewrite each real API response first."""
        outcome = Outcome(command, dict(args))
        real_send = requests.Session.send
        real_return_error = self.module.return_error

        def send(session: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
            sent = Sent(request.method or '', request.url or '', dict(request.headers), request.body)
            outcome.sent.append(sent)
            if urllib.parse.urlsplit(sent.url)[:2] != self.origin:  # recorded, never really sent
                return refused(request)
            response = real_send(session, request, **kwargs)
            sent.status = response.status_code
            try:
                sent.answer = response.json()
            except ValueError:
                sent.answer = None
            if tamper is not None and not sent.is_token:
                tamper(sent, response)
            return response

        def return_error(message: Any, *more: Any, **kw: Any) -> None:
            outcome.error_type = sys.exc_info()[0]
            real_return_error(message, *more, **kw)

        def results(entry: Any) -> None:
            outcome.entries.append(entry)
            if isinstance(entry, dict) and entry.get('Type') == 4:
                outcome.errors.append(str(entry.get('Contents')))

        with ExitStack() as stack:
            stack.enter_context(mock.patch.dict('os.environ', self.env))
            stack.enter_context(mock.patch.object(requests.Session, 'send', send))
            stack.enter_context(mock.patch.object(self.module, 'return_error', return_error))
            for attr, value in (('params', lambda: self.params), ('args', lambda: dict(args)),
                                ('command', lambda: command), ('results', results),
                                ('error', lambda msg, *a: outcome.entries.append({'log.error': msg}))):
                stack.enter_context(mock.patch.object(self.demisto, attr, value))
            try:
                self.module.main()
            except SystemExit:
                pass
            except BaseException as error:  # noqa: BLE001 - anything escaping main() is the finding itself
                outcome.escaped = error
        return outcome


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
    if outcome.escaped is not None:
        return f'{type(outcome.escaped).__name__} escaped main(): {str(outcome.escaped)[:120]}'
    text = outcome.text()
    for phrase in ('Traceback (most recent call last)',):
        if phrase in text:
            return 'an entry carries a traceback'
    if not outcome.entries:
        return 'no entry at all'
    if not outcome.errors:
        return ''
    message = _message_body(outcome.command, '\n'.join(outcome.errors))
    if outcome.error_type is not None:
        deliberate = issubclass(outcome.error_type, ALLOWED_ERRORS) or outcome.error_type.__name__ in (
            'DemistoException', 'NotFoundError', 'MicrosoftAuthError', 'RetryAfterError') or any(
            base.__name__ == 'DemistoException' for base in outcome.error_type.__mro__)
        if not deliberate or issubclass(outcome.error_type, BUILTIN_VALUE_ERRORS):
            return f'error from a {outcome.error_type.__name__}: {message.strip()[:120]}'
    phrase = next((p for p in PYTHON_PHRASES if p in message), None)
    if phrase:
        return f'Python\'s own wording ({phrase!r}): {message.strip()[:120]}'
    if not message.strip():
        return 'an empty error'
    if not outcome.api_calls and not names_an_argument(message, spec.arg_names):
        return f'refused before the API without naming an argument: {message.strip()[:120]}'
    return ''
