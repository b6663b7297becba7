"""The server's copy of the key table, for finding a presented key without touching the
database on the request path: keys by their clear prefix, then a constant-time comparison of
the secret's digest. A poll every `poll` seconds (one tiny `COUNT/MAX(updated)` query) reloads
the table when the CLI, the admin API or another replica changed it, so a revocation holds
here within a second even without Redis. New keys with a budget get their spend this period
from the ledger (`Limiter.seed`)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from . import token
from .limiter import Decision
from .periods import period_bounds
from .record import ClientKey
from .store import KeyStore

log = logging.getLogger("llms.keys")
MAX_VERIFIED = 10_000


class Limiter(Protocol):
    """What `LocalLimiter` and `SharedLimiter` both offer."""

    async def admit(self, key: ClientKey, estimate: float = 0.0) -> Decision: ...

    def settle(self, decision: Decision, tokens: int | None, cost: float | None) -> None: ...

    async def seed(self, key: ClientKey, spent: float) -> None: ...

    async def revoke(self, key_id: str) -> None: ...

    def status(self) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


class KeyRing:
    def __init__(self, store: KeyStore, limiter: Limiter, poll: float = 0.5) -> None:
        self.store = store
        self.limiter = limiter
        self.poll = poll
        self.by_prefix: dict[str, ClientKey] = {}
        # keys already checked since the table was loaded: a repeat skips parsing and hashing
        # (in memory only, as the requests themselves hold them; emptied on every reload)
        self._verified: dict[str, ClientKey] = {}
        self._stamp: tuple[int, float] | None = None
        self._task: asyncio.Task[None] | None = None

    def find(self, presented: str) -> ClientKey | None:
        """The active key `presented` is, else None (unknown, wrong secret, revoked, expired)."""
        key = self._verified.get(presented)
        if key is not None:
            return key if key.active() else None
        parts = token.parse(presented)
        if parts is None:
            return None
        key = self.by_prefix.get(parts[0])
        if key is None or not token.matches(parts[1], key.hash):
            return None
        if len(self._verified) < MAX_VERIFIED:
            self._verified[presented] = key
        return key if key.active() else None

    async def start(self) -> KeyRing:
        await self.refresh()
        self._task = asyncio.ensure_future(self._watch())
        return self

    async def refresh(self) -> bool:
        """Reload the table if it changed; True if it did."""
        stamp = await self.store.stamp()
        if stamp == self._stamp:
            return False
        keys = await self.store.list()
        seen = {k.id for k in self.by_prefix.values()}
        self.by_prefix = {k.prefix: k for k in keys}
        self._verified = {}
        self._stamp = stamp
        await self._seed([k for k in keys if k.id not in seen and k.budget is not None and k.active()])
        return True

    async def _seed(self, keys: list[ClientKey]) -> None:
        now = time.time()
        spend: dict[str, dict[str, float]] = {}
        for key in keys:
            assert key.period is not None
            if key.period not in spend:
                spend[key.period] = await self.store.spend_since(period_bounds(key.period, now)[0])
            await self.limiter.seed(key, spend[key.period].get(key.name, 0.0))

    async def _watch(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.poll)
            try:
                await self.refresh()
                if failing:
                    log.warning("keys: the key table is readable again")
                failing = False
            except Exception as e:  # the database may be away for a while: keep the last copy
                if not failing:
                    log.error("keys: cannot read the key table (%s); using the copy loaded last", e)
                failing = True

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
