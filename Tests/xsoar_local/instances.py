"""Instance files: an integration's configuration by parameter name, as the server would hand it to ``params()``.

An instance file is YAML with a ``name`` and the parameters by their YAML names; credential parameters are written as
``{identifier: ..., password: ...}``. ``${VAR}`` anywhere in a value is replaced from the environment — instance files
for the emulator say ``${EMULATOR_URL}`` and ``${EMULATOR_CA}``. Parameters the file leaves out take the defaults the
YAML declares, as a new instance on the server does.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .integrations import Integration, repo_root

_VARIABLE = re.compile(r'\$\{([A-Za-z_][A-Za-z0-9_]*)\}')
EMULATOR_VARIABLES = ('EMULATOR_URL', 'EMULATOR_CA', 'EMULATOR_CERT_THUMBPRINT', 'EMULATOR_CERT_PRIVATE_KEY')

BOOLEAN_PARAM = 8
CREDENTIALS_PARAM = 9


class InstanceError(ValueError):
    """The instance file cannot be used as written."""


@dataclass
class Instance:
    name: str
    integration: str
    params: dict = field(default_factory=dict)
    source: Path | None = None


def variables_used(raw: Any) -> set[str]:
    if isinstance(raw, str):
        return set(_VARIABLE.findall(raw))
    if isinstance(raw, dict):
        return set().union(*(variables_used(v) for v in raw.values())) if raw else set()
    if isinstance(raw, list):
        return set().union(*(variables_used(v) for v in raw)) if raw else set()
    return set()


def substitute(raw: Any, env: dict[str, str]) -> Any:
    if isinstance(raw, str):
        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name not in env:
                raise InstanceError(f'The instance file uses ${{{name}}}, which is not set.')
            return env[name]
        return _VARIABLE.sub(replace, raw)
    if isinstance(raw, dict):
        return {k: substitute(v, env) for k, v in raw.items()}
    if isinstance(raw, list):
        return [substitute(v, env) for v in raw]
    return raw


def read_instance_file(path: Path) -> dict:
    try:
        with open(path, encoding='utf-8') as handle:
            raw = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError) as error:
        raise InstanceError(f'Cannot read instance file {path}: {error}') from error
    if not isinstance(raw, dict):
        raise InstanceError(f'Instance file {path} must be a mapping of parameter names to values.')
    return raw


def _coerce(value: Any, param_type: int | None) -> Any:
    if param_type == BOOLEAN_PARAM and isinstance(value, str):
        return value.strip().lower() == 'true'
    if param_type == CREDENTIALS_PARAM and isinstance(value, str):
        return {'identifier': '', 'password': value}
    if param_type == CREDENTIALS_PARAM and isinstance(value, dict):
        return {'identifier': value.get('identifier') or '', 'password': value.get('password') or ''}
    return value


def instance_name(integration: Integration, raw: dict) -> str:
    """The instance's name: the file's ``name`` (variables substituted where set), else the server's default."""
    name = raw.get('name')
    return str(substitute(name, dict(os.environ))) if name else f'{integration.name}_instance_1'


def build_instance(integration: Integration, raw: dict, env: dict[str, str] | None = None,
                   source: Path | None = None) -> Instance:
    """Defaults from the YAML, overridden by the file's values, with ``${VAR}`` substituted."""
    values = substitute(dict(raw), dict(os.environ) | (env or {}))
    name = instance_name(integration, values)
    values.pop('name', None)
    values.pop('integration', None)
    unknown = sorted(set(values) - set(integration.parameters))
    if unknown:
        raise InstanceError(
            f'{source or "instance"}: unknown parameter(s) for {integration.name}: {", ".join(unknown)}. '
            f'Known: {", ".join(sorted(integration.parameters))}.')
    params: dict[str, Any] = {}
    for param in integration.parameters.values():
        if param.default is not None and param.type != CREDENTIALS_PARAM:
            params[param.name] = _coerce(param.default, param.type)
    for key, value in values.items():
        params[key] = _coerce(value, integration.parameters[key].type)
    return Instance(name=name, integration=integration.name, params=params, source=source)


def load_instance(integration: Integration, path: Path | None, env: dict[str, str] | None = None) -> Instance:
    if path is None:
        return build_instance(integration, {}, env)
    return build_instance(integration, read_instance_file(path), env, source=path)


def default_instance_file(integration: Integration) -> Path | None:
    """The instance used when none is named: Tests/instances/<Integration>/default.yml, else the first one there."""
    folder = repo_root() / 'Tests' / 'instances' / integration.name
    if (folder / 'default.yml').exists():
        return folder / 'default.yml'
    candidates = sorted(folder.glob('*.yml'))
    return candidates[0] if candidates else None
