"""Running one integration's commands through xsoar-local against a given emulator (shared by the e2e tests)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

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


def hunting_evidence(host: str, user: str) -> dict[str, list[dict[str, Any]]]:
    """Telemetry on ``host`` that each templated MDE hunting query finds: one kind of evidence per query purpose
    (rows for ``POST /_emulator/mde/hunting-rows``)."""
    def rows(*items: dict[str, Any]) -> list[dict[str, Any]]:
        return [{'DeviceName': host, **item} for item in items]
    return {
        'DeviceNetworkEvents': rows(
            {'RemoteIP': '203.0.113.50', 'RemotePort': 445, 'RemoteIPType': 'Public', 'ActionType': 'ConnectionSuccess',
             'InitiatingProcessFileName': 'svchost.exe'},
            {'RemoteIP': '203.0.113.51', 'RemotePort': 3389, 'RemoteIPType': 'Public', 'ActionType': 'ConnectionSuccess',
             'InitiatingProcessFileName': 'mstsc.exe'}),
        'DeviceProcessEvents': rows(
            {'FileName': 'procdump.exe', 'ProcessCommandLine': 'procdump.exe -ma lsass.exe lsass.dmp',
             'InitiatingProcessFileName': 'powershell.exe', 'InitiatingProcessParentFileName': 'explorer.exe'},
            {'FileName': 'schtasks.exe', 'ProcessCommandLine': 'schtasks.exe /create /tn updater /tr evil.exe',
             'InitiatingProcessFileName': 'cmd.exe', 'InitiatingProcessParentFileName': 'explorer.exe'},
            {'FileName': 'powershell.exe', 'ProcessCommandLine': 'powershell.exe -enc SQBFAFgA',
             'InitiatingProcessFileName': 'cmd.exe', 'InitiatingProcessParentFileName': 'winword.exe'},
            {'FileName': 'wevtutil.exe', 'ProcessCommandLine': 'wevtutil.exe cl Security',
             'InitiatingProcessFileName': 'cmd.exe', 'InitiatingProcessParentFileName': 'explorer.exe'}),
        'DeviceRegistryEvents': rows(
            {'ActionType': 'RegistryValueSet', 'RegistryKey': r'HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run',
             'RegistryValueName': 'Updater', 'InitiatingProcessFileName': 'reg.exe',
             'InitiatingProcessCommandLine': r'reg.exe add HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run'},
            {'ActionType': 'RegistryValueSet', 'RegistryKey': r'HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\EvilSvc',
             'RegistryValueName': 'ImagePath', 'InitiatingProcessFileName': 'sc.exe'}),
        'DeviceFileEvents': rows(
            {'ActionType': 'FileCreated', 'FileName': 'run.lnk',
             'FolderPath': r'C:\Users\alex\AppData\Roaming\Microsoft\Windows\Start Menu\Programs\Startup'},
            {'ActionType': 'FileModified', 'FileName': 'sethc.exe', 'FolderPath': r'C:\Windows\System32'},
            {'ActionType': 'FileModified', 'FileName': 'hosts', 'FolderPath': r'C:\Windows\System32\drivers\etc'},
            {'ActionType': 'FileDeleted', 'FileName': 'evidence.log', 'FolderPath': r'C:\Temp'}),
        'DeviceEvents': rows(*({'ActionType': action, 'InitiatingProcessCommandLine': 'net.exe', 'AdditionalFields':
                                '{"GroupName": "Administrators"}'} for action in (
            'ServiceInstalled', 'UserAccountCreated', 'SecurityGroupCreated', 'UserAccountAddedToLocalGroup',
            'FirewallPolicyChanged', 'DnsQueryResponse', 'TamperingAttempt'))),
        'DeviceImageLoadEvents': rows({'ActionType': 'ImageLoaded', 'FileName': 'unsigned.dll',
                                       'FolderPath': r'C:\Temp', 'InitiatingProcessFileName': 'powershell.exe'}),
        'DeviceLogonEvents': rows({'ActionType': 'LogonSuccess', 'AccountName': user, 'LogonType': 'Network'}),
    }
