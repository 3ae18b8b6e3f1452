"""The default seed's identifiers, and small helpers for tests that talk to the emulator."""
from __future__ import annotations

from typing import Any

import requests

TENANT_ID = '8a5e3f1c-6d2b-4e9a-b7c4-1f0d2e3a4b5c'
TENANT_DOMAIN = 'contoso.onmicrosoft.com'
OTHER_TENANT_ID = '2f1e0d9c-8b7a-4c6d-9e5f-a4b3c2d1e0f9'
USER_UPN = 'alex.wilber@contoso.onmicrosoft.com'
USER_OID = '5b8c1d2e-3f4a-4b5c-8d6e-7f8091a2b3c4'

SECRET_APP_ID = '0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e'  # noqa: S105 - fake, test-only
SECRET_APP_SECRET = 'emulator-secret-value~0c1d2e3f4a5b'  # noqa: S105
SECRET_APP_EXPIRED_SECRET = 'emulator-expired-secret~0c1d2e3f4a5b'  # noqa: S105
REDIRECT_URI = 'https://localhost/myapp'
CERT_APP_ID = '1d2e3f4a-5b6c-4d7e-8f90-1a2b3c4d5e6f'
NO_PERMISSIONS_APP_ID = '2e3f4a5b-6c7d-4e8f-901a-2b3c4d5e6f70'
NO_PERMISSIONS_APP_SECRET = 'emulator-no-permissions-secret~2e3f'  # noqa: S105
XSOAR_M365D_APP_ID = '9093c354-630a-47f1-b087-6768eb9427e6'
XSOAR_MDTI_APP_ID = '7f55ea8c-2e5c-4a52-aafa-d0bfc632b242'
OPROXY_APP_ID = '3f4a5b6c-7d8e-4f90-a1b2-c3d4e5f60718'
OPROXY_REGISTRATION_ID = '4a5b6c7d-8e9f-4a0b-b1c2-d3e4f5a6b7c8'
OPROXY_KEY_B64 = 'ZW11bGF0b3Itb3Byb3h5LWFlcy1rZXktMzItYnl0ZXM='
SYSTEM_MI_CLIENT_ID = '6c7d8e9f-0a1b-4c2d-8e3f-4a5b6c7d8e9f'
USER_MI_CLIENT_ID = '7d8e9f0a-1b2c-4d3e-9f4a-5b6c7d8e9f0a'
APP_SERVICE_IDENTITY_HEADER = 'emulator-identity-header-5e6f'
WORKLOAD_ISSUER_NAME = 'aks'                       # emulated OIDC issuer: <url>/_emulator/oidc/aks
WORKLOAD_SUBJECT = 'system:serviceaccount:xsoar:engine'   # the secret app's federated credential subject
WORKLOAD_AUDIENCE = 'api://AzureADTokenExchange'

GRAPH = 'https://graph.microsoft.com'
M365D = 'https://api.security.microsoft.com'
MDE = 'https://api.securitycenter.microsoft.com'


def client_credentials(base_url: str, *, client_id: str = SECRET_APP_ID, secret: str = SECRET_APP_SECRET,
                       scope: str = f'{MDE}/.default', tenant: str = TENANT_ID, verify: Any = True,
                       timeout: float = 10) -> requests.Response:
    return requests.post(f'{base_url}/{tenant}/oauth2/v2.0/token', timeout=timeout, verify=verify, data={
        'grant_type': 'client_credentials', 'client_id': client_id, 'client_secret': secret, 'scope': scope})


def access_token(base_url: str, **kwargs: Any) -> str:
    response = client_credentials(base_url, **kwargs)
    response.raise_for_status()
    return response.json()['access_token']


def workload_identity_issuer(base_url: str, name: str = WORKLOAD_ISSUER_NAME) -> str:
    """The issuer URL of an emulated OIDC issuer, as the emulator reached at ``base_url`` names it."""
    return f'{base_url}/_emulator/oidc/{name}'


def federated_token(base_url: str, *, subject: str = WORKLOAD_SUBJECT, issuer: str = WORKLOAD_ISSUER_NAME,
                    verify: Any = True, **options: Any) -> str:
    """A service-account token from the emulated OIDC issuer (``options``: ``audience``, ``lifetime``,
    ``issued_seconds_ago``, ``claims``), for ``client_assertion`` / ``AZURE_FEDERATED_TOKEN_FILE``."""
    return admin(base_url, 'POST', f'/oidc/{issuer}/token', verify=verify, json={'subject': subject, **options})['token']


def admin(base_url: str, method: str, path: str, verify: Any = True, **kwargs: Any) -> Any:
    """Call the admin API (``path`` relative to ``/_emulator``) and return the JSON answer."""
    response = requests.request(method, f'{base_url}/_emulator{path}', verify=verify, timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()
