"""Checks every client assertion gets, whoever signed it: signature and lifetime, with Entra's error codes."""
from __future__ import annotations

import time
from typing import Any

import jwt

from ..errors import EntraError

ASSERTION_LEEWAY = 300   # seconds of clock skew allowed on exp/nbf


def verify_assertion_signature(assertion: str, public_key: Any, alg: str) -> dict[str, Any]:
    """Check a client assertion's signature and lifetime as Entra does (700027 / 700024) and return its claims.

    Audience, issuer and subject are left to the caller: certificate and federated assertions differ there.
    """
    try:
        claims = jwt.decode(assertion, public_key, algorithms=[alg],
                            options={'verify_aud': False, 'verify_exp': False, 'verify_nbf': False,
                                     'verify_iat': False})
    except jwt.InvalidSignatureError as exc:
        raise EntraError(700027, detail='Client assertion failed signature validation. [Reason - The key was '
                                        'found, but the signature is invalid.]') from exc
    except jwt.PyJWTError as exc:
        raise EntraError(700027, detail=f'Client assertion failed signature validation: {exc}.') from exc
    now = time.time()
    exp, nbf = claims.get('exp'), claims.get('nbf')
    if not isinstance(exp, (int, float)) or now > exp + ASSERTION_LEEWAY:
        raise EntraError(700024, detail=f'Current time: {int(now)}, expiry time of assertion {exp}.')
    if isinstance(nbf, (int, float)) and nbf > now + ASSERTION_LEEWAY:
        raise EntraError(700024, detail=f'Current time: {int(now)}, assertion valid from {nbf}.')
    return claims
