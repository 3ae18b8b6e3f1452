"""Predictable identifiers and values for seeds: everything a seed makes is a pure function of its inputs, so the
same seed always yields the same IDs, hashes and pseudo-random choices."""
from __future__ import annotations

import hashlib


def mix(value: int) -> int:
    """splitmix64: a well-spread 64-bit hash of an integer."""
    value = (value + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return value ^ (value >> 31)


def hex_digest(text: str, length: int) -> str:
    """The first ``length`` hex digits of SHA-256(text): a stable fake hash, thumbprint or device ID."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def guid(text: str) -> str:
    """A stable GUID-shaped ID derived from ``text``."""
    h = hex_digest(text, 32)
    return f'{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}'
