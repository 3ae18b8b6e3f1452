"""Error responses in the shapes Microsoft's services use.

* Entra ID (login host): ``{"error", "error_description": "AADSTS<code>: ...\\r\\nTrace ID...", "error_codes",
  "timestamp", "trace_id", "correlation_id", "error_uri"}``.
* Graph and the Defender APIs: ``{"error": {"code", "message", ...}}``.
* Azure IMDS: ``{"error", "error_description"}``; App Service's identity endpoint: ``{"statusCode", "message"}``.
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse

from .requestlog import annotate

WORKLOAD_IDENTITY_DOC = 'https://learn.microsoft.com/entra/workload-id/workload-identity-federation'

# code -> (OAuth error, HTTP status, description template)
ENTRA_ERRORS: dict[int, tuple[str, int, str]] = {
    900144: ('invalid_request', 400, "The request body must contain the following parameter: '{param}'."),
    90002: ('invalid_request', 400,
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the "
            "correct cloud. Check with your subscription administrator, this may happen if there are no active "
            "subscriptions for the tenant."),
    700016: ('unauthorized_client', 400,
             "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen "
             "if the application has not been installed by the administrator of the tenant or consented to by any "
             "user in the tenant. You may have sent your authentication request to the wrong tenant."),
    7000215: ('invalid_client', 401,
              "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
              "value, not the client secret ID, for a secret added to app '{client_id}'."),
    7000222: ('invalid_client', 401,
              "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create "
              "new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for "
              "added security: https://aka.ms/certCreds."),
    7000218: ('invalid_client', 401,
              "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."),
    700025: ('invalid_client', 401,
             "Client is public so neither 'client_assertion' nor 'client_secret' should be presented."),
    700027: ('invalid_client', 401, '{detail}'),
    700024: ('invalid_client', 401, 'Client assertion is not within its valid time range. {detail}'),
    700021: ('invalid_client', 401,
             "Client assertion application identifier doesn't match 'client_id' parameter. {detail}"),
    # Workload identity federation (a client assertion issued by an external OIDC issuer).
    700211: ('invalid_client', 401,
             "No matching federated identity record found for presented assertion issuer '{issuer}'. Please check "
             "your federated identity credential Subject, Audience and Issuer against the presented assertion. "
             + WORKLOAD_IDENTITY_DOC),
    700212: ('invalid_client', 401,
             "No matching federated identity record found for presented assertion audience '{audience}'. Please "
             "check your federated identity credential Subject, Audience and Issuer against the presented "
             "assertion. " + WORKLOAD_IDENTITY_DOC),
    700213: ('invalid_client', 401,
             "No matching federated identity record found for presented assertion subject '{subject}'. Please check "
             "your federated identity credential Subject, Audience and Issuer against the presented assertion. "
             + WORKLOAD_IDENTITY_DOC),
    7000272: ('invalid_client', 401,
              'The certificate with identifier {kid} used to sign the federated credential could not be found in the '
              "metadata of identity provider {issuer}. Please validate that your Identity Provider's metadata "
              'exposes the key used to sign the incoming token.{detail}'),
    70016: ('authorization_pending', 400, 'OAuth 2.0 device flow error. Authorization is pending. Continue polling.'),
    70019: ('expired_token', 400, 'Verification code expired.'),
    65004: ('authorization_declined', 400, 'User declined to consent to access the app.'),
    70008: ('invalid_grant', 400,
            'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive '
            'authorization request for this user and resource.{detail}'),
    700082: ('invalid_grant', 400,
             'The refresh token has expired due to inactivity. The token was issued on {issued} and was inactive '
             'for {inactive}.'),
    50173: ('invalid_grant', 400,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might "
            "have changed or reset their password. The grant was issued on '{issued}' and the TokensValidFrom date "
            "(before which tokens are not valid) for this user is '{valid_from}'."),
    54005: ('invalid_grant', 400,
            'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing '
            'refresh token.'),
    500011: ('invalid_resource', 400,
             'The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if '
             'the application has not been installed by the administrator of the tenant or consented to by any '
             'user in the tenant. You might have sent your authentication request to the wrong tenant.'),
    65001: ('invalid_grant', 400,
            "The user or administrator has not consented to use the application with ID '{client_id}' named "
            "'{app_name}'. Send an interactive authorization request for this user and resource."),
    70011: ('invalid_scope', 400,
            "The provided value for the input parameter 'scope' is not valid. The scope '{scope}' is not valid."
            '{detail}'),
    28000: ('invalid_scope', 400,
            'Provided value for the input parameter scope is not valid because it contains more than one resource. '
            'Scope {scope} is not valid.'),
    70003: ('unsupported_grant_type', 400, "The app requested an unsupported grant type '{grant_type}'."),
    9002313: ('invalid_grant', 400, 'Invalid request. Request is malformed or invalid.{detail}'),
    70000: ('invalid_grant', 400, 'Provided grant is invalid or malformed. {detail}'),
    501481: ('invalid_grant', 400,
             'The Code_Verifier does not match the code_challenge supplied in the authorization request.'),
    50011: ('invalid_request', 400,
            "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured "
            "for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to "
            "your application in the Azure portal."),
    900971: ('invalid_request', 400, 'No reply address provided.'),
    90033: ('temporarily_unavailable', 503, 'A transient error has occurred. Please try again.'),
    50196: ('temporarily_unavailable', 429,
            'The server terminated an operation because it encountered a client request loop. Please contact your '
            'app vendor.'),
    7000112: ('unauthorized_client', 400, "Application '{client_id}'({app_name}) is disabled."),
}


class EntraError(Exception):
    """Raised anywhere in the identity code; the endpoint turns it into an Entra-shaped response."""

    def __init__(self, code: int, status: int | None = None, **fields: Any):
        self.code = code
        self.fields = fields
        error, default_status, _ = ENTRA_ERRORS[code]
        self.error = fields.pop('error', None) or error
        self.status = status or default_status
        super().__init__(f'AADSTS{code}: {self.description_text()}')

    def description_text(self) -> str:
        template = ENTRA_ERRORS[self.code][2]
        values: defaultdict[str, Any] = defaultdict(str, self.fields)
        if values['detail']:
            values['detail'] = ' ' + str(values['detail']).strip()
        return template.format_map(values).replace('  ', ' ').strip()


def _timestamp() -> str:
    return datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%SZ')


def entra_error_body(err: EntraError, correlation_id: str | None = None) -> dict[str, Any]:
    trace_id = str(uuid.uuid4())
    correlation_id = correlation_id or str(uuid.uuid4())
    ts = _timestamp()
    description = (f'AADSTS{err.code}: {err.description_text()}\r\nTrace ID: {trace_id}\r\n'
                   f'Correlation ID: {correlation_id}\r\nTimestamp: {ts}')
    return {
        'error': err.error,
        'error_description': description,
        'error_codes': [err.code],
        'timestamp': ts,
        'trace_id': trace_id,
        'correlation_id': correlation_id,
        'error_uri': f'https://login.microsoftonline.com/error?code={err.code}',
    }


def entra_error_response(err: EntraError, correlation_id: str | None = None,
                         headers: dict[str, str] | None = None) -> JSONResponse:
    annotate(error=err.error, error_code=err.code)
    return JSONResponse(entra_error_body(err, correlation_id), status_code=err.status, headers=headers)


def api_error_body(code: str, message: str) -> dict[str, Any]:
    """Graph / Defender style: ``{"error": {"code", "message", "innerError"}}``."""
    return {'error': {
        'code': code,
        'message': message,
        'innerError': {'date': datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%S'), 'request-id': str(uuid.uuid4()),
                       'client-request-id': str(uuid.uuid4())},
    }}


def api_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    annotate(error=code)
    return JSONResponse(api_error_body(code, message), status_code=status, headers=headers)


def imds_error(status: int, error: str, description: str) -> JSONResponse:
    annotate(error=error)
    return JSONResponse({'error': error, 'error_description': description}, status_code=status)


def app_service_error(status: int, message: str) -> JSONResponse:
    annotate(error=f'status_{status}')
    return JSONResponse({'statusCode': status, 'message': message, 'correlationId': str(uuid.uuid4())},
                        status_code=status)


def proxy_error(status: int, error: str, description: str) -> JSONResponse:
    annotate(error=error)
    return JSONResponse({'error': error, 'error_description': description, 'status': status}, status_code=status)


_STATUS_CODES = {429: 'TooManyRequests', 500: 'InternalServerError', 502: 'BadGateway', 503: 'ServiceUnavailable',
                 504: 'GatewayTimeout'}


def fault_body(host: str, status: int, retry_after: int | None) -> dict[str, Any]:
    """The body an injected error carries, shaped like the logical service it pretends to come from."""
    if host == 'login':
        return entra_error_body(EntraError(50196 if status == 429 else 90033, status=status))
    if host in ('imds', 'oproxy'):
        error = 'too_many_requests' if status == 429 else 'service_unavailable'
        return {'error': error, 'error_description': f'Injected fault: HTTP {status}.'}
    if host == 'appservice':
        return {'statusCode': status, 'message': f'Injected fault: HTTP {status}.'}
    code = _STATUS_CODES.get(status, 'UnknownError')
    if status == 429:
        wait = f' Try again in {retry_after} seconds.' if retry_after is not None else ''
        message = f'Rate limit is exceeded.{wait}'
    else:
        message = f'The service is temporarily unavailable (injected fault, HTTP {status}).'
    return api_error_body(code, message)
