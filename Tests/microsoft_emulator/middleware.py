"""The outermost ASGI layer: classifies each request by logical host, applies injected faults and rate limits,
and writes the request log.

It must wrap the Starlette app directly (uvicorn calls it with its own ``send``), because the ``reset`` fault
reaches uvicorn's transport through that callable to close the socket with a TCP RST and no response.
"""
from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .context import EmulatorContext, EmuRoute
from .errors import api_error_body, fault_body
from .faults import Fault
from .requestlog import bind, unbind
from .tokens import unverified_claims


def guess_host(path: str) -> str:
    if path.startswith('/_emulator'):
        return 'admin'
    if path.startswith(('/v1.0/', '/beta/')):
        return 'graph'
    if path.startswith('/api/'):
        return 'mde'
    if path.startswith('/metadata/'):
        return 'imds'
    return 'unknown'


class EmulatorMiddleware:
    def __init__(self, app: ASGIApp, ctx: EmulatorContext, routes: list[EmuRoute]):
        self.app = app
        self.ctx = ctx
        self.routes = routes
        self.stopping = False

    def classify(self, scope: Scope) -> EmuRoute | None:
        partial = None
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route
            if match == Match.PARTIAL and partial is None:
                partial = route
        return partial

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        route = self.classify(scope)
        path, method = scope['path'], scope['method']
        host = route.host if route else guess_host(path)
        headers = {k.decode('latin-1').lower(): v.decode('latin-1') for k, v in scope.get('headers', [])}
        entry: dict[str, Any] = {
            'time': datetime.now(UTC).isoformat(timespec='milliseconds').replace('+00:00', 'Z'),
            'method': method, 'host': host, 'path': path,
            'query': scope.get('query_string', b'').decode('latin-1'), 'status': None,
            'client_id': None, 'tenant_id': None,
        }
        if headers.get('user-agent'):
            entry['user_agent'] = headers['user-agent']
        scheme, _, token = headers.get('authorization', '').partition(' ')
        if scheme.lower() == 'bearer' and token:
            claims = unverified_claims(token.strip())
            entry['client_id'] = claims.get('appid') or claims.get('azp')
            entry['tenant_id'] = claims.get('tid')
        bound = bind(entry)
        started = time.perf_counter()
        logged = False

        def finish() -> None:
            # Logged before the last byte goes out, so a client that reads the log right after its response
            # always finds its request there.
            nonlocal logged
            if logged:
                return
            logged = True
            entry['duration_ms'] = round((time.perf_counter() - started) * 1000, 2)
            if host != 'admin':
                self.ctx.log.add(entry)

        async def send_and_record(message: Message) -> None:
            if message['type'] == 'http.response.start':
                entry['status'] = message['status']
            elif message['type'] == 'http.response.body' and not message.get('more_body', False):
                finish()
            await send(message)

        try:
            if host != 'admin':
                if await self._apply_faults(host, method, path, entry, receive, send, send_and_record, finish):
                    return
                if await self._apply_rate_limits(route, method, path, entry, send_and_record):
                    return
            await self.app(scope, receive, send_and_record)
        finally:
            unbind(bound)
            finish()

    # ----- faults -----------------------------------------------------------------------------------------------
    async def _apply_faults(self, host: str, method: str, path: str, entry: dict[str, Any], receive: Receive,
                            raw_send: Send, send: Send, finish: Callable[[], None]) -> bool:
        for fault in self.ctx.faults.take(host, method, path):
            entry.setdefault('faults', []).append(fault.kind)
            if fault.kind == 'latency':
                await asyncio.sleep(fault.latency_ms / 1000)
            elif fault.kind == 'status':
                await self._send_fault(send, host, fault, fault.status)
                return True
            elif fault.kind == 'reset':
                finish()
                await self._reset(raw_send)
                return True
            elif fault.kind == 'hang':
                seconds = min(fault.hang_seconds, self.ctx.state.settings.hang_max_seconds)
                if not await self._hang(receive, seconds):
                    await self._send_fault(send, host, fault, 504)
                return True
        return False

    @staticmethod
    async def _send_fault(send: Send, host: str, fault: Fault, status: int) -> None:
        body = fault.body if fault.body is not None else fault_body(host, status, fault.retry_after)
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        headers = [(b'content-type', b'application/json' if not isinstance(body, str) else b'text/plain'),
                   (b'content-length', str(len(data)).encode())]
        if fault.retry_after is not None:
            headers.append((b'retry-after', str(fault.retry_after).encode()))
        headers += [(k.lower().encode('latin-1'), v.encode('latin-1')) for k, v in fault.headers.items()]
        await send({'type': 'http.response.start', 'status': status, 'headers': headers})
        await send({'type': 'http.response.body', 'body': data})

    @staticmethod
    async def _reset(raw_send: Send) -> None:
        """Abort the TCP connection (RST, no response). uvicorn's ``send`` is a method of its per-request cycle,
        which holds the transport; once the transport reports the connection lost, returning without a response
        is what uvicorn expects from a disconnected client."""
        cycle = getattr(raw_send, '__self__', None)
        transport = getattr(cycle, 'transport', None)
        if transport is None:
            raise RuntimeError('the reset fault needs uvicorn (no transport found)')
        sock = transport.get_extra_info('socket')
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            except OSError:
                pass
        transport.abort()
        for _ in range(200):
            if getattr(cycle, 'disconnected', True):
                break
            await asyncio.sleep(0.005)

    async def _hang(self, receive: Receive, seconds: float) -> bool:
        """Wait ``seconds`` without answering. True if the client disconnected meanwhile; False when the time is
        up or the server is shutting down (then the caller answers 504)."""
        deadline = time.monotonic() + seconds
        while not self.stopping:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                message = await asyncio.wait_for(receive(), timeout=min(remaining, 0.2))
            except TimeoutError:
                continue
            if message['type'] == 'http.disconnect':
                return True
        return False

    # ----- rate limits ------------------------------------------------------------------------------------------
    async def _apply_rate_limits(self, route: EmuRoute | None, method: str, path: str, entry: dict[str, Any],
                                 send: Send) -> bool:
        settings = self.ctx.state.settings
        if route is None or route.module is None or not settings.rate_limits:
            return False
        rules = self.ctx.rate_rules(route.module)
        if not rules:
            return False
        throttled = self.ctx.limiter.check(route.module.name, rules, tenant_id=entry.get('tenant_id') or '',
                                           client_id=entry.get('client_id') or '', method=method, path=path,
                                           time_scale=settings.rate_limit_time_scale)
        if throttled is None:
            return False
        rule = throttled.rule
        entry['rate_limited'] = rule.name
        body = api_error_body('TooManyRequests', (
            f'API calls quota exceeded! Maximum allowed {rule.calls} per {int(rule.period_seconds)} seconds for '
            f'{rule.name}. Try again in {throttled.retry_after} seconds.'))
        data = json.dumps(body).encode()
        await send({'type': 'http.response.start', 'status': 429, 'headers': [
            (b'content-type', b'application/json'), (b'content-length', str(len(data)).encode()),
            (b'retry-after', str(throttled.retry_after).encode())]})
        await send({'type': 'http.response.body', 'body': data})
        return True
