"""A local emulator of the Microsoft services the Defender packs talk to (Entra ID, managed identities, the
Cortex XSOAR token proxy, and the product APIs, one package per product over a small ``core``), served over real
HTTP(S) on loopback.

``EmulatorServer`` runs it in-process; ``microsoft-emulator serve`` runs it as a process. See README.md.
"""
from __future__ import annotations

__all__ = ['EmulatorServer']


def __getattr__(name: str):
    if name == 'EmulatorServer':
        from .server import EmulatorServer
        return EmulatorServer
    raise AttributeError(name)
