"""The default ledger: one SQLite file (`~/.llms/usage.db`; the caller resolves LLMS_HOME and
passes the path) in WAL mode. One writer thread owns the writing connection and stores each
batch in one transaction; reads open their own short-lived connection in a worker thread (WAL
lets them run beside the writer)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Unpack

from .batching import Batching, BatchWriter
from .migrations import BOOKKEEPING, pending
from .query import (
    FORGET_CONTENT,
    INSERT_RECORD,
    SQLITE,
    Reads,
)
from .record import UsageRecord

log = logging.getLogger("llms.usage")
INSERT = INSERT_RECORD + " ON CONFLICT (id) DO NOTHING"  # a record stored twice is stored once


def connect(path: Path | str, timeout: float = 10.0) -> sqlite3.Connection:
    """A connection in autocommit mode (we open transactions ourselves), WAL, and
    synchronous=NORMAL: a commit survives a crash of the process, and a power cut can lose only
    the last transactions, never corrupt the file."""
    conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def migrate(conn: sqlite3.Connection, upto: int | None = None) -> list[int]:
    """Apply the pending migrations in order, each in its own transaction; returns their
    versions. BEGIN IMMEDIATE makes two processes starting at once take turns."""
    conn.execute(BOOKKEEPING)
    done: list[int] = []
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            applied = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
            todo = pending(applied, upto)
            if not todo:
                conn.execute("COMMIT")
                return done
            m = todo[0]
            for stmt in m.statements:
                conn.execute(stmt)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (m.version, m.name, time.time()))
            conn.execute("COMMIT")
            done.append(m.version)
        except BaseException:
            conn.execute("ROLLBACK")
            raise


class SqliteSink(BatchWriter, Reads):
    """`SqliteSink(path).start()` creates or upgrades the database (at start, before any
    request), then starts the writer thread."""

    dialect = SQLITE

    def __init__(self, path: Path | str, **batching: Unpack[Batching]) -> None:
        super().__init__(**batching)
        self.path = Path(path).expanduser()
        self._conn: sqlite3.Connection | None = None

    def start(self) -> SqliteSink:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = connect(self.path)
        migrate(self._conn)
        self._start_thread()
        return self

    # -- writer side ---------------------------------------------------------------------------

    def _cycle(self, final: bool) -> None:
        while self._queue:
            records, markers = self._take(self.batch_size)
            try:
                if records:
                    self._write(records)
            except Exception as e:
                self._lost(records, e)
            finally:
                for m in markers:
                    m.set()

    def _write(self, records: list[UsageRecord]) -> None:
        conn = self._conn
        assert conn is not None
        records, rows = self._rows(records)
        try:
            conn.execute("BEGIN")
            before = conn.total_changes
            conn.executemany(INSERT, rows)
            written = conn.total_changes - before
            conn.execute("COMMIT")
            self.written += written
            return
        except sqlite3.Error as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            log.warning("usage: batch of %d failed (%s); storing one by one", len(records), e)
        for r, row in zip(records, rows, strict=True):  # isolate the record (or the moment) that fails
            try:
                self.written += conn.execute(INSERT, row).rowcount
            except sqlite3.Error as e:
                self.failed += 1
                log.error("usage: record %s not stored: %s", r.id, e)

    def _close_writer(self) -> None:
        if self._conn is not None:
            self._conn.close()

    # -- reads ---------------------------------------------------------------------------------

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10.0)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    async def _query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return await asyncio.to_thread(self._read, sql, params)

    def _update(self, sql: str, params: Sequence[Any]) -> int:
        conn = connect(self.path)
        try:
            return conn.execute(sql, params).rowcount
        finally:
            conn.close()

    async def forget_content(self, before: float) -> int:
        return await asyncio.to_thread(self._update, FORGET_CONTENT, (float(before),))
