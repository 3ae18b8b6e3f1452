"""Stand-in for the ``demisto`` object the XSOAR server gives every integration.

Without anything installed, every function behaves as the content repository's own ``demistomock`` (the mock its
unit tests run on): server version 5.5.0, an integration context that is a plain module global, a fixed lastRun, no
version checks. Unit tests patch these functions with pytest-mock, exactly as in the content repository, and must
not depend on anything else here. The local runtime (``xsoar-local``) instead installs a backend with
:func:`set_backend`, so the same functions read and write real per-instance state (parameters, integration context
with versions, lastRun, files, entries) and report a current server version.
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

# What a runtime backend reports (xsoar-local acts as a current server).
SERVER_VERSION = {'version': '8.9.0', 'buildNumber': '1234567', 'platform': 'xsoar', 'engine': ''}
# What the content repository's mock reports; below 6.0.0, so CommonServerPython uses the unversioned context API.
CONTENT_MOCK_VERSION = {'version': '5.5.0', 'buildNumber': '12345'}
EXAMPLE_AUTOFOCUS_API_KEY = '1234'
EXAMPLE_DEMISTO_URLS = {
    page: f'https://test-address:8443/#/{path}/7ab2ac46-4142-4af8-8cbe-538efb4e63d6'
    for page, path in (('evidenceBoard', 'EvidenceBoard'), ('investigation', 'Details'),
                       ('relatedIncidents', 'Cluster'), ('warRoom', 'WarRoom'), ('workPlan', 'WorkPlan'))
}
EXAMPLE_DEMISTO_URLS['server'] = 'https://test-address:8443'

_log = logging.getLogger('demistomock')


class MockBackend:
    """The base of runtime backends (xsoar-local subclasses it): versioned integration context, stored lastRun."""

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
    def server_version(self) -> dict:
        return dict(SERVER_VERSION)

    def get_integration_context(self) -> dict:
        return self.get_integration_context_versioned(False).get('context') or {}

    def set_integration_context(self, context: dict) -> None:
        self.set_integration_context_versioned(context, -1, False)

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


class ContentMockBackend(MockBackend):
    """What the functions do when nothing is installed: the content repository's mock, value for value."""

    def server_version(self) -> dict:
        return dict(CONTENT_MOCK_VERSION)

    def get_integration_context(self) -> dict:
        return integrationContext

    def set_integration_context(self, context: dict) -> None:
        global integrationContext
        integrationContext = context

    def get_integration_context_versioned(self, refresh: bool) -> dict:
        # The content mock has no versions: the "versioned" object is the context itself.
        return integrationContext

    def set_integration_context_versioned(self, context: dict, version: int, sync: bool) -> None:
        self.set_integration_context(context)

    def set_last_run(self, obj: dict) -> None:
        return None

    def get_last_mirror_run(self) -> dict:
        return {}

    def set_last_mirror_run(self, obj: dict) -> None:
        return None

    def get_file_path(self, entry_id: str) -> dict:
        return {'id': entry_id, 'path': 'test/test.txt', 'name': 'test.txt'}

    def log(self, level: str, msg: str) -> None:
        if level == 'error':
            print(msg)  # noqa: T201 - as the content mock: an unmocked error log reaches stdout and fails the test
        else:
            logging.getLogger().info(msg)


_backend: MockBackend = ContentMockBackend()


def set_backend(backend: MockBackend | None) -> None:
    """Install the object that serves every call below (the local runtime does this before running a script);
    ``None`` restores the content repository's mock behaviour."""
    global _backend
    _backend = backend if backend is not None else ContentMockBackend()


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
    return _backend.get_integration_context()


def setIntegrationContext(context: dict) -> None:
    _backend.set_integration_context(context)


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
    return _backend.server_version()


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
    return dict(EXAMPLE_DEMISTO_URLS)


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


def initialize() -> None:
    """Server-side set-up of the object; nothing to do in a mock."""


def getAutoFocusApiKey() -> str:
    return EXAMPLE_AUTOFOCUS_API_KEY


def getAllSupportedCommands() -> dict:
    return {}


def directMessage(message: str, username: str | None = None, email: str | None = None,
                  anyoneCanOpenIncidents: bool | None = None) -> str:
    return ''


def findUser(username: str | None = None, email: str | None = None) -> dict:
    return {}


def handleEntitlementForUser(incidentID: str, guid: str, email: str, content: str, taskID: str = '') -> dict:
    return {}


def getIndexHash() -> str:
    return ''


def mapObject(obj: Any, mapper: Any, mapper_type: Any) -> Any:
    return obj


def getModules() -> dict:
    return {}


def get_incidents() -> dict:
    return {}


def searchRelationships(args: dict) -> dict:
    return {'data': []}


def _apiCall(name: str | None = None, params: dict | None = None, data: Any = None, headers: dict | None = None,
             method: str | None = None, path: str | None = None, timeout: Any = None,
             response_data_type: str | None = None) -> dict:
    return {}


def setAssetsLastRun(obj: dict) -> None:
    return None


def getAssetsLastRun() -> dict:
    return {'lastRun': '2018-10-24T14:13:20+00:00'}
