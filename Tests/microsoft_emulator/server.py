"""The app factory and :class:`EmulatorServer`, which serves it with uvicorn on a background thread."""
from __future__ import annotations

import asyncio
import json
import logging
import pickle
import socket
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette

from . import admin, identity
from .certs import tls_material
from .context import EmulatorContext, EmuRoute
from .core.api import ApiModule
from .core.stores import StoreRegistry
from .faults import FaultRegistry, parse_fault
from .middleware import EmulatorMiddleware
from .products import builtin_modules
from .requestlog import RequestLog
from .state import EmulatorState, load_seed
from .tokens import TokenService

SEED_COPY = 'seed.json'


def create_app(ctx: EmulatorContext) -> EmulatorMiddleware:
    """The ASGI application: admin routes, identity routes, then every API module's routes."""
    routes: list[EmuRoute] = [*admin.routes(), *identity.routes()]
    for module in ctx.modules:
        routes.extend(module.starlette_routes())
    starlette = Starlette(routes=routes)
    starlette.state.emulator = ctx
    return EmulatorMiddleware(starlette, ctx, routes)


def resolve_seed(seed: str | Path | dict[str, Any] | None, state_dir: Path) -> dict[str, Any]:
    """An explicit seed; without one, the seed an earlier run in this state directory was given (see
    :func:`remember_seed`), else the packaged default."""
    if seed is not None:
        return load_seed(seed)
    copy_path = state_dir / SEED_COPY
    if copy_path.exists():
        return load_seed(copy_path)
    return load_seed(None)


def remember_seed(data: dict[str, Any], state_dir: Path) -> None:
    (state_dir / SEED_COPY).write_text(json.dumps(data, default=str, indent=1), encoding='utf-8')


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit TCP_NODELAY. Without it uvicorn's separate header and body writes meet the
    # client's delayed ACK, and every request on a kept-alive connection waits ~40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(256)
    sock.set_inheritable(True)
    return sock


class _Uvicorn(uvicorn.Server):
    """uvicorn's server, with a shutdown that does not wait on idle connections: TLS connections whose client left
    without a close_notify otherwise linger until asyncio's TLS shutdown timeout."""

    def __init__(self, config: uvicorn.Config, app: EmulatorMiddleware):
        super().__init__(config)
        self._emulator_app = app

    async def _wait_tasks_to_complete(self) -> None:
        self._emulator_app.stopping = True      # ends "hang" faults
        deadline = time.monotonic() + 0.2
        while self.server_state.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for connection in list(self.server_state.connections):
            transport = getattr(connection, 'transport', None)
            if transport is not None:
                transport.abort()
        await super()._wait_tasks_to_complete()


class EmulatorServer:
    """The emulator on a loopback port, in this process.

    ``with EmulatorServer(tls=True) as server: requests.get(server.url + '/_emulator/health', verify=server.ca_path)``

    ``state_dir`` defaults to a temporary directory removed on stop. ``settings`` overrides individual settings
    (see :class:`~microsoft_emulator.state.Settings`). ``api_modules`` are served in addition to the built-in ones.
    """

    def __init__(self, *, host: str = '127.0.0.1', port: int = 0, tls: bool = False,
                 seed: str | Path | dict[str, Any] | None = None, state_dir: str | Path | None = None,
                 auto_approve: bool = False, rate_limits: bool = False,
                 api_modules: Sequence[ApiModule] = (), include_builtin_modules: bool = True,
                 settings: dict[str, Any] | None = None):
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix='microsoft-emulator-')
            state_dir = self._tmp.name
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        overrides = dict(settings or {})
        if auto_approve:
            overrides['auto_approve'] = True
        if rate_limits:
            overrides['rate_limits'] = True
        seed_data = resolve_seed(seed, self.state_dir)
        self.state = EmulatorState(seed_data, self.state_dir, settings=overrides)
        if seed is not None:   # only a seed that loaded is remembered
            remember_seed(seed_data, self.state_dir)
        self.tokens = TokenService(self.state)
        modules = [*(builtin_modules() if include_builtin_modules else []), *api_modules]
        self.ca_path: Path | None = None
        self._server_pem: Path | None = None
        if tls:
            names: tuple[str, ...] = ('127.0.0.1', 'localhost', '::1')
            if host not in ('0.0.0.0', '::', '', *names):  # noqa: S104
                names = (host, *names)
            self.ca_path, self._server_pem = tls_material(self.state_dir / 'tls', names)
        self.context = EmulatorContext(state=self.state, tokens=self.tokens, modules=modules, ca_path=self.ca_path,
                                       stores=StoreRegistry(self.state_dir / 'stores'))
        self.app = create_app(self.context)
        self.host = host
        self._sock = bind_socket(host, port)
        self.port: int = self._sock.getsockname()[1]
        if host in ('0.0.0.0', ''):  # noqa: S104
            url_host = '127.0.0.1'
        elif host == '::':
            url_host = '[::1]'
        else:
            url_host = f'[{host}]' if ':' in host else host
        self.url = f"{'https' if tls else 'http'}://{url_host}:{self.port}"
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # ----- conveniences for tests -------------------------------------------------------------------------------
    @property
    def faults(self) -> FaultRegistry:
        return self.context.faults

    @property
    def log(self) -> RequestLog:
        return self.context.log

    def add_fault(self, **spec: Any) -> str:
        """Queue a fault (same fields as ``POST /_emulator/faults``); returns its ID."""
        return self.context.faults.add(parse_fault(spec)).id

    def requests(self, **filters: str) -> list[dict[str, Any]]:
        return self.context.log.entries(**filters)

    def reset(self) -> None:
        self.context.reset()

    # ----- serving ----------------------------------------------------------------------------------------------
    def uvicorn_config(self, log_level: str = 'error', log_config: Any = None) -> uvicorn.Config:
        return uvicorn.Config(
            self.app, log_level=log_level, log_config=log_config, access_log=False, lifespan='off', http='h11',
            ws='none', proxy_headers=False, server_header=False, timeout_graceful_shutdown=2,
            timeout_keep_alive=30,
            ssl_certfile=str(self._server_pem) if self._server_pem else None,
            ssl_keyfile=str(self._server_pem) if self._server_pem else None)

    def start(self, timeout: float = 15.0) -> EmulatorServer:
        if self._thread is not None:
            return self
        if self._sock.fileno() == -1:
            raise RuntimeError('this EmulatorServer was stopped; create a new one (same state_dir to keep state)')
        self._uvicorn = _Uvicorn(self.uvicorn_config(), self.app)
        server = self._uvicorn
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(server),),
                                        name=f'microsoft-emulator:{self.port}', daemon=True)
        self._thread.start()
        self._thread.join(0)
        waited = 0.0
        while not server.started:
            if not self._thread.is_alive():
                raise RuntimeError('the emulator failed to start')
            if waited > timeout:
                raise RuntimeError(f'the emulator did not start within {timeout} s')
            threading.Event().wait(0.02)
            waited += 0.02
        return self

    async def _serve(self, server: uvicorn.Server) -> None:
        await server.serve(sockets=[self._sock])

    def serve_forever(self, log_level: str = 'warning') -> None:
        """Serve in the calling thread until uvicorn is told to exit (SIGINT/SIGTERM in the main thread)."""
        from uvicorn.config import LOGGING_CONFIG

        self._uvicorn = _Uvicorn(self.uvicorn_config(log_level=log_level, log_config=LOGGING_CONFIG), self.app)
        try:
            asyncio.run(self._serve(self._uvicorn))
        finally:
            self._cleanup()

    def save_stores(self) -> None:
        """Keep the products' data (incidents, machines...) for the next start on this state directory; done when
        the server stops. A temporary state directory is removed instead."""
        try:
            self.context.stores.save()
        except (OSError, TypeError, AttributeError, pickle.PicklingError) as exc:
            logging.getLogger(__name__).warning('could not save the product stores: %s', exc)

    def stop(self) -> None:
        self.app.stopping = True
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
            if self._thread.is_alive():
                # Still shutting down (a daemon thread; it ends with the process). Closing the listening socket
                # under it would make uvicorn fail, so leave the socket and the state directory alone.
                return
            self._thread = None
        self._cleanup()

    def _cleanup(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass
        if self._tmp is None:
            self.save_stores()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
