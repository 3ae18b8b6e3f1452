"""MicrosoftApiModule: Microsoft Entra ID authentication and a careful HTTP client for the Microsoft integrations.

Integrations star-import this module just above their ``if __name__ in (...)`` guard; ``demisto-sdk
prepare-content`` inlines it, so it stays one file. The layout follows azure-identity: every sign-in flow is a
small credential class answering ``acquire(scope, ...)``, a separate token cache (``TokenCache``) keeps tokens
in the integration context under one namespaced key, and ``TokenProvider`` decides when to reuse, refresh or
re-acquire. ``MicrosoftClient`` adds bearer tokens, retries and readable Microsoft errors to BaseClient.

Sections: constants, clouds, errors, token cache, transport, credentials (one class per flow), settings and
factory, HTTP client, request helpers, auth commands.
"""
import base64
import binascii
import email.utils
import hashlib
import hmac
import json
import os
import re
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from typing import Any

import demistomock as demisto
import idna
import requests
from CommonServerPython import *  # noqa: F401

# ============================================================================================================
# Constants
# ============================================================================================================

AUTH_CACHE_KEY = 'microsoft_auth'          # the one integration-context key this module owns
DEFAULT_PROXY_URL = 'https://oproxy.demisto.ninja'
DEFAULT_REDIRECT_URI = 'https://localhost/myapp'
SYSTEM_ASSIGNED = 'SYSTEM_ASSIGNED'        # managed identity without a client ID
MANAGED_IDENTITIES_AUTH_TYPE = 'Azure Managed Identities'
DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
IMDS_TOKEN_URL = 'http://169.254.169.254/metadata/identity/oauth2/token'  # noqa: S105 - a URL, not a secret
IMDS_API_VERSION = '2018-02-01'
APP_SERVICE_API_VERSION = '2019-08-01'

MAX_TOKENS_AFTER_401 = 3          # a 401 retries with a new token; another process may have cached one also revoked
REFRESH_MARGIN_SECONDS = 300       # refresh access tokens when less than 5 minutes remain (as msal/azure-identity)
DEFAULT_TOKEN_LIFETIME = 600       # used when a token response carries no lifetime (msal does the same)
ASSERTION_LIFETIME = 600           # client assertions are valid for 10 minutes
TOKEN_TIMEOUT = 30.0               # seconds; every token request has a timeout
MANAGED_IDENTITY_TIMEOUT = (2.0, 10.0)   # (connect, read): IMDS is local, a silent one means "not on Azure"
CACHE_WRITE_ATTEMPTS = 6


class AuthFlow:
    """Names of the supported sign-in flows (also the first part of every cache entry key)."""
    OPROXY = 'oproxy'
    CLIENT_SECRET = 'client_credentials'  # noqa: S105 - a flow name
    CERTIFICATE = 'certificate'
    WORKLOAD_IDENTITY = 'workload_identity'
    AUTHORIZATION_CODE = 'authorization_code'
    DEVICE_CODE = 'device_code'
    MANAGED_IDENTITY = 'managed_identity'


def _now() -> float:
    """Current epoch seconds; one place so tests can freeze time."""
    return time.time()


def _register_secret(*values: Any) -> None:
    """Tell CSP's LOG to mask these values from now on (tokens, keys, secrets, codes)."""
    for value in values:
        if value and isinstance(value, str) and len(value) >= 6:
            add_sensitive_log_strs(value)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


# ============================================================================================================
# Clouds: one row per cloud, every host and token resource the three integrations need
# ============================================================================================================
#
# Sources (Microsoft's own tables):
# - Entra login and Graph hosts: https://learn.microsoft.com/graph/deployments and
#   https://learn.microsoft.com/graph/sdks/national-clouds (".default" scopes must use the sovereign Graph host).
# - Defender for Endpoint, US Government: https://learn.microsoft.com/defender-endpoint/gov ("API" table:
#   GCC login.microsoftonline.com + api-gcc.securitycenter.microsoft.us; GCC High & DoD login.microsoftonline.us
#   + api-gov.securitycenter.microsoft.us).
# - Defender XDR, US Government: https://learn.microsoft.com/defender-xdr/usgov (GCC api-gcc.security.microsoft.us,
#   GCC High & DoD api-gov.security.microsoft.us, same login split).
# - Defender XDR token audience and geo hosts: https://learn.microsoft.com/defender-xdr/api-supported ("tokens can be
#   acquired by accessing https://api.security.microsoft.com"; api-us/api-eu/api-uk).
# - Defender for Endpoint token audience: https://learn.microsoft.com/defender-endpoint/api/exposed-apis-create-app-webapp
#   (scope https://api.securitycenter.microsoft.com/.default; the same app also answers to
#   https://securitycenter.onmicrosoft.com/windowsatpservice).
# GCC tenants live in the commercial Entra directory, so they keep the commercial token audiences; GCC High and DoD
# tenants live in the Azure Government directory, where the .us "windowsatpservice" identifier does not exist
# ("resource principal not found"), so the gov API hosts are used as audiences. Every value can be overridden.
# MDTI is offered in the global cloud only (Graph threatIntelligence national-cloud tables). Defender XDR/MDE APIs
# are not documented for the China cloud.

PRODUCT_LABELS = {'graph': 'Microsoft Graph', 'xdr': 'Microsoft Defender XDR', 'mde': 'Microsoft Defender for Endpoint'}


@dataclass(frozen=True)
class MicrosoftCloud:
    """Endpoints of one Microsoft cloud. ``None`` means the product is not offered there."""
    name: str
    login_url: str
    graph_url: str
    graph_resource: str
    xdr_url: str | None
    xdr_resource: str | None
    mde_url: str | None
    mde_resource: str | None
    mdti_available: bool

    def token_url(self, tenant: str) -> str:
        return f'{self.login_url}/{tenant}/oauth2/v2.0/token'

    def authorize_url(self, tenant: str) -> str:
        return f'{self.login_url}/{tenant}/oauth2/v2.0/authorize'

    def devicecode_url(self, tenant: str) -> str:
        return f'{self.login_url}/{tenant}/oauth2/v2.0/devicecode'

    def api_url(self, product: str) -> str:
        """Base URL of ``product`` ('graph', 'xdr' or 'mde') in this cloud, or a clear error."""
        return self._value(product, 'url')

    def resource(self, product: str) -> str:
        """Token audience (v1 "resource") of ``product`` in this cloud."""
        return self._value(product, 'resource')

    def scope(self, product: str) -> str:
        """The app-only ``.default`` scope of ``product``."""
        return f'{self.resource(product)}/.default'

    def require_mdti(self) -> None:
        """MDTI exists only in the worldwide cloud; fail early with a useful message elsewhere."""
        if not self.mdti_available:
            raise UnsupportedCloudError(f'Microsoft Defender Threat Intelligence is not available in the {self.name} '
                                        'cloud: Microsoft offers it in the worldwide cloud only.')

    def _value(self, product: str, kind: str) -> str:
        if product not in PRODUCT_LABELS:
            raise ValueError(f'Unknown Microsoft product "{product}". Use one of: {", ".join(PRODUCT_LABELS)}.')
        value = getattr(self, f'{product}_{kind}')
        if not value:
            raise UnsupportedCloudError(f'{PRODUCT_LABELS[product]} is not available in the {self.name} cloud. '
                                        'Select another cloud, or Custom and enter the endpoint yourself.')
        return value


WORLDWIDE = MicrosoftCloud(
    name='Worldwide', login_url='https://login.microsoftonline.com',
    graph_url='https://graph.microsoft.com', graph_resource='https://graph.microsoft.com',
    xdr_url='https://api.security.microsoft.com', xdr_resource='https://api.security.microsoft.com',
    mde_url='https://api.securitycenter.microsoft.com', mde_resource='https://api.securitycenter.microsoft.com',
    mdti_available=True)

CLOUDS: dict[str, MicrosoftCloud] = {
    'Worldwide': WORLDWIDE,
    'US GCC': replace(
        WORLDWIDE, name='US GCC', xdr_url='https://api-gcc.security.microsoft.us',
        mde_url='https://api-gcc.securitycenter.microsoft.us', mdti_available=False),
    'US GCC-High': MicrosoftCloud(
        name='US GCC-High', login_url='https://login.microsoftonline.us',
        graph_url='https://graph.microsoft.us', graph_resource='https://graph.microsoft.us',
        xdr_url='https://api-gov.security.microsoft.us', xdr_resource='https://api-gov.security.microsoft.us',
        mde_url='https://api-gov.securitycenter.microsoft.us', mde_resource='https://api-gov.securitycenter.microsoft.us',
        mdti_available=False),
    'DoD': MicrosoftCloud(
        name='DoD', login_url='https://login.microsoftonline.us',
        graph_url='https://dod-graph.microsoft.us', graph_resource='https://dod-graph.microsoft.us',
        xdr_url='https://api-gov.security.microsoft.us', xdr_resource='https://api-gov.security.microsoft.us',
        mde_url='https://api-gov.securitycenter.microsoft.us', mde_resource='https://api-gov.securitycenter.microsoft.us',
        mdti_available=False),
    'China': MicrosoftCloud(
        name='China', login_url='https://login.chinacloudapi.cn',
        graph_url='https://microsoftgraph.chinacloudapi.cn', graph_resource='https://microsoftgraph.chinacloudapi.cn',
        xdr_url=None, xdr_resource=None, mde_url=None, mde_resource=None, mdti_available=False),
    'Custom': replace(WORLDWIDE, name='Custom'),
}

# Defender for Endpoint "Endpoint Type" values that select a worldwide data-location host.
MDE_GEO_URLS = {
    'US Geo Proximity': 'https://api-us.securitycenter.microsoft.com',
    'EU Geo Proximity': 'https://api-eu.securitycenter.microsoft.com',
    'UK Geo Proximity': 'https://api-uk.securitycenter.microsoft.com',
}
# The Defender for Endpoint API base Microsoft Learn now documents (exposed-apis-list, read 2026-12-06): the service
# base https://api.security.microsoft.com and its geo hosts, named by their host. api.securitycenter.microsoft.com
# stays documented too (and stays the default). Tokens keep the WindowsDefenderATP audience
# https://api.securitycenter.microsoft.com: Learn says some APIs answer 403 to tokens issued for any other, whichever
# host serves them (run-advanced-query-sample-python, "Get token").
MDE_SECURITY_HOSTS = ('api.security.microsoft.com', 'us.api.security.microsoft.com', 'eu.api.security.microsoft.com',
                      'uk.api.security.microsoft.com', 'au.api.security.microsoft.com',
                      'swa.api.security.microsoft.com', 'ina.api.security.microsoft.com',
                      'aea.api.security.microsoft.com')
MDE_GEO_URLS.update({host: f'https://{host}' for host in MDE_SECURITY_HOSTS})
XDR_GEO_URLS = {
    'US': 'https://api-us.security.microsoft.com',
    'EU': 'https://api-eu.security.microsoft.com',
    'UK': 'https://api-uk.security.microsoft.com',
}
CLOUD_ALIASES = {
    '': 'Worldwide', 'com': 'Worldwide', 'global': 'Worldwide', 'worldwide': 'Worldwide',
    'gcc': 'US GCC', 'us gcc': 'US GCC', 'gcc-high': 'US GCC-High', 'us gcc-high': 'US GCC-High',
    'dod': 'DoD', 'cn': 'China', 'china': 'China', 'custom': 'Custom',
}
CLOUD_OVERRIDES = ('login_url', 'graph_url', 'graph_resource', 'xdr_url', 'xdr_resource', 'mde_url', 'mde_resource',
                   'mdti_available')


def url_param(params: Mapping[str, Any], name: str, display: str, example: str) -> str:
    """An instance URL parameter, checked before anything is sent: empty gives '', anything but an http(s) URL with
    a host name is an error naming the parameter and what it takes (requests would otherwise fail later with
    ``InvalidSchema``, or a token request with "Could not reach  ..." for a URL without a host). Microsoft's hosts
    are all https; plain http stays accepted, as the official integrations accept it, for a gateway of one's own."""
    value = str(params.get(name) or '').strip().rstrip('/')
    if not value:
        return ''
    parts = urllib.parse.urlsplit(value)
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        host = None
    if parts.username or parts.password:      # not echoed: the URL holds a password
        raise ValueError(f'Invalid "{display}" parameter ({name}): it holds a user name or password. Provide an '
                         f'https:// URL with a host name and no credentials, for example {example}.')
    if parts.scheme.lower() not in ('https', 'http') or not host:
        raise ValueError(f'Invalid "{display}" parameter ({name}): "{value}". Provide an https:// URL with a host '
                         f'name, for example {example}.')
    return value


def get_cloud(name: str | None = 'Worldwide', **overrides: Any) -> MicrosoftCloud:
    """The cloud called ``name`` (a cloud, an alias such as 'gcc', or an MDE geo endpoint type), with overrides.

    Overrides are the field names of MicrosoftCloud; empty values are ignored, so integrations can pass their
    optional URL parameters straight through. Custom starts from the worldwide values.
    """
    key = (name or '').strip()
    if key in MDE_GEO_URLS:
        cloud = replace(WORLDWIDE, mde_url=MDE_GEO_URLS[key])
    else:
        canonical = CLOUD_ALIASES.get(key.lower(), key)
        if canonical not in CLOUDS:
            valid = ', '.join([*CLOUDS, *MDE_GEO_URLS])
            raise ValueError(f'Unknown Microsoft cloud "{name}". Valid values: {valid}.')
        cloud = CLOUDS[canonical]
    unknown = set(overrides) - set(CLOUD_OVERRIDES)
    if unknown:
        raise ValueError(f'Unknown cloud override(s): {", ".join(sorted(unknown))}.')
    changes: dict[str, Any] = {k: (v.strip().rstrip('/') if isinstance(v, str) else v) for k, v in overrides.items()
                               if v not in (None, '')}
    return replace(cloud, **changes) if changes else cloud


# ============================================================================================================
# Errors
# ============================================================================================================

class MicrosoftAuthError(DemistoException):
    """A token could not be obtained. ``error``/``codes`` carry Entra's error and AADSTS codes when known."""

    def __init__(self, message: str, error: str = '', codes: list[int] | None = None, status: int | None = None,
                 res: Any = None) -> None:
        super().__init__(message, res=res)
        self.error = error
        self.codes = codes or []
        self.status = status


class NotFoundError(DemistoException):
    """HTTP 404 from a Microsoft API (integrations catch it to report "not found" politely)."""

    def __init__(self, message: Any = 'Not Found - 404 Response', res: Any = None) -> None:
        super().__init__(message, res=res)


class RetryAfterError(DemistoException):
    """Microsoft asked us to wait longer than is reasonable in-process; ``retry_after`` is in seconds."""

    def __init__(self, retry_after: float, status: int, res: Any = None) -> None:
        self.retry_after = max(0, int(retry_after + 0.999))
        when = datetime.fromtimestamp(_now() + self.retry_after, UTC).strftime('%Y-%m-%d %H:%M:%S UTC')
        reason = 'throttled the request' if status == 429 else 'is temporarily unavailable'
        super().__init__(f'Microsoft {reason} (HTTP {status}). Retry in {self.retry_after} seconds (after {when}).',
                         res=res)
        self.status = status


class UnsupportedCloudError(DemistoException):
    """The selected cloud does not offer the requested product."""


class UnexpectedResponseError(DemistoException):
    """A response whose fields have types the integration does not read (a list where an object belongs...)."""


@contextmanager
def response_shape_guard() -> Iterator[None]:
    """Reading a field of an unexpected type fails deep inside a context builder with Python's own wording; this
    turns it into one error that says what happened and what to do, and keeps the Python detail for the debug log."""
    try:
        yield
    except (AttributeError, TypeError, KeyError, IndexError) as error:
        demisto.debug(f'Unexpected response shape: {type(error).__name__}: {error}')
        raise UnexpectedResponseError(
            'Microsoft answered with fields of types this integration does not read (or the integration has a bug). '
            'Retry the command; if it fails again, run it with debug-mode=true and report the log.') from error


# AADSTS codes whose remedy we can name. {prefix} is the integration's command prefix.
_RESET_HINT = 'Run !{prefix}-auth-reset, then authenticate again.'
AADSTS_HINTS: dict[int, str] = {
    70008: 'The refresh token or authorization code has expired or was already used. ' + _RESET_HINT,
    700082: 'The refresh token expired after 90 days without use. ' + _RESET_HINT,
    50173: 'The grant was revoked (for example after a password change). ' + _RESET_HINT,
    54005: 'The authorization code was already redeemed. ' + _RESET_HINT,
    7000222: 'The client secret has expired: create a new secret in the app registration, update the instance, '
             'then ' + _RESET_HINT[0].lower() + _RESET_HINT[1:],
    7000215: 'Check the client secret: enter the secret Value (not the Secret ID) of the app registration.',
    700016: 'Check the application (client) ID and the tenant ID: the app must exist, or be consented, in that tenant.',
    90002: 'Check the tenant ID (and that the selected cloud matches the tenant).',
    65001: 'Grant admin consent for the permissions the integration requires{named} in the app registration.',
    500011: 'Check the cloud/endpoint selection: the API is not provisioned in that tenant for the selected cloud.',
    700027: 'Check the certificate thumbprint and private key: the certificate must be uploaded to the app '
            'registration and the key must belong to it.',
}
_TRACE_LINE = re.compile(r'\s*(Trace ID|Correlation ID|Timestamp):.*$', re.IGNORECASE | re.MULTILINE)


def _hint(codes: list[int], description: str, prefix: str) -> str:
    for code in codes:
        if code in AADSTS_HINTS:
            named = re.search(r"named '([^']+)'", description)
            text = AADSTS_HINTS[code].format(prefix=prefix or '<prefix>',
                                             named=f" (application '{named.group(1)}')" if named else '')
            return text
    return ''


def format_microsoft_error(body: Any, prefix: str = '') -> str:
    """One readable line (plus a remedy when we know one) from any Microsoft error body.

    Graph/ARM/Defender: ``{"error": {"code", "message"}}`` becomes "code: message". Entra:
    ``{"error", "error_description", "error_codes"}`` becomes the AADSTS description (trace lines dropped) and a
    remedy for the codes in AADSTS_HINTS. Anything else is returned as (truncated) text.
    """
    if isinstance(body, (bytes, str)):
        text = body.decode('utf-8', 'replace') if isinstance(body, bytes) else body
        try:
            body = json.loads(text)
        except ValueError:
            return text.strip()[:500]
    if not isinstance(body, dict):
        return str(body)[:500]
    error = body.get('error')
    if isinstance(error, dict):
        code, message = error.get('code') or '', error.get('message') or ''
        return f'{code}: {message}' if code and message else str(code or message or error)[:500]
    if isinstance(error, str):
        description = _TRACE_LINE.sub('', str(body.get('error_description') or '')).strip()
        codes = [int(c) for c in body.get('error_codes') or [] if str(c).isdigit()]
        if not codes:
            codes = [int(c) for c in re.findall(r'AADSTS(\d+)', description)]
        message = f'{error}: {description}' if description else error
        hint = _hint(codes, description, prefix)
        return f'{message}\n{hint}' if hint else message
    if body.get('message'):
        return str(body['message'])[:500]
    return json.dumps(body)[:500]


def _response_error(res: requests.Response, prefix: str = '') -> str:
    try:
        return format_microsoft_error(res.json(), prefix)
    except ValueError:
        return format_microsoft_error(res.text, prefix)


# ============================================================================================================
# Token cache: one namespaced key in the integration context, versioned writes
# ============================================================================================================

def _needs_refresh(token: Mapping[str, Any] | None, now: float | None = None) -> bool:
    """True when an access token is missing or close to expiry.

    Refresh when less than 5 minutes remain; a token living less than 10 minutes is refreshed at half-life so that
    short-lived tokens are still reused.
    """
    if not token or not token.get('access_token'):
        return True
    now = _now() if now is None else now
    expires_at = float(token.get('expires_at') or 0)
    lifetime = expires_at - float(token.get('issued_at') or expires_at)
    margin = REFRESH_MARGIN_SECONDS if lifetime >= 2 * REFRESH_MARGIN_SECONDS else lifetime / 2
    return expires_at - now <= margin


class TokenCache:
    """Token and flow state stored under ONE integration-context key, merged on every write.

    Shape: ``{AUTH_CACHE_KEY: {'accounts': {account_key: account}}}`` where an account is one flow + client +
    tenant: ``{'refresh_token'?, 'tokens': {scope: {'access_token', 'expires_at', 'issued_at'}}, ...flow state}``.
    Writes re-read the context, apply a merge function to this account only, and retry on version conflicts, so
    the integration's own keys and concurrent executions' updates are never overwritten.
    """

    def __init__(self, key: str = AUTH_CACHE_KEY, attempts: int = CACHE_WRITE_ATTEMPTS) -> None:
        self.key = key
        self.attempts = attempts

    def read(self, account_key: str) -> dict[str, Any]:
        """The stored account (a copy; empty when none)."""
        namespace = get_integration_context().get(self.key) or {}
        account = (namespace.get('accounts') or {}).get(account_key) or {}
        return json.loads(json.dumps(account))

    def update(self, account_key: str, merge: Callable[[dict[str, Any]], dict[str, Any] | None],
               attempts: int | None = None) -> dict[str, Any] | None:
        """Apply ``merge`` to the freshest copy of one account and store it; ``None`` deletes the account.
        ``attempts`` raises the bound on version conflicts for writes that must not be lost (a rotated token)."""
        attempts = attempts or self.attempts
        for attempt in range(1, attempts + 1):
            context, version = get_integration_context_with_version()
            namespace = dict(context.get(self.key) or {})
            accounts = dict(namespace.get('accounts') or {})
            merged = merge(json.loads(json.dumps(accounts.get(account_key) or {})))
            if merged is None:
                accounts.pop(account_key, None)
            else:
                accounts[account_key] = merged
            namespace['accounts'] = accounts
            context[self.key] = namespace
            try:
                set_integration_context(context, version=version)
                return merged
            except ValueError:
                demisto.debug(f'MicrosoftApiModule: integration context changed while saving tokens '
                              f'(attempt {attempt}/{attempts}); merging again.')
                time.sleep(min(0.05 * attempt, 0.5) + secrets.randbelow(50) / 1000)
        demisto.debug('MicrosoftApiModule: could not save the token cache after several version conflicts.')
        return None

    def clear(self) -> None:
        """Remove this module's key only (auth-reset)."""
        for attempt in range(1, self.attempts + 1):
            context, version = get_integration_context_with_version()
            if self.key not in context:
                return
            context.pop(self.key, None)
            try:
                set_integration_context(context, version=version)
                return
            except ValueError:
                time.sleep(0.05 * attempt)
        raise DemistoException('Could not reset the authorization: the integration context kept changing. Try again.')


# ============================================================================================================
# Transport for token requests: a timeout on every call, bounded retries where safe, no secrets in errors
# ============================================================================================================

@dataclass
class TokenResult:
    """What a credential obtained. ``new_grant`` marks a fresh sign-in, whose refresh token replaces any cached one."""
    access_token: str
    expires_in: float
    refresh_token: str | None = None
    new_grant: bool = False
    account_updates: dict[str, Any] = field(default_factory=dict)
    account_removals: tuple[str, ...] = ()


def _token_result(body: Mapping[str, Any], **extra: Any) -> TokenResult:
    """Parse an Entra/IMDS/App Service/oproxy token body (numbers may be strings; App Service sends expires_on)."""
    access_token = body.get('access_token')
    if not access_token or not isinstance(access_token, str):
        raise MicrosoftAuthError('The token response did not contain an access token.')
    if body.get('expires_in') not in (None, ''):
        expires_in = float(body['expires_in'])
    elif body.get('expires_on') not in (None, ''):
        expires_in = float(body['expires_on']) - _now()
    else:
        expires_in = DEFAULT_TOKEN_LIFETIME
    refresh_token = body.get('refresh_token') or None
    _register_secret(access_token, refresh_token, body.get('id_token'))
    return TokenResult(access_token=access_token, expires_in=expires_in, refresh_token=refresh_token, **extra)


class TokenTransport:
    """HTTP for token endpoints: every call has a timeout; retries only where a repeat cannot consume a grant."""

    RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

    def __init__(self, verify: bool = True, timeout: Any = TOKEN_TIMEOUT, session: requests.Session | None = None,
                 attempts: int = 3, command_prefix: str = '') -> None:
        self.verify = verify
        self.timeout = timeout
        self.session = session or requests.Session()
        self.attempts = attempts
        self.command_prefix = command_prefix
        # The instance's tenant and client IDs, by what to call them instead: Entra names them in its errors, and an
        # error's text reaches places no log masking covers (the traceback debug mode adds to the error entry).
        self.identifiers: dict[str, str] = {}

    def scrub(self, text: str) -> str:
        """``text`` with the instance's tenant and client IDs replaced by their names."""
        for value, label in sorted(self.identifiers.items(), key=lambda item: -len(item[0])):
            text = re.sub(re.escape(value), f'<{label}>', text, flags=re.IGNORECASE)
        return text

    def request(self, method: str, url: str, *, retry_statuses: frozenset[int] = frozenset(), idempotent: bool = False,
                timeout: Any = None, attempts: int | None = None, **kwargs: Any) -> requests.Response:
        """Send with bounded retries on ``retry_statuses`` and on connection failures (any failure when the request is
        ``idempotent``, otherwise only when nothing was sent); return the last response."""
        total = attempts or self.attempts
        for attempt in range(1, total + 1):
            try:
                res = self.session.request(method, url, verify=self.verify, timeout=timeout or self.timeout, **kwargs)
            except requests.exceptions.RequestException as exc:
                if attempt == total or not _is_transient(exc, idempotent or method in ('GET', 'HEAD')):
                    raise MicrosoftAuthError(_unreachable_message(url, exc, attempt, 'to obtain a token')) from None
                time.sleep(_backoff(attempt))
                continue
            if res.status_code in retry_statuses and attempt < total:
                time.sleep(min(_retry_after_seconds(res) or _backoff(attempt), 10.0))
                continue
            return res
        raise AssertionError('unreachable')  # pragma: no cover

    def post_form(self, url: str, data: dict[str, Any], *, rotating: bool = False, label: str = '') -> TokenResult:
        """POST an OAuth form and parse the answer. ``rotating`` grants are not retried on 5xx (they may be spent)."""
        statuses = {429, 503} if rotating else set(self.RETRY_STATUSES)
        res = self.request('POST', url, data={k: v for k, v in data.items() if v not in (None, '')},
                           headers={'Accept': 'application/json'}, retry_statuses=frozenset(statuses),
                           idempotent=not rotating)
        return self.parse(res, label)

    def parse(self, res: requests.Response, label: str = '') -> TokenResult:
        if res.status_code >= 400:
            raise self.error(res, label)
        try:
            body = res.json()
        except ValueError:
            raise MicrosoftAuthError(f'Microsoft authorization{label} returned a non-JSON answer '
                                     f'(HTTP {res.status_code}).') from None
        return _token_result(body)

    def error(self, res: requests.Response, label: str = '') -> MicrosoftAuthError:
        """A MicrosoftAuthError carrying Entra's error name and AADSTS codes, with a remedy in the message."""
        try:
            body = res.json()
        except ValueError:
            body = {}
        error = str(body.get('error') or '') if isinstance(body, dict) and isinstance(body.get('error'), str) else ''
        codes = [int(c) for c in (body.get('error_codes') or []) if str(c).isdigit()] if isinstance(body, dict) else []
        message = self.scrub(_response_error(res, self.command_prefix))
        return MicrosoftAuthError(f'Error in Microsoft authorization{label}. Status: {res.status_code}. {message}',
                                  error=error, codes=codes, status=res.status_code, res=res)


def _is_dropped_tls(exc: BaseException) -> bool:
    """An SSLError that is a connection closed or reset during TLS (EOF), not a certificate problem."""
    text = str(exc)
    return (isinstance(exc, requests.exceptions.SSLError) and 'CERTIFICATE_VERIFY_FAILED' not in text
            and ('EOF occurred' in text or 'reset by peer' in text or 'UNEXPECTED_EOF' in text))


_BAD_URL_ERRORS = (requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema, requests.exceptions.InvalidURL)
_RESET_MARKERS = ('Connection reset', 'ConnectionResetError', 'RemoteDisconnected', 'Connection aborted',
                  'BrokenPipeError', 'EOF occurred', 'UNEXPECTED_EOF')


def _is_reset(exc: BaseException) -> bool:
    """A connection that was established and then reset or closed before the answer: usually transient, not a sign
    of a wrong URL."""
    return isinstance(exc, requests.exceptions.ConnectionError) and any(m in str(exc) for m in _RESET_MARKERS)


def _unreachable_message(url: str, exc: BaseException, attempts: int, purpose: str) -> str:
    """Why a request got no answer, naming the URL's host (or the URL itself when it has none) and what to do. The
    exception text is not included: it can hold the full URL with its query."""
    host = urllib.parse.urlsplit(url).netloc
    where = host or f'"{url.split("?")[0].split("/")[0]}"'     # the path may hold the tenant ID
    tries = f' after {attempts} attempts' if attempts > 1 else ''
    if isinstance(exc, _BAD_URL_ERRORS) or not host:
        return (f'Could not send a request {purpose}: {where} is not a usable URL ({type(exc).__name__}). Check the '
                'URL parameters of the instance (cloud, login and API URLs): each must be an https:// URL with a '
                'host name.')
    if _is_reset(exc) or _is_dropped_tls(exc):
        return (f'The connection to {host} was reset before an answer arrived{tries} ({type(exc).__name__}). This is '
                'usually a passing network problem: run the command again. If it keeps happening, check the proxy '
                'and firewall between the engine and Microsoft.')
    return (f'Could not reach {host} {purpose}{tries} ({type(exc).__name__}). Check that the host name is right for '
            'the selected cloud, and the network and proxy settings.')


def _is_transient(exc: requests.exceptions.RequestException, idempotent: bool) -> bool:
    """Connection failures worth retrying: never TLS/proxy errors (a connection dropped during TLS is a connection
    failure, not a TLS error); non-idempotent only if nothing was sent."""
    if _is_dropped_tls(exc):
        return idempotent
    if isinstance(exc, (requests.exceptions.SSLError, requests.exceptions.ProxyError)):
        return False
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    return idempotent and isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout))


def _backoff(attempt: int, base: float = 1.0, cap: float = 8.0) -> float:
    return min(cap, base * (2 ** (attempt - 1)))


def _retry_after_seconds(res: requests.Response) -> float | None:
    """Retry-After as seconds (delta-seconds or HTTP-date), or None."""
    value = (res.headers.get('Retry-After') or '').strip()
    if not value:
        return None
    if re.fullmatch(r'\d+(\.\d+)?', value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - _now())


# ============================================================================================================
# Credentials: one small class per flow. ``acquire(scope, refresh_token, account)`` returns a TokenResult.
# ============================================================================================================

class ClientAuth:
    """How a confidential client proves itself on the token endpoint (secret, certificate, federated token)."""

    def fields(self, token_url: str) -> dict[str, str]:
        return {}


class SecretAuth(ClientAuth):
    def __init__(self, secret: str) -> None:
        self.secret = secret
        _register_secret(secret)

    def fields(self, token_url: str) -> dict[str, str]:
        return {'client_secret': self.secret}


class CertificateAuth(ClientAuth):
    """A JWT client assertion signed with PyJWT.

    With the certificate itself (a CERTIFICATE block in the PEM, or a PFX) the header carries ``x5t#S256`` and the
    assertion is PS256, as msal does for Entra; with only a thumbprint and a key it is RS256 with ``x5t`` = the SHA-1
    thumbprint bytes (what Entra stores for uploaded certificates). Header values are unpadded base64url, as in
    https://learn.microsoft.com/entra/identity-platform/certificate-credentials.
    """

    def __init__(self, client_id: str, thumbprint: str = '', private_key: str = '', pfx: bytes | str = b'',
                 password: str = '') -> None:
        self.client_id = client_id
        self.key, certificate = _load_key_material(private_key, pfx, password)
        self.thumbprint = re.sub(r'[^0-9a-fA-F]', '', thumbprint or '').lower()
        self.sha256 = b''
        if certificate is not None:
            from cryptography.hazmat.primitives import hashes
            der_sha1 = certificate.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - Entra's thumbprint is SHA-1
            if self.thumbprint and self.thumbprint != der_sha1:
                raise DemistoException('The certificate thumbprint parameter does not match the certificate in the '
                                       'private key/PFX. Check the thumbprint shown in the app registration.')
            self.thumbprint = der_sha1
            self.sha256 = certificate.fingerprint(hashes.SHA256())
        if not self.thumbprint:
            raise DemistoException('Certificate authentication needs the certificate thumbprint, or a private key that '
                                   'also contains the certificate.')
        if len(self.thumbprint) != 40:
            raise DemistoException('The certificate thumbprint must be the 40-hex-digit SHA-1 thumbprint shown in the '
                                   'app registration.')

    def assertion(self, token_url: str) -> str:
        """A fresh client assertion for ``token_url`` (valid for 10 minutes)."""
        try:
            import jwt
        except ImportError:  # pragma: no cover - the docker image ships PyJWT
            raise DemistoException('Certificate authentication needs the PyJWT package in the docker image.') from None
        now = int(_now())
        claims = {'aud': token_url, 'iss': self.client_id, 'sub': self.client_id, 'jti': str(uuid.uuid4()),
                  'nbf': now, 'iat': now, 'exp': now + ASSERTION_LIFETIME}
        if self.sha256:
            headers, algorithm = {'x5t#S256': _b64url(self.sha256)}, 'PS256'
        else:
            headers, algorithm = {'x5t': _b64url(bytes.fromhex(self.thumbprint))}, 'RS256'
        token = jwt.encode(claims, self.key, algorithm=algorithm, headers=headers)
        _register_secret(token)
        return token

    def fields(self, token_url: str) -> dict[str, str]:
        return {'client_assertion_type': JWT_BEARER_ASSERTION, 'client_assertion': self.assertion(token_url)}


class FederatedTokenAuth(ClientAuth):
    """Workload identity federation: the projected service-account token, re-read on every request."""

    def __init__(self, token_file: str) -> None:
        self.token_file = token_file

    def fields(self, token_url: str) -> dict[str, str]:
        try:
            with open(self.token_file, encoding='utf-8') as handle:
                assertion = handle.read().strip()
        except OSError as exc:
            raise MicrosoftAuthError(f'Could not read the federated token file {self.token_file} '
                                     f'({exc.strerror or type(exc).__name__}).') from None
        if not assertion:
            raise MicrosoftAuthError(f'The federated token file {self.token_file} is empty.')
        _register_secret(assertion)
        return {'client_assertion_type': JWT_BEARER_ASSERTION, 'client_assertion': assertion}


def _normalize_pem(text: str) -> bytes:
    """Rebuild PEM blocks whose newlines were turned into spaces (XSOAR credential fields do that)."""
    blocks = re.findall(r'-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----', text, re.DOTALL)
    if not blocks:
        raise DemistoException('The private key is not in PEM format (-----BEGIN ... PRIVATE KEY-----).')
    out = []
    for label, body in blocks:
        data = re.sub(r'\s+', '', body)
        out.append(f'-----BEGIN {label}-----\n' + '\n'.join(data[i:i + 64] for i in range(0, len(data), 64))
                   + f'\n-----END {label}-----\n')
    return ''.join(out).encode('ascii')


def _load_key_material(private_key: str, pfx: bytes | str, password: str) -> tuple[Any, Any]:
    """(RSA private key, certificate or None) from a PEM (key, optionally with its certificate) or a PFX."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12
    _register_secret(private_key, password, pfx if isinstance(pfx, str) else '')
    secret = password.encode() if password else None
    certificate = None
    try:
        if pfx:
            raw = pfx if isinstance(pfx, bytes) else base64.b64decode(re.sub(r'\s+', '', pfx), validate=True)
            key, certificate, _ = pkcs12.load_key_and_certificates(raw, secret)
        else:
            pem = _normalize_pem(private_key or '')
            key = load_pem_private_key(pem, secret)
            match = re.search(rb'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n', pem, re.DOTALL)
            if match:
                certificate = x509.load_pem_x509_certificate(match.group(0))
    except (ValueError, TypeError, binascii.Error):
        raise DemistoException('Could not load the certificate private key: check the PEM/PFX content and its '
                               'password.') from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise DemistoException('Certificate authentication needs an RSA private key.')
    return key, certificate


class TokenCredential:
    """Base of the flows: identity (for the cache key) and ``acquire``."""
    flow = ''
    uses_refresh_token = False

    def __init__(self, client_id: str, tenant_id: str, cloud: MicrosoftCloud, transport: TokenTransport) -> None:
        self.client_id = client_id
        self.tenant_id = tenant_id
        self.cloud = cloud
        self.transport = transport

    @property
    def prefix(self) -> str:
        return self.transport.command_prefix

    @property
    def account_key(self) -> str:
        host = urllib.parse.urlsplit(self.cloud.login_url).netloc
        return f'{self.flow}:{host}:{self.client_id}:{self.tenant_id}'

    def acquire(self, scope: str, refresh_token: str | None, account: Mapping[str, Any]) -> TokenResult:
        raise NotImplementedError


class ClientCredentialsCredential(TokenCredential):
    """App-only tokens with the client credentials grant (v2 endpoint, ``<resource>/.default``)."""
    flow = AuthFlow.CLIENT_SECRET

    def __init__(self, client_id: str, tenant_id: str, cloud: MicrosoftCloud, transport: TokenTransport,
                 client_auth: ClientAuth) -> None:
        if not client_id or not tenant_id:
            raise DemistoException('The client credentials flow needs the application (client) ID and the tenant ID.')
        super().__init__(client_id, tenant_id, cloud, transport)
        self.client_auth = client_auth

    def acquire(self, scope: str, refresh_token: str | None, account: Mapping[str, Any]) -> TokenResult:
        url = self.cloud.token_url(self.tenant_id)
        form = {'grant_type': 'client_credentials', 'client_id': self.client_id, 'scope': scope,
                **self.client_auth.fields(url)}
        return self.transport.post_form(url, form)


class ClientSecretCredential(ClientCredentialsCredential):
    flow = AuthFlow.CLIENT_SECRET

    def __init__(self, client_id: str, tenant_id: str, secret: str, cloud: MicrosoftCloud,
                 transport: TokenTransport) -> None:
        super().__init__(client_id, tenant_id, cloud, transport, SecretAuth(secret))


class CertificateCredential(ClientCredentialsCredential):
    flow = AuthFlow.CERTIFICATE

    def __init__(self, client_id: str, tenant_id: str, cloud: MicrosoftCloud, transport: TokenTransport,
                 thumbprint: str = '', private_key: str = '', pfx: bytes | str = b'', password: str = '') -> None:
        super().__init__(client_id, tenant_id, cloud, transport,
                         CertificateAuth(client_id, thumbprint, private_key, pfx, password))


class WorkloadIdentityCredential(ClientCredentialsCredential):
    flow = AuthFlow.WORKLOAD_IDENTITY

    def __init__(self, client_id: str, tenant_id: str, token_file: str, cloud: MicrosoftCloud,
                 transport: TokenTransport) -> None:
        super().__init__(client_id, tenant_id, cloud, transport, FederatedTokenAuth(token_file))


def _delegated_scope(scope: str) -> str:
    """Delegated requests ask for offline_access too, so Entra returns a refresh token."""
    parts = scope.split()
    return ' '.join(parts if 'offline_access' in parts else ['offline_access', *parts])


class RefreshingCredential(TokenCredential):
    """Shared by the delegated flows: redeem the cached refresh token (it rotates; TokenProvider stores the new one)."""
    uses_refresh_token = True

    def __init__(self, client_id: str, tenant_id: str, cloud: MicrosoftCloud, transport: TokenTransport,
                 client_auth: ClientAuth | None = None) -> None:
        super().__init__(client_id, tenant_id or 'organizations', cloud, transport)
        self.client_auth = client_auth or ClientAuth()

    def refresh(self, scope: str, refresh_token: str) -> TokenResult:
        url = self.cloud.token_url(self.tenant_id)
        form = {'grant_type': 'refresh_token', 'client_id': self.client_id, 'refresh_token': refresh_token,
                'scope': _delegated_scope(scope), **self.client_auth.fields(url)}
        return self.transport.post_form(url, form, rotating=True)


class AuthorizationCodeCredential(RefreshingCredential):
    """Authorization code with PKCE: generate-login-url keeps the verifier and state; the code is redeemed once."""
    flow = AuthFlow.AUTHORIZATION_CODE

    def __init__(self, client_id: str, tenant_id: str, cloud: MicrosoftCloud, transport: TokenTransport,
                 client_auth: ClientAuth | None, auth_code: str = '', redirect_uri: str = DEFAULT_REDIRECT_URI) -> None:
        super().__init__(client_id, tenant_id, cloud, transport, client_auth)
        self.redirect_uri = redirect_uri or DEFAULT_REDIRECT_URI
        self.code, self.returned_state = parse_auth_code(auth_code)
        _register_secret(self.code)

    def login_url(self, scope: str) -> tuple[str, dict[str, Any]]:
        """The authorize URL and the PKCE state to keep (verifier, state) until the code is redeemed."""
        verifier = secrets.token_urlsafe(64)
        state = secrets.token_urlsafe(24)
        _register_secret(verifier)
        query = {'client_id': self.client_id, 'response_type': 'code', 'redirect_uri': self.redirect_uri,
                 'response_mode': 'query', 'scope': _delegated_scope(scope), 'state': state,
                 'code_challenge': _b64url(hashlib.sha256(verifier.encode('ascii')).digest()),
                 'code_challenge_method': 'S256'}
        url = f'{self.cloud.authorize_url(self.tenant_id)}?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote)}'
        return url, {'code_verifier': verifier, 'state': state, 'created_at': int(_now())}

    def acquire(self, scope: str, refresh_token: str | None, account: Mapping[str, Any]) -> TokenResult:
        if refresh_token:
            return self.refresh(scope, refresh_token)
        return self.redeem(scope, account)

    def redeem(self, scope: str, account: Mapping[str, Any]) -> TokenResult:
        p = self.prefix or '<prefix>'
        if not self.code:
            raise MicrosoftAuthError(f'Not signed in yet: run !{p}-generate-login-url, sign in, and paste the code (or '
                                     'the whole redirect URL) into the Authorization code parameter.')
        code_hash = hashlib.sha256(self.code.encode()).hexdigest()
        if account.get('redeemed_code') == code_hash:
            raise MicrosoftAuthError(f'This authorization code was already used and the session ended. Run '
                                     f'!{p}-generate-login-url, sign in again and update the Authorization code '
                                     'parameter.')
        pkce = account.get('pkce') or {}
        if pkce.get('state') and self.returned_state and not hmac.compare_digest(str(pkce['state']), self.returned_state):
            raise MicrosoftAuthError(f'The state in the redirect URL does not match the last login URL. Run '
                                     f'!{p}-generate-login-url again and use the newest link.')
        url = self.cloud.token_url(self.tenant_id)
        form = {'grant_type': 'authorization_code', 'client_id': self.client_id, 'code': self.code,
                'redirect_uri': self.redirect_uri, 'scope': _delegated_scope(scope),
                'code_verifier': pkce.get('code_verifier'), **self.client_auth.fields(url)}
        result = self.transport.post_form(url, form, rotating=True)
        result.new_grant = True
        result.account_updates['redeemed_code'] = code_hash
        result.account_removals = ('pkce',)
        return result


def parse_auth_code(value: str) -> tuple[str, str]:
    """(code, state) from what the user pasted: the bare code, ``code=...&...`` or the full redirect URL."""
    text = (value or '').strip()
    if not text:
        return '', ''
    query = urllib.parse.urlsplit(text).query if '://' in text else text
    if '=' in query:
        parsed = urllib.parse.parse_qs(query.lstrip('?&'))
        code = (parsed.get('code') or [''])[0]
        if not code and '&' in query and '=' not in query.split('&', 1)[0]:
            code = query.split('&', 1)[0]                 # "CODE&session_state=..."
        if code:
            return code, (parsed.get('state') or [''])[0]
        raise DemistoException('Malformed Authorization code parameter: paste the value of "code" from the redirect URL'
                               ' (or the whole redirect URL).')
    if 'session_state' in text:
        raise DemistoException('Malformed Authorization code parameter: paste the value of "code" from the redirect URL'
                               ' (or the whole redirect URL).')
    return text, ''


class DeviceCodeCredential(RefreshingCredential):
    """Device authorization grant (RFC 8628) for a public client: no secret is ever sent."""
    flow = AuthFlow.DEVICE_CODE

    def start(self, scope: str) -> dict[str, Any]:
        """Ask Entra for a device code; returns the flow state to keep (device code, user code, expiry, interval)."""
        res = self.transport.request('POST', self.cloud.devicecode_url(self.tenant_id),
                                     data={'client_id': self.client_id, 'scope': _delegated_scope(scope)},
                                     headers={'Accept': 'application/json'}, retry_statuses=frozenset({429, 503}))
        if res.status_code >= 400:
            raise self.transport.error(res, ' (device code)')
        try:
            body = res.json()
            device_code = body['device_code']
        except (ValueError, KeyError, TypeError):
            raise MicrosoftAuthError('The device code answer from Microsoft was not understood.') from None
        _register_secret(device_code)
        now = _now()
        return {'device_code': device_code, 'user_code': body.get('user_code', ''),
                'verification_uri': body.get('verification_uri') or body.get('verification_url') or '',
                'interval': int(body.get('interval') or 5), 'expires_at': now + float(body.get('expires_in') or 900),
                'scope': scope, 'started_at': now}

    def poll(self, device_code: str) -> TokenResult:
        """One token request with the device code; Entra's pending/slow_down/expired errors come as MicrosoftAuthError."""
        # Polling runs in a later command (a new process) that read the code from the integration context: register
        # it again before it is sent, or a debug-mode HTTP trace would log it.
        _register_secret(device_code)
        form = {'grant_type': DEVICE_CODE_GRANT, 'client_id': self.client_id, 'device_code': device_code}
        result = self.transport.post_form(self.cloud.token_url(self.tenant_id), form, rotating=True)
        result.new_grant = True
        result.account_removals = ('device_flow',)
        return result

    def acquire(self, scope: str, refresh_token: str | None, account: Mapping[str, Any]) -> TokenResult:
        if refresh_token:
            return self.refresh(scope, refresh_token)
        p = self.prefix or '<prefix>'
        raise MicrosoftAuthError(f'Not signed in yet: run !{p}-auth-start and follow the instructions.')


class OproxyCredential(RefreshingCredential):
    """The Cortex XSOAR app: the token proxy holds the app secret; we send an AES-GCM sealed refresh token/tenant."""
    flow = AuthFlow.OPROXY

    def __init__(self, auth_id: str, tenant_id: str, enc_key: str, app_name: str, cloud: MicrosoftCloud,
                 transport: TokenTransport, default_scope: str = '') -> None:
        registration_id, _, url = (auth_id or '').partition('@')
        if not registration_id or not tenant_id or not enc_key:
            raise DemistoException('The Cortex XSOAR app needs the ID, Token and Key parameters from the '
                                   'authorization page.')
        _require(app_name, 'The integration must name its Cortex XSOAR app (app_name) to use the token proxy.')
        super().__init__(registration_id, tenant_id, cloud, transport)
        self.proxy_url = (url or DEFAULT_PROXY_URL).rstrip('/')
        self.app_name = app_name
        self.default_scope = default_scope
        _register_secret(enc_key)
        try:
            self.key = base64.b64decode(enc_key, validate=True)
        except (binascii.Error, ValueError):
            raise DemistoException('The Key parameter is not valid base64: copy it again from the authorization '
                                   'page.') from None
        if len(self.key) not in (16, 24, 32):
            raise DemistoException('The Key parameter has the wrong length: copy it again from the authorization page.')

    @property
    def account_key(self) -> str:
        return f'{self.flow}:{self.app_name}:{self.client_id}:{self.tenant_id}'

    def seal(self, content: str) -> str:
        """base64(nonce(12) || AES-GCM("<epoch>:<content>")), what the proxy decrypts with the same key."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        nonce = os.urandom(12)
        sealed = AESGCM(self.key).encrypt(nonce, f'{int(_now())}:{content}'.encode(), None)
        return base64.b64encode(nonce + sealed).decode('ascii')

    def acquire(self, scope: str, refresh_token: str | None, account: Mapping[str, Any]) -> TokenResult:
        custom = scope and scope != self.default_scope
        body = {'app_name': self.app_name, 'registration_id': self.client_id,
                'encrypted_token': self.seal(refresh_token or self.tenant_id),
                'scope': scope if custom else None,
                'resource': scope.removesuffix('/.default') if custom else ''}
        try:
            headers = get_x_content_info_headers()
        except Exception:  # installation headers are informative only
            headers = {}
        res = self.transport.request('POST', f'{self.proxy_url}/obtain-token', json=body, headers=headers,
                                     retry_statuses=frozenset({429, 502, 503, 504}))
        if res.status_code >= 400:
            error = self.transport.error(res, ' through the Cortex XSOAR app')
            if res.status_code in (401, 403, 404):
                error.message += ('\nCheck the ID, Token and Key parameters, or authorize the app again to get new '
                                  'ones.')
            raise error
        return self.transport.parse(res, ' through the Cortex XSOAR app')


class ManagedIdentityCredential(TokenCredential):
    """Azure managed identity via IMDS (VMs) or the App Service / Container Apps identity endpoint.

    IMDS gets a short timeout and the azure-identity-like retry on 404/410/429/5xx (a few seconds in total).
    ``MSAL_MANAGED_IDENTITY_ENDPOINT`` (a full token URL) replaces the IMDS address, as in msal.
    """
    flow = AuthFlow.MANAGED_IDENTITY
    RETRY_STATUSES = frozenset({404, 410, 429, 500, 502, 503, 504})
    BACKOFFS = (0.5, 1.0, 2.0)        # 3.5 s of waiting at most

    def __init__(self, client_id: str | None, cloud: MicrosoftCloud, transport: TokenTransport) -> None:
        client_id = '' if not client_id or client_id == SYSTEM_ASSIGNED else client_id
        super().__init__(client_id, '', cloud, transport)

    @property
    def account_key(self) -> str:
        return f'{self.flow}:{self.client_id or "system"}'

    def acquire(self, scope: str, refresh_token: str | None, account: Mapping[str, Any]) -> TokenResult:
        resource = scope.split()[0].removesuffix('/.default')
        endpoint, header = os.getenv('IDENTITY_ENDPOINT'), os.getenv('IDENTITY_HEADER')
        if endpoint and header:
            _register_secret(header)
            params = {'api-version': APP_SERVICE_API_VERSION, 'resource': resource, 'client_id': self.client_id or None}
            return self._get(endpoint, params, {'X-IDENTITY-HEADER': header})
        url = os.getenv('MSAL_MANAGED_IDENTITY_ENDPOINT') or IMDS_TOKEN_URL
        params = {'api-version': IMDS_API_VERSION, 'resource': resource, 'client_id': self.client_id or None}
        return self._get(url, params, {'Metadata': 'true'})

    def _get(self, url: str, params: dict[str, Any], headers: dict[str, str]) -> TokenResult:
        query = {k: v for k, v in params.items() if v}
        res = None
        for pause in (*self.BACKOFFS, None):
            try:
                res = self.transport.session.get(url, params=query, headers=headers, timeout=MANAGED_IDENTITY_TIMEOUT,
                                                  verify=self.transport.verify)
            except requests.exceptions.RequestException as exc:
                if pause is None:
                    raise MicrosoftAuthError('Error in Microsoft authorization with Azure Managed Identities: the '
                                             f'identity endpoint did not answer ({type(exc).__name__}). Is the engine '
                                             'running on Azure with a managed identity?') from None
                time.sleep(pause)
                continue
            if res.status_code in self.RETRY_STATUSES and pause is not None:
                time.sleep(min(_retry_after_seconds(res) or pause, 5.0))
                continue
            break
        assert res is not None
        if res.status_code >= 400:
            raise self.transport.error(res, ' with Azure Managed Identities')
        return self.transport.parse(res, ' with Azure Managed Identities')


# ============================================================================================================
# TokenProvider: reuse, refresh, rotate safely
# ============================================================================================================

ROTATION_POLL_SECONDS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.0)   # re-reads of the cache while waiting for a successor
ROTATION_MAX_RETRIES = 50      # refresh attempts with successively newer cached tokens; each one follows a change
REFRESH_TOKEN_WRITE_ATTEMPTS = 40   # a rotated refresh token must not be lost to version conflicts
# AADSTS codes that say the refresh token itself is dead (revoked, inactive, malformed, consent or MFA needed):
# another execution cannot be about to store a successor, so the cache is read once and not waited on.
DEAD_GRANT_CODES = frozenset({50173, 700082, 700084, 9002313, 65001, 50076, 50079, 53003})


def _timeout_seconds(timeout: Any) -> float:
    """A requests timeout (seconds, or a (connect, read) pair) as the longest one request may take."""
    if isinstance(timeout, (tuple, list)):
        return float(sum(float(part) for part in timeout if part))
    return float(timeout or TOKEN_TIMEOUT)


class TokenProvider:
    """Serves access tokens for one credential from memory, then the shared cache, then the credential.

    Rotating refresh tokens are written compare-and-swap: a new refresh token replaces the cached one only if the
    cached one is the token we redeemed, so a concurrent execution's newer token is never replaced by an older
    chain. Entra keeps a redeemed refresh token valid, but stricter token services rotate single-use; there, our
    refresh fails when another execution redeemed the token first, and we wait for that execution to store its
    successor (as long as one token request may take: on a loaded server it may be slow) and use theirs.
    """

    def __init__(self, credential: TokenCredential, cache: TokenCache | None = None,
                 rotation_wait: float | None = None) -> None:
        self.credential = credential
        self.cache = cache or TokenCache()
        transport = getattr(credential, 'transport', None)
        self.rotation_wait = rotation_wait if rotation_wait is not None else _timeout_seconds(
            getattr(transport, 'timeout', TOKEN_TIMEOUT))
        self._memory: dict[str, dict[str, Any]] = {}

    @property
    def account_key(self) -> str:
        return self.credential.account_key

    def read_account(self) -> dict[str, Any]:
        return self.cache.read(self.account_key)

    def update_account(self, merge: Callable[[dict[str, Any]], dict[str, Any] | None],
                       attempts: int | None = None) -> dict[str, Any] | None:
        return self.cache.update(self.account_key, merge, attempts=attempts)

    def get_token(self, scope: str, force_refresh: bool = False) -> str:
        """A valid access token for ``scope`` (a '<resource>/.default' or delegated scope string)."""
        key = _scope_key(scope)
        if not force_refresh and not _needs_refresh(self._memory.get(key)):
            return self._memory[key]['access_token']
        account = self.read_account()
        cached = (account.get('tokens') or {}).get(key)
        if not force_refresh and not _needs_refresh(cached):
            return self._remember(key, cached)  # type: ignore[arg-type]
        refresh_token = account.get('refresh_token') if self.credential.uses_refresh_token else None
        for retry in range(ROTATION_MAX_RETRIES + 1):
            _register_secret(refresh_token)
            try:
                result = self.credential.acquire(scope, refresh_token, account)
            except MicrosoftAuthError as exc:
                if not (refresh_token and exc.error == 'invalid_grant') or retry == ROTATION_MAX_RETRIES:
                    raise
                wait = 0.0 if DEAD_GRANT_CODES.intersection(exc.codes) else self.rotation_wait
                rotated = self._await_rotation(refresh_token, wait)
                if rotated is None:
                    raise
                account, refresh_token = rotated
                cached = (account.get('tokens') or {}).get(key)
                if not _needs_refresh(cached):
                    return self._remember(key, cached)  # type: ignore[arg-type]
                continue
            return self.store(scope, result, used_refresh_token=refresh_token)
        raise AssertionError('unreachable')  # pragma: no cover

    def _await_rotation(self, spent: str, wait: float) -> tuple[dict[str, Any], str] | None:
        """After the token service refused ``spent``, re-read the cache until another execution has stored a
        different refresh token, for at most ``wait`` seconds of sleep; returns the account and that token, or None.

        Sleep is counted rather than the clock read, so a loaded machine waits at least as long, never less."""
        slept, polls = 0.0, 0
        while True:
            account = self.read_account()
            newer = account.get('refresh_token')
            if newer and newer != spent:
                return account, newer
            pause = min(ROTATION_POLL_SECONDS[min(polls, len(ROTATION_POLL_SECONDS) - 1)], wait - slept)
            if pause <= 0:
                return None
            if polls == 0:
                demisto.debug('MicrosoftApiModule: the refresh token was refused; waiting for a concurrent '
                              'execution to store its successor.')
            time.sleep(pause)
            slept += pause
            polls += 1

    def store(self, scope: str, result: TokenResult, used_refresh_token: str | None = None) -> str:
        """Save ``result`` for ``scope`` (merging into the freshest account) and return the access token."""
        key = _scope_key(scope)
        now = _now()
        entry = {'access_token': result.access_token, 'issued_at': now, 'expires_at': now + result.expires_in}

        def merge(account: dict[str, Any]) -> dict[str, Any]:
            account.setdefault('tokens', {})[key] = entry
            if result.refresh_token:
                stored = account.get('refresh_token')
                if result.new_grant or not stored or stored == used_refresh_token:
                    account['refresh_token'] = result.refresh_token
                    account['refresh_token_updated'] = int(now)
            account.update(result.account_updates)
            for name in result.account_removals:
                account.pop(name, None)
            return account

        self.update_account(merge, attempts=REFRESH_TOKEN_WRITE_ATTEMPTS if result.refresh_token else None)
        return self._remember(key, entry)

    def invalidate(self, scope: str, access_token: str | None = None) -> None:
        """Forget an access token the API rejected (only if the cache still holds that very token)."""
        key = _scope_key(scope)
        self._memory.pop(key, None)

        def merge(account: dict[str, Any]) -> dict[str, Any]:
            tokens = account.get('tokens') or {}
            if key in tokens and (access_token is None or tokens[key].get('access_token') == access_token):
                tokens.pop(key)
            return account

        self.update_account(merge)

    def reset(self) -> None:
        self._memory.clear()
        self.cache.clear()

    def _remember(self, key: str, entry: dict[str, Any]) -> str:
        self._memory[key] = entry
        _register_secret(entry['access_token'])
        return entry['access_token']


def _scope_key(scope: str) -> str:
    return ' '.join(sorted(part for part in scope.split() if part != 'offline_access'))


# ============================================================================================================
# Settings and the factory the integrations call
# ============================================================================================================

@dataclass
class AuthSettings:
    """Everything needed to pick and build a credential; integrations map their own parameter names onto it.

    ``grant_type`` selects the flow for self-deployed apps: client_credentials (secret, certificate or workload
    identity, in that order of preference), authorization_code or device_code. ``self_deployed=False`` selects
    the Cortex XSOAR app (oproxy); ``use_managed_identity`` wins over everything.
    """
    client_id: str = ''
    tenant_id: str = ''
    client_secret: str = ''
    certificate_thumbprint: str = ''
    private_key: str = ''
    certificate_pfx: str = ''
    certificate_password: str = ''
    grant_type: str = AuthFlow.CLIENT_SECRET
    self_deployed: bool = True
    enc_key: str = ''                 # Cortex XSOAR app "Key"
    app_name: str = ''                # Cortex XSOAR app name at the proxy
    auth_code: str = ''
    redirect_uri: str = DEFAULT_REDIRECT_URI
    use_managed_identity: bool = False
    managed_identity_client_id: str = ''
    cloud: MicrosoftCloud = WORLDWIDE
    command_prefix: str = ''
    verify: bool = True
    timeout: float = TOKEN_TIMEOUT

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str):
                setattr(self, f.name, value.strip())
        _register_secret(self.client_secret, self.private_key, self.certificate_pfx, self.certificate_password,
                         self.enc_key, self.auth_code)


def build_credential(settings: AuthSettings, transport: TokenTransport | None = None,
                     default_scope: str = '') -> TokenCredential:
    """The credential for these settings: managed identity > Cortex XSOAR app > the self-deployed grant type."""
    s = settings
    transport = transport or TokenTransport(verify=s.verify, timeout=s.timeout, command_prefix=s.command_prefix)
    transport.identifiers = {value: label for value, label in (
        (s.tenant_id, 'tenant ID'), (s.client_id, 'application (client) ID'),
        (s.managed_identity_client_id, 'managed identity client ID')) if value and len(value) >= 6}
    if s.use_managed_identity:
        return ManagedIdentityCredential(s.managed_identity_client_id, s.cloud, transport)
    if not s.self_deployed:
        return OproxyCredential(s.client_id, s.tenant_id, s.enc_key, s.app_name, s.cloud, transport, default_scope)
    grant = (s.grant_type or AuthFlow.CLIENT_SECRET).lower().replace(' ', '_')
    if grant in (AuthFlow.DEVICE_CODE, DEVICE_CODE_GRANT):
        _require(s.client_id, 'The device code flow needs the application (client) ID.')
        return DeviceCodeCredential(s.client_id, s.tenant_id, s.cloud, transport)
    if grant == AuthFlow.AUTHORIZATION_CODE:
        _require(s.client_id, 'The authorization code flow needs the application (client) ID.')
        return AuthorizationCodeCredential(s.client_id, s.tenant_id, s.cloud, transport, _client_auth(s),
                                           s.auth_code, s.redirect_uri)
    if grant == AuthFlow.WORKLOAD_IDENTITY:
        return _workload_identity(s, transport)
    if s.certificate_pfx or s.private_key:
        return CertificateCredential(s.client_id, s.tenant_id, s.cloud, transport, s.certificate_thumbprint,
                                     s.private_key, s.certificate_pfx, s.certificate_password)
    if s.client_secret:
        return ClientSecretCredential(s.client_id, s.tenant_id, s.client_secret, s.cloud, transport)
    if os.getenv('AZURE_FEDERATED_TOKEN_FILE'):
        return _workload_identity(s, transport)
    raise DemistoException('Client credentials need a client secret, or a certificate thumbprint and private key.')


def _require(value: str, message: str) -> None:
    if not value:
        raise DemistoException(message)


def _client_auth(s: AuthSettings) -> ClientAuth | None:
    """Certificate first (it is the stronger credential), then the secret; None when neither is configured."""
    if s.certificate_pfx or s.private_key:
        return CertificateAuth(s.client_id, s.certificate_thumbprint, s.private_key, s.certificate_pfx,
                               s.certificate_password)
    if s.client_secret:
        return SecretAuth(s.client_secret)
    return None


def _workload_identity(s: AuthSettings, transport: TokenTransport) -> WorkloadIdentityCredential:
    token_file = os.getenv('AZURE_FEDERATED_TOKEN_FILE', '')
    client_id = s.client_id or os.getenv('AZURE_CLIENT_ID', '')
    tenant_id = s.tenant_id or os.getenv('AZURE_TENANT_ID', '')
    if not (token_file and client_id and tenant_id):
        raise DemistoException('Workload identity needs AZURE_FEDERATED_TOKEN_FILE, and the client and tenant IDs '
                               '(from the parameters or AZURE_CLIENT_ID / AZURE_TENANT_ID).')
    authority = os.getenv('AZURE_AUTHORITY_HOST', '')
    cloud = s.cloud
    if authority:
        cloud = replace(cloud, login_url=(authority if '://' in authority else f'https://{authority}').rstrip('/'))
    return WorkloadIdentityCredential(client_id, tenant_id, token_file, cloud, transport)


def get_credential_param(params: Mapping[str, Any], *names: str, part: str = 'password') -> str:
    """The first non-empty value among ``names``; credentials (type 9) parameters give their ``part``."""
    for name in names:
        value = params.get(name)
        if isinstance(value, Mapping):
            value = value.get(part)
        if value not in (None, ''):
            return str(value).strip()
    return ''


def get_azure_managed_identities_client_id(params: Mapping[str, Any]) -> str | None:
    """The official selection rule: the client ID, SYSTEM_ASSIGNED, or None when managed identities are off."""
    auth_type = params.get('auth_type') or params.get('authentication_type') or ''
    if argToBoolean(params.get('use_managed_identities') or False) or auth_type == MANAGED_IDENTITIES_AUTH_TYPE:
        return get_credential_param(params, 'managed_identities_client_id') or SYSTEM_ASSIGNED
    return None


def get_from_args_or_params(args: Mapping[str, Any], params: Mapping[str, Any], key: str) -> Any:
    """An argument, else the parameter of the same name, else a clear error."""
    value = args.get(key) or params.get(key)
    if value in (None, ''):
        raise DemistoException(f'Provide "{key}" as a command argument or an integration parameter.')
    return value


# ============================================================================================================
# MicrosoftClient: bearer tokens, retries, clear errors
# ============================================================================================================

@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries. Retry-After waits up to ``max_inline_wait`` seconds happen in-process; longer ones raise."""
    max_attempts: int = 4
    backoff_base: float = 1.0
    backoff_max: float = 8.0
    max_inline_wait: float = 10.0


IDEMPOTENT_METHODS = frozenset({'GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'})
DEFAULT_OK_CODES = (200, 201, 202, 204, 206)


class MicrosoftClient(BaseClient):
    """BaseClient for Microsoft APIs: ``http_request`` adds the bearer token for ``scope`` and handles 401 (a retry
    with a newer token, at most three), 429/503 Retry-After, 5xx and connection retries for idempotent requests, 404
    (NotFoundError) and Microsoft error bodies."""

    def __init__(self, base_url: str, credential: TokenCredential, scope: str, *, verify: bool = True,
                 proxy: bool = False, timeout: float = 60, ok_codes: tuple[int, ...] = (),
                 headers: dict[str, str] | None = None, retry: RetryPolicy | None = None,
                 cache: TokenCache | None = None) -> None:
        super().__init__(base_url=base_url.rstrip('/'), verify=verify, proxy=proxy, ok_codes=tuple(ok_codes),
                         headers=headers, timeout=timeout)
        self.credential = credential
        self.scope = scope
        self.retry = retry or RetryPolicy()
        self.tokens = TokenProvider(credential, cache)
        credential.transport.session = self._session
        credential.transport.verify = verify

    @classmethod
    def from_settings(cls, settings: AuthSettings, base_url: str, scope: str, *, proxy: bool = False,
                      **kwargs: Any) -> 'MicrosoftClient':
        """The usual way in: build the credential for ``settings`` and a client for ``base_url``/``scope``."""
        credential = build_credential(settings, default_scope=scope)
        return cls(base_url, credential, scope, verify=settings.verify, proxy=proxy, **kwargs)

    @property
    def command_prefix(self) -> str:
        return self.credential.prefix

    def get_access_token(self, scope: str | None = None, resource: str | None = None, force_refresh: bool = False) -> str:
        return self.tokens.get_token(_pick_scope(scope, resource, self.scope), force_refresh)

    def http_request(self, method: str, url_suffix: str = '', full_url: str | None = None, *,
                     params: Any = None, json_data: Any = None, data: Any = None, headers: dict[str, str] | None = None,
                     resp_type: str = 'json', ok_codes: tuple[int, ...] | None = None,
                     return_empty_response: bool = False, timeout: Any = None, scope: str | None = None,
                     resource: str | None = None, idempotent: bool | None = None,
                     overwrite_rate_limit_retry: bool = False, **kwargs: Any) -> Any:
        """Send one API request (retrying as the policy allows) and return the body as ``resp_type`` says.

        ``resp_type``: 'json' (an empty/204 body gives {}), 'text', 'content', or 'response'/'xml'/'' for the
        Response. ``idempotent=True`` lets a POST be retried on 5xx/connection errors (e.g. read-only queries).
        ``overwrite_rate_limit_retry=True`` (the official name) skips in-process Retry-After waits: the caller
        (fetch, polling internals) gets RetryAfterError at once.
        """
        method = method.upper()
        token_scope = _pick_scope(scope, resource, self.scope)
        retryable = idempotent if idempotent is not None else method in IDEMPOTENT_METHODS
        codes = tuple(ok_codes or self._ok_codes or DEFAULT_OK_CODES)
        rejected: set[str] = set()     # access tokens a 401 refused: each retry after a 401 uses a newer one
        attempt = 0
        while True:
            attempt += 1
            access_token = self.tokens.get_token(token_scope)
            request_headers = {'Authorization': f'Bearer {access_token}', 'Accept': 'application/json'}
            if json_data is not None:
                request_headers['Content-Type'] = 'application/json'
            request_headers.update(self._headers or {})
            request_headers.update(headers or {})
            try:
                res = self._http_request(method, url_suffix, full_url=full_url, params=params, json_data=json_data,
                                         data=data, headers=request_headers, timeout=timeout, resp_type='response',
                                         error_handler=lambda _res: None, **kwargs)
            except (DemistoException, requests.exceptions.RequestException) as exc:
                cause = exc.exception if isinstance(exc, DemistoException) else exc
                if (isinstance(cause, requests.exceptions.RequestException) and _is_transient(cause, retryable)
                        and attempt < self.retry.max_attempts):
                    time.sleep(self._backoff(attempt))
                    continue
                if cause is not None and _is_dropped_tls(cause):   # BaseClient would call it a certificate problem
                    raise DemistoException('The connection to Microsoft was closed before an answer arrived '
                                           '(connection reset during TLS). Check the network and proxy, then run '
                                           'the command again.', cause) from None
                url = full_url or f'{self._base_url}/{url_suffix.lstrip("/")}'
                if cause is not None and (isinstance(cause, _BAD_URL_ERRORS) or _is_reset(cause)):
                    # BaseClient says "Verify that the server URL..." for a reset, and nothing useful for a bad URL
                    raise DemistoException(_unreachable_message(url, cause, attempt, 'to Microsoft'), cause) from None
                if isinstance(exc, DemistoException):
                    raise
                raise DemistoException(_unreachable_message(url, exc, attempt, 'to Microsoft'), exc) from None
            status = res.status_code
            if (status == 401 and 401 not in codes and access_token not in rejected
                    and len(rejected) < MAX_TOKENS_AFTER_401):
                rejected.add(access_token)
                self.tokens.invalidate(token_scope, access_token)
                continue
            if status in (429, 503) and status not in codes:
                wait = _retry_after_seconds(res)
                if status == 429 or wait is not None:
                    wait = self._backoff(attempt) if wait is None else wait
                    if (overwrite_rate_limit_retry or wait > self.retry.max_inline_wait
                            or attempt >= self.retry.max_attempts):
                        raise RetryAfterError(wait, status, res=res)
                    time.sleep(wait)
                    continue
            if status >= 500 and status not in codes and retryable and attempt < self.retry.max_attempts:
                time.sleep(self._backoff(attempt))
                continue
            if status not in codes:
                self._raise_for_status(res)
            return self._cast(res, resp_type, return_empty_response)

    def paginate(self, url_suffix: str = '', params: Any = None, *, scope: str | None = None,
                 resource: str | None = None, limit: int | None = None, value_key: str = 'value') -> Iterator[Any]:
        """Yield items across pages, following ``@odata.nextLink`` only to this API's own origin."""
        body = self.http_request('GET', url_suffix, params=params, scope=scope, resource=resource)
        count = 0
        while True:
            for item in (body or {}).get(value_key) or []:
                yield item
                count += 1
                if limit is not None and count >= limit:
                    return
            next_link = (body or {}).get('@odata.nextLink')
            if not next_link:
                return
            ensure_same_origin(next_link, self._base_url)
            body = self.http_request('GET', full_url=next_link, scope=scope, resource=resource)

    def _backoff(self, attempt: int) -> float:
        return _backoff(attempt, self.retry.backoff_base, self.retry.backoff_max)

    def _raise_for_status(self, res: requests.Response) -> None:
        message = _response_error(res, self.command_prefix)
        if res.status_code == 404:
            raise NotFoundError(f'Not Found - 404 Response. {message}'.strip(), res=res)
        raise DemistoException(f'Error in API call [{res.status_code}] - {res.reason}\n{message}', res=res)

    @staticmethod
    def _cast(res: requests.Response, resp_type: str, return_empty_response: bool) -> Any:
        if return_empty_response and res.status_code == 204:
            return res
        kind = (resp_type or '').lower()
        if kind == 'json':
            if res.status_code == 204 or not res.content:
                return {}
            try:
                body = res.json()
            except ValueError:
                raise DemistoException(f'Failed to parse json object from response: {res.text[:300]}',
                                       res=res) from None
            if not isinstance(body, dict):  # every Microsoft API answers an object; callers rely on it
                kind = 'null' if body is None else 'array' if isinstance(body, list) else 'scalar value'
                raise DemistoException(f'Unexpected response from Microsoft: a JSON {kind} where an object was '
                                       f'expected: {res.text[:300]}', res=res)
            return body
        if kind == 'text':
            return res.text
        if kind == 'content':
            return res.content
        return res


def _pick_scope(scope: str | None, resource: str | None, default: str) -> str:
    if scope:
        return scope
    if resource:
        return f'{resource.rstrip("/")}/.default'
    return default


def retry_after_results(error: RetryAfterError, command: str, args: Mapping[str, Any],
                        max_wait: int = 3600) -> CommandResults:
    """Turn a RetryAfterError into a scheduled rerun of ``command`` (for commands marked ``polling: true``)."""
    if error.retry_after > max_wait:
        raise error
    return CommandResults(readable_output=f'{error.message} The command will run again automatically.',
                          scheduled_command=ScheduledCommand(command=command, next_run_in_seconds=max(error.retry_after, 10),
                                                             args=dict(args), timeout_in_seconds=max_wait + 600))


# ============================================================================================================
# Graph refusals remembered: an app without a Graph permission is not asked again on every command
# ============================================================================================================

GRAPH_REFUSAL_TTL = 3600.0          # seconds a refusal is remembered before Graph is asked again
GRAPH_CONSENT_CODES = frozenset({65001})    # AADSTS65001: the app has no consent for Graph (delegated flows)


def http_status(error: Exception) -> int | None:
    """The HTTP status behind a failed API call (None for failures without a response: a token, a connection)."""
    status = getattr(getattr(error, 'res', None), 'status_code', None)
    return status if isinstance(status, int) else None


def graph_refused(error: Exception) -> bool:
    """True when Microsoft Graph refused for a missing permission: HTTP 403 from the API, or no consent for a Graph
    token. Other failures (throttling, outages, bad queries) are not refusals and must not switch APIs."""
    if isinstance(error, MicrosoftAuthError):
        return bool(GRAPH_CONSENT_CODES.intersection(error.codes))
    return http_status(error) == 403


def graph_permission_error(permission: str, legacy_api: str, delegated_flow: str,
                           legacy_status: int | None = None) -> DemistoException:
    """Graph refused a request the older ``legacy_api`` cannot take over (any more): the error says exactly which
    Graph permission to add, and where, so the user does not have to read Microsoft's 403."""
    legacy = '' if legacy_status is None else (
        f' The {legacy_api}, which Microsoft is retiring, refused the query too (HTTP {legacy_status}).')
    return DemistoException(
        'Microsoft Graph refused the advanced hunting query: the application lacks the Microsoft Graph permission '
        f'{permission}.{legacy} In Microsoft Entra ID, open the app registration, add API permission Microsoft Graph '
        f'> Application permissions > {permission} (Delegated permissions for the {delegated_flow} flow), grant '
        'admin consent, and run the command again.')


class GraphRefusalMemo:
    """Remembers, in the token cache account of the instance's credential (so per app and tenant, and cleared by
    auth-reset), that Graph refused a feature. Automatic modes then go straight to the older API for ``ttl``
    seconds instead of paying a Graph token request and a 403 on every command; after that Graph is asked again,
    so a permission granted meanwhile is picked up within the hour."""

    FIELD = 'graph_refusals'

    def __init__(self, tokens: TokenProvider, feature: str, ttl: float = GRAPH_REFUSAL_TTL) -> None:
        self.tokens = tokens
        self.feature = feature
        self.ttl = ttl

    def active(self) -> bool:
        until = (self.tokens.read_account().get(self.FIELD) or {}).get(self.feature)
        return isinstance(until, (int, float)) and until > _now()

    def remember(self) -> None:
        until = _now() + self.ttl

        def merge(account: dict[str, Any]) -> dict[str, Any]:
            account.setdefault(self.FIELD, {})[self.feature] = until
            return account

        self.tokens.update_account(merge)

    def forget(self) -> None:
        def merge(account: dict[str, Any]) -> dict[str, Any]:
            refusals = account.get(self.FIELD) or {}
            refusals.pop(self.feature, None)
            if refusals:
                account[self.FIELD] = refusals
            else:
                account.pop(self.FIELD, None)
            return account

        if self.feature in (self.tokens.read_account().get(self.FIELD) or {}):
            self.tokens.update_account(merge)


# ============================================================================================================
# Timestamps: Microsoft returns up to 7 fractional digits; normalised strings sort and compare as times
# ============================================================================================================

_MS_TIMESTAMP = re.compile(r'^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$')


def is_timestamp(value: Any) -> bool:
    """True for a string in one of the timestamp forms Microsoft's APIs return."""
    return isinstance(value, str) and bool(_MS_TIMESTAMP.match(value.strip()))


def normalize_ts(value: Any) -> str:
    """A Microsoft timestamp as 'YYYY-MM-DDTHH:MM:SS.fffffffZ' (7 digits, UTC); anything else is refused.

    Python keeps only 6 fractional digits, which would merge distinct events, and the value often goes into an
    OData filter, so only well-formed timestamps pass.
    """
    text = str(value or '').strip()
    match = _MS_TIMESTAMP.match(text)
    if not match:
        raise ValueError(f'Unrecognised timestamp "{text}".')
    day, clock, fraction, zone = match.groups()
    if zone and zone not in ('Z', '+00:00', '+0000', '-00:00'):
        moment = datetime.fromisoformat(f'{day}T{clock}{zone}').astimezone(UTC)
        day, clock = moment.strftime('%Y-%m-%d'), moment.strftime('%H:%M:%S')
    return f'{day}T{clock}.{(fraction or "")[:7].ljust(7, "0")}Z'


def ts_to_datetime(value: str) -> datetime:
    """A timestamp as an aware datetime (microsecond precision: for arithmetic, never for equality)."""
    return datetime.strptime(normalize_ts(value)[:26], '%Y-%m-%dT%H:%M:%S.%f').replace(tzinfo=UTC)


def datetime_to_ts(moment: datetime) -> str:
    """An aware datetime in the normalised form."""
    return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%f') + '0Z'


# ============================================================================================================
# Request helpers: path segments, OData literals and filters, nextLink origins
# ============================================================================================================

def date_arg(value: Any, name: str, required: bool = False) -> datetime | None:
    """``arg_to_datetime`` for a command argument, with one clear error naming it. The platform's library lets
    Python's OverflowError (and, for huge epochs, OSError) through for dates outside what the platform can hold;
    those become the same ValueError as any other bad date, so the war room never shows Python's wording."""
    try:
        return arg_to_datetime(value, name, required=required)
    except (OverflowError, OSError, ValueError) as error:
        if isinstance(error, ValueError) and f'"{name}"' in str(error):
            raise
        raise ValueError(f'Invalid date: "{name}"="{value}". Use an ISO 8601 time such as 2024-05-31T00:00:00Z, '
                         'an epoch in seconds, or a relative time such as "3 days".') from None


def domain_arg(value: Any, name: str = 'domain') -> tuple[str, str]:
    """A domain name argument as (the name as given, its ASCII form). Microsoft's APIs key hosts by their DNS (ASCII)
    name, so an internationalized label (``bücher``) is sent in its IDNA 2008 / punycode form (``xn--bcher-kva``)
    while outputs keep the name the user gave. ASCII labels pass unchanged (underscores included, as DNS has them)."""
    text = '' if value is None else str(value).strip().rstrip('.')
    if not text:
        raise ValueError(f'Missing required argument "{name}".')
    labels = []
    for label in text.split('.'):
        try:
            labels.append(label if label.isascii() else idna.encode(label, uts46=True).decode('ascii'))
        except idna.IDNAError as error:
            raise ValueError(f'Invalid "{name}": "{text}" is not a domain name ({error}).') from None
    return text, '.'.join(labels)


def quote_id(value: Any, name: str = 'id') -> str:
    """An identifier as ONE URL path segment; '', '.' and '..' are refused (they would change the path)."""
    text = '' if value is None else str(value).strip()
    if text in ('', '.', '..'):
        raise ValueError(f'Invalid {name}: "{text}".')
    return urllib.parse.quote(text, safe='')


def ensure_same_origin(url: str, base_url: str) -> str:
    """Refuse a URL (e.g. @odata.nextLink) whose scheme/host/port differ from the API's: the bearer goes nowhere else."""
    def origin(u: str) -> tuple[str, str, int | None]:
        parts = urllib.parse.urlsplit(u)
        scheme = parts.scheme.lower()
        return scheme, (parts.hostname or '').lower(), parts.port or {'https': 443, 'http': 80}.get(scheme)
    if origin(url) != origin(base_url):
        other = urllib.parse.urlsplit(url)
        raise DemistoException(f'Refusing to follow a link to another origin ({other.scheme}://{other.netloc}); the '
                               'API should only page within its own host.')
    return url


def odata_string(value: str) -> str:
    """A quoted OData string literal (single quotes doubled)."""
    return "'" + str(value).replace("'", "''") + "'"


def odata_literal(value: Any) -> str:
    """An OData literal for a Python value: strings quoted, datetimes as UTC ISO 8601, booleans, numbers, null."""
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        spec = 'milliseconds' if moment.microsecond else 'seconds'
        return moment.isoformat(timespec=spec).replace('+00:00', 'Z')
    if isinstance(value, date):
        return value.isoformat()
    return odata_string(str(value))


_FIELD = re.compile(r'^[A-Za-z_][A-Za-z0-9_./]*$')


class ODataFilter:
    """A small ``$filter`` builder: comparisons, ``in``, and/or; every value escaped, every field name checked."""

    @staticmethod
    def _field(name: str) -> str:
        if not _FIELD.match(name or ''):
            raise ValueError(f'Invalid OData field name: "{name}".')
        return name

    @classmethod
    def compare(cls, name: str, op: str, value: Any) -> str:
        if op not in ('eq', 'ne', 'gt', 'ge', 'lt', 'le'):
            raise ValueError(f'Unsupported OData operator: "{op}".')
        return f'{cls._field(name)} {op} {odata_literal(value)}'

    @classmethod
    def eq(cls, name: str, value: Any) -> str:
        return cls.compare(name, 'eq', value)

    @classmethod
    def ge(cls, name: str, value: Any) -> str:
        return cls.compare(name, 'ge', value)

    @classmethod
    def le(cls, name: str, value: Any) -> str:
        return cls.compare(name, 'le', value)

    @classmethod
    def in_(cls, name: str, values: list[Any] | tuple[Any, ...]) -> str:
        if not values:
            raise ValueError(f'The "in" filter on {name} needs at least one value.')
        return f'{cls._field(name)} in ({",".join(odata_literal(v) for v in values)})'

    @staticmethod
    def and_(*clauses: str | None) -> str:
        parts = [c for c in clauses if c]
        return ' and '.join(f'({c})' if ' or ' in c and not (c.startswith('(') and c.endswith(')')) else c
                            for c in parts)

    @staticmethod
    def or_(*clauses: str | None) -> str:
        parts = [c for c in clauses if c]
        return f'({" or ".join(parts)})' if len(parts) > 1 else ''.join(parts)


# ============================================================================================================
# Auth commands (each integration wires them under its prefix)
# ============================================================================================================

def _prefix(client: MicrosoftClient) -> str:
    return client.command_prefix or '<prefix>'


def start_auth(client: MicrosoftClient, complete_command: str | None = None) -> CommandResults:
    """<prefix>-auth-start: begin the device code flow and schedule <prefix>-auth-complete to poll for approval."""
    credential = client.credential
    if not isinstance(credential, DeviceCodeCredential):
        raise DemistoException('auth-start is used with the device code flow only; this instance uses '
                               f'"{credential.flow}".')
    flow = credential.start(client.scope)
    client.tokens.update_account(lambda account: {**account, 'device_flow': flow})
    command = complete_command or f'{_prefix(client)}-auth-complete'
    minutes = max(1, int((flow['expires_at'] - _now()) // 60))
    readable = ('### Authorization instructions\n'
                f'1. Open {flow["verification_uri"]} in a browser.\n'
                f'2. Enter the code **{flow["user_code"]}** and sign in with an account that may use this app '
                f'(the code expires in {minutes} minutes).\n'
                f'3. The sign-in is detected automatically; you can also run ***!{command}*** yourself.')
    return CommandResults(readable_output=readable, scheduled_command=_poll_again(command, flow))


def _poll_again(command: str, flow: Mapping[str, Any]) -> ScheduledCommand:
    remaining = max(10, int(flow['expires_at'] - _now()))
    return ScheduledCommand(command=command, next_run_in_seconds=max(10, int(flow['interval'])),
                            args={'polling': 'true'}, timeout_in_seconds=remaining)


def complete_auth(client: MicrosoftClient, args: Mapping[str, Any] | None = None,
                  complete_command: str | None = None) -> CommandResults:
    """<prefix>-auth-complete: poll the token endpoint once with the stored device code (RFC 8628 §3.4-3.5)."""
    credential = client.credential
    p = _prefix(client)
    if not isinstance(credential, DeviceCodeCredential):
        client.get_access_token()
        return CommandResults(readable_output='✅ Authorization completed successfully.')
    polling = argToBoolean((args or {}).get('polling') or False)
    command = complete_command or f'{p}-auth-complete'
    account = client.tokens.read_account()
    flow = account.get('device_flow')
    if not flow:
        if account.get('refresh_token'):
            return CommandResults(readable_output='✅ Authorization completed successfully.')
        raise DemistoException(f'No sign-in is in progress: run !{p}-auth-start first.')
    if _now() >= float(flow.get('expires_at') or 0):
        _drop_device_flow(client)
        raise DemistoException(f'The device code has expired: run !{p}-auth-start again.')
    try:
        result = credential.poll(flow['device_code'])
    except MicrosoftAuthError as exc:
        return _device_poll_error(client, exc, flow, polling, command)
    client.tokens.store(flow.get('scope') or client.scope, result)
    return CommandResults(readable_output='✅ Authorization completed successfully.')


def _device_poll_error(client: MicrosoftClient, exc: MicrosoftAuthError, flow: dict[str, Any], polling: bool,
                       command: str) -> CommandResults:
    p = _prefix(client)
    if exc.error in ('authorization_pending', 'slow_down'):
        if exc.error == 'slow_down':
            flow = {**flow, 'interval': int(flow.get('interval') or 5) + 5}
            client.tokens.update_account(lambda account: {**account, 'device_flow': flow}
                                         if account.get('device_flow') else account)
        if polling:
            return CommandResults(readable_output='Waiting for the sign-in to be approved...',
                                  scheduled_command=_poll_again(command, flow))
        return CommandResults(readable_output=(
            f'The sign-in is not yet approved. Open {flow.get("verification_uri")}, enter the code '
            f'**{flow.get("user_code")}**, then run !{command} again.'))
    _drop_device_flow(client)
    if exc.error in ('expired_token', 'code_expired') or 70019 in exc.codes:
        raise DemistoException(f'The device code has expired: run !{p}-auth-start again.') from None
    if exc.error in ('access_denied', 'authorization_declined'):
        raise DemistoException(f'The sign-in request was declined. Run !{p}-auth-start to try again.') from None
    raise exc


def _drop_device_flow(client: MicrosoftClient) -> None:
    client.tokens.update_account(lambda account: {k: v for k, v in account.items() if k != 'device_flow'})


def auth_test_command(client: MicrosoftClient) -> CommandResults:
    """<prefix>-auth-test: obtain a token (from cache or Entra) for the client's scope."""
    client.get_access_token()
    return CommandResults(readable_output='✅ Success!')


def _test_command(client: MicrosoftClient, test_command: str | None) -> str:
    """The command that checks the connection: <prefix>-auth-test, unless the integration names its own (MDE keeps the
    official microsoft-atp-test), so no message sends a user to a command the integration does not have."""
    return test_command or f'{_prefix(client)}-auth-test'


def reset_auth(client: MicrosoftClient, test_command: str | None = None) -> CommandResults:
    """<prefix>-auth-reset: forget every token and flow state of this module (nothing else, nothing logged)."""
    client.tokens.reset()
    p = _prefix(client)
    check = _test_command(client, test_command)
    next_step = {
        AuthFlow.DEVICE_CODE: f'Run !{p}-auth-start to sign in again.',
        AuthFlow.AUTHORIZATION_CODE: f'Run !{p}-generate-login-url, sign in, update the Authorization code parameter, '
                                     f'then run !{check}.',
    }.get(client.credential.flow, 'Check the credentials in the instance settings, then click **Test**.')
    return CommandResults(readable_output=f'Authorization was reset successfully. {next_step}')


def generate_login_url(client: MicrosoftClient, test_command: str | None = None) -> CommandResults:
    """<prefix>-generate-login-url: the authorize URL (PKCE S256 + state), remembering the verifier for redemption."""
    credential = client.credential
    if not isinstance(credential, AuthorizationCodeCredential):
        raise DemistoException('generate-login-url is used with the authorization code flow only; this instance uses '
                               f'"{credential.flow}".')
    url, pkce = credential.login_url(client.scope)
    client.tokens.update_account(lambda account: {**account, 'pkce': pkce})
    check = _test_command(client, test_command)
    readable = ('### Authorization instructions\n'
                f'1. Click the [login URL]({url}) and sign in with an account that may use this app.\n'
                f'2. You are redirected to {credential.redirect_uri}; copy the whole address from the browser (or only '
                'the value of `code`).\n'
                '3. Paste it into the **Authorization code** parameter of the instance and save.\n'
                f'4. Run ***!{check}*** to check the connection.')
    return CommandResults(readable_output=readable)


def auth_test_module(client: MicrosoftClient, test_command: str | None = None) -> str:
    """The test-module body for every flow: interactive flows explain which command to run instead."""
    p = _prefix(client)
    check = _test_command(client, test_command)
    flow = client.credential.flow
    if flow == AuthFlow.DEVICE_CODE:
        raise DemistoException(f'The Test button is not available for the device code flow. Run !{p}-auth-start, follow '
                               f'the instructions, then run !{check}.')
    if flow == AuthFlow.AUTHORIZATION_CODE:
        raise DemistoException(f'The Test button is not available for the authorization code flow. Run '
                               f'!{p}-generate-login-url, sign in, paste the code into the Authorization code '
                               f'parameter, then run !{check}.')
    client.get_access_token()
    return 'ok'


def auth_command_table(client: MicrosoftClient, prefix: str | None = None, complete_command: str | None = None,
                       test_command: str | None = None) -> dict[str, Callable[[dict[str, Any]], Any]]:
    """{command name: handler(args)} for the auth commands under ``prefix`` (default: the client's prefix); messages
    name ``test_command`` (default <prefix>-auth-test) as the way to check the connection."""
    p = prefix or _prefix(client)
    complete = complete_command or f'{p}-auth-complete'
    check = test_command or f'{p}-auth-test'
    return {
        f'{p}-auth-start': lambda args: start_auth(client, complete),
        f'{p}-auth-complete': lambda args: complete_auth(client, args, complete),
        f'{p}-auth-test': lambda args: auth_test_command(client),
        f'{p}-auth-reset': lambda args: reset_auth(client, check),
        f'{p}-generate-login-url': lambda args: generate_login_url(client, check),
    }
