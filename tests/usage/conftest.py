"""Fixtures for the ledger tests: a throw-away PostgreSQL server for the session (a fresh
database per test), a `sink` fixture parametrised over SQLite and PostgreSQL, and varied
records to store."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from llms.usage import OUTCOMES, UsageRecord
from llms.usage.batching import BatchWriter

from .pg_server import PostgresServer, find_bindir

_db_numbers = itertools.count()


def start_postgres() -> PostgresServer:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb) not found: scripts/setup.d/40-postgresql.sh installs them")
    return PostgresServer(bindir).start()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.destroy()


def fresh_database(server: PostgresServer) -> str:
    """A new empty database on `server`; returns its DSN."""
    import asyncpg

    name = f"t{next(_db_numbers)}"

    async def create() -> None:
        conn = await asyncpg.connect(server.dsn, timeout=10)
        try:
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()

    asyncio.run(create())
    return server.dsn.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def pg_dsn(pg_server: PostgresServer) -> str:
    return fresh_database(pg_server)


SinkFactory = Callable[..., BatchWriter]


@pytest.fixture(params=["sqlite", "postgres"])
def make_sink(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SinkFactory]:
    """Builds started sinks of one backend (all on one database), closing them at the end."""
    made: list[BatchWriter] = []
    if request.param == "sqlite":
        from llms.usage.sqlite import SqliteSink

        def factory(**kw: float) -> BatchWriter:
            made.append(SqliteSink(tmp_path / "usage.db", **kw).start())
            return made[-1]
    else:
        from llms.usage.postgres import PostgresSink

        dsn = request.getfixturevalue("pg_dsn")

        def factory(**kw: float) -> BatchWriter:
            made.append(PostgresSink(dsn, tmp_path / "usage-spool.jsonl", **kw).start())
            return made[-1]

    yield factory
    for sink in made:
        sink.close()


def make_record(i: int, rng: random.Random, created: float, **fields: object) -> UsageRecord:
    """A record with every field set to something non-trivial (None where a field may be
    unknown, on some records), deterministic from `i` and `rng`."""
    outcome = OUTCOMES[i % len(OUTCOMES)] if i % 3 == 0 else "ok"
    known = i % 5 != 4  # some upstreams report no usage
    rec = UsageRecord(
        id=f"req_{i:08d}",
        created=created,
        api="chat.completions" if i % 4 else "responses",
        model=("fast", "smart", "cheap")[i % 3],
        provider=None if outcome == "client_error" else ("openai", "groq", "local")[i % 3],
        provider_model=None if outcome == "client_error" else f"pm-{i % 3}",
        stream=i % 2 == 0,
        status=200 if outcome == "ok" else 502,
        outcome=outcome,  # type: ignore[arg-type]
        attempts=[{"provider": "groq", "status": 503, "error": "upstream_unavailable", "seconds": 0.125},
                  {"provider": "openai", "status": 200, "error": None, "seconds": rng.random()}][: 1 + i % 2],
        prompt_tokens=rng.randint(1, 5000) if known else None,
        completion_tokens=rng.randint(0, 2000) if known else None,
        cached_tokens=rng.randint(0, 100) if known else None,
        reasoning_tokens=rng.randint(0, 50) if known else None,
        cost=round(rng.random() / 100, 9) if known else None,
        ttft_ms=rng.random() * 500 if i % 2 == 0 else None,
        duration_ms=rng.random() * 3000 if i % 7 else None,
        key=("team-a", "team-b", None)[i % 3],
        content=None,
    )  # fmt: skip
    for name, value in fields.items():
        setattr(rec, name, value)
    return rec
