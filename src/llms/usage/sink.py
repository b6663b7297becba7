"""The `Sink` protocol every ledger backend implements (SQLite, PostgreSQL), and the counters a
sink reports for `/status`. The request path only ever calls `submit`, which never blocks,
never raises and never touches a disk or the network; everything else is for start, shutdown
and the read API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .query import Page, SummaryRow
from .record import UsageRecord


@dataclass(frozen=True, slots=True)
class SinkStats:
    """`queued`: waiting in memory now; `spooled`: waiting in the local spool file now;
    `written`: stored since start; `failed`: given up on after a write error; `dropped`: refused
    because the memory queue was full or the sink closed. Failed and dropped records are also
    logged — the ledger never loses a record without saying so."""

    queued: int
    written: int
    failed: int
    dropped: int
    spooled: int


@runtime_checkable
class Sink(Protocol):
    def submit(self, record: UsageRecord) -> None:
        """Queue one record; returns at once whatever the storage is doing."""

    def flush(self, timeout: float = 30.0) -> bool:
        """Block until every record submitted before the call is stored (or spooled);
        False if that took longer than `timeout`. From async code: `asyncio.to_thread`."""

    def close(self, timeout: float = 30.0) -> None:
        """Flush everything, then stop the writer. Later submits are counted as dropped."""

    async def aclose(self) -> None:
        """`close()` without blocking the event loop."""

    def stats(self) -> SinkStats: ...

    async def requests(
        self,
        limit: int = 20,
        before: str | None = None,
        model: str | None = None,
        provider: str | None = None,
        key: str | None = None,
        outcome: str | None = None,
    ) -> Page:
        """Stored records, newest first, older than the record `before` (an id) if given."""

    async def get(self, id: str) -> UsageRecord | None: ...

    async def forget_content(self, before: float) -> int:
        """Erase the stored message content of records created before `before` (unix seconds),
        for `usage.retention_days`; the records themselves stay. Returns how many were erased."""

    async def summary(
        self, start: float | None = None, end: float | None = None, group_by: str = "day"
    ) -> list[SummaryRow]:
        """Totals per day (UTC), model, provider or key within `start <= created < end`."""
