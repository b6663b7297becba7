"""Which async PostgreSQL driver the ledger uses, by measurement: sustained inserts/s of
1,000-record batches into the ledger's `requests` table on a local, durable (fsync on)
throw-away server, for asyncpg and psycopg 3 (+ psycopg_pool), each with plain `executemany`
and with one `INSERT … SELECT FROM unnest(arrays)` statement per batch. Runs by hand:

    PYTHONPATH=src:. python benchmarks/usage_drivers.py [--seconds 5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg
import psycopg
from psycopg_pool import AsyncConnectionPool

from llms.usage.migrations import BOOKKEEPING, MIGRATIONS
from llms.usage.postgres import UNNEST_INSERT, UNNEST_TEMPLATE
from llms.usage.query import INSERT_RECORD, numbered
from llms.usage.record import UsageRecord, new_request_id, to_row
from tests.usage.pg_server import PostgresServer, find_bindir

BATCH = 1000


def sample(i: int) -> UsageRecord:
    return UsageRecord(
        new_request_id(), time.time(), "chat.completions", f"model-{i % 7}", "openai", "gpt-4o-mini",
        i % 2 == 0, 200, "ok", [{"provider": "openai", "status": 200, "error": None, "seconds": 0.42}],
        812, 156, 0, 0, 0.000213, 180.5, 950.25, None,
    )  # fmt: skip


def batch_rows() -> list[tuple]:
    return [to_row(sample(i)) for i in range(BATCH)]


def columns(rows: list[tuple]) -> list[list]:
    return [list(c) for c in zip(*rows, strict=True)]


async def run_for(seconds: float, write_batch) -> float:
    """Records/s over `seconds` of back-to-back batches (rows built inside the timed loop)."""
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        await write_batch(batch_rows())
        n += BATCH
    return n / (time.perf_counter() - t0)


async def asyncpg_cases(dsn: str, seconds: float) -> dict[str, float]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    insert = numbered(INSERT_RECORD) + " ON CONFLICT (id) DO NOTHING"

    async def many(rows):
        async with pool.acquire() as c:
            await c.executemany(insert, rows)

    async def unnest(rows):
        async with pool.acquire() as c:
            await c.execute(UNNEST_INSERT, *columns(rows))

    out = {"asyncpg executemany": await run_for(seconds, many), "asyncpg unnest": await run_for(seconds, unnest)}
    await pool.close()
    return out


async def psycopg_cases(dsn: str, seconds: float) -> dict[str, float]:
    pool = AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False)
    await pool.open()
    insert = INSERT_RECORD.replace("?", "%s") + " ON CONFLICT (id) DO NOTHING"
    unnest_sql = UNNEST_TEMPLATE.replace("?", "%s")

    async def many(rows):
        async with pool.connection() as c:
            async with c.cursor() as cur:
                await cur.executemany(insert, rows)

    async def unnest(rows):
        async with pool.connection() as c:
            await c.execute(unnest_sql, columns(rows))

    out = {"psycopg executemany": await run_for(seconds, many), "psycopg unnest": await run_for(seconds, unnest)}
    await pool.close()
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    server = PostgresServer(find_bindir(), durable=True).start()
    try:
        with psycopg.connect(server.dsn, autocommit=True) as c:
            c.execute(BOOKKEEPING)
            for m in MIGRATIONS:
                for stmt in m.statements:
                    c.execute(stmt)
        results: dict[str, list[float]] = {}
        for _ in range(args.rounds):  # interleaved: this machine's speed drifts
            for case in (asyncpg_cases, psycopg_cases):
                for name, rate in (await case(server.dsn, args.seconds)).items():
                    results.setdefault(name, []).append(rate)
        print(f"psycopg {psycopg.__version__}, asyncpg {asyncpg.__version__}; batches of {BATCH}")
        for name, rates in results.items():
            print(f"{name:22} " + "  ".join(f"{r:9,.0f}/s" for r in rates))
    finally:
        server.destroy()


if __name__ == "__main__":
    asyncio.run(main())
