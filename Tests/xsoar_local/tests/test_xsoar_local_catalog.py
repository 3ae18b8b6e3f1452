"""The catalog parses each YAML once per content: unchanged files come from the cache, edited ones are parsed again."""
from __future__ import annotations

from pathlib import Path

import yaml

from xsoar_local import catalog
from xsoar_local.integrations import find_integration


def test_unchanged_file_is_parsed_once(tmp_path: Path, mocker) -> None:
    """
    Given a YAML file read twice without change
    When the catalog loads it
    Then it is parsed once and both reads return the same document.
    """
    path = tmp_path / 'a.yml'
    path.write_text('script: {commands: [{name: a}]}\n')
    parse = mocker.spy(catalog, 'parse_yaml')
    first, second = catalog.load_yaml(path), catalog.load_yaml(path)
    assert first is second
    assert first == {'script': {'commands': [{'name': 'a'}]}}
    assert parse.call_count == 1


def test_edited_file_is_parsed_again(tmp_path: Path) -> None:
    """
    Given a YAML file that changes between two reads
    When the catalog loads it
    Then the second read sees the new content (the cache is keyed by content hash, not by path).
    """
    path = tmp_path / 'a.yml'
    path.write_text('value: 1\n')
    assert catalog.load_yaml(path) == {'value': 1}
    path.write_text('value: 2\n')
    assert catalog.load_yaml(path) == {'value': 2}


def test_c_loader_when_available() -> None:
    """
    Given PyYAML built with libyaml (the pinned wheels are)
    When the catalog picks its loader
    Then it is the C safe loader.
    """
    assert catalog.SAFE_LOADER is getattr(yaml, 'CSafeLoader', yaml.SafeLoader)


def test_integration_objects_are_shared_while_the_yaml_is_unchanged() -> None:
    """
    Given an integration looked up twice
    When its YAML has not changed
    Then both lookups return the same object (its parsed commands are not rebuilt).
    """
    assert find_integration('MicrosoftAuthFixture') is find_integration('MicrosoftAuthFixture')
