"""Client keys in PostgreSQL (`usage.dsn`) through the real gateway: a key made with the
admin API works, its spend comes from the ledger there, and no table holds it in clear."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import openai

from ..fake_upstream import FakeUpstream
from ..gateway_proc import GatewayProcess
from ..usage.conftest import fresh_database
from ..usage.pg_server import PostgresServer
from .gateway_keys import ENV, admin, create_key, keys_config


async def dump(dsn: str) -> str:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        out = [repr(r) for r in await conn.fetch("SELECT * FROM client_keys")]
        out += [repr(r) for r in await conn.fetch("SELECT * FROM requests")]
        return "\n".join(out)
    finally:
        await conn.close()


def test_keys_in_postgres(upstream: FakeUpstream, pg_server: PostgresServer):
    dsn = fresh_database(pg_server)
    gw = GatewayProcess({**keys_config(upstream), "usage": {"dsn": dsn}}, env=ENV).start()
    try:
        key = create_key(gw.url, "pg-alice", budget=10, period="month")
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, timeout=20)
        client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
        for _ in range(100):  # the ledger's writer stores the record within its interval
            spend = {k["name"]: k["spend"] for k in admin(gw.url, "GET", "/admin/keys")[1]["data"]}
            if spend["pg-alice"]:
                break
            time.sleep(0.1)
        assert spend["pg-alice"] > 0
        stored = asyncio.run(dump(dsn))
        assert "pg-alice" in stored and key not in stored and key.split("_", 1)[1] not in stored
    finally:
        gw.stop()
