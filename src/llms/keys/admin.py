"""The operations on keys that `llms keys …` and the admin API (`/admin/keys`) share:
create (the full key returned this once), list (with each key's spend this period, from the
ledger), update, revoke (also flagged in Redis when limits are shared, so every replica
refuses the key at once)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .periods import period_bounds
from .ring import Limiter
from .store import KeyStore

log = logging.getLogger("llms.keys")


class KeyAdmin:
    def __init__(self, store: KeyStore, limiter: Limiter | None = None,
                 changed: Callable[[], Awaitable[Any]] | None = None) -> None:  # fmt: skip
        self.store = store
        self.limiter = limiter
        self.changed = changed  # the server's key table reloads at once after its own admin API

    async def _changed(self) -> None:
        if self.changed is not None:
            await self.changed()

    async def create(self, name: str, **settings: Any) -> dict[str, Any]:
        key, text = await self.store.create(name, **settings)
        await self._changed()
        return {**key.public(), "key": text}

    async def list(self) -> list[dict[str, Any]]:
        """Every key, with `spend`: USD its requests cost this period (null without a budget)."""
        keys = await self.store.list()
        now = time.time()
        spend: dict[str, dict[str, float]] = {}
        out = []
        for key in keys:
            period = key.period or "month"
            if period not in spend:
                spend[period] = await self.store.spend_since(period_bounds(period, now)[0])
            out.append({**key.public(), "spend": spend[period].get(key.name, 0.0), "spend_period": period})
        return out

    async def update(self, name: str, **settings: Any) -> dict[str, Any]:
        key = await self.store.update(name, **settings)
        await self._changed()
        return key.public()

    async def revoke(self, name: str) -> dict[str, Any]:
        key = await self.store.revoke(name)
        if self.limiter is not None:
            try:
                await self.limiter.revoke(key.id)
            except Exception as e:  # Redis away: the database poll still carries it to every replica
                log.warning("keys: %s revoked in the database but not flagged in Redis (%s)", name, e)
        await self._changed()
        return key.public()
