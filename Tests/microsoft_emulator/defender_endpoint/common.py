"""The Defender for Endpoint API module (``https://api.securitycenter.microsoft.com``, logical host ``mde``), the
permissions its routes declare, and what every route file shares: the store of the request, ``@odata.context``
URLs, body errors, and one page of a collection (``$filter``, ``$orderby``, ``$skip``/``$top``, ``@odata.nextLink``).
Errors are ``{"error": {"code", "message", "target"}}``."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..context import emulator_context
from ..core.api import ApiModule
from ..core.clock import TICKS_PER_SECOND, format_time
from ..core.http import base_url, defender_error, next_link
from ..ratelimits import MDE_DEFAULT, MDE_HUNTING
from .instance import get_store
from .odata import Query
from .store import MdeStore

HUNTING_WINDOW = 30 * 86400 * TICKS_PER_SECOND
MAX_IMPORT = 500

# Application roles and their delegated counterparts (Microsoft's permission tables list both for each API).
MACHINE_READ = ['Machine.Read.All', 'Machine.ReadWrite.All', 'Machine.Read', 'Machine.ReadWrite']
MACHINE_WRITE = ['Machine.ReadWrite.All', 'Machine.ReadWrite']
ALERT_READ = ['Alert.Read.All', 'Alert.ReadWrite.All', 'Alert.Read', 'Alert.ReadWrite']
ALERT_WRITE = ['Alert.ReadWrite.All', 'Alert.ReadWrite']
TI = ['Ti.ReadWrite', 'Ti.ReadWrite.All']
TI_READ = ['Ti.Read.All', 'Ti.Read', 'Ti.ReadWrite', 'Ti.ReadWrite.All']
CANCEL = ['Machine.CollectForensics', 'Machine.Isolate', 'Machine.RestrictExecution', 'Machine.Scan',
          'Machine.Offboard', 'Machine.StopAndQuarantine', 'Machine.LiveResponse']


# The package's modules() mounts the store's admin routes (admin.py, no token needed) on this module.
module = ApiModule('defender_endpoint', host='mde', audiences=('mde',), error_style='defender',
                   rate_limits=[*MDE_DEFAULT, *MDE_HUNTING])


def request_store(request: Request) -> MdeStore:
    return get_store(emulator_context(request))


def odata_context(request: Request, entity: str) -> str:
    return f'{base_url(request)}/api/$metadata#{entity}'


def bad_body(message: str = 'Request body is incorrect') -> JSONResponse:
    return defender_error(400, 'InvalidRequestBody', message)


def odata_error(exc: Exception) -> JSONResponse:
    return defender_error(400, 'ODataError', f'Invalid OData URI query - {exc}')


def _sort(items: list[dict[str, Any]], order: list[tuple[str, bool]], tie: str = 'id') -> list[dict[str, Any]]:
    for name, descending in reversed(order + [(tie, False)] if order else []):
        present = [i for i in items if i.get(name) is not None]
        missing = [i for i in items if i.get(name) is None]
        present.sort(key=lambda i, n=name: i[n], reverse=descending)   # type: ignore[misc]
        items = present + missing
    return items


def page(request: Request, path: str, entity: str, items: list[dict[str, Any]], query: Query,
         render: Callable[[dict[str, Any]], dict[str, Any]]) -> JSONResponse:
    """One page of a collection: ``$filter``, ``$orderby`` (ties by id), ``$skip``/``$top`` and the next link."""
    if query.node is not None:
        items = [i for i in items if query.node.test(i)]
    items = _sort(list(items), query.order)
    selected = items[query.skip:query.skip + query.top]
    body: dict[str, Any] = {'@odata.context': odata_context(request, entity), 'value': [render(i) for i in selected]}
    if query.top and query.skip + query.top < len(items):
        body['@odata.nextLink'] = next_link(request, path, query.skip + query.top)
    return JSONResponse(body)


def format_times(record: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    out = dict(record)
    for name in names:
        if name in out and isinstance(out[name], int) and not isinstance(out[name], bool):
            out[name] = format_time(out[name])
    return out


