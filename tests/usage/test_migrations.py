"""Migrations upgrade an old database in place: one made by migration 1 alone, holding a record
of that time, is brought to the current schema by starting a sink on it, and the old record
still reads back."""

from __future__ import annotations

import random

import asyncpg

from llms.usage.migrations import MIGRATIONS
from llms.usage.postgres import PostgresSink
from llms.usage.postgres import migrate as pg_migrate
from llms.usage.sqlite import SqliteSink, connect
from llms.usage.sqlite import migrate as sqlite_migrate

from .conftest import make_record

V1_COLUMNS = ("id, created, api, model, provider, provider_model, stream, status, outcome, attempts, prompt_tokens,"
              " completion_tokens, cached_tokens, reasoning_tokens, cost, ttft_ms, duration_ms, key")  # fmt: skip
OLD = ("req_old", 1_700_000_000.5, "chat.completions", "fast", "groq", "llama", True, 200, "ok",
       '[{"provider": "groq", "status": 200, "error": null, "seconds": 0.5}]',
       10, 20, 0, None, 0.25, 12.5, 99.0, None)  # fmt: skip
LATEST = [m.version for m in MIGRATIONS]


def test_versions_are_one_to_n_in_order():
    assert LATEST == list(range(1, len(MIGRATIONS) + 1))


async def check_upgraded(sink) -> None:
    old = await sink.get("req_old")
    assert old is not None and old.content is None and old.attempts[0]["provider"] == "groq"
    assert (old.created, old.prompt_tokens, old.reasoning_tokens, old.stream) == (1_700_000_000.5, 10, None, True)
    new = make_record(1, random.Random(3), 1_800_000_000.0, content={"messages": [{"role": "user", "content": "x"}]})
    sink.submit(new)
    assert sink.flush()
    assert await sink.get("req_00000001") == new
    assert [r.id for r in (await sink.requests())["data"]] == ["req_00000001", "req_old"]


async def test_sqlite_upgrades_an_old_database(tmp_path):
    path = tmp_path / "usage.db"
    conn = connect(path)
    assert sqlite_migrate(conn, upto=1) == [1]
    conn.execute(f"INSERT INTO requests ({V1_COLUMNS}) VALUES ({', '.join('?' * len(OLD))})", OLD)
    conn.close()

    sink = SqliteSink(path).start()
    try:
        await check_upgraded(sink)
    finally:
        sink.close()
    conn = connect(path)
    assert [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version")] == LATEST
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'requests_created'").fetchone()
    assert sqlite_migrate(conn) == []  # a second start changes nothing
    conn.close()


async def test_postgres_upgrades_an_old_database(pg_dsn, tmp_path):
    conn = await asyncpg.connect(pg_dsn)
    assert await pg_migrate(conn, upto=1) == [1]
    placeholders = ", ".join(f"${i + 1}" for i in range(len(OLD)))
    await conn.execute(f"INSERT INTO requests ({V1_COLUMNS}) VALUES ({placeholders})", *OLD)
    await conn.close()

    sink = PostgresSink(pg_dsn, tmp_path / "spool.jsonl").start()
    try:
        await check_upgraded(sink)
    finally:
        sink.close()
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert [r[0] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")] == LATEST
        assert await conn.fetchval("SELECT to_regclass('requests_created')") is not None
        assert await pg_migrate(conn) == []
    finally:
        await conn.close()
