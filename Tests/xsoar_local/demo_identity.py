"""The demo's identity scene: every way the pack can obtain a token, against the emulator over HTTPS.

Confidential and public-client flows go through Microsoft's own client library (msal), which is the strongest proof
that the emulator answers like Entra ID; managed identity and the Cortex XSOAR token proxy are plain HTTP, as the
services define them.
"""
from __future__ import annotations

import base64
import os
import time
import warnings
from collections.abc import Callable
from urllib.parse import parse_qs, urlparse

import jwt
import msal
import requests
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from rich.console import Console

from microsoft_emulator.server import EmulatorServer
from microsoft_emulator.testing import (
    APP_SERVICE_IDENTITY_HEADER,
    CERT_APP_ID,
    GRAPH,
    M365D,
    MDE,
    OPROXY_KEY_B64,
    OPROXY_REGISTRATION_ID,
    REDIRECT_URI,
    SECRET_APP_ID,
    SECRET_APP_SECRET,
    TENANT_ID,
    USER_MI_CLIENT_ID,
    XSOAR_M365D_APP_ID,
    admin,
)

from .render import markdown_table


def _session(server: EmulatorServer) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(server.ca_path)
    return session


def _claims(token: str) -> dict:
    return jwt.decode(token, options={'verify_signature': False})


def _confidential(server: EmulatorServer, client_id: str, credential) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(client_id, client_credential=credential,
                                              authority=f'{server.url}/{TENANT_ID}', instance_discovery=False,
                                              http_client=_session(server))


def _client_secret(server: EmulatorServer) -> str:
    app = _confidential(server, SECRET_APP_ID, SECRET_APP_SECRET)
    return app.acquire_token_for_client(scopes=[f'{MDE}/.default'])['access_token']


def _certificate(server: EmulatorServer) -> str:
    cert = admin(server.url, 'GET', f'/apps/{CERT_APP_ID}/certificate', verify=str(server.ca_path))
    app = _confidential(server, CERT_APP_ID, {'thumbprint': cert['thumbprint_sha1'],
                                              'private_key': cert['private_key_pem']})
    return app.acquire_token_for_client(scopes=[f'{M365D}/.default'])['access_token']


def _device_code(server: EmulatorServer) -> str:
    app = msal.PublicClientApplication(XSOAR_M365D_APP_ID, authority=f'{server.url}/organizations',
                                       instance_discovery=False, http_client=_session(server))
    flow = app.initiate_device_flow(scopes=[f'{M365D}/Incident.Read'])
    flow['interval'] = 0  # the emulator approves on the first poll (--auto-approve); don't wait 5 s for it
    return app.acquire_token_by_device_flow(flow)['access_token']


def _authorization_code(server: EmulatorServer) -> str:
    app = _confidential(server, SECRET_APP_ID, SECRET_APP_SECRET)
    with warnings.catch_warnings():  # msal advises form_post; the demo follows the plain redirect instead
        warnings.simplefilter('ignore', UserWarning)
        flow = app.initiate_auth_code_flow(scopes=[f'{MDE}/Machine.Isolate'], redirect_uri=REDIRECT_URI)
    consent = _session(server).get(flow['auth_uri'], allow_redirects=False, timeout=10)
    reply = {k: v[0] for k, v in parse_qs(urlparse(consent.headers['Location']).query).items()}
    return app.acquire_token_by_auth_code_flow(flow, reply)['access_token']


def _imds(server: EmulatorServer) -> str:
    answer = _session(server).get(f'{server.url}/metadata/identity/oauth2/token', headers={'Metadata': 'true'},
                                  params={'api-version': '2018-02-01', 'resource': M365D,
                                          'client_id': USER_MI_CLIENT_ID}, timeout=10)
    return answer.json()['access_token']


def _app_service(server: EmulatorServer) -> str:
    answer = _session(server).get(f'{server.url}/msi/token', headers={'X-IDENTITY-HEADER': APP_SERVICE_IDENTITY_HEADER},
                                  params={'api-version': '2019-08-01', 'resource': GRAPH}, timeout=10)
    return answer.json()['access_token']


def _token_proxy(server: EmulatorServer) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(base64.b64decode(OPROXY_KEY_B64)).encrypt(nonce, f'{int(time.time())}:{TENANT_ID}'.encode(), None)
    answer = _session(server).post(f'{server.url}/obtain-token', timeout=10, json={
        'app_name': 'ms-defender-atp', 'registration_id': OPROXY_REGISTRATION_ID, 'resource': '', 'scope': None,
        'encrypted_token': base64.b64encode(nonce + sealed).decode()})
    return answer.json()['access_token']


FLOWS: list[tuple[str, Callable[[EmulatorServer], str]]] = [
    ('Client credentials, secret (msal)', _client_secret),
    ('Client credentials, certificate (msal)', _certificate),
    ('Device code (msal, Cortex XSOAR app)', _device_code),
    ('Authorization code + PKCE (msal)', _authorization_code),
    ('Managed identity, IMDS, user-assigned', _imds),
    ('Managed identity, App Service', _app_service),
    ('Cortex XSOAR app via token proxy', _token_proxy),
]


def identity_scene(console: Console, server: EmulatorServer) -> None:
    console.print(f'Emulator at {server.url} (HTTPS, CA {server.ca_path})')
    rows = [['flow', 'audience', 'granted', 'lifetime']]
    for title, flow in FLOWS:
        try:
            claims = _claims(flow(server))
        except Exception as error:  # noqa: BLE001 - a demo row shows the failure instead of stopping
            rows.append([title, f'failed: {error}', '', ''])
            continue
        granted = claims.get('roles') or claims.get('scp', '').split()
        kind = 'roles' if claims.get('roles') else 'scopes'
        rows.append([title, claims['aud'], f'{len(granted)} {kind}', f'{claims["exp"] - claims["iat"]} s'])
    console.print(markdown_table(rows, console.width, 'Tokens issued by the emulated Entra ID'))  # nothing cut
    login_calls = len(server.requests(host='login'))
    console.print(f'{len(server.requests())} requests served, {login_calls} of them by the login host.')
