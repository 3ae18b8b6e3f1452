"""Product API modules and the shared bearer-token verifier.

A product API (Defender XDR, Graph security, Defender for Endpoint, Threat Intelligence) is an :class:`ApiModule`:
its logical host, the resources whose tokens it accepts, its rate limits, and its routes, each with the
permissions it needs (any one of them, as an application role or a delegated scope)::

    module = ApiModule('defender_endpoint', host='mde', audiences=('mde',),
                       rate_limits=[RateLimitRule('mde-minute', 100, 60), RateLimitRule('mde-hour', 1500, 3600)])

    @module.route('/api/machines/{machine_id}/isolate', methods=['POST'],
                  permissions=['Machine.Isolate'])
    async def isolate(request, principal):
        ...
        return JSONResponse(...)

Handlers run only after the verifier accepted the token (401 ``invalid_token`` otherwise) and found one of the
permissions (403 ``Forbidden`` otherwise). Add the module to ``products.builtin_modules()`` (or pass it to
``EmulatorServer(api_modules=[...])``). Handlers that need the token check by hand call :func:`require_token`.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..context import EmuRoute, emulator_context
from ..errors import api_error_body
from ..ratelimits import RateLimitRule
from ..requestlog import annotate
from ..tokens import Principal, TokenError

Handler = Callable[[Request, Principal], Awaitable[Response]]


class AuthFailure(Exception):
    """The verifier's 401/403, carrying the response to send."""

    def __init__(self, response: Response):
        super().__init__(response.status_code)
        self.response = response


@dataclass
class ApiRoute:
    path: str
    handler: Handler
    methods: tuple[str, ...]
    permissions: tuple[str, ...]
    audiences: tuple[str, ...] | None = None   # None: the module's


class ApiModule:
    def __init__(self, name: str, *, host: str, audiences: Sequence[str], rate_limits: Sequence[RateLimitRule] = (),
                 prefixes: Sequence[str] = ('',), error_style: str = 'defender'):
        """``audiences``: resource keys (``graph``, ``m365d``, ``mde``) or identifiers whose tokens are accepted.
        ``prefixes``: where the routes are mounted (``''`` = at the paths as given; add e.g. ``'/mde'`` to also
        serve them under a prefix). ``error_style``: ``graph`` or ``defender`` (401 error codes differ)."""
        self.name = name
        self.host = host
        self.audiences = tuple(audiences)
        self.rate_limits = list(rate_limits)
        self.prefixes = tuple(prefixes)
        self.error_style = error_style
        self.routes: list[ApiRoute] = []
        self.mounted: list[Callable[[], list[EmuRoute]]] = []

    def route(self, path: str, *, methods: Sequence[str] = ('GET',), permissions: Sequence[str] = (),
              audiences: Sequence[str] | None = None) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add_route(path, handler, methods=methods, permissions=permissions, audiences=audiences)
            return handler
        return register

    def add_route(self, path: str, handler: Handler, *, methods: Sequence[str] = ('GET',),
                  permissions: Sequence[str] = (), audiences: Sequence[str] | None = None) -> None:
        self.routes.append(ApiRoute(path=path, handler=handler, methods=tuple(m.upper() for m in methods),
                                    permissions=tuple(permissions),
                                    audiences=tuple(audiences) if audiences is not None else None))

    def mount(self, routes: Callable[[], list[EmuRoute]]) -> None:
        """Serve ``routes()`` (a product's admin endpoints: no token, mounted as given) with this module. Mounting the
        same function again is a no-op, so a product's ``modules()`` may run once per server."""
        if routes not in self.mounted:
            self.mounted.append(routes)

    def starlette_routes(self) -> list[EmuRoute]:
        out = []
        for prefix in self.prefixes:
            for api_route in self.routes:
                out.append(EmuRoute(prefix.rstrip('/') + api_route.path, self._endpoint(api_route), host=self.host,
                                    methods=list(api_route.methods), module=self))
        for routes in self.mounted:
            out.extend(routes())
        return out

    def _endpoint(self, api_route: ApiRoute) -> Callable[[Request], Awaitable[Response]]:
        audiences = api_route.audiences if api_route.audiences is not None else self.audiences

        async def endpoint(request: Request) -> Response:
            try:
                principal = require_token(request, audiences=audiences, permissions=api_route.permissions,
                                          error_style=self.error_style)
            except AuthFailure as failure:
                return failure.response
            return await api_route.handler(request, principal)
        endpoint.__name__ = f'{self.name}:{api_route.path}'
        return endpoint


def _unauthorized(description: str, style: str, code: str = 'invalid_token') -> AuthFailure:
    header = f'Bearer error="{code}", error_description="{description}"' if code else 'Bearer realm=""'
    api_code = 'InvalidAuthenticationToken' if style == 'graph' else 'Unauthorized'
    annotate(error=api_code)
    return AuthFailure(JSONResponse(api_error_body(api_code, description), status_code=401,
                                    headers={'WWW-Authenticate': header}))


def require_token(request: Request, *, audiences: Sequence[str], permissions: Sequence[str] = (),
                  error_style: str = 'defender') -> Principal:
    """The shared verifier: signature, lifetime, issuer, audience (any identifier of an accepted resource; an
    empty ``audiences`` accepts every known resource) and one of ``permissions`` (roles or scp; none = any valid
    token). Returns the :class:`Principal` or raises :class:`AuthFailure`."""
    ctx = emulator_context(request)
    header = request.headers.get('authorization', '')
    scheme, _, token = header.partition(' ')
    if scheme.lower() != 'bearer' or not token.strip():
        raise _unauthorized('Access token is empty or missing.', error_style, code='')
    try:
        claims = ctx.tokens.verify(token.strip())
    except TokenError as exc:
        raise _unauthorized(str(exc), error_style) from exc
    annotate(client_id=claims.get('appid'), tenant_id=claims.get('tid'))
    resource = ctx.state.catalog.find(str(claims.get('aud', '')))
    accepted = [ctx.state.catalog.find(a) for a in audiences]
    if resource is None or (audiences and resource not in accepted):
        raise _unauthorized(f"Invalid audience '{claims.get('aud')}' for this API.", error_style)
    roles = frozenset(claims.get('roles') or [])
    scopes = frozenset(str(claims.get('scp') or '').split())
    principal = Principal(claims=claims, resource=resource, roles=roles, scopes=scopes)
    if permissions and not principal.has_any(tuple(permissions)):
        needed = ', '.join(permissions)
        if principal.is_app_only:
            message = (f'Missing application roles. API required roles: {needed}. '
                       f"Application roles: {', '.join(sorted(roles)) or 'none'}.")
        else:
            message = (f"Missing scope permissions on the request. API requires one of '{needed}'. "
                       f"Scopes on the request '{' '.join(sorted(scopes))}'.")
        annotate(error='Forbidden')
        raise AuthFailure(JSONResponse(api_error_body('Forbidden', message), status_code=403))
    return principal
