"""The emulator's one XdrStore: created and seeded (from the seed file's ``defender_xdr`` section) on first use, kept in
the store registry and reset with the emulator."""
from __future__ import annotations

from ..context import EmulatorContext
from .seed import seed_store
from .store import XdrStore

STORE_NAME = 'defender_xdr'


def get_store(ctx: EmulatorContext) -> XdrStore:
    """The emulator's incident store, created (and seeded from the seed's ``defender_xdr`` section) on first use and
    reset with the emulator."""
    def create() -> XdrStore:
        seed_spec = ctx.state.seed.get('defender_xdr') if isinstance(ctx.state.seed, dict) else None
        return XdrStore(ctx.state.default_tenant_id,
                        seeder=lambda s: seed_store(s, seed_spec if isinstance(seed_spec, dict) else None))
    return ctx.stores.get(STORE_NAME, create)
