"""The uploadable pack zips (`make zip`): one per shipped pack, each holding what a marketplace upload installs.

One test, because building the zips runs demisto-sdk (a few seconds); it opens every zip the way the server's upload
does and compares it with the pack's source tree.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import yaml

from xsoar_local import build
from xsoar_local.integrations import all_integrations

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_PACKS = ('Microsoft365Defender', 'MicrosoftDefenderAdvancedThreatProtection', 'MicrosoftDefenderThreatIntelligence')
# Content folders whose items the upload must install, by their JSON "id" (YAML items by commonfields.id).
JSON_ITEM_FOLDERS = ('IncidentFields', 'IncidentTypes', 'IndicatorFields', 'Layouts', 'Classifiers')
# Test-only files of a pack that never reach a customer.
NEVER_SHIPPED = ('_test.py', 'test_data/', 'command_examples', 'conftest.py', '.pack-ignore', '.secrets-ignore')


def _json_ids(folder: Path) -> set[str]:
    return {json.loads(path.read_text())['id'] for path in folder.glob('*.json')} if folder.is_dir() else set()


def _zip_json_ids(archive: zipfile.ZipFile, folder: str) -> set[str]:
    return {json.loads(archive.read(name))['id'] for name in archive.namelist()
            if name.startswith(f'{folder}/') and name.endswith('.json')}


def _check_pack_zip(path: Path, pack: Path) -> None:
    metadata = json.loads((pack / 'pack_metadata.json').read_text())
    version = metadata['currentVersion']
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert not [n for n in names if any(marker in n for marker in NEVER_SHIPPED)], names
        zipped_metadata = json.loads(archive.read('pack_metadata.json'))
        assert (zipped_metadata['name'], zipped_metadata['currentVersion']) == (metadata['name'], version)
        marketplace = json.loads(archive.read('metadata.json'))
        assert (marketplace['id'], marketplace['currentVersion']) == (pack.name, version)
        assert archive.read('README.md').strip()
        assert f'ReleaseNotes/{version.replace(".", "_")}.md' in names

        integrations = [i for i in all_integrations(include_fixtures=False) if i.pack_dir == pack]
        assert integrations
        for integration in integrations:
            unified = yaml.safe_load(archive.read(f'Integrations/integration-{integration.name}.yml'))
            assert unified['commonfields']['id'] == integration.manifest['commonfields']['id']
            script = unified['script']['script']
            assert not [line for line in script.splitlines() if line.startswith('from ') and 'ApiModule import *' in line]
            assert "register_module_line('MicrosoftApiModule', 'start'" in script
            assert f"CONSTANT_PACK_VERSION = '{version}'" in script
            assert unified['image'].startswith('data:image/png;base64,')
            assert unified['detaileddescription'].strip()

        for folder in JSON_ITEM_FOLDERS:
            assert _zip_json_ids(archive, folder) == _json_ids(pack / folder), folder
        scripts = {yaml.safe_load((d / f'{d.name}.yml').read_text())['commonfields']['id']
                   for d in (pack / 'Scripts').glob('*') if d.is_dir()} if (pack / 'Scripts').is_dir() else set()
        zipped_scripts = {yaml.safe_load(archive.read(n))['commonfields']['id'] for n in names
                          if n.startswith('Scripts/script-') and n.endswith('.yml')}
        assert zipped_scripts == scripts


@pytest.mark.slow
def test_zip_writes_one_uploadable_zip_per_pack(tmp_path):
    """Given a zip of an earlier run in the output folder, When the three packs are zipped, Then exactly three zips
    are there, named after the packs, and each carries the pack's metadata, README, release notes for its version,
    unified integrations with the API module inlined, and every incident field, type, layout, mapper and script."""
    (tmp_path / 'Stale.zip').write_bytes(b'from an earlier run')
    packs = [ROOT / 'Packs' / name for name in SHIPPED_PACKS]
    zips = build.zip_packs(packs, out_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f'{name}.zip' for name in SHIPPED_PACKS)
    assert sorted(zips) == sorted(tmp_path / f'{name}.zip' for name in SHIPPED_PACKS)
    for name in SHIPPED_PACKS:
        _check_pack_zip(tmp_path / f'{name}.zip', ROOT / 'Packs' / name)
