"""Where client keys live: the `client_keys` table of the ledger's own database (SQLite by
default, PostgreSQL when the ledger is there), created by the ledger's migration runner, so
the CLI, the admin API and every gateway process see one table. Also reads a key's spend
this period from the ledger's `requests`.

`KeyStore` holds the SQL once (`?` placeholders); `SqliteKeyStore` and `PostgresKeyStore`
only say how to run it. Writes are rare (people managing keys); the server reads the whole
table at start and then only when `stamp()` says it changed."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import time
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from ..usage.query import numbered
from ..usage.sqlite import connect as sqlite_connect
from ..usage.sqlite import migrate as sqlite_migrate
from . import token
from .record import COLUMNS, MUTABLE, PERIODS, ClientKey, from_row, to_row

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
SELECT = f"SELECT {', '.join(COLUMNS)} FROM client_keys"
INSERT = f"INSERT INTO client_keys ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


class KeyRefused(Exception):
    """A key operation refused: `status` says how the admin API answers it."""

    status = 400


class KeyNotFound(KeyRefused):
    status = 404


class KeyExists(KeyRefused):
    status = 409


def check_settings(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate key settings (create/update) and normalise them; raises KeyRefused."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in MUTABLE:
            raise KeyRefused(f"unknown key setting {name!r}")
        if value is None:
            out[name] = None
        elif name == "models":
            models = [value] if isinstance(value, str) else value
            if not isinstance(models, (list, tuple)) or not all(isinstance(m, str) and m for m in models):
                raise KeyRefused("models: expected a list of model names")
            out[name] = tuple(dict.fromkeys(models))
        elif name in ("rpm", "tpm"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise KeyRefused(f"{name}: expected a whole number above 0")
            out[name] = value
        elif name in ("budget", "expires"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise KeyRefused(f"{name}: expected a number above 0")
            out[name] = float(value)
        elif name == "period":
            if value not in PERIODS:
                raise KeyRefused(f"period: expected one of {', '.join(PERIODS)}")
            out[name] = value
    return out


class KeyStore(ABC):
    """Create, list, update and revoke keys; `load()`/`stamp()` for the server's copy."""

    @abstractmethod
    async def open(self) -> KeyStore:
        """Create or upgrade the database (the ledger's migrations)."""

    @abstractmethod
    async def aclose(self) -> None: ...

    @abstractmethod
    async def _fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]: ...

    @abstractmethod
    async def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run one statement; the number of rows it changed. Raises KeyExists on a duplicate."""

    async def create(self, name: str, **settings: Any) -> tuple[ClientKey, str]:
        """A new key named `name`: returns it and the full key text, shown this once."""
        if not isinstance(name, str) or not NAME.match(name):
            raise KeyRefused("name: 1-64 letters, digits or ._@+- (starting with a letter or digit)")
        values = check_settings(settings)
        if values.get("budget") is not None and values.get("period") is None:
            values["period"] = "month"
        now = time.time()
        for _ in range(3):  # a clash of 32-bit prefixes is rare; draw again
            text, prefix, digest = token.new_key()
            key = ClientKey("key_" + uuid.uuid4().hex[:16], name, prefix, digest, created=now, updated=now, **values)
            try:
                await self._execute(INSERT, to_row(key))
                return key, text
            except KeyExists:
                if await self.get(name) is not None:
                    raise KeyExists(f"a key named {name!r} exists") from None
        raise KeyRefused("could not draw an unused key prefix")

    async def list(self) -> list[ClientKey]:
        return [from_row(r) for r in await self._fetch(SELECT + " ORDER BY created, name")]

    async def get(self, name: str) -> ClientKey | None:
        rows = await self._fetch(SELECT + " WHERE name = ?", (name,))
        return from_row(rows[0]) if rows else None

    async def update(self, name: str, **settings: Any) -> ClientKey:
        values = check_settings(settings)
        key = await self.get(name)
        if key is None:
            raise KeyNotFound(f"no key named {name!r}")
        if values.get("budget") is not None and values.get("period", key.period) is None:
            values["period"] = "month"
        if not values:
            return key
        key = key.with_changes(**values, updated=time.time())
        row = dict(zip(COLUMNS, to_row(key), strict=True))
        names = sorted(values) + ["updated"]
        sql = f"UPDATE client_keys SET {', '.join(f'{c} = ?' for c in names)} WHERE name = ?"
        await self._execute(sql, (*(row[c] for c in names), name))
        return key

    async def revoke(self, name: str) -> ClientKey:
        """Revoke `name` (idempotent: a revoked key keeps its first revocation time)."""
        key = await self.get(name)
        if key is None:
            raise KeyNotFound(f"no key named {name!r}")
        if key.revoked is not None:
            return key
        now = time.time()
        await self._execute("UPDATE client_keys SET revoked = ?, updated = ? WHERE name = ?", (now, now, name))
        return key.with_changes(revoked=now, updated=now)

    async def stamp(self) -> tuple[int, float]:
        """(how many keys, latest change): the server reloads the table when this moves."""
        rows = await self._fetch("SELECT COUNT(*), MAX(updated) FROM client_keys")
        count, latest = rows[0]
        return int(count), float(latest or 0.0)

    async def spend_since(self, start: float) -> dict[str, float]:
        """USD spent per key name (the ledger's `key`) by requests created at or after `start`."""
        rows = await self._fetch(
            "SELECT key, SUM(cost) FROM requests WHERE key IS NOT NULL AND created >= ? GROUP BY key", (start,)
        )
        return {k: float(c or 0.0) for k, c in rows}


class SqliteKeyStore(KeyStore):
    """The table in the ledger's SQLite file; one connection, used from worker threads in turn."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    async def open(self) -> SqliteKeyStore:
        def _open() -> sqlite3.Connection:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite_connect(self.path)
            sqlite_migrate(conn)
            return conn

        self._conn = await asyncio.to_thread(_open)
        return self

    async def aclose(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self, sql: str, params: tuple[Any, ...], fetch: bool) -> Any:
        assert self._conn is not None, "open() first"
        with self._lock:
            try:
                cur = self._conn.execute(sql, params)
            except sqlite3.IntegrityError as e:
                raise KeyExists(str(e)) from None
            return cur.fetchall() if fetch else cur.rowcount

    async def _fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        rows: list[Any] = await asyncio.to_thread(self._run, sql, params, True)
        return rows

    async def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        changed: int = await asyncio.to_thread(self._run, sql, params, False)
        return changed


class PostgresKeyStore(KeyStore):
    """The table in the ledger's PostgreSQL database, over one asyncpg connection (reopened
    after an outage) on the caller's loop."""

    def __init__(self, dsn: str, timeout: float = 5.0) -> None:
        self.dsn = dsn
        self.timeout = timeout
        self._conn: Any = None
        self._lock = asyncio.Lock()

    async def _connection(self) -> Any:
        import asyncpg

        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.dsn, timeout=self.timeout)
        return self._conn

    async def open(self) -> PostgresKeyStore:
        from ..usage.postgres import migrate

        async with self._lock:
            await migrate(await self._connection())
        return self

    async def aclose(self) -> None:
        if self._conn is not None:
            await self._conn.close(timeout=2)
            self._conn = None

    async def _call(self, method: str, sql: str, params: tuple[Any, ...]) -> Any:
        import asyncpg

        async with self._lock:
            conn = await self._connection()
            try:
                return await getattr(conn, method)(numbered(sql), *params, timeout=self.timeout)
            except asyncpg.UniqueViolationError as e:
                raise KeyExists(str(e)) from None
            except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError):
                conn.terminate()
                self._conn = None
                raise

    async def _fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return [tuple(r) for r in await self._call("fetch", sql, params)]

    async def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        status: str = await self._call("execute", sql, params)
        return int(status.rsplit(" ", 1)[-1])


def open_store(path: Path | str | None = None, dsn: str | None = None) -> KeyStore:
    """The store beside the ledger: PostgreSQL when `dsn`, else the SQLite file at `path`."""
    if dsn:
        return PostgresKeyStore(dsn)
    if path is None:
        raise ValueError("a SQLite path or a PostgreSQL dsn is needed")
    return SqliteKeyStore(path)
