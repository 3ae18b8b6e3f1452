"""Looking for secrets where they must never be: the pack-wide leak scan of the reliability suite.

A :class:`SecretSet` holds every secret a run could have handled — client secrets, private keys, certificate
passwords, token-proxy keys, authorization and device codes, and every token the emulator signed — with the forms in
which a careless log line would carry it: as is, URL-encoded (``quote``/``quote_plus``), base64 and base64url at each
of the three byte alignments (a secret inside a larger encoded blob), a private key's base64 body lines, and a JWT's
payload and signature segments. :func:`find_leaks` names what it found (labels, never the secret itself), and
:func:`find_jwts` catches any emulator-style JWT even if it was never registered.
"""
from __future__ import annotations

import base64
import re
import urllib.parse
from dataclasses import dataclass, field

MIN_LENGTH = 10
_JWT = re.compile(r'eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}')


def _b64_cores(raw: bytes) -> set[str]:
    """The part of base64(raw) that stays the same wherever ``raw`` sits in a longer byte string."""
    cores = set()
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b'\0' * shift + raw).decode().rstrip('=')
            start = 4 if shift else 0
            core = text[start:len(text) - 4] if len(text) - 4 - start >= MIN_LENGTH else text[start:]
            cores.add(core)
    return cores


def encoded_forms(secret: str) -> set[str]:
    forms = {secret, urllib.parse.quote(secret, safe=''), urllib.parse.quote_plus(secret)}
    forms |= _b64_cores(secret.encode())
    if secret.count('.') == 2 and secret.startswith('eyJ'):
        forms |= set(secret.split('.')[1:])          # a JWT's payload and signature are secret on their own
    if '-----BEGIN' in secret:
        forms |= {line.strip() for line in secret.splitlines() if line.strip() and not line.startswith('-----')}
    return {f for f in forms if len(f) >= MIN_LENGTH}


@dataclass
class SecretSet:
    forms: dict[str, str] = field(default_factory=dict)   # encoded form -> label
    labels: set[str] = field(default_factory=set)

    def add(self, secret: str | None, label: str) -> None:
        if not secret or len(secret) < MIN_LENGTH:
            return
        self.labels.add(label)
        for form in encoded_forms(secret):
            self.forms.setdefault(form, label)

    def __len__(self) -> int:
        return len(self.labels)


def find_leaks(haystack: str, secrets: SecretSet) -> list[str]:
    """Labels of the secrets whose any form occurs in ``haystack``."""
    return sorted({label for form, label in secrets.forms.items() if form in haystack})


def find_jwts(haystack: str) -> list[str]:
    """Any JWT at all (shown by its first characters only): no output of the pack should ever carry one."""
    return sorted({m.group(0)[:16] + '…' for m in _JWT.finditer(haystack)})
