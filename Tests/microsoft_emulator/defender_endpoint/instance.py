"""The emulator's one MdeStore: created and seeded (from the seed file's ``defender_endpoint`` section) on first use, kept in
the store registry and reset with the emulator."""
from __future__ import annotations

from ..context import EmulatorContext
from .seed import seed_store
from .store import MdeStore

STORE_NAME = 'defender_endpoint'


def get_store(ctx: EmulatorContext) -> MdeStore:
    """The emulator's Defender for Endpoint store, created (and seeded from the seed's ``defender_endpoint``
    section) on first use and reset with the emulator."""
    def create() -> MdeStore:
        seed_spec = ctx.state.seed.get('defender_endpoint') if isinstance(ctx.state.seed, dict) else None
        spec = seed_spec if isinstance(seed_spec, dict) else None
        return MdeStore(ctx.state.default_tenant_id, seeder=lambda s: seed_store(s, spec))
    return ctx.stores.get(STORE_NAME, create)
