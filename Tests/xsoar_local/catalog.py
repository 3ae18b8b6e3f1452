"""The integration catalog: every YAML the runtime reads, parsed once per content hash.

Defender for Endpoint's unified YAML is 6.7k lines. PyYAML's pure-Python loader takes about half a second for it, the
C loader (``CSafeLoader``, built with libyaml) a tenth of that — and a test session that parses it once per execution
spends minutes there. So every YAML document goes through :func:`load_yaml`: the C loader when PyYAML has it, and a
per-process cache keyed by the file's SHA-256, so an edited file is parsed again and an unchanged one never is.
Reading and hashing a file costs milliseconds; only the parse is saved.

Cached documents are shared between callers: treat them as read-only (copy before changing one).
"""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import yaml

# The C loader is an optional part of PyYAML (present when it was built against libyaml, as the wheels are).
SAFE_LOADER: type = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)

_lock = threading.Lock()
_documents: dict[tuple[str, str], Any] = {}


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_yaml(text: str | bytes) -> Any:
    """Parse a YAML document with the fastest safe loader available (no cache: for text not read from a file)."""
    return yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 - SAFE_LOADER is CSafeLoader or SafeLoader


def load_yaml(path: Path) -> Any:
    """The parsed document at ``path``, from the cache when the file's content was parsed before in this process."""
    data = path.read_bytes()
    key = (str(path.resolve()), digest_of(data))
    with _lock:
        if key in _documents:
            return _documents[key]
    document = parse_yaml(data)
    with _lock:
        # Older versions of the same file are dropped: a session that edits a YAML keeps one parse of it.
        for stale in [k for k in _documents if k[0] == key[0] and k != key]:
            del _documents[stale]
        _documents[key] = document
    return document


def clear() -> None:
    """Forget every parsed document (tests that measure parsing)."""
    with _lock:
        _documents.clear()
