"""The keys service as `app` builds it from plain values (never from the config itself): the
store in the ledger's database, the limiter (per process, or shared through Redis), the
server's key table and the admin operations. One per process; a config reload keeps it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .admin import KeyAdmin
from .limiter import LocalLimiter
from .ring import KeyRing, Limiter
from .store import KeyStore, open_store

log = logging.getLogger("llms.keys")


@dataclass(slots=True)
class KeyServices:
    store: KeyStore
    limiter: Limiter
    admin: KeyAdmin
    ring: KeyRing | None = None  # only in the server

    def status(self) -> dict[str, Any]:
        """For /status: the limiter's state (Redis up or down); never a key."""
        keys = len(self.ring.by_prefix) if self.ring is not None else None
        return {"keys": keys, "limits": self.limiter.status()}

    async def aclose(self) -> None:
        if self.ring is not None:
            await self.ring.aclose()
        await self.limiter.aclose()
        await self.store.aclose()


def make_limiter(redis_url: str | None, fail_closed: bool = False) -> Limiter:
    if redis_url:
        from .shared import SharedLimiter

        return SharedLimiter(redis_url, fail_closed=fail_closed)
    return LocalLimiter()


async def open_keys(
    path: Path, dsn: str | None, redis_url: str | None = None, fail_closed: bool = False, serve: bool = True
) -> KeyServices:
    """Open (and migrate) the store; for the server (`serve`) also load the key table, seed
    budgets from the ledger and start polling the table for changes."""
    store = await open_store(path, dsn).open()
    limiter = make_limiter(redis_url, fail_closed)
    services = KeyServices(store, limiter, KeyAdmin(store, limiter))
    if serve:
        services.ring = ring = await KeyRing(store, limiter).start()
        services.admin.changed = ring.refresh
    return services
