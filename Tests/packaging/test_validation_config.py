"""`make validate` runs demisto-sdk's full validation: every check the installed demisto-sdk has, minus the few that
cannot run on a checkout by themselves, with ignores only where a pack keeps an official interface (and says why).
"""
from __future__ import annotations

import configparser
import re
import struct
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'validation_config.toml'
# The checks validation_config.toml leaves out, and why (its header says the same).
NEEDS_CONTENT_GRAPH = {'AG116', 'GR100', 'GR101', 'GR102', 'GR103', 'GR104', 'GR105', 'GR106', 'GR107', 'GR108',
                       'GR109', 'GR110', 'GR111', 'GR112', 'GR113', 'GR114', 'GR115', 'GR116', 'GR117', 'GR118',
                       'IF117', 'LO100', 'PA124', 'PA133', 'PB131', 'PB133', 'SC109', 'SC110'}
NEEDS_GIT_HISTORY = {'RN106', 'RN107', 'PA114'}
NEEDS_DOCKER_HUB = {'DO103', 'DO105', 'DO106'}
NOT_RUN = NEEDS_CONTENT_GRAPH | NEEDS_GIT_HISTORY | NEEDS_DOCKER_HUB
SHIPPED_PACKS = ('Microsoft365Defender', 'MicrosoftDefenderAdvancedThreatProtection', 'MicrosoftDefenderThreatIntelligence')


def _sdk_error_codes() -> set[str]:
    validators = sorted(ROOT.glob('.venv-sdk/lib/python3*/site-packages/demisto_sdk/commands/validate/validators'))
    if not validators:
        pytest.skip('demisto-sdk is not installed (make sdk-env)')
    return {code for path in validators[0].rglob('*.py')
            for code in re.findall(r'error_code\s*=\s*"([A-Z]{2}\d{3})"', path.read_text(encoding='utf-8'))}


def test_config_selects_every_check_the_sdk_has():
    """Given the installed demisto-sdk, When its error codes are compared with validation_config.toml, Then every code
    is selected in both modes except the documented graph, git-history and Docker Hub checks, and make validate uses
    the file with the support-level waivers off."""
    config = tomllib.loads(CONFIG.read_text(encoding='utf-8'))
    codes = _sdk_error_codes()
    assert NOT_RUN <= codes, 'a left-out check no longer exists: drop it from the lists'
    for section in ('path_based_validations', 'use_git'):
        assert set(config[section]['select']) == codes - NOT_RUN, section
        assert config[section]['warning'] == []
    makefile = (ROOT / 'Makefile').read_text(encoding='utf-8')
    assert 'validate -a --config-path validation_config.toml --ignore-support-level' in makefile


def test_every_ignore_is_allowed_and_explained():
    """Given the packs' .pack-ignore files, When read, Then each ignored code is one the config allows to be ignored
    and each ignored file has a comment above it saying why."""
    ignorable = set(tomllib.loads(CONFIG.read_text(encoding='utf-8'))['ignorable_errors'])
    for pack_ignore in ROOT.glob('Packs/*/.pack-ignore'):
        text = pack_ignore.read_text(encoding='utf-8')
        parser = configparser.ConfigParser()
        parser.read_string(text)
        for section in parser.sections():
            if not section.startswith('file:'):
                continue
            codes = {c.strip() for c in parser[section].get('ignore', '').split(',') if c.strip()}
            assert codes <= ignorable, f'{pack_ignore}: [{section}] ignores {sorted(codes - ignorable)}'
            before = text[:text.index(f'[{section}]')].rstrip('\n').splitlines()
            explained = any(line.startswith('#') for line in before)
            assert explained, f'{pack_ignore}: [{section}] has no comment saying why'


@pytest.mark.parametrize('pack', SHIPPED_PACKS)
def test_integration_images_are_120_by_50_png(pack):
    """Given an integration image, When its PNG header is read, Then it is 120x50 pixels, as the marketplace requires."""
    for image in (ROOT / 'Packs' / pack).glob('Integrations/*/*_image.png'):
        header = image.read_bytes()[:24]
        assert header[:8] == b'\x89PNG\r\n\x1a\n', image.name
        assert struct.unpack('>II', header[16:24]) == (120, 50), image.name
