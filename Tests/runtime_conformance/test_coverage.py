"""What the packs call into the runtime, and whether it is pinned.

- Every CommonServerPython name the three integrations and MicrosoftApiModule use (through ``from
  CommonServerPython import *``) and every ``demisto.*`` function they call must be pinned by a conformance test
  (a test docstring starting with ``Pins`` that names it).
- The integrations' and the module's unit tests may use only what the content repository's own demistomock offers,
  so they run unchanged under it.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import CommonServerPython

ROOT = Path(__file__).resolve().parents[2]
PACK_CODE = [
    ROOT / 'Packs/Microsoft365Defender/Integrations/Microsoft365Defender/Microsoft365Defender.py',
    ROOT / 'Packs/MicrosoftDefenderAdvancedThreatProtection/Integrations/MicrosoftDefenderAdvancedThreatProtection/'
           'MicrosoftDefenderAdvancedThreatProtection.py',
    ROOT / 'Packs/MicrosoftDefenderThreatIntelligence/Integrations/MicrosoftDefenderThreatIntelligence/'
           'MicrosoftDefenderThreatIntelligence.py',
    ROOT / 'Packs/ApiModules/Scripts/MicrosoftApiModule/MicrosoftApiModule.py',
]
UNIT_TESTS = [path.with_name(path.stem + '_test.py') for path in PACK_CODE]
CONFORMANCE = Path(__file__).parent

# The public functions and attributes of the content repository's demistomock (Tests/demistomock/demistomock.py in
# demisto/content): what a unit test may patch or read there.
CONTENT_MOCK_API = frozenset({
    'integrationContext', 'is_debug', 'callingContext', 'initialize', 'params', 'args', 'command', 'log', 'get',
    'gets', 'context', 'uniqueFile', 'getLastRun', 'setLastRun', 'info', 'error', 'debug', 'getAllSupportedCommands',
    'results', 'credentials', 'getFilePath', 'investigation', 'executeCommand', 'getParam', 'getArg',
    'setIntegrationContext', 'getIntegrationContext', 'setIntegrationContextVersioned',
    'getIntegrationContextVersioned', 'incidents', 'incident', 'setContext', 'demistoUrls', 'getAutoFocusApiKey', 'dt',
    'addEntry', 'mirrorInvestigation', 'updateModuleHealth', 'directMessage', 'createIncidents', 'findUser',
    'handleEntitlementForUser', 'demistoVersion', 'integrationInstance', 'createIndicators', 'searchIndicators',
    'getIndexHash', 'getLicenseID', 'mapObject', 'getModules', 'get_incidents', 'internalHttpRequest', 'parentEntry',
    'getLastMirrorRun', 'setLastMirrorRun', 'searchRelationships', '_apiCall', 'getLicenseCustomField',
    'setAssetsLastRun', 'getAssetsLastRun', 'isTimeSensitive',
})


def _locally_defined(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split('.')[0] for alias in node.names)
    return names


def csp_names_used(path: Path) -> set[str]:
    """CommonServerPython names the file reaches through the star import, with Common.<Class> spelled out."""
    tree = ast.parse(path.read_text(encoding='utf-8'))
    public = {n for n in dir(CommonServerPython) if not n.startswith('_')}
    local = _locally_defined(tree)
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == 'Common':
            used.add(f'Common.{node.attr}')
        elif isinstance(node, ast.Name) and node.id in public and node.id not in local:
            used.add(node.id)
    return used


def demisto_attributes(path: Path) -> set[str]:
    """Every ``demisto.<name>`` read, and every name patched with ``patch.object(demisto, '<name>', ...)``."""
    tree = ast.parse(path.read_text(encoding='utf-8'))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == 'demisto':
            names.add(node.attr)
        elif (isinstance(node, ast.Call) and len(node.args) >= 2 and isinstance(node.args[0], ast.Name)
              and node.args[0].id == 'demisto' and isinstance(node.args[1], ast.Constant)):
            names.add(str(node.args[1].value))
    return names


def pinned_names() -> set[str]:
    """Names listed after ``Pins`` in the conformance tests' docstrings."""
    pinned: set[str] = set()
    for path in CONFORMANCE.glob('test_*.py'):
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.FunctionDef):
                doc = ast.get_docstring(node) or ''
                if doc.startswith('Pins '):
                    head = doc[5:].split(':')[0]
                    pinned.update(name.strip('.') for name in re.split(r'[,\s]+', head) if name.strip('.'))
    return pinned


def test_every_csp_call_is_pinned():
    """Given the pack code, When listing its CommonServerPython names, Then each has a conformance test."""
    used = set().union(*(csp_names_used(path) for path in PACK_CODE))
    assert {'tableToMarkdown', 'CommandResults', 'Common.IP', 'BaseClient'} <= used  # the scan sees the calls
    missing = sorted(used - pinned_names())
    assert not missing, f'CommonServerPython names used by the packs without a conformance test: {missing}'


def test_every_demisto_call_is_pinned():
    """Given the pack code, When listing its demisto.* calls, Then each exists in the content mock and is pinned."""
    used = set().union(*(demisto_attributes(path) for path in PACK_CODE))
    assert not used - CONTENT_MOCK_API, f'demisto functions the content mock lacks: {sorted(used - CONTENT_MOCK_API)}'
    missing = sorted(f'demisto.{name}' for name in used if f'demisto.{name}' not in pinned_names())
    assert not missing, f'demisto functions used by the packs without a conformance test: {missing}'


def test_unit_tests_use_only_the_content_mock():
    """Given the integrations' and the module's unit tests, When listing what they touch on demisto, Then it is all
    part of the content repository's demistomock (no set_backend, MockBackend or other stand-in internals)."""
    for path in UNIT_TESTS:
        extra = demisto_attributes(path) - CONTENT_MOCK_API
        assert not extra, f'{path.name} uses stand-in-only demisto names: {sorted(extra)}'


def test_our_mock_offers_the_content_mock_api():
    """Given our demistomock, When compared with the content mock's API, Then every name exists."""
    import demistomock
    assert not {name for name in CONTENT_MOCK_API if not hasattr(demistomock, name)}
