"""Issuing and verifying the emulator's tokens (RS256 JWTs signed with a key kept in the state directory).

Access tokens look like Entra ID v1.0 access tokens, which is what Graph and the Defender APIs receive:
``iss`` = ``https://sts.windows.net/<tid>/``, ``aud`` = the resource identifier, ``appid``, ``tid``, ``oid``,
``sub``, ``roles`` (application permissions) or ``scp`` (delegated, space separated), ``iat``/``nbf``/``exp``.
"""
from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm

from .certs import b64url, load_or_create_key
from .resources import Resource
from .state import App, EmulatorState, User

ISSUER_TEMPLATE = 'https://sts.windows.net/{tid}/'
LEEWAY_SECONDS = 60


class TokenError(Exception):
    """A bearer token the verifier rejects (401)."""


@dataclass
class IssuedToken:
    token: str
    claims: dict[str, Any]

    @property
    def expires_in(self) -> int:
        return int(self.claims['exp'] - self.claims['iat'])


@dataclass
class Principal:
    """Who called an API, from a verified access token."""

    claims: dict[str, Any]
    resource: Resource
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def tenant_id(self) -> str:
        return self.claims.get('tid', '')

    @property
    def client_id(self) -> str:
        return self.claims.get('appid', '')

    @property
    def object_id(self) -> str:
        return self.claims.get('oid', '')

    @property
    def is_app_only(self) -> bool:
        return self.claims.get('idtyp') == 'app'

    def has_any(self, permissions: tuple[str, ...] | list[str]) -> bool:
        return any(p in self.roles or p in self.scopes for p in permissions)


class TokenService:
    def __init__(self, state: EmulatorState, key_path: Path | None = None):
        self.state = state
        self.private_key = load_or_create_key(key_path or state.state_dir / 'signing-key.pem')
        self.public_key = self.private_key.public_key()
        der = self.public_key.public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = b64url(hashlib.sha1(der, usedforsecurity=False).digest())

    # ----- keys -------------------------------------------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        jwk.update({'kid': self.kid, 'x5t': self.kid, 'use': 'sig', 'alg': 'RS256'})
        return {'keys': [jwk]}

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private_key, algorithm='RS256',
                          headers={'typ': 'JWT', 'kid': self.kid, 'x5t': self.kid})

    # ----- issuing ----------------------------------------------------------------------------------------------
    def _base_claims(self, tenant_id: str, aud: str, lifetime: int) -> dict[str, Any]:
        now = int(time.time())
        with self.state.lock:
            generation = self.state.token_generation
        return {
            'aud': aud,
            'iss': ISSUER_TEMPLATE.format(tid=tenant_id),
            'iat': now,
            'nbf': now,
            'exp': now + lifetime,
            'tid': tenant_id,
            'ver': '1.0',
            'uti': b64url(uuid.uuid4().bytes),
            'xms_emu_gen': generation,
        }

    def app_token(self, *, tenant_id: str, resource: Resource, aud: str, client_id: str, object_id: str,
                  roles: set[str] | frozenset[str], appidacr: str = '1', lifetime: int | None = None,
                  extra: dict[str, Any] | None = None) -> IssuedToken:
        """An application (app-only) token: client credentials, managed identities, the token proxy."""
        claims = self._base_claims(tenant_id, aud, lifetime or self.state.settings.access_token_lifetime)
        claims.update({'appid': client_id, 'appidacr': appidacr, 'oid': object_id, 'sub': object_id,
                       'idtyp': 'app', 'roles': sorted(roles)})
        if not roles:
            del claims['roles']
        claims.update(extra or {})
        return IssuedToken(self._sign(claims), claims)

    def user_token(self, *, tenant_id: str, resource: Resource, aud: str, app: App, user: User,
                   scopes: set[str] | frozenset[str], appidacr: str = '0') -> IssuedToken:
        """A delegated token: authorization code, device code, refresh token."""
        claims = self._base_claims(tenant_id, aud, self.state.settings.access_token_lifetime)
        claims.update({
            'appid': app.client_id, 'appidacr': appidacr, 'oid': user.object_id,
            'sub': b64url(hashlib.sha256(f'{user.object_id}:{app.client_id}'.encode()).digest()),
            'upn': user.user_principal_name, 'unique_name': user.user_principal_name, 'name': user.display_name,
            'idtyp': 'user', 'scp': ' '.join(sorted(scopes)), 'amr': ['pwd'],
        })
        return IssuedToken(self._sign(claims), claims)

    def id_token(self, *, issuer: str, app: App, user: User, nonce: str | None) -> str:
        now = int(time.time())
        claims = {
            'aud': app.client_id, 'iss': issuer, 'iat': now, 'nbf': now,
            'exp': now + self.state.settings.access_token_lifetime, 'tid': user.tenant_id, 'oid': user.object_id,
            'sub': b64url(hashlib.sha256(f'{user.object_id}:{app.client_id}'.encode()).digest()),
            'preferred_username': user.user_principal_name, 'name': user.display_name, 'ver': '2.0',
        }
        if nonce:
            claims['nonce'] = nonce
        return self._sign(claims)

    # ----- verifying --------------------------------------------------------------------------------------------
    def verify(self, token: str) -> dict[str, Any]:
        """Signature, lifetime, issuer and the expire-all cutoff. The audience is checked by the caller."""
        try:
            claims = jwt.decode(token, self.public_key, algorithms=['RS256'], leeway=LEEWAY_SECONDS,
                                options={'verify_aud': False, 'require': ['exp', 'iat', 'nbf', 'aud', 'tid']})
        except jwt.ExpiredSignatureError as exc:
            raise TokenError('The token is expired.') from exc
        except jwt.ImmatureSignatureError as exc:
            raise TokenError('The token is not yet valid.') from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenError('The token signature is invalid.') from exc
        except jwt.PyJWTError as exc:
            raise TokenError(f'The token is malformed: {exc}.') from exc
        tid = claims.get('tid', '')
        if claims.get('iss') != ISSUER_TEMPLATE.format(tid=tid):
            raise TokenError('The token issuer is invalid.')
        with self.state.lock:
            known_tenant = tid in self.state.tenants
            generation = self.state.token_generation
        if not known_tenant:
            raise TokenError('The token was issued for an unknown tenant.')
        if int(claims.get('xms_emu_gen', -1)) < generation:
            raise TokenError('The token has been invalidated (all access tokens were expired by the administrator).')
        return claims


def unverified_claims(token: str) -> dict[str, Any]:
    """Claims without any check, for logging and rate-limit keys only."""
    try:
        return jwt.decode(token, options={'verify_signature': False})
    except jwt.PyJWTError:
        return {}
