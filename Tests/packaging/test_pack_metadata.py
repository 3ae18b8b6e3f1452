"""pack_metadata.json of the shipped packs: versions chosen against the official packs whose IDs they keep, release
notes for that version, the dependency and server minimum a marketplace install checks, and the README that says what
an upload over the official pack does."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# The newest official version of each pack (demisto/content pack_metadata.json and ReleaseNotes/) when these versions
# were chosen; ours must stay a major version above so that the Marketplace never offers the official pack as an
# "update" over ours (see each pack README, "Installing over the official pack").
OFFICIAL_VERSIONS = {'Microsoft365Defender': '4.5.41', 'MicrosoftDefenderAdvancedThreatProtection': '1.20.45',
                     'MicrosoftDefenderThreatIntelligence': '1.0.6'}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split('.'))


@pytest.mark.parametrize('pack', sorted(OFFICIAL_VERSIONS))
def test_version_release_notes_and_requirements(pack):
    """Given a shipped pack, When its metadata is read, Then its version is a major above the official pack's, its
    release notes are ReleaseNotes/<version>.md (no newer ones), it requires Base and the server version its content
    items need, and it says whom to contact only when it claims more than community support."""
    base = ROOT / 'Packs' / pack
    metadata = json.loads((base / 'pack_metadata.json').read_text())
    version = metadata['currentVersion']
    assert _version(version)[0] > _version(OFFICIAL_VERSIONS[pack])[0]
    notes = sorted(_version(p.stem.replace('_', '.')) for p in (base / 'ReleaseNotes').glob('*.md'))
    assert notes and notes[-1] == _version(version), notes
    assert metadata['dependencies']['Base']['mandatory'] is True
    from_versions = {yaml.safe_load(p.read_text())['fromversion'] for p in base.glob('Integrations/*/*.yml')}
    assert metadata['serverMinVersion'] == min(from_versions, key=_version)
    assert metadata['support'] == 'community' or (metadata['url'] and metadata['email'])
    readme = (base / 'README.md').read_text()
    section = re.search(r'^## Installing over the official pack\n(.*?)(?=^## |\Z)', readme, flags=re.M | re.S)
    assert section and f'**{version}**' in section.group(1) and OFFICIAL_VERSIONS[pack] in section.group(1)
