"""One client key as the gateway knows it (`ClientKey`): its name, what it may use and its
limits, and the digest of its secret — never the secret. `public()` is the shape the CLI and
the admin API show: no digest."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import orjson

Period = Literal["day", "week", "month"]
PERIODS: tuple[str, ...] = ("day", "week", "month")

# Column order of the `client_keys` table.
COLUMNS: tuple[str, ...] = (
    "id", "name", "prefix", "hash", "models", "rpm", "tpm", "budget", "period", "expires", "revoked",
    "created", "updated",
)  # fmt: skip
# What `update` may change.
MUTABLE: frozenset[str] = frozenset({"models", "rpm", "tpm", "budget", "period", "expires"})


@dataclass(frozen=True, slots=True)
class ClientKey:
    """`models` None: every model. `rpm`/`tpm`/`budget` None: no limit. `budget` is USD per
    `period` (UTC calendar day, ISO week or month). `expires`/`revoked`/`created` are unix
    seconds; `updated` changes on every write (the server polls it)."""

    id: str
    name: str
    prefix: str
    hash: str = field(repr=False)
    models: tuple[str, ...] | None = None
    rpm: int | None = None
    tpm: int | None = None
    budget: float | None = None
    period: Period | None = None
    expires: float | None = None
    revoked: float | None = None
    created: float = 0.0
    updated: float = 0.0

    def active(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return self.revoked is None and (self.expires is None or now < self.expires)

    def allows(self, model: str) -> bool:
        return self.models is None or model in self.models

    def public(self) -> dict[str, Any]:
        """The key's settings as JSON for people: everything but the digest."""
        return {
            "id": self.id, "name": self.name, "prefix": self.prefix,
            "models": list(self.models) if self.models is not None else None,
            "rpm": self.rpm, "tpm": self.tpm, "budget": self.budget, "period": self.period,
            "expires": self.expires, "revoked": self.revoked, "created": self.created,
        }  # fmt: skip

    def with_changes(self, **changes: Any) -> ClientKey:
        return replace(self, **changes)


def to_row(k: ClientKey) -> tuple[Any, ...]:
    models = None if k.models is None else orjson.dumps(list(k.models)).decode()
    return (k.id, k.name, k.prefix, k.hash, models, k.rpm, k.tpm, k.budget, k.period, k.expires, k.revoked,
            k.created, k.updated)  # fmt: skip


def from_row(row: Any) -> ClientKey:
    v = list(row)
    v[4] = None if v[4] is None else tuple(orjson.loads(v[4]))
    return ClientKey(*v)
