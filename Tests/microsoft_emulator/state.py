"""The emulator's state: what the seed registers (tenants, apps, users, managed identities, token-proxy
registrations, federated identity credentials) and what the flows create at run time (codes, refresh tokens, used
assertion IDs), plus the signing keys of the emulated external OIDC issuers (workload identity federation).

Every access goes through ``state.lock`` (a re-entrant lock): the server's event loop, the admin API and tests in
other threads all touch it. Registered-at-run-time apps and refresh tokens are written to the state directory so
that a restarted emulator keeps honouring what it issued.
"""
from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import json
import os
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .certs import AppCertificate, b64url, generated_app_certificate, load_or_create_key
from .resources import ResourceCatalog

DEFAULT_SEED = Path(__file__).resolve().parent / 'seed' / 'default.yml'
PUBLIC_TENANT_ALIASES = frozenset({'common', 'organizations', 'consumers'})
TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange'  # noqa: S105 - the audience Entra expects on federated assertions
OIDC_ISSUER_PREFIX = 'oidc:'                              # seed shorthand for an issuer the emulator hosts
OIDC_ISSUER_PATH = '/_emulator/oidc/{name}'
OIDC_ISSUER_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$')
MAX_FEDERATED_CREDENTIALS = 20                            # Entra's limit per application


@dataclass
class Settings:
    auto_approve: bool = False            # approve device codes on first poll; consent authorize requests at once
    rate_limits: bool = False             # enforce the API modules' rate limits
    rate_limit_time_scale: float = 1.0    # multiply every rate-limit window (0.01 turns a minute into 0.6 s)
    access_token_lifetime: int = 3599
    refresh_token_max_inactive: int = 90 * 24 * 3600
    # Entra keeps a redeemed refresh token valid (until inactivity, lifetime or revocation). Single use is an opt-in
    # hardening mode for token services that rotate strictly: a redeemed token then fails with AADSTS70008.
    refresh_token_single_use: bool = False
    auth_code_lifetime: int = 600
    device_code_lifetime: int = 900
    device_code_interval: int = 5
    managed_identity_token_lifetime: int = 86399
    proxy_max_age: int = 600              # token proxy: reject encrypted timestamps older than this (seconds)
    proxy_max_future: int = 60            # ... or further in the future than this
    hang_max_seconds: float = 120.0       # upper bound for "hang" faults

    def update(self, values: dict[str, Any]) -> None:
        names = {f.name: f for f in dataclasses.fields(self)}
        for key, value in values.items():
            if key not in names:
                raise ValueError(f'unknown setting {key!r}')
            current = getattr(self, key)
            if isinstance(current, bool):
                value = _as_bool(value)
            elif isinstance(current, int):
                value = int(value)
            elif isinstance(current, float):
                value = float(value)
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ('1', 'true', 'yes', 'on')
    return bool(value)


@dataclass
class User:
    object_id: str
    user_principal_name: str
    display_name: str
    tenant_id: str


@dataclass
class Tenant:
    tenant_id: str
    name: str
    domains: list[str]
    users: list[User] = field(default_factory=list)


@dataclass
class Secret:
    value: str
    key_id: str
    expires_at: float | None = None
    display_name: str = ''

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


@dataclass
class FederatedCredential:
    """A federated identity credential: the app trusts tokens of ``issuer`` for ``subject`` and ``audiences``.

    ``issuer`` is kept as written: an absolute URL, or ``oidc:<name>`` for an issuer the emulator hosts, which
    stands for ``<base url of the request>/_emulator/oidc/<name>`` (the base URL is not known when the seed loads).
    """

    name: str
    issuer: str
    subject: str
    audiences: list[str]
    description: str = ''

    def resolved_issuer(self, base_url: str) -> str:
        if self.issuer.startswith(OIDC_ISSUER_PREFIX):
            name = self.issuer[len(OIDC_ISSUER_PREFIX):]
            return base_url.rstrip('/') + OIDC_ISSUER_PATH.format(name=name)
        return self.issuer

    def describe(self) -> dict[str, Any]:
        return {'name': self.name, 'issuer': self.issuer, 'subject': self.subject,
                'audiences': list(self.audiences), 'description': self.description}


@dataclass
class OidcIssuerKey:
    """The signing key of an emulated external OIDC issuer (like a Kubernetes cluster's service-account issuer)."""

    name: str
    private_key: rsa.RSAPrivateKey

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    @property
    def kid(self) -> str:
        """As Kubernetes derives it: base64url(SHA-256(DER SubjectPublicKeyInfo))."""
        der = self.public_key.public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
        return b64url(hashlib.sha256(der).digest())


@dataclass
class App:
    client_id: str
    tenant_id: str
    display_name: str
    secrets: list[Secret] = field(default_factory=list)
    certificates: list[AppCertificate] = field(default_factory=list)
    redirect_uris: list[str] = field(default_factory=list)
    roles: dict[str, set[str]] = field(default_factory=dict)       # resource key -> application permissions
    delegated: dict[str, set[str]] = field(default_factory=dict)   # resource key -> delegated permissions
    federated_credentials: list[FederatedCredential] = field(default_factory=list)
    public_client: bool = False    # "Allow public client flows": may redeem device codes etc. without a secret
    multi_tenant: bool = False     # usable from every tenant (the Cortex XSOAR apps are)
    source: str = 'seed'
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def confidential(self) -> bool:
        return bool(self.secrets or self.certificates or self.federated_credentials)

    def service_principal_id(self, tenant_id: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f'sp:{tenant_id}:{self.client_id}'))

    def describe(self) -> dict[str, Any]:
        return {
            'client_id': self.client_id,
            'tenant_id': self.tenant_id,
            'display_name': self.display_name,
            'public_client': self.public_client,
            'multi_tenant': self.multi_tenant,
            'redirect_uris': list(self.redirect_uris),
            'permissions': {k: sorted(v) for k, v in self.roles.items() if v},
            'delegated_scopes': {k: sorted(v) for k, v in self.delegated.items() if v},
            'secrets': [{'key_id': s.key_id, 'value': s.value, 'display_name': s.display_name,
                         'expires': _iso(s.expires_at)} for s in self.secrets],
            'certificates': [{'thumbprint_sha1': c.sha1_thumbprint, 'thumbprint_sha256': c.sha256_thumbprint}
                             for c in self.certificates],
            'federated_credentials': [f.describe() for f in self.federated_credentials],
            'source': self.source,
        }


@dataclass
class ManagedIdentity:
    kind: str                      # system_assigned | user_assigned
    client_id: str
    object_id: str
    tenant_id: str
    resource_id: str = ''
    display_name: str = ''
    roles: dict[str, set[str]] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {'type': self.kind, 'client_id': self.client_id, 'object_id': self.object_id,
                'tenant_id': self.tenant_id, 'resource_id': self.resource_id, 'display_name': self.display_name,
                'permissions': {k: sorted(v) for k, v in self.roles.items() if v}}


@dataclass
class ProxyRegistration:
    registration_id: str
    key_b64: str
    tenant_id: str
    client_id: str
    app_names: list[str]

    @property
    def key(self) -> bytes:
        return base64.b64decode(self.key_b64)

    def allows(self, app_name: str) -> bool:
        return '*' in self.app_names or app_name in self.app_names


@dataclass
class RefreshToken:
    token: str
    client_id: str
    tenant_id: str
    user_oid: str
    scopes: list[str]
    issued_at: float
    last_used: float
    status: str = 'active'          # active | rotated (redeemed at least once) | revoked
    origin: str = 'entra'           # entra | oproxy
    registration_id: str = ''


@dataclass
class AuthCode:
    code: str
    client_id: str
    tenant_id: str
    user_oid: str
    redirect_uri: str
    scopes: list[str]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    created: float
    redeemed: bool = False


@dataclass
class DeviceCode:
    device_code: str
    user_code: str
    client_id: str
    path_tenant: str
    scopes: list[str]
    created: float
    expires_at: float
    interval: int
    v1_resource: str | None = None
    status: str = 'pending'         # pending | approved | denied | redeemed
    user_oid: str | None = None
    last_poll: float | None = None

    def describe(self) -> dict[str, Any]:
        return {'user_code': self.user_code, 'client_id': self.client_id, 'tenant': self.path_tenant,
                'scopes': self.scopes, 'status': self.status, 'expires_at': _iso(self.expires_at),
                'user_oid': self.user_oid}


@dataclass
class AuthorizeRequest:
    request_id: str
    path_tenant: str
    client_id: str
    params: dict[str, str]
    created: float


def _iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace('+00:00', 'Z') if epoch is not None else None


def _parse_expiry(value: Any) -> float | None:
    if value in (None, '', 'never'):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    parsed = datetime.fromisoformat(str(value).replace('Z', '+00:00'))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def load_seed(source: str | Path | dict[str, Any] | None) -> dict[str, Any]:
    """A seed from a dict, a YAML/JSON file, or the packaged default."""
    if isinstance(source, dict):
        return copy.deepcopy(source)
    path = Path(source) if source else DEFAULT_SEED
    text = path.read_text(encoding='utf-8')
    data = json.loads(text) if path.suffix.lower() == '.json' else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f'{path}: a seed must be a mapping')
    return data


class SeedError(ValueError):
    pass


def _federated_credentials(client_id: str, raw: Any) -> list[FederatedCredential]:
    """``federated_credentials: [{issuer, subject, audiences?, name?, description?}]`` of an app spec."""
    if raw in (None, ''):
        return []
    if not isinstance(raw, list):
        raise SeedError(f'app {client_id}: federated_credentials must be a list')
    if len(raw) > MAX_FEDERATED_CREDENTIALS:
        raise SeedError(f'app {client_id}: at most {MAX_FEDERATED_CREDENTIALS} federated credentials per app')
    out: list[FederatedCredential] = []
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not item.get('issuer') or not item.get('subject'):
            raise SeedError(f'app {client_id}: federated credential {i + 1} needs an issuer and a subject')
        issuer, subject = str(item['issuer']).strip(), str(item['subject']).strip()
        if issuer.startswith(OIDC_ISSUER_PREFIX):
            if not OIDC_ISSUER_NAME.match(issuer[len(OIDC_ISSUER_PREFIX):]):
                raise SeedError(f'app {client_id}: {issuer!r} does not name an emulated OIDC issuer (oidc:<name>)')
        elif not issuer.startswith(('https://', 'http://')):
            raise SeedError(f'app {client_id}: federated credential issuer {issuer!r} must be a URL or oidc:<name>')
        audiences = item.get('audiences', [TOKEN_EXCHANGE_AUDIENCE])
        if isinstance(audiences, str):
            audiences = [audiences]
        if not isinstance(audiences, list) or not audiences or not all(isinstance(a, str) and a for a in audiences):
            raise SeedError(f'app {client_id}: federated credential {i + 1} needs a non-empty list of audiences')
        if (issuer, subject) in seen:
            raise SeedError(f'app {client_id}: two federated credentials with issuer {issuer!r} and subject '
                            f'{subject!r}')
        seen.add((issuer, subject))
        out.append(FederatedCredential(name=str(item.get('name') or f'federated-credential-{i + 1}'),
                                       issuer=issuer, subject=subject, audiences=list(audiences),
                                       description=str(item.get('description') or '')))
    return out


class EmulatorState:
    """Everything the emulator knows. Use ``with state.lock:`` around any read-modify-write."""

    def __init__(self, seed: dict[str, Any], state_dir: Path, catalog: ResourceCatalog | None = None,
                 settings: dict[str, Any] | None = None):
        self.lock = threading.RLock()
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = catalog or ResourceCatalog()
        self.seed = seed
        self._settings_overrides = dict(settings or {})
        self.token_generation = 0
        self._oidc_keys: dict[str, OidcIssuerKey] = {}   # kept across resets, like the token-signing key
        self._load_seed()
        self._load_runtime()

    # ----- seed -------------------------------------------------------------------------------------------------
    def _load_seed(self) -> None:
        seed = self.seed
        self.settings = Settings()
        self.settings.update(seed.get('settings') or {})
        self.settings.update(self._settings_overrides)
        self.tenants: dict[str, Tenant] = {}
        for t in seed.get('tenants') or []:
            tenant = Tenant(tenant_id=str(t['id']).lower(), name=t.get('name', t['id']),
                            domains=[d.lower() for d in t.get('domains', [])])
            for u in t.get('users') or []:
                tenant.users.append(User(object_id=str(u['id']).lower(), user_principal_name=u['user_principal_name'],
                                         display_name=u.get('display_name', u['user_principal_name']),
                                         tenant_id=tenant.tenant_id))
            self.tenants[tenant.tenant_id] = tenant
        if not self.tenants:
            raise SeedError('the seed must register at least one tenant')
        self.apps: dict[str, App] = {}
        for spec in seed.get('apps') or []:
            self._add_app(spec, source='seed')
        self.managed_identities: list[ManagedIdentity] = []
        for spec in seed.get('managed_identities') or []:
            tenant_id = str(spec.get('tenant_id') or self.default_tenant_id).lower()
            self.managed_identities.append(ManagedIdentity(
                kind=spec.get('type', 'user_assigned'), client_id=str(spec['client_id']).lower(),
                object_id=str(spec.get('object_id') or uuid.uuid5(uuid.NAMESPACE_URL, f'mi:{spec["client_id"]}')),
                tenant_id=tenant_id, resource_id=spec.get('resource_id', ''),
                display_name=spec.get('display_name', ''), roles=self._grant(spec.get('permissions') or [], 'role')))
        proxy = seed.get('token_proxy') or {}
        self.proxy_default_resources: dict[str, str] = dict(proxy.get('default_resources') or {})
        self.proxy_registrations: dict[str, ProxyRegistration] = {}
        for spec in proxy.get('registrations') or []:
            reg = ProxyRegistration(registration_id=str(spec['registration_id']), key_b64=spec['key'],
                                    tenant_id=str(spec['tenant_id']).lower(), client_id=str(spec['client_id']).lower(),
                                    app_names=list(spec.get('app_names') or ['*']))
            if len(reg.key) not in (16, 24, 32):
                raise SeedError(f'token proxy registration {reg.registration_id}: the key must be 16, 24 or 32 bytes')
            self.proxy_registrations[reg.registration_id] = reg
        self.app_service_identity_header: str = (seed.get('app_service') or {}).get(
            'identity_header', 'emulator-identity-header')
        # Run-time records.
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.auth_codes: dict[str, AuthCode] = {}
        self.device_codes: dict[str, DeviceCode] = {}
        self.authorize_requests: dict[str, AuthorizeRequest] = {}
        self.used_assertions: dict[str, float] = {}

    @property
    def default_tenant_id(self) -> str:
        return next(iter(self.tenants))

    def _grant(self, specs: list[str], kind: str) -> dict[str, set[str]]:
        grants: dict[str, set[str]] = {}
        for spec in specs:
            found = self.catalog.resolve_permission(str(spec))
            found = [(r, n) for r, n in found if (n in r.app_roles if kind == 'role' else n in r.delegated)]
            if not found:
                what = 'application permission' if kind == 'role' else 'delegated permission'
                raise SeedError(f'{spec!r} is not a known {what} of any resource')
            for resource, name in found:
                grants.setdefault(resource.key, set()).add(name)
        return grants

    def _add_app(self, spec: dict[str, Any], source: str) -> App:
        client_id = str(spec.get('client_id') or uuid.uuid4()).lower()
        tenant_id = str(spec.get('tenant_id') or self.default_tenant_id).lower()
        if tenant_id not in self.tenants:
            raise SeedError(f'app {client_id}: unknown tenant {tenant_id}')
        app = App(client_id=client_id, tenant_id=tenant_id, display_name=spec.get('display_name') or client_id,
                  redirect_uris=list(spec.get('redirect_uris') or []),
                  roles=self._grant(list(spec.get('permissions') or []), 'role'),
                  delegated=self._grant(list(spec.get('delegated_scopes') or []), 'delegated'),
                  public_client=bool(spec.get('public_client', False)),
                  multi_tenant=bool(spec.get('multi_tenant', False)), source=source, spec=copy.deepcopy(spec))
        raw_secrets = list(spec.get('secrets') or [])
        if spec.get('client_secret'):
            raw_secrets.append({'value': spec['client_secret'], 'expires': spec.get('client_secret_expires')})
        for i, s in enumerate(raw_secrets):
            s = s if isinstance(s, dict) else {'value': s}
            app.secrets.append(Secret(value=str(s['value']), key_id=str(s.get('key_id') or uuid.uuid4()),
                                      expires_at=_parse_expiry(s.get('expires')),
                                      display_name=s.get('display_name', f'secret {i + 1}')))
        raw_certs = list(spec.get('certificates') or [])
        if spec.get('certificate_pem'):
            raw_certs.append({'certificate_pem': spec['certificate_pem'], 'private_key_pem': spec.get('private_key_pem')})
        for i, c in enumerate(raw_certs):
            if c.get('generate'):
                path = self.state_dir / 'certs' / f'{client_id}-{i}.pem'
                app.certificates.append(generated_app_certificate(path, f'{app.display_name} (emulator)'))
            else:
                app.certificates.append(AppCertificate(certificate_pem=c['certificate_pem'],
                                                       private_key_pem=c.get('private_key_pem')))
        app.federated_credentials = _federated_credentials(client_id, spec.get('federated_credentials'))
        with self.lock:
            self.apps[client_id] = app
        return app

    # ----- run-time registration -------------------------------------------------------------------------------
    def register_app(self, spec: dict[str, Any]) -> App:
        with self.lock:
            app = self._add_app(spec, source='runtime')
            self._save_runtime()
            return app

    def delete_app(self, client_id: str) -> bool:
        with self.lock:
            found = self.apps.pop(client_id.lower(), None)
            self._save_runtime()
            return found is not None

    # ----- lookups ----------------------------------------------------------------------------------------------
    def find_tenant(self, value: str) -> Tenant | None:
        value = (value or '').lower()
        with self.lock:
            if value in self.tenants:
                return self.tenants[value]
            for tenant in self.tenants.values():
                if value in tenant.domains:
                    return tenant
        return None

    def get_app(self, client_id: str) -> App | None:
        with self.lock:
            return self.apps.get((client_id or '').lower())

    def all_users(self) -> list[User]:
        with self.lock:
            return [u for t in self.tenants.values() for u in t.users]

    def find_user(self, value: str | None, tenant_id: str | None = None) -> User | None:
        """By object ID or UPN; without a value, the first user of ``tenant_id`` (or of the first tenant)."""
        users = self.all_users()
        if value:
            value = value.lower()
            return next((u for u in users if value in (u.object_id, u.user_principal_name.lower())), None)
        if tenant_id:
            users = [u for u in users if u.tenant_id == tenant_id] or users
        return users[0] if users else None

    def find_managed_identity(self, client_id: str | None = None, object_id: str | None = None,
                              resource_id: str | None = None) -> ManagedIdentity | None:
        with self.lock:
            if client_id:
                return next((m for m in self.managed_identities if m.client_id == client_id.lower()), None)
            if object_id:
                return next((m for m in self.managed_identities if m.object_id == object_id.lower()), None)
            if resource_id:
                return next((m for m in self.managed_identities
                             if m.resource_id.lower() == resource_id.lower()), None)
            return next((m for m in self.managed_identities if m.kind == 'system_assigned'), None)

    # ----- emulated external OIDC issuers (workload identity federation) ----------------------------------------
    def oidc_issuer_key(self, name: str, create: bool = True) -> OidcIssuerKey | None:
        """The signing key of the emulated issuer ``name``, kept in ``<state dir>/oidc/<name>.pem`` (made on first
        use unless ``create`` is false)."""
        if not OIDC_ISSUER_NAME.match(name or ''):
            raise ValueError(f'invalid OIDC issuer name {name!r} (letters, digits, ".", "_", "-")')
        with self.lock:
            found = self._oidc_keys.get(name)
            if found is not None:
                return found
            path = self.state_dir / 'oidc' / f'{name}.pem'
            if not create and not path.exists():
                return None
            issuer_key = OidcIssuerKey(name=name, private_key=load_or_create_key(path))
            self._oidc_keys[name] = issuer_key
            return issuer_key

    # ----- refresh tokens ---------------------------------------------------------------------------------------
    def new_refresh_token(self, client_id: str, tenant_id: str, user_oid: str, scopes: list[str],
                          origin: str = 'entra', registration_id: str = '') -> RefreshToken:
        now = time.time()
        rt = RefreshToken(token='1.AX' + secrets.token_urlsafe(96), client_id=client_id, tenant_id=tenant_id,
                          user_oid=user_oid, scopes=list(scopes), issued_at=now, last_used=now, origin=origin,
                          registration_id=registration_id)
        with self.lock:
            self.refresh_tokens[rt.token] = rt
            self._save_runtime()
        return rt

    def revoke_refresh_tokens(self, client_id: str | None = None, tenant_id: str | None = None) -> int:
        count = 0
        with self.lock:
            for rt in self.refresh_tokens.values():
                if rt.status == 'active' and (not client_id or rt.client_id == client_id.lower()) and (
                        not tenant_id or rt.tenant_id == tenant_id.lower()):
                    rt.status = 'revoked'
                    count += 1
            self._save_runtime()
        return count

    def age_refresh_tokens(self, seconds: float | None = None, client_id: str | None = None) -> int:
        """Pretend active refresh tokens were last used ``seconds`` ago (default: just past the inactivity limit)."""
        count = 0
        with self.lock:
            shift = seconds if seconds is not None else self.settings.refresh_token_max_inactive + 60
            for rt in self.refresh_tokens.values():
                if rt.status == 'active' and (not client_id or rt.client_id == client_id.lower()):
                    rt.last_used -= shift
                    rt.issued_at -= shift
                    count += 1
            self._save_runtime()
        return count

    def expire_access_tokens(self) -> int:
        """Every access token issued so far stops verifying (the generation claim falls behind)."""
        with self.lock:
            self.token_generation += 1
            self._save_runtime()
            return self.token_generation

    # ----- persistence ------------------------------------------------------------------------------------------
    @property
    def _runtime_path(self) -> Path:
        return self.state_dir / 'runtime.json'

    def _save_runtime(self) -> None:
        with self.lock:
            data = {
                'token_generation': self.token_generation,
                'apps': [a.spec | {'client_id': a.client_id, 'tenant_id': a.tenant_id}
                         for a in self.apps.values() if a.source == 'runtime'],
                'refresh_tokens': [dataclasses.asdict(rt) for rt in self.refresh_tokens.values()],
            }
            tmp = self._runtime_path.with_suffix('.tmp')
            tmp.write_text(json.dumps(data), encoding='utf-8')
            os.replace(tmp, self._runtime_path)

    def _load_runtime(self) -> None:
        if not self._runtime_path.exists():
            return
        try:
            data = json.loads(self._runtime_path.read_text(encoding='utf-8'))
        except (OSError, ValueError):
            return
        self.token_generation = int(data.get('token_generation', 0))
        for spec in data.get('apps') or []:
            try:
                self._add_app(spec, source='runtime')
            except (SeedError, KeyError, ValueError):
                continue
        for raw in data.get('refresh_tokens') or []:
            try:
                rt = RefreshToken(**raw)
            except TypeError:
                continue
            self.refresh_tokens[rt.token] = rt

    def reset(self) -> None:
        """Back to the seed: run-time apps, codes, refresh tokens and settings changes are dropped."""
        with self.lock:
            self._load_seed()
            self._save_runtime()

    def describe(self) -> dict[str, Any]:
        with self.lock:
            return {
                'tenants': [{'id': t.tenant_id, 'name': t.name, 'domains': t.domains,
                             'users': [dataclasses.asdict(u) for u in t.users]} for t in self.tenants.values()],
                'apps': [a.describe() for a in self.apps.values()],
                'managed_identities': [m.describe() for m in self.managed_identities],
                'token_proxy': {'default_resources': self.proxy_default_resources,
                                'registrations': [dataclasses.asdict(r) for r in self.proxy_registrations.values()]},
                'app_service': {'identity_header': self.app_service_identity_header},
                'settings': self.settings.as_dict(),
                'token_generation': self.token_generation,
                'device_codes': [d.describe() for d in self.device_codes.values()],
                'refresh_tokens': {'active': sum(1 for r in self.refresh_tokens.values() if r.status == 'active'),
                                   'total': len(self.refresh_tokens)},
            }
