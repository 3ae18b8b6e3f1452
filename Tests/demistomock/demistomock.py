"""Stand-in for the ``demisto`` object the XSOAR server gives every integration.

Unit tests patch these functions with pytest-mock, exactly as in the content repository. The local runtime
(``xsoar-local``) instead installs a backend with :func:`set_backend`, so the same functions read and write
real per-instance state (parameters, integration context with versions, lastRun, files, entries).
"""
from __future__ import annotations

import copy
import json
import logging
import os
import uuid
from typing import Any

integrationContext: dict = {}
is_debug: bool = False
callingContext: dict = {}
ARGS_COMMAND_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), '.args_command.json')

SERVER_VERSION = {'version': '8.9.0', 'buildNumber': '1234567', 'platform': 'xsoar', 'engine': ''}

_log = logging.getLogger('demistomock')


class MockBackend:
    """What the functions do when nothing else is installed: the content repository's mock behaviour."""

    def __init__(self) -> None:
        self.integration_context_version = 0
        self.last_run: dict = {}
        self.last_mirror_run: dict = {}
        self.files: dict[str, str] = {}

    # -- instance and invocation ------------------------------------------------------------------------
    def params(self) -> dict:
        raw = os.environ.get('DEMISTO_PARAMS')
        return json.loads(raw) if raw else {}

    def _args_file(self) -> dict:
        if os.path.exists(ARGS_COMMAND_PATH):
            with open(ARGS_COMMAND_PATH, encoding='utf-8') as handle:
                return json.load(handle)
        return {}

    def args(self) -> dict:
        return {k: v for k, v in self._args_file().items() if k != 'cmd'}

    def command(self) -> str:
        return self._args_file().get('cmd', '')

    def integration_instance(self) -> str:
        return ''

    # -- output ------------------------------------------------------------------------------------------
    def results(self, results: Any) -> None:
        if isinstance(results, dict) and 'contents' in results:
            results = results['contents']
        _log.info('demisto results: %s', json.dumps(results, indent=4, sort_keys=True, default=str))

    def incidents(self, incidents: list | None) -> None:
        self.results({'Type': 1, 'Contents': json.dumps(incidents), 'ContentsFormat': 'json'})

    def log(self, level: str, msg: str) -> None:
        if level == 'error':
            # As in the content repo: unexpected error logs reach stdout, which the conftest check catches.
            print(msg)  # noqa: T201
        else:
            _log.info(msg)

    # -- state -------------------------------------------------------------------------------------------
    def get_integration_context_versioned(self, refresh: bool) -> dict:
        # A copy, as the server returns: changing it without a set must not change the stored context.
        return {'context': copy.deepcopy(integrationContext), 'version': self.integration_context_version}

    def set_integration_context_versioned(self, context: dict, version: int, sync: bool) -> None:
        global integrationContext
        if version not in (-1, None) and version != self.integration_context_version:
            raise ValueError(
                f'Version conflict: the integration context is at version {self.integration_context_version}, '
                f'the update was based on version {version}. Read it again and retry.'
            )
        integrationContext = context
        self.integration_context_version += 1

    def get_last_run(self) -> dict:
        return {'lastRun': '2018-10-24T14:13:20+00:00'}

    def set_last_run(self, obj: dict) -> None:
        self.last_run = obj

    def get_last_mirror_run(self) -> dict:
        return self.last_mirror_run

    def set_last_mirror_run(self, obj: dict) -> None:
        self.last_mirror_run = obj

    def unique_file(self) -> str:
        return str(uuid.uuid4())

    def get_file_path(self, entry_id: str) -> dict:
        return {'id': entry_id, 'path': self.files.get(entry_id, f'test/{entry_id}'), 'name': entry_id}

    def investigation(self) -> dict:
        return {'id': '1'}


_backend: MockBackend = MockBackend()


def set_backend(backend: MockBackend) -> None:
    """Install the object that serves every call below (the local runtime does this before running a script)."""
    global _backend
    _backend = backend


def get_backend() -> MockBackend:
    return _backend


# ---- the demisto API ------------------------------------------------------------------------------------

def params() -> dict:
    return _backend.params()


def args() -> dict:
    return _backend.args()


def command() -> str:
    return _backend.command()


def getParam(name: str) -> Any:
    return params().get(name)


def getArg(name: str) -> Any:
    return args().get(name)


def results(results: Any) -> None:
    _backend.results(results)


def incidents(incidents: list | None = None) -> Any:
    if incidents is None:
        return [{'Id': '1', 'name': 'Example incident', 'labels': [], 'CustomFields': {}}]
    _backend.incidents(incidents)
    return None


def credentials(credentials: Any) -> None:
    results({'Type': 1, 'Contents': json.dumps(credentials), 'ContentsFormat': 'json'})


def log(msg: str) -> None:
    _backend.log('info', msg)


def debug(msg: str, *args: Any) -> None:
    _backend.log('debug', msg % args if args else msg)


def info(msg: str, *args: Any) -> None:
    _backend.log('info', msg % args if args else msg)


def error(msg: str, *args: Any) -> None:
    _backend.log('error', msg % args if args else msg)


def getIntegrationContext() -> dict:
    return getIntegrationContextVersioned().get('context') or {}


def setIntegrationContext(context: dict) -> None:
    setIntegrationContextVersioned(context)


def getIntegrationContextVersioned(refresh: bool = False) -> dict:
    return _backend.get_integration_context_versioned(refresh)


def setIntegrationContextVersioned(context: dict, version: int = -1, sync: bool = False) -> None:
    _backend.set_integration_context_versioned(context, version, sync)


def getLastRun() -> dict:
    return _backend.get_last_run()


def setLastRun(obj: dict) -> None:
    _backend.set_last_run(obj)


def getLastMirrorRun() -> dict:
    return _backend.get_last_mirror_run()


def setLastMirrorRun(obj: dict) -> None:
    _backend.set_last_mirror_run(obj)


def demistoVersion() -> dict:
    return dict(SERVER_VERSION)


def integrationInstance() -> str:
    return _backend.integration_instance()


def getLicenseID() -> str:
    return ''


def getLicenseCustomField(key: str) -> str:
    return ''


def investigation() -> dict:
    return _backend.investigation()


def incident() -> dict:
    return {'id': '1', 'CustomFields': {}}


def uniqueFile() -> str:
    return _backend.unique_file()


def getFilePath(id: str) -> dict:  # noqa: A002 - the server's parameter name
    return _backend.get_file_path(id)


def context() -> dict:
    return {}


def setContext(name: str, value: Any) -> dict:
    return {}


def dt(obj: Any, trnsfrm: str) -> Any:
    return obj


def executeCommand(command: str, args: dict) -> list:
    return [{'Type': 1, 'Contents': {}, 'ContentsFormat': 'json'}]


def isTimeSensitive() -> bool:
    return False


def updateModuleHealth(data: Any, is_error: bool = False) -> None:
    return None


def addEntry(id: str, entry: str, username: str | None = None, email: str | None = None,  # noqa: A002
             footer: str | None = None) -> None:
    return None


def mirrorInvestigation(id: str, mirror_type: str, auto_close: bool = False) -> None:  # noqa: A002
    return None


def createIndicators(indicators_batch: list, noUpdate: bool = False) -> None:
    return None


def searchIndicators(**kwargs: Any) -> dict:
    return {'iocs': [], 'total': 0}


def createIncidents(incidents: list, lastRun: dict | None = None, userID: str = '') -> list:
    return []


def demistoUrls() -> dict:
    return {'server': 'https://localhost:8443'}


def internalHttpRequest(method: str, uri: str, body: Any = None) -> dict:
    return {'statusCode': 200, 'body': '{}'}


def parentEntry() -> dict:
    return {}


def get(obj: dict, field: str, defaultParam: Any = None) -> Any:
    for part in field.split('.'):
        if not isinstance(obj, dict) or part not in obj:
            return defaultParam
        obj = obj[part]
    return obj


def gets(obj: dict, field: str) -> str:
    return str(get(obj, field))
