"""What customers read shows no trace of the test set-up: no emulator hosts, no test-only wording, bounded examples.

Scanned: every shipped pack's README, release notes and metadata, and its integrations' and scripts' READMEs,
descriptions and YAML. The READMEs' examples ran against the emulator (``xsoar-local docs``); the docs tool rewrites
the emulator's URLs to Microsoft's and refuses to write test-only wording, and this test keeps the committed files
honest too.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_PACKS = ('Microsoft365Defender', 'MicrosoftDefenderAdvancedThreatProtection', 'MicrosoftDefenderThreatIntelligence')
# Loopback hosts (except the default redirect URI https://localhost/myapp that customers register in their own app)
# and wording that only makes sense in this repository's tests.
FORBIDDEN = re.compile(r'127\.0\.0\.1|\[::1\]|localhost(?!(/|%2F)myapp)|\bemulat\w*|\binvented\b|\bfictional\b|'
                       r'\btest data\b|xsoar-local|sig=emulator|EMULATOR_', re.IGNORECASE)
MAX_README_BYTES = 60_000


def _customer_files(pack: str) -> list[Path]:
    base = ROOT / 'Packs' / pack
    return sorted([base / 'README.md', base / 'pack_metadata.json', *(base / 'ReleaseNotes').glob('*.md'),
                   *base.glob('Integrations/*/README.md'), *base.glob('Integrations/*/*_description.md'),
                   *base.glob('Integrations/*/*.yml'), *base.glob('Scripts/*/README.md'), *base.glob('Scripts/*/*.yml')])


@pytest.mark.parametrize('pack', SHIPPED_PACKS)
def test_no_emulator_hosts_or_test_wording(pack):
    """Given a shipped pack, When its customer-facing files are scanned, Then no loopback host, emulator URL or
    test-only wording appears."""
    found = [f'{path.relative_to(ROOT)}:{text[:match.start()].count(chr(10)) + 1}: {match.group(0)}'
             for path in _customer_files(pack) for text in [path.read_text(encoding='utf-8')]
             for match in FORBIDDEN.finditer(text)]
    assert not found, found


@pytest.mark.parametrize('pack', SHIPPED_PACKS)
def test_integration_readmes_are_a_readable_size(pack):
    """Given a shipped integration README, When its example outputs are measured, Then no context example holds more
    than a few list items and the M365D README (7 examples) stays under 60 KB."""
    for readme in (ROOT / 'Packs' / pack).glob('Integrations/*/README.md'):
        text = readme.read_text(encoding='utf-8')
        for example in re.findall(r'#### Context Example\n```json\n(.*?)\n```', text, flags=re.S):
            assert len(example) < 12_000, f'{readme.name}: a context example of {len(example)} characters'
        for table in re.findall(r'(?:^>\|.*\n)+', text, flags=re.M):
            assert table.count('\n') <= 5, f'{readme.name}: a table of {table.count(chr(10)) - 2} rows'
        if pack == 'Microsoft365Defender':
            assert len(text.encode()) < MAX_README_BYTES
