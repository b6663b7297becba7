"""The ledger in PostgreSQL (`usage.dsn` / `$LLMS_DATABASE_URL`), through asyncpg (chosen by
measurement over psycopg 3: docs/usage.md). The writer thread runs its own event loop and one
connection; each batch is one `INSERT … SELECT FROM unnest(column arrays)` that ignores ids
already stored, so a batch retried after a lost acknowledgement never duplicates a record.

During an outage the queue keeps up to `hold` records in memory, then spills them to the
`Spool` file; on reconnection the spool is replayed before new records. `submit` stays a deque
append throughout. Reads open a short connection on the caller's loop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Unpack

import asyncpg

from .batching import Batching, BatchWriter
from .migrations import BOOKKEEPING, pending
from .query import (
    FORGET_CONTENT,
    POSTGRES,
    Reads,
    numbered,
)
from .record import COLUMNS, UsageRecord
from .spool import Spool

log = logging.getLogger("llms.usage")

TYPES = ("text", "float8", "text", "text", "text", "text", "bool", "int4", "text", "text",
         "int8", "int8", "int8", "int8", "float8", "float8", "float8", "text", "text")  # fmt: skip
UNNEST_TEMPLATE = (
    f"INSERT INTO requests ({', '.join(COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"?::{t}[]" for t in TYPES)
    + ") ON CONFLICT (id) DO NOTHING"
)
UNNEST_INSERT = numbered(UNNEST_TEMPLATE)
MIGRATION_LOCK = 0x11E5  # advisory lock: two gateways starting at once migrate in turn

# What means "PostgreSQL is not there right now" (wait and retry), as opposed to a record the
# server refuses (stored one by one, the refused ones counted as failed).
OUTAGE = (OSError, asyncio.TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
          asyncpg.exceptions.OperatorInterventionError, asyncpg.exceptions.CannotConnectNowError)  # fmt: skip


def changed(status: str) -> int:
    """Rows an `UPDATE n` status says were changed."""
    return int(status.rsplit(" ", 1)[-1])


async def migrate(conn: asyncpg.Connection, upto: int | None = None) -> list[int]:
    """Apply the pending migrations in order, each in its own transaction."""
    done: list[int] = []
    await conn.execute(BOOKKEEPING)
    while True:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            applied = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            todo = pending(applied, upto)
            if not todo:
                return done
            m = todo[0]
            for stmt in m.statements:
                await conn.execute(stmt)
            await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2, $3)", m.version, m.name, time.time())
            done.append(m.version)


class PostgresSink(BatchWriter, Reads):
    """`PostgresSink(dsn, spool_path).start()`: connects and migrates at once if PostgreSQL is
    up; if not, starts anyway (records wait, then spool) and keeps retrying."""

    dialect = POSTGRES

    def __init__(self, dsn: str, spool_path: Path | str, *, hold: int = 10_000, retry_max: float = 5.0,
                 timeout: float = 10.0, **batching: Unpack[Batching]) -> None:  # fmt: skip
        super().__init__(**batching)
        self.dsn = dsn
        self.spool = Spool(spool_path)
        self.hold = hold
        self.retry_max = retry_max
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._conn: asyncpg.Connection | None = None
        self._retry_at = 0.0
        self._backoff = 0.0

    def start(self) -> PostgresSink:
        """Connects and migrates on the writer thread, waiting for that (bounded): callable
        from inside an event loop too."""
        self._start_thread(timeout=self.timeout + 5)
        return self

    def _open(self) -> None:
        self._loop.run_until_complete(self._connect())

    def _spooled(self) -> int:
        return self.spool.count

    # -- writer side ---------------------------------------------------------------------------

    async def _connect(self) -> None:
        try:
            conn = await asyncpg.connect(self.dsn, timeout=min(self.timeout, 3.0))
            try:
                await migrate(conn)
            except BaseException:
                await conn.close()
                raise
        except OUTAGE as e:
            self._down(e)
            return
        self._conn, self._backoff = conn, 0.0
        log.info("usage: connected to PostgreSQL")

    def _down(self, error: BaseException) -> None:
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None
        if not self._backoff:
            log.warning("usage: PostgreSQL unreachable (%s); records wait, then spool to %s",
                        str(error) or type(error).__name__, self.spool.path)  # fmt: skip
        self._backoff = min(self.retry_max, max(0.25, self._backoff * 2))
        self._retry_at = time.monotonic() + self._backoff

    def _cycle(self, final: bool) -> None:
        self._loop.run_until_complete(self._acycle(final))

    async def _acycle(self, final: bool) -> None:
        if self._conn is None and time.monotonic() >= self._retry_at:
            await self._connect()
        if self._conn is not None:
            try:
                await self._replay()
                await self._drain()
                return
            except OUTAGE as e:
                self._down(e)
        if final or self._flush_requested() or len(self._queue) >= self.hold:
            self._spill()

    async def _drain(self) -> None:
        while self._queue:
            records, markers = self._take(self.batch_size)
            records, rows = self._rows(records)  # unstorable ones counted once, here
            try:
                if rows:
                    await self._insert(records, rows)
            except OUTAGE:
                self._queue.extendleft(reversed([*records, *markers]))  # back to the head, in order
                raise
            except Exception as e:
                self._lost(records, e)
            for m in markers:
                m.set()

    async def _replay(self) -> None:
        if not self.spool.has_records():
            return
        log.info("usage: replaying %d spooled records", self.spool.count)
        try:
            for batch in self.spool.batches(self.batch_size):
                await self._insert(*self._rows(batch))
                self.spool.stored()
        except OUTAGE:
            self.spool.interrupted()
            raise
        self.failed += self.spool.done()

    async def _insert(self, records: list[UsageRecord], rows: list[tuple[Any, ...]]) -> None:
        """One statement for the batch; if the server refuses it, one per record, so only the
        refused ones are lost (counted, logged). Outage errors propagate."""
        conn = self._conn
        assert conn is not None
        if not rows:
            return
        try:
            await conn.execute(UNNEST_INSERT, *(list(c) for c in zip(*rows, strict=True)), timeout=self.timeout)
            # every row is in the table now, inserted by this statement or by an earlier one whose
            # acknowledgement the outage swallowed (so this is not the INSERT's own row count)
            self.written += len(rows)
            return
        except OUTAGE:
            raise
        except (asyncpg.PostgresError, ValueError, TypeError, OverflowError) as e:
            log.warning("usage: batch of %d refused (%s); storing one by one", len(records), e)
        for record, row in zip(records, rows, strict=True):
            try:
                await conn.execute(UNNEST_INSERT, *([v] for v in row), timeout=self.timeout)
                self.written += 1
            except OUTAGE:
                raise
            except (asyncpg.PostgresError, ValueError, TypeError, OverflowError) as e:
                self.failed += 1
                log.error("usage: record %s not stored: %s", record.id, e)

    def _spill(self) -> None:
        """Everything queued (up to the last flush marker and beyond) into the spool file."""
        while self._queue:
            records, markers = self._take(self.batch_size * 10)
            if records:
                try:
                    self.failed += self.spool.append(records)
                except Exception as e:
                    self._lost(records, e)
                    log.error("usage: PostgreSQL down and spool %s unwritable", self.spool.path)
            for m in markers:
                m.set()

    def _close_writer(self) -> None:
        if self._conn is not None:
            self._loop.run_until_complete(self._conn.close(timeout=2))
        self._loop.close()

    # -- reads ---------------------------------------------------------------------------------

    async def _fetch(self, sql: str, *params: Any) -> list[Any]:
        conn = await asyncpg.connect(self.dsn, timeout=self.timeout)
        try:
            rows: list[Any] = await conn.fetch(numbered(sql), *params, timeout=self.timeout)
            return rows
        finally:
            await conn.close()

    async def ping(self) -> None:
        """One round trip on a short connection of the caller's loop (the readiness check):
        raises when PostgreSQL cannot be reached."""
        await self._fetch("SELECT 1")

    async def _query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return await self._fetch(sql, *params)

    async def forget_content(self, before: float) -> int:
        conn = await asyncpg.connect(self.dsn, timeout=self.timeout)
        try:
            return changed(await conn.execute(numbered(FORGET_CONTENT), float(before), timeout=self.timeout))
        finally:
            await conn.close()

