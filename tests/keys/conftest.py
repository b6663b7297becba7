"""Fixtures for the key tests: a key store over SQLite and over a throw-away PostgreSQL
(the ledger tests' server), and a throw-away Redis per test module."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from llms.keys.store import KeyStore, PostgresKeyStore, SqliteKeyStore

from ..usage.conftest import fresh_database, start_postgres
from ..usage.pg_server import PostgresServer
from .redis_server import RedisServer, find_redis


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.destroy()


def start_redis() -> RedisServer:
    binary = find_redis()
    if binary is None:
        pytest.skip("redis-server not found: scripts/setup.d/50-redis.sh installs it")
    return RedisServer(binary).start()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.destroy()


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KeyStore]:
    if request.param == "sqlite":
        s: KeyStore = SqliteKeyStore(tmp_path / "usage.db")
    else:
        dsn = await asyncio.to_thread(fresh_database, request.getfixturevalue("pg_server"))
        s = PostgresKeyStore(dsn)
    await s.open()
    yield s
    await s.aclose()
