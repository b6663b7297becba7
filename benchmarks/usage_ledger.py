"""Ledger sink numbers for docs/usage.md: sustained records/s into each backend (the whole path:
`submit` on the caller's thread, batching, the writer thread, commit), and what `kill -9`
loses (seconds between the kill and the newest stored record). PostgreSQL is a throw-away,
durable (fsync on) local server. Runs by hand:

    PYTHONPATH=src:. python benchmarks/usage_ledger.py [--records 200000] [--rounds 3] [--kills 5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg

from llms.usage.postgres import PostgresSink
from llms.usage.sqlite import SqliteSink
from tests.usage.conftest import make_record
from tests.usage.pg_server import PostgresServer, find_bindir
from tests.usage.test_crash import lost_window


def throughput(make_sink, n: int) -> float:
    rng = random.Random(1)
    now = time.time()
    records = [make_record(i, rng, now + i / 1000) for i in range(n)]
    for i, r in enumerate(records):
        r.id = f"req_{i:010d}"
    sink = make_sink()
    t0 = time.perf_counter()
    for r in records:
        sink.submit(r)
    sink.close(timeout=600)
    elapsed = time.perf_counter() - t0
    stats = sink.stats()
    assert stats.written == n and stats.dropped == stats.failed == 0, stats
    return n / elapsed


def submit_cost(n: int = 200_000) -> float:
    """Nanoseconds per `submit` call with the writer idle (its timer far off): the hot path's share."""
    rng = random.Random(2)
    records = [make_record(i, rng, 0.0) for i in range(1000)]
    sink = SqliteSink(tempfile.mkdtemp() + "/submit.db", interval=3600, batch_size=10**9, max_queue=10**9).start()
    t0 = time.perf_counter_ns()
    for i in range(n):
        sink.submit(records[i % 1000])
    cost = (time.perf_counter_ns() - t0) / n
    sink._queue.clear()  # noqa: SLF001 - the same record objects n/1000 times: do not store
    sink.close()
    return cost


async def new_database(dsn: str, name: str) -> str:
    conn = await asyncpg.connect(dsn)
    await conn.execute(f"DROP DATABASE IF EXISTS {name}")
    await conn.execute(f"CREATE DATABASE {name}")
    await conn.close()
    return dsn.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--kills", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="llms-ledger-bench-"))
    server = PostgresServer(find_bindir(), durable=True).start()
    try:
        print(f"submit    {statistics.median(submit_cost() for _ in range(3)):.0f} ns per call (writer idle)")
        rates: dict[str, list[float]] = {"sqlite": [], "postgres": []}
        for k in range(args.rounds):  # interleaved: this machine's speed drifts
            db = tmp / f"usage-{k}.db"
            rates["sqlite"].append(throughput(lambda db=db: SqliteSink(db, max_queue=10**7).start(), args.records))
            dsn = asyncio.run(new_database(server.dsn, f"bench{k}"))
            rates["postgres"].append(throughput(
                lambda dsn=dsn: PostgresSink(dsn, tmp / "spool.jsonl", max_queue=10**7).start(), args.records))
        for name, rs in rates.items():
            print(f"{name:9} sustained {', '.join(f'{r:,.0f}' for r in rs)} records/s "
                  f"(median {statistics.median(rs):,.0f}) over {args.records:,} records")
        windows: dict[str, list[float]] = {"sqlite": [], "postgres": []}
        for k in range(args.kills):
            db = tmp / f"kill-{k}.db"
            windows["sqlite"].append(lost_window(["sqlite", str(db)], lambda db=db: SqliteSink(db).start())[0])
            dsn = asyncio.run(new_database(server.dsn, f"kill{k}"))
            spool = tmp / f"kill-{k}.jsonl"
            windows["postgres"].append(lost_window(
                ["postgres", dsn, str(spool)], lambda dsn=dsn: PostgresSink(dsn, tmp / "other.jsonl").start())[0])
        for name, ws in windows.items():
            print(f"{name:9} kill -9 lost the last {', '.join(f'{w:.3f}' for w in ws)} s (max {max(ws):.3f} s)")
    finally:
        server.destroy()


if __name__ == "__main__":
    main()
