"""Every `!command` a shipped integration tells its users to run is one of that integration's commands.

The text a user reads: the integration README, the setup description, the YAML (descriptions, additional info), the
messages in the integration code (``!{PREFIX}-...`` with the module's PREFIX filled in) and the pack README and
release notes. Messages the shared API module builds per flow are checked per integration by the integrations' unit
tests (e.g. MDE's test_auth_code_messages_name_commands_that_exist).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from xsoar_local.integrations import Integration, all_integrations

COMMAND_REFERENCE = re.compile(r'!([a-z0-9]+(?:-[a-z0-9]+)+)')
PREFIX_ASSIGNMENT = re.compile(r"^PREFIX\s*=\s*'([^']+)'", re.MULTILINE)


def _texts(integration: Integration) -> dict[Path, str]:
    pack = integration.pack_dir
    paths = [integration.directory / 'README.md', integration.yml_path, integration.py_path,
             *integration.directory.glob('*_description.md'), pack / 'README.md', *(pack / 'ReleaseNotes').glob('*.md')]
    texts = {path: path.read_text(encoding='utf-8') for path in paths if path.exists()}
    prefix = PREFIX_ASSIGNMENT.search(texts.get(integration.py_path, ''))
    if prefix:
        texts[integration.py_path] = texts[integration.py_path].replace('{PREFIX}', prefix.group(1))
    return texts


@pytest.mark.parametrize('integration', all_integrations(include_fixtures=False), ids=lambda i: i.name)
def test_every_command_mentioned_exists(integration):
    """Given a shipped integration, When its README, description, YAML, code messages, pack README and release notes
    are scanned for !command references, Then each names a command its YAML declares."""
    declared = {command['name'] for command in integration.manifest['script']['commands']}
    unknown = {f'{path.name}: !{name}' for path, text in _texts(integration).items()
               for name in COMMAND_REFERENCE.findall(text) if name not in declared}
    assert not unknown, sorted(unknown)
