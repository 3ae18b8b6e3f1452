"""Plumbing shared by the admin APIs (``/_emulator/...``): JSON bodies, and errors turned into JSON answers."""
from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

Endpoint = Callable[[Request], Awaitable[Response]]


class AdminError(Exception):
    """A request the admin API refuses; ``status`` is the HTTP status to answer with (400 unless said)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object ({} for an empty body)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise AdminError('the body must be JSON') from exc
    if not isinstance(data, dict):
        raise AdminError('the body must be a JSON object')
    return data


def error_response(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({'error': message}, status_code=status)


def admin_handler(fn: Endpoint, bad_request: tuple[type[Exception], ...] = (),
                  not_found: tuple[type[Exception], str] | None = None) -> Endpoint:
    """Wrap an admin endpoint: AdminError keeps its status, ``not_found`` errors answer 404 with their message
    template (``{}`` is the first argument), and bad input (ValueError, KeyError, TypeError, ``bad_request``) 400."""
    async def endpoint(request: Request) -> Response:
        try:
            return await fn(request)
        except AdminError as exc:
            return error_response(str(exc), exc.status)
        except Exception as exc:  # noqa: BLE001 - mapped below or re-raised
            if not_found and isinstance(exc, not_found[0]):
                return error_response(not_found[1].format(exc.args[0] if exc.args else ''), 404)
            if isinstance(exc, (ValueError, KeyError, TypeError, *bad_request)):
                return error_response(str(exc).strip('\'"'))
            raise
    endpoint.__name__ = fn.__name__
    return endpoint
