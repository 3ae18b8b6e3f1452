"""Running one integration's commands through xsoar-local against a given emulator (shared by the e2e tests)."""
from __future__ import annotations

from pathlib import Path

from microsoft_emulator.server import EmulatorServer
from xsoar_local.commandline import parse_command_line
from xsoar_local.emulator import emulator_env
from xsoar_local.instances import Instance, build_instance, read_instance_file
from xsoar_local.integrations import find_integration, repo_root
from xsoar_local.runner import RunOptions, RunResult, run_with_polling
from xsoar_local.state import InstanceStore

TOKEN_HOSTS = ('login', 'imds', 'appservice', 'oproxy')


class LocalRun:
    """Runs commands of one integration through xsoar-local against the session's emulator."""

    def __init__(self, server: EmulatorServer, integration: str, home: Path) -> None:
        self.server = server
        self.integration = find_integration(integration)
        self.home = home
        self.env = emulator_env(home, url=server.url, ca=str(server.ca_path))
        self.options = RunOptions(env=self.env, home=home, timeout_s=120)

    def instance(self, flow: str, **overrides: object) -> Instance:
        path = repo_root() / 'Tests' / 'instances' / self.integration.name / f'{flow}.yml'
        raw = read_instance_file(path) | overrides
        return build_instance(self.integration, raw, self.env, source=path)

    def run(self, instance: Instance, command: str, **args: str) -> RunResult:
        """Run to the end (following polling) and return the final round."""
        return self.run_rounds(instance, command, **args)[-1]

    def run_rounds(self, instance: Instance, command: str, **args: str) -> list[RunResult]:
        """Run to the end (following polling) and return every round, the final one last."""
        return run_with_polling(self.integration, instance, command, args, self.options)

    def run_line(self, instance: Instance, line: str) -> RunResult:
        """Run a war-room line (``!cmd value name=value``) as the server reads it: a bare value binds to the
        command's default argument."""
        command, args = parse_command_line(line, self.integration)
        return self.run(instance, command, **args)

    def store(self, instance: Instance) -> InstanceStore:
        return InstanceStore(instance.name, self.home)

    def requests(self, hosts: tuple[str, ...] | None = None) -> list[dict]:
        entries = self.server.requests()
        return [e for e in entries if hosts is None or e.get('host') in hosts]

    def token_requests(self) -> list[dict]:
        return self.requests(TOKEN_HOSTS)

    def clear_requests(self) -> None:
        self.server.log.clear()


def ok(result: RunResult) -> RunResult:
    """The result of a command that must succeed, with every context path it wrote declared in the YAML."""
    assert not result.has_error, result.errors
    assert result.problems == [], result.problems
    return result


def as_list(value: object) -> list:
    """A context value as a list (XSOAR stores a single item as the item itself)."""
    return value if isinstance(value, list) else [value]
